//! SSE2 kernels with output channels in vector lanes (the x86-64 baseline), beside the AVX2
//! ones of `x86.rs`, with their layouts and exact integer arithmetic, so the same logits:
//!
//! - the products of Winograd's tiles ([`winograd_acc`], for `winograd4.rs`), four output
//!   channels per 128-bit half of a block of prepared weights;
//! - the int8 3×3 first layer ([`Sse2::first_layer_3x3_wide_row`]), its input widened to int16.
//!
//! Both requantize eight channels in vector lanes with the AVX2 kernels' results, though
//! SSE2 has no per-lane shifts, no signed 32×32→64 multiply and no 32-bit maximum
//! (`LaneRequant`: unsigned products stand in for the shifts, packing with saturation for the
//! clamp).
#![allow(unsafe_code)]

use super::x86::{FirstLayer3x3, FirstLayerGroup, Sse2, WideTaps, WinogradLayer};
use core::arch::x86_64::*;

/// Per-lane requantization constants of four channels (one half of a group), computed once
/// per group and call by [`LaneRequant::new`]: each channel's multiplication, rounding and
/// shift become one unsigned 32×32→64-bit product plus a constant, a uniform shift, and a
/// second product that stands in for the per-lane shift (see [`LaneRequant::apply`]).
/// Lanes 0 and 2 (`even`) and 1 and 3 (`odd`, moved down to 0 and 2) each fill the low
/// halves of two 64-bit lanes.
#[derive(Clone, Copy)]
pub(super) struct LaneRequant {
    /// Bias of each channel.
    bias: __m128i,
    /// Per 64-bit lane: the multiplier `m` (`2m` where `e = 0`), low half.
    m: [__m128i; 2],
    /// Per 64-bit lane: the constant `A` added to the product.
    a: [__m128i; 2],
    /// Per 64-bit lane: `2^31` where `e ≥ 1` (subtracted for a negative sum), else 0.
    d: [__m128i; 2],
    /// Per 64-bit lane: `2^(32 − max(e, 1))`, the second product's factor.
    pow: [__m128i; 2],
    /// Per channel: `2^(31 − e)` (wrapping), the offset the result carries.
    offset: __m128i,
    /// Whether the clamp's lower bound is at least 0 (a ReLU layer): negative sums are then
    /// taken as 0 ([`LaneRequant::apply`]'s shorter path, which needs no sign correction).
    relu: bool,
}

impl LaneRequant {
    /// The constants of channels `8g + 4h..8g + 4h + 4` of `group` (right shifts `0..=31`,
    /// multipliers `0..2^31`), for a clamp whose lower bound is `lo` (relative to the zero
    /// point: `lo ≥ 0` lets [`LaneRequant::apply`] take negative sums as 0).
    #[inline(always)]
    pub(super) fn new(group: &FirstLayerGroup, h: usize, lo: i32) -> LaneRequant {
        debug_assert!(group.right_shift.iter().all(|e| (0..=31).contains(e)));
        debug_assert!(group.multiplier.iter().all(|m| *m >= 0));
        // SAFETY: SSE2 is part of the x86-64 baseline; 16-byte loads of whole halves of the
        // group's eight-element arrays, register-only operations.
        unsafe {
            let load = |a: &[i32; 8]| _mm_loadu_si128(a[4 * h..].as_ptr() as *const __m128i);
            // 2^k for k in -1..=31 through the float with exponent k (exact, truncated:
            // 2^-1 converts to 0); 2^31 converts to 0x8000_0000, which is 2^31 read unsigned.
            let pow2 = |k: __m128i| {
                let bits = _mm_slli_epi32(_mm_add_epi32(k, _mm_set1_epi32(127)), 23);
                _mm_cvttps_epi32(_mm_castsi128_ps(bits))
            };
            let (e, m) = (load(&group.right_shift), load(&group.multiplier));
            let zero = _mm_cmpeq_epi32(e, _mm_setzero_si128());
            let sign = _mm_set1_epi32(i32::MIN);
            // `K = 2^31 + 2^(e − 1) − m` (no half where `e = 0`): below 2^32 unsigned; for
            // non-negative sums (`relu`) `K = 2^(e − 1)`.
            let relu = lo >= 0;
            let half = pow2(_mm_sub_epi32(e, _mm_set1_epi32(1)));
            let k = if relu {
                half
            } else {
                _mm_sub_epi32(_mm_add_epi32(sign, half), m)
            };
            // Even lanes in the low halves of the 64-bit lanes, odd lanes moved down.
            let low = _mm_set_epi32(0, -1, 0, -1);
            let split = |v: __m128i| [_mm_and_si128(v, low), _mm_srli_epi64(v, 32)];
            // `A = 2^30 + 2^31 · K`, doubled where `e = 0` (the multiplier is doubled there).
            let a =
                split(k).map(|k| _mm_add_epi64(_mm_slli_epi64(k, 31), _mm_set1_epi64x(1 << 30)));
            let [z0, z1] = [
                _mm_shuffle_epi32(zero, 0b10_10_00_00),
                _mm_shuffle_epi32(zero, 0b11_11_01_01),
            ];
            LaneRequant {
                bias: load(&group.bias),
                m: split(_mm_add_epi32(m, _mm_and_si128(m, zero))),
                a: [
                    _mm_add_epi64(a[0], _mm_and_si128(a[0], z0)),
                    _mm_add_epi64(a[1], _mm_and_si128(a[1], z1)),
                ],
                d: split(_mm_andnot_si128(zero, sign)),
                pow: split(pow2(_mm_sub_epi32(
                    _mm_set1_epi32(32),
                    _mm_sub_epi32(e, zero),
                ))),
                offset: pow2(_mm_sub_epi32(_mm_set1_epi32(31), e)),
                relu,
            }
        }
    }

