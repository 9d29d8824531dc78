//! Zero-copy parsing of IDX files (the format MNIST is distributed in).
//!
//! An IDX file is a big-endian header followed by raw data:
//!
//! * images (`*-idx3-ubyte`): magic `0x00000803`, then `count`, `rows`, `cols` (each a
//!   big-endian `u32`), then `count * rows * cols` pixel bytes, image after image, row-major;
//! * labels (`*-idx1-ubyte`): magic `0x00000801`, then `count`, then `count` label bytes.
//!
//! [`Images`] and [`Labels`] borrow the file's bytes (no allocation, no copy), validate the
//! whole file up front (header, exact length, dimensions, label range) and never panic on any
//! input: every problem is reported as a distinct [`IdxError`]. [`pair`] checks that an image
//! file and a label file describe the same number of samples.
//!
//! ```
//! use sumi_data::idx::{pair, Images, Labels};
//!
//! // One 28x28 image (all zero) and its label, built in memory.
//! let mut images = vec![0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 28, 0, 0, 0, 28];
//! images.extend_from_slice(&[0u8; 28 * 28]);
//! let labels = [0, 0, 8, 1, 0, 0, 0, 1, 7];
//!
//! let images = Images::parse(&images)?;
//! let labels = Labels::parse(&labels)?;
//! assert_eq!(pair(&images, &labels)?, 1);
//! assert_eq!(images.get(0).map(<[u8]>::len), Some(784));
//! assert_eq!(labels.get(0), Some(7));
//! assert_eq!(labels.get(1), None);
//! # Ok::<(), sumi_data::idx::IdxError>(())
//! ```

use std::fmt;

/// Magic number of an IDX file of unsigned-byte 3-D data (images).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned-byte 1-D data (labels).
pub const LABELS_MAGIC: u32 = 0x0000_0801;
/// Rows of an MNIST image (the core's input side, [`sumi_core::preprocess::SIDE`]).
pub const MNIST_ROWS: usize = sumi_core::preprocess::SIDE;
/// Columns of an MNIST image.
pub const MNIST_COLS: usize = sumi_core::preprocess::SIDE;
/// Bytes of an MNIST image (`28 * 28`).
pub const MNIST_IMAGE_BYTES: usize = MNIST_ROWS * MNIST_COLS;
/// Number of classes; a valid label is `0..NUM_CLASSES`.
pub const NUM_CLASSES: u8 = 10;

/// Header size of an image file: magic, count, rows, cols.
const IMAGES_HEADER: usize = 16;
/// Header size of a label file: magic, count.
const LABELS_HEADER: usize = 8;

/// Which kind of IDX file an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdxKind {
    /// An image file (`*-idx3-ubyte`, magic `0x00000803`).
    Images,
    /// A label file (`*-idx1-ubyte`, magic `0x00000801`).
    Labels,
}

impl fmt::Display for IdxKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IdxKind::Images => "image (idx3-ubyte)",
            IdxKind::Labels => "label (idx1-ubyte)",
        })
    }
}

