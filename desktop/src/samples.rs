//! Test images for the "random test image" panel.
//!
//! An embedded subset (the first 1,000 MNIST test images, `assets/mnist/`, CC BY-SA 3.0) makes
//! the panel work offline; when the full test set is available, it is loaded through
//! `sumi-data` (the same discovery as the trainer: `--data-dir` > `MNIST_DIR` > cache) and used
//! instead. Parsing and loading are `sumi_data`'s: nothing is re-implemented here.
#![forbid(unsafe_code)]

use std::io::Read;
use std::path::{Path, PathBuf};

use sumi_data::rng::{Rng as _, SeedableRng as _, SplitMix64};
use sumi_data::{IdxError, Split};

const EMBEDDED_IMAGES: &[u8] =
    include_bytes!("../assets/mnist/t10k-first1000-images-idx3-ubyte.gz");
const EMBEDDED_LABELS: &[u8] =
    include_bytes!("../assets/mnist/t10k-first1000-labels-idx1-ubyte.gz");

/// Where the images come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SampleOrigin {
    /// The subset embedded in the binary.
    Embedded,
    /// The full test set from this directory.
    Full(PathBuf),
}

/// Why the embedded subset could not be read (a build problem, never user input).
#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    /// gzip decompression failed.
    #[error("embedded MNIST subset is not valid gzip: {0}")]
    Gzip(#[from] std::io::Error),
    /// IDX parsing failed.
    #[error("embedded MNIST subset is not valid IDX: {0}")]
    Idx(#[from] IdxError),
}

/// A set of 28×28 test images with labels.
#[derive(Debug, Clone)]
pub struct SampleSet {
    split: Split,
    origin: SampleOrigin,
}

impl SampleSet {
    /// The embedded subset.
    pub fn embedded() -> Result<Self, SampleError> {
        let split = Split::from_idx(gunzip(EMBEDDED_IMAGES)?, gunzip(EMBEDDED_LABELS)?)?;
        Ok(Self {
            split,
            origin: SampleOrigin::Embedded,
        })
    }

    /// The full test set through `sumi_data::load_test(data_dir)` (not in a browser: no files).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn full(data_dir: Option<&Path>, shown_dir: PathBuf) -> Result<Self, sumi_data::DataError> {
        Ok(Self {
            split: sumi_data::load_test(data_dir)?,
            origin: SampleOrigin::Full(shown_dir),
        })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.split.n
    }

    /// True when there are no images.
    pub fn is_empty(&self) -> bool {
        self.split.n == 0
    }

    /// Image `i` (784 bytes, 0 = background) and its label.
    pub fn get(&self, i: usize) -> Option<(&[u8], u8)> {
        self.split.get(i)
    }

    /// Where the images come from.
    pub fn origin(&self) -> &SampleOrigin {
        &self.origin
    }

    /// The first image after `current` (wrapping around, `current` itself last) for which
    /// `classify` disagrees with the label: `(index, predicted)`. `None` if there is none.
    pub fn find_mistake(
        &self,
        current: Option<usize>,
        mut classify: impl FnMut(&[u8]) -> Option<u8>,
    ) -> Option<(usize, u8)> {
        let n = self.len();
        let start = current.map_or(0, |c| c + 1);
        (0..n).map(|k| (start + k) % n).find_map(|i| {
            let (image, label) = self.get(i)?;
            let predicted = classify(image)?;
            (predicted != label).then_some((i, predicted))
        })
    }
}

/// Where the full test set should be loaded from, if it is *available* without a download:
/// an explicit `--data-dir`, else `MNIST_DIR`, else the sumi-data cache if it already holds
/// files. (The GUI never starts a download by itself; `sumi-train` fills the cache.)
/// Returns the `data_dir` argument for `sumi_data::load_test` and the directory to show.
#[cfg(not(target_arch = "wasm32"))]
pub fn full_set_location(data_dir: Option<&Path>) -> Option<(Option<PathBuf>, PathBuf)> {
    if let Some(dir) = data_dir {
        return Some((Some(dir.to_owned()), dir.to_owned()));
    }
    if let Some(dir) = std::env::var_os(sumi_data::location::ENV_VAR).filter(|v| !v.is_empty()) {
        return Some((None, PathBuf::from(dir)));
    }
    let cache = sumi_data::location::cache_dir()?;
    let has_files = std::fs::read_dir(&cache).ok()?.next().is_some();
    has_files.then_some((None, cache))
}

