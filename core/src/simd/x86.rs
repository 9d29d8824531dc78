//! x86-64 fast paths: SSE2 (part of the x86-64 baseline, so always present).
//!
//! Audit notes: every load is an unaligned 16-byte load at `i` with `i + 16 <= n`, where `n` is
//! at most the length of each slice read, or (the last bytes of a segment) a load of exactly
//! 4, 8 or 12 bytes at `i` with `i + n` at most that length ([`load_tail`]).
#![allow(unsafe_code)]

use super::Tile;
use super::portable::dot_portable;
use crate::quant::Requant4x2;
use core::arch::x86_64::*;

/// Winograd F(2, 3)'s input step along one axis of a tile, `Bᵀ a` =
/// `[a0 − a2, a1 + a2, a2 − a1, a1 − a3]`, with 16-bit `$add` and `$sub` (the per-call
/// F(2×2, 3×3) kernels below; prepared weights take `winograd4.rs`).
macro_rules! winograd_bt {
    ($add:ident, $sub:ident, $a:expr) => {{
        let [a0, a1, a2, a3] = $a;
        [$sub(a0, a2), $add(a1, a2), $sub(a2, a1), $sub(a1, a3)]
    }};
}

/// The input transform's second step for `$count` tiles side by side: tile `k`'s rows of
/// `Bᵀ d` are columns `2k .. 2k + 4` of `$t` (`$t[column][row]`); each row's `· B` goes to
/// position `4i + j` of the tile in `$u` (positions `$stride` apart, tiles `16 · $stride`),
/// stored by the block `$store` given `$at`, the slice from that position, and the vector `$r`
/// (expanded in place: a closure would not inherit the caller's target features).
macro_rules! winograd_b_rows {
    ($add:ident, $sub:ident, $t:expr, $count:expr, ($u:expr, $stride:expr),
     |$at:ident, $r:ident| $store:block) => {
        for k in 0..$count {
            let tile = &mut $u[k * 16 * $stride..(k + 1) * 16 * $stride];
            for i in 0..4 {
                let a = [
                    $t[2 * k][i],
                    $t[2 * k + 1][i],
                    $t[2 * k + 2][i],
                    $t[2 * k + 3][i],
                ];
                for (j, $r) in winograd_bt!($add, $sub, a).into_iter().enumerate() {
                    let $at = &mut tile[(4 * i + j) * $stride..];
                    $store
                }
            }
        }
    };
}

/// Winograd F(2, 3)'s output step along one axis, `Aᵀ m` = `[m0 + m1 + m2, m1 − m2 − m3]`,
/// with the ISA's 32-bit `$add` and `$sub` (as [`winograd_bt`]).
macro_rules! winograd_at {
    ($add:ident, $sub:ident, $m:expr) => {{
        let [m0, m1, m2, m3] = $m;
        [$add($add(m0, m1), m2), $sub($sub(m1, m2), m3)]
    }};
}

/// Sign-extends 16 int8 lanes to two vectors of 8 int16 with a `pcmpgtb` mask. (The textbook
/// `srai(unpack(x, x), 8)` lets LLVM feed the unpack a stale register, which chained four
/// independent dot products into one serial dependency.)
#[inline(always)]
fn widen(x: __m128i) -> (__m128i, __m128i) {
    // SAFETY: SSE2 is part of the x86-64 baseline; register-only operations.
    unsafe {
        let sign = _mm_cmpgt_epi8(_mm_setzero_si128(), x);
        (_mm_unpacklo_epi8(x, sign), _mm_unpackhi_epi8(x, sign))
    }
}

/// The `n` bytes (4, 8 or 12) at `ptr` in the low lanes of a vector, zeros above: the last
/// bytes of a segment that is a multiple of [`super::SEG_ALIGN`], read without going past it.
///
/// # Safety
/// `n` bytes at `ptr` must be readable.
#[inline(always)]
unsafe fn load_tail(ptr: *const i8, n: usize) -> __m128i {
    // SAFETY: each read stays within the `n` bytes the caller guarantees (a 4-byte read at 0 or
    // 8, an 8-byte read at 0); SSE2 is part of the x86-64 baseline.
    unsafe {
        let word =
            |at: usize| _mm_cvtsi32_si128(core::ptr::read_unaligned(ptr.add(at) as *const i32));
        match n {
            4 => word(0),
            8 => _mm_loadl_epi64(ptr as *const __m128i),
            _ => _mm_unpacklo_epi64(_mm_loadl_epi64(ptr as *const __m128i), word(8)),
        }
    }
}

/// `Σ a[i]·b[i]` over the common length of `a` and `b`: AVX2 where the CPU has it (and it is
/// allowed), else the SSE2 baseline; the same integer sum either way.
#[inline(always)]
pub fn dot(a: &[i8], b: &[i8]) -> i32 {
    match Avx2::detect() {
        // SAFETY: the token proves AVX2 is available.
        Some(_) => unsafe { dot_avx2(a, b) },
        None => dot_sse2(a, b),
    }
}

/// [`dot`] on AVX2: sixteen products per `vpmaddwd`, two accumulators.
#[target_feature(enable = "avx2")]
fn dot_avx2(a: &[i8], b: &[i8]) -> i32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [_mm256_setzero_si256(); 2];
    let mut i = 0;
    while i + 32 <= n {
        for (k, acc) in acc.iter_mut().enumerate() {
            let (x, y) = (
                &a[i + 16 * k..i + 16 * k + 16],
                &b[i + 16 * k..i + 16 * k + 16],
            );
            // SAFETY: 16-byte loads inside `x` and `y` (the slices above are bounds-checked).
            let (x, y) = unsafe {
                (
                    _mm_loadu_si128(x.as_ptr() as *const __m128i),
                    _mm_loadu_si128(y.as_ptr() as *const __m128i),
                )
            };
            let p = _mm256_madd_epi16(_mm256_cvtepi8_epi16(x), _mm256_cvtepi8_epi16(y));
            *acc = _mm256_add_epi32(*acc, p);
        }
        i += 32;
    }
    let sum = _mm256_add_epi32(acc[0], acc[1]);
    let mut lanes = [0i32; 8];
    // SAFETY: a 32-byte store into `[i32; 8]`.
    unsafe { _mm256_storeu_si256(lanes.as_mut_ptr() as *mut __m256i, sum) };
    lanes.iter().sum::<i32>() + dot_sse2(&a[i..], &b[i..])
}

/// [`dot`] on the SSE2 baseline.
#[inline(always)]
fn dot_sse2(a: &[i8], b: &[i8]) -> i32 {
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
            let (xl, xh) = widen(x);
            let (yl, yh) = widen(y);
            acc = _mm_add_epi32(acc, _mm_madd_epi16(xl, yl));
            acc = _mm_add_epi32(acc, _mm_madd_epi16(xh, yh));
            i += 16;
        }
        _mm_storeu_si128(lanes.as_mut_ptr() as *mut __m128i, acc);
    }
    lanes.iter().sum::<i32>() + dot_portable(&a[i..n], &b[i..n])
}

/// The SSE2 micro-kernel (the x86-64 baseline: every x86-64 CPU has it).
#[derive(Clone, Copy, Debug)]
pub struct Sse2;

/// `[Σ a0, Σ a1, Σ a2, Σ a3]`: the lane sums of four vectors, by two transposing rounds.
#[inline(always)]
fn hsum4(a: [__m128i; 4]) -> __m128i {
    // SAFETY: SSE2 is part of the x86-64 baseline; register-only operations.
    unsafe {
        let s01 = _mm_add_epi32(
            _mm_unpacklo_epi32(a[0], a[1]),
            _mm_unpackhi_epi32(a[0], a[1]),
        );
        let s23 = _mm_add_epi32(
            _mm_unpacklo_epi32(a[2], a[3]),
            _mm_unpackhi_epi32(a[2], a[3]),
        );
        _mm_add_epi32(_mm_unpacklo_epi64(s01, s23), _mm_unpackhi_epi64(s01, s23))
    }
}

impl Tile for Sse2 {
    const PAD: usize = 16;

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
        super::assert_rows(&p, w0, w1, seg, rows, stride);
        let mut out = [0i32; 8];
        // SAFETY: SSE2 is part of the x86-64 baseline; every 16-byte load is at `r·seg + i`
        // (weights) or `r·stride + i` (patches) with `i + 16 <= seg` and `r < rows`, each tail
        // load reads the `seg % 16` bytes after `r·seg + full` (`r·stride + full`), and the
        // assertions above bound each slice by those. The stores write the 32 bytes of `out`.
        unsafe {
            let mut a = [_mm_setzero_si128(); 4];
            let mut b = [_mm_setzero_si128(); 4];
            let (full, n) = (seg - seg % 16, seg % 16);
            for r in 0..rows {
                let (pw, pp) = (r * seg, r * stride);
                let mut i = 0;
                while i < full {
                    let (al, ah) =
                        widen(_mm_loadu_si128(w0.as_ptr().add(pw + i) as *const __m128i));
                    let (bl, bh) =
                        widen(_mm_loadu_si128(w1.as_ptr().add(pw + i) as *const __m128i));
                    for j in 0..4 {
                        let (xl, xh) =
                            widen(_mm_loadu_si128(p[j].as_ptr().add(pp + i) as *const __m128i));
                        let xa = _mm_add_epi32(_mm_madd_epi16(xl, al), _mm_madd_epi16(xh, ah));
                        let xb = _mm_add_epi32(_mm_madd_epi16(xl, bl), _mm_madd_epi16(xh, bh));
                        a[j] = _mm_add_epi32(a[j], xa);
                        b[j] = _mm_add_epi32(b[j], xb);
                    }
                    i += 16;
                }
                if n > 0 {
                    // The segment's last 4, 8 or 12 bytes, zeros above.
                    let (al, ah) = widen(load_tail(w0.as_ptr().add(pw + full), n));
                    let (bl, bh) = widen(load_tail(w1.as_ptr().add(pw + full), n));
                    for j in 0..4 {
                        let (xl, xh) = widen(load_tail(p[j].as_ptr().add(pp + full), n));
                        let xa = _mm_add_epi32(_mm_madd_epi16(xl, al), _mm_madd_epi16(xh, ah));
                        let xb = _mm_add_epi32(_mm_madd_epi16(xl, bl), _mm_madd_epi16(xh, bh));
                        a[j] = _mm_add_epi32(a[j], xa);
                        b[j] = _mm_add_epi32(b[j], xb);
                    }
                }
            }
            _mm_storeu_si128(out.as_mut_ptr() as *mut __m128i, hsum4(a));
            _mm_storeu_si128(out.as_mut_ptr().add(4) as *mut __m128i, hsum4(b));
        }
        out
    }

    #[inline(always)]
    fn requant_4x2(self, acc: [i32; 8], q: &Requant4x2) -> [i32; 8] {
        let mut out = [0i32; 8];
        for c in 0..2 {
            // SAFETY: SSE2 is part of the x86-64 baseline; 16-byte loads/stores of four i32 at
            // offsets 0 and 4 of the eight-element arrays.
            unsafe {
                let x = _mm_loadu_si128(acc.as_ptr().add(4 * c) as *const __m128i);
                let r = requant4_sse2(x, q, c);
                _mm_storeu_si128(out.as_mut_ptr().add(4 * c) as *mut __m128i, r);
            }
        }
        out
    }
}

