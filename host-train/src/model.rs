//! The burn model and its presets.
//!
//! A model is a stack of 3x3 valid convolutions (each followed by optional batch
//! normalisation, ReLU and optionally a fused 2x2 max-pool), a flatten, dropout, and fully
//! connected layers (ReLU on all but the last). The layer list is deliberately restricted to
//! what `sumi-core` runs integer-only, so every trained model can be exported without
//! approximation beyond int8 quantization (batch normalisation is folded into its convolution
//! at export, [`crate::quantize`]).
//!
//! Besides the presets, `sumi-train train --arch SPEC` trains any such stack; [`Arch::parse`]
//! documents the notation.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};
use sumi_core::preprocess::SIDE;

/// One convolution: 3x3 valid, ReLU, optional fused 2x2 max-pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConvSpec {
    pub in_c: usize,
    pub out_c: usize,
    pub kernel: usize,
    pub pool: bool,
}

/// An architecture: convolutions, then dense layers (`dense` lists output widths; the last is
/// the 10 logits).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Arch {
    pub convs: Vec<ConvSpec>,
    pub dense: Vec<usize>,
    /// Dropout probability applied to the flattened features and hidden dense outputs, in
    /// per-mille (kept integral so the struct stays `Eq` and serialises exactly).
    pub dropout_permille: u32,
    /// Batch normalisation after every convolution (folded into it at export).
    #[serde(default)]
    pub batch_norm: bool,
    /// Bits per weight of each dense layer that is not int8, as `(dense index, bits)`: 4 or 2,
    /// trained quantization-aware ([`fake_quantize`]) and exported packed. Empty: all int8
    /// (runs from before sub-byte weights).
    #[serde(default)]
    pub dense_bits: Vec<(usize, u8)>,
    /// The same for the convolutions: `(conv index, bits)`, 4 or 2.
    #[serde(default)]
    pub conv_bits: Vec<(usize, u8)>,
    /// How the sub-byte layers' per-output-channel scales are chosen, in training and at
    /// export alike (`--weight-scale`; runs from before the flag: [`WeightScale::Max`]).
    #[serde(default)]
    pub weight_scale: WeightScale,
}

/// How a sub-byte layer's scale (one per output channel) is chosen from its float weights.
/// int8 layers are always quantized with [`WeightScale::Max`] (post-training, no clipping).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum WeightScale {
    /// `max |w| / qmax`: the largest weight lands on the outermost level, nothing is clipped.
    /// With 2 bits most weights then share the two inner levels (±max/3).
    #[default]
    Max,
    /// `mean |w| · k`, with `k` the step that minimises the squared rounding error of a
    /// Gaussian with that mean |w| ([`mean_scale_factor`]); weights beyond the outermost level
    /// are clipped to it. Rounding error of a unit Gaussian: 2 bits 0.119 (0.336 under
    /// `max` when the largest weight is 3σ), 4 bits 0.0129 (0.0157).
    Mean,
}

/// `k` of [`WeightScale::Mean`] for `bits`-bit weights: the MSE-optimal step of the uniform
/// levels (2 bits: ±1, ±3 steps; 4 bits: −7 … 7 steps) for a Gaussian, over its mean |w|
/// (`√(2/π) σ`). Checked by `mean_scale_factors_minimise_gaussian_rounding_error`.
pub fn mean_scale_factor(bits: u8) -> f64 {
    match bits {
        2 => 0.6267,
        _ => 0.4449,
    }
}

/// Named model presets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// The model embedded in the core (≤ 64 KiB weights, ≤ 16 KiB arena).
    Default,
    /// The small model (≤ 12 KiB of 2-bit convolutions behind an int8 first one, scales from
    /// mean |w|).
    Small,
    /// The tiny model (≤ 7 KiB of 4-bit weights, ≤ 2 KiB arena).
    Tiny,
    /// The smallest bundled model (≤ 3.2 KiB of 4- and 2-bit weights, scales from mean |w|).
    Micro,
}

