//! The int8 kernels. Activations are HWC, weights OHWI (conv2d), HWC (depthwise) or `[out][in]`
//! (dense). Every kernel computes an int32 accumulator `bias + Σ x·w` (the input zero point is
//! folded into the bias at export, and padded taps read the input zero point, which is a real
//! zero), requantizes it with [`crate::quant::requantize`], adds the output zero point and
//! clamps to int8 — at the zero point instead of −128 when ReLU is fused. A fused 2×2 max-pool
//! takes the maximum of four requantized values (requantization is monotonic, so this equals
//! pooling the float activations, and equals requantizing the maximum of the four
//! accumulators, which is what the kernels do); average pooling is `(a + b + c + d + 2) >> 2`.
//!
//! The kernels trust their descriptors: [`crate::Model::from_bytes`] has already checked every
//! length and shape, so slicing here cannot fail.

use crate::blob::{ConvDesc, DenseDesc, Padding, Pool};
use crate::model::Shape;
use crate::quant::{Requant, Requant4x2, requantize_valid};
use crate::simd::{Row4, Tile, dot, max4};

/// Largest `kernel_h · kernel_w · in_channels` a convolution may have (the receptive field is
/// gathered into a stack buffer of four windows for fused pooling).
pub const MAX_WINDOW: usize = 576;

/// Consecutive rows of an activation map (HWC): `data` holds rows `y0..` of a map of shape `s`.
/// Streamed execution hands each kernel only the rows it reads; a whole map has `y0 = 0`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rows<'a> {
    /// The rows, each `s.w · s.c` values.
    pub(crate) data: &'a [i8],
    /// Index in the whole map of the first row of `data`.
    pub(crate) y0: usize,
    /// Shape of the whole map.
    pub(crate) s: Shape,
}

impl<'a> Rows<'a> {
    /// The whole map.
    pub(crate) fn whole(data: &'a [i8], s: Shape) -> Rows<'a> {
        Rows { data, y0: 0, s }
    }
}

#[inline(always)]
fn to_int8(acc: i32, rq: Requant, zero_point: i8, relu: bool) -> i8 {
    let lo = if relu { zero_point as i32 } else { -128 };
    (requantize_valid(acc, rq).saturating_add(zero_point as i32)).clamp(lo, 127) as i8
}

#[inline(always)]
fn combine(pool: Pool, v: [i8; 4]) -> i8 {
    match pool {
        Pool::Max2 | Pool::None => v[0].max(v[1]).max(v[2]).max(v[3]),
        Pool::Avg2 => ((v[0] as i32 + v[1] as i32 + v[2] as i32 + v[3] as i32 + 2) >> 2) as i8,
    }
}

/// Padding before (top/left) for a kernel of size `k`.
pub(crate) fn pad_before(padding: Padding, k: usize) -> usize {
    match padding {
        Padding::Valid => 0,
        Padding::Same => (k - 1) / 2,
    }
}

/// Gather the receptive field of output position `(oy, ox)` into `patch` (length kh·kw·c).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn gather(
    src: Rows<'_>,
    kh: usize,
    kw: usize,
    pad: (usize, usize),
    oy: usize,
    ox: usize,
    zp: i8,
    patch: &mut [i8],
) {
    let (input, y0) = (src.data, src.y0);
    let (h, w, c) = (src.s.h as usize, src.s.w as usize, src.s.c as usize);
    let row = kw * c;
    for ky in 0..kh {
        let dst = &mut patch[ky * row..(ky + 1) * row];
        let iy = (oy + ky).wrapping_sub(pad.0);
        if iy >= h {
            dst.fill(zp);
            continue;
        }
        let ix0 = ox.wrapping_sub(pad.1);
        if ix0 < w && ix0 + kw <= w {
            let start = ((iy - y0) * w + ix0) * c;
            dst.copy_from_slice(&input[start..start + row]);
        } else {
            for kx in 0..kw {
                let ix = (ox + kx).wrapping_sub(pad.1);
                let d = &mut dst[kx * c..(kx + 1) * c];
                if ix < w {
                    let start = ((iy - y0) * w + ix) * c;
                    d.copy_from_slice(&input[start..start + c]);
                } else {
                    d.fill(zp);
                }
            }
        }
    }
}

/// Output spatial size of a stride-1 convolution before pooling.
pub(crate) fn conv_out(padding: Padding, h: usize, k: usize) -> usize {
    match padding {
        Padding::Valid => h + 1 - k,
        Padding::Same => h,
    }
}

/// Output rows `rows.0..rows.1` (after any fused pooling) of a 2-D convolution with fused ReLU
/// and optional fused 2×2 pooling, on the fastest micro-kernel this CPU runs (all give
/// bit-identical results). `src` holds at least the input rows they read; `out` receives exactly
/// those output rows; `scratch` holds four patches of `patch` bytes each (`patch` ≥ the window
/// rounded up to [`crate::plan::PATCH_ALIGN`]). `prepared` holds the layer's weights as
/// [`prepare_conv`] wrote them for this CPU, or is empty (then a kernel that needs them lays
/// them out itself).
pub(crate) fn conv2d(
    src: Rows<'_>,
    zp_in: i8,
    d: &ConvDesc<'_>,
    rows: (usize, usize),
    out: &mut [i8],
    scratch: &mut [i8],
    prepared: &[[i16; 16]],
) {
    #[cfg(target_arch = "x86_64")]
    {
        if let Some(avx2) = crate::simd::Avx2::detect() {
            // Inlined into the AVX2 entry point, so the kernels inline with AVX2 enabled.
            return avx2.vectorize(
                #[inline(always)]
                || {
                    let done = conv2d_first_3x3_avx2(avx2, src, d, rows, out)
                        || conv2d_first_3x3_wide(avx2, src, d, rows, out)
                        || conv2d_first_avx2(avx2, src, zp_in, d, rows, out)
                        || conv2d_lanes_avx2(avx2, src, d, rows, out)
                        || (wide_pays(src, d, rows)
                            && (conv2d_winograd(avx2, src, d, rows, out, (prepared, Some(avx2)))
                                || conv2d_wide_avx2(avx2, src, d, rows, out)));
                    if !done {
                        conv2d_tiled(avx2, src, zp_in, d, rows, out, scratch)
                    }
                },
            );
        }
        let sse2 = crate::simd::Sse2;
        let done = conv2d_first_3x3_wide(sse2, src, d, rows, out)
            || (wide_pays(src, d, rows)
                && conv2d_winograd(sse2, src, d, rows, out, (prepared, None)));
        if !done {
            conv2d_tiled(crate::simd::Sse2, src, zp_in, d, rows, out, scratch)
        }
    }
    // Only the x86-64 kernels take prepared weights.
    #[cfg(not(target_arch = "x86_64"))]
    let _ = prepared;
    #[cfg(target_arch = "aarch64")]
    {
        if let Some(sdot) = crate::simd::NeonDot::detect() {
            return sdot.vectorize(
                #[inline(always)]
                || conv2d_tiled(sdot, src, zp_in, d, rows, out, scratch),
            );
        }
        conv2d_tiled(crate::simd::Neon, src, zp_in, d, rows, out, scratch)
    }
    // The first-layer kernel and the tiles each in their own frame, so that the deepest stack
    // is the larger of the two, not their sum.
    #[cfg(all(target_arch = "arm", sumi_dsp))]
    if !conv2d_first(crate::simd::Dsp, src, d, rows, out) {
        conv2d_tiled_out_of_line(crate::simd::Dsp, src, zp_in, d, rows, out, scratch);
    }
    // Portable: on RV32 the tiles, which load each input byte once for two channels, beat the
    // first-layer kernel on int8 weights (1.95 M vs 2.14 M instructions, tiny model); the
    // Cortex-M0, and sub-byte weights (which the tiles unpack per tile) everywhere, gain.
    #[cfg(not(any(
        target_arch = "x86_64",
        target_arch = "aarch64",
        all(target_arch = "arm", sumi_dsp)
    )))]
    if !((cfg!(target_arch = "arm") || d.weight_bits < 8)
        && conv2d_first(crate::simd::Portable, src, d, rows, out))
    {
        conv2d_tiled_out_of_line(crate::simd::Portable, src, zp_in, d, rows, out, scratch);
    }
}

/// [`conv2d_tiled`] in a frame of its own (cores without wide vectors, whose kernels need no
/// target features enabled around them).
#[cfg_attr(any(target_arch = "x86_64", target_arch = "aarch64"), allow(dead_code))]
#[inline(never)]
fn conv2d_tiled_out_of_line<T: Tile>(
    t: T,
    src: Rows<'_>,
    zp_in: i8,
    d: &ConvDesc<'_>,
    rows: (usize, usize),
    out: &mut [i8],
    scratch: &mut [i8],
) {
    conv2d_tiled(t, src, zp_in, d, rows, out, scratch);
}

/// Kernel rows of [`conv2d_first`].
const FIRST_KH: usize = 3;

/// One output channel of [`conv2d_first`]: its prepared weight rows and requantization.
struct FirstChannel<T: Row4> {
    t: T,
    rows: [T::W; FIRST_KH],
    bias: i32,
    rq: Requant,
    zp: i8,
    relu: bool,
}

impl<T: Row4> FirstChannel<T> {
    /// The accumulator of the output whose kernel rows meet the input bytes `x`.
    #[inline(always)]
    fn acc(&self, x: [[i8; 4]; FIRST_KH]) -> i32 {
        let mut acc = 0;
        for (&x, &w) in x.iter().zip(&self.rows) {
            acc = self.t.mac_row4(acc, x, w);
        }
        acc
    }

    /// The accumulators of two adjacent outputs, `x` holding the words at the first one (rows
    /// of at most 3 taps: the word's 4th byte is the second output's last tap).
    #[inline(always)]
    fn acc_pair(&self, x: [[i8; 4]; FIRST_KH]) -> [i32; 2] {
        let mut acc = [0; 2];
        for (&x, &w) in x.iter().zip(&self.rows) {
            acc = self.t.mac_row3_pair(acc, x, w);
        }
        acc
    }

    /// An accumulator requantized.
    #[inline(always)]
    fn requant(&self, acc: i32) -> i8 {
        to_int8(self.bias + acc, self.rq, self.zp, self.relu)
    }

    /// The output whose kernel rows meet the input bytes `x`, requantized.
    #[inline(always)]
    fn out(&self, x: [[i8; 4]; FIRST_KH]) -> i8 {
        self.requant(self.acc(x))
    }
}

/// The first four bytes of `s`.
#[inline(always)]
fn word4(s: &[i8]) -> [i8; 4] {
    [s[0], s[1], s[2], s[3]]
}

/// [`word4`] at `x` near the end of an input row: the bytes past it are zero (they meet the
/// zero 4th tap, or no tap at all).
#[cold]
#[inline(never)]
fn word_tail(row: &[i8], x: usize) -> [i8; 4] {
    core::array::from_fn(|i| row.get(x + i).copied().unwrap_or(0))
}

/// The first layer on the cores without wide vectors (Cortex-M DSP, portable): one input
/// channel, no padding, 3 kernel rows of up to 4 taps, any weight precision. Output channels
/// outside, pixels inside: a channel's weights are unpacked and prepared once per call (three
/// [`Row4`] rows, kept in registers) and each output reads its three input rows as one 4-byte
/// word each (the 4th tap weighs zero) — instead of the tiles' gathered 9-byte patches, scalar
/// tails and per-tile weight rows, which cost 11–16 instructions per MAC on the Cortex-M4.
/// Returns `false` (computing nothing) for other layers.
///
/// Out of line: its frame is not added to the tiled kernels' (the peak of the stack).
#[cfg_attr(any(target_arch = "x86_64", target_arch = "aarch64"), allow(dead_code))]
#[inline(never)]
fn conv2d_first<T: Row4>(
    t: T,
    src: Rows<'_>,
    d: &ConvDesc<'_>,
    rows: (usize, usize),
    out: &mut [i8],
) -> bool {
    let s = src.s;
    let (kh, kw) = (d.kernel_h as usize, d.kernel_w as usize);
    if s.c != 1 || kh != FIRST_KH || kw > 4 || d.padding != Padding::Valid {
        return false;
    }
    let (w, oc_n, k) = (s.w as usize, d.out_channels as usize, kh * kw);
    let cw = w + 1 - kw;
    let weights = d.weights_i8();
    let mut row = [0i8; FIRST_KH * 4];
    for o in 0..oc_n {
        match weights {
            Some(wt) => row[..k].copy_from_slice(&wt[o * k..o * k + k]),
            None => crate::packing::unpack(d.weight_bits, d.row(o), 0, &mut row[..k]),
        }
        let f = FirstChannel {
            t,
            rows: core::array::from_fn(|r| {
                t.prepare(core::array::from_fn(|c| {
                    if c < kw { row[r * kw + c] } else { 0 }
                }))
            }),
            bias: d.channels().bias(o),
            rq: d.channels().requant(o),
            zp: d.output_zero_point,
            relu: d.relu,
        };
        // Input row `y + r` (from the first row of `src`).
        let input_row = |y: usize, r: usize| {
            let at = (y + r - src.y0) * w;
            &src.data[at..at + w]
        };
        match d.pool {
            Pool::None => {
                for y in rows.0..rows.1 {
                    let rr: [&[i8]; FIRST_KH] = core::array::from_fn(|r| input_row(y, r));
                    let o_row = &mut out[(y - rows.0) * cw * oc_n..][..cw * oc_n];
                    // Two outputs per word where the rows are at most 3 taps wide.
                    let mut x = 0;
                    while kw <= 3 && x + 1 < cw && x + 4 <= w {
                        let [a, b] = f.acc_pair(rr.map(|r| word4(&r[x..x + 4])));
                        o_row[x * oc_n + o] = f.requant(a);
                        o_row[(x + 1) * oc_n + o] = f.requant(b);
                        x += 2;
                    }
                    for x in x..cw {
                        let words = if x + 4 <= w {
                            rr.map(|r| word4(&r[x..x + 4]))
                        } else {
                            rr.map(|r| word_tail(r, x))
                        };
                        o_row[x * oc_n + o] = f.out(words);
                    }
                }
            }
            pool => {
                let pw = cw / 2;
                for py in rows.0..rows.1 {
                    // The 2×2 window's two output rows read four input rows.
                    let rr: [&[i8]; FIRST_KH + 1] = core::array::from_fn(|r| input_row(2 * py, r));
                    let o_row = &mut out[(py - rows.0) * pw * oc_n..][..pw * oc_n];
                    for px in 0..pw {
                        let x = 2 * px;
                        let acc = if kw <= 3 && x + 4 <= w {
                            // One word per row gives both columns of the window.
                            let a = rr.map(|r| word4(&r[x..x + 4]));
                            let top = f.acc_pair([a[0], a[1], a[2]]);
                            let bottom = f.acc_pair([a[1], a[2], a[3]]);
                            [top[0], top[1], bottom[0], bottom[1]]
                        } else {
                            // The words at `x` and `x + 1` of every row.
                            let (a, b) = if x + 5 <= w {
                                let s = rr.map(|r| &r[x..x + 5]);
                                (s.map(|s| word4(&s[..4])), s.map(|s| word4(&s[1..])))
                            } else {
                                (rr.map(|r| word_tail(r, x)), rr.map(|r| word_tail(r, x + 1)))
                            };
                            [
                                f.acc([a[0], a[1], a[2]]),
                                f.acc([b[0], b[1], b[2]]),
                                f.acc([a[1], a[2], a[3]]),
                                f.acc([b[1], b[2], b[3]]),
                            ]
                        };
                        // A max pool of the accumulators: requantization is monotonic (see
                        // `TileCtx::finish_max_pooled`), so one requantization instead of four.
                        o_row[px * oc_n + o] = match pool {
                            Pool::Max2 => f.requant(max4(&acc)),
                            _ => combine(pool, acc.map(|a| f.requant(a))),
                        };
                    }
                }
            }
        }
    }
    true
}

