//! Convolutions and fully connected layers with 4- and 2-bit weights (format version 6): the
//! same weights stored packed give the same logits as stored int8, on the streamed plan and on
//! whole maps, and the blob is smaller by the packing.

use sumi_core::blob::{self, DenseOutput, LayerDesc, Padding, Pool};
use sumi_core::builder::{Conv, Dense, ModelBuilder, Params};
use sumi_core::{BlobError, Model, Requant};

mod support;
use support::Lcg;

/// The weights a precision can hold (`packing`'s table).
fn levels(bits: u8) -> Vec<i8> {
    match bits {
        4 => (-8..=7).collect(),
        2 => vec![-3, -1, 1, 3],
        _ => (-128..=127).collect(),
    }
}

/// Smaller weights need less of a right shift to keep activations in range.
fn shift_for(bits: u8, int8_shift: i8) -> i8 {
    int8_shift
        + match bits {
            4 => 3,
            2 => 5,
            _ => 0,
        }
}

fn requant(rng: &mut Lcg, n: usize, shift: i8) -> Vec<Requant> {
    (0..n)
        .map(|_| Requant {
            multiplier: (1 << 30) + (rng.next_u32() % (1 << 29)) as i32,
            shift,
        })
        .collect()
}

/// 10×10 input → conv 3×3 1→5 (ReLU, `bits[0]`) → conv 3×3 5→6 (ReLU, max-pool: 3×3×6 = 54,
/// `bits[1]`) → flatten → dense 54→13 (ReLU, `bits[2]`) → dense 13→10 logits (`bits[3]`).
/// Weights are drawn from the levels of `bits`; `stored` is the precision each layer is stored
/// at (8, or the same as `bits`), so the int8 and packed builds hold the same values.
fn model(seed: u64, bits: [u8; 4], stored: [u8; 4]) -> Vec<u8> {
    let mut rng = Lcg(seed);
    let pick = |n: usize, bits: u8, rng: &mut Lcg| -> Vec<i8> {
        let l = levels(bits);
        (0..n)
            .map(|_| l[rng.next_u32() as usize % l.len()])
            .collect()
    };
    let conv = |c_in: u16, c_out: u16, pool: Pool, i: usize, rng: &mut Lcg| Conv {
        kernel: (3, 3),
        in_channels: c_in,
        out_channels: c_out,
        padding: Padding::Valid,
        relu: true,
        pool,
        output_zero_point: -128,
        weight_bits: stored[i],
        params: Params {
            weights: pick(9 * c_in as usize * c_out as usize, bits[i], rng),
            bias: (0..c_out as i32).map(|o| o * 300 - 900).collect(),
            requant: requant(rng, c_out as usize, shift_for(bits[i], -6 - i as i8)),
        },
    };
    let conv0 = conv(1, 5, Pool::None, 0, &mut rng);
    let conv1 = conv(5, 6, Pool::Max2, 1, &mut rng);
    let w1 = pick(54 * 13, bits[2], &mut rng);
    let w2 = pick(13 * 10, bits[3], &mut rng);
    let dense1 = Dense {
        in_features: 54,
        out_features: 13,
        relu: true,
        output: DenseOutput::Int8 { zero_point: -128 },
        weight_bits: stored[2],
        params: Params {
            weights: w1,
            bias: (0..13).map(|o| o * 97 - 500).collect(),
            requant: requant(&mut rng, 13, shift_for(bits[2], -4)),
        },
    };
    let dense2 = Dense {
        in_features: 13,
        out_features: 10,
        relu: false,
        output: DenseOutput::Logits,
        weight_bits: stored[3],
        params: Params {
            weights: w2,
            bias: (0..10).map(|o| o * 31).collect(),
            requant: requant(&mut rng, 10, 0),
        },
    };
    ModelBuilder::new(10, 10, 1)
        .name("packed")
        .logit_scale(0.01)
        .conv2d(conv0)
        .conv2d(conv1)
        .flatten()
        .dense(dense1)
        .dense(dense2)
        .build()
        .unwrap()
}

