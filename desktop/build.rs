//! Compiles `ui/app.slint`. Debug info (element ids) is kept so the headless UI tests can find
//! elements; it costs nothing at run time worth measuring.
fn main() {
    let config = slint_build::CompilerConfiguration::new()
        .with_style("fluent".into())
        .with_debug_info(true);
    slint_build::compile_with_config("ui/app.slint", config).expect("ui/app.slint compiles");
}
