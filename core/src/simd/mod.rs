//! The int8 dot product, the one place where `unsafe` is allowed in this crate.
//!
//! Every kernel's inner loop is `Σ a[i]·b[i]` over int8 vectors. Exact integer arithmetic makes
//! the result independent of the order of summation, so these fast paths give bit-identical
//! results to the portable loop (tested below, and by host/firmware parity over MNIST):
//!
//! * **x86-64**: SSE2 (part of the x86-64 baseline, so always present): sign-extend 16 bytes to
//!   two vectors of i16 and `pmaddwd` them — 16 MACs in a handful of instructions.
//! * **Cortex-M4/M7/M33 (DSP extension)**: `SXTB16` unpacks pairs of int8 to int16 and `SMLAD`
//!   does two multiply-accumulates per instruction, as CMSIS-NN does. Stable Rust has no
//!   intrinsics for them, hence inline assembly.
//! * anything else (Cortex-M0+, …): the portable loop.
//!
//! Audit notes: the x86 loads are unaligned 16-byte loads at `i` with `i + 16 <= n`, where `n`
//! is the length of both slices; the ARM asm reads and writes registers only (`pure, nomem`).

// The fallbacks are dead code where a fast path replaces them (they stay the tested reference).
#[cfg_attr(
    any(target_arch = "x86_64", all(target_arch = "arm", sumi_dsp)),
    allow(dead_code)
)]
mod portable;
pub use portable::dot_portable;

#[cfg(target_arch = "x86_64")]
mod x86;
#[cfg(target_arch = "x86_64")]
pub use x86::{dot, dot4};

#[cfg(all(target_arch = "arm", sumi_dsp))]
mod dsp;
#[cfg(all(target_arch = "arm", sumi_dsp))]
pub use dsp::{dot, dot4};

#[cfg(not(any(target_arch = "x86_64", all(target_arch = "arm", sumi_dsp))))]
pub use portable::{dot, dot4};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_path_equals_portable_on_all_lengths_and_extremes() {
        let mut s = 1u32;
        for n in 0..300 {
            let mut a = [0i8; 300];
            let mut b = [0i8; 300];
            for i in 0..n {
                s = s.wrapping_mul(1664525).wrapping_add(1013904223);
                a[i] = (s >> 24) as i8;
                b[i] = (s >> 16) as i8;
            }
            assert_eq!(
                dot(&a[..n], &b[..n]),
                dot_portable(&a[..n], &b[..n]),
                "n={n}"
            );
            let lo = [-128i8; 300];
            assert_eq!(dot(&lo[..n], &lo[..n]), 16384 * n as i32);
            let hi = [127i8; 300];
            assert_eq!(dot(&lo[..n], &hi[..n]), -16256 * n as i32);
            let q = [&a[..n], &b[..n], &lo[..n], &hi[..n]];
            let want = q.map(|x| dot_portable(x, &b[..n]));
            assert_eq!(dot4(q, &b[..n]), want, "n={n}");
        }
    }
}
