//! The result panel (`ui/result-panel.slint`): prediction, confidence and probability bars.
#![forbid(unsafe_code)]

use slint::{ComponentHandle, ModelRc, SharedString, VecModel};

use crate::state::State;
use crate::{AppWindow, BarData, Ui};

/// Below this probability of the top digit the result says "not sure: a or b?".
pub const SURE: f32 = 0.75;

/// A probability as a percentage with one decimal ("99.8%").
pub(crate) fn percent(p: f32) -> String {
    format!("{:.1}%", p * 100.0)
}

/// The predicted digit, its confidence, the runner-up and one bar per digit; all empty for an
/// empty canvas.
pub(crate) fn render(w: &AppWindow, st: &State) {
    let ui = w.global::<Ui>();
    let bars: Vec<BarData> = match &st.analysis {
        Some(a) => {
            let digit = usize::from(a.prediction.class());
            let p = a.probabilities[digit];
            let (first, second) = a.top2();
            let other = if first == digit { second } else { first };
            ui.set_has_prediction(true);
            ui.set_predicted_digit(SharedString::from(digit.to_string()));
            ui.set_confidence(percent(p).into());
            ui.set_runner_up(other.to_string().into());
            ui.set_unsure(p < SURE);
            (0..10)
                .map(|d| BarData {
                    digit: d.to_string().into(),
                    value: a.probabilities[d],
                    label: percent(a.probabilities[d]).into(),
                    top: d == digit,
                })
                .collect()
        }
        None => {
            ui.set_has_prediction(false);
            ui.set_predicted_digit(SharedString::new());
            ui.set_confidence(SharedString::new());
            ui.set_runner_up(SharedString::new());
            ui.set_unsure(false);
            (0..10)
                .map(|d| BarData {
                    digit: d.to_string().into(),
                    value: 0.0,
                    label: SharedString::new(),
                    top: false,
                })
                .collect()
        }
    };
    ui.set_bars(ModelRc::new(VecModel::from(bars)));
}
