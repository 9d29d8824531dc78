//! Helpers shared by the headless UI tests: the real window on Slint's testing backend with its
//! software renderer, driven through real pointer events.
#![allow(dead_code)] // each test binary uses a different part

use i_slint_backend_testing::{ElementHandle, TestingBackend, TestingBackendOptions};
use slint::platform::{PointerEventButton, WindowEvent};
use slint::{ComponentHandle, LogicalPosition, LogicalSize};
use sumi_desktop::i18n::Lang;
use sumi_desktop::{App, FullTestSet, Options, Ui};

/// Opens the app on the testing backend at `width`×`height` logical pixels.
pub fn app_sized(options: Options, width: f32, height: f32) -> App {
    // One platform per test thread: a second window in the same test reuses it.
    let _ = slint::platform::set_platform(Box::new(TestingBackend::new(TestingBackendOptions {
        mock_time: true,
        threading: false,
        renderer_name: Some("software".into()),
    })));
    let app = App::new(options).expect("the window builds");
    app.window().show().unwrap();
    app.window()
        .window()
        .set_size(LogicalSize::new(width, height));
    app
}

/// English, embedded samples only, fixed seed.
pub fn test_options() -> Options {
    Options {
        lang: Lang::En,
        full_test_set: FullTestSet::Skip,
        seed: Some(7),
        ..Options::default()
    }
}

pub fn ui(app: &App) -> Ui<'_> {
    app.window().global::<Ui>()
}

/// The canvas's touch area: origin and size in window coordinates.
pub fn canvas_rect(app: &App) -> (LogicalPosition, LogicalSize) {
    let touch = ElementHandle::find_by_element_id(app.window(), "CanvasPanel::touch")
        .next()
        .expect("canvas touch area (needs .slint debug info)");
    let (pos, size) = (touch.absolute_position(), touch.size());
    assert!(
        size.width > 100.0 && size.height > 100.0,
        "canvas too small: {size:?}"
    );
    (pos, size)
}

/// Draws strokes given in 0..1 canvas coordinates, with pointer events every few pixels
/// (like a real mouse or finger), pressing at the first point and releasing at the last.
pub fn draw(app: &App, strokes: &[&[(f32, f32)]]) {
    let (origin, size) = canvas_rect(app);
    let at = |(x, y): (f32, f32)| {
        LogicalPosition::new(origin.x + x * size.width, origin.y + y * size.height)
    };
    let window = app.window().window();
    for stroke in strokes {
        window.dispatch_event(WindowEvent::PointerMoved {
            position: at(stroke[0]),
        });
        window.dispatch_event(WindowEvent::PointerPressed {
            position: at(stroke[0]),
            button: PointerEventButton::Left,
        });
        for pair in stroke.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            for k in 1..=8 {
                let t = k as f32 / 8.0;
                let p = (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t);
                window.dispatch_event(WindowEvent::PointerMoved { position: at(p) });
            }
        }
        let last = *stroke.last().unwrap();
        window.dispatch_event(WindowEvent::PointerReleased {
            position: at(last),
            button: PointerEventButton::Left,
        });
    }
}

pub const ONE: &[&[(f32, f32)]] = &[&[(0.52, 0.15), (0.50, 0.50), (0.48, 0.85)]];
pub const SEVEN: &[&[(f32, f32)]] = &[&[
    (0.28, 0.22),
    (0.50, 0.21),
    (0.72, 0.22),
    (0.58, 0.50),
    (0.46, 0.84),
]];

pub fn click(app: &App, label: &str) {
    let button = ElementHandle::find_by_accessible_label(app.window(), label)
        .next()
        .unwrap_or_else(|| panic!("no element labelled {label:?}"));
    button.invoke_accessible_default_action();
}

pub fn predicted(app: &App) -> Option<String> {
    let ui = ui(app);
    ui.get_has_prediction()
        .then(|| ui.get_predicted_digit().to_string())
}

/// The window rendered by the software renderer, as an RGBA image.
pub fn snapshot(app: &App) -> image::RgbaImage {
    let shot = app
        .window()
        .window()
        .take_snapshot()
        .expect("software renderer snapshot");
    image::RgbaImage::from_raw(shot.width(), shot.height(), shot.as_bytes().to_vec()).unwrap()
}

/// Number of distinct colours (a blank window has a handful).
pub fn colours(img: &image::RgbaImage) -> usize {
    img.pixels()
        .map(|p| p.0)
        .collect::<std::collections::HashSet<_>>()
        .len()
}
