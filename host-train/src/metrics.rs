//! Per-epoch metrics, `metrics.csv`, and accuracy/confusion bookkeeping.

use std::path::Path;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use sumi_data::write_atomic;

/// One epoch's summary.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct EpochMetrics {
    /// 1-based epoch number.
    pub epoch: usize,
    pub lr: f64,
    pub train_loss: f64,
    pub train_acc: f64,
    pub val_loss: f64,
    pub val_acc: f64,
    pub seconds: f64,
    pub images_per_s: f64,
}

impl EpochMetrics {
    pub const CSV_HEADER: &'static str =
        "epoch,lr,train_loss,train_acc,val_loss,val_acc,seconds,images_per_s";

    pub fn csv_row(&self) -> String {
        format!(
            "{},{:.6e},{:.6},{:.6},{:.6},{:.6},{:.2},{:.1}",
            self.epoch,
            self.lr,
            self.train_loss,
            self.train_acc,
            self.val_loss,
            self.val_acc,
            self.seconds,
            self.images_per_s
        )
    }

    /// The human summary line printed after each epoch.
    pub fn summary(&self, epochs: usize) -> String {
        format!(
            "epoch {:>2}/{epochs}  lr {:.2e}  train loss {:.4} acc {:.2}%  val loss {:.4} acc {:.2}%  {:.0}s  {:.0} img/s",
            self.epoch,
            self.lr,
            self.train_loss,
            100.0 * self.train_acc,
            self.val_loss,
            100.0 * self.val_acc,
            self.seconds,
            self.images_per_s
        )
    }
}

/// Write the whole history as CSV (atomically).
pub fn write_csv(path: &Path, history: &[EpochMetrics]) -> Result<()> {
    let mut s = String::from(EpochMetrics::CSV_HEADER);
    s.push('\n');
    for m in history {
        s.push_str(&m.csv_row());
        s.push('\n');
    }
    Ok(write_atomic(path, s.as_bytes())?)
}

/// Confusion matrix: `m[true][predicted]`, plus the answers that are not a digit 0–9.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Confusion {
    pub m: [[u32; 10]; 10],
    /// Per true digit: predictions outside 0–9 (always wrong, never folded into a digit).
    pub not_a_digit: [u32; 10],
    /// Samples whose true label itself is outside 0–9 (counted, and counted wrong).
    pub bad_label: u32,
}

impl Confusion {
    pub fn add(&mut self, truth: u8, pred: u8) {
        let (t, p) = (usize::from(truth), usize::from(pred));
        match (self.m.get_mut(t), self.not_a_digit.get_mut(t)) {
            (Some(row), Some(other)) => match row.get_mut(p) {
                Some(cell) => *cell += 1,
                None => *other += 1,
            },
            _ => self.bad_label += 1,
        }
    }

    pub fn total(&self) -> u32 {
        self.m.iter().flatten().sum::<u32>() + self.not_a_digit.iter().sum::<u32>() + self.bad_label
    }

    pub fn correct(&self) -> u32 {
        (0..10).map(|i| self.m[i][i]).sum()
    }

    pub fn accuracy(&self) -> f64 {
        f64::from(self.correct()) / f64::from(self.total().max(1))
    }

    /// Accuracy of each true class.
    pub fn per_class(&self) -> [f64; 10] {
        let mut out = [0.0; 10];
        for (c, o) in out.iter_mut().enumerate() {
            let n: u32 = self.m[c].iter().sum::<u32>() + self.not_a_digit[c];
            *o = f64::from(self.m[c][c]) / f64::from(n.max(1));
        }
        out
    }

    /// A fixed-width text table (rows = truth, columns = prediction).
    pub fn table(&self) -> String {
        let mut s = String::from("true\\pred");
        for p in 0..10 {
            s.push_str(&format!("{p:>6}"));
        }
        s.push_str("   acc %\n");
        let pc = self.per_class();
        for (t, (row, acc)) in self.m.iter().zip(pc).enumerate() {
            s.push_str(&format!("{t:>9}"));
            for v in row {
                s.push_str(&format!("{v:>6}"));
            }
            s.push_str(&format!("  {:>6.2}\n", 100.0 * acc));
        }
        s
    }
}

/// Index of the largest value (first on ties).
pub fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confusion_counts() {
        let mut c = Confusion::default();
        c.add(1, 1);
        c.add(1, 7);
        c.add(3, 3);
        assert_eq!(c.total(), 3);
        assert_eq!(c.correct(), 2);
        assert!((c.per_class()[1] - 0.5).abs() < 1e-12);
        assert!(c.table().lines().count() == 11);
    }

    /// Issue 15 case 1: an answer of 12 for a true 2 is a mistake, never folded into "2".
    #[test]
    fn answers_outside_0_to_9_are_counted_wrong_not_folded() {
        let mut c = Confusion::default();
        c.add(2, 12);
        c.add(2, 2);
        c.add(12, 2);
        assert_eq!(c.total(), 3);
        assert_eq!(c.correct(), 1);
        assert_eq!(c.m[2][2], 1);
        assert_eq!(c.not_a_digit[2], 1);
        assert_eq!(c.bad_label, 1);
        assert!((c.per_class()[2] - 0.5).abs() < 1e-12);
        assert!((c.accuracy() - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn argmax_first_max() {
        assert_eq!(argmax(&[0.0, 2.0, 2.0, -1.0]), 1);
    }
}