    /// The AVX2 vector requantization (`requant8`) of four sums, one multiplier `m` and
    /// right shift `e` per lane, before the clamp: gemmlowp's SaturatingRoundingDoublingHighMul
    /// with a non-negative multiplier, `h = ⌊(x·m + 2^30) / 2^31⌋`, then RoundingDivideByPOT,
    /// `y = ⌊(h + 2^(e−1) − [h < 0]) / 2^e⌋` (ties away from zero; `y = h` where `e = 0`).
    /// SSE2 has neither a signed 32×32→64 multiply nor per-lane shifts, so with
    /// `x_u = x + 2^31` (unsigned) and `K = 2^31 + 2^(e−1) − m`, for `e ≥ 1`:
    ///
    /// `N = x_u · m + 2^30 + 2^31 · K − 2^31 · [x < 0]`, `⌊N / 2^31⌋ = h + 2^31 + 2^(e−1) − [x < 0]`
    ///
    /// (`x_u · m = x · m + 2^31 · m`; `[x < 0]` may stand for `[h < 0]`: they differ only
    /// where `h = 0`, and there both round to 0). `0 ≤ N < 2^64`, so one unsigned product and
    /// one 64-bit addition give it exactly; `⌊N / 2^32⌋ < 2^32` (a uniform shift), times
    /// `2^(32 − e)`, shifted right by 31 (uniform) is `⌊N / 2^(31 + e)⌋ = y + 2^(31 − e)`.
    /// Where `e = 0` the multiplier and the constant are doubled (`2m < 2^32`), so
    /// `⌊N / 2^32⌋ = h + 2^31`, and the second factor is 2^31. Exact for every int32 sum.
    ///
    /// Where the clamp's lower bound is at least 0 (`relu`), a negative sum's result (at most
    /// 0, as `y(0) = 0` and `y` is monotonic) clamps to that bound just as 0's does, so the sum
    /// is taken as `max(x, 0)`: then `N = x · m + 2^30 + 2^31 · 2^(e − 1)` and
    /// `⌊N / 2^(31 + e)⌋ = ⌊(h + 2^(e − 1)) / 2^e⌋ = y` (nested floors), with no offset and no
    /// sign correction: 16 operations instead of 22. The result is `y` of `max(x, 0)`.
    #[inline(always)]
    fn apply<const RELU: bool>(&self, x: __m128i) -> __m128i {
        debug_assert_eq!(RELU, self.relu);
        // SAFETY: SSE2 is part of the x86-64 baseline; register-only operations.
        unsafe {
            let x = _mm_add_epi32(x, self.bias);
            if RELU {
                // `max(x, 0)`, then `y` in the low halves of the 64-bit lanes (below 2^31).
                let x = _mm_andnot_si128(_mm_srai_epi32(x, 31), x);
                let half = |x: __m128i, i: usize| {
                    let n = _mm_add_epi64(_mm_mul_epu32(x, self.m[i]), self.a[i]);
                    _mm_srli_epi64(_mm_mul_epu32(_mm_srli_epi64(n, 32), self.pow[i]), 31)
                };
                let (even, odd) = (half(x, 0), half(_mm_srli_epi64(x, 32), 1));
                return _mm_or_si128(even, _mm_slli_epi64(odd, 32));
            }
            let xu = _mm_xor_si128(x, _mm_set1_epi32(i32::MIN));
            let negative = _mm_srai_epi32(x, 31);
            // `y + 2^(31 − e)` of the lanes in the low halves of the 64-bit lanes, high halves
            // zero (below 2^32).
            let half = |xu: __m128i, negative: __m128i, i: usize| {
                let n = _mm_add_epi64(_mm_mul_epu32(xu, self.m[i]), self.a[i]);
                let n = _mm_sub_epi64(n, _mm_and_si128(negative, self.d[i]));
                _mm_srli_epi64(_mm_mul_epu32(_mm_srli_epi64(n, 32), self.pow[i]), 31)
            };
            let even = half(xu, negative, 0);
            let odd = half(_mm_srli_epi64(xu, 32), _mm_srli_epi64(negative, 32), 1);
            _mm_sub_epi32(_mm_or_si128(even, _mm_slli_epi64(odd, 32)), self.offset)
        }
    }
}

