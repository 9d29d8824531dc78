//! The portable kernels: plain Rust, used on cores without a fast path (Cortex-M0/M0+,
//! RISC-V, …), and [`dot_portable`], the reference every fast path is tested against.
//!
//! [`dot`], [`dot4`] and [`dot_4x2`] are shaped for a scalar core without SIMD (Cortex-M0,
//! RV32IMAC): one 32-bit multiply and one add per MAC are the floor, so what is left to win is
//! the overhead around them. [`dot4`] loads each weight once for its four patches (five loads
//! per four MACs instead of eight); [`dot_4x2`], the convolution driver's whole 4-pixel ×
//! 2-channel tile, also loads each patch byte once for both weight rows (six loads per eight
//! MACs). Both take two elements per iteration, which halves the pointer increments and
//! branches (loads with an immediate offset: RISC-V `lb rd, k(rs)`, Thumb `ldrb` + sign
//! extension or `ldrsb` with a register offset). Measured alternatives that lost: one index for
//! all vectors (Armv6-M `ldrsb rt, [rn, rm]`: it won with the old per-pixel driver, it spills
//! with the tiled one: r7 is the frame pointer, seven low registers are left) and four elements
//! per iteration (the tails of short kernels cost more than the saved branches).
//!
//! Integer addition is associative and no partial sum can overflow `i32` (|x·y| ≤ 2^14, so it
//! would take 2^17 terms), so the order of summation does not change the result: every kernel
//! here is bit-identical to [`dot_portable`] (tested below and in `simd::tests`).
//!
//! Not done, on purpose: packing two products into one 32-bit multiply (`p · (w0 + w1·2^16)`
//! is `p·w0 + p·w1·2^16`). One product needs 16 bits (−16,256 ..= 16,384) but a sum of two
//! already needs 17, so the low half has to be unpacked (bias, mask, subtract, shift) after
//! every one or two terms; on these cores that costs more instructions than the multiply it
//! saves.

/// Portable reference dot product.
#[inline(always)]
pub fn dot_portable(a: &[i8], b: &[i8]) -> i32 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (x as i16 * y as i16) as i32)
        .sum()
}

/// `x · y` widened to `i32` (exact: |x·y| ≤ 2^14).
#[inline(always)]
fn mul(x: i8, y: i8) -> i32 {
    i32::from(x) * i32::from(y)
}

/// `Σ a[i]·b[i]` over the common length of `a` and `b`. Both slices are cut to that length
/// first, so the indexing needs no bounds checks and the compiler may unroll freely.
#[inline(always)]
pub fn dot(a: &[i8], b: &[i8]) -> i32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = 0;
    for i in 0..n {
        acc += mul(a[i], b[i]);
    }
    acc
}

/// Four dot products sharing one weight vector: `[Σ p0·w, Σ p1·w, Σ p2·w, Σ p3·w]` over the
/// length of `w` (each `p` must be at least as long), two elements per iteration.
#[inline(always)]
pub fn dot4(p: [&[i8]; 4], w: &[i8]) -> [i32; 4] {
    let n = w.len();
    let [c0, c1, c2, c3] = p.map(|x| x[..n].chunks_exact(2));
    let cw = w.chunks_exact(2);
    let mut acc = [
        c0.remainder(),
        c1.remainder(),
        c2.remainder(),
        c3.remainder(),
    ]
    .map(|r| dot_portable(r, cw.remainder()));
    for ((((x0, x1), x2), x3), y) in c0.zip(c1).zip(c2).zip(c3).zip(cw) {
        let (y0, y1) = (y[0], y[1]);
        acc[0] += mul(x0[0], y0) + mul(x0[1], y1);
        acc[1] += mul(x1[0], y0) + mul(x1[1], y1);
        acc[2] += mul(x2[0], y0) + mul(x2[1], y1);
        acc[3] += mul(x3[0], y0) + mul(x3[1], y1);
    }
    acc
}

/// The 4 × 2 tile: `[Σ p_j·w0 for j in 0..4, Σ p_j·w1 for j in 0..4]` over the length of
/// `w0` (`w1` and every `p` at least as long), in one pass, two elements per iteration.
#[inline(always)]
pub fn dot_4x2(p: [&[i8]; 4], w0: &[i8], w1: &[i8]) -> [i32; 8] {
    let n = w0.len();
    let [c0, c1, c2, c3] = p.map(|x| x[..n].chunks_exact(2));
    let (cw0, cw1) = (w0.chunks_exact(2), w1[..n].chunks_exact(2));
    let mut acc = [0i32; 8];
    let tails = [
        c0.remainder(),
        c1.remainder(),
        c2.remainder(),
        c3.remainder(),
    ];
    for j in 0..4 {
        acc[j] = dot_portable(tails[j], cw0.remainder());
        acc[4 + j] = dot_portable(tails[j], cw1.remainder());
    }
    for (((((x0, x1), x2), x3), y0), y1) in c0.zip(c1).zip(c2).zip(c3).zip(cw0).zip(cw1) {
        let x = [x0, x1, x2, x3];
        for j in 0..4 {
            acc[j] += mul(x[j][0], y0[0]) + mul(x[j][1], y0[1]);
            acc[4 + j] += mul(x[j][0], y1[0]) + mul(x[j][1], y1[1]);
        }
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every portable kernel equals the reference on every length from 0 to 299, on random and
    /// on extreme vectors, and when the patches are longer than the weights.
    #[test]
    fn portable_kernels_equal_the_reference() {
        let mut s = 7u32;
        let mut next = || {
            s = s.wrapping_mul(1664525).wrapping_add(1013904223);
            (s >> 24) as i8
        };
        let rand: [[i8; 301]; 5] = core::array::from_fn(|_| core::array::from_fn(|_| next()));
        let (lo, hi) = ([-128i8; 301], [127i8; 301]);
        for n in 0..300 {
            let w = &rand[4][..n];
            assert_eq!(
                dot(&rand[0][..n], w),
                dot_portable(&rand[0][..n], w),
                "n={n}"
            );
            assert_eq!(dot(&lo[..n], &lo[..n]), 16384 * n as i32, "n={n}");
            assert_eq!(dot(&lo[..n], &hi[..n + 1]), -16256 * n as i32, "n={n}");
            for w in [w, &lo[..n], &hi[..n]] {
                // Patches one byte longer than the weights: only w.len() bytes count.
                let p = [
                    &rand[0][..n + 1],
                    &rand[1][..n + 1],
                    &lo[..n + 1],
                    &hi[..n + 1],
                ];
                let want = p.map(|x| dot_portable(&x[..n], w));
                assert_eq!(dot4(p, w), want, "n={n}");
                let w1 = &rand[3][..n + 1];
                let want1 = p.map(|x| dot_portable(&x[..n], &w1[..n]));
                let tile = [want, want1].concat();
                assert_eq!(dot_4x2(p, w, w1)[..], tile[..], "4x2 n={n}");
            }
        }
    }
}
