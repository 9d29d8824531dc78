//! The burn model and its presets.
//!
//! A model is a stack of 3x3 valid convolutions (each followed by ReLU and optionally a fused
//! 2x2 max-pool), a flatten, dropout, and fully connected layers (ReLU on all but the last).
//! The layer list is deliberately restricted to what `sumi-core` runs integer-only, so every
//! trained model can be exported without approximation beyond int8 quantization.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

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
}

/// Named model presets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// The model embedded in the core (≤ 64 KiB weights, ≤ 16 KiB arena).
    Default,
    /// The smallest model for the smallest MCUs (≤ 8 KiB weights, ≤ 4 KiB arena).
    Tiny,
}

impl Preset {
    pub fn name(self) -> &'static str {
        match self {
            Preset::Default => "default",
            Preset::Tiny => "tiny",
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
            Preset::Default => Arch {
                convs: vec![c(1, 16, false), c(16, 32, true), c(32, 32, true)],
                dense: vec![48, 10],
                dropout_permille: 250,
            },
            Preset::Tiny => Arch {
                convs: vec![c(1, 12, true), c(12, 20, true)],
                dense: vec![10],
                dropout_permille: 0,
            },
        }
    }
}

impl Arch {
    /// Feature-map shape (h, w, c) after each convolution, starting from 28x28x1.
    pub fn conv_shapes(&self) -> Vec<(usize, usize, usize)> {
        let (mut h, mut w) = (28usize, 28usize);
        self.convs
            .iter()
            .map(|c| {
                h = h + 1 - c.kernel;
                w = w + 1 - c.kernel;
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
        let (h, w, c) = self.conv_shapes().last().copied().unwrap_or((28, 28, 1));
        h * w * c
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

    pub fn dropout(&self) -> f64 {
        f64::from(self.dropout_permille) / 1000.0
    }

    /// One-line human description.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self
            .convs
            .iter()
            .map(|c| {
                format!(
                    "conv{k}x{k} {}→{} relu{}",
                    c.in_c,
                    c.out_c,
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
            parts.push(format!(
                "dense {fan_in}→{o}{}",
                if last { "" } else { " relu" }
            ));
            fan_in = o;
        }
        parts.join(" ; ")
    }
}

/// The burn model. `arch` is not a parameter: it is re-derived from the run's config.
#[derive(Module, Debug)]
pub struct Net {
    pub convs: Vec<Conv2d>,
    pub dense: Vec<Linear>,
    pool: MaxPool2d,
    #[module(skip)]
    pub pool_after: Vec<bool>,
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
        Net {
            convs,
            dense,
            pool: MaxPool2dConfig::new([2, 2]).init(),
            pool_after: arch.convs.iter().map(|c| c.pool).collect(),
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
        for (conv, &pool) in self.convs.iter().zip(&self.pool_after) {
            x = relu(conv.forward(x));
            if pool {
                x = self.pool.forward(x);
            }
            observe(layer, Observed::Map(&x));
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
            y = lin.forward(y);
            if i + 1 < n {
                y = relu(y);
            }
            observe(layer, Observed::Vec(&y));
            layer += 1;
        }
        y
    }
}

/// An activation seen by [`Net::forward_observed`].
pub enum Observed<'a> {
    Map(&'a Tensor<4>),
    Vec(&'a Tensor<2>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_fit_their_budgets() {
        let d = Preset::Default.arch();
        assert_eq!(d.flat_len(), 800);
        assert!(d.params() <= 64 * 1024, "{}", d.params());
        let t = Preset::Tiny.arch();
        assert_eq!(t.flat_len(), 500);
        assert!(t.params() <= 8 * 1024, "{}", t.params());
    }
}
