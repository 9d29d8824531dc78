//! Headless UI tests: the real window, driven through real pointer and key events, with Slint's
//! testing backend and software renderer (no display needed).

mod common;

use std::path::PathBuf;

use common::{ONE, SEVEN, click, draw, predicted, test_options, ui};
use i_slint_backend_testing::ElementHandle;
use slint::ComponentHandle;
use slint::platform::{PointerEventButton, WindowEvent};
use sumi_desktop::i18n::Lang;
use sumi_desktop::{App, FullTestSet, Options, Ui};

const WIDTH: f32 = 1000.0;
const HEIGHT: f32 = 680.0;

fn app_with(options: Options) -> App {
    common::app_sized(options, WIDTH, HEIGHT)
}

fn app() -> App {
    app_with(test_options())
}

/// The network input as ASCII art plus the probabilities, for failure messages.
fn dump(app: &App) -> String {
    let st = app.controller().state();
    let Some(a) = st.analysis() else {
        return "no analysis".into();
    };
    let mut s = String::new();
    for row in a.input.chunks(28) {
        s.extend(row.iter().map(|&v| match v {
            0 => '.',
            1..=127 => '+',
            _ => '#',
        }));
        s.push('\n');
    }
    s + &format!("{:?}", a.probabilities)
}

#[test]
fn starts_in_the_draw_a_digit_state_without_a_made_up_prediction() {
    let app = app();
    let ui = ui(&app);
    assert!(ui.get_canvas_empty());
    assert!(!ui.get_has_prediction());
    assert_eq!(ui.get_predicted_digit(), "");
    let bars = slint::Model::iter(&ui.get_bars()).collect::<Vec<_>>();
    assert_eq!(bars.len(), 10);
    assert!(bars.iter().all(|b| b.value == 0.0 && !b.top));
    assert!(!ui.get_error_visible(), "{}", ui.get_error_text());
}

#[test]
fn drawing_a_one_and_a_seven_predicts_them() {
    let app = app();
    draw(&app, ONE);
    assert_eq!(predicted(&app).as_deref(), Some("1"), "{}", dump(&app));
    let ui = ui(&app);
    assert!(!ui.get_canvas_empty());
    assert!(ui.get_confidence_text().contains('%'));
    // The 28×28 input is centred: its ink's centre of mass is near the middle.
    {
        let st = app.controller().state();
        let input = st.analysis().expect("analysis").input;
        let (mut sum, mut sx, mut sy) = (0.0, 0.0, 0.0);
        for (i, &v) in input.iter().enumerate() {
            let v = f64::from(v);
            sum += v;
            sx += v * (i % 28) as f64;
            sy += v * (i / 28) as f64;
        }
        assert!(sum > 0.0);
        assert!((sx / sum - 13.5).abs() < 2.0 && (sy / sum - 13.5).abs() < 2.0);
        // Feature maps of the first convolution layer were captured.
        assert!(!st.analysis().unwrap().features.is_empty());
    }
    assert!(ui.get_last_time().ends_with("ms"));

    click(&app, "Clear");
    draw(&app, SEVEN);
    assert_eq!(predicted(&app).as_deref(), Some("7"));
}

#[test]
fn clear_button_and_escape_empty_the_canvas_and_undo_removes_a_stroke() {
    let app = app();
    draw(&app, SEVEN);
    assert!(predicted(&app).is_some());
    click(&app, "Clear");
    let ui = ui(&app);
    assert!(ui.get_canvas_empty());
    assert!(!ui.get_has_prediction());
    assert!(
        app.controller()
            .state()
            .canvas()
            .pixels()
            .iter()
            .all(|&v| v == 0)
    );

    // Esc (keyboard shortcut) does the same.
    draw(&app, ONE);
    assert!(predicted(&app).is_some());
    app.window()
        .window()
        .dispatch_event(WindowEvent::KeyPressed {
            text: slint::platform::Key::Escape.into(),
        });
    app.window()
        .window()
        .dispatch_event(WindowEvent::KeyReleased {
            text: slint::platform::Key::Escape.into(),
        });
    assert!(ui.get_canvas_empty(), "Esc clears");
    assert!(!ui.get_has_prediction());

    // Undo (Ctrl+Z) removes only the last stroke.
    draw(&app, ONE);
    draw(&app, &[&[(0.2, 0.5), (0.8, 0.5)]]);
    assert_eq!(app.controller().state().canvas().stroke_count(), 2);
    let control = slint::platform::Key::Control;
    app.window()
        .window()
        .dispatch_event(WindowEvent::KeyPressed {
            text: control.into(),
        });
    app.window()
        .window()
        .dispatch_event(WindowEvent::KeyPressed { text: "z".into() });
    app.window()
        .window()
        .dispatch_event(WindowEvent::KeyReleased { text: "z".into() });
    app.window()
        .window()
        .dispatch_event(WindowEvent::KeyReleased {
            text: control.into(),
        });
    assert_eq!(app.controller().state().canvas().stroke_count(), 1);
    assert_eq!(predicted(&app).as_deref(), Some("1"));
    click(&app, "Undo");
    assert!(ui.get_canvas_empty());
    assert!(!ui.get_has_prediction());
}