impl Preset {
    pub fn name(self) -> &'static str {
        match self {
            Preset::Default => "default",
            Preset::Small => "small",
            Preset::Tiny => "tiny",
            Preset::Micro => "micro",
        }
    }

    pub fn arch(self) -> Arch {
        let c = |in_c, out_c, pool| ConvSpec {
            in_c,
            out_c,
            kernel: 3,
            pool,
        };
        match self {
            // Chosen on validation among seven candidates, the previous default included
            // (host-train/MODEL_CARD.md).
            Preset::Default => Arch {
                convs: vec![
                    c(1, 16, false),
                    c(16, 32, true),
                    c(32, 32, false),
                    c(32, 40, true),
                ],
                dense: vec![56, 10],
                dropout_permille: 250,
                batch_norm: false,
                dense_bits: Vec::new(),
                conv_bits: Vec::new(),
                weight_scale: WeightScale::Max,
            },
            // int8 first convolution, 2-bit other convolutions and logits (straight from the
            // 4×4×44 map), each sub-byte row scaled from its mean |w|; chosen on validation
            // among the small-size candidates (host-train/MODEL_CARD.md).
            Preset::Small => Arch {
                convs: vec![
                    c(1, 16, false),
                    c(16, 32, true),
                    c(32, 44, false),
                    c(44, 44, true),
                ],
                dense: vec![10],
                dropout_permille: 250,
                batch_norm: false,
                dense_bits: vec![(0, 2)],
                conv_bits: vec![(1, 2), (2, 2), (3, 2)],
                weight_scale: WeightScale::Mean,
            },
            // 4-bit weights throughout, trained quantization-aware; chosen on validation among
            // the tiny-size candidates (host-train/MODEL_CARD.md).
            Preset::Tiny => Arch {
                convs: vec![c(1, 16, true), c(16, 32, true)],
                dense: vec![10],
                dropout_permille: 0,
                batch_norm: false,
                dense_bits: vec![(0, 4)],
                conv_bits: vec![(0, 4), (1, 4)],
                weight_scale: WeightScale::Max,
            },
            // 4-bit first convolution, 2-bit second and logits, each sub-byte row scaled from
            // its mean |w|; chosen on validation among the micro-size candidates
            // (host-train/MODEL_CARD.md).
            Preset::Micro => Arch {
                convs: vec![c(1, 16, true), c(16, 24, true)],
                dense: vec![10],
                dropout_permille: 0,
                batch_norm: false,
                dense_bits: vec![(0, 2)],
                conv_bits: vec![(0, 4), (1, 2)],
                weight_scale: WeightScale::Mean,
            },
        }
    }
}

/// Largest `kernel² · in_channels` a convolution may have (the core's im2col window).
const MAX_WINDOW: usize = sumi_core::MAX_WINDOW;

impl Arch {
    /// Bits per weight of dense layer `i`: 8 unless [`Arch::dense_bits`] says 4 or 2.
    pub fn dense_weight_bits(&self, i: usize) -> u8 {
        lookup_bits(&self.dense_bits, i)
    }

    /// Bits per weight of convolution `i`: 8 unless [`Arch::conv_bits`] says 4 or 2.
    pub fn conv_weight_bits(&self, i: usize) -> u8 {
        lookup_bits(&self.conv_bits, i)
    }