/// [`Requant4x2::apply`] for the four lanes of channel `c` (one multiplier and one shift, so
/// SSE2's uniform shifts suffice). SSE2 has no signed 32×32→64 multiply: the unsigned one is
/// corrected by subtracting `m · 2^32` where `x` is negative (the multiplier is never negative).
#[inline(always)]
fn requant4_sse2(x: __m128i, q: &Requant4x2, c: usize) -> __m128i {
    // SAFETY: SSE2 is part of the x86-64 baseline; register-only operations.
    unsafe {
        let x = _mm_add_epi32(x, _mm_set1_epi32(q.bias[c]));
        let m = _mm_set1_epi32(q.multiplier[c]);
        let nudge = _mm_set1_epi64x(1 << 30);
        // Signed 64-bit products of lanes 0 and 2 (of `v`) with the multiplier.
        let mul = |v: __m128i| {
            let neg = _mm_and_si128(_mm_srai_epi32(v, 31), m);
            let p = _mm_sub_epi64(_mm_mul_epu32(v, m), _mm_slli_epi64(neg, 32));
            _mm_srli_epi64(_mm_add_epi64(p, nudge), 31)
        };
        let even = mul(x);
        let odd = mul(_mm_srli_epi64(x, 32));
        // Low dwords of `even` to lanes 0, 2; of `odd` to lanes 1, 3.
        let high = _mm_or_si128(
            _mm_and_si128(even, _mm_set_epi32(0, -1, 0, -1)),
            _mm_slli_epi64(odd, 32),
        );
        let e = _mm_cvtsi32_si128(q.right_shift[c]);
        let mask = _mm_set1_epi32(((1i64 << q.right_shift[c]) - 1) as i32);
        let remainder = _mm_and_si128(high, mask);
        let negative = _mm_cmpgt_epi32(_mm_setzero_si128(), high);
        let threshold = _mm_sub_epi32(_mm_srli_epi32(mask, 1), negative);
        let rounded = _mm_sub_epi32(
            _mm_sra_epi32(high, e),
            _mm_cmpgt_epi32(remainder, threshold),
        );
        // SSE2 has no 32-bit min/max: clamp with compares and selects.
        let lo = _mm_set1_epi32(q.lo);
        let hi = _mm_set1_epi32(q.hi);
        let below = _mm_cmpgt_epi32(lo, rounded);
        let r = _mm_or_si128(_mm_and_si128(below, lo), _mm_andnot_si128(below, rounded));
        let above = _mm_cmpgt_epi32(r, hi);
        let r = _mm_or_si128(_mm_and_si128(above, hi), _mm_andnot_si128(above, r));
        _mm_add_epi32(r, _mm_set1_epi32(q.zero_point))
    }
}

cpufeatures::new!(cpuid_avx2, "avx2");

/// Proof that the CPU (and the OS, which must save the YMM registers) supports AVX2: the AVX2
/// kernels are methods of this token, so safe code can call them only after detection.
/// Detection runs CPUID/XGETBV once (through the `cpufeatures` crate) and is cached.
#[derive(Clone, Copy, Debug)]
pub struct Avx2(());

/// Whether the AVX2 kernels may be used when the CPU has them (see [`set_avx2_allowed`]).
static AVX2_ALLOWED: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(true);

/// Allow (the default) or forbid the AVX2 kernels in this process, e.g. to benchmark or test the
/// SSE2 baseline on an AVX2 machine. Results are bit-identical either way; only speed changes.
pub fn set_avx2_allowed(allowed: bool) {
    AVX2_ALLOWED.store(allowed, core::sync::atomic::Ordering::Relaxed);
}

impl Avx2 {
    /// The token, if this CPU runs AVX2 (and [`set_avx2_allowed`] has not forbidden it).
    #[inline]
    pub fn detect() -> Option<Avx2> {
        (AVX2_ALLOWED.load(core::sync::atomic::Ordering::Relaxed) && cpuid_avx2::get())
            .then_some(Avx2(()))
    }

    /// Runs `f` inside a function compiled with AVX2 enabled, so that a kernel driver marked
    /// `#[inline(always)]` and the AVX2 micro-kernels it calls inline into one AVX2 loop nest
    /// (a `#[target_feature]` function cannot inline into a caller without the feature).
    #[inline(always)]
    pub fn vectorize<R>(self, f: impl FnOnce() -> R) -> R {
        #[target_feature(enable = "avx2")]
        unsafe fn run<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        // SAFETY: the token proves the CPU runs AVX2.
        unsafe { run(f) }
    }
}

impl Tile for Avx2 {
    const PAD: usize = 16;

    /// The 256-bit `vpmaddwd` tile (callers zero-pad gathered patches, so padding contributes
    /// nothing).
    #[inline]
    fn dot_4x2_rows(
        self,
        p: [&[i8]; 4],
        w0: &[i8],
        w1: &[i8],
        seg: usize,
        rows: usize,
        stride: usize,
    ) -> [i32; 8] {
        super::assert_rows(&p, w0, w1, seg, rows, stride);
        // SAFETY: the token proves AVX2 is available; the assertions above bound every load.
        // Two loop nests: the tail code in the loop of whole 16-byte segments cost 4 % there.
        unsafe {
            if seg.is_multiple_of(16) {
                dot_4x2_avx2::<false>(p, w0, w1, seg, rows, stride)
            } else {
                dot_4x2_avx2::<true>(p, w0, w1, seg, rows, stride)
            }
        }
    }

    /// gemmlowp requantization of a tile's accumulators (bias added here), plus zero point and
    /// clamp, eight lanes at once; bit-identical to [`crate::quant::requantize`] followed by the
    /// kernels' clamp for every right shift `0..=31`.
    #[inline]
    fn requant_4x2(self, acc: [i32; 8], q: &Requant4x2) -> [i32; 8] {
        debug_assert!(q.right_shift.iter().all(|s| (0..=31).contains(s)));
        // SAFETY: the token proves AVX2 is available; the function touches only registers and
        // the two local arrays.
        unsafe { requant_4x2_avx2(acc, q) }
    }

    /// The pool's maxima in vector lanes (two shuffles and two `vpmaxsd`), then the same
    /// eight-lane requantization; lanes 0 and 4 hold the two channels.
    #[inline]
    fn requant_max_4x2(self, acc: [i32; 8], q: &Requant4x2) -> [i32; 2] {
        debug_assert!(q.right_shift.iter().all(|s| (0..=31).contains(s)));
        // SAFETY: as `requant_4x2`.
        unsafe { requant_max_4x2_avx2(acc, q) }
    }
}

/// The AVX2 tile; `TAIL`: segments end with 4, 8 or 12 bytes past their whole 16-byte steps.
#[target_feature(enable = "avx2")]
unsafe fn dot_4x2_avx2<const TAIL: bool>(
    p: [&[i8]; 4],
    w0: &[i8],
    w1: &[i8],
    seg: usize,
    rows: usize,
    stride: usize,
) -> [i32; 8] {
    let mut a = [_mm256_setzero_si256(); 4];
    let mut b = [_mm256_setzero_si256(); 4];
    // SAFETY (whole body): every 16-byte load is at `r·seg + i` (weights) or `r·stride + i`
    // (patches) with `i + 16 <= seg` and `r < rows`, each tail load reads the `seg % 16` bytes
    // after `r·seg + full` (`r·stride + full`), and the caller checked the slice lengths.
    unsafe {
        // Without a tail, `seg` is a whole number of steps.
        let (full, n) = if TAIL {
            (seg - seg % 16, seg % 16)
        } else {
            (seg, 0)
        };
        for r in 0..rows {
            let (pw, pp) = (r * seg, r * stride);
            let mut i = 0;
            while i < full {
                let x0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(
                    w0.as_ptr().add(pw + i) as *const __m128i
                ));
                let x1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(
                    w1.as_ptr().add(pw + i) as *const __m128i
                ));
                for j in 0..4 {
                    let x = _mm256_cvtepi8_epi16(_mm_loadu_si128(
                        p[j].as_ptr().add(pp + i) as *const __m128i
                    ));
                    a[j] = _mm256_add_epi32(a[j], _mm256_madd_epi16(x, x0));
                    b[j] = _mm256_add_epi32(b[j], _mm256_madd_epi16(x, x1));
                }
                i += 16;
            }
            if TAIL {
                // The segment's last 4, 8 or 12 bytes, zeros above.
                let x0 = _mm256_cvtepi8_epi16(load_tail(w0.as_ptr().add(pw + full), n));
                let x1 = _mm256_cvtepi8_epi16(load_tail(w1.as_ptr().add(pw + full), n));
                for j in 0..4 {
                    let x = _mm256_cvtepi8_epi16(load_tail(p[j].as_ptr().add(pp + full), n));
                    a[j] = _mm256_add_epi32(a[j], _mm256_madd_epi16(x, x0));
                    b[j] = _mm256_add_epi32(b[j], _mm256_madd_epi16(x, x1));
                }
            }
        }
        // Horizontal sums of the eight accumulators into one vector [a0..a3, b0..b3].
        let t1 = _mm256_hadd_epi32(_mm256_hadd_epi32(a[0], a[1]), _mm256_hadd_epi32(a[2], a[3]));
        let t2 = _mm256_hadd_epi32(_mm256_hadd_epi32(b[0], b[1]), _mm256_hadd_epi32(b[2], b[3]));
        let r = _mm256_add_epi32(
            _mm256_permute2x128_si256(t1, t2, 0x20),
            _mm256_permute2x128_si256(t1, t2, 0x31),
        );
        let mut out = [0i32; 8];
        _mm256_storeu_si256(out.as_mut_ptr() as *mut __m256i, r);
        out
    }
}