#[test]
fn next_random_changes_the_sample_and_shows_its_true_label() {
    let app = app();
    let ui = ui(&app);
    let first = app
        .controller()
        .state()
        .sample_index()
        .expect("a sample at start");
    assert!(ui.get_sample_true_text().starts_with("True: "));
    click(&app, "Next random");
    let second = app.controller().state().sample_index().unwrap();
    assert_ne!(first, second);
    let label = app.controller().state().samples().get(second).unwrap().1;
    assert_eq!(ui.get_sample_true_text(), format!("True: {label}"));
    assert!(ui.get_sample_pred_text().starts_with("Predicted: "));
    assert!(ui.get_sample_source_text().contains("1,000"));

    click(&app, "Next mistake");
    let st = app.controller().state();
    let index = st.sample_index().unwrap();
    if ui.get_sample_message().is_empty() {
        assert!(!ui.get_sample_correct(), "sample {index} is a mistake");
    }
}

#[test]
fn a_corrupt_blob_keeps_the_old_model() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sumi-desktop-ui");
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("corrupt.sumi");
    let mut blob = sumi_core::models::DEFAULT.to_vec();
    let last = blob.len() - 1;
    blob[last] ^= 0x5a; // flip payload bits: the CRC no longer matches
    std::fs::write(&bad, &blob).unwrap();

    let app = app();
    let ui = ui(&app);
    let name = ui.get_model_name();
    let err = app.controller().load_model_file(&bad).unwrap_err();
    assert!(ui.get_error_visible());
    assert_eq!(ui.get_error_text(), err.as_str());
    let core_error = sumi_core::Model::from_bytes(&blob).unwrap_err().to_string();
    assert!(err.contains(&core_error), "{err} / {core_error}");
    assert_eq!(ui.get_model_name(), name, "the old model stays");
    click(&app, "OK");
    assert!(!ui.get_error_visible());
    draw(&app, ONE);
    assert_eq!(predicted(&app).as_deref(), Some("1"), "and still predicts");
}

#[test]
fn a_corrupt_model_option_at_start_up_shows_the_error_and_uses_the_default() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sumi-desktop-ui");
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("not-a-model.sumi");
    std::fs::write(&bad, b"this is not a model").unwrap();
    let app = app_with(Options {
        model: Some(bad),
        full_test_set: FullTestSet::Skip,
        ..Options::default()
    });
    let ui = ui(&app);
    assert!(ui.get_error_visible());
    assert!(ui.get_error_text().contains("not-a-model.sumi"));
    let default = sumi_core::Model::from_bytes(sumi_core::models::DEFAULT).unwrap();
    assert_eq!(ui.get_model_name(), default.metadata().name);
}

#[test]
fn japanese_ui_and_language_toggle() {
    let app = app_with(Options {
        lang: Lang::Ja,
        full_test_set: FullTestSet::Skip,
        ..Options::default()
    });
    let shown = |label: &str| {
        ElementHandle::find_by_accessible_label(app.window(), label)
            .next()
            .is_some()
    };
    assert!(shown("消去") && !shown("Clear"));
    let ui = app.window().global::<Ui>();
    assert!(ui.get_sample_true_text().starts_with("正解"));
    assert!(ui.get_sample_source_text().contains("内蔵テスト画像"));
    click(&app, "English");
    assert!(shown("Clear") && !shown("消去"));
    assert!(ui.get_sample_true_text().starts_with("True: "));
    click(&app, "日本語");
    assert!(shown("消去"));
}

#[test]
fn snapshot_renders_the_window_to_png() {
    let app = app();
    draw(&app, SEVEN);
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    for (name, lang_toggle) in [("sumi-window-en.png", false), ("sumi-window-ja.png", true)] {
        if lang_toggle {
            app.controller().toggle_language();
        }
        let shot = app
            .window()
            .window()
            .take_snapshot()
            .expect("software renderer snapshot");
        assert_eq!((shot.width(), shot.height()), (WIDTH as u32, HEIGHT as u32));
        let rgba: Vec<u8> = shot.as_bytes().to_vec();
        let distinct: std::collections::HashSet<&[u8]> = rgba.chunks(4).collect();
        assert!(
            distinct.len() > 50,
            "the window is not blank: {} colours",
            distinct.len()
        );
        let img = image::RgbaImage::from_raw(shot.width(), shot.height(), rgba).unwrap();
        let path = out.join(name);
        img.save(&path).unwrap();
        eprintln!("snapshot: {}", path.display());
    }
}

