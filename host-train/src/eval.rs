//! `sumi-train eval`: int8 accuracy of a blob through `sumi-core` on the 10,000 test images,
//! per-class accuracy, confusion matrix (text and `confusion.png`), the worst mistakes
//! (`mistakes.png`), and optionally the float accuracy of a checkpoint.

use std::path::Path;

use anyhow::{Result, anyhow};
use serde_json::json;
use sumi_data::Split;

use crate::calibrate::{self, Scores};
use crate::metrics::Confusion;
use crate::plot;

/// Result of evaluating a blob on a split.
pub struct Evaluation {
    pub confusion: Confusion,
    /// (index, predicted, confidence) of every mistake.
    pub mistakes: Vec<(usize, u8, f32)>,
    pub images: usize,
    /// The blob's softmax temperature (1 for an uncalibrated version-1 blob).
    pub temperature: f32,
    /// NLL/ECE of the raw probabilities (temperature 1) and of the blob's calibrated ones.
    pub uncalibrated: Scores,
    pub calibrated: Scores,
}

/// Run every image of `split` through the core.
pub fn evaluate(model: &sumi_core::Model<'_>, split: &Split) -> Result<Evaluation> {
    let idx: Vec<usize> = (0..split.n).collect();
    let set = calibrate::score_set(model, split, &idx)?;
    let temperature = model.temperature();
    let mut confusion = Confusion::default();
    let mut mistakes = Vec::new();
    for (i, s) in set.iter().enumerate() {
        let (digit, conf) = (s.prediction.class(), s.prediction.confidence());
        let truth = s.label;
        confusion.add(truth, digit);
        if digit != truth {
            mistakes.push((i, digit, conf));
        }
    }
    mistakes.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)));
    Ok(Evaluation {
        confusion,
        mistakes,
        images: split.n,
        temperature,
        uncalibrated: calibrate::scores(&set, 1.0),
        calibrated: calibrate::scores(&set, temperature),
    })
}

impl Evaluation {
    pub fn accuracy(&self) -> f64 {
        self.confusion.accuracy()
    }

    /// The `--json` object.
    pub fn to_json(&self, model: &str, float_accuracy: Option<f64>) -> serde_json::Value {
        json!({
            "model": model,
            "images": self.images,
            "accuracy": self.accuracy(),
            "correct": self.confusion.correct(),
            "per_class": self.confusion.per_class().to_vec(),
            "confusion": self.confusion.m.iter().map(|r| r.to_vec()).collect::<Vec<_>>(),
            "not_a_digit": self.confusion.not_a_digit.iter().sum::<u32>(),
            "float_accuracy": float_accuracy,
            "calibration": {
                "temperature": self.temperature,
                "ece_bins": calibrate::ECE_BINS,
                "uncalibrated": self.uncalibrated,
                "calibrated": self.calibrated,
            },
            "worst_mistakes": self.mistakes.iter().take(10).map(|(i, p, c)| json!({
                "index": i, "predicted": p, "confidence": c
            })).collect::<Vec<_>>(),
        })
    }

    /// Write `confusion.png` and `mistakes.png` (worst `n` mistakes) into `dir`.
    pub fn write_figures(&self, dir: &Path, split: &Split, n: usize) -> Result<()> {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow!("cannot create output directory {}: {e}", dir.display()))?;
        plot::confusion(&dir.join("confusion.png"), &self.confusion)?;
        let items: Vec<plot::Mistake<'_>> = self
            .mistakes
            .iter()
            .take(n)
            .map(|&(i, pred, confidence)| plot::Mistake {
                pixels: split.image(i),
                truth: split.labels[i],
                pred,
                confidence,
            })
            .collect();
        plot::mistakes(&dir.join("mistakes.png"), &items)
    }
}