/// The maximum of two vectors of int32 lanes (SSE2 has no `pmaxsd`).
#[inline(always)]
pub(super) fn max_epi32(a: __m128i, b: __m128i) -> __m128i {
    // SAFETY: SSE2 is part of the x86-64 baseline; register-only operations.
    unsafe {
        let greater = _mm_cmpgt_epi32(a, b);
        _mm_or_si128(_mm_and_si128(greater, a), _mm_andnot_si128(greater, b))
    }
}

/// The sums of up to eight channels of one group (two halves, `c`'s constants) requantized,
/// clamped to `[lo, hi]`, plus `zp`, into `out` (`out.len()` channels): packed to int16 with
/// saturation, which leaves the clamp unchanged (`lo` and `hi` lie within ±255), clamped and
/// offset in int16 lanes, packed to int8.
#[inline(always)]
pub(super) fn requant_store(
    sums: [__m128i; 2],
    c: &[LaneRequant; 2],
    (lo, hi, zp): (i32, i32, i32),
    out: &mut [i8],
) {
    debug_assert!((-255..=255).contains(&lo) && (-255..=255).contains(&hi));
    // SAFETY: SSE2 is part of the x86-64 baseline; an 8-byte store into eight bytes of `out`,
    // or a 16-byte one into a local array.
    unsafe {
        let words = if c[0].relu {
            _mm_packs_epi32(c[0].apply::<true>(sums[0]), c[1].apply::<true>(sums[1]))
        } else {
            _mm_packs_epi32(c[0].apply::<false>(sums[0]), c[1].apply::<false>(sums[1]))
        };
        let words = _mm_min_epi16(
            _mm_max_epi16(words, _mm_set1_epi16(lo as i16)),
            _mm_set1_epi16(hi as i16),
        );
        let words = _mm_add_epi16(words, _mm_set1_epi16(zp as i16));
        let bytes = _mm_packs_epi16(words, words);
        if let Ok(out) = <&mut [i8; 8]>::try_from(&mut *out) {
            _mm_storel_epi64(out.as_mut_ptr() as *mut __m128i, bytes);
        } else {
            // A group's last few channels (a call to `memcpy`: kept off the common path).
            let mut all = [0i8; 16];
            _mm_storeu_si128(all.as_mut_ptr() as *mut __m128i, bytes);
            let n = out.len();
            out.copy_from_slice(&all[..n]);
        }
    }
}

