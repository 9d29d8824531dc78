//! The portable reference: plain Rust, used on cores without a fast path (Cortex-M0/M0+,
//! RISC-V, …) and as the reference every fast path is tested against.

/// Portable reference dot product.
#[inline(always)]
pub fn dot_portable(a: &[i8], b: &[i8]) -> i32 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (x as i16 * y as i16) as i32)
        .sum()
}

/// `Σ a[i]·b[i]` over the common length of `a` and `b`.
#[inline(always)]
pub fn dot(a: &[i8], b: &[i8]) -> i32 {
    dot_portable(a, b)
}

/// Four dot products sharing one weight vector: `[Σ p0·w, Σ p1·w, Σ p2·w, Σ p3·w]` over the
/// length of `w` (each `p` must be at least as long).
#[inline(always)]
pub fn dot4(p: [&[i8]; 4], w: &[i8]) -> [i32; 4] {
    [
        dot_portable(p[0], w),
        dot_portable(p[1], w),
        dot_portable(p[2], w),
        dot_portable(p[3], w),
    ]
}
