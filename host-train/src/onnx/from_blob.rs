//! The float network of a blob, dequantized (the arithmetic is in [`super`]'s docs): a walk over
//! the blob's layers that tracks the tensor's shape and the real scale and zero point of each
//! layer's input, dequantizes every weighted layer and moves its weights from the core's
//! layouts (OHWI, HWC flatten order) to ONNX's (OIHW, CHW).

use anyhow::{Result, anyhow, bail};
use sumi_core::blob::{
    Channels, ConvDesc, DenseDesc, DenseOutput, LayerDesc, ModelDesc, Padding, Pool,
};

use super::{FloatLayer, FloatNet, HIDDEN_SCALE};

/// Real multipliers `multiplier · 2^(shift − 31)` per output channel.
fn real_multipliers(channels: Channels<'_>) -> Vec<f64> {
    channels
        .requants()
        .map(|r| f64::from(r.multiplier) * 2f64.powi(i32::from(r.shift) - 31))
        .collect()
}

/// Dequantize `[out][k]` int8 weights and int32 biases: returns real weights (same order)
/// and biases.
fn dequantize_rows(
    q: &[i8],
    channels: Channels<'_>,
    s_in: f64,
    zp_in: i8,
    s_out: f64,
) -> (Vec<f32>, Vec<f32>) {
    let m = real_multipliers(channels);
    let k = q.len() / m.len().max(1);
    let mut w = Vec::with_capacity(q.len());
    let mut b = Vec::with_capacity(m.len());
    for (o, (bq, mo)) in channels.biases().zip(&m).enumerate() {
        let s_w = mo * s_out / s_in;
        let row = &q[o * k..(o + 1) * k];
        let sum: i64 = row.iter().map(|&v| i64::from(v)).sum();
        w.extend(row.iter().map(|&v| (s_w * f64::from(v)) as f32));
        b.push((s_in * s_w * (i64::from(bq) + i64::from(zp_in) * sum) as f64) as f32);
    }
    (w, b)
}

/// Depthwise int8 weights HWC `[taps][c]` as rows `[c][taps]` (OIHW with I = 1).
fn depthwise_rows(hwc: &[i8], taps: usize, c: usize) -> Vec<i8> {
    let mut rows = vec![0i8; hwc.len()];
    for t in 0..taps {
        for ch in 0..c {
            rows[ch * taps + t] = hwc[t * c + ch];
        }
    }
    rows
}

/// Convolution weights OHWI → OIHW.
fn ohwi_to_oihw(ohwi: &[f32], oc: usize, kh: usize, kw: usize, ic: usize) -> Vec<f32> {
    let mut oihw = vec![0f32; ohwi.len()];
    for o in 0..oc {
        for y in 0..kh {
            for x in 0..kw {
                for i in 0..ic {
                    oihw[((o * ic + i) * kh + y) * kw + x] = ohwi[((o * kh + y) * kw + x) * ic + i];
                }
            }
        }
    }
    oihw
}

/// Dense weights `[out][in]` over a flattened `hw × c` map: columns from the core's HWC order
/// to ONNX's CHW.
fn hwc_to_chw_columns(hwc: &[f32], out_f: usize, in_f: usize, hw: usize, c: usize) -> Vec<f32> {
    let mut chw = vec![0f32; hwc.len()];
    for o in 0..out_f {
        for j in 0..in_f {
            let (ch, p) = (j % c, j / c);
            chw[o * in_f + ch * hw + p] = hwc[o * in_f + j];
        }
    }
    chw
}

/// Where the tensor stands while walking the layers.
#[derive(Clone, Copy)]
enum Cur {
    /// NCHW map of (h, w, c).
    Map(usize, usize, usize),
    /// Flat vector: `Some((h, w, c))` while it is a flattened map (the next dense layer's
    /// columns are permuted from HWC to CHW).
    Flat(Option<(usize, usize, usize)>),
}

/// The walk over a blob's layers: where the tensor stands, the real scale and zero point of
/// the next layer's input, the float layers so far and the class count once the logits layer
/// is seen.
struct Walk {
    cur: Cur,
    s_in: f64,
    zp_in: i8,
    layers: Vec<FloatLayer>,
    classes: usize,
}

fn unsupported(li: usize, what: &str) -> anyhow::Error {
    anyhow!("layer {li}: {what} cannot be written as ONNX by this exporter")
}

/// The float network of a blob, dequantized (see the module docs).
pub fn from_blob(desc: &ModelDesc<'_>) -> Result<FloatNet> {
    let (h0, w0, c0) = (
        usize::from(desc.input_h),
        usize::from(desc.input_w),
        usize::from(desc.input_c),
    );
    let mut walk = Walk {
        cur: Cur::Map(h0, w0, c0),
        s_in: crate::quantize::INPUT_SCALE,
        zp_in: desc.input_zero_point,
        layers: Vec::new(),
        classes: 0,
    };
    for (li, layer) in desc.layers.iter().enumerate() {
        match layer {
            LayerDesc::Conv2d(d) => walk.conv(li, d, false)?,
            LayerDesc::DepthwiseConv2d(d) => walk.conv(li, d, true)?,
            LayerDesc::Pool(p) => walk.pool(li, *p)?,
            LayerDesc::Flatten => walk.flatten(),
            LayerDesc::Dense(d) => walk.dense(d, desc.logit_scale),
        }
    }
    if walk.classes == 0 {
        bail!("the blob has no logits layer");
    }
    Ok(FloatNet {
        input: [c0, h0, w0],
        layers: walk.layers,
        classes: walk.classes,
        meta: blob_meta(desc),
    })
}

