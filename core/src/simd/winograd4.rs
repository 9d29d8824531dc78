//! Winograd's F(4×4, 3×3) for 3×3 int8 convolutions on weights prepared once
//! (`Model::prepare`), on AVX2 and SSE2: 36 products per 4×4 output tile, input and output
//! channel, instead of 144 (F(2×2, 3×3) takes 64 for the same outputs), exact in integers.
//!
//! With Lavin and Gray's matrices (interpolation points 0, ±1, ±2, ∞) `G` has fractions;
//! its rows scaled by `D = diag(4, 6, 6, 24, 24, 1)` are integers, `G' = D G` (row sums at
//! most 7), and `Bᵀ d B` of int8 inputs stays within ±12,800. The output
//! `Y = Aᵀ D⁻¹ M D⁻¹ A` is `576 Y = Ã M Ãᵀ` with `Ã = 24 Aᵀ D⁻¹ = Aᵀ diag(6, 4, 4, 1, 1, 24)`;
//! the weights' outer rows and columns (0 and 5) carry its two 6s ([`OUTER`]: `G' w G'ᵀ`
//! then stays within ±5,376, so both operands are int16 and `pmaddwd` sums their pair
//! products without saturation), and its rows' powers of two are left to the end
//! (`Ã = diag(1, 2, 4, 4) Â`, [`SCALE`]): output `(k, l)` of `Â M' Âᵀ` is
//! `9 · 2^(6 − SCALE[k] − SCALE[l]) · Y`. It is computed with wrapping 32-bit arithmetic
//! (every step is linear, so the result is right modulo 2^32); multiplying by the inverse of
//! 9 modulo 2^32 gives `2^(6 − …) · Y` modulo 2^32, which is that number itself while
//! `|Y| < 2^25` (a 3×3 int8 convolution over at most 64 channels: `|Y| ≤ 9 · 64 · 128 · 128
//! < 2^24`); an arithmetic shift then gives `Y` exactly, so the logits are the same bit for
//! bit.
#![allow(unsafe_code)]

use super::sse2_lanes::{self, LaneRequant, max_epi32};
use super::x86::{self, Avx2, Sse2, WINOGRAD_MAX_PAIRS, WinogradLayer, check_winograd_inputs};
use core::arch::x86_64::*;
use core::mem::MaybeUninit;

/// Positions of a transformed 6×6 input tile.
pub const POSITIONS: usize = 36;

/// The inverse of 9 modulo 2^32 (`9 · 954,437,177 = 2 · 2^32 + 1`).
const INV9: i32 = 954_437_177;

/// `G' = D G`: the rows of F(4, 3)'s weight transform scaled to integers.
const G_ROWS: [[i16; 3]; 6] = [
    [1, 0, 0],
    [-1, -1, -1],
    [-1, 1, -1],
    [1, 2, 4],
    [1, -2, 4],
    [0, 0, 1],
];

/// The factor of each row (and column) of the transformed weights: 6 for the outer ones, so
/// that the output transform's remaining factors are powers of two.
const OUTER: [i16; 6] = [6, 1, 1, 1, 1, 6];

/// `log2` of the power of two each output row (and column) of `Â` leaves out: `Ã = S Â`,
/// `S = diag(1, 2, 4, 4)`, so output `(k, l)` of `Â M Âᵀ` is `576 Y / 2^(SCALE[k] + SCALE[l])`.
const SCALE: [i32; 4] = [0, 1, 2, 2];

/// Blocks of transformed weights an F(4×4, 3×3) [`WinogradLayer`] of `c` input and `oc` output
/// channels holds: 36 positions × `c / 2` pairs × `⌈oc / 8⌉` groups.
pub const fn winograd4_blocks(c: usize, oc: usize) -> usize {
    POSITIONS * (c / 2) * oc.div_ceil(8)
}