/// What every output pixel of [`conv2d_first_avx2`] shares.
#[cfg(target_arch = "x86_64")]
struct FirstCtx<'a> {
    avx2: crate::simd::Avx2,
    input: &'a [i8],
    y0: usize,
    h: usize,
    w: usize,
    kh: usize,
    kw: usize,
    pad: (usize, usize),
    zp_in: i8,
    pairs_n: usize,
    wq: &'a [[[i32; 8]; 8]; 16],
    groups: &'a [crate::simd::FirstLayerGroup; 8],
    lo: i32,
    hi: i32,
    zp: i32,
}

#[cfg(target_arch = "x86_64")]
impl FirstCtx<'_> {
    /// The taps of output pixel `(oy, ox)` as int16 pairs, for `pmaddwd` (always inlined, so
    /// that it compiles inside the AVX2 entry point).
    #[inline(always)]
    fn pairs(&self, oy: usize, ox: usize, pairs: &mut [i32; 16]) {
        let (h, w) = (self.h, self.w);
        // Written in place as int32 stores, each read back as one int32 (copying the array, or
        // reading narrower stores as a wider word, would stall store-to-load forwarding).
        let (mut t, mut low) = (0, 0i8);
        let mut push = |x: i8| {
            if t % 2 == 0 {
                low = x;
            } else if let Some(p) = pairs.get_mut(t / 2) {
                *p = pair16(low, x);
            }
            t += 1;
        };
        let (top, left) = (oy.wrapping_sub(self.pad.0), ox.wrapping_sub(self.pad.1));
        let inside = top < h && top + self.kh <= h && left < w && left + self.kw <= w;
        if inside && self.kh == 3 && self.kw == 3 {
            // The common 3×3 window: three 3-byte rows, five pairs, no loop.
            let at = (top - self.y0) * w + left;
            let row = |y: usize| -> [i8; 3] {
                let r = &self.input[at + y * w..at + y * w + 3];
                [r[0], r[1], r[2]]
            };
            let ([a0, a1, a2], [b0, b1, b2], [c0, c1, c2]) = (row(0), row(1), row(2));
            pairs[..5].copy_from_slice(&[
                pair16(a0, a1),
                pair16(a2, b0),
                pair16(b1, b2),
                pair16(c0, c1),
                pair16(c2, 0),
            ]);
            return;
        }
        if inside {
            // The whole window inside the input (always, without padding): one bounds check
            // per kernel row.
            let mut at = (top - self.y0) * w + left;
            for _ in 0..self.kh {
                for &x in &self.input[at..at + self.kw] {
                    push(x);
                }
                at += w;
            }
        } else {
            for ky in 0..self.kh {
                let iy = (oy + ky).wrapping_sub(self.pad.0);
                for kx in 0..self.kw {
                    let ix = (ox + kx).wrapping_sub(self.pad.1);
                    push(if iy < h && ix < w {
                        self.input[(iy - self.y0) * w + ix]
                    } else {
                        self.zp_in
                    });
                }
            }
        }
        if t % 2 == 1 {
            pairs[t / 2] = pair16(low, 0);
        }
    }

    /// One output (one pixel, or the 2×2 pool of four) stored as int8.
    #[inline(always)]
    fn out(&self, pixels: &[[i32; 16]], pool: Pool, out: &mut [i8]) {
        self.avx2.first_layer_out(
            pixels,
            self.pairs_n,
            self.wq,
            self.groups,
            (self.lo, self.hi, self.zp),
            pool == Pool::Avg2,
            out,
        );
    }
}

/// Two taps (or weights) as the low and high int16 halves of an int32, for `pmaddwd`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn pair16(lo: i8, hi: i8) -> i32 {
    (lo as i16 as u16 as u32 | (hi as i16 as u16 as u32) << 16) as i32
}

/// The first layer's kernel on AVX2: one input channel (so the tiles' dot products would be a
/// few taps long), output channels in vector lanes instead. Takes windows of up to 32 taps and
/// up to 64 output channels without left shifts; returns `false` (computing nothing) otherwise.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn conv2d_first_avx2(
    avx2: crate::simd::Avx2,
    src: Rows<'_>,
    zp_in: i8,
    d: &ConvDesc<'_>,
    rows: (usize, usize),
    out: &mut [i8],
) -> bool {
    let s = src.s;
    let (kh, kw) = (d.kernel_h as usize, d.kernel_w as usize);
    let (oc_n, taps) = (d.out_channels as usize, kh * kw);
    if s.c != 1 || taps > 32 || oc_n > 64 || !right_shifts_only(d) {
        return false;
    }
    let pairs_n = taps.div_ceil(2);
    // Each channel's taps as int16 pairs, one plain store per pair (this runs once per call,
    // that is per streamed step).
    let mut wq = [[[0i32; 8]; 8]; 16];
    let (int8, mut unpacked) = (d.weights_i8(), [0i8; 32]);
    for o in 0..oc_n {
        let row = match int8 {
            Some(weights) => &weights[o * taps..(o + 1) * taps],
            None => {
                crate::packing::unpack(d.weight_bits, d.row(o), 0, &mut unpacked[..taps]);
                &unpacked[..taps]
            }
        };
        for (q, pair) in row.chunks(2).enumerate() {
            let hi = pair.get(1).copied().unwrap_or(0);
            wq[q][o / 8][o % 8] = pair16(pair[0], hi);
        }
    }
    let (groups, (lo, hi, zp)) = lane_groups::<8>(d, |_| 0);
    let (h, w) = (s.h as usize, s.w as usize);
    let pad = (pad_before(d.padding, kh), pad_before(d.padding, kw));
    let cw = conv_out(d.padding, w, kw);
    let ctx = FirstCtx {
        avx2,
        input: src.data,
        y0: src.y0,
        h,
        w,
        kh,
        kw,
        pad,
        zp_in,
        pairs_n,
        wq: &wq,
        groups: &groups,
        lo,
        hi,
        zp,
    };
    match d.pool {
        Pool::None => {
            let n = (rows.1 - rows.0) * cw;
            let mut pixel = [[0i32; 16]];
            for (i, px) in out.chunks_exact_mut(oc_n).enumerate().take(n) {
                ctx.pairs(rows.0 + i / cw, i % cw, &mut pixel[0]);
                ctx.out(&pixel, Pool::None, px);
            }
        }
        pool => {
            let pw = cw / 2;
            let n = (rows.1 - rows.0) * pw;
            let mut pixels = [[0i32; 16]; 4];
            for (i, px) in out.chunks_exact_mut(oc_n).enumerate().take(n) {
                let (y, x) = (2 * (rows.0 + i / pw), 2 * (i % pw));
                for (j, p) in pixels.iter_mut().enumerate() {
                    ctx.pairs(y + j / 2, x + j % 2, p);
                }
                ctx.out(&pixels, pool, px);
            }
        }
    }
    true
}

/// `src` as int16 in the first `src.len()` elements of `dst`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn widen(src: &[i8], dst: &mut [i16]) {
    for (x16, &x) in dst.iter_mut().zip(src) {
        *x16 = i16::from(x);
    }
}

/// Whether no channel of a layer shifts left (a real multiplier above 1, rare): the vector
/// requantization of the kernels with output channels in lanes takes right shifts only.
#[cfg(target_arch = "x86_64")]
fn right_shifts_only(d: &ConvDesc<'_>) -> bool {
    d.shifts.iter().all(|&sh| sh as i8 <= 0)
}

/// Whether a layer suits the AVX2 `vpmaddubsw` kernels with output channels in lanes: weights
/// of at most 4 bits (`|w| ≤ 8`, so their int16 sums are exact), a fused 2×2 max pool, at most
/// 32 channels (four groups of eight) and no left shift.
#[cfg(target_arch = "x86_64")]
fn fits_lanes(d: &ConvDesc<'_>) -> bool {
    d.weight_bits <= 4 && d.pool == Pool::Max2 && d.out_channels <= 32 && right_shifts_only(d)
}

/// What the AVX2 kernels with output channels in vector lanes need per group of eight
/// channels — bias minus `offset(o)`, multiplier, right shift (valid where no channel shifts
/// left) — and the clamp `(lo − zp, 127 − zp, zp)` of [`crate::simd::Avx2::first_layer_out`].
#[cfg(target_arch = "x86_64")]
fn lane_groups<const G: usize>(
    d: &ConvDesc<'_>,
    offset: impl Fn(usize) -> i32,
) -> ([crate::simd::FirstLayerGroup; G], (i32, i32, i32)) {
    let mut groups = [crate::simd::FirstLayerGroup {
        bias: [0; 8],
        multiplier: [0; 8],
        right_shift: [0; 8],
    }; G];
    for o in 0..d.out_channels as usize {
        let (g, l) = (o / 8, o % 8);
        let rq = d.channels().requant(o);
        groups[g].bias[l] = d.channels().bias(o) - offset(o);
        groups[g].multiplier[l] = rq.multiplier;
        groups[g].right_shift[l] = -(rq.shift as i32);
    }
    let zp = d.output_zero_point as i32;
    let lo = if d.relu { zp } else { -128 };
    (groups, (lo - zp, 127 - zp, zp))
}

/// The first layer of the sub-byte models on AVX2 (one input channel, 3×3, no padding, 2×2
/// max pool, weights of at most 4 bits, up to 32 channels): `vpmaddubsw` over output channels
/// in lanes, a whole pooled row per call ([`crate::simd::Avx2::first_layer_3x3_max_pooled_row`]).
/// Returns `false` (computing nothing) for other layers.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn conv2d_first_3x3_avx2(
    avx2: crate::simd::Avx2,
    src: Rows<'_>,
    d: &ConvDesc<'_>,
    rows: (usize, usize),
    out: &mut [i8],
) -> bool {
    let oc = d.out_channels as usize;
    if src.s.c != 1
        || (d.kernel_h, d.kernel_w) != (3, 3)
        || d.padding != Padding::Valid
        || !fits_lanes(d)
    {
        return false;
    }
    let mut taps = [[[[0; 32]; 3]; 2]; 4];
    let (mut w, mut sums) = ([0i8; 9], [0i32; 32]);
    for (o, sum) in sums.iter_mut().enumerate().take(oc) {
        crate::packing::unpack(d.weight_bits, d.row(o), 0, &mut w);
        let (g, l) = (o / 8, o % 8);
        for r in 0..3 {
            let row = &w[3 * r..3 * r + 3];
            taps[g][0][r][4 * l..4 * l + 3].copy_from_slice(row);
            taps[g][1][r][4 * l + 1..4 * l + 4].copy_from_slice(row);
        }
        *sum = w.iter().map(|&x| i32::from(x)).sum();
    }
    let (groups, clamp) = lane_groups::<4>(d, |o| 128 * sums[o]);
    let layer = crate::simd::FirstLayer3x3 {
        taps,
        groups,
        channels: oc,
        clamp,
    };
    let wd = src.s.w as usize;
    let row_out = (wd - 2) / 2 * oc;
    for py in rows.0..rows.1 {
        let at = (2 * py - src.y0) * wd;
        let input: [&[i8]; 4] = core::array::from_fn(|r| &src.data[at + r * wd..][..wd]);
        let o = &mut out[(py - rows.0) * row_out..][..row_out];
        avx2.first_layer_3x3_max_pooled_row(input, &layer, o);
    }
    true
}

