//! Post-training int8 quantization and export to the `sumi-core` blob.
//!
//! The scheme is the contract's, exactly: input int8 = pixel − 128 (scale 1/255, zero point
//! −128); weights int8 symmetric per output channel (q ∈ [−127, 127]); int32 bias with the
//! input zero point folded in; ReLU outputs int8 with zero point −128 over the calibrated range
//! [0, max]; the last dense layer emits int32 logits. All requantization multipliers come from
//! `sumi_core::quantize_multiplier`, and the blob is written by the core's
//! `builder::ModelBuilder`, so this module holds no integer inference and no blob writer of its own: accuracy is measured through
//! `sumi_core::Model`.

use anyhow::{Context, Result, anyhow, bail};
use burn::tensor::{Device, Tensor};
use sumi_core::Model;
use sumi_core::blob::{DenseOutput, Padding, Pool};
use sumi_core::builder::{Conv, Dense, Layer, ModelBuilder, Params};
use sumi_core::preprocess::SIDE;
use sumi_core::{Requant, quantize_multiplier};
use sumi_data::Split;

use crate::data;
use crate::model::{Arch, Net, Observed, WeightScale};

/// Input quantization: scale 1/255, zero point −128.
pub const INPUT_SCALE: f64 = 1.0 / 255.0;
pub const INPUT_ZERO_POINT: i8 = -128;
/// Zero point of every ReLU output (range [0, max] mapped onto [−128, 127]).
pub const RELU_ZERO_POINT: i8 = -128;
/// Logits are scaled so the calibrated largest |logit| maps to this many units.
pub const LOGIT_UNITS: f64 = 16384.0;

/// Per-layer activation ranges measured on calibration images.
#[derive(Clone, Debug)]
pub struct Calibration {
    /// Upper end of each layer's (post-ReLU) output range; for the last layer, max |logit|.
    pub max: Vec<f64>,
    #[allow(dead_code)]
    pub images: usize,
}

/// Calibrate activation ranges on `indices` of `split` (plain training images, no
/// augmentation). `percentile` < 100 clips rare outliers (per layer, over all values). A model
/// trained with `--act-quant` keeps the hidden layers' ranges it was trained with
/// ([`Net::act_ranges`]); only its logit range is measured.
pub fn calibrate(
    model: &Net,
    split: &Split,
    indices: &[usize],
    percentile: f64,
    device: &Device,
) -> Calibration {
    let layers = model.convs.len() + model.dense.len();
    let mut values: Vec<Vec<f32>> = vec![Vec::new(); layers];
    for chunk in indices.chunks(250) {
        let b = data::batch(split, chunk, None, device);
        model.forward_observed(b.images, None, |i, o| {
            let t: Tensor<1> = match o {
                Observed::Map(t) => t.clone().flatten(0, 3),
                Observed::Vec(t) => t.clone().flatten(0, 1),
            };
            let v = crate::train::logits_vec(t.unsqueeze::<2>());
            if i + 1 == layers {
                values[i].extend(v.iter().map(|x| x.abs()));
            } else if percentile >= 100.0 {
                let m = v.iter().copied().fold(0f32, f32::max);
                if values[i].is_empty() {
                    values[i].push(m);
                } else {
                    values[i][0] = values[i][0].max(m);
                }
            } else {
                values[i].extend(v);
            }
        });
    }
    let max = values
        .into_iter()
        .enumerate()
        .map(|(i, mut v)| {
            if let Some(&m) = model.act_ranges.get(i) {
                return m;
            }
            if v.is_empty() {
                return 1.0;
            }
            let p = if i + 1 == layers { 100.0 } else { percentile };
            let m = if p >= 100.0 {
                v.iter().copied().fold(0f32, f32::max)
            } else {
                let k = ((v.len() - 1) as f64 * p / 100.0).round() as usize;
                *v.select_nth_unstable_by(k, |a, b| a.total_cmp(b)).1
            };
            f64::from(m).max(1e-6)
        })
        .collect();
    Calibration {
        max,
        images: indices.len(),
    }
}

