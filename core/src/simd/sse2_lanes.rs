//! SSE2 kernels with output channels in vector lanes (the x86-64 baseline), beside the AVX2
//! ones of `x86.rs`, with their layouts and exact integer arithmetic, so the same logits:
//!
//! - Winograd's F(2×2, 3×3) for 3×3 int8 convolutions on whole maps ([`Sse2::conv_winograd`]),
//!   on weights prepared once (`Model::prepare`; on a CPU without AVX2 they are transformed by
//!   [`winograd_weights_scalar`]), four output channels per 128-bit half of a block;
//! - the int8 3×3 first layer ([`Sse2::first_layer_3x3_wide_row`]), its input widened to int16.
//!
//! SSE2 has no per-lane shifts and no 32-bit maximum, so sums are requantized one channel at a
//! time ([`requant_scalar`], the scalar twin of the AVX2 vector requantization).
#![allow(unsafe_code)]

use super::winograd_blocks;
use super::x86::{
    FirstLayer3x3, FirstLayerGroup, Sse2, WINOGRAD_MAX_PAIRS, WINOGRAD_TILES, WideTaps,
    WinogradLayer, check_winograd_inputs,
};
use core::arch::x86_64::*;

/// The transformed weights of [`super::Avx2::winograd_weights`], computed without AVX2 (one
/// output and input channel at a time, `(2G) w (2G)ᵀ` in two passes of F(2, 3)): the same
/// blocks, bit for bit.
pub fn winograd_weights_scalar((weights, c, oc): (&[i8], usize, usize), v: &mut [[i16; 16]]) {
    let (pairs, groups, k) = (c / 2, oc.div_ceil(8), 9 * c);
    assert!(c.is_multiple_of(2) && (1..=WINOGRAD_MAX_PAIRS).contains(&pairs));
    assert!((1..=64).contains(&oc) && v.len() == winograd_blocks(c, oc));
    assert!(weights.len() >= oc * k);
    // Channels past `oc` in the last group stay zero.
    v.fill([0; 16]);
    // [2a, a + b + c, a − b + c, 2c]: F(2, 3) along one axis with 2G.
    let f23 = |a: i16, b: i16, c: i16| [2 * a, a + b + c, a - b + c, 2 * c];
    for o in 0..oc {
        let (g, lane) = (o / 8, o % 8);
        for ci in 0..c {
            let w = |ky: usize, kx: usize| i16::from(weights[o * k + (3 * ky + kx) * c + ci]);
            // Along the kernel's rows (per column kx), then along its columns.
            let cols: [[i16; 4]; 3] = core::array::from_fn(|kx| f23(w(0, kx), w(1, kx), w(2, kx)));
            for i in 0..4 {
                let row = f23(cols[0][i], cols[1][i], cols[2][i]);
                for (j, r) in row.into_iter().enumerate() {
                    v[((4 * i + j) * pairs + ci / 2) * groups + g][2 * lane + ci % 2] = r;
                }
            }
        }
    }
}

/// One lane of the AVX2 vector requantization (`requant8`): gemmlowp's
/// SaturatingRoundingDoublingHighMul with a non-negative multiplier `m` (the low 32 bits of
/// `⌊(x·m + 2^30) / 2^31⌋`), RoundingDivideByPOT by `e` (`0..=31`), the clamp to `[lo, hi]`
/// and the zero point.
#[inline(always)]
pub fn requant_scalar(x: i32, m: i32, e: i32, (lo, hi, zp): (i32, i32, i32)) -> i32 {
    let high = ((i64::from(x) * i64::from(m) + (1 << 30)) >> 31) as i32;
    let mask = 1i32.wrapping_shl(e as u32).wrapping_sub(1);
    let threshold = ((mask as u32) >> 1) as i32 + i32::from(high < 0);
    let rounded = (high >> e) + i32::from((high & mask) > threshold);
    rounded.max(lo).min(hi) + zp
}