#[target_feature(enable = "avx2")]
unsafe fn requant_max_4x2_avx2(acc: [i32; 8], q: &Requant4x2) -> [i32; 2] {
    // SAFETY: unaligned 32-byte load from a local `[i32; 8]` array.
    let x = unsafe { _mm256_loadu_si256(acc.as_ptr() as *const __m256i) };
    // Every lane of each 128-bit half becomes the half's maximum.
    let m = _mm256_max_epi32(x, _mm256_shuffle_epi32(x, 0b10_11_00_01));
    let m = _mm256_max_epi32(m, _mm256_shuffle_epi32(m, 0b01_00_11_10));
    let r = requant_pairs(m, q);
    [_mm256_extract_epi32(r, 0), _mm256_extract_epi32(r, 4)]
}

#[target_feature(enable = "avx2")]
unsafe fn requant_4x2_avx2(acc: [i32; 8], q: &Requant4x2) -> [i32; 8] {
    // SAFETY: unaligned 32-byte load from / store to local `[i32; 8]` arrays.
    let x = unsafe { _mm256_loadu_si256(acc.as_ptr() as *const __m256i) };
    let r = requant_pairs(x, q);
    let mut out = [0i32; 8];
    // SAFETY: see above.
    unsafe { _mm256_storeu_si256(out.as_mut_ptr() as *mut __m256i, r) };
    out
}

/// [`requant8`] of a tile's lanes: channel 0 in lanes 0–3, channel 1 in lanes 4–7.
#[target_feature(enable = "avx2")]
fn requant_pairs(x: __m256i, q: &Requant4x2) -> __m256i {
    let pair = |v: [i32; 2]| _mm256_setr_epi32(v[0], v[0], v[0], v[0], v[1], v[1], v[1], v[1]);
    requant8(
        _mm256_add_epi32(x, pair(q.bias)),
        pair(q.multiplier),
        pair(q.right_shift),
        q.lo,
        q.hi,
        q.zero_point,
    )
}

/// gemmlowp requantization of eight lanes with per-lane multiplier `m` (never negative) and
/// right shift `e` (`0..=31`), then clamp to `[lo, hi]` and add the zero point.
#[target_feature(enable = "avx2")]
pub(super) fn requant8(x: __m256i, m: __m256i, e: __m256i, lo: i32, hi: i32, zp: i32) -> __m256i {
    if lo >= 0 {
        // The clamp's lower bound is at least 0 (a ReLU layer): a negative sum's result (at
        // most 0: `y(0) = 0`, `y` is monotonic) clamps to it as 0's does, so the sum is taken
        // as `max(x, 0)`, and for `x ≥ 0` the floors need no sign correction: unsigned
        // products, `h = ⌊(x·m + 2^30) / 2^31⌋`, then `⌊(h + 2^(e−1)) / 2^e⌋` with a logical
        // per-lane shift (`h + 2^(e−1) < 2^32`).
        let x = _mm256_max_epi32(x, _mm256_setzero_si256());
        let nudge = _mm256_set1_epi64x(1 << 30);
        let even = _mm256_srli_epi64(_mm256_add_epi64(_mm256_mul_epu32(x, m), nudge), 31);
        let odd = _mm256_mul_epu32(_mm256_srli_epi64(x, 32), _mm256_srli_epi64(m, 32));
        let odd = _mm256_srli_epi64(_mm256_add_epi64(odd, nudge), 31);
        let high = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0b1010_1010);
        let half = _mm256_srli_epi32(_mm256_sllv_epi32(_mm256_set1_epi32(1), e), 1);
        let rounded = _mm256_srlv_epi32(_mm256_add_epi32(high, half), e);
        let clamped = _mm256_min_epi32(
            _mm256_max_epi32(rounded, _mm256_set1_epi32(lo)),
            _mm256_set1_epi32(hi),
        );
        return _mm256_add_epi32(clamped, _mm256_set1_epi32(zp));
    }
    // SaturatingRoundingDoublingHighMul with a non-negative multiplier never saturates and
    // equals floor((x·m + 2^30) / 2^31) (gemmlowp's nudge and truncation, combined): 64-bit
    // products of the even and odd lanes, a logical shift keeps the low 32 bits of the floor.
    // The odd lanes are moved onto the even ones with a shuffle: after a 64-bit shift LLVM
    // no longer sees a `vpmuldq` and emulated a 64-bit signed multiply (three `vpmuludq`).
    let nudge = _mm256_set1_epi64x(1 << 30);
    let even = _mm256_srli_epi64(_mm256_add_epi64(_mm256_mul_epi32(x, m), nudge), 31);
    let odd = _mm256_srli_epi64(
        _mm256_add_epi64(
            _mm256_mul_epi32(
                _mm256_shuffle_epi32(x, 0b11_11_01_01),
                _mm256_shuffle_epi32(m, 0b11_11_01_01),
            ),
            nudge,
        ),
        31,
    );
    let high = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0b1010_1010);
    // RoundingDivideByPOT: (x >> e) + (remainder > (mask >> 1) + (x < 0)).
    let mask = _mm256_sub_epi32(
        _mm256_sllv_epi32(_mm256_set1_epi32(1), e),
        _mm256_set1_epi32(1),
    );
    let remainder = _mm256_and_si256(high, mask);
    let negative = _mm256_cmpgt_epi32(_mm256_setzero_si256(), high);
    let threshold = _mm256_sub_epi32(_mm256_srli_epi32(mask, 1), negative);
    let rounded = _mm256_sub_epi32(
        _mm256_srav_epi32(high, e),
        _mm256_cmpgt_epi32(remainder, threshold),
    );
    // clamp(r + zp, lo', 127) == clamp(r, lo' - zp, 127 - zp) + zp, without overflow.
    let clamped = _mm256_min_epi32(
        _mm256_max_epi32(rounded, _mm256_set1_epi32(lo)),
        _mm256_set1_epi32(hi),
    );
    _mm256_add_epi32(clamped, _mm256_set1_epi32(zp))
}

/// Per-output-channel constants of a first-layer convolution, eight channels per vector.
#[derive(Clone, Copy, Debug)]
pub struct FirstLayerGroup {
    /// Bias of each of the eight channels (unused lanes: 0).
    pub bias: [i32; 8],
    /// Q31 multiplier (never negative).
    pub multiplier: [i32; 8],
    /// Right shift, `0..=31`.
    pub right_shift: [i32; 8],
}

impl Avx2 {
    /// One output of a convolution with a single input channel, output channels in vector
    /// lanes, as int8 (its `out.len()` channels stored at once). For each group `g` of eight
    /// channels and each input pixel `j` (one, or the four of a fused 2×2 pool), the
    /// accumulator `bias + Σ_q pixels[j][q] ⊙ weights[q][g]` (`pixels[j][q]` = two int16 taps in
    /// one int32, `weights[q][g]` = the same two taps of eight channels as int16 pairs, `pairs`
    /// of them used), requantized with `groups[g]`, clamped to `[lo, hi]`, plus `zp`. Several
    /// pixels are pooled: with `avg`, the rounded mean of their results (`(Σ + 2) >> 2`);
    /// otherwise their maximum, taken on the accumulators — requantization is monotonic
    /// (non-negative multipliers), so this equals the maximum of the results, for one
    /// requantization instead of four.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub fn first_layer_out(
        self,
        pixels: &[[i32; 16]],
        pairs: usize,
        weights: &[[[i32; 8]; 8]; 16],
        groups: &[FirstLayerGroup; 8],
        (lo, hi, zp): (i32, i32, i32),
        avg: bool,
        out: &mut [i8],
    ) {
        assert!(pairs <= 16 && out.len() <= 64 && !pixels.is_empty());
        let mut bytes = [0i8; 64];
        // SAFETY: the token proves AVX2 is available; the lengths were checked above.
        unsafe {
            first_layer_out_avx2(
                pixels,
                pairs,
                weights,
                groups,
                (lo, hi, zp),
                avg,
                out.len(),
                &mut bytes,
            )
        };
        out.copy_from_slice(&bytes[..out.len()]);
    }
}

#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
unsafe fn first_layer_out_avx2(
    pixels: &[[i32; 16]],
    pairs: usize,
    weights: &[[[i32; 8]; 8]; 16],
    groups: &[FirstLayerGroup; 8],
    (lo, hi, zp): (i32, i32, i32),
    avg: bool,
    channels: usize,
    bytes: &mut [i8; 64],
) {
    let groups_n = channels.div_ceil(8);
    // SAFETY: `pairs <= 16` and `groups_n <= 8` (checked by the caller): loads address whole
    // `[i32; 8]` arrays inside `weights` and `groups`; stores 16 bytes at `8 · g <= 48` inside
    // `bytes`.
    unsafe {
        // A macro, not a closure (which would be compiled out of line, without AVX2 inlining).
        macro_rules! group {
            ($g:expr) => {{
                let g = $g;
                if g < groups_n {
                    first_layer_group(pixels, pairs, weights, &groups[g], g, (lo, hi, zp), avg)
                } else {
                    _mm256_setzero_si256()
                }
            }};
        }
        for g in (0..groups_n).step_by(2) {
            // [a0..3 b0..3 | a4..7 b4..7] as int16, reordered to a0..7 b0..7, then bytes (every
            // value is already in -128..=127: the packs do not saturate).
            let w = _mm256_packs_epi32(group!(g), group!(g + 1));
            let w = _mm256_permute4x64_epi64(w, 0b11_01_10_00);
            let b = _mm_packs_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
            _mm_storeu_si128(bytes.as_mut_ptr().add(8 * g) as *mut __m128i, b);
        }
    }
}

