//! The application state in data form: canvas, model, latest analysis, test samples, language
//! and errors, and how the app is started ([`Options`]). The views (`crate::view`) turn it into
//! UI properties; the controller (`crate::controller`) changes it.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

// `std::time::Instant` panics in a browser (wasm32-unknown-unknown); web-time's is std's
// elsewhere and `performance.now()` there.
use web_time::Instant;

use crate::canvas::Canvas;
use crate::i18n::Lang;
use crate::model::{Analysis, LoadedModel, ModelInfo};
use crate::samples::{Picker, SampleSet, full_set_location};

/// Side of the drawing buffer in pixels (12 × 28; the UI scales it to the panel).
pub const CANVAS_SIZE: usize = 336;
/// Brush radius in canvas pixels: about 2.5 MNIST pixels wide once a digit is scaled to 20×20.
pub const BRUSH_RADIUS: f32 = 13.0;

/// Whether and how the full MNIST test set is looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FullTestSet {
    /// Load it in a background thread if available (the app).
    #[default]
    Background,
    /// Load it before the window is built if available (tests).
    Blocking,
    /// Use only the embedded subset.
    Skip,
}

/// How to start the app.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// UI language.
    pub lang: Lang,
    /// The bundled model to start with (None: `default`).
    pub bundled: Option<sumi_core::models::Bundled>,
    /// A model blob to load instead of the bundled one.
    pub model: Option<PathBuf>,
    /// `--data-dir` for the MNIST test set.
    pub data_dir: Option<PathBuf>,
    /// Whether to look for the full test set.
    pub full_test_set: FullTestSet,
    /// Seed for "Next random" (default: the clock).
    pub seed: Option<u64>,
    /// Print each prediction to stderr (`SUMI_TRACE=1`; used by the smoke test).
    pub trace: bool,
    /// Kiosk mode (`--kiosk`): full screen, no window frame, finger-sized buttons and tabs.
    pub kiosk: bool,
    /// Back to the empty canvas after this long without input (`--kiosk-idle SECS`; None: never).
    pub idle_reset: Option<Duration>,
}

/// The index, label and prediction of the sample on display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SampleView {
    pub(crate) index: usize,
    pub(crate) label: u8,
    pub(crate) predicted: Option<u8>,
}

/// Everything the UI shows, in data form (texts are made from it in the current language).
pub struct State {
    pub(crate) lang: Lang,
    pub(crate) canvas: Canvas,
    pub(crate) model: Option<LoadedModel>,
    pub(crate) model_info: Option<ModelInfo>,
    pub(crate) analysis: Option<Analysis>,
    pub(crate) last_inference: Option<Duration>,
    pub(crate) last_analysed: Option<Instant>,
    pub(crate) feature_layer: usize,
    pub(crate) samples: SampleSet,
    pub(crate) sample: Option<SampleView>,
    pub(crate) no_mistake: bool,
    pub(crate) picker: Picker,
    pub(crate) error: Option<String>,
    /// Why the full test set (`--data-dir`, `MNIST_DIR` or the cache) could not be loaded:
    /// shown in the window next to the embedded images used instead.
    pub(crate) samples_error: Option<String>,
    pub(crate) pending_samples: Option<mpsc::Receiver<Result<SampleSet, String>>>,
    pub(crate) trace: bool,
}

impl State {
    /// The state at start-up: the bundled model (or `options.model`), the embedded test images,
    /// and the full test set loaded now, in a background thread, or not at all
    /// ([`Options::full_test_set`]). Errors are kept for the window to show.
    pub(crate) fn new(options: &Options) -> State {
        let mut error = None;
        let bundled = options.bundled.unwrap_or(sumi_core::models::BUNDLED[0]);
        let mut model = match LoadedModel::bundled(bundled) {
            Ok(m) => Some(m),
            Err(e) => {
                error = Some(e.to_string());
                None
            }
        };
        if let Some(path) = &options.model {
            match LoadedModel::from_file(path) {
                Ok(m) => model = Some(m),
                Err(e) => error = Some(e.to_string()),
            }
        }
        let samples = SampleSet::embedded().expect("the embedded MNIST subset is valid (tested)");
        let location = match options.full_test_set {
            FullTestSet::Skip => None,
            _ => full_set_location(options.data_dir.as_deref()),
        };
        let mut samples_error = None;
        let (samples, pending_samples) = match (options.full_test_set, location) {
            (FullTestSet::Blocking, Some((arg, shown))) => match load_full(arg, shown) {
                Ok(set) => (set, None),
                Err(e) => {
                    samples_error = Some(e);
                    (samples, None)
                }
            },
            (FullTestSet::Background, Some((arg, shown))) => {
                let (tx, rx) = mpsc::channel();
                std::thread::spawn(move || {
                    let _ = tx.send(load_full(arg, shown));
                });
                (samples, Some(rx))
            }
            _ => (samples, None),
        };
        State {
            lang: options.lang,
            canvas: Canvas::new(CANVAS_SIZE, CANVAS_SIZE, BRUSH_RADIUS),
            model_info: model.as_ref().map(LoadedModel::info),
            model,
            analysis: None,
            last_inference: None,
            last_analysed: None,
            feature_layer: 0,
            samples,
            sample: None,
            no_mistake: false,
            picker: options.seed.map_or_else(Picker::from_time, Picker::new),
            error,
            samples_error,
            pending_samples,
            trace: options.trace,
        }
    }

    /// The drawing canvas.
    pub fn canvas(&self) -> &Canvas {
        &self.canvas
    }
    /// The latest analysis (None: empty canvas).
    pub fn analysis(&self) -> Option<&Analysis> {
        self.analysis.as_ref()
    }
    /// Facts about the model in use (None: no valid model at all).
    pub fn model_info(&self) -> Option<&ModelInfo> {
        self.model_info.as_ref()
    }
    /// The test-sample source.
    pub fn samples(&self) -> &SampleSet {
        &self.samples
    }
    /// Index of the sample on display.
    pub fn sample_index(&self) -> Option<usize> {
        self.sample.map(|s| s.index)
    }
    /// Why the full test set could not be loaded (None: loaded, pending or not asked for).
    pub fn samples_error(&self) -> Option<&str> {
        self.samples_error.as_deref()
    }
}

/// In a browser there is no full test set ([`full_set_location`] finds none there).
#[cfg(target_arch = "wasm32")]
pub(crate) fn load_full(_arg: Option<PathBuf>, _shown: PathBuf) -> Result<SampleSet, String> {
    Err("no files in a browser".to_owned())
}

/// Loads the full test set; the error (also printed to stderr) is shown in the window.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn load_full(arg: Option<PathBuf>, shown: PathBuf) -> Result<SampleSet, String> {
    SampleSet::full(arg.as_deref(), shown).map_err(|e| {
        eprintln!(
            "sumi: using the embedded test images; the full MNIST test set could not be loaded: {e}"
        );
        e.to_string()
    })
}

/// Puts test image `i` on display, classified by the current model.
pub(crate) fn show_sample(st: &mut State, i: usize) {
    let Some((image, label)) = st.samples.get(i) else {
        return;
    };
    let predicted = st
        .model
        .as_mut()
        .and_then(|m| m.classify(image).ok())
        .map(|p| p.class());
    st.sample = Some(SampleView {
        index: i,
        label,
        predicted,
    });
}