/// The sums `acc` of up to eight channels of one group (`group`: bias, multiplier, right
/// shift per lane) requantized into `out` (`out.len()` channels).
#[inline(always)]
fn requant_lanes(acc: &[i32; 8], group: &FirstLayerGroup, clamp: (i32, i32, i32), out: &mut [i8]) {
    for (l, o) in out.iter_mut().enumerate() {
        let x = acc[l].wrapping_add(group.bias[l]);
        *o = requant_scalar(x, group.multiplier[l], group.right_shift[l], clamp) as i8;
    }
}

impl Sse2 {
    /// [`super::Avx2::winograd_inputs`] on SSE2 (eight channels per vector; `u` laid out the
    /// same way).
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
        let rows = data.len() / (w * c).max(1);
        let columns = 2 * count + 2;
        // SAFETY (whole body): SSE2 is part of the x86-64 baseline; every load and store goes
        // through a bounds-checked slice of the length it touches.
        unsafe {
            let zero = _mm_setzero_si128();
            for q in (0..c).step_by(8) {
                let n = (c - q).min(8);
                // `t[j][i]`: row i of `Bᵀ d` for pixel column `x + j`.
                let mut t = [[zero; 4]; 2 * WINOGRAD_TILES + 2];
                for (j, t) in t.iter_mut().enumerate().take(columns) {
                    let mut d = [zero; 4];
                    for (r, d) in d.iter_mut().enumerate() {
                        let (iy, ix) = (y + r, x + j);
                        if iy >= rows || ix >= w {
                            continue;
                        }
                        let at = (iy * w + ix) * c + q;
                        let mut bytes = [0i8; 8];
                        bytes[..n].copy_from_slice(&data[at..at + n]);
                        let v = _mm_loadl_epi64(bytes.as_ptr() as *const __m128i);
                        // Sign extension: each byte paired with its sign mask.
                        *d = _mm_unpacklo_epi8(v, _mm_cmpgt_epi8(zero, v));
                    }
                    *t = winograd_bt!(_mm_add_epi16, _mm_sub_epi16, d);
                }
                winograd_b_rows!(
                    _mm_add_epi16,
                    _mm_sub_epi16,
                    t,
                    count,
                    (u, stride),
                    |at, r| {
                        let at = &mut at[q..q + 8];
                        _mm_storeu_si128(at.as_mut_ptr() as *mut __m128i, r);
                    }
                );
            }
        }
    }

    /// [`super::Avx2::conv_winograd`] on SSE2: per group of eight channels, one `pmaddwd` per
    /// pair, half block and tile (all tiles share each weight vector loaded), the output
    /// transform in vectors, then the pool's maximum and the requantization per channel.
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
        for g in 0..layer.channels.div_ceil(8) {
            match tiles {
                1 => winograd_sse2::<1>(u, stride, pooled, layer, g, out),
                2 => winograd_sse2::<2>(u, stride, pooled, layer, g, out),
                3 => winograd_sse2::<3>(u, stride, pooled, layer, g, out),
                _ => winograd_sse2::<4>(u, stride, pooled, layer, g, out),
            }
        }
    }
}