impl Walk {
    /// A convolution (regular or depthwise, `groups = C`), weights dequantized to OIHW.
    fn conv(&mut self, li: usize, d: &ConvDesc<'_>, depthwise: bool) -> Result<()> {
        let Cur::Map(h, w, c) = self.cur else {
            return Err(unsupported(li, "a convolution after a flatten"));
        };
        let (kh, kw) = (usize::from(d.kernel_h), usize::from(d.kernel_w));
        let oc = usize::from(d.out_channels);
        let ic = usize::from(d.in_channels);
        let s_out = HIDDEN_SCALE;
        let (s_in, zp_in) = (self.s_in, self.zp_in);
        let weights: Vec<i8> = d.weight_values().collect();
        let (weight, bias) = if depthwise {
            let rows = depthwise_rows(&weights, kh * kw, oc);
            dequantize_rows(&rows, d.channels(), s_in, zp_in, s_out)
        } else {
            // Rows are per output channel either way: dequantize, then reorder.
            let (ohwi, b) = dequantize_rows(&weights, d.channels(), s_in, zp_in, s_out);
            (ohwi_to_oihw(&ohwi, oc, kh, kw, ic), b)
        };
        let (pads, oh, ow) = match d.padding {
            Padding::Valid => ([0; 4], h + 1 - kh, w + 1 - kw),
            Padding::Same => ([(kh - 1) / 2, (kw - 1) / 2, kh / 2, kw / 2], h, w),
        };
        let (oh, ow) = match d.pool {
            Pool::None => (oh, ow),
            _ => (oh / 2, ow / 2),
        };
        self.layers.push(FloatLayer::Conv {
            out_c: oc,
            in_c: c,
            kh,
            kw,
            groups: if depthwise { c } else { 1 },
            pads,
            weight,
            bias,
            relu: d.relu,
            pool: d.pool,
        });
        self.cur = Cur::Map(oh, ow, oc);
        self.s_in = s_out;
        self.zp_in = d.output_zero_point;
        Ok(())
    }

    /// A standalone 2×2 pool (`Pool::None` writes nothing).
    fn pool(&mut self, li: usize, p: Pool) -> Result<()> {
        let Cur::Map(h, w, c) = self.cur else {
            return Err(unsupported(li, "pooling after a flatten"));
        };
        if p != Pool::None {
            self.layers.push(FloatLayer::Pool(p));
            self.cur = Cur::Map(h / 2, w / 2, c);
        }
        Ok(())
    }

    /// A flatten of a map (of a vector: nothing).
    fn flatten(&mut self) {
        if let Cur::Map(h, w, c) = self.cur {
            self.layers.push(FloatLayer::Flatten);
            self.cur = Cur::Flat(Some((h, w, c)));
        }
    }

    /// A dense layer (flattening a map first), its columns in CHW order after a flattened map;
    /// the logits layer takes the blob's logit scale and sets the class count.
    fn dense(&mut self, d: &DenseDesc<'_>, logit_scale: f32) {
        let perm = match self.cur {
            Cur::Map(h, w, c) => {
                self.layers.push(FloatLayer::Flatten);
                Some((h, w, c))
            }
            Cur::Flat(p) => p,
        };
        let in_f = d.in_features as usize;
        let out_f = usize::from(d.out_features);
        let (s_out, zp_out) = match d.output {
            DenseOutput::Int8 { zero_point } => (HIDDEN_SCALE, zero_point),
            DenseOutput::Logits => (f64::from(logit_scale), 0),
        };
        let weights: Vec<i8> = d.weight_values().collect();
        let (hwc, bias) = dequantize_rows(&weights, d.channels(), self.s_in, self.zp_in, s_out);
        let weight = match perm {
            Some((h, w, c)) if h * w > 1 => hwc_to_chw_columns(&hwc, out_f, in_f, h * w, c),
            _ => hwc,
        };
        let logits = matches!(d.output, DenseOutput::Logits);
        self.layers.push(FloatLayer::Dense {
            in_f,
            out_f,
            weight,
            bias,
            relu: d.relu && !logits,
        });
        self.cur = Cur::Flat(None);
        self.s_in = s_out;
        self.zp_in = zp_out;
        if logits {
            self.classes = out_f;
        }
    }
}

/// The blob's metadata, scales and calibration as `metadata_props`.
fn blob_meta(desc: &ModelDesc<'_>) -> Vec<(String, String)> {
    let m = &desc.meta;
    let mut meta = vec![
        ("sumi.name".to_owned(), m.name.to_owned()),
        ("sumi.created".to_owned(), m.created.to_owned()),
        ("sumi.recipe".to_owned(), m.recipe.to_owned()),
        (
            "sumi.source".to_owned(),
            "dequantized from the int8 blob (int8 weights x per-channel scales)".to_owned(),
        ),
        ("sumi.logit_scale".to_owned(), desc.logit_scale.to_string()),
        (
            "sumi.temperature".to_owned(),
            desc.calibration.temperature.to_string(),
        ),
    ];
    if let Some(a) = m.int8_accuracy {
        meta.push(("sumi.int8_accuracy".to_owned(), a.to_string()));
    }
    meta
}
