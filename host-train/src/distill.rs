//! Knowledge distillation (`sumi-train train --distill-from MODEL.sumi`): a small student learns
//! from a bundled int8 teacher's logits as well as from the labels.
//!
//! The teacher is a `sumi-core` blob run by the core itself on every augmented training batch
//! (integer-only, so its soft targets are exactly reproducible and a resumed run ends
//! bit-identical). The loss is Hinton et al.'s: `(1 − α) · CE(student, labels) + α · T² ·
//! CE(softmax(teacher / T), softmax(student / T))`, with the teacher's float logits
//! (`logit · logit_scale`, before any calibration temperature). Every run of every preset
//! selects on the same validation images ([`crate::data::SPLIT_SEED`]), which the bundled
//! teachers were never trained on, so distilling from them leaks nothing into model selection.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use sumi_core::{MNIST_CLASSES, Model};

/// The distillation part of a training recipe.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Distill {
    /// The teacher blob (`--distill-from`).
    pub teacher: PathBuf,
    /// Weight α of the teacher's term (`--distill-weight`, in (0, 1]).
    pub weight: f32,
    /// Softmax temperature T of both sides of the teacher's term (`--distill-temp`, > 0).
    pub temperature: f32,
}

impl Distill {
    /// Checks the weights and reads the teacher blob, which must load as a digit classifier.
    pub fn load_teacher(&self) -> Result<Vec<u8>> {
        if !(self.weight > 0.0 && self.weight <= 1.0) {
            bail!("--distill-weight {}: must be in (0, 1]", self.weight);
        }
        if !(self.temperature.is_finite() && self.temperature > 0.0) {
            bail!(
                "--distill-temp {}: must be a number above 0",
                self.temperature
            );
        }
        read_teacher(&self.teacher)
    }
}

fn read_teacher(path: &Path) -> Result<Vec<u8>> {
    let blob = std::fs::read(path).with_context(|| {
        format!(
            "cannot read the teacher blob {} (--distill-from takes a .sumi file, e.g. \
             core/models/default.sumi)",
            path.display()
        )
    })?;
    let model = Model::from_bytes(&blob)
        .map_err(|e| anyhow!("teacher {} is not a usable blob: {e}", path.display()))?;
    model
        .check_digit_classifier()
        .map_err(|e| anyhow!("teacher {}: {e}", path.display()))?;
    Ok(blob)
}

/// Soft targets `[b, 10]`: `softmax(teacher logits / T)` of every image of a batch, the images
/// given as the trainer's floats in [0, 1] (rounded to the core's 0–255 pixels).
pub fn soft_targets(
    teacher: &Model<'_>,
    pixels: &[f32],
    temperature: f32,
    device: &Device,
) -> Result<Tensor<2>> {
    use rayon::prelude::*;
    let side = teacher.input_shape().len();
    let b = pixels.len() / side;
    let rows: Vec<[f32; MNIST_CLASSES]> = pixels
        .par_chunks_exact(side)
        .map_init(
            || (vec![0u8; teacher.observed_arena_bytes()], vec![0u8; side]),
            |(arena, input), image| {
                for (q, &p) in input.iter_mut().zip(image) {
                    *q = (p * 255.0).round().clamp(0.0, 255.0) as u8;
                }
                let prediction = teacher
                    .predict(input, arena)
                    .map_err(|e| anyhow!("the teacher failed on a training image: {e}"))?;
                // The core's own softmax of `logit · logit_scale / T`.
                let mut row = [0f32; MNIST_CLASSES];
                row.copy_from_slice(&prediction.probabilities_at(temperature)[..MNIST_CLASSES]);
                Ok(row)
            },
        )
        .collect::<Result<_>>()?;
    let soft: Vec<f32> = rows.concat();
    Ok(Tensor::from_data(
        TensorData::new(soft, [b, MNIST_CLASSES]),
        device,
    ))
}