    /// Parse an architecture written as `CONVS/DENSE`: comma-separated convolution widths, each
    /// followed by `p` for a 2x2 max-pool, then the dense widths (the last must be 10); any
    /// width may be followed by `:4` or `:2` for 4- or 2-bit weights (trained
    /// quantization-aware; not with batch normalisation). Dropout and batch normalisation are
    /// given separately.
    ///
    /// `16,32p,32,40p/56,10` is the default preset: conv 1→16, conv 16→32 + pool,
    /// conv 32→32, conv 32→40 + pool, dense 640→56, dense 56→10. `16p:4,32p:4/10:4` is the tiny
    /// preset: conv 1→16 + pool and conv 16→32 + pool, dense 800→10, all with 4-bit weights.
    pub fn parse(spec: &str, dropout_permille: u32, batch_norm: bool) -> Result<Arch, String> {
        let bad = |why: String| {
            format!(
                "architecture {spec:?}: {why} (expected e.g. \"16,32p,32p/48,10\": conv widths with p = 2x2 max-pool, '/', dense widths ending in 10)"
            )
        };
        let (convs_s, dense_s) = spec
            .split_once('/')
            .ok_or_else(|| bad("no '/' between convolutions and dense layers".into()))?;
        let width = |t: &str| -> Result<usize, String> {
            match t.trim().parse::<usize>() {
                Ok(n) if (1..=256).contains(&n) => Ok(n),
                _ => Err(bad(format!("{t:?} is not a width between 1 and 256"))),
            }
        };
        // `WIDTH:BITS` → (WIDTH, bits); 8 when there is no suffix.
        let with_bits = |t: &str| -> Result<(String, u8), String> {
            match t.split_once(':') {
                Some((w, b)) => match b.trim() {
                    "8" => Ok((w.into(), 8)),
                    "4" => Ok((w.into(), 4)),
                    "2" => Ok((w.into(), 2)),
                    _ => Err(bad(format!("{t:?}: weight bits must be 8, 4 or 2"))),
                },
                None => Ok((t.into(), 8)),
            }
        };
        let mut convs = Vec::new();
        let mut conv_bits = Vec::new();
        let mut in_c = 1;
        for (i, t) in convs_s
            .split(',')
            .filter(|t| !t.trim().is_empty())
            .enumerate()
        {
            let (t, bits) = with_bits(t.trim())?;
            let t = t.trim();
            if bits != 8 {
                conv_bits.push((i, bits));
            }
            let pool = t.ends_with('p');
            let out_c = width(t.trim_end_matches('p'))?;
            convs.push(ConvSpec {
                in_c,
                out_c,
                kernel: 3,
                pool,
            });
            in_c = out_c;
        }
        let mut dense = Vec::new();
        let mut dense_bits = Vec::new();
        for (i, t) in dense_s.split(',').enumerate() {
            let (w, bits) = with_bits(t)?;
            dense.push(width(&w)?);
            if bits != 8 {
                dense_bits.push((i, bits));
            }
        }
        if dense.last() != Some(&10) {
            return Err(bad("the last dense layer must have 10 outputs".into()));
        }
        if convs.len() + dense.len() + 1 > sumi_core::MAX_LAYERS {
            return Err(bad(format!(
                "more than {} layers (the core's limit)",
                sumi_core::MAX_LAYERS
            )));
        }
        if batch_norm && !conv_bits.is_empty() {
            return Err(bad(
                "sub-byte convolutions cannot be trained with batch normalisation (it is folded into the weights after training)".into(),
            ));
        }
        let arch = Arch {
            convs,
            dense,
            dropout_permille,
            batch_norm,
            dense_bits,
            conv_bits,
            weight_scale: WeightScale::Max,
        };
        for (i, c) in arch.convs.iter().enumerate() {
            if c.in_c * c.kernel * c.kernel > MAX_WINDOW {
                return Err(bad(format!(
                    "convolution {} has {}x{}x{} inputs per output, over the core's {MAX_WINDOW}",
                    i + 1,
                    c.kernel,
                    c.kernel,
                    c.in_c
                )));
            }
        }
        if let Some(i) = arch
            .conv_shapes()
            .iter()
            .position(|&(h, w, _)| h == 0 || w == 0)
        {
            return Err(bad(format!(
                "the feature map shrinks to nothing at convolution {}",
                i + 1
            )));
        }
        Ok(arch)
    }

    /// Feature-map shape (h, w, c) after each convolution, starting from 28x28x1 (0 once
    /// the map has shrunk below the kernel; [`Arch::parse`] rejects such stacks).
    pub fn conv_shapes(&self) -> Vec<(usize, usize, usize)> {
        let (mut h, mut w) = (SIDE, SIDE);
        self.convs
            .iter()
            .map(|c| {
                h = (h + 1).saturating_sub(c.kernel);
                w = (w + 1).saturating_sub(c.kernel);
                if c.pool {
                    h /= 2;
                    w /= 2;
                }
                (h, w, c.out_c)
            })
            .collect()
    }

    /// Length of the flattened feature vector.
    pub fn flat_len(&self) -> usize {
        let (h, w, c) = self
            .conv_shapes()
            .last()
            .copied()
            .unwrap_or((SIDE, SIDE, 1));
        h * w * c
    }

    /// Layers with an int8 activation output (all but the logits): one range each in an
    /// `--act-quant` run ([`Net::act_ranges`]).
    pub fn hidden_layers(&self) -> usize {
        self.convs.len() + self.dense.len() - 1
    }

