//! Firmware build only (target_os = "none"): copy the model blob chosen by `SUMI_MODEL`
//! (default `core/models/default.sumi`) into OUT_DIR, and write the linker script for the board
//! `SUMI_BOARD` (default: the first board of the target in `sumi-boards`) with the MCU budget
//! (`SUMI_FLASH_KIB`, `SUMI_RAM_KIB`: default the board's; `SUMI_MIN_STACK_KIB`, default 12)
//! so that a model that does not fit fails at build/link time with a clear message.
//! Cortex-M boards get `memory.x` for cortex-m-rt's `link.x`; RISC-V boards get the firmware's
//! own `sumi-riscv.x`. `SUMI_SELFTEST_PANIC=1` builds a firmware that panics at start (the
//! driver's panic test); `SUMI_WHOLE_MAP=1` one that runs every layer on whole maps
//! (`Model::predict_with`, arena `Model::observed_arena_bytes`) instead of the streamed plan, for
//! the report's comparison.
//!
//! Host build: the host half of this package (the driver) never compiles the firmware half, so
//! the script type-checks it with a nested `cargo check` of this package for one Arm and one
//! RISC-V firmware target (see [`check_firmware`]).
use std::path::{Path, PathBuf};
use std::process::Command;

use sumi_boards as boards;
use sumi_boards::{BoardSpec, Budget, Runtime};