/// [`Sse2::conv_winograd`] for group `g` (channels `8g..8g + 8`), `P` tiles.
#[inline(always)]
fn winograd_sse2<const P: usize>(
    u: &[i16],
    stride: usize,
    pooled: bool,
    layer: &WinogradLayer<'_>,
    g: usize,
    out: &mut [i8],
) {
    let (oc, pairs, groups) = (layer.channels, layer.pairs, layer.channels.div_ceil(8));
    let v = layer.v;
    let (lo, hi) = (8 * g, (8 * g + 8).min(oc));
    // `m[ξ][t]`: tile t's sums at position ξ, channels 8g..8g + 4 and 8g + 4..8g + 8.
    let mut m = [[[0i32; 8]; P]; 16];
    // SAFETY (whole body): SSE2 is part of the x86-64 baseline; the reads of `u` stay inside it
    // (the caller asserted `P` tiles of 16 positions `stride ≥ 2 · pairs` apart), those of `v`
    // inside its `16 · pairs · groups` blocks (`WinogradLayer::new` checked), and `m` and `y`
    // are read and written through bounds-checked references.
    unsafe {
        for (xi, m) in m.iter_mut().enumerate() {
            let mut acc = [[_mm_setzero_si128(); 2]; P];
            // Position ξ's blocks of group g, `groups` apart, and its pairs in each tile (the
            // last read: block `(ξ · pairs + pairs − 1) · groups + g < 16 · pairs · groups`,
            // pair `(P − 1) · 16 · stride + ξ · stride + 2 · pairs − 1 < P · 16 · stride`).
            let w = v[xi * pairs * groups + g..].as_ptr();
            let at = u[xi * stride..].as_ptr();
            for p in 0..pairs {
                let block = w.add(p * groups) as *const i16;
                let w0 = _mm_loadu_si128(block as *const __m128i);
                let w1 = _mm_loadu_si128(block.add(8) as *const __m128i);
                for (t, acc) in acc.iter_mut().enumerate() {
                    let pair = at.add(t * 16 * stride + 2 * p) as *const i32;
                    let x = _mm_set1_epi32(core::ptr::read_unaligned(pair));
                    acc[0] = _mm_add_epi32(acc[0], _mm_madd_epi16(x, w0));
                    acc[1] = _mm_add_epi32(acc[1], _mm_madd_epi16(x, w1));
                }
            }
            for (m, acc) in m.iter_mut().zip(acc) {
                _mm_storeu_si128(m.as_mut_ptr() as *mut __m128i, acc[0]);
                _mm_storeu_si128(m[4..].as_mut_ptr() as *mut __m128i, acc[1]);
            }
        }
        let group: &FirstLayerGroup = &layer.groups[g];
        for t in 0..P {
            // Aᵀ M A with Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]], rows first, then the exact
            // division by four; `y[k]` output k (row-major in the tile) of the eight channels.
            let mut y = [[0i32; 8]; 4];
            for h in 0..2 {
                let at = |xi: usize| _mm_loadu_si128(m[xi][t][4 * h..].as_ptr() as *const __m128i);
                let (mut top, mut bottom) = ([_mm_setzero_si128(); 4], [_mm_setzero_si128(); 4]);
                for j in 0..4 {
                    let col = [at(j), at(4 + j), at(8 + j), at(12 + j)];
                    [top[j], bottom[j]] = winograd_at!(_mm_add_epi32, _mm_sub_epi32, col);
                }
                for (a, r) in [top, bottom].into_iter().enumerate() {
                    let [left, right] = winograd_at!(_mm_add_epi32, _mm_sub_epi32, r);
                    let (l, rt) = (_mm_srai_epi32(left, 2), _mm_srai_epi32(right, 2));
                    _mm_storeu_si128(y[2 * a][4 * h..].as_mut_ptr() as *mut __m128i, l);
                    _mm_storeu_si128(y[2 * a + 1][4 * h..].as_mut_ptr() as *mut __m128i, rt);
                }
            }
            if pooled {
                // A 2×2 max pool (requantization is monotonic).
                let best = core::array::from_fn(|l| y[0][l].max(y[1][l]).max(y[2][l].max(y[3][l])));
                requant_lanes(
                    &best,
                    group,
                    layer.clamp,
                    &mut out[t * oc + lo..t * oc + hi],
                );
            } else {
                for (k, y) in y.iter().enumerate() {
                    let at = (4 * t + k) * oc;
                    requant_lanes(y, group, layer.clamp, &mut out[at + lo..at + hi]);
                }
            }
        }
    }
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
        let oc = layer.channels;
        for i in 0..n {
            for g in 0..oc.div_ceil(8) {
                let (lo, hi) = (i * oc + 8 * g, i * oc + (8 * g + 8).min(oc));
                let taps = &layer.taps[g];
                let sums = if pooled {
                    let x = 2 * i;
                    let p = [(0, x), (0, x + 1), (1, x), (1, x + 1)]
                        .map(|(r0, x)| first_pixel(rows, r0, x, taps));
                    core::array::from_fn(|l| p[0][l].max(p[1][l]).max(p[2][l].max(p[3][l])))
                } else {
                    first_pixel(rows, 0, i, taps)
                };
                requant_lanes(&sums, &layer.groups[g], layer.clamp, &mut out[lo..hi]);
            }
        }
    }
}

