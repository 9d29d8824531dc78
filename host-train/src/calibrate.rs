//! Honest confidence: temperature scaling of the int8 model's probabilities.
//!
//! The temperature `T` is fitted on the **validation** split (never the test set) by minimising
//! the negative log-likelihood of the blob's own integer logits, `softmax(logit · scale / T)`,
//! the probabilities `sumi_core::Prediction::probabilities` computes. It is stored in the blob
//! (format version 2, `core/FORMAT.md`); it never changes a predicted digit.
//!
//! Scores: NLL (mean `−ln p(true class)`, computed in f64 as `logsumexp(z) − z_true`, so it is
//! exact even where a probability underflows f32) and ECE (expected calibration error: the
//! confidences of the core's `probabilities_at(T)` in [`ECE_BINS`] equal-width bins, the
//! image-weighted mean of |accuracy − mean confidence|).

use anyhow::{Result, anyhow};
use serde::Serialize;
use sumi_core::Prediction;
use sumi_core::blob::TEMPERATURE_RANGE;
use sumi_data::Split;

/// Equal-width confidence bins of the expected calibration error.
pub const ECE_BINS: usize = 15;

/// One prediction's integer logits and the true label.
pub struct Scored {
    pub prediction: Prediction,
    pub label: u8,
}

/// NLL, ECE and accuracy of a set of predictions at one temperature.
#[derive(Clone, Copy, Debug, Serialize, PartialEq)]
pub struct Scores {
    pub nll: f64,
    pub ece: f64,
    pub accuracy: f64,
    /// Mean confidence (probability of the predicted digit).
    pub mean_confidence: f64,
}

/// What [`fit`] found: the temperature and the scores before (T = 1) and after.
#[derive(Clone, Copy, Debug, Serialize, PartialEq)]
pub struct Fit {
    pub temperature: f32,
    pub images: usize,
    pub before: Scores,
    pub after: Scores,
}

impl std::fmt::Display for Fit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "temperature {:.4} fitted on {} validation images: NLL {:.4} -> {:.4}, ECE {:.4} -> {:.4}",
            self.temperature,
            self.images,
            self.before.nll,
            self.after.nll,
            self.before.ece,
            self.after.ece
        )
    }
}

/// The core's predictions for `indices` of `split`, with their labels.
pub fn score_set(
    model: &sumi_core::Model<'_>,
    split: &Split,
    indices: &[usize],
) -> Result<Vec<Scored>> {
    let preds = crate::quantize::predictions(model, split, indices)?;
    Ok(preds
        .into_iter()
        .zip(indices)
        .map(|(prediction, &i)| Scored {
            prediction,
            label: split.labels[i],
        })
        .collect())
}

/// Mean NLL at inverse temperature `beta` (f64 log-softmax of `logit · scale · beta`).
fn nll(set: &[Scored], beta: f64) -> f64 {
    let sum: f64 = set
        .iter()
        .map(|s| {
            let p = &s.prediction;
            let k = f64::from(p.logit_scale()) * beta;
            let z: Vec<f64> = p.logits().iter().map(|&l| f64::from(l) * k).collect();
            let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let lse = max + z.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
            // A label outside the model's classes has probability 0.
            z.get(usize::from(s.label))
                .map_or(f64::INFINITY, |zt| lse - zt)
        })
        .sum();
    sum / set.len().max(1) as f64
}

/// NLL, ECE, accuracy and mean confidence at `temperature`.
pub fn scores(set: &[Scored], temperature: f32) -> Scores {
    let mut bins = [(0usize, 0f64, 0usize); ECE_BINS]; // (count, confidence sum, correct)
    for s in set {
        let p = &s.prediction;
        let conf = f64::from(p.probabilities_at(temperature)[usize::from(p.class())]);
        let b = ((conf * ECE_BINS as f64) as usize).min(ECE_BINS - 1);
        bins[b].0 += 1;
        bins[b].1 += conf;
        bins[b].2 += usize::from(p.class() == s.label);
    }
    let n = set.len().max(1) as f64;
    let ece = bins
        .iter()
        .filter(|b| b.0 > 0)
        .map(|&(_, conf, ok)| (ok as f64 - conf).abs() / n)
        .sum();
    Scores {
        nll: nll(set, 1.0 / f64::from(temperature)),
        ece,
        accuracy: bins.iter().map(|b| b.2).sum::<usize>() as f64 / n,
        mean_confidence: bins.iter().map(|b| b.1).sum::<f64>() / n,
    }
}