/// A quantized model ready to encode.
#[derive(Clone, Debug)]
pub struct QModel {
    /// The core's owned layers (int8 weights, int32 biases, requantization).
    pub layers: Vec<Layer>,
    pub logit_scale: f32,
    pub params: u32,
    /// Softmax temperature fitted on validation ([`crate::calibrate`]); 1 until then.
    pub temperature: f32,
}

fn floats<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
    t.into_data()
        .try_into_vec_as::<f32>()
        .map_err(|e| anyhow!("cannot read weights: {e:?}"))
}

/// Symmetric per-row quantization at `bits` bits per weight (8: `q ∈ [−127, 127]`): the
/// row's scale under `rule` ([`crate::model::row_scale`]) and the nearest level
/// ([`crate::model::quantize_level`], the same rounding as quantization-aware training's
/// [`crate::model::fake_quantize`]).
fn quantize_rows(w: &[f32], rows: usize, bits: u8, rule: WeightScale) -> (Vec<i8>, Vec<f64>) {
    let k = w.len() / rows;
    let mut q = Vec::with_capacity(w.len());
    let mut scales = Vec::with_capacity(rows);
    for r in 0..rows {
        let row = &w[r * k..(r + 1) * k];
        let max = row.iter().fold(0f32, |m, v| m.max(v.abs()));
        let mean = row.iter().map(|v| f64::from(v.abs())).sum::<f64>() / k as f64;
        let s = crate::model::row_scale(f64::from(max), mean, bits, rule);
        scales.push(s);
        q.extend(
            row.iter()
                .map(|&v| crate::model::quantize_level(f64::from(v) / s, bits) as i8),
        );
    }
    (q, scales)
}

/// Integer bias with the input zero point folded in, and the requantization multipliers.
fn bias_and_rq(
    b: &[f32],
    q: &[i8],
    w_scales: &[f64],
    s_in: f64,
    zp_in: i8,
    s_out: f64,
) -> Result<(Vec<i32>, Vec<Requant>)> {
    let k = q.len() / b.len();
    let mut bias = Vec::with_capacity(b.len());
    let mut rq = Vec::with_capacity(b.len());
    for (o, (&bo, &sw)) in b.iter().zip(w_scales).enumerate() {
        let sum: i64 = q[o * k..(o + 1) * k].iter().map(|&v| i64::from(v)).sum();
        let bq = (f64::from(bo) / (s_in * sw)).round() as i64 - i64::from(zp_in) * sum;
        if bq.abs() >= 1 << 30 {
            bail!(
                "bias of output {o} does not fit the accumulator ({bq}); the model's weights are degenerate"
            );
        }
        bias.push(bq as i32);
        rq.push(quantize_multiplier(s_in * sw / s_out));
    }
    Ok((bias, rq))
}

/// Float weights (burn's `[O, I, KH, KW]` order) and bias of convolution `i`, with its batch
/// normalisation (if the model has one) folded in:
/// `w' = w·γ/√(σ²+ε)`, `b' = (b − μ)·γ/√(σ²+ε) + β` per output channel, so that
/// `relu(conv'(x)) = relu(bn(conv(x)))` with the running statistics.
pub fn folded_conv(model: &Net, i: usize) -> Result<(Vec<f32>, Vec<f32>)> {
    let conv = &model.convs[i];
    let mut w = floats(conv.weight.val())?;
    let o_n = conv.weight.val().dims()[0];
    let mut b = match &conv.bias {
        Some(b) => floats(b.val())?,
        None => vec![0.0; o_n],
    };
    if let Some(bn) = model.bn.get(i) {
        let gamma = floats(bn.gamma.val())?;
        let beta = floats(bn.beta.val())?;
        let mean = floats(bn.running_mean.value())?;
        let var = floats(bn.running_var.value())?;
        let per_o = w.len() / o_n.max(1);
        for o in 0..o_n {
            let f = f64::from(gamma[o]) / (f64::from(var[o]) + bn.epsilon).sqrt();
            for v in &mut w[o * per_o..(o + 1) * per_o] {
                *v = (f64::from(*v) * f) as f32;
            }
            b[o] = ((f64::from(b[o]) - f64::from(mean[o])) * f + f64::from(beta[o])) as f32;
        }
    }
    Ok((w, b))
}

