//! Test support: build blobs from float layers (quantized the way the contract says) and a
//! straightforward float reference to compare the integer engine against.
#![allow(dead_code)]

use sumi_core::blob::{self, DenseOutput, Padding, Pool};
use sumi_core::builder::{Conv, Dense, Layer, ModelBuilder, Params};
use sumi_core::quantize_multiplier;

pub struct Lcg(pub u64);
impl Lcg {
    pub fn next_u32(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as u32
    }
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.next_u32() as usize % (hi - lo + 1)
    }
    pub fn f(&mut self) -> f32 {
        self.next_u32() as f32 / (1u64 << 31) as f32 * 2.0 - 1.0
    }
}

/// A float layer spec.
#[derive(Clone, Debug)]
pub enum FLayer {
    Conv {
        k: (usize, usize),
        in_c: usize,
        out_c: usize,
        same: bool,
        relu: bool,
        pool: Pool,
        depthwise: bool,
        w: Vec<f32>,
        b: Vec<f32>,
        s_out: f32,
        zp_out: i8,
    },
    Pool(Pool),
    Flatten,
    Dense {
        in_f: usize,
        out_f: usize,
        relu: bool,
        logits: bool,
        w: Vec<f32>,
        b: Vec<f32>,
        s_out: f32,
        zp_out: i8,
    },
}

/// Per-channel symmetric quantization of `w` (`out` rows), bias folding and multipliers.
pub fn quantize(
    w: &[f32],
    b: &[f32],
    out: usize,
    s_in: f32,
    zp_in: i8,
    s_out: f32,
) -> (Params, Vec<f32>) {
    let k = w.len() / out;
    let mut q = Params {
        weights: vec![],
        bias: vec![],
        requant: vec![],
    };
    let mut scales = vec![];
    for o in 0..out {
        let row = &w[o * k..(o + 1) * k];
        let max = row.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-8);
        let s_w = max / 127.0;
        scales.push(s_w);
        let mut sum = 0i64;
        for &v in row {
            let qv = (v / s_w).round().clamp(-127.0, 127.0) as i8;
            sum += qv as i64;
            q.weights.push(qv);
        }
        let bq = (b[o] as f64 / (s_in as f64 * s_w as f64)).round() as i64 - zp_in as i64 * sum;
        q.bias
            .push(bq.clamp(i32::MIN as i64, i32::MAX as i64) as i32);
        q.requant
            .push(quantize_multiplier(s_in as f64 * s_w as f64 / s_out as f64));
    }
    (q, scales)
}

/// Depthwise weights are HWC: regroup per channel for quantization, then back.
pub fn quantize_depthwise(
    w: &[f32],
    b: &[f32],
    c: usize,
    s_in: f32,
    zp_in: i8,
    s_out: f32,
) -> Params {
    let taps = w.len() / c;
    let mut per_ch = vec![0f32; w.len()];
    for t in 0..taps {
        for ch in 0..c {
            per_ch[ch * taps + t] = w[t * c + ch];
        }
    }
    let (mut q, _) = quantize(&per_ch, b, c, s_in, zp_in, s_out);
    let mut hwc = vec![0i8; w.len()];
    for t in 0..taps {
        for ch in 0..c {
            hwc[t * c + ch] = q.weights[ch * taps + t];
        }
    }
    q.weights = hwc;
    q
}

/// A model under construction: float layers plus input quantization.
pub struct Spec {
    pub h: usize,
    pub w: usize,
    pub c: usize,
    pub layers: Vec<FLayer>,
    pub logit_scale: f32,
}