/// Channels `8g..8g + 8` of [`first_layer_out_avx2`]'s output, requantized (a function, not a
/// closure: closures do not inherit the caller's target features and would not inline).
#[target_feature(enable = "avx2")]
#[inline]
fn first_layer_group(
    pixels: &[[i32; 16]],
    pairs: usize,
    weights: &[[[i32; 8]; 8]; 16],
    group: &FirstLayerGroup,
    g: usize,
    (lo, hi, zp): (i32, i32, i32),
    avg: bool,
) -> __m256i {
    // A macro, not a closure: a closure is compiled out of line here (without AVX2 inlining),
    // one call per pixel and group.
    macro_rules! acc {
        ($px:expr) => {{
            let px: &[i32; 16] = $px;
            // SAFETY: whole `[i32; 8]` arrays (32 bytes) are read through references to them.
            let mut acc = unsafe { _mm256_loadu_si256(group.bias.as_ptr() as *const __m256i) };
            for (q, &x) in px[..pairs].iter().enumerate() {
                let w = unsafe { _mm256_loadu_si256(weights[q][g].as_ptr() as *const __m256i) };
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_set1_epi32(x), w));
            }
            acc
        }};
    }
    // SAFETY: as above.
    let m = unsafe { _mm256_loadu_si256(group.multiplier.as_ptr() as *const __m256i) };
    let e = unsafe { _mm256_loadu_si256(group.right_shift.as_ptr() as *const __m256i) };
    if avg {
        let mut sum = _mm256_set1_epi32(2);
        for px in pixels {
            sum = _mm256_add_epi32(sum, requant8(acc!(px), m, e, lo, hi, zp));
        }
        return _mm256_srai_epi32(sum, 2);
    }
    let mut best = _mm256_set1_epi32(i32::MIN);
    for px in pixels {
        best = _mm256_max_epi32(best, acc!(px));
    }
    requant8(best, m, e, lo, hi, zp)
}

/// Runs `$kernel::<G>` (or `$kernel::<G, P>`) for the layer's number of groups `G`
/// (`1..=$max`).
macro_rules! by_groups {
    ($layer:expr, $max:literal, $kernel:ident$(::<_, $p:tt>)?($($arg:expr),*)) => {
        match $layer.channels.div_ceil(8) {
            1 => $kernel::<1 $(, $p)?>($($arg),*),
            2 => $kernel::<2 $(, $p)?>($($arg),*),
            3 => $kernel::<3 $(, $p)?>($($arg),*),
            4 => $kernel::<4 $(, $p)?>($($arg),*),
            g => {
                assert!(g <= $max);
                match g {
                    5 => $kernel::<5 $(, $p)?>($($arg),*),
                    6 => $kernel::<6 $(, $p)?>($($arg),*),
                    7 => $kernel::<7 $(, $p)?>($($arg),*),
                    _ => $kernel::<8 $(, $p)?>($($arg),*),
                }
            }
        }
    };
}

/// A one-input-channel 3×3 layer prepared for the first-layer kernels with output channels in
/// lanes, up to 32 channels, eight per group; `T` is one group's taps:
/// [`SubByteTaps`] for [`Avx2::first_layer_3x3_max_pooled_row`], [`WideTaps`] for
/// [`Avx2::first_layer_3x3_wide_row`].
#[derive(Clone, Copy, Debug)]
pub struct FirstLayer3x3<T> {
    /// Each group's taps (unused channels zero).
    pub taps: [T; 4],
    /// Per group: bias (minus `128 · Σ w` for sub-byte taps, whose kernel reads each input
    /// byte as `x + 128`), multiplier, right shift.
    pub groups: [FirstLayerGroup; 4],
    /// Output channels, `1..=32`.
    pub channels: usize,
    /// Clamp bounds and zero point, as [`Avx2::first_layer_out`]'s `(lo, hi, zp)`.
    pub clamp: (i32, i32, i32),
}

/// One group's sub-byte taps (every weight in `-8..=8`), `[s][r]`: kernel row `r` of eight
/// channels, four bytes per channel (one int32 lane), shifted by `s` columns: `s = 0`:
/// `w0 w1 w2 0`; `s = 1`: `0 w0 w1 w2`.
pub type SubByteTaps = [[[i8; 32]; 3]; 2];

/// One group's int8 taps, `[r][h]`: kernel row `r` of eight channels as int16 pairs (one int32
/// lane per channel): `h = 0`: `(w0, w1)`, `h = 1`: `(w2, 0)`.
pub type WideTaps = [[[i16; 16]; 2]; 3];

impl FirstLayer3x3<WideTaps> {
    /// The bounds every ISA's `first_layer_3x3_wide_row` relies on: three input rows (four
    /// with `pooled`), each holding the elements up to 3 past the last pixel read (`n − 1`, or
    /// `2n − 1` pooled), and `out` a whole number `n` of outputs, which it returns.
    pub(super) fn check_wide_row(&self, rows: &[&[i16]], pooled: bool, out: &[i8]) -> usize {
        let oc = self.channels;
        assert!((1..=32).contains(&oc) && out.len().is_multiple_of(oc));
        let n = out.len() / oc;
        let need = if pooled { 2 * n + 3 } else { n + 3 };
        assert_eq!(rows.len(), if pooled { 4 } else { 3 });
        assert!(rows.iter().all(|r| r.len() >= need));
        n
    }
}

/// The int8 3×3 first-layer row kernel on one ISA: [`Avx2`] here, [`Sse2`] in
/// `sse2_lanes.rs` (the same taps, the same results).
pub trait WideRowKernel: Copy {
    /// One output row ([`Avx2::first_layer_3x3_wide_row`]).
    fn wide_row(
        self,
        rows: &[&[i16]],
        pooled: bool,
        layer: &FirstLayer3x3<WideTaps>,
        out: &mut [i8],
    );
}

impl Avx2 {
    /// One output row of a sub-byte [`FirstLayer3x3`] with a 2×2 max pool: `rows` are the
    /// four input rows its 2×2 windows read, `out` receives `out.len() / channels` pooled outputs. Per output, each
    /// input row's four bytes at `2·px` are broadcast into every int32 lane and read as
    /// unsigned (`x ^ 0x80 = x + 128`), so one `vpmaddubsw` multiplies a kernel row of eight
    /// channels at once (exact: `|w| ≤ 8` keeps every pair, and the three rows' sum, far inside
    /// int16), `vpmaddwd` by ones finishes the int32 sums, the pool's maximum is taken on the
    /// accumulators (requantization is monotonic) and the folded bias removes the `128 · Σ w`.
    #[inline(always)]
    pub fn first_layer_3x3_max_pooled_row(
        self,
        rows: [&[i8]; 4],
        layer: &FirstLayer3x3<SubByteTaps>,
        out: &mut [i8],
    ) {
        let oc = layer.channels;
        assert!((1..=32).contains(&oc) && out.len().is_multiple_of(oc));
        let pw = out.len() / oc;
        // Output `px` reads bytes `2·px .. 2·px + 4` of every row.
        assert!(rows.iter().all(|r| r.len() >= 2 * pw + 2));
        // SAFETY: the token proves AVX2 is available; the assertions bound every load and store
        // (see the function).
        unsafe { by_groups!(layer, 4, first_layer_3x3_row_avx2(rows, layer, pw, out)) }
    }
}

#[target_feature(enable = "avx2")]
unsafe fn first_layer_3x3_row_avx2<const G: usize>(
    rows: [&[i8]; 4],
    layer: &FirstLayer3x3<SubByteTaps>,
    pw: usize,
    out: &mut [i8],
) {
    let oc = layer.channels;
    let flip = _mm256_set1_epi8(-128);
    let ones = _mm256_set1_epi16(1);
    // SAFETY (whole body): the caller asserted `rows[r].len() >= 2·pw + 2`, so the 4-byte read
    // at `2·px` (`px < pw`) is inside every row; `taps` and `groups` are read through
    // references to whole arrays.
    unsafe {
        macro_rules! tap {
            ($g:expr, $s:expr, $r:expr) => {
                _mm256_loadu_si256(layer.taps[$g][$s][$r].as_ptr() as *const __m256i)
            };
        }
        for px in 0..pw {
            // A macro, not a closure (closures are compiled without AVX2 and out of line).
            macro_rules! row {
                ($r:expr) => {
                    _mm256_xor_si256(
                        _mm256_set1_epi32(core::ptr::read_unaligned(
                            rows[$r].as_ptr().add(2 * px) as *const i32
                        )),
                        flip,
                    )
                };
            }
            let u = [row!(0), row!(1), row!(2), row!(3)];
            // The pixel at column shift `s` and row shift `y` of the window, for group `g`.
            macro_rules! pixel {
                ($g:expr, $s:expr, $y:expr) => {{
                    let (g, s, y) = ($g, $s, $y);
                    let a = _mm256_add_epi16(
                        _mm256_maddubs_epi16(u[y], tap!(g, s, 0)),
                        _mm256_maddubs_epi16(u[y + 1], tap!(g, s, 1)),
                    );
                    let a = _mm256_add_epi16(a, _mm256_maddubs_epi16(u[y + 2], tap!(g, s, 2)));
                    _mm256_madd_epi16(a, ones)
                }};
            }
            let mut best = [_mm256_setzero_si256(); G];
            for (g, b) in best.iter_mut().enumerate() {
                *b = _mm256_max_epi32(
                    _mm256_max_epi32(pixel!(g, 0, 0), pixel!(g, 1, 0)),
                    _mm256_max_epi32(pixel!(g, 0, 1), pixel!(g, 1, 1)),
                );
            }
            requant_store(
                best,
                &layer.groups,
                layer.clamp,
                &mut out[px * oc..px * oc + oc],
            );
        }
    }
}

/// Requantizes the accumulators `acc` of `G` groups of eight channels (`groups[g]`: bias,
/// multiplier, right shift; `clamp`: `(lo, hi, zp)` as [`Avx2::first_layer_out`]'s) and stores
/// them as int8 to `out` (`out.len()` channels, at most `8 · G`).
#[target_feature(enable = "avx2")]
#[inline]
pub(super) fn requant_store<const G: usize>(
    acc: [__m256i; G],
    groups: &[FirstLayerGroup],
    (lo, hi, zp): (i32, i32, i32),
    out: &mut [i8],
) {
    let oc = out.len();
    assert!(oc <= 8 * G && G <= 8 && groups.len() >= G);
    let mut res = [_mm256_setzero_si256(); 8];
    for (g, (r, a)) in res.iter_mut().zip(acc).enumerate() {
        let q = &groups[g];
        // A macro, not a closure (closures are compiled without AVX2 and out of line).
        macro_rules! load {
            // SAFETY: whole `[i32; 8]` arrays read through references to them.
            ($v:expr) => {
                unsafe { _mm256_loadu_si256($v.as_ptr() as *const __m256i) }
            };
        }
        *r = requant8(
            _mm256_add_epi32(a, load!(q.bias)),
            load!(q.multiplier),
            load!(q.right_shift),
            lo,
            hi,
            zp,
        );
    }
    let mut bytes = [0i8; 64];
    for h in 0..oc.div_ceil(16) {
        // [a0..3 b0..3 | a4..7 b4..7] as int16, reordered to a0..7 b0..7, then bytes (every
        // value is already in -128..=127: the packs do not saturate).
        let w = _mm256_packs_epi32(res[2 * h], res[2 * h + 1]);
        let w = _mm256_permute4x64_epi64(w, 0b11_01_10_00);
        let b = _mm_packs_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
        // SAFETY: with a multiple of 16 channels, `16·h + 16 <= oc = out.len()`; otherwise
        // the store goes to `bytes` (64 bytes, `16·h <= 48`).
        unsafe {
            if oc.is_multiple_of(16) {
                _mm_storeu_si128(out.as_mut_ptr().add(16 * h) as *mut __m128i, b);
            } else {
                _mm_storeu_si128(bytes.as_mut_ptr().add(16 * h) as *mut __m128i, b);
            }
        }
    }
    if !oc.is_multiple_of(16) {
        out.copy_from_slice(&bytes[..oc]);
    }
}

