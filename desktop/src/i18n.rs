//! English and Japanese UI text, and the choice of language.
//!
//! Every user-visible string lives here (the `.slint` files only show what Rust puts into the
//! `Tr` global), so the embedded font subset can be made from exactly these characters:
//! `desktop/assets/fonts/make_subset.py` reads this file and `ui/*.slint`. Templates use
//! `{name}` placeholders filled by [`fill`].
#![forbid(unsafe_code)]

use std::fmt;
use std::str::FromStr;

/// A UI language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// English.
    #[default]
    En,
    /// Japanese.
    Ja,
}

impl Lang {
    /// Picks the language: an explicit choice (`--lang`) wins, then the POSIX locale variables
    /// `LC_ALL`, `LC_MESSAGES`, `LANG` (the first one that is set and not empty). A locale
    /// starting with `ja` selects Japanese; anything else English.
    pub fn detect(explicit: Option<Lang>, env: impl Fn(&str) -> Option<String>) -> Lang {
        if let Some(lang) = explicit {
            return lang;
        }
        ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .filter_map(|k| env(k))
            .find(|v| !v.is_empty())
            .map(|v| {
                if v.to_ascii_lowercase().starts_with("ja") {
                    Lang::Ja
                } else {
                    Lang::En
                }
            })
            .unwrap_or_default()
    }

    /// The other language (for the toggle button).
    pub fn other(self) -> Lang {
        match self {
            Lang::En => Lang::Ja,
            Lang::Ja => Lang::En,
        }
    }

    /// The UI text in this language.
    pub fn strings(self) -> &'static Strings {
        match self {
            Lang::En => &EN,
            Lang::Ja => &JA,
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Lang::En => "en",
            Lang::Ja => "ja",
        })
    }
}

/// Error for an unknown `--lang` value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown language {0:?}: use `en` (English) or `ja` (Japanese)")]
pub struct UnknownLang(pub String);

impl FromStr for Lang {
    type Err = UnknownLang;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "en" | "english" => Ok(Lang::En),
            "ja" | "jp" | "japanese" | "日本語" => Ok(Lang::Ja),
            _ => Err(UnknownLang(s.to_owned())),
        }
    }
}

/// Replaces each `{key}` in `template` by its value.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_owned();
    for (key, value) in values {
        out = out.replace(&format!("{{{key}}}"), value);
    }
    out
}

/// All UI text of one language. Fields ending in `_t` are templates for [`fill`].
#[derive(Debug)]
pub struct Strings {
    /// Window title.
    pub title: &'static str,
    /// One line under the title.
    pub subtitle: &'static str,
    /// Label of the language toggle (names the *other* language).
    pub switch_lang: &'static str,
    /// Tooltip of the language toggle.
    pub tip_lang: &'static str,
    /// Drawing panel heading.
    pub draw_title: &'static str,
    /// Hint shown on the empty canvas.
    pub draw_hint: &'static str,
    /// Clear button.
    pub clear: &'static str,
    /// Undo button.
    pub undo: &'static str,
    /// Tooltip of Clear.
    pub tip_clear: &'static str,
    /// Tooltip of Undo.
    pub tip_undo: &'static str,
    /// Result panel heading.
    pub result_title: &'static str,
    /// Result panel, empty canvas: headline.
    pub empty_title: &'static str,
    /// Result panel, empty canvas: explanation.
    pub empty_detail: &'static str,
    /// Confidence line; `{p}` = percentage.
    pub confidence_t: &'static str,
    /// Shown when the prediction is confident.
    pub sure: &'static str,
    /// Low confidence; `{a}`, `{b}` = the two most likely digits.
    pub not_sure_t: &'static str,
    /// Network view heading.
    pub network_title: &'static str,
    /// Caption of the 28×28 input.
    pub input_caption: &'static str,
    /// Caption of the feature maps; `{n}` = layer number, `{kind}`, `{shape}`.
    pub features_t: &'static str,
    /// Layer selector button; `{n}` = layer number.
    pub layer_t: &'static str,
    /// Shown before anything is drawn.
    pub features_empty: &'static str,
    /// Tooltip of the feature map view.
    pub tip_features: &'static str,
    /// Short tab label of the network view (compact layouts).
    pub tab_network: &'static str,
    /// Sample panel heading.
    pub sample_title: &'static str,
    /// Short tab label of the sample panel (compact layouts).
    pub tab_sample: &'static str,
    /// True label; `{d}`.
    pub true_label_t: &'static str,
    /// Predicted digit; `{d}`.
    pub predicted_t: &'static str,
    /// Next random button.
    pub next_random: &'static str,
    /// Next mistake button.
    pub next_mistake: &'static str,
    /// Tooltip of Next random.
    pub tip_next_random: &'static str,
    /// Tooltip of Next mistake.
    pub tip_next_mistake: &'static str,
    /// No misclassified image exists; `{n}` = images searched.
    pub no_mistake_t: &'static str,
    /// Position of the sample; `{i}` index, `{n}` count.
    pub sample_index_t: &'static str,
    /// Embedded subset in use; `{n}`.
    pub source_embedded_t: &'static str,
    /// Full test set in use; `{n}`, `{path}`.
    pub source_full_t: &'static str,
    /// The full test set could not be loaded, the embedded subset is used; `{n}`, `{error}`.
    pub source_fallback_t: &'static str,
    /// MNIST attribution (licence).
    pub attribution: &'static str,
    /// Model panel heading.
    pub model_title: &'static str,
    /// Model name label.
    pub model_name: &'static str,
    /// Parameter count label.
    pub params: &'static str,
    /// Blob size label.
    pub blob_size: &'static str,
    /// Float accuracy label.
    pub float_acc: &'static str,
    /// int8 accuracy label.
    pub int8_acc: &'static str,
    /// Last inference time label.
    pub inference_time: &'static str,
    /// Multiply-accumulate count label.
    pub macs: &'static str,
    /// Value shown for missing metadata.
    pub unknown: &'static str,
    /// Byte count; `{n}`.
    pub bytes_t: &'static str,
    /// Error dialog title for a model that could not be loaded.
    pub load_error_title: &'static str,
    /// Error dialog detail; `{name}` = model kept.
    pub load_error_keep_t: &'static str,
    /// Dialog OK button.
    pub ok: &'static str,
}

