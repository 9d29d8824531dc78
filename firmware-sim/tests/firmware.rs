//! End-to-end tests of the firmware under QEMU, through the driver binary.
//!
//! QEMU is required when `SUMI_REQUIRE_QEMU=1` (CI); elsewhere a missing `qemu-system-arm`
//! makes the QEMU-dependent tests print a loud SKIPPED line and return. The build-budget tests
//! need only cargo. All tests share one firmware output directory, so they run one at a time.

use std::process::{Command, Output};
use std::sync::Mutex;

static SERIAL: Mutex<()> = Mutex::new(());

fn driver(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sumi-firmware-sim"))
        .args(args)
        .output()
        .expect("run the sumi-firmware-sim driver")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Whether QEMU can run; panics under CI (`SUMI_REQUIRE_QEMU=1`) when it cannot.
fn qemu_or_skip(test: &str) -> bool {
    let exe = std::env::var("QEMU_SYSTEM_ARM").unwrap_or_else(|_| "qemu-system-arm".into());
    let ok = Command::new(&exe)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("SUMI_REQUIRE_QEMU").as_deref() != Ok("1"),
            "SUMI_REQUIRE_QEMU=1 but {exe} cannot run: install qemu-system-arm"
        );
        eprintln!(
            "SKIPPED {test}: {exe} not found (install qemu-system-arm; set SUMI_REQUIRE_QEMU=1 to make this fail)"
        );
    }
    ok
}

fn write_temp(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sumi-fw-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write temp file");
    path
}

/// A copy of the default blob with one payload byte flipped: the header (and so the arena
/// size) is intact, the CRC check fails.
fn corrupt_blob() -> Vec<u8> {
    let mut blob = sumi_core::models::DEFAULT.to_vec();
    let at = sumi_core::blob::HEADER_LEN + blob.len() / 2;
    blob[at] ^= 0x40;
    assert!(
        sumi_core::Model::from_bytes(&blob).is_err(),
        "the corruption must be detectable"
    );
    blob
}

#[test]
fn firmware_logits_are_bit_identical_to_host() {
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !qemu_or_skip("firmware_logits_are_bit_identical_to_host") {
        return;
    }
    let n = 200;
    let out = driver(&["--limit", &n.to_string(), "--json"]);
    assert!(out.status.success(), "driver failed:\n{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(report["images"], n, "{report}");
    assert_eq!(
        report["identical_logits"], n,
        "firmware logits differ: {report}"
    );
    assert_eq!(report["all_identical"], true);
    assert_eq!(report["host_accuracy_pct"], report["firmware_accuracy_pct"]);

    let model =
        sumi_core::Model::from_bytes(sumi_core::models::DEFAULT).expect("default model loads");
    let compute = &report["compute"];
    assert_eq!(compute["macs_per_inference"], model.macs());
    let min = compute["instructions_per_inference_min"]
        .as_u64()
        .expect("instructions measured");
    // Every MAC needs at least a multiply-accumulate instruction... or a SIMD half of one.
    assert!(
        min * 2 >= model.macs(),
        "{min} instructions for {} MACs is impossible",
        model.macs()
    );

    let flash = &report["flash"];
    assert_eq!(flash["model_blob_bytes"], sumi_core::models::DEFAULT.len());
    let total = flash["total_bytes"].as_u64().expect("flash total");
    assert!(
        total > sumi_core::models::DEFAULT.len() as u64
            && total <= flash["budget_bytes"].as_u64().unwrap()
    );

    let ram = &report["ram"];
    assert_eq!(ram["arena_declared_bytes"], model.arena_bytes());
    let peak = ram["arena_peak_bytes"].as_u64().unwrap();
    assert!(peak > 0 && peak <= model.arena_bytes() as u64, "{ram}");
    let stack = ram["stack_peak_bytes"].as_u64().unwrap();
    assert!(
        stack > 0 && stack < ram["stack_region_bytes"].as_u64().unwrap(),
        "{ram}"
    );
    assert!(
        ram["static_bytes"].as_u64().unwrap() >= model.arena_bytes() as u64,
        "{ram}"
    );
}

#[test]
fn firmware_reports_a_blob_it_cannot_load() {
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let path = write_temp("corrupt.sumi", &corrupt_blob());
    let path = path.to_str().expect("utf-8 temp path");

    // The driver checks on the host first and says what is wrong.
    let out = driver(&["--model", path, "--limit", "3"]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("not a loadable Sumi model blob"),
        "{}",
        text(&out)
    );

    // The firmware's own check: QEMU exits with the model-load code and the firmware's message.
    if !qemu_or_skip("firmware_reports_a_blob_it_cannot_load") {
        return;
    }
    let out = driver(&[
        "--model",
        path,
        "--limit",
        "3",
        "--no-host-check",
        "--no-icount",
    ]);
    assert!(!out.status.success());
    let t = text(&out);
    assert!(t.contains("firmware exited with code 3"), "{t}");
    assert!(t.contains("cannot load the embedded model blob"), "{t}");
}

#[test]
fn firmware_panic_exits_with_its_message() {
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !qemu_or_skip("firmware_panic_exits_with_its_message") {
        return;
    }
    let out = driver(&[
        "--limit",
        "1",
        "--selftest-panic",
        "--no-icount",
        "--timeout-s",
        "120",
    ]);
    assert!(!out.status.success());
    let t = text(&out);
    assert!(t.contains("firmware exited with code 101"), "{t}");
    assert!(t.contains("self-test panic requested"), "{t}");
}

#[test]
fn firmware_over_flash_budget_fails_at_link_time() {
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // Room for the blob alone but not for the code next to it: the linker must refuse.
    let kib = (sumi_core::models::DEFAULT.len() / 1024 + 1).to_string();
    let out = driver(&["--flash-kib", &kib, "--limit", "1"]);
    assert!(!out.status.success());
    let t = text(&out);
    assert!(t.contains("will not fit in region"), "{t}");
    assert!(t.contains("does not fit the MCU budget"), "{t}");

    // A blob larger than the whole budget is refused before compiling, with its size.
    let out = driver(&["--flash-kib", "4", "--limit", "1"]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("larger than the whole 4 KiB flash budget"),
        "{}",
        text(&out)
    );
}

#[test]
fn firmware_over_ram_budget_fails_at_build_time() {
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let model =
        sumi_core::Model::from_bytes(sumi_core::models::DEFAULT).expect("default model loads");
    let kib = (model.arena_bytes() / 1024 + 1).to_string();
    let out = driver(&["--ram-kib", &kib, "--limit", "1"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("RAM budget"), "{}", text(&out));
}
