//! The int8 kernels. Activations are HWC, weights OHWI (conv2d), HWC (depthwise) or `[out][in]`
//! (dense). Every kernel computes an int32 accumulator `bias + Σ x·w` (the input zero point is
//! folded into the bias at export, and padded taps read the input zero point, which is a real
//! zero), requantizes it with [`crate::quant::requantize`], adds the output zero point and
//! clamps to int8 — at the zero point instead of −128 when ReLU is fused. A fused 2×2 max-pool
//! takes the maximum of four requantized values (requantization is monotonic, so this equals
//! pooling the float activations); average pooling is `(a + b + c + d + 2) >> 2`.
//!
//! The kernels trust their descriptors: [`crate::Model::from_bytes`] has already checked every
//! length and shape, so slicing here cannot fail.

use crate::blob::{ConvDesc, DenseDesc, Padding, Pool};
use crate::model::Shape;
use crate::quant::{Requant, requantize};
use crate::simd::{dot, dot4};

/// Largest `kernel_h · kernel_w · in_channels` a convolution may have (the receptive field is
/// gathered into a stack buffer of four windows for fused pooling).
pub const MAX_WINDOW: usize = 576;

#[inline(always)]
fn bias_at(bias: &[u8], o: usize) -> i32 {
    let b = &bias[o * 4..o * 4 + 4];
    i32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

#[inline(always)]
fn requant_at(multipliers: &[u8], shifts: &[u8], o: usize) -> Requant {
    let m = &multipliers[o * 4..o * 4 + 4];
    Requant {
        multiplier: i32::from_le_bytes([m[0], m[1], m[2], m[3]]),
        shift: shifts[o] as i8,
    }
}

#[inline(always)]
fn to_int8(acc: i32, rq: Requant, zero_point: i8, relu: bool) -> i8 {
    let lo = if relu { zero_point as i32 } else { -128 };
    (requantize(acc, rq).saturating_add(zero_point as i32)).clamp(lo, 127) as i8
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
    input: &[i8],
    s: Shape,
    kh: usize,
    kw: usize,
    pad: (usize, usize),
    oy: usize,
    ox: usize,
    zp: i8,
    patch: &mut [i8],
) {
    let (h, w, c) = (s.h as usize, s.w as usize, s.c as usize);
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
            let start = (iy * w + ix0) * c;
            dst.copy_from_slice(&input[start..start + row]);
        } else {
            for kx in 0..kw {
                let ix = (ox + kx).wrapping_sub(pad.1);
                let d = &mut dst[kx * c..(kx + 1) * c];
                if ix < w {
                    let start = (iy * w + ix) * c;
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

/// 2-D convolution with fused ReLU and optional fused 2×2 pooling.
pub(crate) fn conv2d(input: &[i8], s: Shape, zp_in: i8, d: &ConvDesc<'_>, out: &mut [i8]) {
    let (kh, kw) = (d.kernel_h as usize, d.kernel_w as usize);
    let oc_n = d.out_channels as usize;
    let k = kh * kw * s.c as usize;
    let weights: &[i8] = bytemuck::cast_slice(d.weights);
    let pad = (pad_before(d.padding, kh), pad_before(d.padding, kw));
    let ch = conv_out(d.padding, s.h as usize, kh);
    let cw = conv_out(d.padding, s.w as usize, kw);
    let mut buf = [0i8; 4 * MAX_WINDOW];
    let (p0, rest) = buf.split_at_mut(k);
    let (p1, rest) = rest.split_at_mut(k);
    let (p2, rest) = rest.split_at_mut(k);
    let p3 = &mut rest[..k];
    let zp = d.output_zero_point;
    match d.pool {
        Pool::None => {
            // Four neighbouring output pixels of a row at a time share each weight load.
            for oy in 0..ch {
                let mut ox = 0;
                while ox < cw {
                    let group = (cw - ox).min(4);
                    gather(input, s, kh, kw, pad, oy, ox, zp_in, p0);
                    gather(
                        input,
                        s,
                        kh,
                        kw,
                        pad,
                        oy,
                        ox + (group > 1) as usize,
                        zp_in,
                        p1,
                    );
                    gather(
                        input,
                        s,
                        kh,
                        kw,
                        pad,
                        oy,
                        ox + 2 * (group > 2) as usize,
                        zp_in,
                        p2,
                    );
                    gather(
                        input,
                        s,
                        kh,
                        kw,
                        pad,
                        oy,
                        ox + 3 * (group > 3) as usize,
                        zp_in,
                        p3,
                    );
                    let base = (oy * cw + ox) * oc_n;
                    for oc in 0..oc_n {
                        let acc = dot4([p0, p1, p2, p3], &weights[oc * k..(oc + 1) * k]);
                        let b = bias_at(d.bias, oc);
                        let rq = requant_at(d.multipliers, d.shifts, oc);
                        for (j, &a) in acc.iter().enumerate().take(group) {
                            out[base + j * oc_n + oc] = to_int8(b + a, rq, zp, d.relu);
                        }
                    }
                    ox += group;
                }
            }
        }
        pool => {
            let (ph, pw) = (ch / 2, cw / 2);
            for py in 0..ph {
                for px in 0..pw {
                    let (y, x) = (2 * py, 2 * px);
                    gather(input, s, kh, kw, pad, y, x, zp_in, p0);
                    gather(input, s, kh, kw, pad, y, x + 1, zp_in, p1);
                    gather(input, s, kh, kw, pad, y + 1, x, zp_in, p2);
                    gather(input, s, kh, kw, pad, y + 1, x + 1, zp_in, p3);
                    let o = &mut out[(py * pw + px) * oc_n..(py * pw + px + 1) * oc_n];
                    for (oc, slot) in o.iter_mut().enumerate() {
                        let acc = dot4([p0, p1, p2, p3], &weights[oc * k..(oc + 1) * k]);
                        let b = bias_at(d.bias, oc);
                        let rq = requant_at(d.multipliers, d.shifts, oc);
                        *slot = combine(pool, acc.map(|a| to_int8(b + a, rq, zp, d.relu)));
                    }
                }
            }
        }
    }
}

/// Depthwise 2-D convolution (channel multiplier 1) with fused ReLU and optional pooling.
pub(crate) fn depthwise_conv2d(
    input: &[i8],
    s: Shape,
    zp_in: i8,
    d: &ConvDesc<'_>,
    out: &mut [i8],
) {
    let (kh, kw) = (d.kernel_h as usize, d.kernel_w as usize);
    let (h, w, c) = (s.h as usize, s.w as usize, s.c as usize);
    let weights: &[i8] = bytemuck::cast_slice(d.weights);
    let pad = (pad_before(d.padding, kh), pad_before(d.padding, kw));
    let ch = conv_out(d.padding, h, kh);
    let cw = conv_out(d.padding, w, kw);
    let value = |oy: usize, ox: usize, ci: usize| -> i8 {
        let mut acc = bias_at(d.bias, ci);
        for ky in 0..kh {
            let iy = (oy + ky).wrapping_sub(pad.0);
            for kx in 0..kw {
                let ix = (ox + kx).wrapping_sub(pad.1);
                let x = if iy < h && ix < w {
                    input[(iy * w + ix) * c + ci]
                } else {
                    zp_in
                };
                acc += x as i32 * weights[(ky * kw + kx) * c + ci] as i32;
            }
        }
        to_int8(
            acc,
            requant_at(d.multipliers, d.shifts, ci),
            d.output_zero_point,
            d.relu,
        )
    };
    match d.pool {
        Pool::None => {
            for oy in 0..ch {
                for ox in 0..cw {
                    for ci in 0..c {
                        out[(oy * cw + ox) * c + ci] = value(oy, ox, ci);
                    }
                }
            }
        }
        pool => {
            let (ph, pw) = (ch / 2, cw / 2);
            for py in 0..ph {
                for px in 0..pw {
                    for ci in 0..c {
                        let (y, x) = (2 * py, 2 * px);
                        let v = [
                            value(y, x, ci),
                            value(y, x + 1, ci),
                            value(y + 1, x, ci),
                            value(y + 1, x + 1, ci),
                        ];
                        out[(py * pw + px) * c + ci] = combine(pool, v);
                    }
                }
            }
        }
    }
}

/// Standalone 2×2 stride-2 pooling.
pub(crate) fn pool2(input: &[i8], s: Shape, pool: Pool, out: &mut [i8]) {
    let (w, c) = (s.w as usize, s.c as usize);
    let (ph, pw) = (s.h as usize / 2, w / 2);
    for py in 0..ph {
        for px in 0..pw {
            for ci in 0..c {
                let at = |y: usize, x: usize| input[(y * w + x) * c + ci];
                let (y, x) = (2 * py, 2 * px);
                out[(py * pw + px) * c + ci] = combine(
                    pool,
                    [at(y, x), at(y, x + 1), at(y + 1, x), at(y + 1, x + 1)],
                );
            }
        }
    }
}

/// Fully connected layer producing int8 activations.
pub(crate) fn dense_int8(input: &[i8], d: &DenseDesc<'_>, zero_point: i8, out: &mut [i8]) {
    let n = input.len();
    let weights: &[i8] = bytemuck::cast_slice(d.weights);
    for (o, slot) in out.iter_mut().enumerate() {
        let acc = bias_at(d.bias, o) + dot(input, &weights[o * n..(o + 1) * n]);
        *slot = to_int8(
            acc,
            requant_at(d.multipliers, d.shifts, o),
            zero_point,
            d.relu,
        );
    }
}

/// Fully connected layer producing int32 logits (no zero point, no clamp).
pub(crate) fn dense_logits(input: &[i8], d: &DenseDesc<'_>, out: &mut [i32]) {
    let n = input.len();
    let weights: &[i8] = bytemuck::cast_slice(d.weights);
    for (o, slot) in out.iter_mut().enumerate() {
        let acc = bias_at(d.bias, o) + dot(input, &weights[o * n..(o + 1) * n]);
        *slot = requantize(acc, requant_at(d.multipliers, d.shifts, o));
    }
}