/// The first layer of a model (one input channel, 3×3, no padding, no pool or a 2×2 max pool,
/// up to 32 channels; int8 weights, or sub-byte ones unpacked per call where AVX2's
/// `vpmaddubsw` kernel does not take them) on AVX2 or SSE2: its input rows widened to int16, `vpmaddwd` /
/// `pmaddwd` over output channels in lanes, a whole output row per call
/// ([`crate::simd::Avx2::first_layer_3x3_wide_row`],
/// [`crate::simd::Sse2::first_layer_3x3_wide_row`]). Returns `false` (computing nothing) for
/// other layers.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn conv2d_first_3x3_wide<K: crate::simd::WideRowKernel>(
    kernel: K,
    src: Rows<'_>,
    d: &ConvDesc<'_>,
    rows: (usize, usize),
    out: &mut [i8],
) -> bool {
    const MAX_INPUT: usize = 4096;
    let oc = d.out_channels as usize;
    if src.s.c != 1
        || (d.kernel_h, d.kernel_w) != (3, 3)
        || d.padding != Padding::Valid
        || d.pool == Pool::Avg2
        || oc > 32
        || !right_shifts_only(d)
        || src.data.len() >= MAX_INPUT
    {
        return false;
    }
    let mut taps = [[[[0i16; 16]; 2]; 3]; 4];
    for o in 0..oc {
        let (g, l) = (o / 8, o % 8);
        // Any precision: the weights unpacked (once per call, 9 per channel).
        let w = |i: usize| i16::from(d.weight(o, i));
        for (r, taps) in taps[g].iter_mut().enumerate() {
            taps[0][2 * l..2 * l + 2].copy_from_slice(&[w(3 * r), w(3 * r + 1)]);
            taps[1][2 * l] = w(3 * r + 2);
        }
    }
    let (groups, clamp) = lane_groups::<4>(d, |_| 0);
    let layer = crate::simd::FirstLayer3x3 {
        taps,
        groups,
        channels: oc,
        clamp,
    };
    // The input widened, one zero element past its end (read against a zero weight).
    let mut wide = [0i16; MAX_INPUT];
    widen(src.data, &mut wide);
    let wd = src.s.w as usize;
    let pooled = d.pool == Pool::Max2;
    let (m, n) = if pooled {
        (2, (wd - 2) / 2)
    } else {
        (1, wd - 2)
    };
    let input_rows = if pooled { 4 } else { 3 };
    // Outputs whose window holds one value only (a digit's blank margins: most of them on real
    // digits) all equal the output of that value, computed once; each row computes only the
    // outputs between its first and last column that differ from it.
    let blank = wide[0];
    // That output, computed the first time a row needs it (a streamed band of one row whose
    // windows all differ would otherwise compute it for nothing).
    let mut blank_out: Option<[i8; 32]> = None;
    let mut blank_output = || {
        *blank_out.get_or_insert_with(|| {
            let rows = [[blank; 8]; 4];
            let input = [&rows[0][..], &rows[1], &rows[2], &rows[3]];
            let mut o = [0i8; 32];
            kernel.wide_row(&input[..input_rows], pooled, &layer, &mut o[..oc]);
            o
        })
    };
    let len = src.data.len() + 1;
    for y in rows.0..rows.1 {
        let at = (m * y - src.y0) * wd;
        let mut input = [&wide[..0]; 4];
        for (r, row) in input.iter_mut().enumerate().take(input_rows) {
            *row = &wide[at + r * wd..len.min(at + (r + 1) * wd + 1)];
        }
        let o = &mut out[(y - rows.0) * n * oc..][..n * oc];
        let (i0, i1) = differing_span(&input[..input_rows], wd, blank, pooled, n);
        let i1 = i1.max(i0);
        if i0 > 0 || i1 < n {
            let pixel = blank_output();
            fill_pixels(&mut o[..i0 * oc], &pixel[..oc]);
            fill_pixels(&mut o[i1 * oc..], &pixel[..oc]);
        }
        if i0 < i1 {
            // Output `i` reads columns from `i` (`2i` pooled) on.
            let x0 = if pooled { 2 * i0 } else { i0 };
            let mut part = [&wide[..0]; 4];
            for (p, row) in part.iter_mut().zip(&input[..input_rows]) {
                *p = &row[x0..];
            }
            kernel.wide_row(
                &part[..input_rows],
                pooled,
                &layer,
                &mut o[i0 * oc..i1 * oc],
            );
        }
    }
    true
}

/// `dst` (a whole number of pixels) filled with copies of `pixel`, by doubling copies.
#[cfg(target_arch = "x86_64")]
fn fill_pixels(dst: &mut [i8], pixel: &[i8]) {
    let Some(first) = dst.get_mut(..pixel.len()) else {
        return;
    };
    first.copy_from_slice(pixel);
    let mut done = pixel.len();
    while done < dst.len() {
        let n = done.min(dst.len() - done);
        dst.copy_within(..n, done);
        done += n;
    }
}

/// The outputs `i0..i1` of a first-layer row (`n` outputs, 3×3 windows, a 2×2 max pool with
/// `pooled`) whose windows in `rows` (the first `w` values of each) hold a value other than
/// `blank`; `(0, 0)` where none does.
#[cfg(target_arch = "x86_64")]
fn differing_span(rows: &[&[i16]], w: usize, blank: i16, pooled: bool, n: usize) -> (usize, usize) {
    let differs = |x: usize| rows.iter().any(|r| r[x] != blank);
    let Some(first) = (0..w).find(|&x| differs(x)) else {
        return (0, 0);
    };
    let last = (0..w).rev().find(|&x| differs(x)).unwrap_or(first);
    // Output `i` reads columns `i..i + 3` (`2i..2i + 4` pooled).
    if pooled {
        (first.saturating_sub(3).div_ceil(2), (last / 2 + 1).min(n))
    } else {
        (first.saturating_sub(2), (last + 1).min(n))
    }
}

/// Sub-byte convolutions read in place with a fused 2×2 max pool on AVX2 (the second layer of
/// the sub-byte models), output channels in vector lanes
/// ([`crate::simd::Avx2::conv_lanes_max_pooled`]): each call lays the weights out as the
/// kernel reads them (four weights of eight channels per vector), then one kernel call per
/// pooled output computes all its channels, with one vector requantization per eight channels
/// instead of one per tile. Up to 32 channels; returns `false` (computing nothing) for other
/// layers.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn conv2d_lanes_avx2(
    avx2: crate::simd::Avx2,
    src: Rows<'_>,
    d: &ConvDesc<'_>,
    rows: (usize, usize),
    out: &mut [i8],
) -> bool {
    const MAX_QUADS: usize = MAX_WINDOW / 4;
    let (c, w) = (src.s.c as usize, src.s.w as usize);
    let (kh, kw, oc) = (
        d.kernel_h as usize,
        d.kernel_w as usize,
        d.out_channels as usize,
    );
    if !fits_lanes(d) || !reads_in_place(d, c, crate::simd::SEG_ALIGN) {
        return false;
    }
    let (k, seg, row) = (kh * kw * c, kw * c, w * c);
    let (nq, groups_n) = (k / 4, oc.div_ceil(8));
    let mut weights = [[0i8; 32]; MAX_QUADS * 4];
    let (mut row_w, mut sums) = ([0i8; MAX_WINDOW], [0i32; 32]);
    for (o, sum) in sums.iter_mut().enumerate().take(oc) {
        let row_w = &mut row_w[..k];
        crate::packing::unpack(d.weight_bits, d.row(o), 0, row_w);
        scatter_lanes(&mut weights, groups_n, o, row_w);
        *sum = row_w.iter().map(|&x| i32::from(x)).sum();
    }
    let (groups, clamp) = lane_groups::<4>(d, |o| 128 * sums[o]);
    let mut offsets = [0u32; MAX_QUADS];
    lane_offsets(&mut offsets[..nq], seg / 4, row, 4);
    let layer = crate::simd::LanesLayer::new(
        &weights[..nq * groups_n],
        &offsets[..nq],
        &groups[..groups_n],
        oc,
        clamp,
    );
    lane_outputs(src, d, rows, out, |at, o| {
        let at = [at[0], at[1], at[2], at[3]];
        avx2.conv_lanes_max_pooled(src.data, at, &layer, o)
    });
    true
}

/// Lays one channel's weights `row` (channel `o`) into the lane blocks of
/// [`crate::simd::LanesLayer`]: step `u` (`N / 8` weights) of channel `o` in block
/// `u · groups + o / 8`, lane `o % 8`.
#[cfg(target_arch = "x86_64")]
fn scatter_lanes<T: Copy, const N: usize>(
    blocks: &mut [[T; N]],
    groups: usize,
    o: usize,
    row: &[T],
) {
    let (g, l, per) = (o / 8, o % 8, N / 8);
    for (u, step) in row.chunks_exact(per).enumerate() {
        blocks[u * groups + g][per * l..per * (l + 1)].copy_from_slice(step);
    }
}

/// Offsets of each step of `per` elements of a receptive field read in place (`steps_per_row`
/// steps per kernel row, input rows `row` elements apart) from the field's first element.
#[cfg(target_arch = "x86_64")]
fn lane_offsets(offsets: &mut [u32], steps_per_row: usize, row: usize, per: usize) {
    for (u, off) in offsets.iter_mut().enumerate() {
        *off = ((u / steps_per_row) * row + per * (u % steps_per_row)) as u32;
    }
}

/// Calls `f(fields, out)` for the outputs of rows `rows` of a convolution read in place: with
/// a 2×2 pool, per output, `fields` the offsets in `src.data` of the receptive fields of its
/// four pixels and `out` its channels; without, per two pixels of a row (one at an odd end),
/// their fields and their channels one after the other.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn lane_outputs(
    src: Rows<'_>,
    d: &ConvDesc<'_>,
    rows: (usize, usize),
    out: &mut [i8],
    mut f: impl FnMut(&[usize], &mut [i8]),
) {
    let (c, oc) = (src.s.c as usize, d.out_channels as usize);
    let row = src.s.w as usize * c;
    let cw = conv_out(d.padding, src.s.w as usize, d.kernel_w as usize);
    let field = |y: usize, x: usize| (y - src.y0) * row + x * c;
    if d.pool == Pool::None {
        // Two pixels of a row at a time (one at a row's odd end).
        for y in rows.0..rows.1 {
            for x in (0..cw).step_by(2) {
                let o = ((y - rows.0) * cw + x) * oc;
                if x + 1 < cw {
                    f(&[field(y, x), field(y, x + 1)], &mut out[o..o + 2 * oc]);
                } else {
                    f(&[field(y, x)], &mut out[o..o + oc]);
                }
            }
        }
        return;
    }
    let pw = cw / 2;
    for py in rows.0..rows.1 {
        for px in 0..pw {
            let (y, x) = (2 * py, 2 * px);
            let at = [
                field(y, x),
                field(y, x + 1),
                field(y + 1, x),
                field(y + 1, x + 1),
            ];
            let o = ((py - rows.0) * pw + px) * oc;
            f(&at, &mut out[o..o + oc]);
        }
    }
}

/// Whether [`conv2d_wide_avx2`]'s setup (widening the input, laying out the weights) pays
/// off: over at least 64 convolution pixels, as on whole maps, not over the one or two rows of
/// a streamed step (measured with a timing loop over `predict` and the smallest arena: the
/// default model took 158 µs instead of 133 without this rule).
#[cfg(target_arch = "x86_64")]
fn wide_pays(src: Rows<'_>, d: &ConvDesc<'_>, rows: (usize, usize)) -> bool {
    let cw = conv_out(d.padding, src.s.w as usize, d.kernel_w as usize);
    let m = if d.pool == Pool::None { 1 } else { 2 };
    (rows.1 - rows.0) * m * cw >= 64
}

/// Convolutions with int8 weights read in place on AVX2 (no pool, or a 2×2 max pool), output
/// channels in vector lanes ([`crate::simd::Avx2::conv_wide`]): each call widens its input rows
/// to int16 and lays the weights out as int16 pairs of eight channels per vector, then one
/// kernel call per output computes all its channels — no horizontal sums, one vector
/// requantization per eight channels. Up to 64 channels, windows of up to 1,024 pairs of
/// weights over all groups and inputs of up to 12,288 bytes (larger layers take the tiles);
/// returns `false` (computing nothing) for other layers. Dispatched where [`wide_pays`].
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn conv2d_wide_avx2(
    avx2: crate::simd::Avx2,
    src: Rows<'_>,
    d: &ConvDesc<'_>,
    rows: (usize, usize),
    out: &mut [i8],
) -> bool {
    const MAX_BLOCKS: usize = 1024;
    const MAX_INPUT: usize = 12_288;
    let (c, w) = (src.s.c as usize, src.s.w as usize);
    let (kh, kw, oc) = (
        d.kernel_h as usize,
        d.kernel_w as usize,
        d.out_channels as usize,
    );
    let Some(weights) = d.weights_i8() else {
        return false;
    };
    let (k, seg, row) = (kh * kw * c, kw * c, w * c);
    let (np, groups_n) = (k / 2, oc.div_ceil(8));
    if oc > 64
        || d.pool == Pool::Avg2
        || !reads_in_place(d, c, crate::simd::SEG_ALIGN)
        || !right_shifts_only(d)
        || np * groups_n > MAX_BLOCKS
        || src.data.len() > MAX_INPUT
    {
        return false;
    }
    let mut wide = [0i16; MAX_INPUT];
    widen(src.data, &mut wide);
    let mut blocks = [[0i16; 16]; MAX_BLOCKS];
    let zero = [0i8; MAX_WINDOW];
    for g in 0..groups_n {
        let rows: [&[i8]; 8] = core::array::from_fn(|l| match 8 * g + l {
            o if o < oc => &weights[o * k..(o + 1) * k],
            _ => &zero[..k],
        });
        avx2.pair_blocks(&rows, &mut blocks[g..], groups_n);
    }
    let (groups, clamp) = lane_groups::<8>(d, |_| 0);
    let mut offsets = [0u32; MAX_WINDOW / 2];
    lane_offsets(&mut offsets[..np], seg / 2, row, 2);
    let layer = crate::simd::LanesLayer::new(
        &blocks[..np * groups_n],
        &offsets[..np],
        &groups[..groups_n],
        oc,
        clamp,
    );
    let data = &wide[..src.data.len()];
    let pooled = d.pool != Pool::None;
    lane_outputs(src, d, rows, out, |at, o| {
        avx2.conv_wide(data, at, pooled, &layer, o)
    });
    true
}