/// Everything that can be wrong with an IDX file (or a pair of them).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdxError {
    /// The file is shorter than its fixed-size header.
    #[error(
        "IDX {kind} file is too short for its header: {found} bytes, need at least {needed}; \
         the file is empty or truncated, re-download it"
    )]
    TooShort {
        /// Which kind of file was being parsed.
        kind: IdxKind,
        /// Header size in bytes.
        needed: usize,
        /// Actual file size in bytes.
        found: usize,
    },
    /// The magic number does not match the expected file kind.
    #[error(
        "bad IDX magic: found 0x{found:08x}, expected 0x{expected:08x} for an {kind} file; \
         is this the right (decompressed) file?"
    )]
    BadMagic {
        /// Which kind of file was being parsed.
        kind: IdxKind,
        /// The magic number the file kind requires.
        expected: u32,
        /// The magic number found in the file.
        found: u32,
    },
    /// The file holds fewer data bytes than its header promises.
    #[error(
        "truncated IDX {kind} file: the header promises {expected} data bytes but only {found} \
         are present; the file is incomplete, re-download it"
    )]
    Truncated {
        /// Which kind of file was being parsed.
        kind: IdxKind,
        /// Data bytes the header promises (saturated at `u64::MAX`).
        expected: u64,
        /// Data bytes present after the header.
        found: usize,
    },
    /// The file holds more data bytes than its header promises.
    #[error(
        "IDX {kind} file has {} trailing bytes: the header promises {expected} data bytes but \
         {found} are present; the file is corrupt or not an IDX file",
        .found - .expected
    )]
    TrailingBytes {
        /// Which kind of file was being parsed.
        kind: IdxKind,
        /// Data bytes the header promises.
        expected: usize,
        /// Data bytes present after the header.
        found: usize,
    },
    /// The images do not have the required dimensions.
    #[error(
        "IDX images are {rows}x{cols}, expected {expected_rows}x{expected_cols}; \
         this is not an MNIST-style image file"
    )]
    WrongDimensions {
        /// Rows required.
        expected_rows: usize,
        /// Columns required.
        expected_cols: usize,
        /// Rows in the file header.
        rows: u32,
        /// Columns in the file header.
        cols: u32,
    },
    /// A label is not a digit `0..=9`.
    #[error(
        "label #{index} is {label}, expected a digit 0..=9; this is not an MNIST-style label file"
    )]
    LabelOutOfRange {
        /// Index of the first offending label.
        index: usize,
        /// Its value.
        label: u8,
    },
    /// The image file and the label file describe different numbers of samples.
    #[error(
        "{images} images but {labels} labels; the image and label files do not belong \
         together (mixed train/test files?)"
    )]
    CountMismatch {
        /// Number of images.
        images: usize,
        /// Number of labels.
        labels: usize,
    },
}

/// Reads a big-endian `u32` at `at`, if the bytes are there.
fn be_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// Checks header length and magic; returns the data following the header.
fn check_header(bytes: &[u8], kind: IdxKind, header: usize, magic: u32) -> Result<&[u8], IdxError> {
    let too_short = IdxError::TooShort {
        kind,
        needed: header,
        found: bytes.len(),
    };
    let (head, data) = bytes.split_at_checked(header).ok_or(too_short)?;
    let found = be_u32(head, 0).unwrap_or(0);
    if found != magic {
        return Err(IdxError::BadMagic {
            kind,
            expected: magic,
            found,
        });
    }
    Ok(data)
}

/// Checks that `data` is exactly `expected` bytes long.
fn check_len(data: &[u8], kind: IdxKind, expected: u64) -> Result<(), IdxError> {
    let found = data.len();
    match (found as u64).cmp(&expected) {
        std::cmp::Ordering::Less => Err(IdxError::Truncated {
            kind,
            expected,
            found,
        }),
        std::cmp::Ordering::Greater => Err(IdxError::TrailingBytes {
            kind,
            // expected < found, so it fits in usize.
            expected: usize::try_from(expected).unwrap_or(found),
            found,
        }),
        std::cmp::Ordering::Equal => Ok(()),
    }
}

/// A validated IDX image file, borrowed zero-copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Images<'a> {
    data: &'a [u8],
    count: usize,
    rows: usize,
    cols: usize,
}

impl<'a> Images<'a> {
    /// Parses an MNIST image file: IDX images of exactly 28x28 pixels.
    ///
    /// Errors: [`IdxError::TooShort`], [`IdxError::BadMagic`], [`IdxError::WrongDimensions`],
    /// [`IdxError::Truncated`], [`IdxError::TrailingBytes`].
    pub fn parse(bytes: &'a [u8]) -> Result<Self, IdxError> {
        Self::parse_with_dims(bytes, MNIST_ROWS, MNIST_COLS)
    }

    /// Parses an IDX image file whose images must be `rows` x `cols` pixels.
    pub fn parse_with_dims(bytes: &'a [u8], rows: usize, cols: usize) -> Result<Self, IdxError> {
        let kind = IdxKind::Images;
        let data = check_header(bytes, kind, IMAGES_HEADER, IMAGES_MAGIC)?;
        // The header is present, so these reads succeed.
        let count = be_u32(bytes, 4).unwrap_or(0);
        let file_rows = be_u32(bytes, 8).unwrap_or(0);
        let file_cols = be_u32(bytes, 12).unwrap_or(0);
        if file_rows as u64 != rows as u64 || file_cols as u64 != cols as u64 {
            return Err(IdxError::WrongDimensions {
                expected_rows: rows,
                expected_cols: cols,
                rows: file_rows,
                cols: file_cols,
            });
        }
        let expected = u64::from(count)
            .saturating_mul(u64::from(file_rows))
            .saturating_mul(u64::from(file_cols));
        check_len(data, kind, expected)?;
        // The data length matched, so count * rows * cols fits in usize.
        Ok(Images {
            data,
            count: count as usize,
            rows,
            cols,
        })
    }