    /// Number of trainable parameters.
    pub fn params(&self) -> usize {
        let conv: usize = self
            .convs
            .iter()
            .map(|c| c.out_c * (c.in_c * c.kernel * c.kernel + 1))
            .sum();
        let mut fan_in = self.flat_len();
        let mut dense = 0;
        for &o in &self.dense {
            dense += o * (fan_in + 1);
            fan_in = o;
        }
        conv + dense
    }

    /// The `--arch` notation of this architecture (inverse of [`Arch::parse`]).
    pub fn spec(&self) -> String {
        let convs: Vec<String> = self
            .convs
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let bits = match self.conv_weight_bits(i) {
                    8 => String::new(),
                    b => format!(":{b}"),
                };
                format!("{}{}{bits}", c.out_c, if c.pool { "p" } else { "" })
            })
            .collect();
        let dense: Vec<String> = self
            .dense
            .iter()
            .enumerate()
            .map(|(i, d)| match self.dense_weight_bits(i) {
                8 => d.to_string(),
                b => format!("{d}:{b}"),
            })
            .collect();
        format!("{}/{}", convs.join(","), dense.join(","))
    }

    pub fn dropout(&self) -> f64 {
        f64::from(self.dropout_permille) / 1000.0
    }

    /// One-line human description.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self
            .convs
            .iter()
            .enumerate()
            .map(|(i, c)| {
                format!(
                    "conv{k}x{k} {}→{}{}{} relu{}",
                    c.in_c,
                    c.out_c,
                    match self.conv_weight_bits(i) {
                        8 => String::new(),
                        b => format!(" {b}-bit"),
                    },
                    if self.batch_norm { " batchnorm" } else { "" },
                    if c.pool { " +maxpool2" } else { "" },
                    k = c.kernel
                )
            })
            .collect();
        parts.push("flatten".into());
        if self.dropout_permille > 0 {
            parts.push(format!("dropout {:.2}", self.dropout()));
        }
        let mut fan_in = self.flat_len();
        for (i, &o) in self.dense.iter().enumerate() {
            let last = i + 1 == self.dense.len();
            let bits = match self.dense_weight_bits(i) {
                8 => String::new(),
                b => format!(" {b}-bit"),
            };
            parts.push(format!(
                "dense {fan_in}→{o}{bits}{}",
                if last { "" } else { " relu" }
            ));
            fan_in = o;
        }
        if self.weight_scale == WeightScale::Mean
            && (!self.conv_bits.is_empty() || !self.dense_bits.is_empty())
        {
            parts.push("sub-byte scales from mean |w|".into());
        }
        parts.join(" ; ")
    }
}

/// The burn model. `arch` is not a parameter: it is re-derived from the run's config.
#[derive(Module, Debug)]
pub struct Net {
    pub convs: Vec<Conv2d>,
    pub dense: Vec<Linear>,
    /// One batch normalisation per convolution, or none (`Arch::batch_norm`).
    pub bn: Vec<BatchNorm>,
    pool: MaxPool2d,
    #[module(skip)]
    pub pool_after: Vec<bool>,
    /// Bits per weight of each dense layer (8: plain float weights in training).
    #[module(skip)]
    pub dense_bits: Vec<u8>,
    /// The same for each convolution.
    #[module(skip)]
    pub conv_bits: Vec<u8>,
    /// How the sub-byte layers' scales are chosen ([`Arch::weight_scale`]).
    #[module(skip)]
    pub weight_scale: WeightScale,
    /// Activation quantization-aware training (`--act-quant`): the upper end of each hidden
    /// layer's output range (a moving average of batch maxima kept by the trainer, saved in
    /// the checkpoint's `state.json`), onto which the forward pass rounds every hidden
    /// activation as the core's requantization does ([`fake_quantize_activation`]); the
    /// exporter uses these ranges instead of calibrating. Empty: float activations.
    #[module(skip)]
    pub act_ranges: Vec<f64>,
}

