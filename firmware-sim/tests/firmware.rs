//! End-to-end tests of the firmware under QEMU, through the driver binary.
//!
//! QEMU is required when `SUMI_REQUIRE_QEMU=1` (CI); elsewhere a missing `qemu-system-arm` /
//! `qemu-system-riscv32` makes the QEMU-dependent tests print a loud SKIPPED line and return.
//! The build-budget tests need only cargo. All tests share one firmware output directory, so
//! they run one at a time.

use std::process::{Command, Output};
use std::sync::Mutex;

// The driver's board table (plain data, no dependencies): byte formatting and board names.
use sumi_boards as boards;

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

/// Whether `qemu-system-arm` can run; panics under CI (`SUMI_REQUIRE_QEMU=1`) when it cannot.
fn qemu_or_skip(test: &str) -> bool {
    qemu_exe_or_skip(
        test,
        "QEMU_SYSTEM_ARM",
        "qemu-system-arm",
        "qemu-system-arm",
    )
}

/// Whether the QEMU `default` (overridden by `$env_var`, from Debian package `package`) can run;
/// panics under CI (`SUMI_REQUIRE_QEMU=1`) when it cannot.
fn qemu_exe_or_skip(test: &str, env_var: &str, default: &str, package: &str) -> bool {
    let exe = std::env::var(env_var).unwrap_or_else(|_| default.into());
    let ok = Command::new(&exe)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("SUMI_REQUIRE_QEMU").as_deref() != Ok("1"),
            "SUMI_REQUIRE_QEMU=1 but {exe} cannot run: install {package}"
        );
        eprintln!(
            "SKIPPED {test}: {exe} not found (install {package}; set SUMI_REQUIRE_QEMU=1 to make this fail)"
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
    // The budget the streamed plan needs (static RAM 5.3 KB + stack 2.5 KB): a firmware whose
    // stack grew past the 8 KiB fails (its painted stack would reach the end of its region).
    let out = driver(&[
        "--limit",
        &n.to_string(),
        "--json",
        "--ram-kib",
        "8",
        "--min-stack-kib",
        "2",
    ]);
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
    assert!(ram["used_bytes"].as_u64().unwrap() <= 8 * 1024, "{ram}");
    assert_eq!(report["plan"], "streamed", "{report}");
}

#[test]
fn whole_map_plan_gives_the_same_logits_in_its_larger_arena() {
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !qemu_or_skip("whole_map_plan_gives_the_same_logits_in_its_larger_arena") {
        return;
    }
    let out = driver(&["--limit", "10", "--json", "--whole-map"]);
    assert!(out.status.success(), "driver failed:\n{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(report["plan"], "whole-map", "{report}");
    assert_eq!(report["identical_logits"], 10, "{report}");
    let model =
        sumi_core::Model::from_bytes(sumi_core::models::DEFAULT).expect("default model loads");
    assert_eq!(
        report["ram"]["arena_declared_bytes"],
        model.observed_arena_bytes()
    );
    assert!(model.observed_arena_bytes() > 3 * model.arena_bytes());
    // Per-layer instruction counts: one per layer, adding up to the inference's count.
    let compute = &report["compute"];
    let layers = compute["per_layer"].as_array().expect("per_layer");
    assert_eq!(layers.len(), model.layers().count(), "{report}");
    let mut sum = 0.0;
    for (l, info) in layers.iter().zip(model.layers()) {
        assert_eq!(l["macs"], info.macs, "{l}");
        let n = l["instructions_mean"].as_f64().expect("instructions");
        assert!(n > 0.0, "{l}");
        sum += n;
    }
    let whole = compute["instructions_per_inference_mean"].as_f64().unwrap();
    assert!((sum - whole).abs() < 1e-6 * whole, "{sum} vs {whole}");
    // The convolutions do nearly all the work.
    let conv1 = layers[1]["instructions_mean"].as_f64().unwrap();
    assert!(conv1 > 0.3 * whole, "{report}");
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
    let t = text(&out);
    assert!(
        t.contains(&format!(
            "the blob alone is {} B, the flash budget is 4,096 B",
            boards::bytes(sumi_core::models::DEFAULT.len())
        )),
        "{t}"
    );
    assert!(!t.contains("building the firmware"), "{t}");
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

/// The small bundled model that fits the 16 KiB boards.
fn tiny_model() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../host-train/models/tiny.sumi"
    );
    assert!(
        std::path::Path::new(path).is_file(),
        "{path} is missing: it is a committed model"
    );
    path.to_string()
}