/// The sums of the eight channels of one group (`taps`) at column `x` of a first layer whose
/// kernel rows start at `rows[r0]`.
#[inline(always)]
fn first_pixel(rows: &[&[i16]], r0: usize, x: usize, taps: &WideTaps) -> [i32; 8] {
    let mut sums = [0i32; 8];
    // SAFETY: SSE2 is part of the x86-64 baseline; every load reads a bounds-checked slice of
    // the length it loads (`row[x..x + 4]`, whole halves of the taps), the stores whole
    // halves of `sums`.
    unsafe {
        let mut acc = [_mm_setzero_si128(); 2];
        for (r, taps) in taps.iter().enumerate() {
            let row = &rows[r0 + r][x..x + 4];
            let a = _mm_set1_epi32(core::ptr::read_unaligned(row.as_ptr() as *const i32));
            let b = _mm_set1_epi32(core::ptr::read_unaligned(row[2..].as_ptr() as *const i32));
            for (h, acc) in acc.iter_mut().enumerate() {
                let wa = _mm_loadu_si128(taps[0][8 * h..].as_ptr() as *const __m128i);
                let wb = _mm_loadu_si128(taps[1][8 * h..].as_ptr() as *const __m128i);
                let s = _mm_add_epi32(_mm_madd_epi16(a, wa), _mm_madd_epi16(b, wb));
                *acc = _mm_add_epi32(*acc, s);
            }
        }
        _mm_storeu_si128(sums.as_mut_ptr() as *mut __m128i, acc[0]);
        _mm_storeu_si128(sums[4..].as_mut_ptr() as *mut __m128i, acc[1]);
    }
    sums
}

#[cfg(test)]
mod tests {
    use super::requant_scalar;

    /// `requant_scalar` equals the AVX2 vector requantization lane for lane, on random sums and
    /// on the ties of the rounding division (`x = ±(k + ½) · 2^e` after the multiplication),
    /// where gemmlowp rounds away from zero.
    #[test]
    fn scalar_requantization_equals_the_vector_one() {
        let Some(avx2) = super::super::Avx2::detect() else {
            return; // nothing to compare with on this CPU
        };
        let mut s = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        let mut checked = 0;
        for case in 0..20_000 {
            let e = (next() % 32) as i32;
            // A multiplier of exactly 2^30 (one half) turns x into x / 2 before the division.
            let m = if case % 2 == 0 {
                1 << 30
            } else {
                (next() >> 33) as i32
            };
            let x: [i32; 8] = core::array::from_fn(|l| match (case % 2, l % 2) {
                // Ties: 2x = ±(2k + 1) · 2^e, so x / 2 sits exactly half-way.
                (0, _) if e >= 1 => {
                    let k = (next() % 1000) as i64;
                    let t = ((2 * k + 1) << (e - 1)) * if l % 2 == 0 { 1 } else { -1 };
                    (2 * t).clamp(i32::MIN as i64, i32::MAX as i64) as i32
                }
                _ => next() as i32,
            });
            let clamp = (-128 - 5, 127 - 5, 5);
            let want = avx2.vectorize(|| {
                use core::arch::x86_64::*;
                // SAFETY: AVX2 is available (the token); whole arrays are loaded and stored.
                unsafe {
                    let load = |a: &[i32; 8]| _mm256_loadu_si256(a.as_ptr() as *const __m256i);
                    let r = super::super::x86::requant8(
                        load(&x),
                        _mm256_set1_epi32(m),
                        _mm256_set1_epi32(e),
                        clamp.0,
                        clamp.1,
                        clamp.2,
                    );
                    let mut out = [0i32; 8];
                    _mm256_storeu_si256(out.as_mut_ptr() as *mut __m256i, r);
                    out
                }
            });
            for l in 0..8 {
                assert_eq!(
                    requant_scalar(x[l], m, e, clamp),
                    want[l],
                    "x {} m {m} e {e}",
                    x[l]
                );
                checked += 1;
            }
        }
        assert_eq!(checked, 160_000);
    }
}
