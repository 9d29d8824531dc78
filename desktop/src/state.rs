//! Application state and logic: what happens on each pointer event, button and key, and how
//! the state is shown through the `Ui` global of `ui/app.slint`.
//!
//! [`App`] owns the window and a [`Controller`]; the controller owns a [`State`] (canvas, model,
//! latest analysis, test samples, language, error) and re-renders the affected UI properties
//! after every change. Prediction while drawing is throttled ([`THROTTLE`]); releasing the
//! pointer always predicts at once.
#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::{Rc, Weak};
use std::sync::mpsc;
use std::time::Duration;

// `std::time::Instant` panics in a browser (wasm32-unknown-unknown); web-time's is std's
// elsewhere and `performance.now()` there.
use web_time::Instant;

use slint::{ComponentHandle, Image, ModelRc, SharedString, Timer, TimerMode, VecModel};

use crate::canvas::{Canvas, Point};
use crate::i18n::{Lang, group_digits};
use crate::model::{AnalyseError, Analysis, LoadedModel, ModelInfo, SIDE};
use crate::render;
use crate::samples::{Picker, SampleOrigin, SampleSet, full_set_location};
use crate::{AppWindow, BarData, Ui};

/// Side of the drawing buffer in pixels (12 × 28; the UI scales it to the panel).
pub const CANVAS_SIZE: usize = 336;
/// Brush radius in canvas pixels: about 2.5 MNIST pixels wide once a digit is scaled to 20×20.
pub const BRUSH_RADIUS: f32 = 13.0;
/// Minimum time between two predictions while drawing.
pub const THROTTLE: Duration = Duration::from_millis(30);
/// Below this probability of the top digit the result says "not sure: a or b?".
pub const SURE: f32 = 0.75;

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
    /// A model blob to load instead of the embedded default.
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

/// The app: the window plus its controller.
pub struct App {
    window: AppWindow,
    controller: Rc<Controller>,
}

impl App {
    /// Builds the window and shows the initial state (first random sample, empty canvas).
    pub fn new(options: Options) -> Result<App, slint::PlatformError> {
        let window = AppWindow::new()?;
        if options.kiosk {
            window.global::<Ui>().set_kiosk(true);
            window.window().set_fullscreen(true);
        }
        let controller = Controller::new(&window, &options);
        controller.connect(&window);
        Ok(App { window, controller })
    }

    /// The window (for tests and `run`).
    pub fn window(&self) -> &AppWindow {
        &self.window
    }

    /// The controller (for tests).
    pub fn controller(&self) -> &Rc<Controller> {
        &self.controller
    }

    /// Shows the window and runs the event loop until it is closed.
    pub fn run(&self) -> Result<(), slint::PlatformError> {
        self.window.run()
    }
}

/// The index, label and prediction of the sample on display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SampleView {
    index: usize,
    label: u8,
    predicted: Option<u8>,
}

/// Everything the UI shows, in data form (texts are made from it in the current language).
pub struct State {
    lang: Lang,
    canvas: Canvas,
    model: Option<LoadedModel>,
    model_info: Option<ModelInfo>,
    analysis: Option<Analysis>,
    last_inference: Option<Duration>,
    last_analysed: Option<Instant>,
    feature_layer: usize,
    samples: SampleSet,
    sample: Option<SampleView>,
    no_mistake: bool,
    picker: Picker,
    error: Option<String>,
    /// Why the full test set (`--data-dir`, `MNIST_DIR` or the cache) could not be loaded:
    /// shown in the window next to the embedded images used instead.
    samples_error: Option<String>,
    pending_samples: Option<mpsc::Receiver<Result<SampleSet, String>>>,
    trace: bool,
}