/// Runs `args` through the driver, checks bit-identical logits and plausible figures for
/// `board`, and returns the JSON report.
fn parity(board: &str, model: Option<&str>, n: usize, ram_kib: u64) -> serde_json::Value {
    let limit = n.to_string();
    let mut args = vec!["--board", board, "--limit", &limit, "--json"];
    if let Some(m) = model {
        args.extend(["--model", m]);
    }
    let out = driver(&args);
    assert!(
        out.status.success(),
        "{board}: driver failed:\n{}",
        text(&out)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(report["board"], board, "{report}");
    assert_eq!(report["images"], n, "{report}");
    assert_eq!(
        report["identical_logits"], n,
        "{board}: logits differ: {report}"
    );
    let blob = match model {
        Some(m) => std::fs::read(m).expect("read model"),
        None => sumi_core::models::DEFAULT.to_vec(),
    };
    let host = sumi_core::Model::from_bytes(&blob).expect("model loads");
    let compute = &report["compute"];
    assert_eq!(compute["macs_per_inference"], host.macs());
    let min = compute["instructions_per_inference_min"]
        .as_u64()
        .expect("instructions measured");
    // No DSP on these cores: at least one multiply per MAC.
    assert!(
        min >= host.macs(),
        "{board}: {min} instructions for {} MACs is impossible without SIMD",
        host.macs()
    );
    let ram = &report["ram"];
    assert_eq!(ram["budget_bytes"], ram_kib * 1024, "{ram}");
    let used = ram["used_bytes"].as_u64().unwrap();
    let stack = ram["stack_peak_bytes"].as_u64().unwrap();
    assert!(
        stack > 0 && stack < ram["stack_region_bytes"].as_u64().unwrap(),
        "{ram}"
    );
    assert!(
        used <= ram_kib * 1024,
        "{board}: {used} B of RAM used: {ram}"
    );
    assert!(
        ram["static_bytes"].as_u64().unwrap() >= host.arena_bytes() as u64,
        "{ram}"
    );
    report
}

#[test]
fn cortex_m0_logits_are_bit_identical_to_host() {
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !qemu_or_skip("cortex_m0_logits_are_bit_identical_to_host") {
        return;
    }
    let report = parity("microbit", Some(&tiny_model()), 100, 16);
    assert_eq!(report["target"], "thumbv6m-none-eabi", "{report}");
}

#[test]
fn riscv32_logits_are_bit_identical_to_host() {
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !qemu_exe_or_skip(
        "riscv32_logits_are_bit_identical_to_host",
        "QEMU_SYSTEM_RISCV32",
        "qemu-system-riscv32",
        "qemu-system-misc",
    ) {
        return;
    }
    // Both models on the 16 KiB SiFive E (the streamed plan fits the default one there), the
    // default model on the large-RAM virt board.
    let report = parity("sifive_e", Some(&tiny_model()), 100, 16);
    assert_eq!(report["target"], "riscv32imac-unknown-none-elf", "{report}");
    parity("sifive_e", None, 5, 16);
    let report = parity("riscv32-virt", None, 20, 64);
    assert_eq!(report["target"], "riscv32imac-unknown-none-elf", "{report}");
}

#[test]
fn the_default_model_runs_on_the_16_kib_cortex_m0() {
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !qemu_or_skip("the_default_model_runs_on_the_16_kib_cortex_m0") {
        return;
    }
    parity("microbit", None, 5, 16);
}

#[test]
fn a_plan_too_big_for_a_16_kib_board_is_refused_with_budget_and_need() {
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // The default model fits a 16 KiB board streamed (5.3 KB arena), not on whole maps.
    let model =
        sumi_core::Model::from_bytes(sumi_core::models::DEFAULT).expect("default model loads");
    let arena = boards::bytes(model.observed_arena_bytes());
    // The driver refuses before building, naming the budget and what the model needs.
    for board in ["microbit", "sifive_e"] {
        let out = driver(&["--board", board, "--limit", "1", "--whole-map"]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        let t = text(&out);
        assert!(
            t.contains(&format!("does not fit the RAM of {board}")),
            "{t}"
        );
        assert!(t.contains(&format!("{arena} B arena")), "{t}");
        assert!(t.contains("the RAM budget is 16,384 B (16 KiB)"), "{t}");
        assert!(!t.contains("building the firmware"), "{t}");
    }
    // A budget beyond the board is refused too.
    let out = driver(&["--board", "microbit", "--ram-kib", "64", "--limit", "1"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("board microbit has 256 KiB flash and 16 KiB RAM"),
        "{}",
        text(&out)
    );

    // Built by hand (no driver), the firmware's build script refuses the same model.
    let base = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "-p", "sumi-firmware-sim", "--release"])
        .args(["--target", "thumbv6m-none-eabi"])
        .env("CARGO_TARGET_DIR", base.join("firmware").join("cargo"))
        .env("SUMI_BOARD", "microbit")
        .env("SUMI_WHOLE_MAP", "1")
        .env_remove("SUMI_MODEL")
        .env_remove("SUMI_RAM_KIB")
        .env_remove("RUSTFLAGS")
        .output()
        .expect("run cargo");
    assert!(!out.status.success());
    let t = text(&out);
    assert!(t.contains("does not fit the RAM of microbit"), "{t}");
    assert!(t.contains(&format!("{arena} B arena")), "{t}");
}

#[test]
fn an_unknown_board_lists_the_boards() {
    let out = driver(&["--board", "nrf52", "--limit", "1"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("invalid value 'nrf52' for '--board"), "{t}");
    for board in boards::BOARDS {
        assert!(t.contains(board.name), "{} not listed: {t}", board.name);
    }
}

/// A synthetic model whose layers take every convolution path the committed models do not:
/// "same" padding and kernel rows that are not whole words (gathered patches with scalar
/// tails), a word count per row that is odd, an odd number of output channels, 4- and 2-bit
/// weights, max and average pools; seeded random weights.
fn odd_shapes_model() -> Vec<u8> {
    use sumi_core::blob::{DenseOutput, Padding, Pool};
    use sumi_core::builder::{Conv, Dense, ModelBuilder, Params};
    let mut seed = 0x2545_f491u32;
    let mut next = move |range: i32| {
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (seed >> 8) as i32 % (2 * range + 1) - range
    };
    let mut params = |n: usize, outs: usize, bits: u8, k: usize| {
        let weights: Vec<i8> = (0..n)
            .map(|_| match bits {
                8 => next(127) as i8,
                4 => next(7).max(-8) as i8,
                _ => [-3, -1, 1, 3][next(1000).rem_euclid(4) as usize],
            })
            .collect();
        let w_std = match bits {
            8 => 73.0,
            4 => 4.0,
            _ => 2.2,
        };
        // About 40 output steps per standard deviation of the accumulator.
        let real = 40.0 / ((k as f64).sqrt() * w_std * 60.0);
        Params {
            weights,
            bias: (0..outs).map(|_| next(2000)).collect(),
            requant: (0..outs)
                .map(|_| sumi_core::quantize_multiplier(real * (1.0 + next(50) as f64 / 100.0)))
                .collect(),
        }
    };
    let conv = |cin: u16, cout: u16, padding, pool, bits: u8, p: Params| Conv {
        kernel: (3, 3),
        in_channels: cin,
        out_channels: cout,
        padding,
        relu: true,
        pool,
        output_zero_point: -128,
        weight_bits: bits,
        params: p,
    };
    let layers = [
        (1, 6, Padding::Same, Pool::None, 8),
        (6, 12, Padding::Valid, Pool::Max2, 8),
        (12, 7, Padding::Valid, Pool::None, 4),
        (7, 8, Padding::Valid, Pool::Avg2, 2),
        (8, 10, Padding::Valid, Pool::Max2, 8),
    ];
    let mut b = ModelBuilder::new(28, 28, 1)
        .name("odd-shapes")
        .logit_scale(0.05);
    for (cin, cout, padding, pool, bits) in layers {
        let k = 9 * cin as usize;
        let p = params(k * cout as usize, cout as usize, bits, k);
        b = b.conv2d(conv(cin, cout, padding, pool, bits, p));
    }
    let dense = Dense {
        in_features: 10,
        out_features: 10,
        relu: false,
        output: DenseOutput::Logits,
        weight_bits: 8,
        params: params(100, 10, 8, 10),
    };
    b.flatten()
        .dense(dense)
        .build()
        .expect("the synthetic model builds")
}

#[test]
fn odd_shapes_are_bit_identical_on_every_kernel_path() {
    if !qemu_or_skip("odd_shapes_are_bit_identical_on_every_kernel_path") {
        return;
    }
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let blob = odd_shapes_model();
    // Not a degenerate model: different inputs give different logits.
    let model = sumi_core::Model::from_bytes(&blob).expect("model loads");
    let mut arena = vec![0u8; model.arena_bytes()];
    let ramp: Vec<u8> = (0..784).map(|i| (i * 7 % 256) as u8).collect();
    let a = model.predict(&ramp, &mut arena).unwrap().logits().to_vec();
    let b = model
        .predict(&[0u8; 784], &mut arena)
        .unwrap()
        .logits()
        .to_vec();
    assert_ne!(a, b, "the synthetic model ignores its input");
    let path = write_temp("odd-shapes.sumi", &blob);
    let path = path.to_str().unwrap();
    // Cortex-M4 (DSP kernels, asm) and Cortex-M0 (portable kernels).
    for board in ["mps2-an386", "microbit"] {
        let out = driver(&[
            "--board", board, "--model", path, "--limit", "200", "--json",
        ]);
        assert!(
            out.status.success(),
            "{board}: driver failed:\n{}",
            text(&out)
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
        assert_eq!(
            report["identical_logits"], 200,
            "{board}: logits differ: {report}"
        );
    }
}
