//! MNIST for Sumi: locate (or download), verify, load and audit the dataset.
//!
//! Every part of Sumi (trainer, GUI, tests) loads MNIST through this crate, and parses IDX
//! files with its [`idx`] module (one implementation).
//!
//! | module | concept |
//! |---|---|
//! | [`idx`] | zero-copy parser for the IDX file format ([`Images`], [`Labels`], [`IdxError`]) |
//! | [`files`] | the four standard files, their names and SHA-256 of the decompressed bytes |
//! | `location` | choosing the directory: `--data-dir` > `MNIST_DIR` > per-user cache (feature `download`) |
//! | `download` | fetching missing files into the cache from several mirrors (feature `download`) |
//! | `read` (private) | finding, decompressing, parsing and verifying one split (feature `download`) |
//! | [`error`] | [`DataError`] and its parts |
//! | [`audit`] | [`audit::leak_audit`]: exact duplicate images across and within splits |
//! | [`model_file`] | bounded reading of a model blob file (header first, capped) |
//! | [`rng`] | SplitMix64, the seeded generator that shuffles, augments and picks samples |
//!
//! Features: `download` (default) adds reading the files, [`locate`], [`load`], [`load_test`]; `fs`
//! (part of `download`) adds [`write_atomic`]. Without them the crate builds for
//! `wasm32-unknown-unknown`.
//!
//! Files may be gzipped (`.gz`) or raw; a raw file is preferred when both exist. The SHA-256
//! of the decompressed content is checked for every file loaded, from any directory (it costs
//! a fraction of the decompression time), so a corrupt or foreign file is never used silently.
//!
//! ```no_run
//! let mnist = sumi_data::load(None)?; // --data-dir, else MNIST_DIR, else the cache
//! assert_eq!(mnist.train.n, 60_000);
//! let (pixels, label) = (mnist.test.image(0), mnist.test.labels[0]);
//! # let _ = (pixels, label);
//! # Ok::<(), sumi_data::DataError>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod audit;
#[cfg(feature = "download")]
pub mod download;
pub mod error;
pub mod files;
pub mod idx;
#[cfg(feature = "download")]
pub mod location;
pub mod model_file;
#[cfg(feature = "download")]
mod read;
pub mod rng;
#[cfg(all(test, feature = "download"))]
mod tests;
#[cfg(feature = "fs")]
mod write;

#[cfg(feature = "download")]
use std::path::{Path, PathBuf};

pub use error::DataError;
pub use idx::{IdxError, Images, Labels, MNIST_IMAGE_BYTES as IMAGE_BYTES, NUM_CLASSES};

#[cfg(feature = "fs")]
pub use write::write_atomic;

#[cfg(feature = "download")]
use files::{ALL_FILES, TEST_FILES, TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS};

/// The MNIST dataset: 60000 training and 10000 test samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mnist {
    /// The training split (60000 samples).
    pub train: Split,
    /// The test split (10000 samples).
    pub test: Split,
}

/// One split: `n` images of 28x28 pixels (0 = background, 255 = ink) and their labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// `n * 784` bytes, image after image, each row-major.
    pub images: Vec<u8>,
    /// `n` labels, each `0..=9`.
    pub labels: Vec<u8>,
    /// Number of samples.
    pub n: usize,
}

impl Split {
    /// Image `i` (784 bytes).
    ///
    /// # Panics
    /// If `i >= n`; use [`Split::get`] for a checked access.
    pub fn image(&self, i: usize) -> &[u8] {
        &self.images[i * IMAGE_BYTES..(i + 1) * IMAGE_BYTES]
    }

    /// Image `i` and its label, or `None` if `i >= n`.
    pub fn get(&self, i: usize) -> Option<(&[u8], u8)> {
        let start = i.checked_mul(IMAGE_BYTES)?;
        let image = self.images.get(start..start.checked_add(IMAGE_BYTES)?)?;
        Some((image, *self.labels.get(i)?))
    }

    /// Iterates over `(image, label)` in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&[u8], u8)> + '_ {
        self.images
            .chunks_exact(IMAGE_BYTES)
            .zip(self.labels.iter().copied())
    }

    /// A split from the bytes of an IDX image file and an IDX label file (decompressed): both
    /// are parsed and must pair up; the headers are stripped in place (no copy of the pixels).
    ///
    /// ```
    /// let mut images = vec![0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 28, 0, 0, 0, 28];
    /// images.extend_from_slice(&[0u8; 784]);
    /// let split = sumi_data::Split::from_idx(images, vec![0, 0, 8, 1, 0, 0, 0, 1, 7])?;
    /// assert_eq!((split.n, split.get(0).map(|(_, l)| l)), (1, Some(7)));
    /// # Ok::<(), sumi_data::IdxError>(())
    /// ```
    ///
    /// Errors: any [`IdxError`] of [`Images::parse`], [`Labels::parse`] or [`idx::pair`].
    pub fn from_idx(mut images: Vec<u8>, mut labels: Vec<u8>) -> Result<Split, IdxError> {
        let (n, image_header, label_header) = {
            let im = Images::parse(&images)?;
            let lb = Labels::parse(&labels)?;
            let n = idx::pair(&im, &lb)?;
            (
                n,
                images.len() - im.as_bytes().len(),
                labels.len() - lb.as_bytes().len(),
            )
        };
        images.drain(..image_header);
        labels.drain(..label_header);
        Ok(Split { images, labels, n })
    }

    /// Number of samples of each digit.
    pub fn label_counts(&self) -> [usize; NUM_CLASSES as usize] {
        let mut counts = [0; NUM_CLASSES as usize];
        for &l in &self.labels {
            if let Some(c) = counts.get_mut(usize::from(l)) {
                *c += 1;
            }
        }
        counts
    }
}

#[cfg(feature = "download")]
/// Locates the directory holding the four MNIST files: `data_dir` (the `--data-dir`
/// argument) if given, else `$MNIST_DIR` if set and non-empty, else the per-user cache
/// ([`location::cache_dir`]), downloading missing files into it.
///
/// Errors say which files to put in which directory when they are missing.
pub fn locate(data_dir: Option<&Path>) -> Result<PathBuf, DataError> {
    location::locate_files(data_dir, &ALL_FILES)
}

#[cfg(feature = "download")]
/// Loads and verifies both splits (see [`locate`] for where from).
pub fn load(data_dir: Option<&Path>) -> Result<Mnist, DataError> {
    let dir = location::locate_files(data_dir, &ALL_FILES)?;
    load_dir(&dir)
}

#[cfg(feature = "download")]
/// Loads and verifies only the test split (only its two files are needed).
pub fn load_test(data_dir: Option<&Path>) -> Result<Split, DataError> {
    let dir = location::locate_files(data_dir, &TEST_FILES)?;
    read::read_split(&dir, &TEST_IMAGES, &TEST_LABELS)
}

#[cfg(feature = "download")]
/// Loads both splits from `dir`, reading them in parallel.
fn load_dir(dir: &Path) -> Result<Mnist, DataError> {
    let (train, test) = std::thread::scope(|s| {
        let test = s.spawn(|| read::read_split(dir, &TEST_IMAGES, &TEST_LABELS));
        let train = read::read_split(dir, &TRAIN_IMAGES, &TRAIN_LABELS);
        (train, test.join())
    });
    let test = match test {
        Ok(r) => r?,
        Err(panic) => std::panic::resume_unwind(panic),
    };
    Ok(Mnist {
        train: train?,
        test,
    })
}
