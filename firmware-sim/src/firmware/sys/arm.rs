//! Cortex-M: `cortex-m-rt` does the start-up (vector table, `.data`/`.bss`, stack painting);
//! this module adds the entry point, the hard-fault exit and the semihosting trap.

use cortex_m_rt::{ExceptionFrame, entry, exception};

use crate::protocol::EXIT_FAULT;

/// The value cortex-m-rt's `paint-stack` feature fills the stack region with at reset.
pub const STACK_PAINT: u32 = cortex_m_rt::STACK_PAINT_VALUE;

#[entry]
fn main() -> ! {
    super::exit(super::super::run())
}

// A fault (bad memory access, undefined instruction, …) ends the emulation with a message and
// its own exit code; cortex-m-rt's default handler would spin until the driver's watchdog.
#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    super::super::report_error(format_args!(
        "sumi firmware: hard fault at pc {:#010x} (lr {:#010x})",
        frame.pc(),
        frame.lr()
    ));
    super::exit(EXIT_FAULT)
}

/// One semihosting call: `op` in r0, the argument block's address in r1, the result in r0.
pub fn semihost(op: u32, block: usize) -> isize {
    let result: u32;
    // SAFETY: BKPT 0xAB is the semihosting trap; QEMU services it and writes only r0 and the
    // memory the argument block names (which the callers pass as live, correctly sized
    // buffers). The asm block is not `nomem`, so the compiler treats it as reading/writing
    // memory and keeps the argument blocks and buffers alive and in memory across it.
    unsafe {
        core::arch::asm!("bkpt #0xab", inout("r0") op => result, in("r1") block, options(nostack));
    }
    result as i32 as isize
}
