//! Command-line options of the `sumi` binary.
#![forbid(unsafe_code)]

use std::path::PathBuf;

use clap::Parser;

use crate::i18n::Lang;
use crate::state::{FullTestSet, Options};

/// Draw a digit and watch Sumi's int8 CNN recognise it.
#[derive(Debug, Parser)]
#[command(name = "sumi", version, about)]
pub struct Cli {
    /// Model blob to use instead of the bundled one. A bad blob shows the error and the app
    /// keeps the bundled model.
    #[arg(long, value_name = "FILE")]
    pub model: Option<PathBuf>,
    /// Bundled model to start with (the model panel switches between them).
    #[arg(long, value_name = "NAME", default_value = "default", value_parser = bundled_name)]
    pub bundled: sumi_core::models::Bundled,
    /// Directory holding the MNIST files, for the full 10,000-image test set (else $MNIST_DIR,
    /// else the sumi cache if it holds files; else 1,000 embedded test images are used).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// UI language: en or ja (default: from LC_ALL, LC_MESSAGES or LANG).
    #[arg(long, value_name = "LANG")]
    pub lang: Option<Lang>,
    /// Kiosk mode: full screen, no window frame, finger-sized buttons; nothing needs a keyboard.
    /// The canvas empties itself after --kiosk-idle seconds without input.
    #[arg(long)]
    pub kiosk: bool,
    /// Kiosk mode: seconds without input before the canvas is emptied again (1 to 86400).
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 60,
        requires = "kiosk",
        value_parser = clap::value_parser!(u64).range(1..=86_400)
    )]
    pub kiosk_idle: u64,
}

impl Cli {
    /// The app options, reading the locale from the process environment.
    pub fn options(self) -> Options {
        Options {
            lang: Lang::detect(self.lang, |k| std::env::var(k).ok()),
            bundled: Some(self.bundled),
            model: self.model,
            data_dir: self.data_dir,
            full_test_set: FullTestSet::Background,
            seed: None,
            trace: std::env::var_os("SUMI_TRACE").is_some_and(|v| !v.is_empty() && v != "0"),
            kiosk: self.kiosk,
            idle_reset: self
                .kiosk
                .then(|| std::time::Duration::from_secs(self.kiosk_idle)),
        }
    }
}

/// `--bundled`: a name from `sumi_core::models::BUNDLED`.
fn bundled_name(name: &str) -> Result<sumi_core::models::Bundled, String> {
    sumi_core::models::bundled(name).ok_or_else(|| {
        let names: Vec<&str> = sumi_core::models::BUNDLED.iter().map(|b| b.name).collect();
        format!(
            "no bundled model is called {name:?}; choose one of {}",
            names.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_all_options_and_rejects_a_bad_language() {
        let cli = Cli::try_parse_from([
            "sumi",
            "--model",
            "m.sumi",
            "--data-dir",
            "d",
            "--lang",
            "ja",
        ])
        .unwrap();
        let o = cli.options();
        assert_eq!(o.lang, Lang::Ja);
        assert_eq!(o.model, Some(PathBuf::from("m.sumi")));
        assert_eq!(o.data_dir, Some(PathBuf::from("d")));
        let err = Cli::try_parse_from(["sumi", "--lang", "xx"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown language"), "{err}");
    }

    #[test]
    fn bundled_model_by_name() {
        let o = Cli::try_parse_from(["sumi"]).unwrap().options();
        assert_eq!(o.bundled.map(|b| b.name), Some("default"));
        let o = Cli::try_parse_from(["sumi", "--bundled", "micro"])
            .unwrap()
            .options();
        assert_eq!(o.bundled, sumi_core::models::bundled("micro"));
        let err = Cli::try_parse_from(["sumi", "--bundled", "huge"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("default, small, tiny, micro"), "{err}");
    }

    #[test]
    fn kiosk_options_and_their_limits() {
        let o = Cli::try_parse_from(["sumi", "--kiosk"]).unwrap().options();
        assert!(o.kiosk);
        assert_eq!(o.idle_reset, Some(std::time::Duration::from_secs(60)));
        let o = Cli::try_parse_from(["sumi", "--kiosk", "--kiosk-idle", "5"])
            .unwrap()
            .options();
        assert_eq!(o.idle_reset, Some(std::time::Duration::from_secs(5)));
        let o = Cli::try_parse_from(["sumi"]).unwrap().options();
        assert!(!o.kiosk);
        assert_eq!(o.idle_reset, None);
        for bad in ["0", "-3", "abc", "86401"] {
            let arg = format!("--kiosk-idle={bad}");
            let err = Cli::try_parse_from(["sumi", "--kiosk", arg.as_str()])
                .unwrap_err()
                .to_string();
            assert!(err.contains("--kiosk-idle"), "{bad}: {err}");
        }
        // --kiosk-idle alone is a mistake, not silently ignored.
        let err = Cli::try_parse_from(["sumi", "--kiosk-idle", "5"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("--kiosk"), "{err}");
    }
}
