//! RISC-V (RV32IMAC, machine mode, one hart): the firmware's own start-up code and trap exit, in
//! place of a runtime crate (semihosting: `riscv-semihosting`).
//!
//! `_start` (placed first in flash by `sumi-riscv.x`, where QEMU's reset vector jumps) sets the
//! global and stack pointers, paints the stack region with [`STACK_PAINT`] (for the high-water
//! mark), copies `.data` from flash, zeroes `.bss`, points `mtvec` at a handler that reports the
//! trap and exits QEMU, and calls the firmware's `run`. Interrupts stay disabled (reset state).

use crate::protocol::EXIT_FAULT;

/// The value the start-up code fills the stack region with (the same as cortex-m-rt's).
pub const STACK_PAINT: u32 = 0xCCCC_CCCC;

// Symbols from sumi-riscv.x. Loops run on whole words: the script aligns every bound to 4.
core::arch::global_asm!(
    r#"
    .section .text.sumi_start, "ax", @progbits
    .globl _start
_start:
    .option push
    .option norelax
    la gp, __global_pointer$
    .option pop
    la sp, _stack_start
    la t0, _stack_end
    li t2, {paint}
1:  bgeu t0, sp, 2f
    sw t2, 0(t0)
    addi t0, t0, 4
    j 1b
2:  la t0, _sdata
    la t1, _edata
    la t2, _sidata
3:  bgeu t0, t1, 4f
    lw t3, 0(t2)
    sw t3, 0(t0)
    addi t0, t0, 4
    addi t2, t2, 4
    j 3b
4:  la t0, _sbss
    la t1, _ebss
5:  bgeu t0, t1, 6f
    sw zero, 0(t0)
    addi t0, t0, 4
    j 5b
6:  la t0, sumi_trap_entry
    csrw mtvec, t0
    call sumi_rv_main
7:  j 7b

    .section .text.sumi_trap, "ax", @progbits
    .balign 4
sumi_trap_entry:
    csrr a0, mcause
    csrr a1, mepc
    csrr a2, mtval
    call sumi_rv_trap
8:  j 8b

"#,
    paint = const STACK_PAINT,
);

/// Called by `_start` once memory is initialised.
#[unsafe(no_mangle)]
extern "C" fn sumi_rv_main() -> ! {
    super::exit(super::super::run())
}

/// Called by the trap entry with the trap's cause, address and value: a fault ends the
/// emulation with a message and its own exit code instead of hanging.
#[unsafe(no_mangle)]
extern "C" fn sumi_rv_trap(mcause: u32, mepc: u32, mtval: u32) -> ! {
    super::super::report_error(format_args!(
        "sumi firmware: trap (mcause {mcause:#x}) at pc {mepc:#010x}, mtval {mtval:#010x}"
    ));
    super::exit(EXIT_FAULT)
}