impl Avx2 {
    /// One output row of an int8 [`FirstLayer3x3`]: `rows` are its input rows widened to
    /// int16 (three, or the four of a 2×2 max pool with `pooled`), each with one element past
    /// the row (read against a zero weight); `out` receives `out.len() / channels` outputs.
    /// Per pixel and kernel row, the pairs `(x, x + 1)` and `(x + 2, x + 3)` are broadcast
    /// into every int32 lane and `vpmaddwd` multiplies them with eight channels' weights
    /// (exact); a pool's maximum is taken on the accumulators.
    #[inline(always)]
    pub fn first_layer_3x3_wide_row(
        self,
        rows: &[&[i16]],
        pooled: bool,
        layer: &FirstLayer3x3<WideTaps>,
        out: &mut [i8],
    ) {
        let n = layer.check_wide_row(rows, pooled, out);
        // SAFETY: the token proves AVX2 is available; `check_wide_row` bounds every read.
        unsafe { by_groups!(layer, 4, first_wide_row_avx2(rows, pooled, n, layer, out)) }
    }
}

#[target_feature(enable = "avx2")]
unsafe fn first_wide_row_avx2<const G: usize>(
    rows: &[&[i16]],
    pooled: bool,
    n: usize,
    layer: &FirstLayer3x3<WideTaps>,
    out: &mut [i8],
) {
    let oc = layer.channels;
    // SAFETY (whole body): the caller asserted that every row holds the 4-byte reads at
    // `x` and `x + 2` of every pixel `x` computed; `taps` is read through references to whole
    // arrays.
    unsafe {
        // The accumulators of the pixel at column `x` whose kernel rows start at row `r0`.
        macro_rules! pixel {
            ($r0:expr, $x:expr) => {{
                let (r0, x) = ($r0, $x);
                let mut acc = [_mm256_setzero_si256(); G];
                for r in 0..3 {
                    let row = rows[r0 + r].as_ptr().add(x);
                    let a = _mm256_set1_epi32(core::ptr::read_unaligned(row as *const i32));
                    let b = _mm256_set1_epi32(core::ptr::read_unaligned(row.add(2) as *const i32));
                    for (g, acc) in acc.iter_mut().enumerate() {
                        let t = &layer.taps[g][r];
                        let wa = _mm256_loadu_si256(t[0].as_ptr() as *const __m256i);
                        let wb = _mm256_loadu_si256(t[1].as_ptr() as *const __m256i);
                        let s =
                            _mm256_add_epi32(_mm256_madd_epi16(a, wa), _mm256_madd_epi16(b, wb));
                        *acc = _mm256_add_epi32(*acc, s);
                    }
                }
                acc
            }};
        }
        for i in 0..n {
            let o = &mut out[i * oc..(i + 1) * oc];
            if pooled {
                let x = 2 * i;
                let (a, b, c, d) = (
                    pixel!(0, x),
                    pixel!(0, x + 1),
                    pixel!(1, x),
                    pixel!(1, x + 1),
                );
                let mut best = a;
                for g in 0..G {
                    best[g] = _mm256_max_epi32(
                        _mm256_max_epi32(a[g], b[g]),
                        _mm256_max_epi32(c[g], d[g]),
                    );
                }
                requant_store(best, &layer.groups, layer.clamp, o);
            } else {
                requant_store(pixel!(0, i), &layer.groups, layer.clamp, o);
            }
        }
    }
}

/// A convolution prepared for the kernels with output channels in vector lanes, eight per
/// group, receptive fields read in place: [`Avx2::conv_lanes_max_pooled`] (sub-byte weights,
/// blocks of `[i8; 32]`: four weights per channel) and [`Avx2::conv_wide`] (int8 weights on an
/// input widened to int16, blocks of `[i16; 16]`: two weights per channel).
#[derive(Clone, Copy, Debug)]
pub struct LanesLayer<'a, B> {
    weights: &'a [B],
    offsets: &'a [u32],
    groups: &'a [FirstLayerGroup],
    channels: usize,
    clamp: (i32, i32, i32),
}

impl<'a, B> LanesLayer<'a, B> {
    /// `weights[u · groups + g]` holds the weights of step `u` (four, or two, consecutive
    /// weights in the receptive field's order) of channels `8g..8g + 8`, one int32 lane per
    /// channel (unused channels zero); `offsets[u]`: offset of step `u`'s input from a
    /// receptive field's first element (increasing); `groups[g]`: bias (minus `128 · Σ w` for
    /// the sub-byte kernel, which reads the input as `x + 128`), multiplier and right shift of
    /// eight channels; `clamp`: `(lo, hi, zp)` as [`Avx2::first_layer_out`]'s. Panics if the
    /// slices do not fit `channels` (`1..=64`).
    pub fn new(
        weights: &'a [B],
        offsets: &'a [u32],
        groups: &'a [FirstLayerGroup],
        channels: usize,
        clamp: (i32, i32, i32),
    ) -> Self {
        let g = channels.div_ceil(8);
        assert!((1..=64).contains(&channels) && !offsets.is_empty() && groups.len() >= g);
        assert!(weights.len() >= offsets.len() * g);
        assert!(offsets.windows(2).all(|w| w[0] < w[1]));
        LanesLayer {
            weights,
            offsets,
            groups,
            channels,
            clamp,
        }
    }

    /// Checks that `out` takes every channel and that a 4-byte read at every field's
    /// `at[j] + offsets[u]` stays inside `len` elements of `unit` bytes.
    #[inline(always)]
    fn check(&self, len: usize, unit: usize, at: &[usize], out: &[i8]) {
        assert_eq!(out.len(), self.channels);
        assert!((1..=4).contains(&at.len()));
        let last = self.offsets[self.offsets.len() - 1] as usize + 4 / unit;
        assert!(at.iter().all(|&a| a + last <= len));
    }
}

impl Avx2 {
    /// One pooled output of a sub-byte layer (every weight in `-8..=8`), all its channels
    /// (`out.len()`, at most 32): the receptive fields of the 2×2 window's pixels start at
    /// `data[at[j]..]`. Per pixel and quad, the field's four bytes are broadcast into every
    /// int32 lane and read as unsigned (`x ^ 0x80 = x + 128`), one `vpmaddubsw` per group
    /// multiplies them with eight channels' four weights, int16 sums of up to eight quads (at
    /// most 8 · 2 · 255 · 8 = 32,640, no overflow) are widened by `vpmaddwd` with ones; the
    /// pool's maximum is taken on the accumulators (requantization is monotonic) and the
    /// folded bias removes the `128 · Σ w`. Exact, so equal to the tiles' result.
    #[inline(always)]
    pub fn conv_lanes_max_pooled(
        self,
        data: &[i8],
        at: [usize; 4],
        layer: &LanesLayer<'_, [i8; 32]>,
        out: &mut [i8],
    ) {
        layer.check(data.len(), 1, &at, out);
        // SAFETY: the token proves AVX2 is available; `LanesLayer::new` and `check` bound
        // every read.
        unsafe { by_groups!(layer, 4, conv_lanes_avx2(data, at, layer, out)) }
    }

    /// Outputs of an int8-weight layer, all their channels (at most 64 each): with `pooled`,
    /// one output, the 2×2 max pool of the four pixels whose receptive fields start at
    /// `data[at[j]..]` of the input widened to int16; otherwise one output per field (one or
    /// two), `out` holding their channels one after the other. Per pixel and pair of taps, the
    /// two inputs are broadcast into every int32 lane and one `vpmaddwd` per group multiplies
    /// them with eight channels' two weights (exact: int8 products, int32 sums), two pixels at
    /// a time so that each weight vector loaded serves both; a pool's maximum is taken on the
    /// accumulators, then eight channels are requantized per vector.
    #[inline(always)]
    pub fn conv_wide(
        self,
        data: &[i16],
        at: &[usize],
        pooled: bool,
        layer: &LanesLayer<'_, [i16; 16]>,
        out: &mut [i8],
    ) {
        let outputs = if pooled { 1 } else { at.len() };
        assert!(if pooled { at.len() == 4 } else { at.len() <= 2 });
        layer.check(data.len(), 2, at, &out[..out.len() / outputs]);
        assert_eq!(out.len(), outputs * layer.channels);
        // SAFETY: the token proves AVX2 is available; `LanesLayer::new` and `check` bound
        // every read.
        unsafe { by_groups!(layer, 8, conv_wide_avx2(data, at, pooled, layer, out)) }
    }
}

/// [`Avx2::conv_lanes_max_pooled`] with `G` groups of eight channels.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn conv_lanes_avx2<const G: usize>(
    data: &[i8],
    at: [usize; 4],
    layer: &LanesLayer<'_, [i8; 32]>,
    out: &mut [i8],
) {
    let nq = layer.offsets.len();
    let flip = _mm256_set1_epi8(-128);
    let ones = _mm256_set1_epi16(1);
    let mut best = [_mm256_set1_epi32(i32::MIN); G];
    // SAFETY (whole body): the caller checked that every 4-byte read at `at[j] + offsets[q]`
    // is inside `data` and that `weights` holds `nq · G` blocks.
    unsafe {
        let w = layer.weights.as_ptr();
        for &a in &at {
            let base = data.as_ptr().add(a);
            let mut acc = [_mm256_setzero_si256(); G];
            let mut q = 0;
            while q < nq {
                let end = (q + 8).min(nq);
                let mut acc16 = [_mm256_setzero_si256(); G];
                while q < end {
                    let off = *layer.offsets.get_unchecked(q) as usize;
                    let x = _mm256_xor_si256(
                        _mm256_set1_epi32(core::ptr::read_unaligned(base.add(off) as *const i32)),
                        flip,
                    );
                    let wq = w.add(q * G);
                    for (g, a16) in acc16.iter_mut().enumerate() {
                        let wv = _mm256_loadu_si256(wq.add(g) as *const __m256i);
                        *a16 = _mm256_add_epi16(*a16, _mm256_maddubs_epi16(x, wv));
                    }
                    q += 1;
                }
                for (a32, a16) in acc.iter_mut().zip(acc16) {
                    *a32 = _mm256_add_epi32(*a32, _mm256_madd_epi16(a16, ones));
                }
            }
            for (b, a) in best.iter_mut().zip(acc) {
                *b = _mm256_max_epi32(*b, a);
            }
        }
    }
    requant_store(best, layer.groups, layer.clamp, out);
}

