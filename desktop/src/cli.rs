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
    /// Model blob to use instead of the embedded default. A bad blob shows the error and the
    /// app keeps the default model.
    #[arg(long, value_name = "FILE")]
    pub model: Option<PathBuf>,
    /// Directory holding the MNIST files, for the full 10,000-image test set (else $MNIST_DIR,
    /// else the sumi cache if it holds files; else 1,000 embedded test images are used).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// UI language: en or ja (default: from LC_ALL, LC_MESSAGES or LANG).
    #[arg(long, value_name = "LANG")]
    pub lang: Option<Lang>,
}

impl Cli {
    /// The app options, reading the locale from the process environment.
    pub fn options(self) -> Options {
        Options {
            lang: Lang::detect(self.lang, |k| std::env::var(k).ok()),
            model: self.model,
            data_dir: self.data_dir,
            full_test_set: FullTestSet::Background,
            seed: None,
            trace: std::env::var_os("SUMI_TRACE").is_some_and(|v| !v.is_empty() && v != "0"),
        }
    }
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
}