/// 3×3 convolutions with int8 weights (stride 1, no padding, no pool or a 2×2 max pool, an
/// even number of input channels up to 64, up to 64 output channels, no left shift) in
/// Winograd's form, exact in integers, so the logits are the same bit for bit:
/// - on weights `prepared` once ([`prepare_conv`]), F(4×4, 3×3) on AVX2 or SSE2
///   (`simd/winograd4.rs`, [`winograd4_tiles`]): 36 products per 4×4 tile, input and output
///   channel, instead of 144;
/// - otherwise, with `per_call`, F(2×2, 3×3) on AVX2 ([`crate::simd::Avx2::conv_winograd`],
///   [`winograd_tiles`]): 16 products per 2×2 tile instead of 36, on weights transformed by
///   each call onto the stack ([`crate::simd::Avx2::with_winograd_layer`]; SSE2 without
///   prepared weights takes the tiles: transforming them would cost more than it saves).
///
/// Returns `false` (computing nothing) for other layers. Dispatched where [`wide_pays`] (whole
/// maps: the default model 77 → 59 µs by minimum on AVX2 with F(2×2, 3×3) per call, `cargo run
/// --release -p sumi-core --example latency`), before [`conv2d_wide_avx2`].
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn conv2d_winograd<K: crate::simd::WinogradKernel>(
    kernel: K,
    src: Rows<'_>,
    d: &ConvDesc<'_>,
    rows: (usize, usize),
    out: &mut [i8],
    (prepared, per_call): (&[[i16; 16]], Option<crate::simd::Avx2>),
) -> bool {
    let (c, oc) = (src.s.c as usize, d.out_channels as usize);
    if !winograd_takes(c, d) {
        return false;
    }
    let (groups, clamp) = lane_groups::<8>(d, |_| 0);
    let groups = &groups[..oc.div_ceil(8)];
    if !prepared.is_empty() && prepared.len() == crate::simd::winograd4_blocks(c, oc) {
        let layer = crate::simd::WinogradLayer::new((prepared, 36), c / 2, groups, oc, clamp);
        winograd4_tiles(kernel, src, d, rows, &layer, out);
    } else if let (Some(avx2), Some(weights)) = (per_call, d.weights_i8()) {
        avx2.with_winograd_layer((weights, c, oc), groups, clamp, |layer| {
            winograd_tiles(avx2, src, d, rows, layer, out)
        });
    } else {
        return false;
    }
    true
}

/// Whether [`conv2d_winograd`] takes a convolution over `c` input channels: on weights
/// prepared once, of any precision (they are transformed unpacked), or, int8 ones only, on
/// weights transformed per call.
#[cfg(target_arch = "x86_64")]
fn winograd_takes(c: usize, d: &ConvDesc<'_>) -> bool {
    use crate::simd::{WINOGRAD_MAX_BLOCKS, WINOGRAD_MAX_PAIRS, winograd_blocks};
    let oc = d.out_channels as usize;
    let n = winograd_blocks(c, oc);
    (d.kernel_h, d.kernel_w) == (3, 3)
        && d.padding == Padding::Valid
        && d.pool != Pool::Avg2
        && c >= 2
        && c.is_multiple_of(2)
        && c / 2 <= WINOGRAD_MAX_PAIRS
        && oc <= 64
        && right_shifts_only(d)
        && n <= WINOGRAD_MAX_BLOCKS
}

/// Blocks of prepared weights [`prepare_conv`] writes for a convolution over `c` input
/// channels: on x86-64 the F(4×4, 3×3) transformed weights of the Winograd kernels (AVX2 and
/// SSE2 read the same blocks), elsewhere none (the other kernels read the blob's weights in place, or lay
/// them out per call).
pub(crate) fn prepared_blocks(c: usize, d: &ConvDesc<'_>) -> usize {
    #[cfg(target_arch = "x86_64")]
    return if winograd_takes(c, d) {
        crate::simd::winograd4_blocks(c, d.out_channels as usize)
    } else {
        0
    };
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (c, d);
        0
    }
}

/// Writes a convolution's prepared weights (exactly [`prepared_blocks`] of them) into `out`,
/// for [`conv2d`] to read on every call instead of laying them out each time
/// ([`crate::simd::winograd4_weights`], one channel at a time: it runs once).
pub(crate) fn prepare_conv(c: usize, d: &ConvDesc<'_>, out: &mut [[i16; 16]]) {
    #[cfg(target_arch = "x86_64")]
    if winograd_takes(c, d) {
        let weight = |o: usize, i: usize| d.weight(o, i);
        crate::simd::winograd4_weights((&weight, c, d.out_channels as usize), out);
        return;
    }
    let _ = (c, d);
    assert!(out.is_empty(), "these kernels take no prepared weights");
}

/// Where the tiles of a Winograd convolution's output rows `rows` lie: the layer's channels
/// and widths, and its `tiles` tiles of `size × size` outputs of the convolution (before a
/// pool), row by row.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct WinogradSpan {
    /// Input channels, input width, output channels, the convolution's width.
    c: usize,
    w: usize,
    oc: usize,
    cw: usize,
    /// Whether a 2×2 max pool follows.
    pooled: bool,
    /// The convolution's rows these outputs cover, `y0..y1`.
    y0: usize,
    y1: usize,
    /// Tiles per row of tiles, tiles in all, and their size.
    across: usize,
    tiles: usize,
    size: usize,
}

#[cfg(target_arch = "x86_64")]
impl WinogradSpan {
    #[inline(always)]
    fn new(src: Rows<'_>, d: &ConvDesc<'_>, rows: (usize, usize), size: usize) -> Self {
        let (c, w, oc) = (src.s.c as usize, src.s.w as usize, d.out_channels as usize);
        let cw = w - 2;
        let pooled = d.pool != Pool::None;
        // The convolution's rows and columns these outputs cover.
        let (y0, y1, x1) = if pooled {
            (2 * rows.0, 2 * rows.1, cw / 2 * 2)
        } else {
            (rows.0, rows.1, cw)
        };
        let across = x1.div_ceil(size);
        let tiles = (y1 - y0).div_ceil(size) * across;
        WinogradSpan {
            c,
            w,
            oc,
            cw,
            pooled,
            y0,
            y1,
            across,
            tiles,
            size,
        }
    }

    /// Tile `j`'s first row and column in the convolution.
    #[inline(always)]
    fn at(&self, j: usize) -> (usize, usize) {
        (
            self.y0 + self.size * (j / self.across),
            self.size * (j % self.across),
        )
    }
}

/// The tiles of [`conv2d_winograd`], row by row, up to [`crate::simd::WINOGRAD_TILES`]
/// per kernel call (a call may span two rows of tiles): each tile's input transformed, then
/// its outputs (one pooled output, or four) stored where they belong.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn winograd_tiles(
    avx2: crate::simd::Avx2,
    src: Rows<'_>,
    d: &ConvDesc<'_>,
    rows: (usize, usize),
    layer: &crate::simd::WinogradLayer<'_>,
    out: &mut [i8],
) {
    use crate::simd::{WINOGRAD_MAX_PAIRS, WINOGRAD_TILES};
    let span = WinogradSpan::new(src, d, rows, 2);
    let WinogradSpan {
        c,
        w,
        oc,
        cw,
        y1,
        pooled,
        ..
    } = span;
    let (all, stride) = (span.tiles, c.next_multiple_of(16));
    let mut u = [0i16; WINOGRAD_TILES * 16 * 2 * WINOGRAD_MAX_PAIRS];
    let mut tile_out = [0i8; WINOGRAD_TILES * 4 * 64];
    // Tile `j`: rows `ty, ty + 1` and columns `tx, tx + 1` of the convolution.
    let at = |j: usize| span.at(j);
    for first in (0..all).step_by(WINOGRAD_TILES) {
        let tiles = (all - first).min(WINOGRAD_TILES);
        // The inputs, one call per run of tiles in the same row (they share columns). Pixels
        // past the rows `src` holds or its last column read as zero: only outputs that are
        // dropped depend on them.
        let mut t = 0;
        while t < tiles {
            let (ty, tx) = at(first + t);
            let run = (t..tiles).take_while(|&k| at(first + k).0 == ty).count();
            let u = &mut u[t * 16 * stride..];
            avx2.winograd_inputs((src.data, w, c), (ty - src.y0, tx), run, u, stride);
            t += run;
        }
        let n = if pooled { tiles } else { 4 * tiles } * oc;
        let tile_out = &mut tile_out[..n];
        avx2.conv_winograd((&u, stride), tiles, pooled, layer, tile_out);
        for t in 0..tiles {
            let (ty, x) = at(first + t);
            if pooled {
                let o = ((ty / 2 - rows.0) * (cw / 2) + x / 2) * oc;
                copy_pixel(&mut out[o..o + oc], &tile_out[t * oc..(t + 1) * oc]);
                continue;
            }
            // A tile past the map's last row or column: its outputs there are dropped.
            for q in 0..4 {
                let (y, x) = (ty + q / 2, x + q % 2);
                if y < y1 && x < cw {
                    let o = ((y - rows.0) * cw + x) * oc;
                    let from = (4 * t + q) * oc;
                    copy_pixel(&mut out[o..o + oc], &tile_out[from..from + oc]);
                }
            }
        }
    }
}

/// `dst.copy_from_slice(src)` for one output pixel's channels, eight bytes at a time: a
/// variable-length `copy_from_slice` is a call to `memcpy` per pixel (6 % of a prepared run
/// of the default model).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn copy_pixel(dst: &mut [i8], src: &[i8]) {
    let (mut d, mut s) = (dst.chunks_exact_mut(8), src.chunks_exact(8));
    for (d, s) in (&mut d).zip(&mut s) {
        d.copy_from_slice(s);
    }
    let (d, s) = (d.into_remainder(), s.remainder());
    if !d.is_empty() {
        d.copy_from_slice(s);
    }
}

/// The 4×4 tiles of an F(4×4, 3×3) [`conv2d_winograd`] on prepared weights, row by row, up
/// to [`crate::simd::WINOGRAD_TILES`] per kernel call: each tile's input transformed, then
/// its outputs (four pooled outputs, or sixteen) stored where they belong; outputs past the
/// map's last row or column are dropped.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn winograd4_tiles<K: crate::simd::WinogradKernel>(
    kernel: K,
    src: Rows<'_>,
    d: &ConvDesc<'_>,
    rows: (usize, usize),
    layer: &crate::simd::WinogradLayer<'_>,
    out: &mut [i8],
) {
    use crate::simd::{WINOGRAD_MAX_PAIRS, WINOGRAD_TILES};
    const POSITIONS: usize = 36;
    let span = WinogradSpan::new(src, d, rows, 4);
    let WinogradSpan {
        c,
        w,
        oc,
        cw,
        y1,
        pooled,
        ..
    } = span;
    let (all, stride) = (span.tiles, c.next_multiple_of(16));
    let mut u = [0i16; WINOGRAD_TILES * POSITIONS * 2 * WINOGRAD_MAX_PAIRS];
    let mut tile_out = [0i8; WINOGRAD_TILES * 16 * 64];
    let per_tile = if pooled { 4 } else { 16 };
    // Tile `j`: rows `ty..ty + 4` and columns `tx..tx + 4` of the convolution.
    let at = |j: usize| span.at(j);
    // Where output `q` of the tile at `(ty, tx)` goes in `out`; `None` past the map.
    let dest = |(ty, tx): (usize, usize), q: usize| {
        if pooled {
            // Pooled output `q` (row-major in the tile's 2×2 of them).
            let (y, x) = (ty / 2 + q / 2, tx / 2 + q % 2);
            (y < rows.1 && x < cw / 2).then(|| ((y - rows.0) * (cw / 2) + x) * oc)
        } else {
            let (y, x) = (ty + q / 4, tx + q % 4);
            (y < y1 && x < cw).then(|| ((y - rows.0) * cw + x) * oc)
        }
    };
    // A tile inside the map whose 6×6 input pixels are all one pixel (a digit's blank margin)
    // has every output equal to that pixel's output, the same in every such tile: the first
    // one is computed, the others copy its output (`known`: that pixel and its output).
    let mut known: Option<([i8; 64], [i8; 64])> = None;
    let mut j = 0;
    while j < all {
        // Up to `WINOGRAD_TILES` tiles to compute (and whether each is uniform); the known
        // uniform ones on the way are stored at once.
        let mut batch = [(0, false); WINOGRAD_TILES];
        let mut tiles = 0;
        while j < all && tiles < WINOGRAD_TILES {
            let (ty, tx) = at(j);
            let uniform = uniform_window((src.data, w, c), (ty - src.y0, tx), 6);
            let pixel = &src.data[((ty - src.y0) * w + tx) * c..][..c];
            match &known {
                Some((key, value)) if uniform && key[..c] == *pixel => {
                    for q in 0..per_tile {
                        if let Some(to) = dest((ty, tx), q) {
                            copy_pixel(&mut out[to..to + oc], &value[..oc]);
                        }
                    }
                }
                _ => {
                    batch[tiles] = (j, uniform);
                    tiles += 1;
                }
            }
            j += 1;
        }
        // Pixels past the rows `src` holds or its last column read as zero: only outputs
        // that are dropped depend on them.
        for (t, &(j, _)) in batch[..tiles].iter().enumerate() {
            let (ty, tx) = at(j);
            let u = &mut u[t * POSITIONS * stride..];
            kernel.inputs((src.data, w, c), (ty - src.y0, tx), u, stride);
        }
        let tile_out = &mut tile_out[..tiles * per_tile * oc];
        if tiles > 0 {
            kernel.conv((&u, stride), tiles, pooled, layer, tile_out);
        }
        for (&(j, uniform), outs) in batch[..tiles].iter().zip(tile_out.chunks(per_tile * oc)) {
            let (ty, tx) = at(j);
            for (q, o) in outs.chunks(oc).enumerate() {
                if let Some(to) = dest((ty, tx), q) {
                    copy_pixel(&mut out[to..to + oc], o);
                }
            }
            if uniform {
                let (mut key, mut value) = ([0i8; 64], [0i8; 64]);
                key[..c].copy_from_slice(&src.data[((ty - src.y0) * w + tx) * c..][..c]);
                value[..oc].copy_from_slice(&outs[..oc]);
                known = Some((key, value));
            }
        }
    }
}

