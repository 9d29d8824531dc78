//! Building the firmware (nested `cargo build`) and the instruction-counting QEMU plugin.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use super::Board;
pub use crate::boards::Budget;

/// Workspace root (this package's parent directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("firmware-sim is inside the workspace")
        .to_path_buf()
}

/// Where the driver keeps its builds and runs: `$CARGO_TARGET_DIR/firmware` (or
/// `<workspace>/target/firmware`). A separate target dir lets the nested cargo run while an
/// outer `cargo run`/`cargo test` holds the main one.
pub fn work_dir() -> PathBuf {
    let base = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    base.join("firmware")
}

/// Makes sure the Rust standard library for `target` is installed. A toolchain installed before
/// `rust-toolchain.toml` named its targets has only the host target (rustup adds the file's
/// targets only when it installs the toolchain itself), so a fresh machine lacks it: when
/// `rustup` is on PATH the target is added through it, saying so; otherwise the error names the
/// command to run.
pub fn ensure_target(target: &str) -> Result<()> {
    let listed = Command::new("rustup")
        .current_dir(workspace_root())
        .args(["target", "list", "--installed"])
        .output();
    let installed = match listed {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).into_owned(),
        // No rustup (a distribution's Rust, say): let cargo try; its error is mapped to advice.
        _ => return Ok(()),
    };
    if installed.lines().any(|l| l.trim() == target) {
        return Ok(());
    }
    eprintln!(
        "sumi-firmware-sim: the Rust target {target} is not installed; running `rustup target add {target}`"
    );
    let status = Command::new("rustup")
        .current_dir(workspace_root())
        .args(["target", "add", target])
        .status()
        .with_context(|| format!("cannot run `rustup target add {target}`"))?;
    if !status.success() {
        bail!(
            "`rustup target add {target}` failed ({status}); install the target by hand with \
             `rustup target add {target}` and run again"
        );
    }
    Ok(())
}

/// Which firmware to build besides the normal one.
#[derive(Debug, Clone, Copy, Default)]
pub struct Variant {
    /// Panic at start (the driver's panic test).
    pub selftest_panic: bool,
    /// Whole feature maps (`Model::predict_with`) instead of the streamed plan.
    pub whole_map: bool,
}

/// Builds the firmware for `model` (a blob file) and `board`, and returns the ELF path.
pub fn firmware(model: &Path, board: Board, budget: Budget, variant: Variant) -> Result<PathBuf> {
    let target = board.spec().target;
    ensure_target(target)?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target_dir = work_dir().join("cargo");
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(workspace_root())
        .args([
            "build",
            "--quiet",
            "-p",
            "sumi-firmware-sim",
            "--release",
            "--target",
            target,
        ])
        .env("CARGO_TARGET_DIR", &target_dir)
        .env("SUMI_BOARD", board.spec().name)
        .env("SUMI_MODEL", model)
        .env("SUMI_FLASH_KIB", budget.flash_kib.to_string())
        .env("SUMI_RAM_KIB", budget.ram_kib.to_string())
        .env("SUMI_MIN_STACK_KIB", budget.min_stack_kib.to_string())
        .env(
            "SUMI_SELFTEST_PANIC",
            if variant.selftest_panic { "1" } else { "0" },
        )
        .env("SUMI_WHOLE_MAP", if variant.whole_map { "1" } else { "0" })
        // Firmware-style codegen: whole-program optimisation, one codegen unit.
        .env("CARGO_PROFILE_RELEASE_LTO", "fat")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1")
        // Host-only flags from an outer build must not leak into the firmware build.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET");
    let output = cmd.output().with_context(|| {
        format!(
            "cannot run {:?} to build the firmware; is cargo on PATH?",
            cargo
        )
    })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let hint = if stderr.contains("will not fit in region")
            || stderr.contains("RAM budget exceeded")
        {
            format!(
                "the firmware does not fit the MCU budget of {} ({} KiB flash, {} KiB RAM, {} KiB \
                 minimum stack); use a smaller model or raise --flash-kib / --ram-kib (at most {} / {} \
                 KiB on this board)",
                board.spec().name,
                budget.flash_kib,
                budget.ram_kib,
                budget.min_stack_kib,
                board.spec().flash_kib,
                board.spec().ram_kib
            )
        } else if stderr.contains("sumi-firmware-sim:") {
            "the firmware build rejected the model or budget (see the message above)".to_string()
        } else if stderr.contains("target may not be installed")
            || stderr.contains("can't find crate for `core`")
        {
            format!("the Rust target {target} is missing: rustup target add {target}")
        } else {
            "the firmware build failed".to_string()
        };
        bail!("{}\n{hint}", relevant_lines(&stderr));
    }
    let elf = target_dir
        .join(target)
        .join("release")
        .join("sumi-firmware-sim");
    if !elf.is_file() {
        bail!(
            "the firmware build succeeded but {} is missing",
            elf.display()
        );
    }
    Ok(elf)
}

/// The interesting part of a cargo/linker error output (lines mentioning errors or the budget).
fn relevant_lines(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| {
            let l = l.trim_start();
            l.starts_with("error")
                || l.contains("will not fit")
                || l.contains("overflowed by")
                || l.contains("sumi")
                || l.starts_with("rust-lld")
        })
        .collect();
    if lines.is_empty() {
        stderr.trim().to_string()
    } else {
        lines.join("\n")
    }
}

const PLUGIN_SOURCE: &str = include_str!("../../plugin/icount.c");

/// Builds (once per source change) the instruction-counting plugin with the host C compiler
/// (`$CC`, default `cc`) and returns the shared library's path.
pub fn icount_plugin() -> Result<PathBuf> {
    let dir = work_dir().join("icount");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let src = dir.join("icount.c");
    let lib = dir.join("libsumi_icount.so");
    if lib.is_file() && std::fs::read_to_string(&src).ok().as_deref() == Some(PLUGIN_SOURCE) {
        return Ok(lib);
    }
    std::fs::write(&src, PLUGIN_SOURCE)
        .with_context(|| format!("cannot write {}", src.display()))?;
    let cc = std::env::var_os("CC").unwrap_or_else(|| "cc".into());
    let output = Command::new(&cc)
        .args(["-shared", "-fPIC", "-O2", "-o"])
        .arg(&lib)
        .arg(&src)
        .output()
        .with_context(|| format!("cannot run the C compiler {cc:?} to build the icount plugin; install gcc or pass --no-icount"))?;
    if !output.status.success() {
        bail!(
            "building the icount plugin failed:\n{}\ninstall gcc or pass --no-icount",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(lib)
}
