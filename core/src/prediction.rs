//! [`Prediction`]: the integer logits (the parity contract between host and firmware), the
//! winning class, and softmax probabilities computed with `micromath` so every target agrees.

use crate::MAX_CLASSES;

/// The result of one inference: the integer logits (what host and firmware must agree on bit
/// for bit), the winning class, and calibrated probabilities.
///
/// ```
/// use sumi_core::{Model, models};
///
/// let model = Model::from_bytes(models::DEFAULT)?;
/// let mut arena = vec![0u8; model.arena_bytes()];
/// let p = model.predict(&[0u8; 784], &mut arena)?;
/// assert_eq!(p.logits().len(), 10);
/// // The class is the largest logit (the first one on ties) and the most probable class.
/// let top = p.logits().iter().copied().max().unwrap();
/// assert_eq!(p.logits()[usize::from(p.class())], top);
/// assert!((p.probabilities().iter().sum::<f32>() - 1.0).abs() < 1e-4);
/// assert_eq!(p.confidence(), p.probabilities()[usize::from(p.class())]);
/// # Ok::<(), Box<dyn core::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    /// The winning class (first one on ties).
    class: u8,
    /// Integer logits; only the first `classes` entries are used.
    logits: [i32; MAX_CLASSES],
    /// Number of classes.
    classes: u8,
    /// Real value of one logit unit.
    logit_scale: f32,
    /// Softmax temperature from the blob's calibration (1 = uncalibrated).
    temperature: f32,
}

impl Prediction {
    pub(crate) fn new(
        logits: [i32; MAX_CLASSES],
        classes: usize,
        logit_scale: f32,
        temperature: f32,
    ) -> Prediction {
        let mut class = 0;
        for (i, &l) in logits[..classes].iter().enumerate() {
            if l > logits[class] {
                class = i;
            }
        }
        Prediction {
            class: class as u8,
            logits,
            classes: classes as u8,
            logit_scale,
            temperature,
        }
    }

    /// The winning class: the index of the largest logit, the first one on ties (for an MNIST
    /// model, the digit).
    ///
    /// ```
    /// use sumi_core::{Model, models};
    /// let model = Model::from_bytes(models::DEFAULT)?;
    /// let mut arena = vec![0u8; model.arena_bytes()];
    /// let digit = model.predict(&[0u8; 784], &mut arena)?.class();
    /// assert!(usize::from(digit) < model.classes());
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    pub fn class(&self) -> u8 {
        self.class
    }

    /// The integer logits of the model's classes.
    ///
    /// ```
    /// use sumi_core::{Model, models};
    /// let model = Model::from_bytes(models::DEFAULT)?;
    /// let mut arena = vec![0u8; model.arena_bytes()];
    /// let p = model.predict(&[0u8; 784], &mut arena)?;
    /// assert_eq!(p.logits().len(), model.classes());
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    pub fn logits(&self) -> &[i32] {
        &self.logits[..self.classes as usize]
    }

    /// The real value of one logit unit (the model's output scale).
    ///
    /// ```
    /// use sumi_core::{Model, models};
    /// let model = Model::from_bytes(models::DEFAULT)?;
    /// let mut arena = vec![0u8; model.arena_bytes()];
    /// let p = model.predict(&[0u8; 784], &mut arena)?;
    /// assert!(p.logit_scale() > 0.0 && p.logit_scale().is_finite());
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    pub fn logit_scale(&self) -> f32 {
        self.logit_scale
    }

    /// Calibrated probabilities: softmax of `logit · logit_scale / temperature`, with
    /// `micromath`'s `exp` (called explicitly, so host and firmware agree). Entries past
    /// `classes` are 0.
    ///
    /// ```
    /// use sumi_core::{Model, models};
    /// let model = Model::from_bytes(models::DEFAULT)?;
    /// let mut arena = vec![0u8; model.arena_bytes()];
    /// let p = model.predict(&[0u8; 784], &mut arena)?;
    /// assert_eq!(p.probabilities(), p.probabilities_at(model.temperature()));
    /// assert!(p.probabilities()[model.classes()..].iter().all(|&q| q == 0.0));
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    pub fn probabilities(&self) -> [f32; MAX_CLASSES] {
        self.probabilities_at(self.temperature)
    }

    /// Softmax of `logit · logit_scale / temperature` for any `temperature` (1: the raw,
    /// uncalibrated probabilities; the trainer fits the blob's temperature with this). A
    /// non-finite or non-positive temperature is treated as 1.
    ///
    /// ```
    /// use sumi_core::{Model, models};
    /// let model = Model::from_bytes(models::DEFAULT)?;
    /// let mut arena = vec![0u8; model.arena_bytes()];
    /// let p = model.predict(&[0u8; 784], &mut arena)?;
    /// let (raw, hot) = (p.probabilities_at(1.0), p.probabilities_at(10.0));
    /// let c = usize::from(p.class());
    /// assert!(hot[c] <= raw[c]); // a higher temperature is less confident
    /// assert_eq!(p.probabilities_at(f32::NAN), raw);
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    pub fn probabilities_at(&self, temperature: f32) -> [f32; MAX_CLASSES] {
        let t = if temperature.is_finite() && temperature > 0.0 {
            temperature
        } else {
            1.0
        };
        let scale = self.logit_scale / t;
        let n = self.classes as usize;
        let mut p = [0f32; MAX_CLASSES];
        let max = self.logits[self.class as usize];
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
    ///
    /// ```
    /// use sumi_core::{Model, models};
    /// let model = Model::from_bytes(models::DEFAULT)?;
    /// let mut arena = vec![0u8; model.arena_bytes()];
    /// let p = model.predict(&[0u8; 784], &mut arena)?;
    /// assert!(p.confidence() >= 1.0 / model.classes() as f32);
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    pub fn confidence(&self) -> f32 {
        self.probabilities()[self.class as usize]
    }
}