fn env_kib(name: &str, default: u32) -> u32 {
    println!("cargo:rerun-if-env-changed={name}");
    match std::env::var(name) {
        Ok(v) => v.trim().parse().unwrap_or_else(|_| {
            fail(&format!("{name}={v:?} is not a whole number of KiB"));
        }),
        Err(_) => default,
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("error: sumi-firmware-sim: {msg}");
    std::process::exit(1);
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=SUMI_MODEL");
    println!("cargo:rerun-if-env-changed=SUMI_SELFTEST_PANIC");
    println!("cargo::rustc-check-cfg=cfg(sumi_selftest_panic)");
    println!("cargo:rerun-if-env-changed=SUMI_WHOLE_MAP");
    println!("cargo::rustc-check-cfg=cfg(sumi_whole_map)");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("none") {
        check_firmware();
        return;
    }
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo"));
    let model = match std::env::var_os("SUMI_MODEL") {
        Some(p) => PathBuf::from(p),
        None => manifest.join("../core/models/default.sumi"),
    };
    println!("cargo:rerun-if-changed={}", model.display());
    let blob = std::fs::read(&model).unwrap_or_else(|e| {
        fail(&format!(
            "cannot read model blob {}: {e}; set SUMI_MODEL to a blob exported by sumi-train",
            model.display()
        ))
    });
    println!("cargo:rerun-if-env-changed=SUMI_BOARD");
    let target = std::env::var("TARGET").expect("set by cargo");
    let board: &BoardSpec = match std::env::var("SUMI_BOARD") {
        Ok(name) => boards::by_name(&name).unwrap_or_else(|| {
            fail(&format!(
                "SUMI_BOARD={name:?} is not a board; the boards are: {}",
                boards::names()
            ))
        }),
        Err(_) => boards::default_for_target(&target).unwrap_or_else(|| {
            fail(&format!(
                "no board runs the target {target}; the boards are: {}",
                boards::names()
            ))
        }),
    };
    if board.target != target {
        fail(&format!(
            "board {} needs the target {}, not {target}",
            board.name, board.target
        ));
    }
    let flash_kib = env_kib("SUMI_FLASH_KIB", board.default_flash_kib);
    let ram_kib = env_kib("SUMI_RAM_KIB", board.default_ram_kib);
    let stack_kib = env_kib("SUMI_MIN_STACK_KIB", boards::DEFAULT_MIN_STACK_KIB);
    let budget = Budget {
        flash_kib,
        ram_kib,
        min_stack_kib: stack_kib,
    };
    let mut arena = sumi_core::blob::header_arena_bytes(&blob);
    if std::env::var("SUMI_WHOLE_MAP").as_deref() == Ok("1") {
        // Comparison build: every layer's whole map (Model::predict_with), so its arena.
        let model = sumi_core::Model::from_bytes(&blob)
            .unwrap_or_else(|e| fail(&format!("{}: {e}", model.display())));
        arena = model.observed_arena_bytes();
        println!("cargo:rustc-cfg=sumi_whole_map");
        std::fs::write(out.join("whole_arena_bytes.rs"), arena.to_string())
            .expect("write OUT_DIR/whole_arena_bytes.rs");
    }
    let label = model.display().to_string();
    if let Err(e) = boards::check_fit(board, budget, &label, blob.len(), arena) {
        fail(&format!(
            "{e} (SUMI_MODEL, SUMI_FLASH_KIB, SUMI_RAM_KIB, SUMI_MIN_STACK_KIB)"
        ));
    }
    if std::env::var("SUMI_SELFTEST_PANIC").as_deref() == Ok("1") {
        // Test-only build: the firmware panics at start (see firmware::run).
        println!("cargo:rustc-cfg=sumi_selftest_panic");
    }
    std::fs::write(out.join("model.sumi"), &blob).expect("write OUT_DIR/model.sumi");
    let assert_stack = format!(
        "ASSERT(_stack_start - _stack_end >= {stack_kib}K, \"sumi: RAM budget exceeded: static \
         data (model arena, buffers) leaves less than the {stack_kib} KiB minimum stack in the \
         {ram_kib} KiB RAM of {}; use a smaller model or raise SUMI_RAM_KIB\");",
        board.name
    );
    let (flash_origin, ram_origin) = (board.flash_origin, board.ram_origin);
    let memory = format!(
        "/* Generated by firmware-sim/build.rs for {}: MCU budget, not the board's size. */
MEMORY
{{
  FLASH : ORIGIN = {flash_origin:#010x}, LENGTH = {flash_kib}K
  RAM   : ORIGIN = {ram_origin:#010x}, LENGTH = {ram_kib}K
}}
",
        board.name
    );
    match board.runtime {
        Runtime::CortexM => {
            std::fs::write(out.join("memory.x"), format!("{memory}{assert_stack}\n"))
                .expect("write OUT_DIR/memory.x");
            println!("cargo:rustc-link-arg-bins=-Tlink.x");
        }
        Runtime::Riscv => {
            let script = format!("{memory}{RISCV_SECTIONS}{assert_stack}\n");
            std::fs::write(out.join("sumi-riscv.x"), script).expect("write OUT_DIR/sumi-riscv.x");
            println!("cargo:rustc-link-arg-bins=-Tsumi-riscv.x");
        }
    }
    println!("cargo:rustc-link-search={}", out.display());
}

/// Sections of the RISC-V firmware (the start-up code in `src/firmware/sys/riscv.rs` uses the
/// symbols): code and read-only data in FLASH; `.data` in RAM with its initial values in
/// FLASH; then `.bss`; the stack fills the rest of RAM, from the top down to `_stack_end`.
const RISCV_SECTIONS: &str = "
OUTPUT_ARCH(riscv)
ENTRY(_start)
SECTIONS
{
  .text ORIGIN(FLASH) :
  {
    KEEP(*(.text.sumi_start))
    *(.text .text.*)
  } > FLASH
  .rodata : ALIGN(4)
  {
    *(.srodata .srodata.*)
    *(.rodata .rodata.*)
    . = ALIGN(4);
  } > FLASH
  .data : ALIGN(4)
  {
    _sdata = .;
    PROVIDE(__global_pointer$ = . + 0x800);
    *(.sdata .sdata.*)
    *(.data .data.*)
    . = ALIGN(4);
    _edata = .;
  } > RAM AT > FLASH
  _sidata = LOADADDR(.data);
  .bss (NOLOAD) : ALIGN(4)
  {
    _sbss = .;
    *(.sbss .sbss.*)
    *(.bss .bss.*)
    *(COMMON)
    . = ALIGN(4);
    _ebss = .;
  } > RAM
  .uninit (NOLOAD) : ALIGN(4)
  {
    *(.uninit .uninit.*)
    . = ALIGN(16);
  } > RAM
  _stack_end = .;
  _stack_start = ORIGIN(RAM) + LENGTH(RAM);
  /DISCARD/ : { *(.eh_frame .eh_frame_hdr) }
}
";

/// The firmware targets a host build type-checks: between them they compile every line of the
/// firmware (`sys/arm.rs` and `sys/riscv.rs`; Armv6-M differs from Armv7E-M only inside the
/// core, which `cargo build -p sumi-core --target thumbv6m-none-eabi` covers).
const CHECKED_TARGETS: [&str; 2] = ["thumbv7em-none-eabihf", "riscv32imac-unknown-none-elf"];

/// Host build only: `cargo check` of this package for [`CHECKED_TARGETS`], so that a plain
/// `cargo check` / `cargo clippy` of the workspace fails on a firmware that does not compile
/// (under `cargo clippy` the nested check inherits clippy as the workspace wrapper, with its
/// arguments, and so lints the firmware too). It runs again only when the firmware's sources,
/// the core's or the lock file change, incrementally, in its own target directory
/// (`$CARGO_TARGET_DIR/firmware-check`: no lock shared with the outer build). A target that is not installed is skipped with
/// a warning (the driver installs it through rustup when it first builds the firmware);
/// `SUMI_SKIP_FIRMWARE_CHECK=1` skips the check.
fn check_firmware() {
    println!("cargo:rerun-if-env-changed=SUMI_SKIP_FIRMWARE_CHECK");
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_DIR");
    if std::env::var("SUMI_SKIP_FIRMWARE_CHECK").as_deref() == Ok("1") {
        return;
    }
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    for input in [
        "Cargo.toml",
        "src/main.rs",
        "src/protocol.rs",
        "src/firmware",
        "../core/Cargo.toml",
        "../core/src",
        "../core/models/default.sumi",
        "../Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={}", manifest.join(input).display());
    }
    // One directory for every profile and wrapper of the outer build (check, clippy, test each
    // have their own OUT_DIR), beside the driver's `firmware` directory.
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../target"))
        .join("firmware-check");
    let sysroot = rustc_sysroot();
    for target in CHECKED_TARGETS {
        if let Some(sysroot) = &sysroot
            && !sysroot.join("lib/rustlib").join(target).exists()
        {
            println!(
                "cargo:warning=firmware not type-checked for {target}: the target is not \
                 installed (rustup target add {target})"
            );
            continue;
        }
        check_firmware_for(&manifest, target, &target_dir);
    }
}

/// The sysroot of the compiler cargo uses (`None` if it cannot say: then every target is
/// tried).
fn rustc_sysroot() -> Option<PathBuf> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()?;
    let path = String::from_utf8(out.stdout).ok()?;
    out.status.success().then(|| PathBuf::from(path.trim()))
}

/// `cargo check -p sumi-firmware-sim --target <target>`; its diagnostics and a failure become
/// this build script's.
fn check_firmware_for(manifest: &Path, target: &str, target_dir: &Path) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(manifest)
        .args([
            "check",
            "--quiet",
            "-p",
            "sumi-firmware-sim",
            "--target",
            target,
        ])
        .env("CARGO_TARGET_DIR", target_dir)
        // The firmware's default build (default model, the target's first board): settings
        // meant for the outer build or a hand-built firmware must not reach it.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET");
    for var in [
        "SUMI_MODEL",
        "SUMI_BOARD",
        "SUMI_FLASH_KIB",
        "SUMI_RAM_KIB",
        "SUMI_MIN_STACK_KIB",
        "SUMI_SELFTEST_PANIC",
    ] {
        cmd.env_remove(var);
    }
    let output = cmd
        .output()
        .unwrap_or_else(|e| fail(&format!("cannot run cargo to check the firmware: {e}")));
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        eprintln!("{stderr}");
        fail(&format!(
            "the firmware fails `cargo check -p sumi-firmware-sim --target {target}` (clippy's \
             lints too under `cargo clippy`); errors above"
        ));
    }
    for line in stderr.lines().filter(|l| !l.trim().is_empty()) {
        println!("cargo:warning=firmware ({target}): {line}");
    }
}