/// Quantize a trained float model with calibrated activation ranges.
pub fn quantize(model: &Net, arch: &Arch, cal: &Calibration) -> Result<QModel> {
    let mut layers = Vec::new();
    let mut s_in = INPUT_SCALE;
    let mut zp_in = INPUT_ZERO_POINT;
    let mut li = 0;
    for spec in &arch.convs {
        // burn: [O, I, KH, KW] -> OHWI.
        let (w, b) = folded_conv(model, li)?;
        let (o_n, i_n, k) = (spec.out_c, spec.in_c, spec.kernel);
        let mut ohwi = vec![0f32; w.len()];
        for o in 0..o_n {
            for i in 0..i_n {
                for y in 0..k {
                    for x in 0..k {
                        ohwi[((o * k + y) * k + x) * i_n + i] = w[((o * i_n + i) * k + y) * k + x];
                    }
                }
            }
        }
        let bits = arch.conv_weight_bits(li);
        let (q, sw) = quantize_rows(&ohwi, o_n, bits, arch.weight_scale);
        let s_out = cal.max[li] / 255.0;
        let (bias, rq) = bias_and_rq(&b, &q, &sw, s_in, zp_in, s_out)?;
        layers.push(Layer::Conv2d(Conv {
            kernel: (k as u8, k as u8),
            in_channels: i_n as u16,
            out_channels: o_n as u16,
            padding: Padding::Valid,
            relu: true,
            pool: if spec.pool { Pool::Max2 } else { Pool::None },
            output_zero_point: RELU_ZERO_POINT,
            weight_bits: bits,
            params: Params {
                weights: q,
                bias,
                requant: rq,
            },
        }));
        s_in = s_out;
        zp_in = RELU_ZERO_POINT;
        li += 1;
    }
    layers.push(Layer::Flatten);
    let (fh, fw, fc) = arch
        .conv_shapes()
        .last()
        .copied()
        .unwrap_or((SIDE, SIDE, 1));
    let mut in_f = arch.flat_len();
    let n_dense = model.dense.len();
    let mut logit_scale = 1.0f64;
    for (di, lin) in model.dense.iter().enumerate() {
        // burn Linear weight is [in, out]; the core wants [out][in] with the input in HWC
        // order, while burn flattened NCHW (c, h, w).
        let w = floats(lin.weight.val())?;
        let out_f = arch.dense[di];
        let mut rows = vec![0f32; w.len()];
        for o in 0..out_f {
            for j in 0..in_f {
                let src = if di == 0 {
                    // j is the HWC index; find the CHW index burn used.
                    let c = j % fc;
                    let hw = j / fc;
                    let (y, x) = (hw / fw, hw % fw);
                    (c * fh + y) * fw + x
                } else {
                    j
                };
                rows[o * in_f + j] = w[src * out_f + o];
            }
        }
        let b = match &lin.bias {
            Some(b) => floats(b.val())?,
            None => vec![0.0; out_f],
        };
        let bits = arch.dense_weight_bits(di);
        let (q, sw) = quantize_rows(&rows, out_f, bits, arch.weight_scale);
        let last = di + 1 == n_dense;
        let s_out = if last {
            cal.max[li] / LOGIT_UNITS
        } else {
            cal.max[li] / 255.0
        };
        let (bias, rq) = bias_and_rq(&b, &q, &sw, s_in, zp_in, s_out)?;
        layers.push(Layer::Dense(Dense {
            in_features: in_f as u32,
            out_features: out_f as u16,
            relu: !last,
            output: if last {
                DenseOutput::Logits
            } else {
                DenseOutput::Int8 {
                    zero_point: RELU_ZERO_POINT,
                }
            },
            weight_bits: bits,
            params: Params {
                weights: q,
                bias,
                requant: rq,
            },
        }));
        if last {
            logit_scale = s_out;
        }
        s_in = s_out;
        zp_in = RELU_ZERO_POINT;
        in_f = out_f;
        li += 1;
    }
    Ok(QModel {
        layers,
        logit_scale: logit_scale as f32,
        params: arch.params() as u32,
        temperature: 1.0,
    })
}