fn press(app: &App, key: slint::SharedString) {
    let window = app.window().window();
    window.dispatch_event(WindowEvent::KeyPressed { text: key.clone() });
    window.dispatch_event(WindowEvent::KeyReleased { text: key });
}

/// Issue 15 case 9: after a button took keyboard focus (a real click on "Next random"),
/// Escape still clears the canvas and "n" still shows another sample.
#[test]
fn shortcuts_work_whatever_has_focus() {
    let app = app();
    let ui = ui(&app);
    draw(&app, ONE);
    assert!(predicted(&app).is_some());
    let button = ElementHandle::find_by_accessible_label(app.window(), "Next random")
        .next()
        .expect("Next random button");
    let before = app.controller().state().sample_index();
    button.mock_single_click(PointerEventButton::Left);
    assert_ne!(app.controller().state().sample_index(), before, "clicked");
    press(&app, slint::platform::Key::Escape.into());
    assert!(ui.get_canvas_empty(), "Esc clears with the button focused");
    assert!(!ui.get_has_prediction());
    let before = app.controller().state().sample_index();
    press(&app, "n".into());
    assert_ne!(app.controller().state().sample_index(), before);
}

/// Issue 15 case 9: a `--data-dir` without MNIST is said in the window (not only on stderr),
/// next to the embedded images used instead.
#[test]
fn a_bad_data_dir_is_reported_in_the_window() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sumi-desktop-no-mnist");
    let _ = std::fs::remove_dir_all(&dir);
    let app = app_with(Options {
        lang: Lang::En,
        data_dir: Some(dir.clone()),
        full_test_set: FullTestSet::Blocking,
        seed: Some(7),
        ..Options::default()
    });
    let text = ui(&app).get_sample_source_text();
    assert!(text.contains("Could not load"), "{text}");
    assert!(text.contains(&dir.display().to_string()), "{text}");
    assert!(text.contains("1,000"), "{text}");
    assert!(app.controller().state().samples_error().is_some());
}

/// Issue 13: the model panel switches between the bundled models; the drawing and the test
/// image are classified again by the model chosen.
#[test]
fn the_model_panel_switches_between_the_bundled_models() {
    let app = app();
    let ui = ui(&app);
    let names = slint::Model::iter(&ui.get_model_choices()).collect::<Vec<_>>();
    assert_eq!(names, ["default", "small", "tiny", "micro"]);
    assert_eq!(ui.get_model_choice(), 0);
    draw(&app, ONE);
    assert_eq!(predicted(&app).as_deref(), Some("1"));
    let default_size = ui.get_model_size();
    for (i, name) in [(3, "micro"), (2, "tiny"), (1, "small"), (0, "default")] {
        // Click the model's chip (its accessible default action is its click).
        let chip = ElementHandle::find_by_accessible_label(app.window(), name)
            .next()
            .unwrap_or_else(|| panic!("a chip for {name} in the model panel"));
        chip.invoke_accessible_default_action();
        let bundled = sumi_core::models::bundled(name).unwrap();
        let model = sumi_core::Model::from_bytes(bundled.blob).unwrap();
        let grouped = |n: u64| sumi_desktop::i18n::group_digits(n);
        assert_eq!(
            ui.get_model_size(),
            grouped(bundled.blob.len() as u64).as_str()
        );
        assert_eq!(
            ui.get_model_params(),
            grouped(u64::from(model.params())).as_str()
        );
        assert_eq!(ui.get_model_choice(), i);
        // The drawing was classified again by the new model.
        assert_eq!(predicted(&app).as_deref(), Some("1"), "{name}");
        let st = app.controller().state();
        let logits = st.analysis().unwrap().prediction.logits().to_vec();
        let mut arena = vec![0; model.arena_bytes()];
        let input = st.analysis().unwrap().input;
        assert_eq!(
            logits,
            model.predict(&input, &mut arena).unwrap().logits(),
            "{name}"
        );
    }
    assert_eq!(ui.get_model_size(), default_size);
    // Out of range: nothing changes.
    app.controller().select_model(7);
    assert_eq!(ui.get_model_choice(), 0);
    assert!(!ui.get_error_visible());
}

/// While a model given with `--model` is in use no bundled model is selected; choosing one
/// switches to it.
#[test]
fn a_model_file_selects_no_bundled_model() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sumi-desktop-ui");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("my-micro.sumi");
    std::fs::write(&file, sumi_core::models::MICRO).unwrap();
    let app = app_with(Options {
        model: Some(file),
        ..test_options()
    });
    let ui = ui(&app);
    assert_eq!(ui.get_model_choice(), -1);
    ui.invoke_select_model(2);
    assert_eq!(ui.get_model_choice(), 2);
    let tiny = sumi_core::Model::from_bytes(sumi_core::models::TINY).unwrap();
    assert_eq!(ui.get_model_name(), tiny.metadata().name);
}