impl State {
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

/// A function called with each new analysis ([`Controller::set_observer`]).
type Observer = Box<dyn Fn(&Analysis)>;

/// Reacts to UI callbacks and keeps the UI in sync with the [`State`].
pub struct Controller {
    window: slint::Weak<AppWindow>,
    me: Weak<Controller>,
    state: RefCell<State>,
    throttle: Timer,
    poll: Timer,
    /// Fires after `idle_reset` without input: back to the empty canvas.
    idle: Timer,
    idle_reset: Option<Duration>,
    /// Called with each new analysis (the browser page shows the prediction in its DOM).
    observer: RefCell<Option<Observer>>,
}

impl Controller {
    fn new(window: &AppWindow, options: &Options) -> Rc<Controller> {
        let mut error = None;
        let mut model = match LoadedModel::embedded() {
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
        let state = State {
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
        };
        Rc::new_cyclic(|me| Controller {
            window: window.as_weak(),
            me: me.clone(),
            state: RefCell::new(state),
            throttle: Timer::default(),
            poll: Timer::default(),
            idle: Timer::default(),
            idle_reset: options.idle_reset,
            observer: RefCell::new(None),
        })
    }

    fn connect(self: &Rc<Self>, window: &AppWindow) {
        let ui = window.global::<Ui>();
        let c = self.clone();
        ui.on_pointer_down(move |x, y| c.pointer_down(x, y));
        let c = self.clone();
        ui.on_pointer_move(move |x, y| c.pointer_move(x, y));
        let c = self.clone();
        ui.on_pointer_up(move || c.pointer_up());
        let c = self.clone();
        ui.on_clear(move || c.clear());
        let c = self.clone();
        ui.on_undo(move || c.undo());
        let c = self.clone();
        ui.on_toggle_language(move || c.toggle_language());
        let c = self.clone();
        ui.on_select_layer(move |i| c.select_layer(i));
        let c = self.clone();
        ui.on_select_tab(move |i| c.select_tab(i));
        let c = self.clone();
        ui.on_next_random(move || c.next_random());
        let c = self.clone();
        ui.on_next_mistake(move || c.next_mistake());

        if self.state.borrow().pending_samples.is_some() {
            let me = self.me.clone();
            self.poll
                .start(TimerMode::Repeated, Duration::from_millis(200), move || {
                    if let Some(c) = me.upgrade() {
                        c.poll_full_set();
                    }
                });
        }
        self.next_random();
        self.render_all();
        if self.state.borrow().error.is_some() {
            window.global::<Ui>().set_error_visible(true);
        }
    }

    /// Read access to the state (for tests).
    pub fn state(&self) -> std::cell::Ref<'_, State> {
        self.state.borrow()
    }

    fn with_ui(&self, f: impl FnOnce(&AppWindow, &State)) {
        if let Some(window) = self.window.upgrade() {
            f(&window, &self.state.borrow());
        }
    }

    // ---- drawing -------------------------------------------------------------------------

    /// Pointer pressed at (x, y) in 0..1 canvas coordinates.
    pub fn pointer_down(&self, x: f32, y: f32) {
        self.active();
        let p = self.to_canvas(x, y);
        self.state.borrow_mut().canvas.begin_stroke(p);
        self.with_ui(render_canvas);
        self.analyse_throttled();
    }

    /// Pointer moved (while pressed) to (x, y) in 0..1 canvas coordinates.
    pub fn pointer_move(&self, x: f32, y: f32) {
        self.active();
        let p = self.to_canvas(x, y);
        if self.state.borrow_mut().canvas.extend_stroke(p).is_some() {
            self.with_ui(render_canvas);
            self.analyse_throttled();
        }
    }

    /// Pointer released: the stroke ends and the prediction is brought up to date at once.
    pub fn pointer_up(&self) {
        self.active();
        let was_drawing = {
            let mut st = self.state.borrow_mut();
            let d = st.canvas.is_drawing();
            st.canvas.end_stroke();
            d
        };
        if was_drawing {
            self.analyse_now();
        }
    }

    /// Erases the canvas: back to the "draw a digit" state.
    pub fn clear(&self) {
        self.active();
        self.erase();
    }

    fn erase(&self) {
        self.throttle.stop();
        {
            let mut st = self.state.borrow_mut();
            st.canvas.clear();
            st.analysis = None;
        }
        self.with_ui(|w, st| {
            render_canvas(w, st);
            render_result(w, st);
            render_network(w, st);
        });
    }

    /// Removes the last stroke.
    pub fn undo(&self) {
        self.active();
        if self.state.borrow_mut().canvas.undo() {
            self.with_ui(render_canvas);
            self.analyse_now();
        }
    }

    /// Input happened: the idle reset starts counting again.
    fn active(&self) {
        if let Some(after) = self.idle_reset {
            let me = self.me.clone();
            self.idle.start(TimerMode::SingleShot, after, move || {
                if let Some(c) = me.upgrade() {
                    c.idle_timeout();
                }
            });
        }
    }

