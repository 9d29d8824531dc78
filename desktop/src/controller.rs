//! The controller: builds the window, wires the `Ui` callbacks of `ui/app.slint` to the
//! [`State`], and after every change has the views (`crate::view`) re-render what changed.
//! Prediction while drawing is throttled ([`THROTTLE`]), releasing the pointer predicts at once;
//! the full MNIST test set arrives from a background thread (polled), and a kiosk's idle timer
//! goes back to the empty canvas.
#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::path::Path;
use std::rc::{Rc, Weak};
use std::sync::mpsc;
use std::time::Duration;

use web_time::Instant;

use slint::{ComponentHandle, Timer, TimerMode};

use crate::canvas::Point;
use crate::model::{AnalyseError, Analysis, LoadedModel, ModelError, ModelSource};
use crate::state::{self, Options, State};
use crate::view;
use crate::{AppWindow, Ui};

/// Minimum time between two predictions while drawing.
pub const THROTTLE: Duration = Duration::from_millis(30);

/// The app: the window plus its controller.
pub struct App {
    window: AppWindow,
    controller: Rc<Controller>,
}

impl App {
    /// Builds the window and shows the initial state (first random sample, empty canvas).
    pub fn new(options: Options) -> Result<App, slint::PlatformError> {
        let window = AppWindow::new()?;
        view::model::init(&window);
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
        let state = State::new(options);
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
        let c = self.clone();
        ui.on_select_model(move |i| c.select_model(i));

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
        self.with_ui(view::canvas::render);
        self.analyse_throttled();
    }

    /// Pointer moved (while pressed) to (x, y) in 0..1 canvas coordinates.
    pub fn pointer_move(&self, x: f32, y: f32) {
        self.active();
        let p = self.to_canvas(x, y);
        if self.state.borrow_mut().canvas.extend_stroke(p) {
            self.with_ui(view::canvas::render);
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
            view::canvas::render(w, st);
            view::result::render(w, st);
            view::network::render(w, st);
        });
    }

    /// Removes the last stroke.
    pub fn undo(&self) {
        self.active();
        if self.state.borrow_mut().canvas.undo() {
            self.with_ui(view::canvas::render);
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
                    let d = a.prediction.class();
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
            view::result::render(w, st);
            view::network::render(w, st);
            view::model::render(w, st);
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
        self.with_ui(view::network::render);
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
        view::select_language(self.state.borrow().lang);
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
                state::show_sample(st, i);
            }
            st.no_mistake = false;
        }
        self.with_ui(view::sample::render);
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
                    .find_mistake(current, |img| model.classify(img).ok().map(|p| p.class())),
                None => None,
            };
            st.no_mistake = found.is_none();
            if let Some((i, _)) = found {
                state::show_sample(st, i);
            }
        }
        self.with_ui(view::sample::render);
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
                        state::show_sample(&mut st, i);
                    }
                }
                Err(e) => st.samples_error = Some(e),
            }
        }
        self.with_ui(view::sample::render);
    }

    // ---- model ---------------------------------------------------------------------------

    /// Switches to the `i`-th bundled model (`sumi_core::models::BUNDLED`), as the model panel's
    /// chips do. Choosing the model in use, or an index that is not a bundled model, changes
    /// nothing.
    pub fn select_model(&self, i: i32) {
        self.active();
        let chosen = usize::try_from(i)
            .ok()
            .and_then(|i| sumi_core::models::BUNDLED.get(i).copied());
        let in_use = self
            .state
            .borrow()
            .model_info
            .as_ref()
            .map(|m| m.source.clone());
        match chosen {
            Some(b) if in_use != Some(ModelSource::Bundled(b.name)) => {
                // The bundled blobs are tested: this cannot fail, but would show why if it did.
                let _ = self.install(LoadedModel::bundled(b));
            }
            // Keep the panel showing the model in use.
            _ => self.with_ui(view::model::render),
        }
    }

    /// Loads another model blob. On failure the error dialog shows the core's message and the
    /// current model stays in use.
    pub fn load_model_file(&self, path: &Path) -> Result<(), String> {
        self.install(LoadedModel::from_file(path))
    }

    /// Puts a newly loaded model in use (the sample and the drawing are classified again), or
    /// shows why it could not be loaded and keeps the current one.
    fn install(&self, result: Result<LoadedModel, ModelError>) -> Result<(), String> {
        let outcome = {
            let mut st = self.state.borrow_mut();
            match result {
                Ok(model) => {
                    st.model_info = Some(model.info());
                    st.model = Some(model);
                    st.feature_layer = 0;
                    st.error = None;
                    if let Some(i) = st.sample.map(|s| s.index) {
                        state::show_sample(&mut st, i);
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
            self.with_ui(view::sample::render);
            self.analyse_now();
        }
        self.with_ui(|w, st| {
            view::model::render(w, st);
            view::model::render_error(w, st);
            w.global::<Ui>().set_error_visible(st.error.is_some());
        });
        outcome
    }

    fn render_all(&self) {
        self.with_ui(view::render_all);
    }
}
