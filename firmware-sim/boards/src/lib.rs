//! The emulated boards of `sumi-firmware-sim`: Rust target, QEMU machine and memory map. Plain
//! data with no dependencies, shared by the firmware's `build.rs` (which writes the linker
//! script), the host driver (which checks budgets, runs QEMU and reads the ELF's sizes) and the
//! driver's tests. A crate of its own so that all three use it as a dependency.
//!
//! The memory maps were read from QEMU 7.2 (`info mtree`) and the boards' manuals; the
//! firmware is linked against a *budget* inside them (`--flash-kib`, `--ram-kib`), which may
//! not exceed what the board has.

/// How the firmware starts on a board.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// `cortex-m-rt` (vector table, `.data`/`.bss` init, stack painting) and its `link.x`.
    CortexM,
    /// The firmware's own RISC-V start-up code (`firmware::sys::riscv`) and linker script.
    Riscv,
}

/// One board.
#[derive(Debug, Clone, Copy)]
pub struct BoardSpec {
    /// `--board` value (and `SUMI_BOARD` for a firmware built by hand).
    pub name: &'static str,
    /// What the board is, for help texts and reports.
    pub description: &'static str,
    /// Rust target the firmware is built for.
    pub target: &'static str,
    /// QEMU system emulator.
    pub qemu: &'static str,
    /// Environment variable that overrides the QEMU executable.
    pub qemu_env: &'static str,
    /// Debian package that ships the QEMU executable.
    pub qemu_package: &'static str,
    /// QEMU `-machine`.
    pub machine: &'static str,
    /// QEMU `-cpu`, where the machine has a choice.
    pub cpu: Option<&'static str>,
    /// The core, as the report names it.
    pub core: &'static str,
    /// Start-up code and linker script.
    pub runtime: Runtime,
    /// Where code memory (flash) starts; `-kernel` loads the ELF there.
    pub flash_origin: u64,
    /// Flash the board has, KiB (the largest accepted flash budget).
    pub flash_kib: u32,
    /// Where RAM starts.
    pub ram_origin: u64,
    /// RAM the board has, KiB (the largest accepted RAM budget).
    pub ram_kib: u32,
    /// Flash budget when `--flash-kib` is not given, KiB.
    pub default_flash_kib: u32,
    /// RAM budget when `--ram-kib` is not given, KiB.
    pub default_ram_kib: u32,
}

/// Arm MPS2 AN386 (Cortex-M4F); AN500 differs only in the core.
const MPS2_AN386: BoardSpec = BoardSpec {
    name: "mps2-an386",
    description: "Arm MPS2 AN386, Cortex-M4F (DSP: SXTB16 + SMLAD kernels)",
    target: "thumbv7em-none-eabihf",
    qemu: "qemu-system-arm",
    qemu_env: "QEMU_SYSTEM_ARM",
    qemu_package: "qemu-system-arm",
    machine: "mps2-an386",
    cpu: Some("cortex-m4"),
    core: "Cortex-M4F",
    runtime: Runtime::CortexM,
    flash_origin: 0x0000_0000,
    flash_kib: 4096,
    ram_origin: 0x2000_0000,
    ram_kib: 4096,
    default_flash_kib: 256,
    default_ram_kib: 64,
};

/// Every board, the default (`--board` absent) first.
pub const BOARDS: &[BoardSpec] = &[
    MPS2_AN386,
    BoardSpec {
        name: "mps2-an500",
        description: "Arm MPS2 AN500, Cortex-M7 (same Thumb-2 + DSP code as the M4)",
        machine: "mps2-an500",
        cpu: Some("cortex-m7"),
        core: "Cortex-M7",
        ..MPS2_AN386
    },
    BoardSpec {
        name: "microbit",
        description: "BBC micro:bit v1 (nRF51822), Cortex-M0: no DSP, no FPU, 16 KiB RAM",
        target: "thumbv6m-none-eabi",
        qemu: "qemu-system-arm",
        qemu_env: "QEMU_SYSTEM_ARM",
        qemu_package: "qemu-system-arm",
        machine: "microbit",
        cpu: None,
        core: "Cortex-M0",
        runtime: Runtime::CortexM,
        flash_origin: 0x0000_0000,
        flash_kib: 256,
        ram_origin: 0x2000_0000,
        ram_kib: 16,
        default_flash_kib: 256,
        default_ram_kib: 16,
    },
    BoardSpec {
        name: "riscv32-virt",
        description: "QEMU RISC-V 'virt', RV32 running RV32IMAC code: large RAM, for models over 16 KiB",
        target: "riscv32imac-unknown-none-elf",
        qemu: "qemu-system-riscv32",
        qemu_env: "QEMU_SYSTEM_RISCV32",
        qemu_package: "qemu-system-misc",
        machine: "virt",
        cpu: None,
        core: "RV32IMAC code on QEMU's rv32 CPU",
        runtime: Runtime::Riscv,
        // All of virt's memory is DRAM at 0x8000_0000 (128 MiB by default); the first 4 MiB
        // play the part of flash, the next 4 MiB of RAM, so the budgets work as on an MCU.
        flash_origin: 0x8000_0000,
        flash_kib: 4096,
        ram_origin: 0x8040_0000,
        ram_kib: 4096,
        default_flash_kib: 256,
        default_ram_kib: 64,
    },
    BoardSpec {
        name: "sifive_e",
        description: "SiFive E (FE310, HiFive1), RV32IMAC: XIP flash, 16 KiB DTIM RAM",
        target: "riscv32imac-unknown-none-elf",
        qemu: "qemu-system-riscv32",
        qemu_env: "QEMU_SYSTEM_RISCV32",
        qemu_package: "qemu-system-misc",
        machine: "sifive_e",
        cpu: None,
        core: "RV32IMAC (SiFive E31)",
        runtime: Runtime::Riscv,
        // QEMU's reset vector jumps to the start of the XIP flash.
        flash_origin: 0x2040_0000,
        flash_kib: 16 * 1024,
        ram_origin: 0x8000_0000,
        ram_kib: 16,
        default_flash_kib: 256,
        default_ram_kib: 16,
    },
];