/// Fit the temperature minimising the NLL of `set` (validation images). NLL is convex in
/// `beta = 1/T`, so a golden-section search over `beta` in the accepted range finds it.
pub fn fit(set: &[Scored]) -> Result<Fit> {
    if set.is_empty() {
        return Err(anyhow!("no validation images to fit the temperature on"));
    }
    let (t_lo, t_hi) = (
        f64::from(*TEMPERATURE_RANGE.start()),
        f64::from(*TEMPERATURE_RANGE.end()),
    );
    let (mut a, mut b) = (1.0 / t_hi, 1.0 / t_lo);
    let g = (5f64.sqrt() - 1.0) / 2.0;
    let (mut c, mut d) = (b - g * (b - a), a + g * (b - a));
    let (mut fc, mut fd) = (nll(set, c), nll(set, d));
    for _ in 0..80 {
        if fc < fd {
            (b, d, fd) = (d, c, fc);
            c = b - g * (b - a);
            fc = nll(set, c);
        } else {
            (a, c, fc) = (c, d, fd);
            d = a + g * (b - a);
            fd = nll(set, d);
        }
    }
    let temperature =
        ((2.0 / (a + b)) as f32).clamp(*TEMPERATURE_RANGE.start(), *TEMPERATURE_RANGE.end());
    Ok(Fit {
        temperature,
        images: set.len(),
        before: scores(set, 1.0),
        after: scores(set, temperature),
    })
}

/// The validation size a blob's recipe names (`"| val N of 60k train"`), if any.
pub fn recipe_val_size(recipe: &str) -> Option<usize> {
    let rest = &recipe[recipe.find("| val ")? + 6..];
    let n: String = rest.chars().take_while(char::is_ascii_digit).collect();
    rest[n.len()..]
        .starts_with(" of 60k train")
        .then(|| n.parse().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A synthetic two-class-ish set whose logits are 4× too confident: the fit must find a
    /// temperature near 4 and improve both NLL and ECE.
    fn overconfident_set() -> (Vec<u8>, Vec<Scored>) {
        // A 1×1×2 → 10 model: logits ≈ 1000 · (x0 − x1) on class 0, so the margin follows
        // the input. Build it through sumi-core's builder.
        use sumi_core::Requant;
        use sumi_core::blob::DenseOutput;
        use sumi_core::builder::{Dense, ModelBuilder, Params};
        let mut weights = vec![0i8; 20];
        weights[0] = 100; // class 0 += x0
        weights[1] = -100; // class 0 -= x1
        let out = ModelBuilder::new(1, 1, 2)
            .input_zero_point(0)
            .name("t")
            .logit_scale(0.002)
            .dense(Dense {
                in_features: 2,
                out_features: 10,
                relu: false,
                output: DenseOutput::Logits,
                weight_bits: 8,
                params: Params {
                    weights,
                    bias: vec![0; 10],
                    requant: vec![
                        Requant {
                            multiplier: 1 << 30,
                            shift: 0
                        };
                        10
                    ],
                },
            })
            .build()
            .unwrap();
        let model = sumi_core::Model::from_bytes(&out).unwrap();
        let mut arena = vec![0u8; model.arena_bytes()];
        let mut set = Vec::new();
        let mut rng = 12345u64;
        for _ in 0..4000 {
            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1);
            let x0 = ((rng >> 33) % 120) as u8;
            let p = model.predict(&[x0, 0], &mut arena).unwrap();
            // The true class is 0 with probability 1/(1 + 9·e^(−z/4)): the model is 4× too sure.
            let z = f64::from(p.logits()[0]) * 0.002 / 4.0;
            let p0 = 1.0 / (1.0 + 9.0 * (-z).exp());
            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1);
            let u = (rng >> 11) as f64 / (1u64 << 53) as f64;
            let label = if u < p0 {
                0
            } else {
                1 + ((rng >> 40) % 9) as u8
            };
            set.push(Scored {
                prediction: p,
                label,
            });
        }
        (out.clone(), set)
    }

    #[test]
    fn fit_finds_the_temperature_of_an_overconfident_model_and_lowers_nll_and_ece() {
        let (_, set) = overconfident_set();
        let f = fit(&set).unwrap();
        assert!((3.0..5.5).contains(&f.temperature), "{f:?}");
        assert!(f.after.nll < f.before.nll, "{f:?}");
        assert!(f.after.ece < f.before.ece, "{f:?}");
        assert_eq!(
            f.after.accuracy, f.before.accuracy,
            "T never changes a digit"
        );
    }

    #[test]
    fn ece_of_a_perfectly_calibrated_constant_is_zero_and_nll_matches() {
        let (_, set) = overconfident_set();
        let s = scores(&set[..1], 1.0);
        let conf = f64::from(set[0].prediction.confidence());
        let ok = f64::from(u8::from(set[0].prediction.class() == set[0].label));
        assert!((s.ece - (ok - conf).abs()).abs() < 1e-9);
        assert!(fit(&[]).is_err());
    }

    #[test]
    fn recipe_names_the_validation_size() {
        assert_eq!(
            recipe_val_size("sumi-train train ... | val 5000 of 60k train | trained 1s"),
            Some(5000)
        );
        assert_eq!(recipe_val_size("hand-made"), None);
    }
}