/// The transformed weights `G' w G'ᵀ` of a 3×3 convolution with weights of at most 8 bits
/// (`weight(o, i)`: weight `i` of output `o`'s row of `9 · c`, OHWI; `c` even, 2 to 64; `oc` up
/// to 64) into `v`, exactly [`winograd4_blocks`] blocks in [`WinogradLayer::new`]'s order (one
/// weight at a time: it runs once, when a model is prepared).
pub fn winograd4_weights(
    (weight, c, oc): (&dyn Fn(usize, usize) -> i8, usize, usize),
    v: &mut [[i16; 16]],
) {
    let pairs = c / 2;
    let groups = oc.div_ceil(8);
    assert!(c.is_multiple_of(2) && (1..=WINOGRAD_MAX_PAIRS).contains(&pairs));
    assert!((1..=64).contains(&oc) && v.len() == winograd4_blocks(c, oc));
    // Channels past `oc` in the last group stay zero.
    v.fill([0; 16]);
    for o in 0..oc {
        let (g, lane) = (o / 8, o % 8);
        for ci in 0..c {
            let w = |ky: usize, kx: usize| i16::from(weight(o, (3 * ky + kx) * c + ci));
            // `G' w` (along the kernel's rows), then `· G'ᵀ` (along its columns).
            let t: [[i16; 3]; 6] = core::array::from_fn(|i| {
                core::array::from_fn(|kx| (0..3).map(|ky| G_ROWS[i][ky] * w(ky, kx)).sum())
            });
            for (i, t) in t.iter().enumerate() {
                for (j, g_row) in G_ROWS.iter().enumerate() {
                    let r: i16 = (0..3).map(|kx| t[kx] * g_row[kx]).sum();
                    // Rows and columns 0 and 5 times 6: the factors of `Ã` that are not
                    // powers of two (see the module), within ±5,376.
                    let r = r * OUTER[i] * OUTER[j];
                    v[((6 * i + j) * pairs + ci / 2) * groups + g][2 * lane + ci % 2] = r;
                }
            }
        }
    }
}

/// `Bᵀ d` of F(4, 3) along one axis with the ISA's 16-bit `$add` and `$sub` (wrapping; the
/// results fit): rows `[4, 0, −5, 0, 1, 0]`, `[0, −4, −4, 1, 1, 0]`, `[0, 4, −4, −1, 1, 0]`,
/// `[0, −2, −1, 2, 1, 0]`, `[0, 2, −1, −2, 1, 0]`, `[0, 4, 0, −5, 0, 1]`.
macro_rules! bt6 {
    ($add:ident, $sub:ident, $d:expr) => {{
        let [d0, d1, d2, d3, d4, d5] = $d;
        let (a, s, e, f) = ($sub(d0, d2), $add(d1, d2), $sub(d1, d2), $sub(d3, d1));
        let (a2, s2, e2, f2, d42) = ($add(a, a), $add(s, s), $add(e, e), $add(f, f), $sub(d4, d2));
        [
            $add($add(a2, a2), d42),
            $sub($add(d3, d4), $add(s2, s2)),
            $add($add(e2, e2), $sub(d4, d3)),
            $add(f2, d42),
            $sub(d42, f2),
            $sub($sub(d5, d3), $add(f2, f2)),
        ]
    }};
}

/// `Â m` of F(4, 3) along one axis with the ISA's 32-bit `$add`, `$sub` and shift left `$shl`
/// (wrapping): rows `[1, 4, 4, 1, 1, 0]`, `[0, 2, −2, 1, −1, 0]`, `[0, 1, 1, 1, 1, 0]`,
/// `[0, 1, −1, 2, −2, 1]`, the output transform `Ã = Aᵀ diag(6, 4, 4, 1, 1, 24)` once the
/// weights' outer rows carry its 6s ([`OUTER`]) and its rows' powers of two are left to the
/// division ([`SCALE`]).
macro_rules! at6 {
    ($add:ident, $sub:ident, $shl:ident, $m:expr) => {{
        let [m0, m1, m2, m3, m4, m5] = $m;
        let (s12, d12, s34, d34) = ($add(m1, m2), $sub(m1, m2), $add(m3, m4), $sub(m3, m4));
        [
            $add($add(m0, $shl::<2>(s12)), s34),
            $add($shl::<1>(d12), d34),
            $add(s12, s34),
            $add($add(d12, $shl::<1>(d34)), m5),
        ]
    }};
}