/// [`Avx2::conv_wide`] with `G` groups of eight channels.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn conv_wide_avx2<const G: usize>(
    data: &[i16],
    at: &[usize],
    pooled: bool,
    layer: &LanesLayer<'_, [i16; 16]>,
    out: &mut [i8],
) {
    let oc = layer.channels;
    // SAFETY: the caller checked the reads of every field in `at`.
    unsafe {
        if pooled {
            let [a, b] = wide_acc::<G, 2>(data, [at[0], at[1]], layer);
            let [c, d] = wide_acc::<G, 2>(data, [at[2], at[3]], layer);
            let best: [__m256i; G] = core::array::from_fn(|g| {
                _mm256_max_epi32(_mm256_max_epi32(a[g], b[g]), _mm256_max_epi32(c[g], d[g]))
            });
            requant_store(best, layer.groups, layer.clamp, out);
        } else if at.len() == 2 {
            let [a, b] = wide_acc::<G, 2>(data, [at[0], at[1]], layer);
            requant_store(a, layer.groups, layer.clamp, &mut out[..oc]);
            requant_store(b, layer.groups, layer.clamp, &mut out[oc..2 * oc]);
        } else {
            let [a] = wide_acc::<G, 1>(data, [at[0]], layer);
            requant_store(a, layer.groups, layer.clamp, out);
        }
    }
}

/// One pair step of the int16 lane kernels: `acc[t][g] += vpmaddwd(x[t], w[g])` for the `G`
/// weight vectors at `w`, each loaded once for the `P` broadcast inputs.
///
/// # Safety
/// AVX2; `G` blocks readable at `w`.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn madd_step<const G: usize, const P: usize>(
    acc: &mut [[__m256i; G]; P],
    x: &[__m256i; P],
    w: *const [i16; 16],
) {
    for g in 0..G {
        // SAFETY: see the function's contract.
        let wv = unsafe { _mm256_loadu_si256(w.add(g) as *const __m256i) };
        for (acc, x) in acc.iter_mut().zip(x) {
            acc[g] = _mm256_add_epi32(acc[g], _mm256_madd_epi16(*x, wv));
        }
    }
}

/// The accumulators of `P` pixels (receptive fields at `data[at[j]..]`) of [`Avx2::conv_wide`],
/// `G` groups of eight channels each.
///
/// # Safety
/// AVX2; every 4-byte read at `at[j] + offsets[p]` inside `data`, `weights` holding
/// `offsets.len() · G` blocks (as `LanesLayer::check` asserts).
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn wide_acc<const G: usize, const P: usize>(
    data: &[i16],
    at: [usize; P],
    layer: &LanesLayer<'_, [i16; 16]>,
) -> [[__m256i; G]; P] {
    let mut acc = [[_mm256_setzero_si256(); G]; P];
    // SAFETY: see the function's contract.
    unsafe {
        let w = layer.weights.as_ptr();
        for (p, &off) in layer.offsets.iter().enumerate() {
            let mut x = [_mm256_setzero_si256(); P];
            for (x, &a) in x.iter_mut().zip(&at) {
                let at = data.as_ptr().add(a + off as usize);
                *x = _mm256_set1_epi32(core::ptr::read_unaligned(at as *const i32));
            }
            madd_step(&mut acc, &x, w.add(p * G));
        }
    }
    acc
}

/// A 3×3 convolution (stride 1, int8 weights) in Winograd's F(2×2, 3×3) form, for
/// [`Avx2::conv_winograd`]: per 2×2 tile of outputs, 16 products per input and output channel
/// instead of 36. Integer-exact: the weights are transformed with `2G` instead of Lavin's `G`
/// (whose halves would round), so a tile's sums are exactly four times the convolution's, and
/// the bounds below keep every intermediate inside int16 (inputs, weights) or int32 (sums).
#[derive(Clone, Copy, Debug)]
pub struct WinogradLayer<'a> {
    pub(super) v: &'a [[i16; 16]],
    /// Positions of a transformed tile: 16 (F(2×2, 3×3)) or 36 (F(4×4, 3×3)).
    pub(super) positions: usize,
    pub(super) pairs: usize,
    pub(super) groups: &'a [FirstLayerGroup],
    pub(super) channels: usize,
    pub(super) clamp: (i32, i32, i32),
}

/// The two steps of an F(4×4, 3×3) Winograd convolution's tiles on one ISA (`winograd4.rs`:
/// [`Avx2`] and [`Sse2`], the same layouts of `u` and of the prepared weights, the same
/// results).
pub trait WinogradKernel: Copy {
    /// `Bᵀ d B` of one tile ([`Avx2::winograd4_inputs`]).
    fn inputs(self, map: (&[i8], usize, usize), at: (usize, usize), u: &mut [i16], stride: usize);
    /// The outputs of `tiles` tiles ([`Avx2::conv_winograd4`]).
    fn conv(
        self,
        u: (&[i16], usize),
        tiles: usize,
        pooled: bool,
        layer: &WinogradLayer<'_>,
        out: &mut [i8],
    );
}

/// [`WinogradKernel`] and [`WideRowKernel`] for an ISA token whose `winograd_inputs`,
/// `conv_winograd` and `first_layer_3x3_wide_row` they call.
macro_rules! lane_kernels {
    ($isa:ty) => {
        impl WideRowKernel for $isa {
            #[inline(always)]
            fn wide_row(
                self,
                rows: &[&[i16]],
                pooled: bool,
                layer: &FirstLayer3x3<WideTaps>,
                out: &mut [i8],
            ) {
                self.first_layer_3x3_wide_row(rows, pooled, layer, out)
            }
        }
        impl WinogradKernel for $isa {
            #[inline(always)]
            fn inputs(
                self,
                map: (&[i8], usize, usize),
                at: (usize, usize),
                u: &mut [i16],
                stride: usize,
            ) {
                self.winograd4_inputs(map, at, u, stride)
            }
            #[inline(always)]
            fn conv(
                self,
                u: (&[i16], usize),
                tiles: usize,
                pooled: bool,
                layer: &WinogradLayer<'_>,
                out: &mut [i8],
            ) {
                self.conv_winograd4(u, tiles, pooled, layer, out)
            }
        }
    };
}
lane_kernels!(Avx2);
lane_kernels!(Sse2);

/// Most input-channel pairs of a [`WinogradLayer`] (64 channels): a transformed input is at
/// most `4 · 128 = 512`, a transformed weight at most `9 · 128 = 1,152`, so 64 channels sum to
/// at most 37,748,736 and the output transform's nine of them stay below 2^31.
pub const WINOGRAD_MAX_PAIRS: usize = 32;

/// Most blocks of transformed weights [`Avx2::with_winograd_layer`] holds on the stack: 64 KiB
/// (for example 32 input and 64 output channels, or 64 and 32).
pub const WINOGRAD_MAX_BLOCKS: usize = 2048;

/// Blocks of transformed weights a [`WinogradLayer`] of `c` input and `oc` output channels
/// holds: 16 positions × `c / 2` pairs × `⌈oc / 8⌉` groups.
pub const fn winograd_blocks(c: usize, oc: usize) -> usize {
    16 * (c / 2) * oc.div_ceil(8)
}