    /// Number of images.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Whether the file holds no image.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Rows per image.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns per image.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Bytes per image (`rows * cols`).
    pub fn image_len(&self) -> usize {
        self.rows * self.cols
    }

    /// All pixel bytes, image after image (`count * rows * cols` bytes, header excluded).
    pub fn as_bytes(&self) -> &'a [u8] {
        self.data
    }

    /// Image `i` as `rows * cols` row-major pixels (0 = background, 255 = ink), or `None` if
    /// `i >= count`.
    pub fn get(&self, i: usize) -> Option<&'a [u8]> {
        if i >= self.count {
            return None;
        }
        let len = self.image_len();
        let start = i.checked_mul(len)?;
        self.data.get(start..start.checked_add(len)?)
    }

    /// Iterates over the images in file order.
    pub fn iter(&self) -> ImagesIter<'a> {
        ImagesIter {
            images: *self,
            next: 0,
        }
    }
}

impl<'a> IntoIterator for Images<'a> {
    type Item = &'a [u8];
    type IntoIter = ImagesIter<'a>;
    fn into_iter(self) -> ImagesIter<'a> {
        self.iter()
    }
}

impl<'a> IntoIterator for &Images<'a> {
    type Item = &'a [u8];
    type IntoIter = ImagesIter<'a>;
    fn into_iter(self) -> ImagesIter<'a> {
        self.iter()
    }
}

/// Iterator over the images of an [`Images`] file (see [`Images::iter`]).
#[derive(Debug, Clone)]
pub struct ImagesIter<'a> {
    images: Images<'a>,
    next: usize,
}

impl<'a> Iterator for ImagesIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let image = self.images.get(self.next)?;
        self.next += 1;
        Some(image)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.images.count.saturating_sub(self.next);
        (left, Some(left))
    }
}

impl ExactSizeIterator for ImagesIter<'_> {}

/// A validated IDX label file (every label a digit `0..=9`), borrowed zero-copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Labels<'a> {
    data: &'a [u8],
}

impl<'a> Labels<'a> {
    /// Parses an IDX label file and checks that every label is `0..=9`.
    ///
    /// Errors: [`IdxError::TooShort`], [`IdxError::BadMagic`], [`IdxError::Truncated`],
    /// [`IdxError::TrailingBytes`], [`IdxError::LabelOutOfRange`].
    pub fn parse(bytes: &'a [u8]) -> Result<Self, IdxError> {
        let kind = IdxKind::Labels;
        let data = check_header(bytes, kind, LABELS_HEADER, LABELS_MAGIC)?;
        let count = be_u32(bytes, 4).unwrap_or(0);
        check_len(data, kind, u64::from(count))?;
        if let Some((index, &label)) = data.iter().enumerate().find(|(_, l)| **l >= NUM_CLASSES) {
            return Err(IdxError::LabelOutOfRange { index, label });
        }
        Ok(Labels { data })
    }

    /// Number of labels.
    pub fn count(&self) -> usize {
        self.data.len()
    }

    /// Whether the file holds no label.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// All labels in file order (header excluded).
    pub fn as_bytes(&self) -> &'a [u8] {
        self.data
    }

    /// Label `i` (a digit `0..=9`), or `None` if `i >= count`.
    pub fn get(&self, i: usize) -> Option<u8> {
        self.data.get(i).copied()
    }

    /// Iterates over the labels in file order.
    pub fn iter(&self) -> std::iter::Copied<std::slice::Iter<'a, u8>> {
        self.data.iter().copied()
    }
}