/// The output positions `(row, column)` of a tile pooled by 2×2 into output `q` (`0..4`,
/// row-major in the pooled 2×2).
const fn pooled_from(q: usize) -> [usize; 4] {
    let (r, c) = (2 * (q / 2), 2 * (q % 2));
    [
        4 * r + c,
        4 * r + c + 1,
        4 * (r + 1) + c,
        4 * (r + 1) + c + 1,
    ]
}

/// The bounds both ISAs' input transforms rely on: at most 64 channels, positions a multiple
/// of 16 int16 apart and at least `c`, room in `u` for one tile's 36 positions.
fn check_inputs((c, u, stride): (usize, &[i16], usize)) {
    check_winograd_inputs(c, 1, (u, stride));
    assert!(u.len() >= POSITIONS * stride);
}

impl Avx2 {
    /// `Bᵀ d B` of one 6×6 input tile at `(y, x)` of a map (`data`: rows of `w` pixels of
    /// `c` int8 channels; pixels past its rows or columns read as zero), its 36 positions
    /// `stride` int16 apart in `u` (`stride` a multiple of 16, at least `c`), sixteen
    /// channels per vector.
    #[inline(always)]
    pub fn winograd4_inputs(
        self,
        (data, w, c): (&[i8], usize, usize),
        (y, x): (usize, usize),
        u: &mut [i16],
        stride: usize,
    ) {
        check_inputs((c, u, stride));
        // SAFETY: the token proves AVX2 is available; the asserts bound every access.
        unsafe { inputs4_avx2((data, w, c), (y, x), u, stride) }
    }

    /// Outputs of `tiles` (1 to [`super::WINOGRAD_TILES`]) 4×4 tiles of an F(4×4, 3×3)
    /// [`WinogradLayer`], all their channels: `u` holds each tile's
    /// [`Avx2::winograd4_inputs`], tiles `36 · stride` apart. The products as
    /// [`Avx2::conv_winograd`]'s (two groups of eight channels at a time); then `Â M Âᵀ`
    /// and the exact division (see the module). With `pooled`, four outputs per tile (its 2×2 max
    /// pools, row-major); otherwise its sixteen, row-major.
    #[inline(always)]
    pub fn conv_winograd4(
        self,
        (u, stride): (&[i16], usize),
        tiles: usize,
        pooled: bool,
        layer: &WinogradLayer<'_>,
        out: &mut [i8],
    ) {
        assert_eq!(layer.positions, POSITIONS);
        layer.check_call((u, stride), tiles, pooled, out);
        // SAFETY: the token proves AVX2 is available; `check_call` bounded the reads of
        // `winograd_acc` inside `u`, `new` those inside `v`; groups `g0 .. g0 + G` exist.
        unsafe { x86::by_group_pairs!(winograd4_avx2(u, stride, tiles, pooled, layer, out)) }
    }
}