    /// Nobody touched the app for `idle_reset`: back to the empty canvas, as at start-up.
    fn idle_timeout(&self) {
        if self.state.borrow().canvas.is_empty() {
            return;
        }
        if self.state.borrow().trace {
            eprintln!("sumi: idle, back to the empty canvas");
        }
        self.erase();
    }

    /// Calls `f` with every new analysis (not for an empty canvas).
    pub fn set_observer(&self, f: impl Fn(&Analysis) + 'static) {
        *self.observer.borrow_mut() = Some(Box::new(f));
    }

    fn to_canvas(&self, x: f32, y: f32) -> Point {
        let st = self.state.borrow();
        Point {
            x: x * st.canvas.width() as f32,
            y: y * st.canvas.height() as f32,
        }
    }

    fn analyse_throttled(&self) {
        let since = self.state.borrow().last_analysed.map(|t| t.elapsed());
        match since {
            Some(since) if since < THROTTLE => {
                if !self.throttle.running() {
                    let me = self.me.clone();
                    self.throttle
                        .start(TimerMode::SingleShot, THROTTLE - since, move || {
                            if let Some(c) = me.upgrade() {
                                c.analyse_now();
                            }
                        });
                }
            }
            _ => self.analyse_now(),
        }
    }

    /// Preprocesses and classifies the canvas now, and shows the result.
    pub fn analyse_now(&self) {
        self.throttle.stop();
        {
            let mut st = self.state.borrow_mut();
            let st = &mut *st;
            st.last_analysed = Some(Instant::now());
            st.analysis = match (&mut st.model, st.canvas.is_empty()) {
                (Some(model), false) => {
                    let (w, h) = (st.canvas.width(), st.canvas.height());
                    match model.analyse(st.canvas.pixels(), w, h) {
                        Ok(a) => Some(a),
                        Err(AnalyseError::Preprocess(_)) => None,
                        Err(e) => {
                            eprintln!("sumi: inference failed: {e}");
                            None
                        }
                    }
                }
                _ => None,
            };
            if let Some(a) = &st.analysis {
                st.last_inference = Some(a.inference_time);
                if st.trace {
                    let d = a.prediction.digit;
                    eprintln!(
                        "sumi: prediction {d} ({:.1}%) in {:.3} ms + {:.3} ms preprocessing",
                        a.probabilities[usize::from(d)] * 100.0,
                        a.inference_time.as_secs_f64() * 1e3,
                        a.preprocess_time.as_secs_f64() * 1e3
                    );
                }
            }
        }
        self.with_ui(|w, st| {
            render_result(w, st);
            render_network(w, st);
            render_model(w, st);
        });
        if let (Some(observe), Some(a)) = (&*self.observer.borrow(), &self.state.borrow().analysis)
        {
            observe(a);
        }
    }

    /// Shows the feature maps of the `i`-th captured layer.
    pub fn select_layer(&self, i: i32) {
        self.active();
        self.state.borrow_mut().feature_layer = usize::try_from(i).unwrap_or(0);
        self.with_ui(render_network);
    }

    /// Shows the `i`-th tab of a compact layout's tabbed panel.
    pub fn select_tab(&self, i: i32) {
        self.active();
        self.with_ui(|w, _| w.global::<Ui>().set_side_tab(i));
    }

    // ---- language ------------------------------------------------------------------------

    /// Switches between English and Japanese.
    pub fn toggle_language(&self) {
        self.active();
        {
            let mut st = self.state.borrow_mut();
            st.lang = st.lang.other();
        }
        select_language(self.state.borrow().lang);
    }

    // ---- test samples --------------------------------------------------------------------

    /// Shows another random test image.
    pub fn next_random(&self) {
        self.active();
        {
            let mut st = self.state.borrow_mut();
            let st = &mut *st;
            let current = st.sample.map(|s| s.index);
            if let Some(i) = st.picker.pick(st.samples.len(), current) {
                show_sample(st, i);
            }
            st.no_mistake = false;
        }
        self.with_ui(render_sample);
    }