/// Checks that `images` and `labels` describe the same number of samples; returns that number.
///
/// Error: [`IdxError::CountMismatch`].
pub fn pair(images: &Images<'_>, labels: &Labels<'_>) -> Result<usize, IdxError> {
    if images.count() == labels.count() {
        Ok(images.count())
    } else {
        Err(IdxError::CountMismatch {
            images: images.count(),
            labels: labels.count(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn images_file(magic: u32, count: u32, rows: u32, cols: u32, data_len: usize) -> Vec<u8> {
        let mut v = Vec::new();
        for x in [magic, count, rows, cols] {
            v.extend_from_slice(&x.to_be_bytes());
        }
        v.extend((0..data_len).map(|i| (i % 251) as u8));
        v
    }

    fn labels_file(magic: u32, count: u32, labels: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&magic.to_be_bytes());
        v.extend_from_slice(&count.to_be_bytes());
        v.extend_from_slice(labels);
        v
    }

    #[test]
    fn valid_images_and_labels() {
        let bytes = images_file(IMAGES_MAGIC, 3, 28, 28, 3 * 784);
        let images = Images::parse(&bytes).unwrap();
        assert_eq!((images.count(), images.rows(), images.cols()), (3, 28, 28));
        assert_eq!(images.get(1), Some(&bytes[16 + 784..16 + 2 * 784]));
        assert_eq!(images.get(3), None);
        assert_eq!(images.get(usize::MAX), None);
        let all: Vec<&[u8]> = images.iter().collect();
        assert_eq!(all.len(), 3);
        assert_eq!(images.iter().len(), 3);
        assert_eq!(all[2], &bytes[16 + 2 * 784..]);
        assert_eq!(images.as_bytes(), &bytes[16..]);

        let lbytes = labels_file(LABELS_MAGIC, 3, &[0, 9, 4]);
        let labels = Labels::parse(&lbytes).unwrap();
        assert_eq!(labels.get(1), Some(9));
        assert_eq!(labels.get(3), None);
        assert_eq!(labels.iter().collect::<Vec<_>>(), [0, 9, 4]);
        assert_eq!(pair(&images, &labels), Ok(3));
    }

    #[test]
    fn empty_files_are_valid() {
        let bytes = images_file(IMAGES_MAGIC, 0, 28, 28, 0);
        let images = Images::parse(&bytes).unwrap();
        assert!(images.is_empty());
        assert_eq!(images.iter().next(), None);
        let lbytes = labels_file(LABELS_MAGIC, 0, &[]);
        assert!(Labels::parse(&lbytes).unwrap().is_empty());
    }

    #[test]
    fn custom_dims_including_zero_size_images() {
        let bytes = images_file(IMAGES_MAGIC, 2, 3, 5, 30);
        let images = Images::parse_with_dims(&bytes, 3, 5).unwrap();
        assert_eq!(images.get(1).unwrap().len(), 15);
        let bytes = images_file(IMAGES_MAGIC, 4, 0, 5, 0);
        let images = Images::parse_with_dims(&bytes, 0, 5).unwrap();
        assert_eq!(images.iter().count(), 4);
        assert_eq!(images.get(3), Some(&[][..]));
    }

    #[test]
    fn too_short_for_header() {
        for len in [0, 1, 4, 15] {
            let bytes = &images_file(IMAGES_MAGIC, 0, 28, 28, 0)[..len];
            assert_eq!(
                Images::parse(bytes),
                Err(IdxError::TooShort {
                    kind: IdxKind::Images,
                    needed: 16,
                    found: len
                })
            );
        }
        let bytes = &labels_file(LABELS_MAGIC, 0, &[])[..7];
        assert_eq!(
            Labels::parse(bytes),
            Err(IdxError::TooShort {
                kind: IdxKind::Labels,
                needed: 8,
                found: 7
            })
        );
    }

    #[test]
    fn bad_magic() {
        // A label file given where images are expected, and vice versa.
        let labels = labels_file(LABELS_MAGIC, 2, &[1; 10]);
        let err = Images::parse(&labels).unwrap_err();
        assert_eq!(
            err,
            IdxError::BadMagic {
                kind: IdxKind::Images,
                expected: IMAGES_MAGIC,
                found: LABELS_MAGIC
            }
        );
        let msg = format!("{err}");
        assert!(
            msg.contains("0x00000801") && msg.contains("0x00000803"),
            "{msg}"
        );
        let images = images_file(IMAGES_MAGIC, 0, 28, 28, 0);
        assert!(matches!(
            Labels::parse(&images),
            Err(IdxError::BadMagic {
                expected: LABELS_MAGIC,
                found: IMAGES_MAGIC,
                ..
            })
        ));
        // A gzip file that was not decompressed.
        let mut gz = vec![0x1f, 0x8b, 8, 0];
        gz.extend_from_slice(&[0; 20]);
        assert!(matches!(
            Images::parse(&gz),
            Err(IdxError::BadMagic {
                found: 0x1f8b_0800,
                ..
            })
        ));
    }

    #[test]
    fn truncated_data() {
        let bytes = images_file(IMAGES_MAGIC, 2, 28, 28, 784 + 100);
        assert_eq!(
            Images::parse(&bytes),
            Err(IdxError::Truncated {
                kind: IdxKind::Images,
                expected: 2 * 784,
                found: 884
            })
        );
        let bytes = labels_file(LABELS_MAGIC, 5, &[1, 2]);
        assert_eq!(
            Labels::parse(&bytes),
            Err(IdxError::Truncated {
                kind: IdxKind::Labels,
                expected: 5,
                found: 2
            })
        );
        // A huge count must not overflow or allocate.
        let bytes = images_file(IMAGES_MAGIC, u32::MAX, 28, 28, 10);
        assert!(matches!(
            Images::parse(&bytes),
            Err(IdxError::Truncated { found: 10, .. })
        ));
        let bytes = images_file(IMAGES_MAGIC, u32::MAX, u32::MAX, u32::MAX, 0);
        assert!(matches!(
            Images::parse_with_dims(&bytes, u32::MAX as usize, u32::MAX as usize),
            Err(IdxError::Truncated {
                expected: u64::MAX,
                ..
            })
        ));
    }

    #[test]
    fn trailing_bytes() {
        let bytes = images_file(IMAGES_MAGIC, 1, 28, 28, 785);
        let err = Images::parse(&bytes).unwrap_err();
        assert_eq!(
            err,
            IdxError::TrailingBytes {
                kind: IdxKind::Images,
                expected: 784,
                found: 785
            }
        );
        assert!(format!("{err}").contains("1 trailing bytes"));
        let bytes = labels_file(LABELS_MAGIC, 1, &[1, 2]);
        assert!(matches!(
            Labels::parse(&bytes),
            Err(IdxError::TrailingBytes {
                expected: 1,
                found: 2,
                ..
            })
        ));
    }

    #[test]
    fn wrong_dimensions() {
        let bytes = images_file(IMAGES_MAGIC, 1, 32, 32, 1024);
        assert_eq!(
            Images::parse(&bytes),
            Err(IdxError::WrongDimensions {
                expected_rows: 28,
                expected_cols: 28,
                rows: 32,
                cols: 32
            })
        );
        let bytes = images_file(IMAGES_MAGIC, 1, 28, 27, 28 * 27);
        assert!(matches!(
            Images::parse(&bytes),
            Err(IdxError::WrongDimensions {
                rows: 28,
                cols: 27,
                ..
            })
        ));
    }

    #[test]
    fn label_out_of_range() {
        let bytes = labels_file(LABELS_MAGIC, 4, &[0, 9, 10, 255]);
        assert_eq!(
            Labels::parse(&bytes),
            Err(IdxError::LabelOutOfRange {
                index: 2,
                label: 10
            })
        );
    }

    #[test]
    fn count_mismatch() {
        let ibytes = images_file(IMAGES_MAGIC, 2, 28, 28, 2 * 784);
        let lbytes = labels_file(LABELS_MAGIC, 3, &[1, 2, 3]);
        let images = Images::parse(&ibytes).unwrap();
        let labels = Labels::parse(&lbytes).unwrap();
        assert_eq!(
            pair(&images, &labels),
            Err(IdxError::CountMismatch {
                images: 2,
                labels: 3
            })
        );
    }

    #[test]
    fn never_panics_on_arbitrary_prefixes_and_garbage() {
        let good = images_file(IMAGES_MAGIC, 2, 28, 28, 2 * 784);
        for len in 0..good.len() {
            assert!(Images::parse(&good[..len]).is_err());
            let _ = Labels::parse(&good[..len]);
        }
        let mut state = 0x1234_5678u32;
        for _ in 0..2000 {
            let mut bytes = good[..16].to_vec();
            for b in bytes.iter_mut() {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                if state.is_multiple_of(4) {
                    *b = state as u8;
                }
            }
            let _ = Images::parse(&bytes);
            let _ = Labels::parse(&bytes);
        }
    }
}
