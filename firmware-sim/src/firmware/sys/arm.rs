//! Cortex-M: `cortex-m-rt` does the start-up (vector table, `.data`/`.bss`, stack painting);
//! this module adds the entry point and the hard-fault exit (semihosting: `cortex-m-semihosting`).

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