    /// Jumps to the next test image the model misclassifies.
    pub fn next_mistake(&self) {
        self.active();
        {
            let mut st = self.state.borrow_mut();
            let st = &mut *st;
            let current = st.sample.map(|s| s.index);
            let found = match &mut st.model {
                Some(model) => st
                    .samples
                    .find_mistake(current, |img| model.classify(img).ok().map(|p| p.digit)),
                None => None,
            };
            st.no_mistake = found.is_none();
            if let Some((i, _)) = found {
                show_sample(st, i);
            }
        }
        self.with_ui(render_sample);
    }

    fn poll_full_set(&self) {
        let received = {
            let st = self.state.borrow();
            match &st.pending_samples {
                Some(rx) => match rx.try_recv() {
                    Ok(result) => Some(result),
                    Err(mpsc::TryRecvError::Empty) => None,
                    Err(mpsc::TryRecvError::Disconnected) => {
                        Some(Err("the thread loading it stopped unexpectedly".to_owned()))
                    }
                },
                None => return,
            }
        };
        let Some(result) = received else { return };
        self.poll.stop();
        {
            let mut st = self.state.borrow_mut();
            st.pending_samples = None;
            match result {
                Ok(set) => {
                    // The embedded images are the first ones of the full set: the index stays
                    // valid.
                    st.samples = set;
                    if let Some(i) = st.sample.map(|s| s.index) {
                        show_sample(&mut st, i);
                    }
                }
                Err(e) => st.samples_error = Some(e),
            }
        }
        self.with_ui(render_sample);
    }

    // ---- model ---------------------------------------------------------------------------

    /// Loads another model blob. On failure the error dialog shows the core's message and the
    /// current model stays in use.
    pub fn load_model_file(&self, path: &Path) -> Result<(), String> {
        let result = LoadedModel::from_file(path);
        let outcome = {
            let mut st = self.state.borrow_mut();
            match result {
                Ok(model) => {
                    st.model_info = Some(model.info());
                    st.model = Some(model);
                    st.feature_layer = 0;
                    st.error = None;
                    if let Some(i) = st.sample.map(|s| s.index) {
                        show_sample(&mut st, i);
                    }
                    Ok(())
                }
                Err(e) => {
                    st.error = Some(e.to_string());
                    Err(e.to_string())
                }
            }
        };
        if outcome.is_ok() {
            self.with_ui(render_sample);
            self.analyse_now();
        }
        self.with_ui(|w, st| {
            render_model(w, st);
            render_error(w, st);
            w.global::<Ui>().set_error_visible(st.error.is_some());
        });
        outcome
    }