#[target_feature(enable = "avx2")]
fn inputs4_avx2(
    (data, w, c): (&[i8], usize, usize),
    (y, x): (usize, usize),
    u: &mut [i16],
    stride: usize,
) {
    let rows = data.len() / (w * c).max(1);
    // A tile inside the map (most of them) reads its 6×6 pixels without per-pixel checks.
    let inside = y + 6 <= rows && x + 6 <= w;
    for q in (0..c).step_by(16) {
        let n = (c - q).min(16);
        // `t[j][i]`: row i of `Bᵀ d` for pixel column `x + j` (each written once below, not
        // zeroed first: that was a `memset` per call).
        let mut t = [MaybeUninit::<[__m256i; 6]>::uninit(); 6];
        if inside && n == 16 {
            // Pixel (r, j) at `(r · w + j) · c` in `block`: its last 16 bytes end the slice.
            let block = &data[(y * w + x) * c + q..((y + 5) * w + x + 5) * c + q + 16];
            for (j, t) in t.iter_mut().enumerate() {
                let d: [__m256i; 6] = core::array::from_fn(|r| {
                    // SAFETY: 16 bytes at `(r · w + j) · c ≤ (5w + 5) · c`, inside `block`.
                    unsafe {
                        let at = block.as_ptr().add((r * w + j) * c);
                        _mm256_cvtepi8_epi16(_mm_loadu_si128(at as *const __m128i))
                    }
                });
                t.write(bt6!(_mm256_add_epi16, _mm256_sub_epi16, d));
            }
        } else {
            inputs4_columns_avx2((data, w, c), (rows, y, x), (q, n), &mut t);
        }
        // SAFETY: every element was written above.
        let t = |j: usize, i: usize| unsafe { t[j].assume_init_ref()[i] };
        // · B along each row: position 6i + j.
        for i in 0..6 {
            let a = [t(0, i), t(1, i), t(2, i), t(3, i), t(4, i), t(5, i)];
            let row = bt6!(_mm256_add_epi16, _mm256_sub_epi16, a);
            for (j, r) in row.into_iter().enumerate() {
                let at = &mut u[(6 * i + j) * stride + q..][..16];
                // SAFETY: a 32-byte store into 16 int16 of `u` (bounds-checked above).
                unsafe { _mm256_storeu_si256(at.as_mut_ptr() as *mut __m256i, r) };
            }
        }
    }
}

/// The columns `Bᵀ d` of [`inputs4_avx2`]'s tile for channels `q..q + n` where the tile
/// reaches past the map or `n < 16`: pixels past the map read as zero, a short channel run
/// through a zeroed copy.
#[target_feature(enable = "avx2")]
fn inputs4_columns_avx2(
    (data, w, c): (&[i8], usize, usize),
    (rows, y, x): (usize, usize, usize),
    (q, n): (usize, usize),
    t: &mut [MaybeUninit<[__m256i; 6]>; 6],
) {
    let zero = _mm256_setzero_si256();
    for (j, t) in t.iter_mut().enumerate() {
        let mut d = [zero; 6];
        for (r, d) in d.iter_mut().enumerate() {
            let (iy, ix) = (y + r, x + j);
            if iy >= rows || ix >= w {
                continue;
            }
            let at = (iy * w + ix) * c + q;
            let v = if let Ok(all) = <&[i8; 16]>::try_from(&data[at..at + n]) {
                // SAFETY: 16 bytes inside `data` (the slice above is bounds-checked).
                unsafe { _mm_loadu_si128(all.as_ptr() as *const __m128i) }
            } else {
                let mut bytes = [0i8; 16];
                bytes[..n].copy_from_slice(&data[at..at + n]);
                // SAFETY: a whole `[i8; 16]`.
                unsafe { _mm_loadu_si128(bytes.as_ptr() as *const __m128i) }
            };
            *d = _mm256_cvtepi8_epi16(v);
        }
        t.write(bt6!(_mm256_add_epi16, _mm256_sub_epi16, d));
    }
}

