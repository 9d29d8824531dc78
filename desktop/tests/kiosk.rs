//! `sumi --kiosk` (issue 17): full screen without a frame, finger-sized controls, touch strokes
//! drawn as pointer events (Slint delivers a touch screen's first finger as pointer events), and
//! back to the empty canvas after the idle time. Headless: Slint's testing backend with mocked
//! time, at the 800×480 of a Raspberry Pi touchscreen.

mod common;

use std::time::Duration;

use common::{app_sized, click, draw, predicted, test_options, ui};
use i_slint_backend_testing::{ElementHandle, mock_elapsed_time};
use slint::ComponentHandle;
use sumi_desktop::App;

const IDLE: Duration = Duration::from_secs(5);

fn kiosk() -> App {
    let mut options = test_options();
    options.kiosk = true;
    options.idle_reset = Some(IDLE);
    app_sized(options, 800.0, 480.0)
}

/// A 7 as two strokes, each with many points: the bar, then the stem (a finger lifted between).
const SEVEN_TWO_STROKES: &[&[(f32, f32)]] = &[
    &[
        (0.25, 0.22),
        (0.35, 0.21),
        (0.45, 0.21),
        (0.55, 0.21),
        (0.65, 0.21),
        (0.74, 0.22),
    ],
    &[
        (0.74, 0.22),
        (0.68, 0.34),
        (0.62, 0.47),
        (0.56, 0.60),
        (0.51, 0.72),
        (0.47, 0.85),
    ],
];
/// A 4 as two strokes: the open left part, then the long stem.
const FOUR_TWO_STROKES: &[&[(f32, f32)]] = &[
    &[
        (0.38, 0.15),
        (0.33, 0.32),
        (0.28, 0.50),
        (0.45, 0.52),
        (0.60, 0.52),
        (0.72, 0.52),
    ],
    &[(0.60, 0.18), (0.60, 0.40), (0.60, 0.62), (0.60, 0.86)],
];

#[test]
fn kiosk_window_is_full_screen_frameless_with_finger_sized_controls() {
    let app = kiosk();
    assert!(ui(&app).get_kiosk());
    assert!(app.window().window().is_fullscreen());
    for label in ["Undo", "Clear", "日本語", "Network", "Test image", "Model"] {
        let e = ElementHandle::find_by_accessible_label(app.window(), label)
            .next()
            .unwrap_or_else(|| panic!("no {label:?}"));
        let size = e.size();
        assert!(
            size.height >= 48.0 && size.width >= 48.0,
            "{label}: {size:?} is too small to touch"
        );
    }
    // The desktop window is neither.
    let app = app_sized(test_options(), 800.0, 480.0);
    assert!(!ui(&app).get_kiosk());
    assert!(!app.window().window().is_fullscreen());
}

#[test]
fn multi_point_multi_stroke_touches_draw_digits() {
    let app = kiosk();
    draw(&app, SEVEN_TWO_STROKES);
    assert_eq!(app.controller().state().canvas().stroke_count(), 2);
    assert_eq!(predicted(&app).as_deref(), Some("7"));
    click(&app, "Clear");
    draw(&app, FOUR_TWO_STROKES);
    assert_eq!(app.controller().state().canvas().stroke_count(), 2);
    assert_eq!(predicted(&app).as_deref(), Some("4"));
}

#[test]
fn idle_kiosk_returns_to_the_empty_canvas_and_input_restarts_the_count() {
    let app = kiosk();
    let ui = ui(&app);
    draw(&app, SEVEN_TWO_STROKES);
    assert!(!ui.get_canvas_empty());
    mock_elapsed_time(IDLE - Duration::from_secs(1));
    assert!(!ui.get_canvas_empty(), "not idle long enough yet");
    // Any input (here a tab) starts the idle time again.
    click(&app, "Model");
    assert_eq!(ui.get_side_tab(), 3);
    mock_elapsed_time(IDLE - Duration::from_secs(1));
    assert!(
        !ui.get_canvas_empty(),
        "the tab press restarted the idle time"
    );
    mock_elapsed_time(Duration::from_secs(2));
    assert!(ui.get_canvas_empty(), "idle: back to the empty canvas");
    assert!(!ui.get_has_prediction());
    assert_eq!(app.controller().state().canvas().stroke_count(), 0);
    // And it keeps working afterwards.
    draw(&app, SEVEN_TWO_STROKES);
    assert_eq!(predicted(&app).as_deref(), Some("7"));
}

#[test]
fn the_desktop_app_never_clears_by_itself() {
    let app = app_sized(test_options(), 1000.0, 680.0);
    draw(&app, SEVEN_TWO_STROKES);
    mock_elapsed_time(Duration::from_secs(3600));
    assert_eq!(predicted(&app).as_deref(), Some("7"));
}
