//! The layout holds from an 800×480 kiosk screen to 4K, landscape and portrait (issue 17).
//!
//! At each size the real window is laid out by Slint (testing backend, software renderer) and
//! the geometry of every panel and every text element is checked: inside the window, inside its
//! panel, no two panels and no two texts overlapping, the drawing canvas at least 200 px square
//! and its panel the largest. Each compact layout's tabs are checked one by one, empty and with a digit
//! drawn, in English and Japanese. The rendered window is written to `target/tmp/layout/`;
//! `SUMI_UPDATE_SNAPSHOTS=1` also writes it to `desktop/tests/snapshots/` (kept in the repo).

mod common;

use std::path::PathBuf;

use common::{SEVEN, app_sized, colours, draw, predicted, snapshot, test_options, ui};
use i_slint_backend_testing::{ElementHandle, ElementQuery};
use slint::ComponentHandle;
use sumi_desktop::App;
use sumi_desktop::i18n::Lang;

/// An element's box in window coordinates.
#[derive(Debug, Clone)]
struct Rect {
    what: String,
    x: f32,
    y: f32,
    w: f32,
    h: f32,
}

/// Tolerance for rounding in the layout, in logical pixels.
const EPS: f32 = 0.5;

impl Rect {
    fn of(e: &ElementHandle) -> Rect {
        let (p, s) = (e.absolute_position(), e.size());
        let what = format!(
            "{} {:?}",
            e.type_name().unwrap_or_default(),
            e.accessible_label().unwrap_or_default()
        );
        Rect {
            what,
            x: p.x,
            y: p.y,
            w: s.width,
            h: s.height,
        }
    }
    fn area(&self) -> f32 {
        self.w * self.h
    }
    fn overlaps(&self, o: &Rect) -> bool {
        self.x + EPS < o.x + o.w
            && o.x + EPS < self.x + self.w
            && self.y + EPS < o.y + o.h
            && o.y + EPS < self.y + self.h
    }
    fn inside(&self, o: &Rect) -> bool {
        self.x + EPS >= o.x
            && self.y + EPS >= o.y
            && self.x + self.w <= o.x + o.w + EPS
            && self.y + self.h <= o.y + o.h + EPS
    }
    fn contains_centre_of(&self, o: &Rect) -> bool {
        let (cx, cy) = (o.x + o.w / 2.0, o.y + o.h / 2.0);
        cx >= self.x && cx <= self.x + self.w && cy >= self.y && cy <= self.y + self.h
    }
}

fn visible(e: &ElementHandle) -> bool {
    let s = e.size();
    s.width > 0.0 && s.height > 0.0 && e.computed_opacity() > 0.0
}

fn elements_inheriting(app: &App, base: &str) -> Vec<Rect> {
    ElementQuery::from_root(app.window())
        .match_descendants()
        .match_inherits(base)
        .find_all()
        .iter()
        .filter(|e| visible(e))
        .map(Rect::of)
        .fold(Vec::new(), |mut all: Vec<Rect>, r| {
            // A component's root is found once per base type (`CanvasPanel` and its `Card`).
            let same = |o: &Rect| (o.x, o.y, o.w, o.h) == (r.x, r.y, r.w, r.h) && o.what == r.what;
            if !all.iter().any(same) {
                all.push(r);
            }
            all
        })
}