impl Net {
    pub fn new(arch: &Arch, device: &Device) -> Net {
        let convs = arch
            .convs
            .iter()
            .map(|c| {
                Conv2dConfig::new([c.in_c, c.out_c], [c.kernel, c.kernel])
                    .with_padding(PaddingConfig2d::Valid)
                    .init(device)
            })
            .collect();
        let mut fan_in = arch.flat_len();
        let dense = arch
            .dense
            .iter()
            .map(|&o| {
                let l = LinearConfig::new(fan_in, o).init(device);
                fan_in = o;
                l
            })
            .collect();
        let bn = if arch.batch_norm {
            arch.convs
                .iter()
                .map(|c| BatchNormConfig::new(c.out_c).init(device))
                .collect()
        } else {
            Vec::new()
        };
        Net {
            convs,
            dense,
            bn,
            pool: MaxPool2dConfig::new([2, 2]).init(),
            pool_after: arch.convs.iter().map(|c| c.pool).collect(),
            dense_bits: (0..arch.dense.len())
                .map(|i| arch.dense_weight_bits(i))
                .collect(),
            conv_bits: (0..arch.convs.len())
                .map(|i| arch.conv_weight_bits(i))
                .collect(),
            weight_scale: arch.weight_scale,
            act_ranges: Vec::new(),
        }
    }

    /// Forward pass on `[batch, 1, 28, 28]` images scaled to [0, 1].
    ///
    /// `dropout` holds one multiplicative mask per dense layer input (already scaled by
    /// 1/keep), generated by the caller from its own seeded RNG so that training is
    /// reproducible and resumable; pass `None` for evaluation.
    pub fn forward(&self, x: Tensor<4>, dropout: Option<&[Tensor<2>]>) -> Tensor<2> {
        self.forward_observed(x, dropout, |_, _| {})
    }