#[test]
fn packed_weights_give_the_logits_of_the_same_int8_weights() {
    let cases = [
        (1, [8, 8, 4, 2]),
        (2, [8, 8, 2, 4]),
        (3, [4, 4, 4, 4]),
        (4, [2, 2, 2, 2]),
        (5, [8, 4, 8, 2]),
        (6, [4, 2, 8, 8]),
    ];
    for (seed, bits) in cases {
        let int8 = model(seed, bits, [8; 4]);
        let packed = model(seed, bits, bits);
        // Each layer's rows of `n` weights, `o` of them.
        let rows = [(9, 5), (45, 6), (54, 13), (13, 10)];
        // Smaller by the packing, give or take the varint length prefixes of the arrays.
        let saved: usize = rows
            .iter()
            .zip(bits)
            .map(|(&(n, o), b)| (n - blob_row(n, b)) * o)
            .sum();
        assert!(
            (saved..=saved + 8).contains(&(int8.len() - packed.len())),
            "seed {seed}"
        );
        let (a, b) = (
            Model::from_bytes(&int8).unwrap(),
            Model::from_bytes(&packed).unwrap(),
        );
        let (_, desc) = blob::decode(&packed).unwrap();
        let stored: Vec<(u8, usize)> = desc
            .layers
            .iter()
            .filter_map(|l| match l {
                LayerDesc::Conv2d(c) => Some((c.weight_bits, c.weights.len())),
                LayerDesc::Dense(d) => Some((d.weight_bits, d.weights.len())),
                _ => None,
            })
            .collect();
        let expected: Vec<(u8, usize)> = rows
            .iter()
            .zip(bits)
            .map(|(&(n, o), b)| (b, blob_row(n, b) * o))
            .collect();
        assert_eq!(stored, expected);
        let mut arena = vec![0u8; a.arena_bytes().max(b.arena_bytes())];
        let mut rng = Lcg(seed * 77);
        let mut distinct = std::collections::HashSet::new();
        for _ in 0..200 {
            let img: Vec<u8> = (0..100).map(|_| rng.next_u32() as u8).collect();
            let want = a.predict(&img, &mut arena).unwrap();
            let got = b.predict(&img, &mut arena).unwrap();
            assert_eq!(got.logits(), want.logits(), "seed {seed}");
            let mut whole = vec![0u8; b.observed_arena_bytes()];
            let seen = b.predict_with(&img, &mut whole, |_, _, _| {}).unwrap();
            assert_eq!(seen.logits(), want.logits(), "seed {seed}: whole maps");
            distinct.insert(want.logits().to_vec());
        }
        // The inputs exercise the layers: the logits differ from image to image.
        assert!(
            distinct.len() > 50,
            "seed {seed}: {} distinct",
            distinct.len()
        );
    }
}

fn blob_row(n: usize, bits: u8) -> usize {
    (n * bits as usize).div_ceil(8)
}

#[test]
fn a_weight_the_precision_cannot_hold_is_refused() {
    // 5 is not a 2-bit weight (−3, −1, 1, 3).
    let mut rng = Lcg(9);
    let dense = |weights: Vec<i8>, bits: u8| Dense {
        in_features: 4,
        out_features: 10,
        relu: false,
        output: DenseOutput::Logits,
        weight_bits: bits,
        params: Params {
            weights,
            bias: vec![0; 10],
            requant: requant(&mut Lcg(3), 10, 0),
        },
    };
    let mut w: Vec<i8> = (0..40).map(|_| [-3, -1, 1, 3][rng.range(0, 3)]).collect();
    let build = |d: Dense| {
        ModelBuilder::new(2, 2, 1)
            .logit_scale(0.1)
            .flatten()
            .dense(d)
            .build()
    };
    assert!(build(dense(w.clone(), 2)).is_ok());
    w[17] = 5;
    assert_eq!(
        build(dense(w.clone(), 2)),
        Err(BlobError::WeightNotRepresentable {
            layer: 1,
            bits: 2,
            value: 5
        })
    );
    assert_eq!(
        build(dense(w, 3)),
        Err(BlobError::BadWeightBits { layer: 1, bits: 3 })
    );
}

#[test]
fn a_depthwise_convolution_must_be_int8() {
    let conv = |bits: u8| Conv {
        kernel: (3, 3),
        in_channels: 1,
        out_channels: 1,
        padding: Padding::Same,
        relu: true,
        pool: Pool::None,
        output_zero_point: -128,
        weight_bits: bits,
        params: Params {
            weights: vec![1; 9],
            bias: vec![0],
            requant: requant(&mut Lcg(1), 1, -4),
        },
    };
    let build = |bits: u8| {
        let dense = Dense {
            in_features: 16,
            out_features: 10,
            relu: false,
            output: DenseOutput::Logits,
            weight_bits: 8,
            params: Params {
                weights: vec![1; 160],
                bias: vec![0; 10],
                requant: requant(&mut Lcg(2), 10, 0),
            },
        };
        ModelBuilder::new(4, 4, 1)
            .logit_scale(0.1)
            .depthwise_conv2d(conv(bits))
            .flatten()
            .dense(dense)
            .build()
    };
    assert!(build(8).is_ok());
    assert_eq!(
        build(4),
        Err(BlobError::BadWeightBits { layer: 0, bits: 4 })
    );
}

#[test]
fn a_blob_declaring_other_bits_is_refused_at_load() {
    let good = model(7, [4, 2, 4, 2], [4, 2, 4, 2]);
    let (_, mut desc) = blob::decode(&good).unwrap();
    let mut set_bits = |bits: u8| {
        let Some(LayerDesc::Dense(last)) = desc.layers.last_mut() else {
            unreachable!()
        };
        last.weight_bits = bits;
        desc.clone()
    };
    let mut out = vec![0u8; good.len() + 64];
    assert_eq!(
        blob::encode(&set_bits(1), &mut out),
        Err(BlobError::BadWeightBits { layer: 4, bits: 1 })
    );
    // 8 bits would need four times the bytes the layer stores.
    let desc = set_bits(8);
    assert!(matches!(
        blob::encode(&desc, &mut out),
        Err(BlobError::ArrayLength { layer: 4, .. })
    ));
}
