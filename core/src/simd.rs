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
#![allow(unsafe_code)]

/// Portable reference dot product.
#[inline(always)]
pub fn dot_portable(a: &[i8], b: &[i8]) -> i32 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (x as i16 * y as i16) as i32)
        .sum()
}

/// `Σ a[i]·b[i]` over the common length of `a` and `b`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub fn dot(a: &[i8], b: &[i8]) -> i32 {
    use core::arch::x86_64::*;
    let n = a.len().min(b.len());
    let mut i = 0;
    let mut lanes = [0i32; 4];
    // SAFETY: SSE2 is always available on x86_64; both loads read 16 bytes starting at `i`, and
    // the loop condition keeps `i + 16 <= n <= len` for both slices. The store writes exactly
    // the 16 bytes of `lanes`.
    unsafe {
        let mut acc = _mm_setzero_si128();
        while i + 16 <= n {
            let x = _mm_loadu_si128(a.as_ptr().add(i) as *const __m128i);
            let y = _mm_loadu_si128(b.as_ptr().add(i) as *const __m128i);
            let xl = _mm_srai_epi16(_mm_unpacklo_epi8(x, x), 8);
            let xh = _mm_srai_epi16(_mm_unpackhi_epi8(x, x), 8);
            let yl = _mm_srai_epi16(_mm_unpacklo_epi8(y, y), 8);
            let yh = _mm_srai_epi16(_mm_unpackhi_epi8(y, y), 8);
            acc = _mm_add_epi32(acc, _mm_madd_epi16(xl, yl));
            acc = _mm_add_epi32(acc, _mm_madd_epi16(xh, yh));
            i += 16;
        }
        _mm_storeu_si128(lanes.as_mut_ptr() as *mut __m128i, acc);
    }
    lanes.iter().sum::<i32>() + dot_portable(&a[i..n], &b[i..n])
}

/// Four int8 lanes as one little-endian word (one unaligned `LDR`: the length is known).
#[cfg(all(target_arch = "arm", sumi_dsp))]
#[inline(always)]
fn word(c: &[i8]) -> u32 {
    let b: [i8; 4] = [c[0], c[1], c[2], c[3]];
    u32::from_le_bytes(b.map(|v| v as u8))
}

/// `Σ a[i]·b[i]` over the common length of `a` and `b`.
#[cfg(all(target_arch = "arm", sumi_dsp))]
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

/// `Σ a[i]·b[i]` over the common length of `a` and `b`.
#[cfg(not(any(target_arch = "x86_64", all(target_arch = "arm", sumi_dsp))))]
#[inline(always)]
pub fn dot(a: &[i8], b: &[i8]) -> i32 {
    dot_portable(a, b)
}

/// Four dot products sharing one weight vector: `[Σ p0·w, Σ p1·w, Σ p2·w, Σ p3·w]` over the
/// length of `w` (each `p` must be at least as long). Loading and widening `w` once for four
/// receptive fields is what makes convolution cheap.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub fn dot4(p: [&[i8]; 4], w: &[i8]) -> [i32; 4] {
    use core::arch::x86_64::*;
    let n = w
        .len()
        .min(p[0].len())
        .min(p[1].len())
        .min(p[2].len())
        .min(p[3].len());
    let mut i = 0;
    let mut lanes = [[0i32; 4]; 4];
    // SAFETY: SSE2 is always available on x86_64; every load reads 16 bytes at `i` with
    // `i + 16 <= n`, and `n` is at most the length of each slice. Stores write 16 bytes into
    // each `[i32; 4]` of `lanes`.
    unsafe {
        let mut acc = [_mm_setzero_si128(); 4];
        while i + 16 <= n {
            let y = _mm_loadu_si128(w.as_ptr().add(i) as *const __m128i);
            let yl = _mm_srai_epi16(_mm_unpacklo_epi8(y, y), 8);
            let yh = _mm_srai_epi16(_mm_unpackhi_epi8(y, y), 8);
            for k in 0..4 {
                let x = _mm_loadu_si128(p[k].as_ptr().add(i) as *const __m128i);
                let xl = _mm_srai_epi16(_mm_unpacklo_epi8(x, x), 8);
                let xh = _mm_srai_epi16(_mm_unpackhi_epi8(x, x), 8);
                acc[k] = _mm_add_epi32(acc[k], _mm_madd_epi16(xl, yl));
                acc[k] = _mm_add_epi32(acc[k], _mm_madd_epi16(xh, yh));
            }
            i += 16;
        }
        for k in 0..4 {
            _mm_storeu_si128(lanes[k].as_mut_ptr() as *mut __m128i, acc[k]);
        }
    }
    let tail = |k: usize| lanes[k].iter().sum::<i32>() + dot_portable(&p[k][i..n], &w[i..n]);
    [tail(0), tail(1), tail(2), tail(3)]
}

/// Four dot products sharing one weight vector: `[Σ p0·w, Σ p1·w, Σ p2·w, Σ p3·w]` over the
/// length of `w` (each `p` must be at least as long). Loading and widening `w` once for four
/// receptive fields is what makes convolution cheap.
#[cfg(all(target_arch = "arm", sumi_dsp))]
#[inline(always)]
pub fn dot4(p: [&[i8]; 4], w: &[i8]) -> [i32; 4] {
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

/// Four dot products sharing one weight vector: `[Σ p0·w, Σ p1·w, Σ p2·w, Σ p3·w]` over the
/// length of `w` (each `p` must be at least as long).
#[cfg(not(any(target_arch = "x86_64", all(target_arch = "arm", sumi_dsp))))]
#[inline(always)]
pub fn dot4(p: [&[i8]; 4], w: &[i8]) -> [i32; 4] {
    [
        dot_portable(p[0], w),
        dot_portable(p[1], w),
        dot_portable(p[2], w),
        dot_portable(p[3], w),
    ]
}

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
