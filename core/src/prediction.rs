//! [`Prediction`]: the integer logits (the parity contract between host and firmware), the
//! winning class, and softmax probabilities computed with `micromath` so every target agrees.

use crate::MAX_CLASSES;

/// The result of one inference.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    /// The winning class (first one on ties).
    pub digit: u8,
    /// Integer logits; only the first `classes` entries are used.
    pub logits: [i32; MAX_CLASSES],
    /// Number of classes.
    pub classes: u8,
    /// Real value of one logit unit.
    pub logit_scale: f32,
    /// Softmax temperature from the blob's calibration (1 = uncalibrated).
    pub temperature: f32,
}

impl Prediction {
    pub(crate) fn new(
        logits: [i32; MAX_CLASSES],
        classes: usize,
        logit_scale: f32,
        temperature: f32,
    ) -> Prediction {
        let mut digit = 0;
        for (i, &l) in logits[..classes].iter().enumerate() {
            if l > logits[digit] {
                digit = i;
            }
        }
        Prediction {
            digit: digit as u8,
            logits,
            classes: classes as u8,
            logit_scale,
            temperature,
        }
    }

    /// The logits of the model's classes.
    pub fn logits(&self) -> &[i32] {
        &self.logits[..self.classes as usize]
    }

    /// Calibrated probabilities: softmax of `logit · logit_scale / temperature`, with
    /// `micromath`'s `exp` (called explicitly, so host and firmware agree). Entries past
    /// `classes` are 0.
    pub fn probabilities(&self) -> [f32; MAX_CLASSES] {
        self.probabilities_at(self.temperature)
    }

    /// Softmax of `logit · logit_scale / temperature` for any `temperature` (1: the raw,
    /// uncalibrated probabilities; the trainer fits the blob's temperature with this). A
    /// non-finite or non-positive temperature is treated as 1.
    pub fn probabilities_at(&self, temperature: f32) -> [f32; MAX_CLASSES] {
        let t = if temperature.is_finite() && temperature > 0.0 {
            temperature
        } else {
            1.0
        };
        let scale = self.logit_scale / t;
        let n = self.classes as usize;
        let mut p = [0f32; MAX_CLASSES];
        let max = self.logits[self.digit as usize];
        let mut sum = 0f32;
        for (slot, &l) in p[..n].iter_mut().zip(&self.logits[..n]) {
            let x = (l as i64 - max as i64) as f32 * scale;
            // exp of very negative numbers underflows to 0; micromath is inaccurate below -80.
            let e = if x.is_nan() || x < -80.0 {
                0.0
            } else {
                micromath::F32Ext::exp(x)
            };
            *slot = e;
            sum += e;
        }
        if sum > 0.0 {
            for v in &mut p[..n] {
                *v /= sum;
            }
        }
        p
    }

    /// Calibrated probability of the predicted class.
    pub fn confidence(&self) -> f32 {
        self.probabilities()[self.digit as usize]
    }
}
