//! Batching, the train/validation split and augmentation over `sumi_data::Mnist`.
//!
//! All randomness comes from [`Rng`] streams derived from `(seed, purpose, epoch, batch)`, so
//! any batch of any epoch can be regenerated exactly: this is what makes `--resume` give the
//! same weights as an uninterrupted run.

use burn::tensor::{Device, Int, Tensor, TensorData};
use sumi_core::preprocess::SIDE;
use sumi_data::rng::{Rng as _, SeedableRng as _, SplitMix64};
use sumi_data::{IMAGE_BYTES as PIXELS, Split};

/// Seed of the train/validation split. Fixed (independent of `--seed`) so that every run, of
/// every preset, selects models on the same validation images.
pub const SPLIT_SEED: u64 = 0x5000_0005_1D0A_7A5E;

/// Default number of training images held out for validation.
pub const DEFAULT_VAL_SIZE: usize = 5_000;

/// SplitMix64 ([`sumi_data::rng`]): small, fast, good enough for shuffling and augmentation,
/// and trivially derivable from a tuple of integers.
#[derive(Clone, Debug)]
pub struct Rng(SplitMix64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(SplitMix64::seed_from_u64(seed))
    }

    /// A stream determined by `parts` (e.g. `[seed, PURPOSE, epoch, batch]`): the state is
    /// XORed with each part in turn and replaced by the generator's next output.
    pub fn derive(parts: &[u64]) -> Rng {
        let state = parts.iter().fold(0x243F_6A88_85A3_08D3, |state, &p| {
            SplitMix64::seed_from_u64(state ^ p).next_u64()
        });
        Rng::new(state)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in [-a, a).
    pub fn sym(&mut self, a: f32) -> f32 {
        (self.unit() * 2.0 - 1.0) * a
    }

    /// Uniform integer in [0, n).
    pub fn below(&mut self, n: usize) -> usize {
        (((self.next_u64() >> 11) as u128 * n as u128) >> 53) as usize
    }

    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

/// Purposes mixed into derived RNG streams.
pub mod purpose {
    pub const SHUFFLE: u64 = 1;
    pub const AUGMENT: u64 = 2;
    pub const DROPOUT: u64 = 3;
    pub const INIT: u64 = 4;
}

/// Indices of the training and validation images within the 60k training split.
pub fn split_train_val(n: usize, val_size: usize) -> (Vec<usize>, Vec<usize>) {
    let mut idx: Vec<usize> = (0..n).collect();
    Rng::new(SPLIT_SEED).shuffle(&mut idx);
    let val_size = val_size.min(n / 2);
    let mut val = idx.split_off(n - val_size);
    let mut train = idx;
    train.sort_unstable();
    val.sort_unstable();
    (train, val)
}

/// Random-affine augmentation parameters.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct Augment {
    /// Maximum shift in pixels (each axis).
    pub shift: f32,
    /// Maximum rotation in degrees.
    pub rotate_deg: f32,
    /// Maximum relative scale change (0.1 = ±10 %).
    pub scale: f32,
}

impl Augment {
    pub const DEFAULT: Augment = Augment {
        shift: 2.0,
        rotate_deg: 10.0,
        scale: 0.10,
    };
    pub const NONE: Augment = Augment {
        shift: 0.0,
        rotate_deg: 0.0,
        scale: 0.0,
    };

    pub fn is_none(&self) -> bool {
        self.shift == 0.0 && self.rotate_deg == 0.0 && self.scale == 0.0
    }

    /// Write one augmented image (values in [0, 1]) into `out`.
    pub fn apply(&self, src: &[u8], rng: &mut Rng, out: &mut [f32]) {
        if self.is_none() {
            for (o, &p) in out.iter_mut().zip(src) {
                *o = f32::from(p) / 255.0;
            }
            return;
        }
        let angle = rng.sym(self.rotate_deg).to_radians();
        let scale = 1.0 + rng.sym(self.scale);
        let (dx, dy) = (rng.sym(self.shift), rng.sym(self.shift));
        // Inverse map: output pixel -> source position.
        let (s, c) = angle.sin_cos();
        let inv = 1.0 / scale;
        let centre = (SIDE - 1) as f32 / 2.0;
        for y in 0..SIDE {
            for x in 0..SIDE {
                let ox = x as f32 - centre - dx;
                let oy = y as f32 - centre - dy;
                let sx = (c * ox + s * oy) * inv + centre;
                let sy = (-s * ox + c * oy) * inv + centre;
                out[y * SIDE + x] = bilinear(src, sx, sy) / 255.0;
            }
        }
    }
}

