//! The only module (with its per-architecture children) with `unsafe` code: everything that
//! touches the machine directly.
//!
//! * Semihosting calls, through `cortex-m-semihosting` (`BKPT 0xAB`) on Arm and
//!   `riscv-semihosting` (the `slli; ebreak; srai` sequence) on RISC-V: the two crates have the
//!   same `syscall` and `nr` API; there is no safe way to trap into the debugger/QEMU.
//! * Start-up and fault handling: `cortex-m-rt` on Arm, [`riscv`]'s own start-up code.
//! * The statically allocated inference arena, handed out once as `&'static mut [u8]`.
//! * Reading the painted stack region between linker symbols `_stack_end` and `_stack_start`.
//! * The `#[no_mangle]` marker function the instruction-counting plugin looks for.
//!
//! Each `unsafe` block states why it is sound. The rest of the firmware is safe Rust.
#![allow(unsafe_code)]

#[cfg(target_arch = "arm")]
mod arm;
#[cfg(target_arch = "arm")]
use arm as arch;
#[cfg(target_arch = "arm")]
use cortex_m_semihosting as semihosting;

#[cfg(target_arch = "riscv32")]
mod riscv;
#[cfg(target_arch = "riscv32")]
use riscv as arch;
#[cfg(target_arch = "riscv32")]
use riscv_semihosting as semihosting;

use core::sync::atomic::{AtomicBool, Ordering};

use semihosting::nr;

/// SYS_EXIT_EXTENDED: exit with any code (the crates' `debug::exit` uses SYS_EXIT, which gives
/// the host only success or failure). Not in the crates' `nr` tables.
const SYS_EXIT_EXTENDED: usize = 0x20;
/// ADP_Stopped_ApplicationExit, the reason SYS_EXIT_EXTENDED takes with the exit code.
const ADP_STOPPED_APPLICATION_EXIT: usize = 0x20026;

/// Issues the semihosting call `op` with the argument block `block`; its result, signed
/// (negative: failure).
///
/// # Safety
/// `block` must be a valid argument block for `op`: every address in it names a live buffer of
/// the length the block gives, writable where the operation writes.
// Not inlined: one trap site per block size, as with a runtime's semihosting function, instead
// of one at every file call (each RISC-V site is 12 bytes, 16-byte aligned with padding).
#[inline(never)]
unsafe fn call<const N: usize>(op: usize, block: &[usize; N]) -> isize {
    // SAFETY: the caller's guarantee. QEMU writes only the result register and the buffers the
    // block names; the crates' asm is not `nomem`, so the compiler keeps the block and the
    // buffers in memory across the trap.
    unsafe { semihosting::syscall(op, block) as isize }
}

/// Open mode for reading a binary file ("rb").
pub const MODE_READ: usize = nr::open::R_BINARY;
/// Open mode for writing a binary file ("wb").
pub const MODE_WRITE: usize = nr::open::W_TRUNC_BINARY;
/// Open mode "a": on the special path ":tt" this is the host's stderr.
pub const MODE_APPEND: usize = nr::open::W_APPEND;

/// A host file handle.
#[derive(Clone, Copy)]
pub struct Handle(usize);

/// Opens a host file; `path` must not contain NUL. Returns `None` on failure.
pub fn open(path: &str, mode: usize) -> Option<Handle> {
    let mut name = [0u8; 64];
    let bytes = path.as_bytes();
    if bytes.len() >= name.len() {
        return None;
    }
    name[..bytes.len()].copy_from_slice(bytes);
    let block = [name.as_ptr() as usize, mode, bytes.len()];
    // SAFETY: `name` is live and NUL-terminated after `bytes.len()` bytes (checked above).
    let r = unsafe { call(nr::OPEN, &block) };
    if r < 0 {
        None
    } else {
        Some(Handle(r as usize))
    }
}

/// Closes a host file.
pub fn close(h: Handle) {
    // SAFETY: the block holds only a handle.
    unsafe { call(nr::CLOSE, &[h.0]) };
}

/// Length of a host file in bytes.
pub fn flen(h: Handle) -> Option<usize> {
    // SAFETY: the block holds only a handle.
    let r = unsafe { call(nr::FLEN, &[h.0]) };
    if r < 0 { None } else { Some(r as usize) }
}