/// In a browser there are no files and no environment: the embedded subset only.
#[cfg(target_arch = "wasm32")]
pub fn full_set_location(_data_dir: Option<&Path>) -> Option<(Option<PathBuf>, PathBuf)> {
    None
}

fn gunzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut out)?;
    Ok(out)
}

/// A small deterministic random number generator (SplitMix64, `sumi_data::rng`) for picking
/// samples.
#[derive(Debug, Clone)]
pub struct Picker(SplitMix64);

impl Picker {
    /// Seeded generator.
    pub fn new(seed: u64) -> Self {
        Self(SplitMix64::seed_from_u64(seed))
    }

    /// Seeded from the clock.
    pub fn from_time() -> Self {
        // web-time: std's clock, except in a browser where std's panics.
        let nanos = web_time::SystemTime::now()
            .duration_since(web_time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Self::new(nanos ^ 0x9E37_79B9_7F4A_7C15)
    }

    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// A random index in `0..len` different from `current` (when `len > 1`).
    pub fn pick(&mut self, len: usize, current: Option<usize>) -> Option<usize> {
        if len == 0 {
            return None;
        }
        loop {
            let i = (self.next_u64() % len as u64) as usize;
            if len == 1 || Some(i) != current {
                return Some(i);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_subset_is_the_first_1000_test_images() {
        let set = SampleSet::embedded().unwrap();
        assert_eq!(set.len(), 1000);
        assert_eq!(set.origin(), &SampleOrigin::Embedded);
        // The first MNIST test labels are 7, 2, 1, 0, 4.
        let labels: Vec<u8> = (0..5).map(|i| set.get(i).unwrap().1).collect();
        assert_eq!(labels, [7, 2, 1, 0, 4]);
        let counts = (0..set.len()).fold([0usize; 10], |mut c, i| {
            c[usize::from(set.get(i).unwrap().1)] += 1;
            c
        });
        assert!(
            counts.iter().all(|&c| c > 60),
            "every digit is represented: {counts:?}"
        );
        assert!(set.get(1000).is_none());
    }

    #[test]
    fn embedded_subset_matches_the_full_test_set() {
        let Ok(dir) = std::env::var("MNIST_DIR") else {
            eprintln!("MNIST_DIR not set: skipping the comparison with the full test set");
            return;
        };
        let full = SampleSet::full(Some(Path::new(&dir)), dir.clone().into()).unwrap();
        assert_eq!(full.len(), 10_000);
        let embedded = SampleSet::embedded().unwrap();
        for i in [0, 1, 499, 999] {
            assert_eq!(full.get(i), embedded.get(i), "image {i}");
        }
    }

    #[test]
    fn find_mistake_wraps_and_starts_after_current() {
        let set = SampleSet::embedded().unwrap();
        // A fake classifier that is wrong exactly on images 3 and 10 (it answers label + 1).
        let wrong = [3usize, 10];
        let index_of = |img: &[u8]| (0..set.len()).find(|&i| set.get(i).unwrap().0 == img);
        let classify = |img: &[u8]| {
            let i = index_of(img)?;
            let label = set.get(i)?.1;
            Some(if wrong.contains(&i) {
                (label + 1) % 10
            } else {
                label
            })
        };
        assert_eq!(set.find_mistake(None, classify).map(|m| m.0), Some(3));
        assert_eq!(set.find_mistake(Some(3), classify).map(|m| m.0), Some(10));
        assert_eq!(set.find_mistake(Some(10), classify).map(|m| m.0), Some(3));
        let perfect = |img: &[u8]| index_of(img).map(|i| set.get(i).unwrap().1);
        assert_eq!(set.find_mistake(Some(0), perfect), None);
    }

    #[test]
    fn picker_never_repeats_the_current_index() {
        let mut p = Picker::new(42);
        assert_eq!(p.pick(0, None), None);
        assert_eq!(p.pick(1, Some(0)), Some(0));
        let mut cur = None;
        for _ in 0..100 {
            let next = p.pick(3, cur).unwrap();
            assert!(next < 3);
            assert_ne!(Some(next), cur);
            cur = Some(next);
        }
    }
}
