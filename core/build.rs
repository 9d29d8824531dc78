//! Enables the Cortex-M DSP dot product (SMLAD) on targets that have the DSP extension. Stable
//! Rust does not expose `target_feature = "dsp"` to `cfg`, so the target name decides.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(sumi_dsp)");
    println!("cargo::rerun-if-env-changed=TARGET");
    let target = std::env::var("TARGET").unwrap_or_default();
    if target.starts_with("thumbv7em") || target.starts_with("thumbv8m.main") {
        println!("cargo::rustc-cfg=sumi_dsp");
    }
}