/// The board called `name`.
pub fn by_name(name: &str) -> Option<&'static BoardSpec> {
    BOARDS.iter().find(|b| b.name == name)
}

/// The board a firmware built by hand for `target` (no `SUMI_BOARD`) is for.
pub fn default_for_target(target: &str) -> Option<&'static BoardSpec> {
    BOARDS.iter().find(|b| b.target == target)
}

/// The `--board` values, comma-separated.
pub fn names() -> String {
    BOARDS.iter().map(|b| b.name).collect::<Vec<_>>().join(", ")
}

/// The stack the static data must leave free when `--min-stack-kib` / `SUMI_MIN_STACK_KIB` is
/// not given, KiB. With the streamed plan the firmware's measured peak stack is 3.5–3.7 KB on
/// every board and bundled model (Cortex-M4 default 3,648 B, Cortex-M0 tiny 3,696 B, RV32
/// default 3,632 B; the image buffer, the loaded model and the engine's frames), so 4 KiB
/// is what it needs; the firmware also fails at run time if its stack ever reaches its region.
pub const DEFAULT_MIN_STACK_KIB: u32 = 4;

/// A byte count with thousands separators (`23,616`).
pub fn bytes(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// An MCU budget inside a board, KiB.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Flash the firmware is linked against.
    pub flash_kib: u32,
    /// RAM the firmware is linked against.
    pub ram_kib: u32,
    /// Stack the static data must leave free.
    pub min_stack_kib: u32,
}

/// Checks that `budget` lies inside `board` and that a model blob of `blob_len` bytes whose
/// header declares an `arena` byte arena fits it (flash: the blob; RAM: arena + minimum
/// stack). The error names the board, the budget and the need. The linker checks the rest
/// (code next to the blob, all static data).
pub fn check_fit(
    board: &BoardSpec,
    budget: Budget,
    model: &str,
    blob_len: usize,
    arena: usize,
) -> Result<(), String> {
    let Budget {
        flash_kib,
        ram_kib,
        min_stack_kib,
    } = budget;
    if flash_kib > board.flash_kib || ram_kib > board.ram_kib {
        return Err(format!(
            "board {} has {} KiB flash and {} KiB RAM; a budget of {flash_kib} KiB flash and \
             {ram_kib} KiB RAM does not fit it: lower the flash / RAM budget",
            board.name, board.flash_kib, board.ram_kib
        ));
    }
    let (flash, ram) = (flash_kib as usize * 1024, ram_kib as usize * 1024);
    if blob_len > flash {
        return Err(format!(
            "model {model} does not fit the flash of {}: the blob alone is {} B, the flash \
             budget is {} B ({flash_kib} KiB); use a smaller model or raise the flash budget",
            board.name,
            bytes(blob_len),
            bytes(flash)
        ));
    }
    let stack = min_stack_kib as usize * 1024;
    if arena + stack > ram {
        return Err(format!(
            "model {model} does not fit the RAM of {}: it needs {} B ({} B arena + {} B \
             minimum stack), the RAM budget is {} B ({ram_kib} KiB); use a smaller model, a \
             board with more RAM, or a larger RAM budget if the board has it",
            board.name,
            bytes(arena + stack),
            bytes(arena),
            bytes(stack),
            bytes(ram)
        ));
    }
    Ok(())
}