fn bilinear(src: &[u8], x: f32, y: f32) -> f32 {
    let x0 = x.floor();
    let y0 = y.floor();
    let fx = x - x0;
    let fy = y - y0;
    let (x0, y0) = (x0 as i32, y0 as i32);
    let px = |xi: i32, yi: i32| -> f32 {
        let side = SIDE as i32;
        if (0..side).contains(&xi) && (0..side).contains(&yi) {
            f32::from(src[yi as usize * SIDE + xi as usize])
        } else {
            0.0
        }
    };
    let top = px(x0, y0) * (1.0 - fx) + px(x0 + 1, y0) * fx;
    let bot = px(x0, y0 + 1) * (1.0 - fx) + px(x0 + 1, y0 + 1) * fx;
    top * (1.0 - fy) + bot * fy
}

/// A batch ready for burn: images `[b, 1, 28, 28]` in [0, 1] and labels.
pub struct Batch {
    pub images: Tensor<4>,
    pub targets: Tensor<1, Int>,
    pub labels: Vec<u8>,
}

/// Build a batch from `indices` of `split`. With `aug`, each image is augmented with its own
/// stream derived from `rng_parts` and its position in the batch.
pub fn batch(
    split: &Split,
    indices: &[usize],
    aug: Option<(&Augment, &[u64])>,
    device: &Device,
) -> Batch {
    let b = indices.len();
    let mut pixels = vec![0f32; b * PIXELS];
    let mut labels = Vec::with_capacity(b);
    for (k, &i) in indices.iter().enumerate() {
        let src = &split.images[i * PIXELS..(i + 1) * PIXELS];
        let out = &mut pixels[k * PIXELS..(k + 1) * PIXELS];
        match aug {
            Some((a, parts)) => {
                let mut p = parts.to_vec();
                p.push(k as u64);
                a.apply(src, &mut Rng::derive(&p), out);
            }
            None => Augment::NONE.apply(src, &mut Rng::new(0), out),
        }
        labels.push(split.labels[i]);
    }
    let targets: Vec<i64> = labels.iter().map(|&l| i64::from(l)).collect();
    Batch {
        images: Tensor::from_data(TensorData::new(pixels, [b, 1, SIDE, SIDE]), device),
        targets: Tensor::from_data(TensorData::new(targets, [b]), device),
        labels,
    }
}

/// A dropout mask `[b, n]` with entries 0 or 1/keep.
pub fn dropout_mask(b: usize, n: usize, p: f64, rng: &mut Rng, device: &Device) -> Tensor<2> {
    let keep = 1.0 - p as f32;
    let v: Vec<f32> = (0..b * n)
        .map(|_| if rng.unit() < keep { 1.0 / keep } else { 0.0 })
        .collect();
    Tensor::from_data(TensorData::new(v, [b, n]), device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_is_disjoint_and_fixed() {
        let (t, v) = split_train_val(1000, 100);
        assert_eq!(t.len(), 900);
        assert_eq!(v.len(), 100);
        assert!(v.iter().all(|i| t.binary_search(i).is_err()));
        assert_eq!(split_train_val(1000, 100).1, v);
    }

    #[test]
    fn derived_streams_differ_and_repeat() {
        let a = Rng::derive(&[1, 2, 3]).next_u64();
        assert_eq!(a, Rng::derive(&[1, 2, 3]).next_u64());
        assert_ne!(a, Rng::derive(&[1, 2, 4]).next_u64());
        assert_ne!(a, Rng::derive(&[1, 3, 2]).next_u64());
    }

    #[test]
    fn identity_augment_keeps_pixels() {
        let src: Vec<u8> = (0..PIXELS).map(|i| (i % 251) as u8).collect();
        let mut out = vec![0f32; PIXELS];
        let a = Augment {
            shift: 0.0,
            rotate_deg: 0.0,
            scale: 1e-9,
        };
        a.apply(&src, &mut Rng::new(7), &mut out);
        for (o, &s) in out.iter().zip(&src) {
            assert!((o * 255.0 - f32::from(s)).abs() < 0.01);
        }
    }
}
