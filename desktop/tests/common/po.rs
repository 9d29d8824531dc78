//! A reader for the gettext catalogues in `desktop/lang/` (plain entries: `msgid`, `msgstr`,
//! continuation lines, comments), for the font and translation tests.

fn unquote(s: &str) -> String {
    s.trim()
        .trim_matches('"')
        .replace("\\\"", "\"")
        .replace("\\n", "\n")
        .replace("\\\\", "\\")
}

/// The (msgid, msgstr) pairs of a catalogue, the header (empty msgid) included.
pub fn entries(po: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    // 0: outside an entry, 1: in its msgid, 2: in its msgstr.
    let mut part = 0;
    for line in po.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("msgid ") {
            out.push((unquote(rest), String::new()));
            part = 1;
        } else if let Some(rest) = line.strip_prefix("msgstr ") {
            if let Some(last) = out.last_mut() {
                last.1 = unquote(rest);
            }
            part = 2;
        } else if line.starts_with('"') && part > 0 {
            if let Some(last) = out.last_mut() {
                let field = if part == 1 { &mut last.0 } else { &mut last.1 };
                field.push_str(&unquote(line));
            }
        } else {
            part = 0;
        }
    }
    out
}