/// Checks the geometry of what is on screen now; returns what was checked, for the report.
fn check_geometry(app: &App, case: &str) -> (usize, usize) {
    let size = app.window().window().size().to_logical(1.0);
    let window = Rect {
        what: "window".into(),
        x: 0.0,
        y: 0.0,
        w: size.width,
        h: size.height,
    };
    let panels = elements_inheriting(app, "Card");
    let texts = elements_inheriting(app, "Text");
    assert!(panels.len() >= 2, "{case}: panels found: {panels:?}");
    assert!(texts.len() >= 15, "{case}: texts found: {}", texts.len());
    for r in panels.iter().chain(&texts) {
        assert!(r.inside(&window), "{case}: {r:?} is outside the window");
    }
    for (i, a) in panels.iter().enumerate() {
        for b in &panels[i + 1..] {
            assert!(!a.overlaps(b), "{case}: panels overlap: {a:?} / {b:?}");
        }
    }
    for (i, a) in texts.iter().enumerate() {
        for b in &texts[i + 1..] {
            assert!(!a.overlaps(b), "{case}: texts overlap: {a:?} / {b:?}");
        }
        for p in panels.iter().filter(|p| p.contains_centre_of(a)) {
            assert!(
                a.inside(p),
                "{case}: text {a:?} sticks out of its panel {p:?}"
            );
        }
    }
    // The canvas panel is the largest panel, and the paper the user draws on in it is at least
    // 200 px square.
    let paper = ElementHandle::find_by_element_id(app.window(), "CanvasPanel::paper")
        .next()
        .map(|e| Rect::of(&e))
        .expect("canvas");
    assert!(
        paper.w >= 200.0 && paper.h >= 200.0,
        "{case}: canvas only {paper:?}"
    );
    let canvas_panel = panels
        .iter()
        .find(|p| p.contains_centre_of(&paper) && paper.inside(p))
        .expect("the canvas is in a panel");
    for p in &panels {
        if !p.contains_centre_of(&paper) {
            assert!(
                canvas_panel.area() > p.area(),
                "{case}: the canvas panel {canvas_panel:?} is smaller than the panel {p:?}"
            );
        }
    }
    (panels.len(), texts.len())
}

/// Every state worth checking at one size: empty, drawn, and each tab of a compact layout.
fn check_all_states(app: &App, case: &str) {
    let ui = ui(app);
    for drawn in [false, true] {
        if drawn {
            draw(app, SEVEN);
            assert_eq!(predicted(app).as_deref(), Some("7"), "{case}");
        }
        for tab in 0..4 {
            ui.set_side_tab(tab);
            check_geometry(app, &format!("{case}, drawn: {drawn}, tab {tab}"));
        }
        // Back to the state shown in the snapshots.
        ui.set_side_tab(1);
    }
}

fn save(app: &App, name: &str) -> PathBuf {
    // Bars animate: let the mocked clock run to the end of the animation.
    i_slint_backend_testing::mock_elapsed_time(std::time::Duration::from_millis(500));
    let img = snapshot(app);
    let size = app.window().window().size();
    assert_eq!((img.width(), img.height()), (size.width, size.height));
    assert!(colours(&img) > 50, "{name}: the window looks blank");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("layout");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.png"));
    img.save(&path).unwrap();
    if std::env::var_os("SUMI_UPDATE_SNAPSHOTS").is_some_and(|v| v == "1") {
        let kept = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/snapshots")
            .join(format!("{name}.png"));
        img.save(&kept).unwrap();
    }
    path
}

fn check_size(width: f32, height: f32, kiosk: bool) {
    for lang in [Lang::En, Lang::Ja] {
        let mut options = test_options();
        options.lang = lang;
        options.kiosk = kiosk;
        let app = app_sized(options, width, height);
        let mode = if kiosk { "-kiosk" } else { "" };
        let case = format!("{width}x{height}{mode} {lang}");
        check_all_states(&app, &case);
        let path = save(&app, &format!("{width}x{height}{mode}-{lang}"));
        eprintln!("{case}: no overlap; {}", path.display());
    }
}

#[test]
fn kiosk_800x480() {
    check_size(800.0, 480.0, false);
}

#[test]
fn kiosk_800x480_in_kiosk_mode() {
    check_size(800.0, 480.0, true);
}

#[test]
fn small_1024x600() {
    check_size(1024.0, 600.0, false);
}

#[test]
fn design_size_1100x720() {
    check_size(1100.0, 720.0, false);
}

#[test]
fn full_hd_1920x1080() {
    check_size(1920.0, 1080.0, false);
}

#[test]
fn uhd_3840x2160() {
    check_size(3840.0, 2160.0, false);
}

#[test]
fn portrait_600x1024() {
    check_size(600.0, 1024.0, false);
}

#[test]
fn portrait_480x800() {
    check_size(480.0, 800.0, false);
}

#[test]
fn portrait_480x800_in_kiosk_mode() {
    check_size(480.0, 800.0, true);
}

#[test]
fn smallest_window_480x480() {
    check_size(480.0, 480.0, false);
}

/// The report: at 800×560 the empty-canvas text overlapped the probability rows.
#[test]
fn the_reported_800x560() {
    check_size(800.0, 560.0, false);
}
