//! Regenerate the committed seed corpora (`corpus/load_predict`, `corpus/preprocess`):
//!
//! ```text
//! cargo run --manifest-path core/fuzz/Cargo.toml --example gen_seeds
//! ```
//!
//! The blobs are written by the core's own `builder::ModelBuilder` from pseudo-random int8
//! layers, so each seed is a valid model of a different architecture; the fuzzer mutates from
//! there into every corner of the loader and the kernels. Deterministic (fixed seeds), every
//! blob is checked to load and run, and each stays well under 20 KB.
#![forbid(unsafe_code)]

use std::path::Path;

use sumi_core::Model;
use sumi_core::blob::{DenseOutput, Padding, Pool};
use sumi_core::builder::{Conv, Dense, Layer, ModelBuilder, Params};
use sumi_core::{Requant, quantize_multiplier};

/// A 64-bit linear congruential generator (Knuth's MMIX constants).
struct Lcg(u64);

impl Lcg {
    fn next_u32(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as u32
    }

    /// `n` values in `-range..=range`.
    fn ints(&mut self, n: usize, range: i32) -> Vec<i32> {
        (0..n)
            .map(|_| (self.next_u32() % (2 * range as u32 + 1)) as i32 - range)
            .collect()
    }

    fn weights(&mut self, n: usize) -> Vec<i8> {
        self.ints(n, 127).into_iter().map(|w| w as i8).collect()
    }
}

/// The same requantization for each of `n` channels: accumulators of `taps` products of an
/// int8 input and an int8 weight scaled back into int8 (or logit) range.
fn requant(n: usize, taps: usize) -> Vec<Requant> {
    vec![quantize_multiplier(1.0 / (taps as f64 * 64.0)); n]
}

fn conv(rng: &mut Lcg, k: usize, in_c: usize, out_c: usize, same: bool, pool: Pool) -> Layer {
    let taps = k * k * in_c;
    Layer::Conv2d(Conv {
        kernel: (k as u8, k as u8),
        in_channels: in_c as u16,
        out_channels: out_c as u16,
        padding: if same { Padding::Same } else { Padding::Valid },
        relu: true,
        pool,
        output_zero_point: -128,
        weight_bits: 8,
        params: Params {
            weights: rng.weights(taps * out_c),
            bias: rng.ints(out_c, 2000),
            requant: requant(out_c, taps),
        },
    })
}

fn depthwise(rng: &mut Lcg, k: usize, c: usize, same: bool, relu: bool, pool: Pool) -> Layer {
    Layer::DepthwiseConv2d(Conv {
        kernel: (k as u8, k as u8),
        in_channels: c as u16,
        out_channels: c as u16,
        padding: if same { Padding::Same } else { Padding::Valid },
        relu,
        pool,
        output_zero_point: if relu { -128 } else { 3 },
        weight_bits: 8,
        params: Params {
            weights: rng.weights(k * k * c),
            bias: rng.ints(c, 2000),
            requant: requant(c, k * k),
        },
    })
}

fn dense(rng: &mut Lcg, in_f: usize, out_f: usize, logits: bool) -> Layer {
    Layer::Dense(Dense {
        in_features: in_f as u32,
        out_features: out_f as u16,
        relu: !logits,
        output: if logits {
            DenseOutput::Logits
        } else {
            DenseOutput::Int8 { zero_point: -128 }
        },
        weight_bits: 8,
        params: Params {
            weights: rng.weights(in_f * out_f),
            bias: rng.ints(out_f, 2000),
            requant: requant(out_f, in_f),
        },
    })
}

