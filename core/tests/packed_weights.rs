//! Fully connected layers with 4- and 2-bit weights (format version 6): the same weights stored
//! packed give the same logits as stored int8, on the streamed plan and on whole maps, and the
//! blob is smaller by the packing.

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

fn requant(rng: &mut Lcg, n: usize, shift: i8) -> Vec<Requant> {
    (0..n)
        .map(|_| Requant {
            multiplier: (1 << 30) + (rng.next_u32() % (1 << 29)) as i32,
            shift,
        })
        .collect()
}

/// 9×9 input → conv 3×3 1→6 (ReLU, max-pool: 3×3×6 = 54) → flatten → dense 54→13 (ReLU, at
/// `hidden` bits) → dense 13→10 logits (at `logits` bits). Weights drawn from the levels of the
/// lower precision, so the int8 and packed builds hold the same values.
fn model(seed: u64, hidden: u8, logits: u8, stored: [u8; 2]) -> Vec<u8> {
    let mut rng = Lcg(seed);
    let pick = |n: usize, bits: u8, rng: &mut Lcg| -> Vec<i8> {
        let l = levels(bits);
        (0..n)
            .map(|_| l[rng.next_u32() as usize % l.len()])
            .collect()
    };
    let conv_w: Vec<i8> = (0..54).map(|_| rng.next_u32() as i8).collect();
    let conv = Conv {
        kernel: (3, 3),
        in_channels: 1,
        out_channels: 6,
        padding: Padding::Valid,
        relu: true,
        pool: Pool::Max2,
        output_zero_point: -128,
        params: Params {
            weights: conv_w,
            bias: (0..6).map(|o| o * 300 - 900).collect(),
            requant: requant(&mut rng, 6, -7),
        },
    };
    let w1 = pick(54 * 13, hidden, &mut rng);
    let w2 = pick(13 * 10, logits, &mut rng);
    let dense1 = Dense {
        in_features: 54,
        out_features: 13,
        relu: true,
        output: DenseOutput::Int8 { zero_point: -128 },
        weight_bits: stored[0],
        params: Params {
            weights: w1,
            bias: (0..13).map(|o| o * 97 - 500).collect(),
            requant: requant(&mut rng, 13, -4),
        },
    };
    let dense2 = Dense {
        in_features: 13,
        out_features: 10,
        relu: false,
        output: DenseOutput::Logits,
        weight_bits: stored[1],
        params: Params {
            weights: w2,
            bias: (0..10).map(|o| o * 31).collect(),
            requant: requant(&mut rng, 10, 0),
        },
    };
    ModelBuilder::new(9, 9, 1)
        .name("packed")
        .logit_scale(0.01)
        .conv2d(conv)
        .flatten()
        .dense(dense1)
        .dense(dense2)
        .build()
        .unwrap()
}

#[test]
fn packed_weights_give_the_logits_of_the_same_int8_weights() {
    for (seed, hidden, logits) in [(1, 4, 2), (2, 2, 4), (3, 4, 4), (4, 2, 2), (5, 8, 2)] {
        let int8 = model(seed, hidden, logits, [8, 8]);
        let packed = model(seed, hidden, logits, [hidden, logits]);
        // Smaller by the packing, give or take the varint length prefixes of the arrays.
        let saved = 54 * 13 - blob_row(54, hidden) * 13 + 13 * 10 - blob_row(13, logits) * 10;
        assert!(
            (saved..=saved + 4).contains(&(int8.len() - packed.len())),
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
                LayerDesc::Dense(d) => Some((d.weight_bits, d.weights.len())),
                _ => None,
            })
            .collect();
        assert_eq!(
            stored,
            [
                (hidden, blob_row(54, hidden) * 13),
                (logits, blob_row(13, logits) * 10)
            ]
        );
        let mut arena = vec![0u8; a.arena_bytes().max(b.arena_bytes())];
        let mut rng = Lcg(seed * 77);
        let mut distinct = std::collections::HashSet::new();
        for _ in 0..200 {
            let img: Vec<u8> = (0..81).map(|_| rng.next_u32() as u8).collect();
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
            distinct.len() > 150,
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
fn a_blob_declaring_other_bits_is_refused_at_load() {
    let good = model(7, 4, 2, [4, 2]);
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
        Err(BlobError::BadWeightBits { layer: 3, bits: 1 })
    );
    // 8 bits would need four times the bytes the layer stores.
    let desc = set_bits(8);
    assert!(matches!(
        blob::encode(&desc, &mut out),
        Err(BlobError::ArrayLength { layer: 3, .. })
    ));
}