/// The sums `M_ξ` of position `xi` of `P` tiles (`positions · stride` int16 apart in `u`) of a
/// [`WinogradLayer`], the `G` groups of channels from `8 · g0`, each in two halves: per pair of
/// input channels, each tile's pair broadcast into every int32 lane, one `pmaddwd` per half,
/// group and tile (each weight vector loaded once for the `P` tiles).
///
/// # Safety
/// The caller has checked [`check_acc`]`(u, stride, layer, (g0, G, P))` (once per call of its
/// own, not per position) and `xi < layer.positions`.
#[inline(always)]
pub(super) unsafe fn winograd_acc<const G: usize, const P: usize>(
    u: &[i16],
    stride: usize,
    xi: usize,
    layer: &WinogradLayer<'_>,
    g0: usize,
) -> [[[__m128i; 2]; G]; P] {
    let (pairs, groups, positions) = (layer.pairs, layer.channels.div_ceil(8), layer.positions);
    // SAFETY: SSE2 is part of the x86-64 baseline; the reads of `u` stay inside it (the last:
    // pair `(P − 1) · positions · stride + ξ · stride + 2 · pairs − 1 < P · positions · stride`,
    // by the contract), those of `v` inside its `positions · pairs · groups` blocks
    // (`WinogradLayer::new` checked; the last read is block
    // `(ξ · pairs + pairs − 1) · groups + g0 + G − 1`, `g0 + G ≤ groups` by the contract).
    unsafe {
        let mut acc = [[[_mm_setzero_si128(); 2]; G]; P];
        // Position ξ's blocks of group g0, `groups` apart, and its pairs in each tile.
        let w = layer.v[xi * pairs * groups + g0..].as_ptr();
        let at = u[xi * stride..].as_ptr();
        for p in 0..pairs {
            let block = w.add(p * groups) as *const i16;
            let wv: [[__m128i; 2]; G] = core::array::from_fn(|g| {
                let b = block.add(16 * g);
                [
                    _mm_loadu_si128(b as *const __m128i),
                    _mm_loadu_si128(b.add(8) as *const __m128i),
                ]
            });
            for (t, acc) in acc.iter_mut().enumerate() {
                let pair = at.add(t * positions * stride + 2 * p) as *const i32;
                let x = _mm_set1_epi32(core::ptr::read_unaligned(pair));
                for (acc, wv) in acc.iter_mut().zip(&wv) {
                    acc[0] = _mm_add_epi32(acc[0], _mm_madd_epi16(x, wv[0]));
                    acc[1] = _mm_add_epi32(acc[1], _mm_madd_epi16(x, wv[1]));
                }
            }
        }
        acc
    }
}

/// The bounds [`winograd_acc`] relies on: `P` tiles of `positions · stride` int16 in `u`,
/// each position holding the layer's pairs, and the `G` groups from `g0` in the layer.
#[inline(always)]
pub(super) fn check_acc(
    u: &[i16],
    stride: usize,
    layer: &WinogradLayer<'_>,
    (g0, g, p): (usize, usize, usize),
) {
    assert!(stride >= 2 * layer.pairs && u.len() >= p * layer.positions * stride);
    assert!(g0 + g <= layer.channels.div_ceil(8));
}

impl Sse2 {
    /// [`super::Avx2::first_layer_3x3_wide_row`] on SSE2: per pixel and kernel row, the pairs
    /// `(x, x + 1)` and `(x + 2, x + 3)` broadcast into every int32 lane, one `pmaddwd` each
    /// per four channels; a pool's maximum and the requantization per channel.
    #[inline(always)]
    pub fn first_layer_3x3_wide_row(
        self,
        rows: &[&[i16]],
        pooled: bool,
        layer: &FirstLayer3x3<WideTaps>,
        out: &mut [i8],
    ) {
        let n = layer.check_wide_row(rows, pooled, out);
        match layer.channels.div_ceil(8) {
            1 => wide_row::<1>(rows, pooled, n, layer, out),
            2 => wide_row::<2>(rows, pooled, n, layer, out),
            3 => wide_row::<3>(rows, pooled, n, layer, out),
            _ => wide_row::<4>(rows, pooled, n, layer, out),
        }
    }
}

