//! The translation catalogues match the UI: every `@tr("...")` text of `ui/*.slint` has a
//! Japanese translation with the same placeholders, and the catalogue holds no stale entry.

use std::collections::BTreeSet;
use std::path::Path;

#[path = "common/po.rs"]
mod po;

/// The string literals of every `@tr("...")` in `text` (no context, no plural: the app uses
/// neither).
fn tr_strings(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("@tr(\"") {
        rest = &rest[i + 5..];
        let mut s = String::new();
        let mut chars = rest.char_indices();
        while let Some((j, c)) = chars.next() {
            match c {
                '\\' => s.push(chars.next().map_or('\\', |(_, c)| c)),
                '"' => {
                    rest = &rest[j + 1..];
                    break;
                }
                c => s.push(c),
            }
        }
        out.push(s);
    }
    out
}

/// The placeholders of a Slint format string, sorted (`{}` counts in order, `{0}` by index).
fn placeholders(s: &str) -> Vec<String> {
    let mut out: Vec<String> = s
        .split('{')
        .skip(1)
        .filter_map(|p| p.split_once('}').map(|(k, _)| k.to_owned()))
        .collect();
    out.sort();
    out
}

#[test]
fn every_ui_text_is_translated_with_the_same_placeholders() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut used = BTreeSet::new();
    for entry in std::fs::read_dir(dir.join("ui")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "slint") {
            used.extend(tr_strings(&std::fs::read_to_string(&path).unwrap()));
        }
    }
    assert!(used.len() > 40, "found only {} @tr texts", used.len());
    assert!(used.contains("Clear") && used.contains("Not sure: {0} or {1}?"));

    let po = std::fs::read_to_string(dir.join("lang/ja/LC_MESSAGES/sumi-desktop.po")).unwrap();
    let entries: Vec<_> = po::entries(&po)
        .into_iter()
        .filter(|(id, _)| !id.is_empty())
        .collect();
    let ids: BTreeSet<String> = entries.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(
        ids.len(),
        entries.len(),
        "a msgid is in the catalogue twice"
    );
    let missing: Vec<_> = used.difference(&ids).collect();
    assert!(
        missing.is_empty(),
        "not in the Japanese catalogue: {missing:?}"
    );
    let stale: Vec<_> = ids.difference(&used).collect();
    assert!(stale.is_empty(), "no longer in the UI: {stale:?}");
    for (id, text) in &entries {
        assert!(!text.is_empty(), "{id:?} has no translation");
        assert_eq!(placeholders(id), placeholders(text), "{id:?} / {text:?}");
    }
}
