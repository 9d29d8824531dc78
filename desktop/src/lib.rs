//! # sumi-desktop
//!
//! The Sumi desktop app (`sumi`): draw a digit and watch the int8 CNN of `sumi-core` recognise
//! it live, see the 28×28 input and the first layers' feature maps, browse MNIST test images
//! and their predictions, and read the model's facts. English and Japanese UI.
//!
//! Layout, styling and text (`@tr`, translated from `lang/*/LC_MESSAGES/sumi-desktop.po`) are
//! in `ui/*.slint`; state and logic are in Rust:
//!
//! | module | concept |
//! |---|---|
//! | [`controller`] | [`App`] and [`Controller`]: the window, UI callbacks, throttled live prediction, background loading, idle reset |
//! | [`state`] | [`State`](state::State) in data form and the start-up [`Options`] |
//! | [`view`] | one module per panel rendering the state into the `Ui` global: [`view::canvas`], [`view::result`], [`view::network`], [`view::sample`], [`view::model`] |
//! | [`canvas`] | stroke rasterisation: round anti-aliased brush, interpolation, undo |
//! | [`model`] | the loaded model blob; one timed analysis (preprocess + inference + feature maps) |
//! | [`samples`] | MNIST test images: embedded subset, or the full set via `sumi-data` |
//! | [`render`] | pixel buffers for the UI (ink mask, 28×28 views, feature-map grids) |
//! | [`i18n`] | language choice (selects the bundled translation) and number formatting |
//! | [`cli`] | command-line options of the `sumi` binary |
//! | `web` | the browser build's entry point and page read-out (wasm32 only) |
//!
//! All inference and preprocessing is `sumi_core`'s (the code the firmware runs); all MNIST
//! loading is `sumi_data`'s.
// Every hand-written module is free of unsafe code; only the code Slint generates from the
// .slint files (module `ui`) contains `unsafe` (its item-tree vtables), so the crate denies
// unsafe code and that one module allows it.
#![deny(unsafe_code)]

pub mod canvas;
pub mod cli;
pub mod controller;
pub mod i18n;
pub mod model;
pub mod render;
pub mod samples;
pub mod state;
pub mod view;
/// The browser entry point (wasm32 only).
#[cfg(target_arch = "wasm32")]
pub mod web;

/// The Slint UI compiled from `ui/app.slint` (generated code).
#[allow(clippy::all, missing_docs, unsafe_code)]
mod ui {
    slint::include_modules!();
}

pub use controller::{App, Controller};
pub use state::{FullTestSet, Options};
pub use ui::{AppWindow, BarData, Theme, Ui};