/// Encode the spec as a blob (input scale 1/255, zero point −128).
pub fn encode(spec: &Spec) -> Result<Vec<u8>, blob::BlobError> {
    let mut builder = ModelBuilder::new(spec.h as u16, spec.w as u16, spec.c as u16)
        .name("test")
        .created("2026-11-28")
        .recipe("synthetic")
        .logit_scale(spec.logit_scale);
    let mut s_in = 1.0 / 255.0;
    let mut zp_in: i8 = -128;
    for l in &spec.layers {
        let layer = match l {
            FLayer::Conv {
                k,
                in_c,
                out_c,
                same,
                relu,
                pool,
                depthwise,
                w,
                b,
                s_out,
                zp_out,
            } => {
                let q = if *depthwise {
                    quantize_depthwise(w, b, *out_c, s_in, zp_in, *s_out)
                } else {
                    quantize(w, b, *out_c, s_in, zp_in, *s_out).0
                };
                s_in = *s_out;
                zp_in = *zp_out;
                let conv = Conv {
                    kernel: (k.0 as u8, k.1 as u8),
                    in_channels: *in_c as u16,
                    out_channels: *out_c as u16,
                    padding: if *same { Padding::Same } else { Padding::Valid },
                    relu: *relu,
                    pool: *pool,
                    output_zero_point: *zp_out,
                    weight_bits: 8,
                    params: q,
                };
                if *depthwise {
                    Layer::DepthwiseConv2d(conv)
                } else {
                    Layer::Conv2d(conv)
                }
            }
            FLayer::Dense {
                in_f,
                out_f,
                relu,
                logits,
                w,
                b,
                s_out,
                zp_out,
            } => {
                let s = if *logits { spec.logit_scale } else { *s_out };
                let q = quantize(w, b, *out_f, s_in, zp_in, s).0;
                s_in = *s_out;
                zp_in = *zp_out;
                Layer::Dense(Dense {
                    in_features: *in_f as u32,
                    out_features: *out_f as u16,
                    relu: *relu,
                    output: if *logits {
                        DenseOutput::Logits
                    } else {
                        DenseOutput::Int8 {
                            zero_point: *zp_out,
                        }
                    },
                    weight_bits: 8,
                    params: q,
                })
            }
            FLayer::Pool(p) => Layer::Pool(*p),
            FLayer::Flatten => Layer::Flatten,
        };
        builder = builder.layer(layer);
    }
    builder.build()
}

/// Float reference of one layer on a float HWC input. Returns the float output (after ReLU and
/// pooling) and its shape.
pub fn reference(
    l: &FLayer,
    x: &[f32],
    s: (usize, usize, usize),
) -> (Vec<f32>, (usize, usize, usize)) {
    let (h, w, c) = s;
    match l {
        FLayer::Conv {
            k,
            out_c,
            same,
            relu,
            pool,
            depthwise,
            w: wt,
            b,
            ..
        } => {
            let (kh, kw) = *k;
            let (pt, pl) = if *same {
                ((kh - 1) / 2, (kw - 1) / 2)
            } else {
                (0, 0)
            };
            let (oh, ow) = if *same {
                (h, w)
            } else {
                (h + 1 - kh, w + 1 - kw)
            };
            let mut y = vec![0f32; oh * ow * out_c];
            for oy in 0..oh {
                for ox in 0..ow {
                    for o in 0..*out_c {
                        let mut acc = b[o] as f64;
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let iy = oy as isize + ky as isize - pt as isize;
                                let ix = ox as isize + kx as isize - pl as isize;
                                if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                    continue;
                                }
                                let (iy, ix) = (iy as usize, ix as usize);
                                if *depthwise {
                                    acc += x[(iy * w + ix) * c + o] as f64
                                        * wt[(ky * kw + kx) * c + o] as f64;
                                } else {
                                    for i in 0..c {
                                        acc += x[(iy * w + ix) * c + i] as f64
                                            * wt[((o * kh + ky) * kw + kx) * c + i] as f64;
                                    }
                                }
                            }
                        }
                        let v = if *relu { acc.max(0.0) } else { acc };
                        y[(oy * ow + ox) * out_c + o] = v as f32;
                    }
                }
            }
            if *pool == Pool::None {
                (y, (oh, ow, *out_c))
            } else {
                pool_ref(&y, (oh, ow, *out_c), *pool)
            }
        }
        FLayer::Pool(p) => pool_ref(x, s, *p),
        FLayer::Flatten => (x.to_vec(), (1, 1, h * w * c)),
        FLayer::Dense {
            in_f,
            out_f,
            relu,
            w: wt,
            b,
            ..
        } => {
            let mut y = vec![0f32; *out_f];
            for o in 0..*out_f {
                let mut acc = b[o] as f64;
                for i in 0..*in_f {
                    acc += x[i] as f64 * wt[o * in_f + i] as f64;
                }
                y[o] = if *relu {
                    acc.max(0.0) as f32
                } else {
                    acc as f32
                };
            }
            (y, (1, 1, *out_f))
        }
    }
}

fn pool_ref(x: &[f32], s: (usize, usize, usize), p: Pool) -> (Vec<f32>, (usize, usize, usize)) {
    let (h, w, c) = s;
    let (ph, pw) = (h / 2, w / 2);
    let mut y = vec![0f32; ph * pw * c];
    for py in 0..ph {
        for px in 0..pw {
            for ch in 0..c {
                let v = |dy: usize, dx: usize| x[((2 * py + dy) * w + 2 * px + dx) * c + ch];
                let vals = [v(0, 0), v(0, 1), v(1, 0), v(1, 1)];
                y[(py * pw + px) * c + ch] = match p {
                    Pool::Avg2 => vals.iter().sum::<f32>() / 4.0,
                    _ => vals.iter().cloned().fold(f32::MIN, f32::max),
                };
            }
        }
    }
    (y, (ph, pw, c))
}
