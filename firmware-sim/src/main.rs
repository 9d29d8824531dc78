//! # sumi-firmware-sim
//!
//! One package, two programs:
//!
//! * built for a bare-metal target (`thumbv7em-none-eabihf`, `thumbv6m-none-eabi`,
//!   `riscv32imac-unknown-none-elf`) it is the **firmware**: `sumi-core` on an emulated
//!   microcontroller (the QEMU boards in [`boards`]), model blob in flash, static arena, no
//!   heap, I/O over semihosting;
//! * built for the host it is the **driver**: it builds the firmware, runs it under QEMU on
//!   MNIST test images, runs the host `sumi-core` on the same images and reports
//!   bit-exactness, accuracy, flash, RAM, stack, arena and instructions per inference.
//!
//! | module | concept |
//! |---|---|
//! | [`protocol`] | files, record layout and exit codes shared by firmware and driver |
//! | [`boards`] | (host only) the boards: target, QEMU machine, memory map (crate `sumi-boards`, also used by `build.rs`) |
//! | `firmware` | (target only) the firmware; `firmware::sys` is the one module with `unsafe` |
//! | `driver` | (host only) CLI, firmware build, QEMU run, ELF sizes, icount plugin, report |
#![cfg_attr(target_os = "none", no_std, no_main)]
#![deny(unsafe_code)]

pub mod protocol;

#[cfg(not(target_os = "none"))]
pub use sumi_boards as boards;

#[cfg(target_os = "none")]
mod firmware;

#[cfg(not(target_os = "none"))]
mod driver;

#[cfg(not(target_os = "none"))]
fn main() -> std::process::ExitCode {
    driver::main()
}
