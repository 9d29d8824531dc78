//! [`DataError`]: everything that can go wrong locating, downloading, reading or checking MNIST.

use std::fmt;
use std::path::PathBuf;

use crate::idx::IdxError;

use crate::files::file_list;

/// Where the MNIST directory came from (reported in errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Passed explicitly (the `--data-dir` argument).
    Argument,
    /// The `MNIST_DIR` environment variable.
    EnvVar,
    /// The per-user cache directory.
    Cache,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Origin::Argument => "--data-dir",
            Origin::EnvVar => "the MNIST_DIR environment variable",
            Origin::Cache => "the per-user cache",
        })
    }
}

/// One failed download attempt: which URL and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadAttempt {
    /// The URL tried.
    pub url: String,
    /// Why it failed (network error, HTTP status, checksum mismatch, ...).
    pub error: String,
}

/// Errors of [`crate::locate`], [`crate::load`] and [`crate::load_test`].
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The data directory does not exist.
    #[error(
        "MNIST directory {} (from {origin}) does not exist or is not a directory; create it and \
         put the four MNIST files in it ({}; gzipped .gz or raw), or point MNIST_DIR / \
         --data-dir at a directory that has them",
        .dir.display(), file_list()
    )]
    DirMissing {
        /// The directory looked for.
        dir: PathBuf,
        /// Where it came from.
        origin: Origin,
    },
    /// A required file (raw or `.gz`) is not in the data directory.
    #[error(
        "MNIST file {file} (or {file}.gz) is missing from {}; put it there (the directory \
         must hold {}), or point MNIST_DIR / --data-dir at a directory that has all four",
        .dir.display(), file_list()
    )]
    FileMissing {
        /// The data directory.
        dir: PathBuf,
        /// Standard name of the missing file (without `.gz`).
        file: &'static str,
    },
    /// There is no per-user cache directory (no home directory) to download into.
    #[error(
        "no per-user cache directory to download MNIST into (is HOME set?); set MNIST_DIR or \
         pass --data-dir pointing at a directory holding {}",
        file_list()
    )]
    NoCacheDir,
    /// A file could not be read.
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// An IDX header declares more bytes than any MNIST file has.
    #[error(
        "{}: the IDX header declares {declared} bytes, more than the {max}-byte limit; the file \
         is not an MNIST file (or is a decompression bomb), delete it and get it again",
        .path.display()
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Bytes the header declares.
        declared: u64,
        /// The limit.
        max: u64,
    },
    /// A `.gz` file could not be decompressed.
    #[error("cannot decompress {} (corrupt or truncated gzip: {source}); delete it and get it again", .path.display())]
    Gzip {
        /// The file.
        path: PathBuf,
        /// The decompression error.
        source: std::io::Error,
    },
    /// A file is not a valid IDX file of the expected kind.
    #[error("{}: {source}", .path.display())]
    Idx {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        source: IdxError,
    },
    /// The decompressed content is not the original MNIST file.
    #[error(
        "{}: SHA-256 of the decompressed content is {found}, expected {expected}; the file is \
         corrupt or not the original MNIST file, delete it and get it again",
        .path.display()
    )]
    Checksum {
        /// The file.
        path: PathBuf,
        /// Expected hex SHA-256.
        expected: String,
        /// Actual hex SHA-256.
        found: String,
    },
    /// The image and label files of a split hold different numbers of samples.
    #[error(
        "{} holds {images_count} images but {} holds {labels_count} labels; the files do not \
         belong together",
        .images.display(), .labels.display()
    )]
    CountMismatch {
        /// The image file.
        images: PathBuf,
        /// The label file.
        labels: PathBuf,
        /// Number of images.
        images_count: usize,
        /// Number of labels.
        labels_count: usize,
    },
    /// A directory or file could not be created or written (cache, download).
    #[error("cannot write {}: {source}", .path.display())]
    Write {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Every mirror failed for a file that had to be downloaded.
    #[error("{}", download_failed_message(.dir, .attempts))]
    DownloadFailed {
        /// The directory the files were to be downloaded into.
        dir: PathBuf,
        /// Every attempt, in order, with its error.
        attempts: Vec<DownloadAttempt>,
    },
}

fn download_failed_message(dir: &std::path::Path, attempts: &[DownloadAttempt]) -> String {
    let mut msg = String::from("could not download MNIST; tried:\n");
    for a in attempts {
        msg.push_str(&format!("  {}: {}\n", a.url, a.error));
    }
    msg.push_str(&format!(
        "If this machine is offline, put the four files {} (gzipped .gz or raw) in {}, \
         or set MNIST_DIR / pass --data-dir to a directory that has them.",
        file_list(),
        dir.display()
    ));
    msg
}