/// [`Avx2::conv_winograd4`] for the `G` groups of eight channels from group `g0`, `P` tiles.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn winograd4_avx2<const G: usize, const P: usize>(
    u: &[i16],
    stride: usize,
    pooled: bool,
    layer: &WinogradLayer<'_>,
    g0: usize,
    out: &mut [i8],
) {
    let oc = layer.channels;
    let (lo, hi) = (8 * g0, (8 * (g0 + G)).min(oc));
    let groups = &layer.groups[g0..];
    // `m[ξ][t]`: tile t's sums at position ξ, each written once below (not zeroed first).
    let mut m = [[[MaybeUninit::<__m256i>::uninit(); G]; P]; POSITIONS];
    for (xi, m) in m.iter_mut().enumerate() {
        // SAFETY: see `conv_winograd4`.
        let acc = unsafe { x86::winograd_acc::<G, P>(u, stride, xi, layer, g0) };
        for (m, acc) in m.iter_mut().zip(acc) {
            for (m, acc) in m.iter_mut().zip(acc) {
                m.write(acc);
            }
        }
    }
    // SAFETY: every element was written above.
    let m = |xi: usize, t: usize, g: usize| unsafe { m[xi][t][g].assume_init() };
    let inv9 = _mm256_set1_epi32(INV9);
    let per_tile = if pooled { 4 } else { 16 };
    for (t, out) in out.chunks_mut(per_tile * oc).take(P).enumerate() {
        // `y[k][g]`: output k (row-major in the tile) of group g.
        let mut y = [[_mm256_setzero_si256(); G]; 16];
        #[allow(clippy::needless_range_loop)]
        for g in 0..G {
            // Â along the columns, then along the rows; then the exact division.
            let mut cols = [[_mm256_setzero_si256(); 6]; 4];
            for j in 0..6 {
                let col = [
                    m(j, t, g),
                    m(6 + j, t, g),
                    m(12 + j, t, g),
                    m(18 + j, t, g),
                    m(24 + j, t, g),
                    m(30 + j, t, g),
                ];
                for (k, a) in at6!(_mm256_add_epi32, _mm256_sub_epi32, _mm256_slli_epi32, col)
                    .into_iter()
                    .enumerate()
                {
                    cols[k][j] = a;
                }
            }
            for (k, col) in cols.into_iter().enumerate() {
                for (l, r) in at6!(_mm256_add_epi32, _mm256_sub_epi32, _mm256_slli_epi32, col)
                    .into_iter()
                    .enumerate()
                {
                    let shift = _mm_cvtsi32_si128(6 - SCALE[k] - SCALE[l]);
                    y[4 * k + l][g] = _mm256_sra_epi32(_mm256_mullo_epi32(r, inv9), shift);
                }
            }
        }
        if pooled {
            for q in 0..4 {
                let [a, b, c, d] = pooled_from(q);
                let best: [__m256i; G] = core::array::from_fn(|g| {
                    _mm256_max_epi32(
                        _mm256_max_epi32(y[a][g], y[b][g]),
                        _mm256_max_epi32(y[c][g], y[d][g]),
                    )
                });
                let o = q * oc;
                x86::requant_store(best, groups, layer.clamp, &mut out[o + lo..o + hi]);
            }
        } else {
            for (k, y) in y.into_iter().enumerate() {
                let o = k * oc;
                x86::requant_store(y, groups, layer.clamp, &mut out[o + lo..o + hi]);
            }
        }
    }
}

impl Sse2 {
    /// [`Avx2::winograd4_inputs`] on SSE2 (eight channels per vector; `u` laid out the same
    /// way).
    #[inline(always)]
    pub fn winograd4_inputs(
        self,
        (data, w, c): (&[i8], usize, usize),
        (y, x): (usize, usize),
        u: &mut [i16],
        stride: usize,
    ) {
        check_inputs((c, u, stride));
        let rows = data.len() / (w * c).max(1);
        // SAFETY (whole body): SSE2 is part of the x86-64 baseline; every load and store goes
        // through a bounds-checked slice of the length it touches.
        unsafe {
            let zero = _mm_setzero_si128();
            for q in (0..c).step_by(8) {
                let n = (c - q).min(8);
                let mut t = [[zero; 6]; 6];
                for (j, t) in t.iter_mut().enumerate() {
                    let mut d = [zero; 6];
                    for (r, d) in d.iter_mut().enumerate() {
                        let (iy, ix) = (y + r, x + j);
                        if iy >= rows || ix >= w {
                            continue;
                        }
                        let at = (iy * w + ix) * c + q;
                        let v = if let Ok(eight) = <&[i8; 8]>::try_from(&data[at..at + n]) {
                            _mm_loadl_epi64(eight.as_ptr() as *const __m128i)
                        } else {
                            let mut bytes = [0i8; 8];
                            bytes[..n].copy_from_slice(&data[at..at + n]);
                            _mm_loadl_epi64(bytes.as_ptr() as *const __m128i)
                        };
                        // Sign extension: each byte paired with its sign mask.
                        *d = _mm_unpacklo_epi8(v, _mm_cmpgt_epi8(zero, v));
                    }
                    *t = bt6!(_mm_add_epi16, _mm_sub_epi16, d);
                }
                for i in 0..6 {
                    let row = bt6!(_mm_add_epi16, _mm_sub_epi16, t.map(|t| t[i]));
                    for (j, r) in row.into_iter().enumerate() {
                        let at = &mut u[(6 * i + j) * stride + q..][..8];
                        _mm_storeu_si128(at.as_mut_ptr() as *mut __m128i, r);
                    }
                }
            }
        }
    }