/// Whether the `size × size` pixels at `(y, x)` of a map (`data`: rows of `w` pixels of `c`
/// values) lie inside it and are all equal.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn uniform_window(
    (data, w, c): (&[i8], usize, usize),
    (y, x): (usize, usize),
    size: usize,
) -> bool {
    let rows = data.len() / (w * c).max(1);
    if y + size > rows || x + size > w {
        return false;
    }
    let row = |r: usize| &data[((y + r) * w + x) * c..][..size * c];
    let first = row(0);
    // The first row repeats its first pixel (shifted by a pixel it equals itself), and every
    // other row equals it.
    first[c..] == first[..(size - 1) * c] && (1..size).all(|r| row(r) == first)
}

/// The tile's accumulators when a weight row must be zero-padded by copying (the last rows of
/// the weight array, when `kp > k`). Out of line, so its scratch rows take stack only while it
/// runs, and never on paths whose [`Tile::PAD`] is 1.
#[inline(never)]
#[cold]
fn dot_4x2_padded<T: Tile>(
    t: T,
    p: [&[i8]; 4],
    weights: &[i8],
    o: [usize; 2],
    k: usize,
    kp: usize,
) -> [i32; 8] {
    // Zeroing 2 × 576 bytes per call would dominate short windows: use 64-byte rows when they do.
    if kp <= 64 {
        let mut rows = [[0i8; 64]; 2];
        for (row, &o) in rows.iter_mut().zip(&o) {
            row[..k].copy_from_slice(&weights[o * k..o * k + k]);
        }
        return t.dot_4x2(p, &rows[0][..kp], &rows[1][..kp], kp);
    }
    let mut rows = [[0i8; MAX_WINDOW]; 2];
    for (row, &o) in rows.iter_mut().zip(&o) {
        row[..k].copy_from_slice(&weights[o * k..o * k + k]);
    }
    t.dot_4x2(p, &rows[0][..kp], &rows[1][..kp], kp)
}

/// What every tile of one convolution shares.
struct TileCtx<'a, 'd, T> {
    t: T,
    d: &'a ConvDesc<'d>,
    src: Rows<'a>,
    zp_in: i8,
    /// The int8 weights (empty for sub-byte weights, which `tiles_packed` unpacks).
    weights: &'a [i8],
    k: usize,
    kp: usize,
    oc_n: usize,
    stride: usize,
    kh: usize,
    kw: usize,
    pad: (usize, usize),
    seg: usize,
    direct: bool,
    row: usize,
    cw: usize,
    lo: i32,
    hi: i32,
}

impl<T: Tile> TileCtx<'_, '_, T> {
    /// The receptive fields of the four output pixels `px`: located in place (their offsets in
    /// the input rows), or gathered into `buf` (`stride` bytes apart).
    #[inline(always)]
    fn fields(&self, buf: &mut [i8], px: [(usize, usize); 4]) -> [usize; 4] {
        let c = self.src.s.c as usize;
        if self.direct {
            return px.map(|(y, x)| (y - self.src.y0) * self.row + x * c);
        }
        for (j, &(y, x)) in px.iter().enumerate() {
            gather(
                self.src,
                self.kh,
                self.kw,
                self.pad,
                y,
                x,
                self.zp_in,
                &mut buf[j * self.stride..j * self.stride + self.k],
            );
        }
        [0; 4]
    }

    /// The accumulators of the 4×2 tile of channels (o, o + 1) of int8 weights: receptive
    /// fields read in place from `data` at `at` ([`Self::acc_direct`]) or gathered in `buf`
    /// ([`Self::acc_gathered`]).
    #[inline(always)]
    fn acc(&self, buf: &[i8], data: &[i8], at: [usize; 4], o: usize) -> [i32; 8] {
        let weights = self.weights;
        if self.direct {
            let (o1, k) = ((o + 1).min(self.oc_n - 1), self.k);
            self.acc_direct(
                data,
                at,
                &weights[o * k..o * k + k],
                &weights[o1 * k..o1 * k + k],
            )
        } else {
            self.acc_gathered(buf, weights, o)
        }
    }

    /// The accumulators of the 4×2 tile of channels (o, o + 1) over the four gathered patches
    /// in `buf` (`stride` bytes apart).
    #[inline(always)]
    fn acc_gathered(&self, buf: &[i8], weights: &[i8], o: usize) -> [i32; 8] {
        let TileCtx { t, k, kp, oc_n, .. } = *self;
        let o1 = (o + 1).min(oc_n - 1);
        let p = self.patches(buf);
        // Bytes past row `o1` (the next rows) multiply zero padding: reading them is exact.
        if o1 * k + kp <= weights.len() {
            t.dot_4x2(
                p,
                &weights[o * k..o * k + kp],
                &weights[o1 * k..o1 * k + kp],
                kp,
            )
        } else {
            dot_4x2_padded(t, p, weights, [o, o1], k, kp)
        }
    }

    /// The four gathered patches in `buf` (`stride` bytes apart), `kp` bytes each.
    #[inline(always)]
    fn patches<'b>(&self, buf: &'b [i8]) -> [&'b [i8]; 4] {
        let (kp, stride) = (self.kp, self.stride);
        core::array::from_fn(|j| &buf[j * stride..j * stride + kp])
    }

    /// The accumulators of the 4×2 tile of weight rows `w0`, `w1` (`k` bytes each) read in
    /// place: the receptive field of pixel `j` is `kh` row segments of `seg` bytes, the first at
    /// `data[at[j]..]`, the next ones `row` bytes apart (`seg` a multiple of
    /// [`crate::simd::SEG_ALIGN`]).
    #[inline(always)]
    fn acc_direct(&self, data: &[i8], at: [usize; 4], w0: &[i8], w1: &[i8]) -> [i32; 8] {
        let TileCtx {
            t, kh, seg, row, ..
        } = *self;
        let span = (kh - 1) * row + seg;
        t.dot_4x2_rows(
            [
                &data[at[0]..at[0] + span],
                &data[at[1]..at[1] + span],
                &data[at[2]..at[2] + span],
                &data[at[3]..at[3] + span],
            ],
            w0,
            w1,
            seg,
            kh,
            row,
        )
    }

    /// The requantization of channels (o, o + 1).
    #[inline(always)]
    fn requants(&self, o: usize) -> (Requant, Requant) {
        let ch = self.d.channels();
        (ch.requant(o), ch.requant((o + 1).min(self.oc_n - 1)))
    }

    /// [`Self::requants`] `r0`, `r1` of channels (o, o + 1) with the biases and clamp, for
    /// [`Tile::requant_4x2`] and [`Tile::requant_max_4x2`] (valid when both shift right).
    #[inline(always)]
    fn requant4x2(&self, o: usize, r0: Requant, r1: Requant) -> Requant4x2 {
        let ch = self.d.channels();
        Requant4x2 {
            bias: [ch.bias(o), ch.bias((o + 1).min(self.oc_n - 1))],
            multiplier: [r0.multiplier, r1.multiplier],
            right_shift: [-(r0.shift as i32), -(r1.shift as i32)],
            lo: self.lo,
            hi: self.hi,
            zero_point: self.d.output_zero_point as i32,
        }
    }

    /// Requantize the accumulators of the tile of channels (o, o + 1).
    #[inline(always)]
    fn finish(&self, acc: [i32; 8], o: usize) -> [i32; 8] {
        let (r0, r1) = self.requants(o);
        let q = self.requant4x2(o, r0, r1);
        if r0.shift > 0 || r1.shift > 0 {
            // A left shift (a real multiplier above 1) is rare: the scalar path handles it.
            let (zp, relu) = (self.d.output_zero_point, self.d.relu);
            return core::array::from_fn(|j| {
                let (b, rq) = if j < 4 {
                    (q.bias[0], r0)
                } else {
                    (q.bias[1], r1)
                };
                to_int8(b + acc[j], rq, zp, relu) as i32
            });
        }
        self.t.requant_4x2(acc, &q)
    }

    /// The 2×2 max pools of the tile's two channels ([`Tile::requant_max_4x2`]: pooled before
    /// requantizing, which is exact).
    #[inline(always)]
    fn finish_max_pooled(&self, acc: [i32; 8], o: usize) -> [i8; 2] {
        if !T::SCALAR {
            let (r0, r1) = self.requants(o);
            if r0.shift <= 0 && r1.shift <= 0 {
                let q = self.requant4x2(o, r0, r1);
                return self.t.requant_max_4x2(acc, &q).map(|v| v as i8);
            }
        }
        let o1 = (o + 1).min(self.oc_n - 1);
        [
            self.requant_one(max4(&acc[..4]), o),
            self.requant_one(max4(&acc[4..]), o1),
        ]
    }

    /// One accumulator of channel `o` requantized to int8 (any shift: [`to_int8`]).
    #[inline(always)]
    fn requant_one(&self, acc: i32, o: usize) -> i8 {
        let (ch, d) = (self.d.channels(), self.d);
        to_int8(ch.bias(o) + acc, ch.requant(o), d.output_zero_point, d.relu)
    }
}

/// One way of computing the accumulators of the 4×2 tile of channels (o, o + 1) whose
/// receptive fields [`TileCtx::fields`] located (in place, or gathered in `buf`); the tile
/// loops requantize them. A trait with always-inlined methods rather than a closure: the tile
/// loops must compile to the same code as if the kernel were written in them.
trait TileKernel {
    fn acc(&self, buf: &[i8], at: [usize; 4], o: usize) -> [i32; 8];
}

/// int8 weights, read where they are in the blob.
impl<T: Tile> TileKernel for TileCtx<'_, '_, T> {
    #[inline(always)]
    fn acc(&self, buf: &[i8], at: [usize; 4], o: usize) -> [i32; 8] {
        TileCtx::acc(self, buf, self.src.data, at, o)
    }
}

/// Sub-byte weights of one channel pair, unpacked once; fields read in place.
struct InPlace<'c, 'a, 'd, T> {
    ctx: &'c TileCtx<'a, 'd, T>,
    w: [&'c [i8]; 2],
}

impl<T: Tile> TileKernel for InPlace<'_, '_, '_, T> {
    #[inline(always)]
    fn acc(&self, _: &[i8], at: [usize; 4], _: usize) -> [i32; 8] {
        let ctx = self.ctx;
        ctx.acc_direct(ctx.src.data, at, self.w[0], self.w[1])
    }
}

/// Sub-byte weights unpacked per tile (`N`-byte rows) for gathered fields.
struct Gathered<'c, 'a, 'd, T, const N: usize>(&'c TileCtx<'a, 'd, T>);

impl<T: Tile, const N: usize> TileKernel for Gathered<'_, '_, '_, T, N> {
    #[inline(always)]
    fn acc(&self, buf: &[i8], _: [usize; 4], o: usize) -> [i32; 8] {
        let (ctx, kp) = (self.0, self.0.kp);
        let w = unpack_pair::<N, T>(ctx, o);
        ctx.t
            .dot_4x2(ctx.patches(buf), &w[0][..kp], &w[1][..kp], kp)
    }
}

/// The two weight rows of channels (o, o + 1) of sub-byte weights, unpacked into int8 (`N`
/// bytes each, zero beyond `k` as gathered patches are): run on them, the micro-kernels give
/// the accumulators of the same weights stored as int8.
#[inline(always)]
fn unpack_pair<const N: usize, T>(ctx: &TileCtx<'_, '_, T>, o: usize) -> [[i8; N]; 2] {
    let o1 = (o + 1).min(ctx.oc_n - 1);
    let mut rows = [[0i8; N]; 2];
    for (row, o) in rows.iter_mut().zip([o, o1]) {
        crate::packing::unpack(ctx.d.weight_bits, ctx.d.row(o), 0, &mut row[..ctx.k]);
    }
    rows
}

/// Sub-byte weights, receptive fields read in place: channel pairs outside, tiles inside, so
/// each pair's rows are unpacked once per call (not once per tile); locating a tile's fields in
/// place costs a few additions. Out of line, so that only the buffer of the size in use is on
/// the stack, and only while such a layer runs.
#[inline(never)]
fn tiles_unpacked_in_place<const N: usize, T: Tile>(
    ctx: &TileCtx<'_, '_, T>,
    rows: (usize, usize),
    out: &mut [i8],
    buf: &mut [i8],
) {
    for o in (0..ctx.oc_n).step_by(2) {
        let w = unpack_pair::<N, T>(ctx, o);
        let kernel = InPlace {
            ctx,
            w: [&w[0][..ctx.k], &w[1][..ctx.k]],
        };
        tiles(ctx, rows, out, buf, o..o + 2, &kernel);
    }
}