/// [`Sse2::first_layer_3x3_wide_row`] of a layer with `G` groups of eight channels: each
/// pixel's broadcast input pairs serve every group.
#[inline(always)]
fn wide_row<const G: usize>(
    rows: &[&[i16]],
    pooled: bool,
    n: usize,
    layer: &FirstLayer3x3<WideTaps>,
    out: &mut [i8],
) {
    let oc = layer.channels;
    let consts: [[LaneRequant; 2]; G] = core::array::from_fn(|g| {
        let group = &layer.groups[g];
        [
            LaneRequant::new(group, 0, layer.clamp.0),
            LaneRequant::new(group, 1, layer.clamp.0),
        ]
    });
    for (i, out) in out.chunks_mut(oc).take(n).enumerate() {
        let sums: [[__m128i; 2]; G] = if pooled {
            let x = 2 * i;
            let p = [(0, x), (0, x + 1), (1, x), (1, x + 1)]
                .map(|(r0, x)| first_pixel::<G>(rows, r0, x, &layer.taps));
            core::array::from_fn(|g| {
                core::array::from_fn(|h| {
                    let (a, b) = (
                        max_epi32(p[0][g][h], p[1][g][h]),
                        max_epi32(p[2][g][h], p[3][g][h]),
                    );
                    max_epi32(a, b)
                })
            })
        } else {
            first_pixel::<G>(rows, 0, i, &layer.taps)
        };
        for (g, (sums, consts)) in sums.into_iter().zip(&consts).enumerate() {
            requant_store(
                sums,
                consts,
                layer.clamp,
                &mut out[8 * g..(8 * g + 8).min(oc)],
            );
        }
    }
}

/// The sums of `G` groups of eight channels (`taps`) at column `x` of a first layer whose
/// kernel rows start at `rows[r0]`.
#[inline(always)]
fn first_pixel<const G: usize>(
    rows: &[&[i16]],
    r0: usize,
    x: usize,
    taps: &[WideTaps; 4],
) -> [[__m128i; 2]; G] {
    // SAFETY: SSE2 is part of the x86-64 baseline; every load reads a bounds-checked slice of
    // the length it loads (`row[x..x + 4]`, whole halves of the taps).
    unsafe {
        let mut acc = [[_mm_setzero_si128(); 2]; G];
        for r in 0..3 {
            let row = &rows[r0 + r][x..x + 4];
            let a = _mm_set1_epi32(core::ptr::read_unaligned(row.as_ptr() as *const i32));
            let b = _mm_set1_epi32(core::ptr::read_unaligned(row[2..].as_ptr() as *const i32));
            for (acc, taps) in acc.iter_mut().zip(taps) {
                for (h, acc) in acc.iter_mut().enumerate() {
                    let wa = _mm_loadu_si128(taps[r][0][8 * h..].as_ptr() as *const __m128i);
                    let wb = _mm_loadu_si128(taps[r][1][8 * h..].as_ptr() as *const __m128i);
                    let s = _mm_add_epi32(_mm_madd_epi16(a, wa), _mm_madd_epi16(b, wb));
                    *acc = _mm_add_epi32(*acc, s);
                }
            }
        }
        acc
    }
}

#[cfg(test)]
mod tests {
    use super::super::x86::FirstLayerGroup;
    use super::{LaneRequant, requant_store};
    use crate::quant::{Requant, requantize};
    use core::arch::x86_64::*;