    /// [`Avx2::conv_winograd4`] on SSE2: two groups of eight channels and two tiles at a time
    /// (a group count's odd one with all the tiles), the products as
    /// [`Avx2::conv_winograd4`]'s (four channels per 128-bit half), the output transform in
    /// vectors, the exact division
    /// with the low halves of unsigned 32×32-bit products (SSE2 has no `pmulld`), then the
    /// pools' maxima and the requantization in vector lanes.
    #[inline(always)]
    pub fn conv_winograd4(
        self,
        (u, stride): (&[i16], usize),
        tiles: usize,
        pooled: bool,
        layer: &WinogradLayer<'_>,
        out: &mut [i8],
    ) {
        assert_eq!(layer.positions, POSITIONS);
        layer.check_call((u, stride), tiles, pooled, out);
        let groups = layer.channels.div_ceil(8);
        let per_tile = if pooled { 4 } else { 16 } * layer.channels;
        let tile = |t: usize| t * POSITIONS * stride;
        let mut g = 0;
        while g + 2 <= groups {
            // Two groups, two tiles at a time.
            for t in (0..tiles).step_by(2) {
                let (u, out) = (&u[tile(t)..], &mut out[t * per_tile..]);
                if t + 2 <= tiles {
                    winograd4_sse2::<2, 2>(u, stride, pooled, layer, g, out);
                } else {
                    winograd4_sse2::<2, 1>(u, stride, pooled, layer, g, out);
                }
            }
            g += 2;
        }
        if g < groups {
            match tiles {
                1 => winograd4_sse2::<1, 1>(u, stride, pooled, layer, g, out),
                2 => winograd4_sse2::<1, 2>(u, stride, pooled, layer, g, out),
                3 => winograd4_sse2::<1, 3>(u, stride, pooled, layer, g, out),
                _ => winograd4_sse2::<1, 4>(u, stride, pooled, layer, g, out),
            }
        }
    }
}

/// `(r · 9⁻¹ mod 2^32) >> shift` per lane: `r / (9 · 2^shift)` for `r` a multiple of it (see
/// the module).
#[inline(always)]
fn div9_sse2(r: __m128i, shift: i32) -> __m128i {
    // SAFETY: SSE2 is part of the x86-64 baseline; register-only operations.
    unsafe {
        let k = _mm_set1_epi32(INV9);
        let even = _mm_mul_epu32(r, k);
        let odd = _mm_mul_epu32(_mm_srli_epi64(r, 32), k);
        // The low halves of the four products, back in lane order.
        let low = _mm_unpacklo_epi32(
            _mm_shuffle_epi32(even, 0b10_00_10_00),
            _mm_shuffle_epi32(odd, 0b10_00_10_00),
        );
        _mm_sra_epi32(low, _mm_cvtsi32_si128(shift))
    }
}