/// Sub-byte weights, gathered receptive fields: per tile, each channel pair's rows unpacked
/// (re-gathering the four patches per channel pair would cost more). Out of line, as above.
#[inline(never)]
fn tiles_unpacked_gathered<const N: usize, T: Tile>(
    ctx: &TileCtx<'_, '_, T>,
    rows: (usize, usize),
    out: &mut [i8],
    buf: &mut [i8],
) {
    tiles(ctx, rows, out, buf, 0..ctx.oc_n, &Gathered::<T, N>(ctx));
}

/// Convolution over tiles of 4 output pixels (4 along a row, or the 2×2 window of a fused
/// pool) × 2 output channels on the micro-kernel `t`: gather the four receptive fields once,
/// then run every pair of output channels over them. Always inlined, so that each ISA's entry
/// point compiles it with that ISA's features. Output rows `rows.0..rows.1`; the four patches
/// sit `scratch.len() / 4` bytes apart.
#[inline(always)]
fn conv2d_tiled<T: Tile>(
    t: T,
    src: Rows<'_>,
    zp_in: i8,
    d: &ConvDesc<'_>,
    rows: (usize, usize),
    out: &mut [i8],
    scratch: &mut [i8],
) {
    let s = src.s;
    let (kh, kw) = (d.kernel_h as usize, d.kernel_w as usize);
    let (w, c) = (s.w as usize, s.c as usize);
    let k = kh * kw * c;
    // PATCH_ALIGN is a multiple of every PAD, so a padded window still fits a patch.
    let kp = k.next_multiple_of(T::PAD);
    // Without padding, and with kernel rows a whole number of 4-byte words, every receptive
    // field is `kh` row segments of the input: the tiles read them in place (no gather, no
    // scratch; see `needs_patches`), on every path.
    let direct = reads_in_place(d, c, crate::simd::SEG_ALIGN);
    let stride = scratch.len() / 4;
    if !direct {
        // Patches must be zero beyond `k` (gather writes only the first `k` bytes of each); the
        // scratch is shared by every layer, so clear that tail once per call.
        for j in 0..4 {
            scratch[j * stride + k..j * stride + kp].fill(0);
        }
    }
    let zp = d.output_zero_point;
    let lo = if d.relu { zp as i32 } else { -128 };
    let ctx = TileCtx {
        t,
        d,
        src,
        zp_in,
        weights: d.weights_i8().unwrap_or(&[]),
        k,
        kp,
        oc_n: d.out_channels as usize,
        stride,
        kh,
        kw,
        pad: (pad_before(d.padding, kh), pad_before(d.padding, kw)),
        seg: kw * c,
        direct,
        row: w * c,
        cw: conv_out(d.padding, w, kw),
        lo: lo - zp as i32,
        hi: 127 - zp as i32,
    };
    if d.weight_bits < 8 {
        return tiles_packed(&ctx, rows, out, scratch);
    }
    tiles(&ctx, rows, out, scratch, 0..ctx.oc_n, &ctx);
}

/// Output rows `rows`, channels `channels` (pairs from its start), tile by tile: along the rows,
/// or one tile per pooled pixel; `kernel` computes each tile.
#[inline(always)]
fn tiles<T: Tile>(
    ctx: &TileCtx<'_, '_, T>,
    rows: (usize, usize),
    out: &mut [i8],
    buf: &mut [i8],
    channels: core::ops::Range<usize>,
    kernel: &impl TileKernel,
) {
    match ctx.d.pool {
        Pool::None => tiles_along_rows(ctx, rows, out, buf, channels, kernel),
        pool => tiles_pooled(ctx, pool, rows, out, buf, channels, kernel),
    }
}

/// [`conv2d_tiled`]'s loops for sub-byte weights, by the size of the unpacked rows' buffer.
/// Out of line, so that the int8 loops are compiled (registers, inlining) as if the packed ones
/// did not exist.
#[inline(never)]
fn tiles_packed<T: Tile>(
    ctx: &TileCtx<'_, '_, T>,
    rows: (usize, usize),
    out: &mut [i8],
    scratch: &mut [i8],
) {
    match (ctx.direct, ctx.kp) {
        (true, ..=64) => tiles_unpacked_in_place::<64, T>(ctx, rows, out, scratch),
        (true, 65..=160) => tiles_unpacked_in_place::<160, T>(ctx, rows, out, scratch),
        (true, _) => tiles_unpacked_in_place::<MAX_WINDOW, T>(ctx, rows, out, scratch),
        (false, ..=64) => tiles_unpacked_gathered::<64, T>(ctx, rows, out, scratch),
        (false, 65..=160) => tiles_unpacked_gathered::<160, T>(ctx, rows, out, scratch),
        (false, _) => tiles_unpacked_gathered::<MAX_WINDOW, T>(ctx, rows, out, scratch),
    }
}

/// [`tiles`] without pooling: tiles of four consecutive output pixels in row-major order (a
/// tile may wrap to the next row), so only the very last tile can be partial.
#[inline(always)]
fn tiles_along_rows<T: Tile>(
    ctx: &TileCtx<'_, '_, T>,
    rows: (usize, usize),
    out: &mut [i8],
    buf: &mut [i8],
    channels: core::ops::Range<usize>,
    kernel: &impl TileKernel,
) {
    let (cw, oc_n) = (ctx.cw, ctx.oc_n);
    let (p0, p1) = (rows.0 * cw, rows.1 * cw);
    for first in (p0..p1).step_by(4) {
        let group = (p1 - first).min(4);
        let at = ctx.fields(
            buf,
            core::array::from_fn(|j| {
                let i = first + j.min(group - 1);
                (i / cw, i % cw)
            }),
        );
        let o_px = &mut out[(first - p0) * oc_n..(first - p0 + group) * oc_n];
        for o in channels.clone().step_by(2) {
            let r = ctx.finish(kernel.acc(buf, at, o), o);
            for (j, px) in o_px.chunks_exact_mut(oc_n).enumerate() {
                px[o] = r[j] as i8;
                if let Some(v) = px.get_mut(o + 1) {
                    *v = r[4 + j] as i8;
                }
            }
        }
    }
}

/// [`tiles`] of a fused 2×2 pool: one tile per pooled pixel (its 2×2 window).
#[inline(always)]
fn tiles_pooled<T: Tile>(
    ctx: &TileCtx<'_, '_, T>,
    pool: Pool,
    rows: (usize, usize),
    out: &mut [i8],
    buf: &mut [i8],
    channels: core::ops::Range<usize>,
    kernel: &impl TileKernel,
) {
    let (pw, oc_n) = (ctx.cw / 2, ctx.oc_n);
    for py in rows.0..rows.1 {
        for px in 0..pw {
            let (y, x) = (2 * py, 2 * px);
            let at = ctx.fields(buf, [(y, x), (y, x + 1), (y + 1, x), (y + 1, x + 1)]);
            let at_out = ((py - rows.0) * pw + px) * oc_n;
            let o_px = &mut out[at_out..at_out + oc_n];
            for o in channels.clone().step_by(2) {
                let acc = kernel.acc(buf, at, o);
                if pool == Pool::Max2 {
                    let [a, b] = ctx.finish_max_pooled(acc, o);
                    o_px[o] = a;
                    if let Some(slot) = o_px.get_mut(o + 1) {
                        *slot = b;
                    }
                    continue;
                }
                let r = ctx.finish(acc, o);
                let v = |h: usize| core::array::from_fn(|j| r[h + j] as i8);
                o_px[o] = combine(pool, v(0));
                if let Some(slot) = o_px.get_mut(o + 1) {
                    *slot = combine(pool, v(4));
                }
            }
        }
    }
}

/// The patch length (padded for the widest path, [`crate::plan::PATCH_ALIGN`]) a convolution
/// over `c` input channels gathers its receptive fields into; `None` when every path reads them
/// in place: no padding, and kernel rows of `kw · c` bytes a multiple of
/// [`crate::simd::SEG_ALIGN`] (shorter segments, like a first layer's 3 bytes, would leave the
/// word-wise DSP kernel nothing but scalar tails).
pub(crate) fn needs_patches(d: &ConvDesc<'_>, c: usize) -> Option<usize> {
    needs_patches_at(d, c, crate::simd::SEG_ALIGN)
}

/// [`needs_patches`] for in-place segments that are a multiple of `seg_align` bytes (16 in
/// format version 3's memory plan, 4 since version 4).
pub(crate) fn needs_patches_at(d: &ConvDesc<'_>, c: usize, seg_align: usize) -> Option<usize> {
    let (kh, kw) = (d.kernel_h as usize, d.kernel_w as usize);
    if reads_in_place(d, c, seg_align) {
        return None;
    }
    Some((kh * kw * c).next_multiple_of(crate::plan::PATCH_ALIGN))
}

/// Whether a convolution over `c` input channels reads its receptive fields in place when
/// segments must be a multiple of `seg_align` bytes: no padding, kernel rows a multiple of it.
#[inline(always)]
fn reads_in_place(d: &ConvDesc<'_>, c: usize, seg_align: usize) -> bool {
    d.padding == Padding::Valid && (d.kernel_w as usize * c).is_multiple_of(seg_align)
}

/// Output rows `rows.0..rows.1` of a depthwise 2-D convolution (channel multiplier 1) with fused
/// ReLU and optional pooling.
pub(crate) fn depthwise_conv2d(
    src: Rows<'_>,
    zp_in: i8,
    d: &ConvDesc<'_>,
    rows: (usize, usize),
    out: &mut [i8],
) {
    let (input, y0, s) = (src.data, src.y0, src.s);
    let (kh, kw) = (d.kernel_h as usize, d.kernel_w as usize);
    let (h, w, c) = (s.h as usize, s.w as usize, s.c as usize);
    // Depthwise weights are int8 (the planner refuses other precisions).
    let weights: &[i8] = bytemuck::cast_slice(d.weights);
    let pad = (pad_before(d.padding, kh), pad_before(d.padding, kw));
    let cw = conv_out(d.padding, w, kw);
    let value = |oy: usize, ox: usize, ci: usize| -> i8 {
        let mut acc = d.channels().bias(ci);
        for ky in 0..kh {
            let iy = (oy + ky).wrapping_sub(pad.0);
            for kx in 0..kw {
                let ix = (ox + kx).wrapping_sub(pad.1);
                let x = if iy < h && ix < w {
                    input[((iy - y0) * w + ix) * c + ci]
                } else {
                    zp_in
                };
                acc += x as i32 * weights[(ky * kw + kx) * c + ci] as i32;
            }
        }
        to_int8(acc, d.channels().requant(ci), d.output_zero_point, d.relu)
    };
    match d.pool {
        Pool::None => {
            for oy in rows.0..rows.1 {
                for ox in 0..cw {
                    for ci in 0..c {
                        out[((oy - rows.0) * cw + ox) * c + ci] = value(oy, ox, ci);
                    }
                }
            }
        }
        pool => {
            let pw = cw / 2;
            for py in rows.0..rows.1 {
                for px in 0..pw {
                    for ci in 0..c {
                        let (y, x) = (2 * py, 2 * px);
                        let v = [
                            value(y, x, ci),
                            value(y, x + 1, ci),
                            value(y + 1, x, ci),
                            value(y + 1, x + 1, ci),
                        ];
                        out[((py - rows.0) * pw + px) * c + ci] = combine(pool, v);
                    }
                }
            }
        }
    }
}

/// Output rows `rows.0..rows.1` of a standalone 2×2 stride-2 pooling.
pub(crate) fn pool2(src: Rows<'_>, pool: Pool, rows: (usize, usize), out: &mut [i8]) {
    let (input, y0) = (src.data, src.y0);
    let (w, c) = (src.s.w as usize, src.s.c as usize);
    let pw = w / 2;
    for py in rows.0..rows.1 {
        for px in 0..pw {
            for ci in 0..c {
                let at = |y: usize, x: usize| input[((y - y0) * w + x) * c + ci];
                let (y, x) = (2 * py, 2 * px);
                out[((py - rows.0) * pw + px) * c + ci] = combine(
                    pool,
                    [at(y, x), at(y, x + 1), at(y + 1, x), at(y + 1, x + 1)],
                );
            }
        }
    }
}

/// Fully connected layer producing int8 activations.
pub(crate) fn dense_int8(input: &[i8], d: &DenseDesc<'_>, zero_point: i8, out: &mut [i8]) {
    for (o, slot) in out.iter_mut().enumerate() {
        let acc = d.channels().bias(o) + dense_dot(input, 0, d, o);
        *slot = to_int8(acc, d.channels().requant(o), zero_point, d.relu);
    }
}

/// `Σ band[i] · w[o][k0 + i]`: the int8 rows directly, packed rows through [`dense_dot_packed`].
#[inline(always)]
fn dense_dot(band: &[i8], k0: usize, d: &DenseDesc<'_>, o: usize) -> i32 {
    match d.weights_i8() {
        Some(weights) => {
            let at = o * d.in_features as usize + k0;
            dot(band, &weights[at..at + band.len()])
        }
        None => dense_dot_packed(band, k0, d.weight_bits, d.row(o)),
    }
}

/// [`dense_dot`] for 4- and 2-bit rows: `CHUNK` weights at a time unpacked to int8, then the
/// ISA's `dot` (exact integer sums, so the result is the same on every path and chunk size). Out
/// of line, so its buffer is on the stack only while a packed layer runs.
#[inline(never)]
fn dense_dot_packed(band: &[i8], k0: usize, bits: u8, row: &[u8]) -> i32 {
    // 32 on the microcontrollers (stack); 256 where memory is plentiful, so that the vector
    // `dot`'s horizontal sum is paid once per 256 weights instead of per 32.
    const CHUNK: usize = if cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
        256
    } else {
        32
    };
    let mut w = [0i8; CHUNK];
    let mut acc = 0;
    for (c, x) in band.chunks(CHUNK).enumerate() {
        let w = &mut w[..x.len()];
        crate::packing::unpack(bits, row, k0 + c * CHUNK, w);
        acc += dot(x, w);
    }
    acc
}

