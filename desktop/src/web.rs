//! The browser build's entry point (`wasm32-unknown-unknown`, built by `desktop/web/build.sh`):
//! the same window, `.slint` files, `sumi-core` and embedded 1,000 test images as the desktop
//! app, drawn by Slint into the page's `<canvas id="canvas">`. No threads and no files: the
//! full test set and `--model` are desktop-only.
//!
//! Each prediction is written into the page, so a test (or a person) can read it:
//! `<output id="sumi-prediction" data-digit="7" data-confidence="0.998" data-ms="0.41">` and the
//! document title. [`bench`] times predictions in the page.
#![allow(unsafe_code)] // wasm-bindgen's generated glue

use wasm_bindgen::prelude::*;

use crate::canvas::Canvas;
use crate::i18n::Lang;
use crate::model::LoadedModel;
use crate::state::{BRUSH_RADIUS, CANVAS_SIZE};
use crate::{App, FullTestSet, Options};

fn js_error(e: impl std::fmt::Display) -> JsValue {
    JsValue::from_str(&e.to_string())
}

/// Starts the app in the page (called by wasm-bindgen when the module is initialised).
#[wasm_bindgen(start)]
pub fn start() -> Result<(), JsValue> {
    let lang = web_sys::window()
        .and_then(|w| w.navigator().language())
        .filter(|l| l.to_ascii_lowercase().starts_with("ja"))
        .map_or(Lang::En, |_| Lang::Ja);
    let app = App::new(Options {
        lang,
        full_test_set: FullTestSet::Skip,
        ..Options::default()
    })
    .map_err(js_error)?;
    app.controller().set_observer(|a| {
        let Some(doc) = web_sys::window().and_then(|w| w.document()) else {
            return;
        };
        let digit = a.prediction.class();
        let ms = (a.preprocess_time + a.inference_time).as_secs_f64() * 1e3;
        if let Some(out) = doc.get_element_by_id("sumi-prediction") {
            let p = a.probabilities[usize::from(digit)];
            let _ = out.set_attribute("data-digit", &digit.to_string());
            let _ = out.set_attribute("data-confidence", &format!("{p:.4}"));
            let _ = out.set_attribute("data-ms", &format!("{ms:.3}"));
            out.set_text_content(Some(&format!("{digit} ({:.1} %)", p * 100.0)));
        }
        doc.set_title(&format!("Sumi: {digit}"));
    });
    // On the web the event loop returns control to the browser by throwing (winit's "exception
    // for control flow"); the app lives on in the page.
    app.run().map_err(js_error)
}

/// Times `rounds` updates as the app does them (a drawn 7 on the 336×336 canvas: preprocess,
/// inference and feature maps) with `performance.now()`; returns milliseconds per update.
#[wasm_bindgen]
pub fn bench(rounds: u32) -> Result<f64, JsValue> {
    let mut model = LoadedModel::embedded().map_err(js_error)?;
    let mut canvas = Canvas::new(CANVAS_SIZE, CANVAS_SIZE, BRUSH_RADIUS);
    canvas.stroke_through(&[(0.28, 0.22), (0.72, 0.22), (0.46, 0.84)]);
    let performance = web_sys::window()
        .and_then(|w| w.performance())
        .ok_or_else(|| js_error("no performance.now() in this page"))?;
    let rounds = rounds.max(1);
    let start = performance.now();
    for _ in 0..rounds {
        let a = model
            .analyse(canvas.pixels(), canvas.width(), canvas.height())
            .map_err(js_error)?;
        if a.prediction.class() != 7 {
            return Err(js_error(format!(
                "the benchmark's 7 was read as {}",
                a.prediction.class()
            )));
        }
    }
    Ok((performance.now() - start) / f64::from(rounds))
}