/// Reads exactly `buf.len()` bytes; false on a short read or error.
pub fn read_exact(h: Handle, buf: &mut [u8]) -> bool {
    let block = [h.0, buf.as_mut_ptr() as usize, buf.len()];
    // SAFETY: `buf` is live and writable for `buf.len()` bytes. SYS_READ returns the number of
    // bytes NOT read.
    unsafe { call(nr::READ, &block) == 0 }
}

/// Moves the read position to byte `pos` from the start; false on error.
pub fn seek(h: Handle, pos: usize) -> bool {
    // SAFETY: the block holds only a handle and a position. SYS_SEEK returns 0 on success.
    unsafe { call(nr::SEEK, &[h.0, pos]) == 0 }
}

/// Writes all of `buf`; false on error.
pub fn write_all(h: Handle, buf: &[u8]) -> bool {
    let block = [h.0, buf.as_ptr() as usize, buf.len()];
    // SAFETY: `buf` is live for `buf.len()` bytes. SYS_WRITE returns the number of bytes NOT
    // written.
    unsafe { call(nr::WRITE, &block) == 0 }
}

/// Ends the emulation; QEMU exits with `code` (semihosting extended exit).
pub fn exit(code: i32) -> ! {
    let block = [ADP_STOPPED_APPLICATION_EXIT, code as u32 as usize];
    loop {
        // SAFETY: the block holds two plain integers.
        unsafe { call(SYS_EXIT_EXTENDED, &block) };
    }
}

/// Marker the instruction-counting QEMU plugin hooks (by symbol address): the firmware calls
/// it right before and right after every inference, and the plugin records the running
/// instruction count each time it executes.
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn sumi_icount_mark() {
    // SAFETY: a NOP has no effect; without `nomem` it also acts as a compiler memory barrier,
    // so the calls are neither merged nor removed.
    unsafe { core::arch::asm!("nop", options(nostack, preserves_flags)) }
}

/// Arena size, taken from the header of the embedded blob at compile time.
#[cfg(not(sumi_whole_map))]
pub const ARENA_BYTES: usize = sumi_core::blob::header_arena_bytes(super::BLOB);
/// Whole-map builds (`SUMI_WHOLE_MAP=1`): `Model::observed_arena_bytes`, which build.rs writes
/// as a literal (it needs the planner, which is not `const`).
#[cfg(sumi_whole_map)]
pub const ARENA_BYTES: usize = include!(concat!(env!("OUT_DIR"), "/whole_arena_bytes.rs"));

#[repr(C, align(8))]
struct Arena([u8; ARENA_BYTES]);

static mut ARENA: Arena = Arena([0; ARENA_BYTES]);
static ARENA_TAKEN: AtomicBool = AtomicBool::new(false);

/// Hands out the static arena; `None` on any call after the first.
pub fn take_arena() -> Option<&'static mut [u8]> {
    // Load then store, not `swap`: Armv6-M has no atomic read-modify-write. The firmware is
    // single-threaded and enables no interrupts, so nothing can run between the two.
    if ARENA_TAKEN.load(Ordering::Acquire) {
        return None;
    }
    ARENA_TAKEN.store(true, Ordering::Release);
    // SAFETY: the flag above guarantees this unique mutable reference is created once.
    Some(unsafe { &mut (*core::ptr::addr_of_mut!(ARENA)).0 })
}

unsafe extern "C" {
    static _stack_start: u32;
    static _stack_end: u32;
}

/// Stack high-water mark in bytes, and the stack region size, from the start-up code's paint
/// ([`arch::STACK_PAINT`] between `_stack_end` and `_stack_start`, written before `main`).
pub fn stack_usage() -> (usize, usize) {
    let top = core::ptr::addr_of!(_stack_start) as usize;
    let bottom = core::ptr::addr_of!(_stack_end) as usize;
    let mut p = bottom;
    while p < top {
        // SAFETY: [bottom, top) is the stack region defined by the linker script; it is RAM,
        // word aligned (cortex-m-rt's link.x asserts it; sumi-riscv.x aligns it to 16) and
        // always readable.
        let word = unsafe { core::ptr::read_volatile(p as *const u32) };
        if word != arch::STACK_PAINT {
            break;
        }
        p += 4;
    }
    (top - p, top - bottom)
}