/// Fully connected layer producing int32 logits (no zero point, no clamp).
pub(crate) fn dense_logits(input: &[i8], d: &DenseDesc<'_>, out: &mut [i32]) {
    out.fill(0);
    dense_logits_add(input, 0, d, out);
    dense_logits_finish(d, out);
}

/// Part of a logits layer: add to the int32 accumulators `acc` the products of its inputs
/// `[k0, k0 + band.len())`, given in `band`. Integer sums, so any split of the inputs into bands
/// gives the same accumulators.
pub(crate) fn dense_logits_add(band: &[i8], k0: usize, d: &DenseDesc<'_>, acc: &mut [i32]) {
    for (o, slot) in acc.iter_mut().enumerate() {
        *slot += dense_dot(band, k0, d, o);
    }
}

/// The end of a logits layer: bias and requantization of the accumulators, in place.
pub(crate) fn dense_logits_finish(d: &DenseDesc<'_>, acc: &mut [i32]) {
    for (o, slot) in acc.iter_mut().enumerate() {
        *slot = requantize_valid(d.channels().bias(o) + *slot, d.channels().requant(o));
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u32 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) as u32
        }
        fn below(&mut self, n: u32) -> u32 {
            self.next() % n
        }
        fn i8(&mut self) -> i8 {
            self.next() as i8
        }
    }

    /// One band of a streamed convolution: input rows, output rows, output, scratch.
    type Band<'f> = dyn FnMut(Rows<'_>, (usize, usize), &mut [i8], &mut [i8]) + 'f;

    /// Direct definition of the convolution (FORMAT.md semantics), one output at a time, with
    /// `weights` the layer's weights as int8 (OHWI).
    fn reference(
        input: &[i8],
        s: Shape,
        zp_in: i8,
        d: &ConvDesc<'_>,
        weights: &[i8],
    ) -> [i8; 4096] {
        let (kh, kw) = (d.kernel_h as usize, d.kernel_w as usize);
        let (h, w, c) = (s.h as usize, s.w as usize, s.c as usize);
        let oc_n = d.out_channels as usize;
        let pad = (pad_before(d.padding, kh), pad_before(d.padding, kw));
        let (ch, cw) = (conv_out(d.padding, h, kh), conv_out(d.padding, w, kw));
        let value = |oy: usize, ox: usize, o: usize| {
            let mut acc = d.channels().bias(o);
            for ky in 0..kh {
                for kx in 0..kw {
                    for ci in 0..c {
                        let (iy, ix) =
                            ((oy + ky).wrapping_sub(pad.0), (ox + kx).wrapping_sub(pad.1));
                        let x = if iy < h && ix < w {
                            input[(iy * w + ix) * c + ci]
                        } else {
                            zp_in
                        };
                        acc += x as i32 * weights[((o * kh + ky) * kw + kx) * c + ci] as i32;
                    }
                }
            }
            to_int8(acc, d.channels().requant(o), d.output_zero_point, d.relu)
        };
        let mut out = [0i8; 4096];
        match d.pool {
            Pool::None => {
                for oy in 0..ch {
                    for ox in 0..cw {
                        for o in 0..oc_n {
                            out[(oy * cw + ox) * oc_n + o] = value(oy, ox, o);
                        }
                    }
                }
            }
            pool => {
                let pw = cw / 2;
                for py in 0..ch / 2 {
                    for px in 0..pw {
                        for o in 0..oc_n {
                            let (y, x) = (2 * py, 2 * px);
                            let v = [
                                value(y, x, o),
                                value(y, x + 1, o),
                                value(y + 1, x, o),
                                value(y + 1, x + 1, o),
                            ];
                            out[(py * pw + px) * oc_n + o] = combine(pool, v);
                        }
                    }
                }
            }
        }
        out
    }

    /// Every conv kernel this CPU has (AVX2, the four-patch dot path) equals the direct
    /// definition on random layers: windows from 1 to 576 taps, odd channel counts, both
    /// paddings, fused pools, ReLU, left and right shifts, extreme weights and inputs, int8 and
    /// 4- and 2-bit weights (packed rows, unpacked per channel pair or per tile), and the
    /// first-layer kernel of the cores without wide vectors (`conv2d_first`) on every fifth case.
    #[test]
    fn every_conv_kernel_equals_the_definition() {
        let mut rng = Lcg(42);
        let mut checked_first_rows = 0;
        #[cfg(target_arch = "x86_64")]
        let (mut checked_avx2, mut checked_first, mut checked_3x3, mut checked_lanes) =
            (0, 0, 0, 0);
        #[cfg(target_arch = "x86_64")]
        let (mut checked_wide, mut checked_3x3_wide, mut checked_winograd) = (0, 0, 0);
        #[cfg(target_arch = "x86_64")]
        let (mut checked_prepared, mut checked_sse2_winograd) = (0, 0);
        let mut checked_prepared_sub_byte = 0;
        #[cfg(target_arch = "x86_64")]
        let mut checked_sse2_3x3_wide = 0;
        #[cfg(target_arch = "aarch64")]
        let mut checked_sdot = 0;
        for case in 0..400 {
            let kh = [1, 2, 3, 5][rng.below(4) as usize];
            let kw = [1, 3, 3, 5][rng.below(4) as usize];
            let c = [1, 1, 2, 3, 4, 8, 12, 16, 23, 32][rng.below(10) as usize].min(576 / (kh * kw));
            let oc_n = [1, 2, 3, 5, 16, 17][rng.below(6) as usize];
            let padding = if rng.below(2) == 0 {
                Padding::Valid
            } else {
                Padding::Same
            };
            // Every fifth case a first layer (one channel, three kernel rows, no padding): the
            // shapes `conv2d_first` takes.
            let first_case = case % 5 == 4;
            let (c, kh, padding) = if first_case {
                (1, 3, Padding::Valid)
            } else {
                (c, kh, padding)
            };
            let kw = if first_case {
                1 + rng.below(4) as usize
            } else {
                kw
            };
            let pool = [Pool::None, Pool::Max2, Pool::Avg2][rng.below(3) as usize];
            // Two in twenty cases the sub-byte models' first layer (3×3, max-pooled; 4- and
            // 2-bit weights by `case % 4` below).
            let sub_byte_first = first_case && matches!(case % 20, 9 | 14);
            // And two in twenty a sub-byte layer read in place with a max pool (4- and 2-bit).
            let lanes_case = matches!(case % 20, 1 | 2);
            let (c, padding) = if lanes_case {
                ([4, 8, 12, 16][rng.below(4) as usize], Padding::Valid)
            } else {
                (c, padding)
            };
            // And one in twenty an int8 3×3 first layer (`case % 4 == 0`), pooled or not.
            let int8_first = first_case && case % 20 == 4;
            let (kw, pool) = if int8_first {
                (3, [Pool::None, Pool::Max2][case / 20 % 2])
            } else if sub_byte_first || lanes_case {
                (if sub_byte_first { 3 } else { kw }, Pool::Max2)
            } else {
                (kw, pool)
            };
            // And two in twenty a 3×3 int8 layer without padding, one of them extreme (Winograd's,
            // `case % 4 == 3` and extreme cases have int8 weights), pooled or not.
            let wino_case = matches!(case % 20, 7 | 10);
            let (kh, kw, c, padding, pool) = if wino_case {
                let c = [2, 4, 6, 8, 16, 24, 32][rng.below(7) as usize];
                let c = if case % 20 == 10 {
                    // The extreme ones at the most channels an SSE2 pool may take its maximum
                    // before the division (24) and past it (32).
                    [24, 32][case / 40 % 2]
                } else if case % 40 >= 20 {
                    // The larger maps below: 16 channels, a whole vector of them.
                    16
                } else {
                    c
                };
                (
                    3,
                    3,
                    c,
                    Padding::Valid,
                    [Pool::None, Pool::Max2][case / 20 % 2],
                )
            } else {
                (kh, kw, c, padding, pool)
            };
            // Winograd's maps one in two times larger (up to 16×16 of 16 channels, the 4,096
            // input bytes) and run whole (below), so that F(4×4, 3×3) tiles lie wholly inside
            // as well as across the edges (two code paths).
            let more = if wino_case && case % 40 >= 20 && case % 20 != 10 {
                6
            } else {
                0
            };
            let h = kh + rng.below(7) as usize + 1 + more;
            let w = kw + rng.below(7) as usize + 1 + more;
            let s = Shape {
                h: h as u32,
                w: w as u32,
                c: c as u32,
            };
            let extreme = case % 10 == 0;
            let k = kh * kw * c;
            // A quarter of the cases at 4 bits, a quarter at 2, the others int8.
            let bits = if extreme { 8 } else { [8, 4, 2, 8][case % 4] };
            let vals: [i8; 576 * 17] = core::array::from_fn(|i| match bits {
                4 => (rng.below(16) as i8) - 8,
                2 => 2 * rng.below(4) as i8 - 3,
                // Extreme: each channel's weights of one sign, so its sums reach their bound
                // (the draw keeps the other cases' random streams as they were).
                _ if extreme => {
                    let _ = rng.below(2);
                    [-127, 127][i / k % 2]
                }
                _ => rng.i8(),
            });
            // The layer's stored bytes: rows of `k` weights packed (the byte layout itself is
            // pinned by `packing`'s tests).
            let mut packed = std::vec::Vec::new();
            for row in vals[..k * oc_n].chunks(k) {
                crate::packing::pack_row(bits as u8, row, &mut packed).unwrap();
            }
            let row_bytes = crate::packing::row_bytes(k, bits as u8);
            let mut wts = [0u8; 576 * 17];
            wts[..packed.len()].copy_from_slice(&packed);
            // Extreme: −128 (every sum at its bound); in half of these cases (all the pooled
            // Winograd ones) about one value in five 0 (a hash of its place), so that
            // neighbouring outputs differ and a pool chooses among sums near their bound.
            let sprinkled = case / 10 % 4 >= 2;
            let input: [i8; 4096] = core::array::from_fn(|i| match extreme {
                true if sprinkled
                    && ((i as u32).wrapping_mul(2_654_435_761) >> 20).is_multiple_of(5) =>
                {
                    0
                }
                true => -128,
                false => rng.i8(),
            });
            // One other case in four: a blank margin, as a digit's — every value outside a
            // rectangle one value — and in half of these the rectangle of another single value,
            // so that the kernels which compute a run of one value once (`differing_span`,
            // `uniform_window`) meet rows and tiles of it partly and wholly, and tiles of two
            // such values. Placed by a hash of the case (the random stream stays as it was).
            let mut input = input;
            if !extreme && case / 10 % 4 == 1 {
                let hash = (case as u32).wrapping_mul(2_654_435_761) as usize;
                let blank = (hash >> 24) as i8;
                let (y0, x0) = ((hash >> 4) % (h / 2 + 1), (hash >> 8) % (w / 2 + 1));
                let y1 = y0 + 1 + (hash >> 12) % (h - y0);
                let x1 = x0 + 1 + (hash >> 16) % (w - x0);
                let inside = (hash >> 28) % 2 == 1;
                for y in 0..h {
                    for x in 0..w {
                        let value = match (y0..y1).contains(&y) && (x0..x1).contains(&x) {
                            true if inside => blank ^ 0x55,
                            true => continue,
                            false => blank,
                        };
                        input[(y * w + x) * c..][..c].fill(value);
                    }
                }
            }
            let mut bias = [0u8; 4 * 17];
            let mut mult = [0u8; 4 * 17];
            let mut shifts = [0u8; 17];
            for o in 0..oc_n {
                let b = rng.below(1 << 21) as i32 - (1 << 20);
                bias[4 * o..4 * o + 4].copy_from_slice(&b.to_le_bytes());
                // Q31 multipliers, sometimes zero (a dead channel).
                let m = if rng.below(20) == 0 {
                    0
                } else {
                    (1i32 << 30) + rng.below(1 << 30) as i32
                };
                mult[4 * o..4 * o + 4].copy_from_slice(&m.to_le_bytes());
                // Mostly right shifts of trained layers (about 6–12), the whole range 0..=31,
                // sometimes a left shift.
                let sh = match rng.below(4) {
                    0 => rng.below(34) as i32 - 31,
                    _ => -(6 + rng.below(7) as i32),
                };
                // Extreme: right shifts of 15 to 17 bring sums near their bound (up to 2^22.2)
                // into the int8 range, so the outputs show them rather than the clamp.
                let sh = if extreme { -(15 + (o % 3) as i32) } else { sh };
                shifts[o] = sh as i8 as u8;
            }
            let d = ConvDesc {
                kernel_h: kh as u8,
                kernel_w: kw as u8,
                in_channels: c as u16,
                out_channels: oc_n as u16,
                padding,
                relu: rng.below(2) == 0,
                pool,
                output_zero_point: rng.i8(),
                weight_bits: bits as u8,
                weights: &wts[..row_bytes * oc_n],
                bias: &bias[..4 * oc_n],
                multipliers: &mult[..4 * oc_n],
                shifts: &shifts[..oc_n],
            };
            let zp_in = rng.i8();
            let (ch, cw) = (conv_out(padding, h, kh), conv_out(padding, w, kw));
            let n = if pool == Pool::None {
                ch * cw
            } else {
                (ch / 2) * (cw / 2)
            } * oc_n;
            let want = reference(&input[..h * w * c], s, zp_in, &d, &vals[..k * oc_n]);
            let x = &input[..h * w * c];
            let check = |name: &str, got: &[i8]| {
                assert_eq!(&got[..n], &want[..n], "{name} kernel, case {case}: {d:?}");
            };
            // Streamed as the plan runs it: bands of output rows, each given only the input rows
            // it reads and a scratch whose padding bytes hold garbage.
            let band = 1 + rng.below(3) as usize;
            // The larger Winograd maps in one band, as whole maps run (F(4×4, 3×3) tiles read
            // six input rows: narrower bands never hold a whole tile).
            let band = if more > 0 { h } else { band };
            let stride = k.next_multiple_of(crate::plan::PATCH_ALIGN) + 16 * rng.below(2) as usize;
            let mut scratch = [0x55i8; 4 * (MAX_WINDOW + 16)];
            let scratch = &mut scratch[..4 * stride];
            let mut got = [0i8; 4096];
            let mut banded = |got: &mut [i8], f: &mut Band<'_>| {
                let m = if pool == Pool::None { 1 } else { 2 };
                let (out_h, out_w) = if m == 1 { (ch, cw) } else { (ch / 2, cw / 2) };
                let stage = crate::plan::Stage {
                    kh: kh as u8,
                    pad: pad_before(padding, kh) as u8,
                    m,
                    ..Default::default()
                };
                let (row_in, row_out) = (w * c, out_w * oc_n);
                got.fill(0);
                let mut a = 0;
                while a < out_h {
                    let b = (a + band).min(out_h);
                    let (lo, hi) = stage.input_rows(h, a, b);
                    let src = Rows {
                        data: &x[lo * row_in..hi * row_in],
                        y0: lo,
                        s,
                    };
                    f(src, (a, b), &mut got[a * row_out..b * row_out], scratch);
                    a = b;
                }
            };
            banded(&mut got, &mut |r, rows, o, sc| {
                conv2d_tiled(crate::simd::Portable, r, zp_in, &d, rows, o, sc)
            });
            check("portable", &got);
            // A kernel that takes some layers only, run on every band: checked against the
            // definition and counted where it took this one; `true` then.
            macro_rules! optional {
                ($name:expr, $count:ident, $kernel:expr) => {{
                    let mut took = true;
                    banded(&mut got, &mut |r, rows, o, _| took &= $kernel(r, rows, o));
                    if took {
                        check($name, &got);
                        $count += 1;
                    }
                    took
                }};
            }
            optional!("portable first-layer", checked_first_rows, |r, rows, o| {
                conv2d_first(crate::simd::Portable, r, &d, rows, o)
            });
            #[cfg(target_arch = "x86_64")]
            {
                banded(&mut got, &mut |r, rows, o, sc| {
                    conv2d_tiled(crate::simd::Sse2, r, zp_in, &d, rows, o, sc)
                });
                check("SSE2", &got);
                if let Some(avx2) = crate::simd::Avx2::detect() {
                    banded(&mut got, &mut |r, rows, o, sc| {
                        conv2d_tiled(avx2, r, zp_in, &d, rows, o, sc)
                    });
                    check("AVX2", &got);
                    checked_avx2 += 1;
                    optional!("AVX2 first-layer", checked_first, |r, rows, o| {
                        conv2d_first_avx2(avx2, r, zp_in, &d, rows, o)
                    });
                    let first = optional!(
                        "AVX2 sub-byte 3x3 first-layer",
                        checked_3x3,
                        |r, rows, o| {
                            avx2.vectorize(|| conv2d_first_3x3_avx2(avx2, r, &d, rows, o))
                        }
                    );
                    // The forced cases, at least (a left shift sends one elsewhere).
                    let left = !right_shifts_only(&d);
                    assert!(!sub_byte_first || first || left);
                    let wide_first = optional!(
                        "AVX2 wide 3x3 first-layer",
                        checked_3x3_wide,
                        |r, rows, o| {
                            avx2.vectorize(|| conv2d_first_3x3_wide(avx2, r, &d, rows, o))
                        }
                    );
                    let sse2_first = optional!(
                        "SSE2 wide 3x3 first-layer",
                        checked_sse2_3x3_wide,
                        |r, rows, o| conv2d_first_3x3_wide(crate::simd::Sse2, r, &d, rows, o)
                    );
                    assert_eq!(wide_first, sse2_first);
                    let lanes = optional!("AVX2 sub-byte lanes", checked_lanes, |r, rows, o| {
                        avx2.vectorize(|| conv2d_lanes_avx2(avx2, r, &d, rows, o))
                    });
                    assert!(!lanes_case || lanes || left);
                    optional!("AVX2 int8 lanes", checked_wide, |r, rows, o| {
                        avx2.vectorize(|| conv2d_wide_avx2(avx2, r, &d, rows, o))
                    });
                    let wino = optional!("AVX2 Winograd", checked_winograd, |r, rows, o| {
                        avx2.vectorize(|| conv2d_winograd(avx2, r, &d, rows, o, (&[], Some(avx2))))
                    });
                    assert!(!wino_case || wino || left);
                    // Per call: int8 weights only.
                    assert!(!wino || bits == 8);
                    if winograd_takes(c, &d) {
                        // The same kernel on weights prepared once (`Model::prepare`), of any
                        // precision; the storage starts as garbage, so a block left unwritten
                        // would show.
                        checked_prepared_sub_byte += usize::from(bits < 8);
                        let mut prepared = std::vec![[0x5a5a_i16; 16]; prepared_blocks(c, &d)];
                        assert!(!prepared.is_empty());
                        prepare_conv(c, &d, &mut prepared);
                        optional!("AVX2 Winograd, prepared", checked_prepared, |r, rows, o| {
                            avx2.vectorize(|| {
                                conv2d_winograd(avx2, r, &d, rows, o, (&prepared, None))
                            })
                        });
                        optional!(
                            "SSE2 Winograd, prepared",
                            checked_sse2_winograd,
                            |r, rows, o| conv2d_winograd(
                                crate::simd::Sse2,
                                r,
                                &d,
                                rows,
                                o,
                                (&prepared, None)
                            )
                        );
                    }
                }
            }
            #[cfg(target_arch = "aarch64")]
            {
                banded(&mut got, &mut |r, rows, o, sc| {
                    conv2d_tiled(crate::simd::Neon, r, zp_in, &d, rows, o, sc)
                });
                check("NEON", &got);
                if let Some(sdot) = crate::simd::NeonDot::detect() {
                    banded(&mut got, &mut |r, rows, o, sc| {
                        sdot.vectorize(|| conv2d_tiled(sdot, r, zp_in, &d, rows, o, sc))
                    });
                    check("NEON SDOT", &got);
                    checked_sdot += 1;
                }
            }
            banded(&mut got, &mut |r, rows, o, sc| {
                conv2d(r, zp_in, &d, rows, o, sc, &[])
            });
            check("dispatched", &got);
        }
        // The first-layer kernel of the cores without wide vectors took every first layer (80
        // forced, a few drawn).
        assert!(checked_first_rows >= 80, "{checked_first_rows}");
        // Say which fast paths this machine checked (CI's x86-64 machines have AVX2).
        #[cfg(target_arch = "x86_64")]
        std::println!(
            "AVX2 kernel checked on {checked_avx2} of 400 random layers, the AVX2 first-layer \
             kernel on the {checked_first} with one input channel and no left shift, the \
             sub-byte 3x3 one on {checked_3x3}, the sub-byte lanes kernel on {checked_lanes}, \
             the int8 lanes kernel on {checked_wide}, the wide 3x3 first-layer one (inputs as int16) on \
             {checked_3x3_wide}, the Winograd one on {checked_winograd} (int8 weights; and on \
             prepared weights on {checked_prepared}, {checked_prepared_sub_byte} of them sub-byte, \
             the SSE2 one on {checked_sse2_winograd}), the SSE2 3x3 first-layer one on \
             {checked_sse2_3x3_wide}"
        );
        #[cfg(target_arch = "x86_64")]
        if crate::simd::Avx2::detect().is_some() {
            assert!(checked_3x3 >= 30, "{checked_3x3}");
            assert!(checked_lanes >= 30, "{checked_lanes}");
            assert!(checked_wide >= 30, "{checked_wide}");
            assert!(checked_3x3_wide >= 20, "{checked_3x3_wide}");
            assert!(checked_winograd >= 30, "{checked_winograd}");
            assert_eq!(
                checked_prepared - checked_prepared_sub_byte,
                checked_winograd
            );
            assert!(
                checked_prepared_sub_byte >= 10,
                "{checked_prepared_sub_byte}"
            );
            assert_eq!(checked_sse2_winograd, checked_prepared);
        }
        #[cfg(target_arch = "aarch64")]
        std::println!("NEON SDOT kernel checked on {checked_sdot} of 400 random layers");
    }

    /// The kernels that compute a run of one value once — the first layer's rows between
    /// their first and last differing column (`differing_span`), Winograd tiles of one pixel
    /// (`uniform_window`, one known output per call) — equal the definition where it shows:
    /// a blank map with one or two ink pixels at every column and several rows, and a
    /// rectangle of a second blank value (tiles of two different uniform pixels), on outputs
    /// that the int8 clamp does not hide (small weights and shifts), pooled or not, with and
    /// without ReLU, on SSE2 and AVX2 (where the CPU has it).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn blank_runs_equal_the_definition() {
        let mut rng = Lcg(7);
        let mut checked = 0;
        for (c, oc, h, w) in [(1, 16, 12, 20), (16, 16, 16, 16), (2, 24, 12, 16)] {
            for (pool, relu) in [(Pool::None, false), (Pool::Max2, true), (Pool::None, true)] {
                let k = 9 * c;
                let weights: std::vec::Vec<i8> =
                    (0..k * oc).map(|_| rng.below(9) as i8 - 4).collect();
                let bytes: std::vec::Vec<u8> = weights.iter().map(|&v| v as u8).collect();
                let mut bias = std::vec::Vec::new();
                let mut mult = std::vec::Vec::new();
                for _ in 0..oc {
                    // With ReLU, sums mostly above 0 (below it every output is the same).
                    let offset = if relu { 4000 } else { -1000 };
                    bias.extend((rng.below(2001) as i32 + offset).to_le_bytes());
                    mult.extend(((1i32 << 30) + rng.below(1 << 30) as i32).to_le_bytes());
                }
                // Sums mostly within a few thousand (a blank pixel times the weights' sum, ink
                // pixels' differences), right shift 7: results mostly unclamped.
                let shifts = std::vec![-7i8 as u8; oc];
                let d = ConvDesc {
                    kernel_h: 3,
                    kernel_w: 3,
                    in_channels: c as u16,
                    out_channels: oc as u16,
                    padding: Padding::Valid,
                    relu,
                    pool,
                    output_zero_point: 5,
                    weight_bits: 8,
                    weights: &bytes,
                    bias: &bias,
                    multipliers: &mult,
                    shifts: &shifts,
                };
                let s = Shape {
                    h: h as u32,
                    w: w as u32,
                    c: c as u32,
                };
                let mut prepared = std::vec![[0i16; 16]; prepared_blocks(c, &d)];
                prepare_conv(c, &d, &mut prepared);
                let (blank, other) = (rng.i8(), rng.i8() | 1);
                let other = if other == blank { !other } else { other };
                let mut distinct = std::collections::BTreeSet::new();
                for ink in 0..3 * w {
                    let mut input = [blank; 4096];
                    // A rectangle of a second blank pixel, large enough for whole tiles, that
                    // differs from the first in its last channel only.
                    if ink % 2 == 0 {
                        for y in 6..h {
                            for x in 6..w {
                                input[(y * w + x) * c + c - 1] = other;
                            }
                        }
                    }
                    let (y, x) = ((ink / w * 5 + ink) % h, ink % w);
                    // One time in three also a vertical line of one ink value at `x`.
                    if ink % 3 == 2 {
                        let value = rng.i8();
                        for y in 0..h {
                            input[(y * w + x) * c..][..c].fill(value);
                        }
                    }
                    for ch in 0..c {
                        input[(y * w + x) * c + ch] = rng.i8();
                        input[(((y + 5) % h) * w + (x * 7) % w) * c + ch] = rng.i8();
                    }
                    let input = &input[..h * w * c];
                    let want = reference(input, s, 0, &d, &weights);
                    let (out_h, out_w) = match pool {
                        Pool::None => (h - 2, w - 2),
                        _ => ((h - 2) / 2, (w - 2) / 2),
                    };
                    let n = out_h * out_w * oc;
                    let src = Rows::whole(input, s);
                    let mut got = [0i8; 4096];
                    let mut run = |name: &str, f: &mut dyn FnMut(&mut [i8]) -> bool| {
                        got.fill(0);
                        assert!(f(&mut got[..n]), "{name} did not take the layer");
                        assert_eq!(&got[..n], &want[..n], "{name}: c {c}, {pool:?}, ink {ink}");
                        checked += 1;
                    };
                    let sse2 = crate::simd::Sse2;
                    if c == 1 {
                        run("SSE2 first layer", &mut |o| {
                            conv2d_first_3x3_wide(sse2, src, &d, (0, out_h), o)
                        });
                    } else {
                        run("SSE2 Winograd", &mut |o| {
                            conv2d_winograd(sse2, src, &d, (0, out_h), o, (&prepared, None))
                        });
                    }
                    if let Some(avx2) = crate::simd::Avx2::detect() {
                        if c == 1 {
                            run("AVX2 first layer", &mut |o| {
                                avx2.vectorize(|| {
                                    conv2d_first_3x3_wide(avx2, src, &d, (0, out_h), o)
                                })
                            });
                        } else {
                            run("AVX2 Winograd", &mut |o| {
                                avx2.vectorize(|| {
                                    conv2d_winograd(avx2, src, &d, (0, out_h), o, (&prepared, None))
                                })
                            });
                        }
                    }
                    distinct.extend(want[..n].iter().copied());
                }
                // The outputs vary: a test whose outputs all clamp would show nothing.
                assert!(
                    distinct.len() > 24,
                    "c {c}, {pool:?}, relu {relu}: {distinct:?}"
                );
            }
        }
        assert!(checked >= 3 * 3 * 48, "{checked}");
    }
}