/// English.
pub static EN: Strings = Strings {
    title: "Sumi — handwritten digit recognition",
    subtitle: "int8 CNN · the same code runs on the microcontroller",
    switch_lang: "日本語",
    tip_lang: "Switch language (L)",
    draw_title: "Draw",
    draw_hint: "Draw a digit (0–9) here",
    clear: "Clear",
    undo: "Undo",
    tip_clear: "Clear the canvas (Esc / Delete)",
    tip_undo: "Undo the last stroke (Ctrl+Z)",
    result_title: "Prediction",
    empty_title: "Draw a digit",
    empty_detail: "The prediction updates while you draw.",
    confidence_t: "Confidence {p}",
    sure: "Confident",
    not_sure_t: "Not sure: {a} or {b}?",
    network_title: "What the network sees",
    input_caption: "28×28 input after preprocessing",
    features_t: "Layer {n}: {kind}, {shape}",
    layer_t: "Layer {n}",
    features_empty: "Feature maps appear when you draw.",
    tip_features: "Each tile is one channel of the layer's output: bright = strong activation",
    tab_network: "Network",
    sample_title: "Random test image",
    tab_sample: "Test image",
    true_label_t: "True: {d}",
    predicted_t: "Predicted: {d}",
    next_random: "Next random",
    next_mistake: "Next mistake",
    tip_next_random: "Show another random test image (N)",
    tip_next_mistake: "Jump to a test image the model gets wrong (M)",
    no_mistake_t: "No mistakes in {n} images",
    sample_index_t: "#{i} of {n}",
    source_embedded_t: "{n} embedded test images",
    source_full_t: "all {n} test images ({path})",
    source_fallback_t: "Could not load the test images ({error}). Using the {n} embedded test images",
    attribution: "MNIST by Y. LeCun, C. Cortes, C. J. C. Burges, CC BY-SA 3.0",
    model_title: "Model",
    model_name: "Name",
    params: "Parameters",
    blob_size: "Blob size",
    float_acc: "Float accuracy",
    int8_acc: "int8 accuracy",
    inference_time: "Last inference",
    macs: "Multiply-adds",
    unknown: "n/a",
    bytes_t: "{n} bytes",
    load_error_title: "Could not load the model",
    load_error_keep_t: "Still using the previous model: {name}",
    ok: "OK",
};