/// Metadata written into the blob (owned strings).
#[derive(Clone, Debug, Default)]
pub struct Meta {
    pub name: String,
    pub created: String,
    pub recipe: String,
    pub float_accuracy: Option<f32>,
    pub int8_accuracy: Option<f32>,
}

impl QModel {
    /// Encode as a `sumi-core` blob (the core's builder validates and plans it first, so the
    /// blob always loads).
    pub fn to_blob(&self, meta: &Meta) -> Result<Vec<u8>> {
        let side = SIDE as u16;
        let builder = ModelBuilder::new(side, side, 1)
            .input_zero_point(INPUT_ZERO_POINT)
            .name(&meta.name)
            .created(&meta.created)
            .recipe(&meta.recipe)
            .accuracy(meta.float_accuracy, meta.int8_accuracy)
            .params(self.params)
            .logit_scale(self.logit_scale)
            .temperature(self.temperature);
        self.layers
            .iter()
            .cloned()
            .fold(builder, ModelBuilder::layer)
            .build()
            .map_err(|e| anyhow!("cannot encode the model blob: {e}"))
            .context("internal error in the exporter")
    }
}

/// int8 predictions of a model (through `sumi_core`) for `indices` of `split`, in parallel.
pub fn predict_int8(model: &Model<'_>, split: &Split, indices: &[usize]) -> Result<Vec<u8>> {
    Ok(predictions(model, split, indices)?
        .into_iter()
        .map(|p| p.class())
        .collect())
}

/// The core's predictions of a model for `indices` of `split`, in parallel, in the order of
/// `indices`: the one batch-inference loop of the trainer.
pub fn predictions(
    model: &Model<'_>,
    split: &Split,
    indices: &[usize],
) -> Result<Vec<sumi_core::Prediction>> {
    use rayon::prelude::*;
    let chunks: Vec<Result<Vec<sumi_core::Prediction>>> = indices
        .par_chunks(256)
        .map(|chunk| {
            let mut arena = vec![0u8; model.arena_bytes()];
            chunk
                .iter()
                .map(|&i| {
                    model
                        .predict(split.image(i), &mut arena)
                        .map_err(|e| anyhow!("inference failed on image {i}: {e}"))
                })
                .collect()
        })
        .collect();
    let mut out = Vec::with_capacity(indices.len());
    for c in chunks {
        out.extend(c?);
    }
    Ok(out)
}

/// Loads a blob this module just built (it always loads: the builder planned it).
fn load(blob: &[u8]) -> Result<Model<'_>> {
    Model::from_bytes(blob)
        .map_err(|e| anyhow!("internal error: the exported blob does not load: {e}"))
}

/// What [`export`] measured and wrote.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ExportReport {
    pub blob_bytes: usize,
    pub arena_bytes: usize,
    pub weight_bytes: usize,
    pub params: u32,
    pub macs: u64,
    pub calibration_images: usize,
    pub calibration_percentile: f64,
    /// The hidden layers' activation ranges came from `--act-quant` training, not calibration.
    pub trained_activation_ranges: bool,
    pub val_float_accuracy: f64,
    pub val_int8_accuracy: f64,
    pub test_float_accuracy: f64,
    pub test_int8_accuracy: f64,
    /// Fraction of test images where the int8 and float predictions agree.
    pub test_agreement: f64,
    /// Temperature fitted on the validation split, with NLL/ECE before and after there.
    pub calibration_validation: crate::calibrate::Fit,
    /// The same temperature's NLL/ECE on the test set (reported only, never used to fit).
    pub calibration_test_before: crate::calibrate::Scores,
    pub calibration_test_after: crate::calibrate::Scores,
}

fn accuracy(pred: &[u8], split: &Split, idx: &[usize]) -> f64 {
    let ok = pred
        .iter()
        .zip(idx)
        .filter(|(p, i)| **p == split.labels[**i])
        .count();
    ok as f64 / idx.len().max(1) as f64
}