/// The teacher's term, `T² · mean over the batch of CE(soft, softmax(student / T))`.
pub fn loss(student: Tensor<2>, soft: Tensor<2>, temperature: f32) -> Tensor<1> {
    let t = f64::from(temperature);
    let log_p = log_softmax(student.div_scalar(t), 1);
    (soft * log_p).sum_dim(1).mean().neg().mul_scalar(t * t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::Backend;

    fn device() -> Device {
        Backend::Flex.device()
    }

    fn scalar(t: Tensor<1>) -> f32 {
        t.into_scalar::<f32>()
    }

    #[test]
    fn loss_is_the_cross_entropy_to_the_soft_targets() {
        let d = device();
        let student = Tensor::<2>::from_data(
            TensorData::new(vec![1.0f32, 2.0, 0.5, -1.0, 0.0, 3.0], [2, 3]),
            &d,
        );
        let soft = Tensor::<2>::from_data(
            TensorData::new(vec![0.2f32, 0.7, 0.1, 0.05, 0.05, 0.9], [2, 3]),
            &d,
        );
        let t = 2.0f32;
        // By hand: T² · mean_i Σ_j −soft_ij · log softmax(s_i / T)_j.
        let rows = [[1.0f32, 2.0, 0.5], [-1.0, 0.0, 3.0]];
        let softs = [[0.2f32, 0.7, 0.1], [0.05, 0.05, 0.9]];
        let mut want = 0.0f32;
        for (s, p) in rows.iter().zip(&softs) {
            let z: Vec<f32> = s.iter().map(|v| v / t).collect();
            let lse = z.iter().map(|v| v.exp()).sum::<f32>().ln();
            want -= p.iter().zip(&z).map(|(p, z)| p * (z - lse)).sum::<f32>();
        }
        want = want / 2.0 * t * t;
        let got = scalar(loss(student, soft, t));
        assert!((got - want).abs() < 1e-5, "{got} vs {want}");
    }

    #[test]
    fn the_students_best_answer_is_the_teachers() {
        // The term is smallest when the student's tempered softmax equals the soft targets.
        let d = device();
        let t = 3.0f32;
        let teacher = [2.0f32, -1.0, 0.5];
        let soft: Vec<f32> = {
            let e: Vec<f32> = teacher.iter().map(|v| (v / t).exp()).collect();
            let s: f32 = e.iter().sum();
            e.iter().map(|v| v / s).collect()
        };
        let at = |logits: [f32; 3]| {
            scalar(loss(
                Tensor::from_data(TensorData::new(logits.to_vec(), [1, 3]), &d),
                Tensor::from_data(TensorData::new(soft.clone(), [1, 3]), &d),
                t,
            ))
        };
        let best = at(teacher);
        for other in [[2.0, -1.0, 1.5], [0.0, 0.0, 0.0], [5.0, -1.0, 0.5]] {
            assert!(at(other) > best + 1e-4, "{other:?}");
        }
    }

    #[test]
    fn soft_targets_are_the_teachers_tempered_softmax() {
        let d = device();
        let teacher = Model::from_bytes(sumi_core::models::DEFAULT).unwrap();
        // A blank image and a vertical stroke (a "1"), as the trainer's floats.
        let mut pixels = vec![0.0f32; 2 * 784];
        for y in 4..24 {
            pixels[784 + y * 28 + 14] = 1.0;
        }
        let rows = |t: f32| -> Vec<f32> {
            let soft = soft_targets(&teacher, &pixels, t, &d).unwrap();
            soft.into_data().try_to_vec::<f32>().unwrap()
        };
        let (cold, hot) = (rows(1.0), rows(4.0));
        let mut arena = vec![0u8; teacher.arena_bytes()];
        let mut one = [0u8; 784];
        for y in 4..24 {
            one[y * 28 + 14] = 255;
        }
        let p = teacher.predict(&one, &mut arena).unwrap();
        assert_eq!(&cold[10..], &p.probabilities_at(1.0)[..10]);
        for (c, h) in cold.chunks(10).zip(hot.chunks(10)) {
            assert!((c.iter().sum::<f32>() - 1.0).abs() < 1e-2);
            // A higher temperature flattens the teacher's answer.
            let top = |v: &[f32]| v.iter().copied().fold(0.0, f32::max);
            assert!(top(h) < top(c), "{h:?} vs {c:?}");
        }
    }

    #[test]
    fn a_bad_teacher_or_weight_is_a_clear_error() {
        let dir = std::env::temp_dir().join(format!("sumi-distill-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let junk = dir.join("junk.sumi");
        std::fs::write(&junk, b"not a blob").unwrap();
        let d = |teacher: PathBuf, weight| Distill {
            teacher,
            weight,
            temperature: 4.0,
        };
        let e = d(junk.clone(), 0.5).load_teacher().unwrap_err().to_string();
        assert!(e.contains("is not a usable blob"), "{e}");
        let e = d(dir.join("missing.sumi"), 0.5).load_teacher().unwrap_err();
        assert!(
            format!("{e:#}").contains("cannot read the teacher blob"),
            "{e:#}"
        );
        let e = d(junk, 1.5).load_teacher().unwrap_err().to_string();
        assert!(e.contains("must be in (0, 1]"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
