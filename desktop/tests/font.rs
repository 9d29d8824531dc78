//! The embedded font covers every character the UI can show, and is the window's default font.

use std::path::Path;

#[path = "common/po.rs"]
mod po;

const FONT: &[u8] = include_bytes!("../ui/fonts/NotoSansCJKjp-Sumi-Regular.otf");

/// What `make_subset.py` reads: the `.slint` files (English text, symbols) and the
/// translations of every catalogue in `lang/`; plus the two non-ASCII characters that Rust
/// formats itself ("–" for no inference yet, "×" in feature-map shapes).
fn ui_sources() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![("src (formatted numbers)".to_owned(), "–×".to_owned())];
    for entry in std::fs::read_dir(dir.join("ui")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "slint") {
            files.push((
                path.display().to_string(),
                std::fs::read_to_string(&path).unwrap(),
            ));
        }
    }
    let mut catalogues = 0;
    for entry in std::fs::read_dir(dir.join("lang")).unwrap() {
        let po = entry
            .unwrap()
            .path()
            .join("LC_MESSAGES")
            .join("sumi-desktop.po");
        if po.exists() {
            catalogues += 1;
            let text = po::entries(&std::fs::read_to_string(&po).unwrap())
                .into_iter()
                .map(|(_, msgstr)| msgstr)
                .collect::<Vec<_>>()
                .concat();
            files.push((po.display().to_string(), text));
        }
    }
    assert!(catalogues > 0, "no catalogue in lang/");
    files
}

#[test]
fn font_covers_every_ui_character() {
    let face = ttf_parser::Face::parse(FONT, 0).expect("the embedded font parses");
    let mut missing = Vec::new();
    for (file, text) in ui_sources() {
        for ch in text.chars().chain((0x20u8..0x7f).map(char::from)) {
            if ch >= ' ' && face.glyph_index(ch).is_none() {
                missing.push((ch, file.clone()));
            }
        }
    }
    missing.dedup();
    assert!(
        missing.is_empty(),
        "the embedded font lacks {missing:?}: re-run desktop/ui/fonts/make_subset.py"
    );
    // Japanese UI text is really there (not just ASCII).
    for ch in [
        '数', '字', 'を', '書', 'い', 'て', 'く', 'だ', 'さ', '予', '測',
    ] {
        assert!(face.glyph_index(ch).is_some(), "{ch}");
    }
}

#[test]
fn the_embedded_font_is_the_windows_default_font_and_stays_small() {
    let face = ttf_parser::Face::parse(FONT, 0).unwrap();
    let family = face
        .names()
        .into_iter()
        .find(|n| n.name_id == ttf_parser::name_id::FAMILY && n.is_unicode())
        .and_then(|n| n.to_string())
        .expect("font has a family name");
    let app = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/app.slint"))
        .unwrap();
    assert!(
        app.contains(&format!("default-font-family: \"{family}\"")),
        "{family}"
    );
    assert!(app.contains("import \"fonts/NotoSansCJKjp-Sumi-Regular.otf\""));
    assert!(FONT.len() < 200_000, "subset font is {} bytes", FONT.len());
    assert!(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("ui/fonts/OFL.txt")
            .exists()
    );
}