fn spec(h: u16, w: u16, c: u16, layers: Vec<Layer>) -> ModelBuilder {
    layers.into_iter().fold(
        ModelBuilder::new(h, w, c)
            .name("seed")
            .created("2026-11-28")
            .recipe("synthetic")
            .logit_scale(0.01),
        ModelBuilder::layer,
    )
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut rng = Lcg(2026);
    let r = &mut rng;
    let models: Vec<(&str, ModelBuilder)> = vec![
        // 10x10 -> conv3 valid 8x8x4 -> maxpool fused 4x4x4 -> dense 10.
        (
            "conv_valid_maxpool_dense",
            spec(
                10,
                10,
                1,
                vec![
                    conv(r, 3, 1, 4, false, Pool::Max2),
                    Layer::Flatten,
                    dense(r, 64, 10, true),
                ],
            ),
        ),
        // 8x8 -> conv3 same 8x8x3 -> avg pool fused 4x4x3 -> dense 10.
        (
            "conv_same_avgpool_dense",
            spec(
                8,
                8,
                1,
                vec![
                    conv(r, 3, 1, 3, true, Pool::Avg2),
                    Layer::Flatten,
                    dense(r, 48, 10, true),
                ],
            ),
        ),
        // 12x12 -> conv5 same 12x12x2 -> depthwise 3 valid 10x10x2 -> standalone max pool
        // 5x5x2 -> dense 10.
        (
            "conv_depthwise_pool_dense",
            spec(
                12,
                12,
                1,
                vec![
                    conv(r, 5, 1, 2, true, Pool::None),
                    depthwise(r, 3, 2, false, true, Pool::None),
                    Layer::Pool(Pool::Max2),
                    Layer::Flatten,
                    dense(r, 50, 10, true),
                ],
            ),
        ),
        // 9x9x2 input -> depthwise 3 same with fused avg pool 4x4x2 -> standalone avg pool 2x2x2
        // -> dense 4.
        (
            "depthwise_same_avgpool",
            spec(
                9,
                9,
                2,
                vec![
                    depthwise(r, 3, 2, true, false, Pool::Avg2),
                    Layer::Pool(Pool::Avg2),
                    Layer::Flatten,
                    dense(r, 8, 4, true),
                ],
            ),
        ),
        // MLP: 6x6 -> flatten -> dense 16 (int8, ReLU) -> dense 10.
        (
            "dense_mlp",
            spec(
                6,
                6,
                1,
                vec![
                    Layer::Flatten,
                    dense(r, 36, 16, false),
                    dense(r, 16, 10, true),
                ],
            ),
        ),
        // MNIST-shaped: 28x28 -> conv3 valid 26x26x4 maxpool 13x13x4 -> conv3 same 13x13x4 maxpool 6x6x4
        // -> dense 10.
        (
            "mnist_two_conv",
            spec(
                28,
                28,
                1,
                vec![
                    conv(r, 3, 1, 4, false, Pool::Max2),
                    conv(r, 3, 4, 4, true, Pool::Max2),
                    Layer::Flatten,
                    dense(r, 144, 10, true),
                ],
            ),
        ),
        // Smallest possible model: 1x1x1 -> dense 2 logits.
        ("tiny_dense", spec(1, 1, 1, vec![dense(r, 1, 2, true)])),
    ];
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/load_predict");
    std::fs::create_dir_all(&dir)?;
    for (name, s) in &models {
        let blob = s.build().map_err(|e| format!("{name}: {e}"))?;
        let model = Model::from_bytes(&blob).map_err(|e| format!("{name}: {e}"))?;
        let mut arena = vec![0u8; model.arena_bytes()];
        let input = vec![128u8; model.input_shape().len()];
        model
            .predict(&input, &mut arena)
            .map_err(|e| format!("{name}: {e}"))?;
        assert!(blob.len() < 20_000, "{name}: {} bytes", blob.len());
        std::fs::write(dir.join(format!("{name}.sumi")), &blob)?;
        println!(
            "{name}.sumi: {} bytes, {} layers",
            blob.len(),
            model.layers().count()
        );
    }
    std::fs::write(dir.join("default.sumi"), sumi_core::models::DEFAULT)?;
    println!("default.sumi: {} bytes", sumi_core::models::DEFAULT.len());

    // Preprocess seeds: [width, height, canvas...].
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/preprocess");
    std::fs::create_dir_all(&dir)?;
    let canvas = |w: usize, h: usize, bg: u8, ink: u8, f: &dyn Fn(usize, usize) -> bool| {
        let mut v = vec![w as u8, h as u8];
        v.extend((0..w * h).map(|i| if f(i % w, i / w) { ink } else { bg }));
        v
    };
    let seeds: Vec<(&str, Vec<u8>)> = vec![
        (
            "bar_dark_on_light",
            canvas(40, 40, 255, 0, &|x, y| {
                (18..22).contains(&x) && (5..35).contains(&y)
            }),
        ),
        (
            "ring_light_on_dark",
            canvas(32, 24, 0, 250, &|x, y| {
                let (dx, dy) = (x as i32 - 16, y as i32 - 12);
                (49..=100).contains(&(dx * dx + dy * dy))
            }),
        ),
        ("wide_stroke", canvas(60, 8, 20, 230, &|_, y| y == 4)),
        ("single_dot", canvas(5, 5, 0, 255, &|x, y| x == 2 && y == 2)),
        (
            "grey_paper",
            canvas(30, 30, 200, 60, &|x, y| x == y || x + y == 29),
        ),
        ("blank", canvas(16, 16, 128, 128, &|_, _| false)),
    ];
    for (name, bytes) in &seeds {
        std::fs::write(dir.join(name), bytes)?;
    }
    println!("{} preprocess seeds", seeds.len());
    Ok(())
}