/// Calibrate, quantize, choose the calibration (max or 99.99th percentile) with the better
/// validation int8 accuracy, measure float and int8 accuracy on the test set (reported only,
/// never used for a choice) and return the blob with its metadata filled in.
#[allow(clippy::too_many_arguments)]
pub fn export(
    model: &Net,
    arch: &Arch,
    train: &Split,
    calib_idx: &[usize],
    val_idx: &[usize],
    test: &Split,
    mut meta: Meta,
    device: &Device,
) -> Result<(Vec<u8>, ExportReport)> {
    let val_float = crate::train::predict_float(model, train, val_idx, device);
    let val_float_acc = accuracy(&val_float, train, val_idx);
    let mut best: Option<(f64, f64, QModel)> = None;
    // Trained activation ranges leave no choice to make.
    let percentiles: &[f64] = if model.act_ranges.is_empty() {
        &[100.0, 99.99]
    } else {
        &[100.0]
    };
    for &pct in percentiles {
        let cal = calibrate(model, train, calib_idx, pct, device);
        let q = quantize(model, arch, &cal)?;
        let blob = q.to_blob(&meta)?;
        let acc = accuracy(
            &predict_int8(&load(&blob)?, train, val_idx)?,
            train,
            val_idx,
        );
        if best.as_ref().is_none_or(|b| acc > b.0) {
            best = Some((acc, pct, q));
        }
    }
    let (val_int8_acc, pct, mut q) = best.ok_or_else(|| anyhow!("no calibration"))?;
    // Temperature on validation only; the test set below is measured, never fitted on.
    let blob = q.to_blob(&meta)?;
    let val_set = crate::calibrate::score_set(&load(&blob)?, train, val_idx)?;
    let fit = crate::calibrate::fit(&val_set)?;
    q.temperature = fit.temperature;
    let test_idx: Vec<usize> = (0..test.n).collect();
    let test_float = crate::train::predict_float(model, test, &test_idx, device);
    let test_float_acc = accuracy(&test_float, test, &test_idx);
    let blob = q.to_blob(&meta)?;
    let test_set = crate::calibrate::score_set(&load(&blob)?, test, &test_idx)?;
    let test_int8: Vec<u8> = test_set.iter().map(|s| s.prediction.class()).collect();
    let test_int8_acc = accuracy(&test_int8, test, &test_idx);
    let agree = test_int8
        .iter()
        .zip(&test_float)
        .filter(|(a, b)| a == b)
        .count() as f64
        / test.n.max(1) as f64;
    meta.float_accuracy = Some(test_float_acc as f32);
    meta.int8_accuracy = Some(test_int8_acc as f32);
    let blob = q.to_blob(&meta)?;
    let m = load(&blob)?;
    let report = ExportReport {
        blob_bytes: blob.len(),
        arena_bytes: m.arena_bytes(),
        weight_bytes: m.weight_bytes(),
        params: m.params(),
        macs: m.macs(),
        calibration_images: calib_idx.len(),
        calibration_percentile: pct,
        trained_activation_ranges: !model.act_ranges.is_empty(),
        val_float_accuracy: val_float_acc,
        val_int8_accuracy: val_int8_acc,
        test_float_accuracy: test_float_acc,
        test_int8_accuracy: test_int8_acc,
        test_agreement: agree,
        calibration_validation: fit,
        calibration_test_before: crate::calibrate::scores(&test_set, 1.0),
        calibration_test_after: crate::calibrate::scores(&test_set, fit.temperature),
    };
    Ok((blob, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exporter's path (a [`QModel`] and its [`Meta`] through [`QModel::to_blob`]) writes
    /// the committed models byte for byte.
    #[test]
    fn to_blob_writes_the_committed_models_byte_for_byte() {
        for bytes in [
            sumi_core::models::DEFAULT,
            &include_bytes!("../models/tiny.sumi")[..],
        ] {
            let (_, d) = sumi_core::blob::decode(bytes).unwrap();
            let q = QModel {
                layers: ModelBuilder::from_desc(&d).layers().to_vec(),
                logit_scale: d.logit_scale,
                params: d.meta.params,
                temperature: d.calibration.temperature,
            };
            let meta = Meta {
                name: d.meta.name.to_owned(),
                created: d.meta.created.to_owned(),
                recipe: d.meta.recipe.to_owned(),
                float_accuracy: d.meta.float_accuracy,
                int8_accuracy: d.meta.int8_accuracy,
            };
            assert_eq!(q.to_blob(&meta).unwrap(), bytes, "{}", d.meta.name);
        }
    }
    use burn::module::{Param, RunningState};
    use burn::tensor::TensorData;

    fn t1(v: Vec<f32>, device: &Device) -> Tensor<1> {
        let n = v.len();
        Tensor::from_data(TensorData::new(v, [n]), device)
    }

    /// An `--act-quant` model is exported with the activation ranges it was trained with, not
    /// calibrated ones; its logit range is still measured, on its quantized activations.
    #[test]
    fn trained_activation_ranges_replace_calibration() {
        let device = Device::flex();
        let arch = Arch::parse("4,6p/10", 0, false).unwrap();
        let mut net = Net::new(&arch, &device);
        let n = 16;
        let split = Split {
            images: (0..n * 784).map(|i| ((i * 53) % 256) as u8).collect(),
            labels: (0..n).map(|i| (i % 10) as u8).collect(),
            n,
        };
        let idx: Vec<usize> = (0..n).collect();
        let measured = calibrate(&net, &split, &idx, 100.0, &device);
        net.act_ranges = vec![0.5 * measured.max[0], 0.25 * measured.max[1]];
        let cal = calibrate(&net, &split, &idx, 100.0, &device);
        assert_eq!(cal.max[..2], net.act_ranges[..]);
        assert!(cal.max[2] > 0.0 && cal.max[2] != measured.max[2], "{cal:?}");
        // The percentile choice does not apply to trained ranges.
        assert_eq!(
            calibrate(&net, &split, &idx, 99.0, &device).max[..2],
            cal.max[..2]
        );
    }

    /// A model with batch normalisation (non-trivial γ, β and running statistics) and the
    /// same model without it, its convolutions replaced by [`folded_conv`], give the same
    /// logits.
    #[test]
    fn folded_batch_norm_matches_the_unfolded_model() {
        let device = Device::flex();
        let bn_arch = Arch::parse("4,6p/10", 0, true).unwrap();
        let mut with_bn = Net::new(&bn_arch, &device);
        for (i, bn) in with_bn.bn.iter_mut().enumerate() {
            let c = bn_arch.convs[i].out_c;
            let f = |a: f32, b: f32| (0..c).map(|j| a + b * j as f32).collect::<Vec<_>>();
            bn.gamma = Param::from_tensor(t1(f(0.5, 0.3), &device));
            bn.beta = Param::from_tensor(t1(f(-0.2, 0.1), &device));
            bn.running_mean = RunningState::new(t1(f(0.1, -0.05), &device));
            bn.running_var = RunningState::new(t1(f(0.3, 0.4), &device));
        }
        let plain_arch = Arch {
            batch_norm: false,
            ..bn_arch.clone()
        };
        let mut plain = Net::new(&plain_arch, &device);
        for i in 0..plain.convs.len() {
            let (w, b) = folded_conv(&with_bn, i).unwrap();
            let dims = with_bn.convs[i].weight.val().dims();
            let n = b.len();
            plain.convs[i].weight =
                Param::from_tensor(Tensor::from_data(TensorData::new(w, dims), &device));
            plain.convs[i].bias = Some(Param::from_tensor(t1(b, &device)));
            assert_eq!(n, bn_arch.convs[i].out_c);
        }
        plain.dense = with_bn.dense.clone();
        let x: Vec<f32> = (0..2 * 784)
            .map(|i| ((i * 37) % 101) as f32 / 100.0)
            .collect();
        let x = Tensor::<4>::from_data(TensorData::new(x, [2, 1, 28, 28]), &device);
        let a = floats(with_bn.forward(x.clone(), None)).unwrap();
        let b = floats(plain.forward(x, None)).unwrap();
        assert_eq!(a.len(), 20);
        for (u, v) in a.iter().zip(&b) {
            assert!((u - v).abs() <= 1e-4 * (1.0 + u.abs()), "{u} vs {v}");
        }
        // The fold is not the identity here: the BN model differs from the raw convolutions.
        let raw: Vec<f32> = floats(with_bn.convs[0].weight.val()).unwrap();
        assert_ne!(raw, folded_conv(&with_bn, 0).unwrap().0);
    }
}