    fn render_all(&self) {
        self.with_ui(|w, st| {
            select_language(st.lang);
            render_canvas(w, st);
            render_result(w, st);
            render_network(w, st);
            render_sample(w, st);
            render_model(w, st);
            render_error(w, st);
        });
    }
}

/// In a browser there is no full test set ([`full_set_location`] finds none there).
#[cfg(target_arch = "wasm32")]
fn load_full(_arg: Option<PathBuf>, _shown: PathBuf) -> Result<SampleSet, String> {
    Err("no files in a browser".to_owned())
}

/// Loads the full test set; the error (also printed to stderr) is shown in the window.
#[cfg(not(target_arch = "wasm32"))]
fn load_full(arg: Option<PathBuf>, shown: PathBuf) -> Result<SampleSet, String> {
    SampleSet::full(arg.as_deref(), shown).map_err(|e| {
        eprintln!(
            "sumi: using the embedded test images; the full MNIST test set could not be loaded: {e}"
        );
        e.to_string()
    })
}

fn show_sample(st: &mut State, i: usize) {
    let Some((image, label)) = st.samples.get(i) else {
        return;
    };
    let predicted = st
        .model
        .as_mut()
        .and_then(|m| m.classify(image).ok())
        .map(|p| p.digit);
    st.sample = Some(SampleView {
        index: i,
        label,
        predicted,
    });
}

// ---- rendering: state -> UI properties ---------------------------------------------------

/// Selects the bundled translation of `lang` (the `.slint` files' `@tr` texts follow it).
fn select_language(lang: Lang) {
    if let Err(e) = lang.select() {
        eprintln!("sumi: could not select the language {lang}: {e}");
    }
}

fn render_canvas(w: &AppWindow, st: &State) {
    let ui = w.global::<Ui>();
    let c = &st.canvas;
    ui.set_canvas_image(Image::from_rgba8(render::ink_mask(
        c.pixels(),
        c.width(),
        c.height(),
    )));
    ui.set_canvas_empty(c.is_empty());
    ui.set_stroke_count(i32::try_from(c.stroke_count()).unwrap_or(i32::MAX));
}

fn percent(p: f32) -> String {
    format!("{:.1}%", p * 100.0)
}

fn render_result(w: &AppWindow, st: &State) {
    let ui = w.global::<Ui>();
    let bars: Vec<BarData> = match &st.analysis {
        Some(a) => {
            let digit = usize::from(a.prediction.digit);
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

fn render_network(w: &AppWindow, st: &State) {
    let ui = w.global::<Ui>();
    let blank = [0u8; SIDE * SIDE];
    let input = st.analysis.as_ref().map_or(&blank, |a| &a.input);
    ui.set_input_image(Image::from_rgb8(render::grey(input, SIDE, SIDE)));

    let layers = st.model.as_ref().map_or(&[][..], |m| m.feature_layers());
    let tabs: Vec<SharedString> = layers
        .iter()
        .map(|(i, _)| (i + 1).to_string().into())
        .collect();
    ui.set_layer_tabs(ModelRc::new(VecModel::from(tabs)));
    let selected = st.feature_layer.min(layers.len().saturating_sub(1));
    ui.set_feature_layer(i32::try_from(selected).unwrap_or(0));

    let map = st.analysis.as_ref().and_then(|a| a.features.get(selected));
    match map {
        Some(m) => {
            ui.set_feature_image(Image::from_rgb8(render::feature_grid(m)));
            ui.set_has_feature_map(true);
            ui.set_feature_layer_number((m.layer + 1).to_string().into());
            ui.set_feature_kind(m.kind.as_str().into());
            ui.set_feature_shape(format!("{} × {}×{}", m.shape.c, m.shape.h, m.shape.w).into());
        }
        None => {
            ui.set_feature_image(Image::default());
            ui.set_has_feature_map(false);
            let (number, kind) = layers
                .get(selected)
                .map_or((String::new(), ""), |(i, kind)| {
                    ((i + 1).to_string(), kind.as_str())
                });
            ui.set_feature_layer_number(number.into());
            ui.set_feature_kind(kind.into());
            ui.set_feature_shape(SharedString::new());
        }
    }
}

fn render_sample(w: &AppWindow, st: &State) {
    let ui = w.global::<Ui>();
    ui.set_sample_count(group_digits(st.samples.len() as u64).into());
    let (origin, path, error) = match (st.samples.origin(), &st.samples_error) {
        (SampleOrigin::Full(dir), _) => (1, dir.display().to_string(), String::new()),
        (SampleOrigin::Embedded, Some(e)) => (2, String::new(), e.clone()),
        (SampleOrigin::Embedded, None) => (0, String::new(), String::new()),
    };
    ui.set_sample_origin(origin);
    ui.set_sample_path(path.into());
    ui.set_sample_error(error.into());
    ui.set_no_mistake(st.no_mistake);
    let Some(view) = st.sample else {
        ui.set_has_sample(false);
        return;
    };
    let image = st.samples.get(view.index).map_or(&[][..], |(img, _)| img);
    if image.len() == SIDE * SIDE {
        ui.set_sample_image(Image::from_rgb8(render::grey(image, SIDE, SIDE)));
    }
    ui.set_sample_shown(true);
    ui.set_has_sample(view.predicted.is_some());
    ui.set_sample_label(view.label.to_string().into());
    let predicted = view.predicted.map_or("?".to_owned(), |d| d.to_string());
    ui.set_sample_predicted(predicted.into());
    ui.set_sample_correct(view.predicted == Some(view.label));
    ui.set_sample_number(group_digits(view.index as u64 + 1).into());
}

fn render_model(w: &AppWindow, st: &State) {
    let ui = w.global::<Ui>();
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

fn render_error(w: &AppWindow, st: &State) {
    let ui = w.global::<Ui>();
    ui.set_error_text(st.error.as_deref().unwrap_or_default().into());
    let name = st.model_info.as_ref().map_or("", |i| i.name.as_str());
    ui.set_error_model(name.into());
}