    /// Like [`Net::forward`], also calling `observe(layer_index, activation)` on the output of
    /// every layer (NCHW for convolutions, `[batch, n]` for dense layers) — used to calibrate
    /// activation ranges for quantization.
    pub fn forward_observed(
        &self,
        mut x: Tensor<4>,
        dropout: Option<&[Tensor<2>]>,
        mut observe: impl FnMut(usize, Observed<'_>),
    ) -> Tensor<2> {
        let mut layer = 0;
        for (i, (conv, &pool)) in self.convs.iter().zip(&self.pool_after).enumerate() {
            x = match self.conv_bits.get(i) {
                Some(&bits) if bits < 8 => {
                    // [out, in, kh, kw] seen as [in·kh·kw, out]: one column per output channel.
                    let w = conv.weight.val();
                    let [o, c, kh, kw] = w.dims();
                    let cols = w.reshape([o, c * kh * kw]).transpose();
                    let q = fake_quantize(cols, bits, self.weight_scale)
                        .transpose()
                        .reshape([o, c, kh, kw]);
                    let options = burn::tensor::ops::ConvOptions::new([1, 1], [0, 0], [1, 1], 1);
                    burn::tensor::module::conv2d(x, q, conv.bias.as_ref().map(|b| b.val()), options)
                }
                _ => conv.forward(x),
            };
            if let Some(bn) = self.bn.get(i) {
                x = bn.forward(x);
            }
            x = relu(x);
            if pool {
                x = self.pool.forward(x);
            }
            observe(layer, Observed::Map(&x));
            if let Some(&max) = self.act_ranges.get(layer) {
                x = fake_quantize_activation(x, max);
            }
            layer += 1;
        }
        let [b, c, h, w] = x.dims();
        let mut y: Tensor<2> = x.reshape([b, c * h * w]);
        let n = self.dense.len();
        for (i, lin) in self.dense.iter().enumerate() {
            if let Some(masks) = dropout
                && let Some(m) = masks.get(i)
            {
                y = y * m.clone();
            }
            y = match self.dense_bits.get(i) {
                Some(&bits) if bits < 8 => {
                    let w = fake_quantize(lin.weight.val(), bits, self.weight_scale);
                    let y = y.matmul(w);
                    match &lin.bias {
                        Some(b) => y + b.val().unsqueeze::<2>(),
                        None => y,
                    }
                }
                _ => lin.forward(y),
            };
            if i + 1 < n {
                y = relu(y);
            }
            observe(layer, Observed::Vec(&y));
            if i + 1 < n
                && let Some(&max) = self.act_ranges.get(layer)
            {
                y = fake_quantize_activation(y, max);
            }
            layer += 1;
        }
        y
    }
}

/// Bits of layer `i` in a `(layer, bits)` list: 8 when it is not listed.
fn lookup_bits(list: &[(usize, u8)], i: usize) -> u8 {
    list.iter().find(|&&(j, _)| j == i).map_or(8, |&(_, b)| b)
}

/// The largest weight magnitude of `bits`-bit weights in units of the output's scale: 4 bits
/// use −7 … 7 (symmetric; the format also holds −8), 2 bits the odd levels −3, −1, 1, 3.
pub fn qmax(bits: u8) -> f64 {
    if bits == 2 {
        3.0
    } else {
        f64::from((1u32 << (bits - 1)) - 1)
    }
}

/// `bits`-bit weight of `v` (in units of its row's scale): the nearest level; sub-byte levels
/// round ties to even as burn's `round` (so the exporter writes what [`fake_quantize`] trained
/// with).
pub fn quantize_level(v: f64, bits: u8) -> f64 {
    let m = qmax(bits);
    match bits {
        // Post-training int8, as it always was (no training-time twin to match).
        8 => v.round().clamp(-m, m),
        // The nearest odd integer, clamped.
        2 => (2.0 * ((v - 1.0) / 2.0).round_ties_even() + 1.0).clamp(-m, m),
        _ => v.round_ties_even().clamp(-m, m),
    }
}

/// The scale of a row of `bits`-bit weights under `rule`, from its largest and mean |w|
/// (1 for an all-zero row). The exporter ([`crate::quantize`]) and [`fake_quantize`] both
/// use it.
pub fn row_scale(max_abs: f64, mean_abs: f64, bits: u8, rule: WeightScale) -> f64 {
    let s = match rule {
        WeightScale::Mean if bits < 8 => mean_abs * mean_scale_factor(bits),
        _ => max_abs / qmax(bits),
    };
    if s > 0.0 { s } else { 1.0 }
}

/// Quantization-aware training: a burn `Linear` weight (`[in, out]`) quantized per output
/// column to `bits`-bit levels × the column's scale ([`row_scale`] under `rule`), as the
/// exporter quantizes it; the straight-through estimator passes the gradient to the float
/// weights unchanged (`w + (q(w) − w).detach()`).
pub fn fake_quantize(w: Tensor<2>, bits: u8, rule: WeightScale) -> Tensor<2> {
    let m = qmax(bits);
    let scale = match rule {
        WeightScale::Mean => w.clone().abs().mean_dim(0) * mean_scale_factor(bits),
        WeightScale::Max => w.clone().abs().max_dim(0) / m,
    }
    .clamp_min(1e-8); // [1, out]
    let v = w.clone() / scale.clone();
    let q = if bits == 2 {
        ((v - 1.0) / 2.0).round() * 2.0 + 1.0
    } else {
        v.round()
    }
    .clamp(-m, m)
        * scale;
    w.clone() + (q - w).detach()
}

/// Activation quantization-aware training: a ReLU output rounded onto the 256 levels the core
/// gives it, `k · max / 255` for k = 0 … 255 (zero point −128 over [0, `max`], as
/// [`crate::quantize`] exports it), values above `max` clamped; the straight-through estimator
/// passes the gradient unchanged (`x + (q(x) − x).detach()`). Ties round to even (burn's
/// `round`) where the core's rounding doubling multiply rounds them up: at most one level apart,
/// and only on exact ties.
pub fn fake_quantize_activation<const D: usize>(x: Tensor<D>, max: f64) -> Tensor<D> {
    let s = max.max(1e-6) / 255.0;
    let q = (x.clone() / s).round().clamp(0.0, 255.0) * s;
    x.clone() + (q - x).detach()
}

/// An activation seen by [`Net::forward_observed`] (before [`fake_quantize_activation`]).
pub enum Observed<'a> {
    Map(&'a Tensor<4>),
    Vec(&'a Tensor<2>),
}

impl Observed<'_> {
    /// The largest value of the activation.
    pub fn max(&self) -> f64 {
        let m = match self {
            Observed::Map(t) => (*t).clone().detach().max().into_scalar::<f32>(),
            Observed::Vec(t) => (*t).clone().detach().max().into_scalar::<f32>(),
        };
        f64::from(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_fit_their_budgets() {
        let d = Preset::Default.arch();
        assert_eq!(d.flat_len(), 640);
        assert!(d.params() <= 64 * 1024, "{}", d.params());
        let t = Preset::Tiny.arch();
        assert_eq!(t.flat_len(), 800);
        // The bundled tiny model is this preset's export: at most 7 KiB of (4-bit) weights.
        let tiny = sumi_core::Model::from_bytes(sumi_core::models::TINY).unwrap();
        assert_eq!(tiny.params() as usize, t.params());
        assert!(tiny.weight_bytes() <= 7 * 1024, "{}", tiny.weight_bytes());
        // The same for the micro model: at most 3.2 KiB (3,277 B) of 4- and 2-bit weights.
        let m = Preset::Micro.arch();
        assert_eq!(m.spec(), "16p:4,24p:2/10:2");
        let micro = sumi_core::Model::from_bytes(sumi_core::models::MICRO).unwrap();
        assert_eq!(micro.params() as usize, m.params());
        assert!(micro.weight_bytes() <= 3_277, "{}", micro.weight_bytes());
        // And the small model: at most 12 KiB of 2-bit weights behind an int8 first layer.
        let s = Preset::Small.arch();
        assert_eq!(s.spec(), "16,32p:2,44:2,44p:2/10:2");
        let small = sumi_core::Model::from_bytes(sumi_core::models::SMALL).unwrap();
        assert_eq!(small.params() as usize, s.params());
        assert!(
            small.weight_bytes() <= 12 * 1024,
            "{}",
            small.weight_bytes()
        );
    }

    /// Activation fake quantization puts every value on one of the core's 256 levels over
    /// [0, max] (nearest level, above `max` clamped) and passes gradients straight through.
    #[test]
    fn fake_quantized_activations_are_the_core_levels() {
        use burn::tensor::TensorData;
        let device = Device::flex().autodiff();
        let max = 3.0f64;
        let s = max / 255.0;
        let v: Vec<f32> = (0..600).map(|i| i as f32 * 0.0061 - 0.2).collect();
        let x = Tensor::<2>::from_data(TensorData::new(v.clone(), [1, v.len()]), &device)
            .require_grad();
        let y = fake_quantize_activation(x.clone(), max);
        let q = crate::train::logits_vec(y.clone().inner());
        let mut distinct = std::collections::BTreeSet::new();
        for (&a, &b) in v.iter().zip(&q) {
            let k = f64::from(b) / s;
            assert!((k - k.round()).abs() < 1e-3, "{b} is not on a level");
            let want = (f64::from(a) / s).round().clamp(0.0, 255.0);
            assert!((k - want).abs() < 1e-3, "{a} -> {b}, want level {want}");
            distinct.insert(k.round() as i64);
        }
        assert!(
            distinct.contains(&0) && distinct.contains(&255),
            "clamped at both ends"
        );
        assert!(distinct.len() > 200, "{} levels", distinct.len());
        let g = y.sum().backward();
        let grad = crate::train::logits_vec(x.grad(&g).unwrap().unsqueeze::<2>());
        assert!(grad.iter().all(|&d| d == 1.0), "straight-through gradient");
    }

    /// Quantization-aware training sees exactly the weights the exporter writes: each column
    /// of a burn weight on its `bits`-bit levels times the column's scale, under either rule.
    #[test]
    fn fake_quantized_weights_are_the_exported_levels() {
        use burn::tensor::TensorData;
        let device = Device::flex();
        let (k, out) = (7, 3);
        let mut w: Vec<f32> = (0..k * out)
            .map(|i| ((i * 37 % 23) as f32 - 11.0) / 9.0 + 0.0137 * i as f32)
            .collect();
        w[out + 1] = -6.0; // an outlier in column 1, which the mean rule clips
        let t = Tensor::<2>::from_data(TensorData::new(w.clone(), [k, out]), &device);
        for rule in [WeightScale::Max, WeightScale::Mean] {
            let mut clipped = 0;
            for bits in [4u8, 2] {
                let q = crate::train::logits_vec(fake_quantize(t.clone(), bits, rule));
                for o in 0..out {
                    let col: Vec<f32> = (0..k).map(|i| w[i * out + o]).collect();
                    let max = col.iter().fold(0f32, |m, v| m.max(v.abs())) as f64;
                    let mean = col.iter().map(|v| f64::from(v.abs())).sum::<f64>() / k as f64;
                    let s = row_scale(max, mean, bits, rule);
                    for i in 0..k {
                        let level = quantize_level(f64::from(col[i]) / s, bits);
                        assert!(level.abs() <= qmax(bits) && level.fract() == 0.0);
                        if bits == 2 {
                            assert!(level % 2.0 != 0.0, "2-bit levels are odd");
                        }
                        clipped += usize::from(f64::from(col[i].abs()) / s > qmax(bits) + 1.0);
                        let got = f64::from(q[i * out + o]);
                        assert!(
                            (got - level * s).abs() < 1e-5,
                            "{rule:?} {bits} bits: {got} vs {}",
                            level * s
                        );
                    }
                }
            }
            // The mean rule clips the largest weights; the max rule never does.
            assert_eq!(clipped > 0, rule == WeightScale::Mean, "{rule:?}");
        }
    }

    /// [`mean_scale_factor`] is the step that minimises a unit Gaussian's squared rounding
    /// error (numerical integration over ±8σ), over its mean |w|: no step 1 % away does
    /// better, and the 2-bit error is about a third of the max rule's at a 3σ maximum.
    #[test]
    fn mean_scale_factors_minimise_gaussian_rounding_error() {
        let mse = |s: f64, bits: u8| -> f64 {
            let n = 16_000;
            let h = 16.0 / n as f64;
            (0..n)
                .map(|i| {
                    let x = -8.0 + (i as f64 + 0.5) * h;
                    let p = (-x * x / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt();
                    let e = x - quantize_level(x / s, bits) * s;
                    e * e * p * h
                })
                .sum()
        };
        let mean_abs = (2.0 / std::f64::consts::PI).sqrt();
        for bits in [2u8, 4] {
            let s = mean_abs * mean_scale_factor(bits);
            let best = mse(s, bits);
            for f in [0.99, 1.01] {
                assert!(mse(s * f, bits) > best, "{bits} bits, step × {f}");
            }
            let max_rule = mse(3.0 / qmax(bits), bits);
            assert!(best < max_rule, "{bits} bits: {best} vs {max_rule}");
            if bits == 2 {
                assert!(best < 0.4 * max_rule, "{best} vs {max_rule}");
            }
        }
    }

    #[test]
    fn parse_reads_the_presets_and_rejects_bad_specs() {
        assert_eq!(
            Arch::parse("16,32p,32,40p/56,10", 250, false),
            Ok(Preset::Default.arch())
        );
        assert_eq!(
            Arch::parse("16p:4,32p:4/10:4", 0, false),
            Ok(Preset::Tiny.arch())
        );
        let a = Arch::parse("16, 32p, 32, 40p / 48, 10", 250, true).unwrap();
        assert_eq!(a.conv_shapes().last(), Some(&(4, 4, 40)));
        assert!(a.batch_norm);
        assert_eq!(a.spec(), "16,32p,32,40p/48,10");
        assert_eq!(Preset::Default.arch().spec(), "16,32p,32,40p/56,10");
        // Sub-byte dense weights: `:4` / `:2` after a dense width, written back the same way.
        let q = Arch::parse("12p,20p/32:4,10:2", 0, false).unwrap();
        assert_eq!((q.dense_weight_bits(0), q.dense_weight_bits(1)), (4, 2));
        assert_eq!(q.spec(), "12p,20p/32:4,10:2");
        let c = Arch::parse("8, 16p:4, 24:2 / 10:2", 0, false).unwrap();
        assert_eq!(
            (
                c.conv_weight_bits(0),
                c.conv_weight_bits(1),
                c.conv_weight_bits(2)
            ),
            (8, 4, 2)
        );
        assert_eq!(c.spec(), "8,16p:4,24:2/10:2");
        assert!(
            Arch::parse("8p:4/10", 0, true)
                .unwrap_err()
                .contains("batch normalisation")
        );
        // `:8` is int8, the same as no suffix.
        assert_eq!(
            Arch::parse("12p,20p/10:8", 0, false),
            Arch::parse("12p,20p/10", 0, false)
        );
        assert!(
            Arch::parse("12p/10:3", 0, false)
                .unwrap_err()
                .contains("8, 4 or 2")
        );
        for bad in [
            "16,32p",         // no dense part
            "16,32p/48",      // does not end in 10
            "16,x/10",        // not a number
            "16,0/10",        // zero width
            "16,80,16/10",    // 3x3x80 window > 576
            "8p,8p,8p,8p/10", // feature map shrinks to nothing
            "12p/10:3",       // 3-bit weights
        ] {
            let e = Arch::parse(bad, 0, false).unwrap_err();
            assert!(e.contains("expected e.g."), "{bad}: {e}");
        }
    }
}
