//! The views: one module per panel of `ui/app.slint`, each turning the [`State`] into that
//! panel's `Ui` properties (plain values; the `.slint` files compose the translated text).
//!
//! | module | panel |
//! |---|---|
//! | [`canvas`] | drawing canvas (`canvas-panel.slint`) |
//! | [`result`] | prediction and probabilities (`result-panel.slint`) |
//! | [`network`] | 28×28 input and feature maps (`network-panel.slint`) |
//! | [`sample`] | MNIST test image (`sample-panel.slint`) |
//! | [`model`] | model facts and the load-error dialog (`model-panel.slint`, `app.slint`) |
#![forbid(unsafe_code)]

pub mod canvas;
pub mod model;
pub mod network;
pub mod result;
pub mod sample;

use crate::AppWindow;
use crate::i18n::Lang;
use crate::state::State;

/// Selects the bundled translation of `lang` (the `.slint` files' `@tr` texts follow it).
pub(crate) fn select_language(lang: Lang) {
    if let Err(e) = lang.select() {
        eprintln!("sumi: could not select the language {lang}: {e}");
    }
}

/// Everything: the language and every panel.
pub(crate) fn render_all(w: &AppWindow, st: &State) {
    select_language(st.lang);
    canvas::render(w, st);
    result::render(w, st);
    network::render(w, st);
    sample::render(w, st);
    model::render(w, st);
    model::render_error(w, st);
}