impl<'a> WinogradLayer<'a> {
    /// `v[(ξ · pairs + p) · groups + g]`: for tile position `ξ` (`0..positions`, row-major in
    /// the 4×4 or 6×6 input tile), input channels `2p`, `2p + 1` and output channels
    /// `8g..8g + 8`, the transformed weights as int16 pairs (F(2×2, 3×3): `(2G) w (2G)ᵀ`, 16
    /// positions; F(4×4, 3×3): `G' w G'ᵀ`, 36, [`super::winograd4_weights`]), one int32 lane
    /// per output channel (unused channels zero); `groups`, `channels`, `clamp` as
    /// [`LanesLayer::new`]'s. Panics unless `positions` is 16 or 36, `1 ≤ pairs ≤ 32`,
    /// `channels ≤ 64` and `v` holds every block.
    pub fn new(
        (v, positions): (&'a [[i16; 16]], usize),
        pairs: usize,
        groups: &'a [FirstLayerGroup],
        channels: usize,
        clamp: (i32, i32, i32),
    ) -> Self {
        assert!(positions == 16 || positions == 36);
        assert!((1..=WINOGRAD_MAX_PAIRS).contains(&pairs) && (1..=64).contains(&channels));
        assert!(groups.len() >= channels.div_ceil(8));
        assert!(v.len() >= positions * pairs * channels.div_ceil(8));
        WinogradLayer {
            v,
            positions,
            pairs,
            groups,
            channels,
            clamp,
        }
    }

    /// The bounds every Winograd kernel relies on: 1 to [`WINOGRAD_TILES`] tiles of
    /// `positions` positions `stride ≥ 2 · pairs` apart in `u`, and `out` holding their
    /// outputs.
    pub(super) fn check_call(
        &self,
        (u, stride): (&[i16], usize),
        tiles: usize,
        pooled: bool,
        out: &[i8],
    ) {
        assert!((1..=WINOGRAD_TILES).contains(&tiles) && stride >= 2 * self.pairs);
        assert!(u.len() >= tiles * self.positions * stride);
        // A pooled tile is one output (2×2 tiles) or four (4×4).
        let per_tile = if self.positions == 16 { 4 } else { 16 };
        let outputs = if pooled {
            tiles * per_tile / 4
        } else {
            tiles * per_tile
        };
        assert_eq!(out.len(), outputs * self.channels);
    }
}

/// Most tiles one [`Avx2::conv_winograd`] call takes: each weight vector loaded serves them
/// all (the transformed weights of a 32→40 layer, 40 KiB, come from L2 once per four tiles).
pub const WINOGRAD_TILES: usize = 4;

/// The bounds every ISA's `winograd_inputs` relies on: at most 64 channels, positions a
/// multiple of 16 int16 apart and at least `c`, room in `u` for `count` (1 to
/// [`WINOGRAD_TILES`]) tiles.
pub(super) fn check_winograd_inputs(c: usize, count: usize, (u, stride): (&[i16], usize)) {
    assert!(c <= 64 && stride.is_multiple_of(16) && stride >= c);
    assert!((1..=WINOGRAD_TILES).contains(&count) && u.len() >= count * 16 * stride);
}

/// Runs `$kernel::<G, P>(u, stride, pooled, layer, g0, out)` of a Winograd layer for each
/// `g0` of its groups of eight channels taken two at a time (`G` = 2, or 1 for a last odd
/// one), `P` = `tiles` (1 to 4).
macro_rules! by_group_pairs {
    ($kernel:ident($u:expr, $stride:expr, $tiles:expr, $pooled:expr, $layer:expr, $out:expr)) => {{
        let (u, stride, pooled, layer, out) = ($u, $stride, $pooled, $layer, $out);
        let groups = layer.channels.div_ceil(8);
        for g0 in (0..groups).step_by(2) {
            match (groups - g0 >= 2, $tiles) {
                (true, 1) => $kernel::<2, 1>(u, stride, pooled, layer, g0, &mut *out),
                (true, 2) => $kernel::<2, 2>(u, stride, pooled, layer, g0, &mut *out),
                (true, 3) => $kernel::<2, 3>(u, stride, pooled, layer, g0, &mut *out),
                (true, _) => $kernel::<2, 4>(u, stride, pooled, layer, g0, &mut *out),
                (false, 1) => $kernel::<1, 1>(u, stride, pooled, layer, g0, &mut *out),
                (false, 2) => $kernel::<1, 2>(u, stride, pooled, layer, g0, &mut *out),
                (false, 3) => $kernel::<1, 3>(u, stride, pooled, layer, g0, &mut *out),
                (false, _) => $kernel::<1, 4>(u, stride, pooled, layer, g0, &mut *out),
            }
        }
    }};
}
pub(super) use by_group_pairs;

impl Avx2 {
    /// Outputs of `tiles` (1 to [`WINOGRAD_TILES`]) 2×2 tiles of a [`WinogradLayer`], all their
    /// channels: `u` holds each tile's transformed input `Bᵀ d B` ([`Avx2::winograd_inputs`]),
    /// its 16 positions `stride` int16 apart (`stride ≥ 2 · pairs`), the tiles `16 · stride`
    /// apart. Per position and two groups of eight channels at a time, one `vpmaddwd` per
    /// pair, group and tile multiplies the broadcast pair with eight channels' transformed
    /// weights (all tiles share each weight vector loaded); the output transform `Aᵀ M A`
    /// and an exact division by four give the convolution's sums. With `pooled`, one output
    /// per tile, the maximum of its four (a 2×2 max pool; requantization is monotonic);
    /// otherwise its four outputs, row-major, one after the other. Then eight channels are
    /// requantized per vector.
    #[inline(always)]
    pub fn conv_winograd(
        self,
        (u, stride): (&[i16], usize),
        tiles: usize,
        pooled: bool,
        layer: &WinogradLayer<'_>,
        out: &mut [i8],
    ) {
        layer.check_call((u, stride), tiles, pooled, out);
        // SAFETY: the token proves AVX2 is available; the reads of `winograd_acc` stay inside
        // `u` (a position's last pair ends `2 · pairs ≤ stride` after it, the last tile's last
        // position `15 · stride` after the tile) and inside `v` (`new` checked its length;
        // groups `g0 .. g0 + G` exist).
        unsafe { by_group_pairs!(winograd_avx2(u, stride, tiles, pooled, layer, out)) }
    }
}

/// [`Avx2::conv_winograd`] for the `G` groups of eight channels from group `g0`, `P` tiles.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn winograd_avx2<const G: usize, const P: usize>(
    u: &[i16],
    stride: usize,
    pooled: bool,
    layer: &WinogradLayer<'_>,
    g0: usize,
    out: &mut [i8],
) {
    let oc = layer.channels;
    // The channels of these groups, and their requantization.
    let (lo, hi) = (8 * g0, (8 * (g0 + G)).min(oc));
    let groups = &layer.groups[g0..];
    // `m[ξ][t]`: tile t's sums at position ξ, each written once below (not zeroed first).
    let mut m = [[[core::mem::MaybeUninit::<__m256i>::uninit(); G]; P]; 16];
    for (xi, m) in m.iter_mut().enumerate() {
        // SAFETY: see `conv_winograd`.
        let acc = unsafe { winograd_acc::<G, P>(u, stride, xi, layer, g0) };
        for (m, acc) in m.iter_mut().zip(acc) {
            for (m, acc) in m.iter_mut().zip(acc) {
                m.write(acc);
            }
        }
    }
    // SAFETY: every element was written above.
    let m = |xi: usize, t: usize, g: usize| unsafe { m[xi][t][g].assume_init() };
    for t in 0..P {
        // Aᵀ M A with Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]], rows first, then the exact
        // division by four.
        let mut y = [[_mm256_setzero_si256(); G]; 4];
        // `y[k][g]`: output k of group g (an index into both).
        #[allow(clippy::needless_range_loop)]
        for g in 0..G {
            let (mut top, mut bottom) = ([_mm256_setzero_si256(); 4], [_mm256_setzero_si256(); 4]);
            for (j, (top, bottom)) in top.iter_mut().zip(&mut bottom).enumerate() {
                let col = [m(j, t, g), m(4 + j, t, g), m(8 + j, t, g), m(12 + j, t, g)];
                [*top, *bottom] = winograd_at!(_mm256_add_epi32, _mm256_sub_epi32, col);
            }
            for (a, r) in [top, bottom].into_iter().enumerate() {
                let [left, right] = winograd_at!(_mm256_add_epi32, _mm256_sub_epi32, r);
                y[2 * a][g] = _mm256_srai_epi32(left, 2);
                y[2 * a + 1][g] = _mm256_srai_epi32(right, 2);
            }
        }
        if pooled {
            let best: [__m256i; G] = core::array::from_fn(|g| {
                _mm256_max_epi32(
                    _mm256_max_epi32(y[0][g], y[1][g]),
                    _mm256_max_epi32(y[2][g], y[3][g]),
                )
            });
            let o = t * oc;
            requant_store(best, groups, layer.clamp, &mut out[o + lo..o + hi]);
        } else {
            for (k, y) in y.into_iter().enumerate() {
                let o = (4 * t + k) * oc;
                requant_store(y, groups, layer.clamp, &mut out[o + lo..o + hi]);
            }
        }
    }
}

impl Avx2 {
    /// Eight output channels' int8 weight rows (`rows[l]`, `k` weights each, `k` even; a
    /// missing channel is a row of zeros) as the int16 pair blocks of the kernels with output
    /// channels in lanes: `out[u · stride]` lane `l` holds `(rows[l][2u], rows[l][2u + 1])`,
    /// for `u` in `0..k / 2`. Eight blocks at a time: a 16-bit 8×8 transpose of the rows' bytes
    /// taken as pairs, then one sign extension per block (instead of one scalar move per
    /// weight).
    #[inline(always)]
    pub fn pair_blocks(self, rows: &[&[i8]; 8], out: &mut [[i16; 16]], stride: usize) {
        let k = rows[0].len();
        assert!(k.is_multiple_of(2) && rows.iter().all(|r| r.len() == k) && stride >= 1);
        let steps = k / 2;
        assert!(steps == 0 || (steps - 1) * stride < out.len());
        let mut u = 0;
        while u < steps {
            let n = (steps - u).min(8);
            // Sixteen bytes (eight pairs) of each row; a short tail through a zeroed copy.
            let mut tail = [[0i8; 16]; 8];
            if n < 8 {
                for (t, row) in tail.iter_mut().zip(rows) {
                    t[..2 * n].copy_from_slice(&row[2 * u..2 * (u + n)]);
                }
            }
            let chunk: [&[i8]; 8] = core::array::from_fn(|l| match n {
                8 => &rows[l][2 * u..2 * u + 16],
                _ => &tail[l][..],
            });
            // SAFETY: the token proves AVX2 is available; each row of `chunk` has 16 bytes.
            let blocks = unsafe { transpose_pairs(chunk) };
            for (j, b) in blocks.iter().take(n).enumerate() {
                out[(u + j) * stride] = *b;
            }
            u += n;
        }
    }
}

