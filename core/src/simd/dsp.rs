//! Cortex-M DSP fast paths (M4/M7/M33): `SXTB16` unpacks pairs of int8 to int16 and `SMLAD`
//! does two multiply-accumulates per instruction, as CMSIS-NN does. Stable Rust has no
//! intrinsics for them, hence inline assembly.
//!
//! Audit notes: the asm reads and writes registers only (`pure, nomem`).
#![allow(unsafe_code)]

use super::Tile;
use super::portable::dot_portable;

/// Four int8 lanes as one little-endian word (one unaligned `LDR`: the length is known).
#[inline(always)]
fn word(c: &[i8]) -> u32 {
    let b: [i8; 4] = [c[0], c[1], c[2], c[3]];
    u32::from_le_bytes(b.map(|v| v as u8))
}

/// `Σ a[i]·b[i]` over the common length of `a` and `b`.
#[inline(always)]
pub fn dot(a: &[i8], b: &[i8]) -> i32 {
    use core::arch::asm;
    let n = a.len().min(b.len());
    let mut acc = 0i32;
    let i = n & !3;
    for (ca, cb) in a[..i].chunks_exact(4).zip(b[..i].chunks_exact(4)) {
        let (x, y) = (word(ca), word(cb));
        // SAFETY: register-only DSP instructions (SXTB16, SMLAD), no memory access, no flags.
        unsafe {
            asm!(
                "sxtb16 {x02}, {x}",
                "sxtb16 {x13}, {x}, ror #8",
                "sxtb16 {y02}, {y}",
                "sxtb16 {y13}, {y}, ror #8",
                "smlad {acc}, {x02}, {y02}, {acc}",
                "smlad {acc}, {x13}, {y13}, {acc}",
                x = in(reg) x,
                y = in(reg) y,
                x02 = out(reg) _,
                x13 = out(reg) _,
                y02 = out(reg) _,
                y13 = out(reg) _,
                acc = inout(reg) acc,
                options(pure, nomem, nostack),
            );
        }
    }
    acc + dot_portable(&a[i..n], &b[i..n])
}

/// Four dot products sharing one weight vector: `[Σ p0·w, Σ p1·w, Σ p2·w, Σ p3·w]` over the
/// length of `w` (each `p` must be at least as long). Loading and widening `w` once for four
/// receptive fields is what makes convolution cheap.
#[inline(always)]
fn dot4(p: [&[i8]; 4], w: &[i8]) -> [i32; 4] {
    use core::arch::asm;
    let n = w
        .len()
        .min(p[0].len())
        .min(p[1].len())
        .min(p[2].len())
        .min(p[3].len());
    let mut acc = [0i32; 4];
    let i = n & !3;
    let chunks = w[..i]
        .chunks_exact(4)
        .zip(p[0][..i].chunks_exact(4))
        .zip(p[1][..i].chunks_exact(4))
        .zip(p[2][..i].chunks_exact(4))
        .zip(p[3][..i].chunks_exact(4));
    for ((((cw, c0), c1), c2), c3) in chunks {
        let y = word(cw);
        let (y02, y13): (u32, u32);
        // SAFETY: register-only DSP instruction, no memory access.
        unsafe {
            asm!("sxtb16 {a}, {y}", "sxtb16 {b}, {y}, ror #8", y = in(reg) y, a = out(reg) y02, b = out(reg) y13,
                 options(pure, nomem, nostack));
        }
        for (k, c) in [c0, c1, c2, c3].into_iter().enumerate() {
            let x = word(c);
            // SAFETY: register-only DSP instructions (SXTB16, SMLAD), no memory access.
            unsafe {
                asm!(
                    "sxtb16 {x02}, {x}",
                    "sxtb16 {x13}, {x}, ror #8",
                    "smlad {acc}, {x02}, {y02}, {acc}",
                    "smlad {acc}, {x13}, {y13}, {acc}",
                    x = in(reg) x,
                    y02 = in(reg) y02,
                    y13 = in(reg) y13,
                    x02 = out(reg) _,
                    x13 = out(reg) _,
                    acc = inout(reg) acc[k],
                    options(pure, nomem, nostack),
                );
            }
        }
    }
    let tail = |k: usize| acc[k] + dot_portable(&p[k][i..n], &w[i..n]);
    [tail(0), tail(1), tail(2), tail(3)]
}

/// The Cortex-M DSP micro-kernel (M4/M7/M33): SXTB16 + SMLAD.
#[derive(Clone, Copy, Debug)]
pub struct Dsp;

impl Tile for Dsp {
    const PAD: usize = 1;
    #[inline(always)]
    fn dot_4x2(self, p: [&[i8]; 4], w0: &[i8], w1: &[i8], kp: usize) -> [i32; 8] {
        let a = dot4(p, &w0[..kp]);
        let b = dot4(p, &w1[..kp]);
        [a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3]]
    }
}
