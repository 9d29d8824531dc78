//! Cortex-M DSP fast paths (M4/M7/M33): `SXTB16` unpacks pairs of int8 to int16 and `SMLAD`
//! does two multiply-accumulates per instruction, as CMSIS-NN does. Stable Rust has no
//! intrinsics for them, hence inline assembly.
//!
//! Audit notes: the asm reads and writes registers only (`pure, nomem`).
#![allow(unsafe_code)]

use super::portable::dot_portable;
use super::{Row4, Tile};
use core::arch::asm;

/// Four int8 lanes as one little-endian word (one unaligned `LDR`: the length is known).
#[inline(always)]
fn word(c: &[i8]) -> u32 {
    let b: [i8; 4] = [c[0], c[1], c[2], c[3]];
    u32::from_le_bytes(b.map(|v| v as u8))
}

/// `Σ a[i]·b[i]` over the common length of `a` and `b`.
#[inline(always)]
pub fn dot(a: &[i8], b: &[i8]) -> i32 {
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

/// `SXTB16` twice: the int8 lanes 0, 2 and 1, 3 of `x` as pairs of int16.
#[inline(always)]
fn unpack(x: u32) -> (u32, u32) {
    let (even, odd): (u32, u32);
    // SAFETY: register-only DSP instructions; `out` (not `lateout`) keeps `even` from sharing
    // `x`'s register, which the second instruction still reads.
    unsafe {
        asm!(
            "sxtb16 {e}, {x}",
            "sxtb16 {o}, {x}, ror #8",
            x = in(reg) x,
            e = out(reg) even,
            o = lateout(reg) odd,
            options(pure, nomem, nostack),
        );
    }
    (even, odd)
}

/// `acc + x·w` over four int8 lanes given as unpacked int16 pairs: two `SMLAD`s.
#[inline(always)]
fn mac4(acc: i32, x: (u32, u32), w: (u32, u32)) -> i32 {
    let mut acc = acc;
    // SAFETY: register-only DSP instructions (SMLAD), no memory access.
    unsafe {
        asm!(
            "smlad {a}, {xe}, {we}, {a}",
            "smlad {a}, {xo}, {wo}, {a}",
            a = inout(reg) acc,
            xe = in(reg) x.0,
            xo = in(reg) x.1,
            we = in(reg) w.0,
            wo = in(reg) w.1,
            options(pure, nomem, nostack),
        );
    }
    acc
}

/// CMSIS-NN-style 2×2 block: two patches × two weight rows over the first `n` bytes (`n` a
/// multiple of 4), added to `acc = [x0·w0, x1·w0, x0·w1, x1·w1]`. Each weight word is loaded and unpacked once
/// for two pixels, each patch word once for two channels: 4 loads, 8 `SXTB16` and 8 `SMLAD`
/// per 16 multiply-accumulates.
#[inline(always)]
fn block_2x2(mut acc: [i32; 4], x0: &[i8], x1: &[i8], w0: &[i8], w1: &[i8], n: usize) -> [i32; 4] {
    let chunks = x0[..n]
        .chunks_exact(4)
        .zip(x1[..n].chunks_exact(4))
        .zip(w0[..n].chunks_exact(4))
        .zip(w1[..n].chunks_exact(4));
    for (((a, b), u), v) in chunks {
        let (u, v) = (unpack(word(u)), unpack(word(v)));
        let a = unpack(word(a));
        acc[0] = mac4(acc[0], a, u);
        acc[2] = mac4(acc[2], a, v);
        let b = unpack(word(b));
        acc[1] = mac4(acc[1], b, u);
        acc[3] = mac4(acc[3], b, v);
    }
    acc
}

/// The Cortex-M DSP micro-kernel (M4/M7/M33): two CMSIS-NN-style 2×2 blocks (pixels 0–1 and
/// 2–3 × both channels) of `SXTB16` + `SMLAD`, and a scalar tail for `k % 4` bytes.
#[derive(Clone, Copy, Debug)]
pub struct Dsp;

impl Tile for Dsp {
    const PAD: usize = 1;
    /// Both blocks keep their accumulators across the `rows` segments.
    #[inline(always)]
    fn dot_4x2_rows(
        self,
        p: [&[i8]; 4],
        w0: &[i8],
        w1: &[i8],
        seg: usize,
        rows: usize,
        stride: usize,
    ) -> [i32; 8] {
        let n = seg & !3;
        let (mut a, mut b) = ([0i32; 4], [0i32; 4]);
        let mut tail = [0i32; 8];
        for r in 0..rows {
            let (at, wt) = (r * stride, r * seg);
            let (u, v) = (&w0[wt..wt + seg], &w1[wt..wt + seg]);
            let x = [
                &p[0][at..at + seg],
                &p[1][at..at + seg],
                &p[2][at..at + seg],
                &p[3][at..at + seg],
            ];
            a = block_2x2(a, x[0], x[1], u, v, n);
            b = block_2x2(b, x[2], x[3], u, v, n);
            if n < seg {
                for (j, x) in x.iter().enumerate() {
                    tail[j] += dot_portable(&x[n..], &u[n..]);
                    tail[4 + j] += dot_portable(&x[n..], &v[n..]);
                }
            }
        }
        let out = [a[0], a[1], b[0], b[1], a[2], a[3], b[2], b[3]];
        core::array::from_fn(|j| out[j] + tail[j])
    }
}

/// The DSP [`Row4`]: the weights unpacked once (`SXTB16`), then per row one `SXTB16` pair and
/// two `SMLAD`s.
impl Row4 for Dsp {
    type W = (u32, u32);
    #[inline(always)]
    fn prepare(self, w: [i8; 4]) -> (u32, u32) {
        unpack(word(&w))
    }
    /// The four bytes are one (unaligned) `LDR`.
    #[inline(always)]
    fn mac_row4(self, acc: i32, x: [i8; 4], w: (u32, u32)) -> i32 {
        mac4(acc, unpack(word(&x)), w)
    }
}