/// [`Sse2::conv_winograd4`] for the `G` groups from `g0` (channels `8g0..8g0 + 8G`), `P` tiles.
#[inline(always)]
fn winograd4_sse2<const G: usize, const P: usize>(
    u: &[i16],
    stride: usize,
    pooled: bool,
    layer: &WinogradLayer<'_>,
    g0: usize,
    out: &mut [i8],
) {
    let oc = layer.channels;
    // `m[ξ][t][g][h]`: tile t's sums at position ξ, group g, half h (each written once below).
    let mut m = [[[[MaybeUninit::<__m128i>::uninit(); 2]; G]; P]; POSITIONS];
    sse2_lanes::check_acc(u, stride, layer, (g0, G, P));
    assert_eq!(layer.positions, POSITIONS);
    for (xi, m) in m.iter_mut().enumerate() {
        // SAFETY: bounds checked above; `xi < POSITIONS = layer.positions`.
        let acc = unsafe { sse2_lanes::winograd_acc::<G, P>(u, stride, xi, layer, g0) };
        for (m, acc) in m.iter_mut().zip(acc) {
            for (m, acc) in m.iter_mut().zip(acc) {
                for (m, acc) in m.iter_mut().zip(acc) {
                    m.write(acc);
                }
            }
        }
    }
    // SAFETY: every element was written above.
    let m = |xi: usize, t: usize, g: usize, h: usize| unsafe { m[xi][t][g][h].assume_init() };
    let per_tile = if pooled { 4 } else { 16 };
    // With at most 24 input channels `|576 Y| ≤ 576 · 9 · 24 · 128 · 128 < 2^31`: the
    // outputs, all brought to `576 Y` by a shift, are exact int32, so a pool takes its maximum
    // first and divides once (four divisions per tile instead of sixteen).
    let pool_first = pooled && 2 * layer.pairs <= 24;
    for g in 0..G {
        let (lo, hi) = (8 * (g0 + g), (8 * (g0 + g) + 8).min(oc));
        let group = &layer.groups[g0 + g];
        let consts = [
            LaneRequant::new(group, 0, layer.clamp.0),
            LaneRequant::new(group, 1, layer.clamp.0),
        ];
        for (t, out) in out.chunks_mut(per_tile * oc).take(P).enumerate() {
            // SAFETY (the transform): SSE2 is part of the x86-64 baseline; register-only.
            let zero = unsafe { _mm_setzero_si128() };
            // `y[k][h]`: output k (row-major in the tile) of half h.
            let mut y = [[zero; 2]; 16];
            #[allow(clippy::needless_range_loop)]
            for h in 0..2 {
                let mut cols = [[zero; 6]; 4];
                for j in 0..6 {
                    let col = [
                        m(j, t, g, h),
                        m(6 + j, t, g, h),
                        m(12 + j, t, g, h),
                        m(18 + j, t, g, h),
                        m(24 + j, t, g, h),
                        m(30 + j, t, g, h),
                    ];
                    // SAFETY: as above.
                    let a = unsafe { at6!(_mm_add_epi32, _mm_sub_epi32, _mm_slli_epi32, col) };
                    for (k, a) in a.into_iter().enumerate() {
                        cols[k][j] = a;
                    }
                }
                for (k, col) in cols.into_iter().enumerate() {
                    // SAFETY: as above.
                    let r = unsafe { at6!(_mm_add_epi32, _mm_sub_epi32, _mm_slli_epi32, col) };
                    for (l, r) in r.into_iter().enumerate() {
                        y[4 * k + l][h] = if pool_first {
                            // `576 Y` (see above). SAFETY: as above.
                            unsafe { _mm_sll_epi32(r, _mm_cvtsi32_si128(SCALE[k] + SCALE[l])) }
                        } else {
                            div9_sse2(r, 6 - SCALE[k] - SCALE[l])
                        };
                    }
                }
            }
            if pooled {
                for q in 0..4 {
                    let [a, b, c, d] = pooled_from(q);
                    let best = core::array::from_fn(|h| {
                        let best =
                            max_epi32(max_epi32(y[a][h], y[b][h]), max_epi32(y[c][h], y[d][h]));
                        if pool_first { div9_sse2(best, 6) } else { best }
                    });
                    let o = q * oc;
                    sse2_lanes::requant_store(best, &consts, layer.clamp, &mut out[o + lo..o + hi]);
                }
            } else {
                for (k, y) in y.into_iter().enumerate() {
                    let o = k * oc;
                    sse2_lanes::requant_store(y, &consts, layer.clamp, &mut out[o + lo..o + hi]);
                }
            }
        }
    }
}