    /// The SSE2 requantization with a multiplier and right shift per lane (before the clamp
    /// too), the clamp and the zero point, and the AVX2 one where the CPU has AVX2, equal the
    /// portable reference ([`requantize`]) channel for channel: on random sums, biases,
    /// multipliers, shifts `0..=31`, clamps and group widths, on extremes, on sums whose
    /// results lie within ±300, and on the ties of the rounding division (`x = ±(k + ½) · 2^e`
    /// after the multiplication), where gemmlowp rounds away from zero.
    #[test]
    fn lane_requantization_equals_the_reference() {
        let mut s = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        let mut checked = 0;
        for case in 0..20_000 {
            let ties = case % 2 == 0;
            let e: [i32; 8] = core::array::from_fn(|_| (next() % 32) as i32);
            // A multiplier of exactly 2^30 (one half) turns x into x / 2 before the division.
            // Every fourth odd case takes the extremes: sums ±2^31 and near 0, multipliers
            // 0, 1 and 2^31 − 1.
            let extreme = case % 8 == 3;
            // Every fourth other odd case: sums whose result lies within ±300 (where the int8
            // clamp shows it, not only the check before the clamp).
            let moderate = case % 8 == 5;
            let m: [i32; 8] = core::array::from_fn(|_| match (ties, extreme) {
                (true, _) => 1 << 30,
                (_, true) => [0, 1, 1 << 30, i32::MAX][(next() % 4) as usize],
                _ => (next() >> 33) as i32,
            });
            let bias: [i32; 8] = core::array::from_fn(|_| {
                if ties || extreme {
                    0
                } else {
                    (next() % 20_001) as i32 - 10_000
                }
            });
            let x: [i32; 8] = core::array::from_fn(|l| match (ties, l % 2) {
                // Ties: 2x = ±(2k + 1) · 2^e, so x / 2 sits exactly half-way.
                (true, sign) if e[l] >= 1 => {
                    let k = (next() % 1000) as i64;
                    let t = ((2 * k + 1) << (e[l] - 1)) * if sign == 0 { 1 } else { -1 };
                    (2 * t).clamp(i32::MIN as i64, i32::MAX as i64) as i32
                }
                _ if extreme => [i32::MIN, i32::MIN + 1, -1, 0, 1, i32::MAX][(next() % 6) as usize],
                _ if moderate && m[l] > 0 => {
                    // x ≈ t · 2^(31 + e) / m for t in ±300 with three random decimals.
                    let t = (next() % 600_001) as i128 - 300_000;
                    let x = (t << (31 + e[l])) / (1000 * m[l] as i128) - bias[l] as i128;
                    x.clamp(i32::MIN as i128, i32::MAX as i128) as i32
                }
                _ => next() as i32,
            });
            let zp = (next() % 256) as i32 - 128;
            let lo = if case % 3 == 0 { 0 } else { -128 } - zp;
            let clamp = (lo, 127 - zp, zp);
            let n = 1 + (next() % 8) as usize;
            let group = FirstLayerGroup {
                bias,
                multiplier: m,
                right_shift: e,
            };
            let consts = [
                LaneRequant::new(&group, 0, clamp.0),
                LaneRequant::new(&group, 1, clamp.0),
            ];
            // SAFETY: SSE2 is part of the x86-64 baseline; whole halves of `x` are loaded.
            let sums =
                unsafe { [0, 4].map(|h| _mm_loadu_si128(x[h..].as_ptr() as *const __m128i)) };
            let mut out = [0i8; 8];
            requant_store(sums, &consts, clamp, &mut out[..n]);
            // The AVX2 requantization and store of the same group, where the CPU has AVX2.
            let avx2 = crate::simd::Avx2::detect().map(|_| {
                let mut out = [0i8; 8];
                // SAFETY: AVX2 is available (detected); a 32-byte load of the whole `x`.
                unsafe {
                    let acc = _mm256_loadu_si256(x.as_ptr() as *const __m256i);
                    crate::simd::x86::requant_store::<1>([acc], &[group], clamp, &mut out[..n]);
                }
                out
            });
            let rq = |l: usize| Requant {
                multiplier: m[l],
                shift: -(e[l] as i8),
            };
            // Before the clamp too (the clamp would hide most of the random sums' results), on
            // both paths: any lower bound, and one of at least 0 (negative sums taken as 0).
            for relu in [false, true] {
                let consts = [0, 1].map(|h| LaneRequant::new(&group, h, if relu { 0 } else { -1 }));
                let mut unclamped = [0i32; 8];
                for (h, c) in consts.iter().enumerate() {
                    // SAFETY: as above; a 16-byte store into four elements of `unclamped`.
                    unsafe {
                        let lanes = if relu {
                            c.apply::<true>(sums[h])
                        } else {
                            c.apply::<false>(sums[h])
                        };
                        _mm_storeu_si128(unclamped[4 * h..].as_mut_ptr() as *mut __m128i, lanes);
                    }
                }
                for l in 0..8 {
                    let sum = x[l].wrapping_add(bias[l]);
                    let exact = requantize(if relu { sum.max(0) } else { sum }, rq(l));
                    assert_eq!(
                        unclamped[l], exact,
                        "unclamped (relu {relu}): x {} bias {} m {} e {}",
                        x[l], bias[l], m[l], e[l]
                    );
                }
            }
            for l in 0..8 {
                let want =
                    requantize(x[l].wrapping_add(bias[l]), rq(l)).clamp(clamp.0, clamp.1) + zp;
                let got = if l < n { out[l] } else { 0 };
                let want = if l < n { want as i8 } else { 0 };
                assert_eq!(
                    got, want,
                    "x {} bias {} m {} e {} clamp {clamp:?}",
                    x[l], bias[l], m[l], e[l]
                );
                if let Some(avx2) = avx2 {
                    let got = if l < n { avx2[l] } else { 0 };
                    assert_eq!(
                        got, want,
                        "AVX2: x {} bias {} m {} e {}",
                        x[l], bias[l], m[l], e[l]
                    );
                }
                checked += 1;
            }
        }
        assert_eq!(checked, 160_000);
    }
}
