//! Downloading missing MNIST files into the cache: several mirrors in order, progress bar,
//! SHA-256 check of the decompressed content, atomic write (temporary file + rename).

use std::io::Read as _;
use std::path::Path;
use std::time::Duration;

use crate::DataError;
use crate::error::DownloadAttempt;
use crate::files::{MnistFile, sha256_hex};
use crate::read::{decompress, is_gzip};

/// Mirrors tried in order; each serves `<mirror><name>.gz`.
pub const MIRRORS: [&str; 3] = [
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
];

/// Largest body accepted (the biggest file is ~10 MB compressed, 47 MB raw).
const MAX_BODY: u64 = 128 * 1024 * 1024;

/// Downloads each of `files` from the first mirror that serves a verified copy into `dir`.
pub(crate) fn download_missing(
    dir: &Path,
    files: &[MnistFile],
    mirrors: &[&str],
) -> Result<(), DataError> {
    if files.is_empty() {
        return Ok(());
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(15)))
        .timeout_global(Some(Duration::from_secs(600)))
        .build()
        .into();
    for file in files {
        let mut attempts = Vec::new();
        let mut done = false;
        for mirror in mirrors {
            let url = format!("{mirror}{}.gz", file.name);
            match fetch_verified(&agent, &url, file) {
                Ok(body) => {
                    // Keep what was served: gzip if compressed, raw if the server decoded it.
                    let name = if is_gzip(&body) {
                        format!("{}.gz", file.name)
                    } else {
                        file.name.to_owned()
                    };
                    crate::write_atomic(&dir.join(name), &body)?;
                    done = true;
                    break;
                }
                Err(error) => attempts.push(DownloadAttempt { url, error }),
            }
        }
        if !done {
            return Err(DataError::DownloadFailed {
                dir: dir.to_owned(),
                attempts,
            });
        }
    }
    Ok(())
}

/// Fetches `url` and checks the SHA-256 of its decompressed content; returns the body as served.
fn fetch_verified(agent: &ureq::Agent, url: &str, file: &MnistFile) -> Result<Vec<u8>, String> {
    let mut response = agent.get(url).call().map_err(|e| e.to_string())?;
    let body = response.body_mut();
    let bar = match body.content_length() {
        Some(len) => indicatif::ProgressBar::new(len),
        None => indicatif::ProgressBar::no_length(),
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message(format!("downloading {}", file.name));
    let mut bytes = Vec::new();
    let read = bar
        .wrap_read(body.with_config().limit(MAX_BODY).reader())
        .read_to_end(&mut bytes);
    bar.finish_and_clear();
    read.map_err(|e| format!("download interrupted: {e}"))?;
    let content = decompress(Path::new(url), bytes.clone()).map_err(|e| e.to_string())?;
    let found = sha256_hex(&content);
    if found != file.sha256 {
        return Err(format!(
            "SHA-256 of the decompressed content is {found}, expected {}",
            file.sha256
        ));
    }
    Ok(bytes)
}