/// Japanese.
pub static JA: Strings = Strings {
    title: "Sumi — 手書き数字認識",
    subtitle: "int8 CNN・マイコンと同じコードで推論",
    switch_lang: "English",
    tip_lang: "言語を切り替え（L）",
    draw_title: "手書き",
    draw_hint: "ここに数字（0〜9）を書いてください",
    clear: "消去",
    undo: "元に戻す",
    tip_clear: "キャンバスを消去（Esc / Delete）",
    tip_undo: "最後の一画を取り消す（Ctrl+Z）",
    result_title: "予測",
    empty_title: "数字を書いてください",
    empty_detail: "書いている間に予測が更新されます。",
    confidence_t: "確信度 {p}",
    sure: "自信あり",
    not_sure_t: "自信なし：{a} か {b}？",
    network_title: "ネットワークが見ているもの",
    input_caption: "前処理後の 28×28 入力",
    features_t: "第{n}層：{kind}、{shape}",
    layer_t: "第{n}層",
    features_empty: "書くと特徴マップが表示されます。",
    tip_features: "各タイルは層の出力の1チャンネル：明るいほど強い活性化",
    tab_network: "ネットワーク",
    sample_title: "ランダムなテスト画像",
    tab_sample: "テスト画像",
    true_label_t: "正解：{d}",
    predicted_t: "予測：{d}",
    next_random: "次のランダム",
    next_mistake: "次の誤認識",
    tip_next_random: "別のテスト画像を表示（N）",
    tip_next_mistake: "モデルが間違えるテスト画像へ移動（M）",
    no_mistake_t: "{n} 枚中、誤認識はありません",
    sample_index_t: "{n} 枚中 #{i}",
    source_embedded_t: "内蔵テスト画像 {n} 枚",
    source_full_t: "テスト画像 全 {n} 枚（{path}）",
    source_fallback_t: "テスト画像を読み込めません（{error}）。内蔵画像 {n} 枚を使います",
    attribution: "MNIST：Y. LeCun, C. Cortes, C. J. C. Burges、CC BY-SA 3.0",
    model_title: "モデル",
    model_name: "名前",
    params: "パラメータ数",
    blob_size: "ブロブサイズ",
    float_acc: "浮動小数点の精度",
    int8_acc: "int8 の精度",
    inference_time: "前回の推論時間",
    macs: "積和演算数",
    unknown: "不明",
    bytes_t: "{n} バイト",
    load_error_title: "モデルを読み込めませんでした",
    load_error_keep_t: "以前のモデルを使い続けます：{name}",
    ok: "OK",
};

/// Formats an integer with thousands separators (`12,345`).
pub fn group_digits(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn explicit_choice_wins_then_lc_all_then_lang() {
        assert_eq!(
            Lang::detect(Some(Lang::En), env(&[("LANG", "ja_JP.UTF-8")])),
            Lang::En
        );
        assert_eq!(
            Lang::detect(None, env(&[("LANG", "ja_JP.UTF-8")])),
            Lang::Ja
        );
        assert_eq!(
            Lang::detect(None, env(&[("LC_ALL", "C"), ("LANG", "ja_JP.UTF-8")])),
            Lang::En
        );
        assert_eq!(
            Lang::detect(None, env(&[("LC_ALL", ""), ("LANG", "ja_JP.UTF-8")])),
            Lang::Ja
        );
        assert_eq!(Lang::detect(None, env(&[])), Lang::En);
    }

    #[test]
    fn parses_lang_and_rejects_unknown() {
        assert_eq!("ja".parse::<Lang>(), Ok(Lang::Ja));
        assert_eq!("EN".parse::<Lang>(), Ok(Lang::En));
        let err = "fr".parse::<Lang>().unwrap_err().to_string();
        assert!(err.contains("fr") && err.contains("ja"), "{err}");
    }

    #[test]
    fn templates_fill_and_both_languages_use_the_same_placeholders() {
        assert_eq!(
            fill(EN.not_sure_t, &[("a", "4"), ("b", "9")]),
            "Not sure: 4 or 9?"
        );
        for (en, ja) in [
            (EN.confidence_t, JA.confidence_t),
            (EN.not_sure_t, JA.not_sure_t),
            (EN.features_t, JA.features_t),
            (EN.layer_t, JA.layer_t),
            (EN.true_label_t, JA.true_label_t),
            (EN.predicted_t, JA.predicted_t),
            (EN.no_mistake_t, JA.no_mistake_t),
            (EN.sample_index_t, JA.sample_index_t),
            (EN.source_embedded_t, JA.source_embedded_t),
            (EN.source_full_t, JA.source_full_t),
            (EN.source_fallback_t, JA.source_fallback_t),
            (EN.bytes_t, JA.bytes_t),
            (EN.load_error_keep_t, JA.load_error_keep_t),
        ] {
            let keys = |s: &str| {
                let mut k: Vec<String> = s
                    .split('{')
                    .skip(1)
                    .filter_map(|p| p.split_once('}').map(|(k, _)| k.to_owned()))
                    .collect();
                k.sort();
                k
            };
            assert!(!keys(en).is_empty(), "{en} is not a template");
            assert_eq!(keys(en), keys(ja), "{en} / {ja}");
        }
    }

    #[test]
    fn groups_thousands() {
        assert_eq!(group_digits(0), "0");
        assert_eq!(group_digits(999), "999");
        assert_eq!(group_digits(1000), "1,000");
        assert_eq!(group_digits(1234567), "1,234,567");
    }
}
