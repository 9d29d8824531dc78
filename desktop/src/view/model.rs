//! The model panel (`ui/model-panel.slint`) and the dialog shown when a model fails to load.
#![forbid(unsafe_code)]

use slint::{ComponentHandle, ModelRc, SharedString, VecModel};

use crate::i18n::group_digits;
use crate::model::ModelSource;
use crate::state::State;
use crate::{AppWindow, Ui};

/// The model choices: the bundled models, fixed at build time, so set once with the window.
pub(crate) fn init(w: &AppWindow) {
    let choices: Vec<SharedString> = sumi_core::models::BUNDLED
        .iter()
        .map(|b| b.name.into())
        .collect();
    w.global::<Ui>()
        .set_model_choices(ModelRc::new(VecModel::from(choices)));
}

/// The chosen model (none while a `--model` file is in use), the model's facts and the time of
/// the last inference.
pub(crate) fn render(w: &AppWindow, st: &State) {
    let ui = w.global::<Ui>();
    let choice = match st.model_info.as_ref().map(|i| &i.source) {
        Some(ModelSource::Bundled(name)) => sumi_core::models::BUNDLED
            .iter()
            .position(|b| b.name == *name),
        _ => None,
    };
    ui.set_model_choice(choice.map_or(-1, |c| c as i32));
    // "" is shown as "n/a" (translated in the .slint file).
    let acc = |a: Option<f32>| a.map_or(String::new(), |a| format!("{:.2}%", a * 100.0));
    match &st.model_info {
        Some(info) => {
            ui.set_model_name(info.name.as_str().into());
            ui.set_model_params(group_digits(u64::from(info.params)).into());
            ui.set_model_size(group_digits(info.blob_bytes as u64).into());
            ui.set_model_macs(group_digits(info.macs).into());
            ui.set_model_float_acc(acc(info.float_accuracy).into());
            ui.set_model_int8_acc(acc(info.int8_accuracy).into());
        }
        None => {
            for set in [
                Ui::set_model_name,
                Ui::set_model_params,
                Ui::set_model_size,
                Ui::set_model_macs,
                Ui::set_model_float_acc,
                Ui::set_model_int8_acc,
            ] {
                set(&ui, SharedString::new());
            }
        }
    }
    ui.set_last_time(
        st.last_inference
            .map_or("–".to_owned(), |t| {
                format!("{:.3} ms", t.as_secs_f64() * 1e3)
            })
            .into(),
    );
}

/// The error dialog's text: why a model could not be loaded, and the model kept.
pub(crate) fn render_error(w: &AppWindow, st: &State) {
    let ui = w.global::<Ui>();
    ui.set_error_text(st.error.as_deref().unwrap_or_default().into());
    let name = st.model_info.as_ref().map_or("", |i| i.name.as_str());
    ui.set_error_model(name.into());
}