/// Column `j` of the eight rows `a` (16 bytes each, taken as eight int16 pairs), sign-extended
/// from int8: block `j` lane `l` is `(a[l][2j], a[l][2j + 1])`.
#[target_feature(enable = "avx2")]
fn transpose_pairs(a: [&[i8]; 8]) -> [[i16; 16]; 8] {
    let mut r = [_mm_setzero_si128(); 8];
    for (r, a) in r.iter_mut().zip(a) {
        let a = &a[..16];
        // SAFETY: an unaligned load of 16 bytes inside `a` (the slice above is checked).
        *r = unsafe { _mm_loadu_si128(a.as_ptr() as *const __m128i) };
    }
    // Pairs of rows interleaved by 16, 32, then 64 bits: column j of the pairs ends in cols[j].
    let (mut t, mut s, mut cols) = (
        [_mm_setzero_si128(); 8],
        [_mm_setzero_si128(); 8],
        [_mm_setzero_si128(); 8],
    );
    for i in 0..4 {
        t[2 * i] = _mm_unpacklo_epi16(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm_unpackhi_epi16(r[2 * i], r[2 * i + 1]);
    }
    for i in 0..2 {
        for j in 0..2 {
            s[4 * i + 2 * j] = _mm_unpacklo_epi32(t[4 * i + j], t[4 * i + j + 2]);
            s[4 * i + 2 * j + 1] = _mm_unpackhi_epi32(t[4 * i + j], t[4 * i + j + 2]);
        }
    }
    for i in 0..4 {
        cols[2 * i] = _mm_unpacklo_epi64(s[i], s[i + 4]);
        cols[2 * i + 1] = _mm_unpackhi_epi64(s[i], s[i + 4]);
    }
    let mut out = [[0i16; 16]; 8];
    for (o, c) in out.iter_mut().zip(cols) {
        // SAFETY: a 32-byte store into a `[i16; 16]`.
        unsafe { _mm256_storeu_si256(o.as_mut_ptr() as *mut __m256i, _mm256_cvtepi8_epi16(c)) };
    }
    out
}

impl Avx2 {
    /// Lays out and transforms the weights of a 3×3 int8 convolution on the stack — `weights`:
    /// `oc` rows of `9 · c` (`c` even, 2 to 64; `oc` up to 64; at most
    /// [`WINOGRAD_MAX_BLOCKS`] blocks) — and runs `f` on the [`WinogradLayer`] (`groups`,
    /// `clamp` as [`LanesLayer::new`]'s). The storage is not zeroed first (64 KiB per call):
    /// `Avx2::winograd_weights_uninit` writes each block once.
    #[inline(always)]
    pub fn with_winograd_layer<R>(
        self,
        (weights, c, oc): (&[i8], usize, usize),
        groups: &[FirstLayerGroup],
        clamp: (i32, i32, i32),
        f: impl FnOnce(&WinogradLayer<'_>) -> R,
    ) -> R {
        let n = winograd_blocks(c, oc);
        assert!(n <= WINOGRAD_MAX_BLOCKS);
        let mut v = [core::mem::MaybeUninit::<[i16; 16]>::uninit(); WINOGRAD_MAX_BLOCKS];
        self.winograd_weights_uninit((weights, c, oc), &mut v[..n]);
        // SAFETY: `winograd_weights_uninit` wrote every block of `v[..n]`;
        // `MaybeUninit<[i16; 16]>` has the layout of `[i16; 16]`.
        let v = unsafe { core::slice::from_raw_parts(v.as_ptr() as *const [i16; 16], n) };
        f(&WinogradLayer::new((v, 16), c / 2, groups, oc, clamp))
    }

    /// The transformed weights `(2G) w (2G)ᵀ` of a 3×3 int8 convolution (`weights`: `oc` rows
    /// of `9 · c`, `c` even, 2 to 64; `oc` up to 64) into `v`, exactly [`winograd_blocks`]
    /// blocks in [`WinogradLayer::new`]'s order, storage that need not be initialised: per group of
    /// eight output channels the rows become pair blocks ([`Avx2::pair_blocks`]) and each
    /// pair's nine taps the 16 positions of `(2G) w (2G)ᵀ` (every value within
    /// `9 · 128 = 1,152`), each block written once.
    fn winograd_weights_uninit(
        self,
        (weights, c, oc): (&[i8], usize, usize),
        v: &mut [core::mem::MaybeUninit<[i16; 16]>],
    ) {
        let (pairs, groups_n, k) = (c / 2, oc.div_ceil(8), 9 * c);
        let n = winograd_blocks(c, oc);
        assert!(c.is_multiple_of(2) && (1..=WINOGRAD_MAX_PAIRS).contains(&pairs));
        assert!((1..=64).contains(&oc) && v.len() == n && weights.len() >= oc * k);
        let zero = [0i8; 9 * 2 * WINOGRAD_MAX_PAIRS];
        let mut taps = [[0i16; 16]; 9 * WINOGRAD_MAX_PAIRS];
        for g in 0..groups_n {
            // `taps[t · pairs + p]`: tap `t = 3·ky + kx`, input channels `2p`, `2p + 1`.
            let rows: [&[i8]; 8] = core::array::from_fn(|l| match 8 * g + l {
                o if o < oc => &weights[o * k..(o + 1) * k],
                _ => &zero[..k],
            });
            self.pair_blocks(&rows, &mut taps, 1);
            // SAFETY: the token proves AVX2 is available; `taps` holds `9 · pairs` blocks and
            // every index written, `(ξ · pairs + p) · groups_n + g`, is below `n`: each
            // `(ξ, p, g)` in `16 × pairs × groups_n` once, a bijection onto `0..n`.
            unsafe { winograd_weights_avx2(&taps, pairs, v, (groups_n, g)) };
        }
    }

    /// `Bᵀ d B` of `count` (1 to [`WINOGRAD_TILES`]) tiles side by side: tile `k`'s `d` the
    /// 4×4 pixels from row `y`, column `x + 2k` of `data` (an int8 map `w` pixels wide, `c`
    /// channels each, `c` at most 64; pixels past its last row or column count as zero);
    /// `u[k · 16 · stride..]` receives its 16 positions, row-major, each at a multiple of
    /// `stride` (a multiple of 16, at least `c`). With
    /// `Bᵀ = [[1, 0, −1, 0], [0, 1, 1, 0], [0, −1, 1, 0], [0, 1, 0, −1]]` each value sums four
    /// inputs: at most 512 in magnitude. Neighbouring tiles share two columns of pixels, so
    /// `Bᵀ d` is computed once per column, then `· B` per tile.
    #[inline(always)]
    pub fn winograd_inputs(
        self,
        (data, w, c): (&[i8], usize, usize),
        (y, x): (usize, usize),
        count: usize,
        u: &mut [i16],
        stride: usize,
    ) {
        check_winograd_inputs(c, count, (u, stride));
        // SAFETY: the token proves AVX2 is available; the asserts bound every access.
        unsafe { winograd_inputs_avx2((data, w, c), (y, x), count, u, stride) }
    }
}

/// The sums `M_ξ` of position `xi` of `P` tiles (`positions · stride` int16 apart in `u`) of a
/// [`WinogradLayer`], the `G` groups of eight channels from group `g0`: per pair of input
/// channels, each tile's pair broadcast into every int32 lane, one `vpmaddwd` per group and
/// tile, each weight vector loaded once for the `P` tiles.
///
/// # Safety
/// AVX2; `u` holding `P` tiles of `positions` positions `stride ≥ 2 · pairs` apart, `v`
/// holding `positions · pairs · groups` blocks and `g0 + G ≤ groups` (as `conv_winograd`
/// asserts).
#[target_feature(enable = "avx2")]
#[inline]
pub(super) unsafe fn winograd_acc<const G: usize, const P: usize>(
    u: &[i16],
    stride: usize,
    xi: usize,
    layer: &WinogradLayer<'_>,
    g0: usize,
) -> [[__m256i; G]; P] {
    let groups = layer.channels.div_ceil(8);
    let mut acc = [[_mm256_setzero_si256(); G]; P];
    // SAFETY: see the function's contract.
    unsafe {
        let w = layer.v.as_ptr().add(xi * layer.pairs * groups + g0);
        let at = u.as_ptr().add(xi * stride);
        for p in 0..layer.pairs {
            let mut x = [_mm256_setzero_si256(); P];
            for (t, x) in x.iter_mut().enumerate() {
                let pair = at.add(t * layer.positions * stride + 2 * p) as *const i32;
                *x = _mm256_set1_epi32(core::ptr::read_unaligned(pair));
            }
            madd_step(&mut acc, &x, w.add(p * groups));
        }
    }
    acc
}

/// The transformed weights of one group `g` of [`Avx2::with_winograd_layer`]:
/// `taps[t · pairs + p]` in, `v[(ξ · pairs + p) · groups + g]` out for the 16 positions `ξ`.
#[target_feature(enable = "avx2")]
fn winograd_weights_avx2(
    taps: &[[i16; 16]],
    pairs: usize,
    v: &mut [core::mem::MaybeUninit<[i16; 16]>],
    (groups, g): (usize, usize),
) {
    // [2a, a + b + c, a − b + c, 2c]: F(2, 3) along one axis with 2G.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn f23(a: __m256i, b: __m256i, c: __m256i) -> [__m256i; 4] {
        let ac = _mm256_add_epi16(a, c);
        [
            _mm256_add_epi16(a, a),
            _mm256_add_epi16(ac, b),
            _mm256_sub_epi16(ac, b),
            _mm256_add_epi16(c, c),
        ]
    }
    for p in 0..pairs {
        let mut t = [_mm256_setzero_si256(); 9];
        for (k, t) in t.iter_mut().enumerate() {
            // SAFETY: a whole `[i16; 16]` (the caller checked `9 · pairs` blocks).
            *t = unsafe { _mm256_loadu_si256(taps[k * pairs + p].as_ptr() as *const __m256i) };
        }
        // Along the kernel's rows (per column kx), then along its columns.
        let cols = [
            f23(t[0], t[3], t[6]),
            f23(t[1], t[4], t[7]),
            f23(t[2], t[5], t[8]),
        ];
        for i in 0..4 {
            let row = f23(cols[0][i], cols[1][i], cols[2][i]);
            for (j, r) in row.into_iter().enumerate() {
                let at = &mut v[((4 * i + j) * pairs + p) * groups + g];
                // SAFETY: a whole `[i16; 16]` (the index is bounds-checked above).
                unsafe { _mm256_storeu_si256(at.as_mut_ptr() as *mut __m256i, r) };
            }
        }
    }
}

/// [`Avx2::winograd_inputs`].
#[target_feature(enable = "avx2")]
fn winograd_inputs_avx2(
    (data, w, c): (&[i8], usize, usize),
    (y, x): (usize, usize),
    count: usize,
    u: &mut [i16],
    stride: usize,
) {
    let rows = data.len() / (w * c).max(1);
    let columns = 2 * count + 2;
    for q in (0..c).step_by(16) {
        let n = (c - q).min(16);
        // `t[j][i]`: row i of `Bᵀ d` for pixel column `x + j`.
        let mut t = [[_mm256_setzero_si256(); 4]; 2 * WINOGRAD_TILES + 2];
        for (j, t) in t.iter_mut().enumerate().take(columns) {
            let mut d = [_mm256_setzero_si256(); 4];
            for (r, d) in d.iter_mut().enumerate() {
                let (iy, ix) = (y + r, x + j);
                if iy >= rows || ix >= w {
                    continue;
                }
                let at = (iy * w + ix) * c + q;
                let v = if n == 16 {
                    let src = &data[at..at + 16];
                    // SAFETY: 16 bytes inside `data` (the slice above is bounds-checked).
                    unsafe { _mm_loadu_si128(src.as_ptr() as *const __m128i) }
                } else {
                    let mut bytes = [0i8; 16];
                    bytes[..n].copy_from_slice(&data[at..at + n]);
                    // SAFETY: a whole `[i8; 16]`.
                    unsafe { _mm_loadu_si128(bytes.as_ptr() as *const __m128i) }
                };
                *d = _mm256_cvtepi8_epi16(v);
            }
            *t = winograd_bt!(_mm256_add_epi16, _mm256_sub_epi16, d);
        }
        // · B along each tile's four columns.
        winograd_b_rows!(
            _mm256_add_epi16,
            _mm256_sub_epi16,
            t,
            count,
            (u, stride),
            |at, r| {
                let at = &mut at[q..q + 16];
                // SAFETY: 16 int16 inside `u` (the slice above is bounds-checked).
                unsafe { _mm256_storeu_si256(at.as_mut_ptr() as *mut __m256i, r) }
            }
        );
    }
}
