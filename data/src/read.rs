//! Reading one split from a directory: find the file (raw or `.gz`), decompress, parse with
//! [`sumi_core::idx`], verify SHA-256, check that images and labels pair up.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use sumi_core::idx::{self, IdxError, Images, Labels};

use crate::files::{MnistFile, sha256_hex};
use crate::{DataError, Split};

/// Path of `file` in `dir`: the raw file if present, else `<name>.gz`, else `None`.
pub(crate) fn find_file(dir: &Path, file: &MnistFile) -> Option<PathBuf> {
    let raw = dir.join(file.name);
    if raw.is_file() {
        return Some(raw);
    }
    let gz = dir.join(format!("{}.gz", file.name));
    gz.is_file().then_some(gz)
}

/// Whether `bytes` start with the gzip magic (IDX files start with two zero bytes instead).
pub(crate) fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// Decompresses `bytes` if they are gzip (whatever the file name), else returns them as is.
pub(crate) fn decompress(path: &Path, bytes: Vec<u8>) -> Result<Vec<u8>, DataError> {
    if !is_gzip(&bytes) {
        return Ok(bytes);
    }
    // MNIST compresses about 5:1 (images) to 2:1 (labels); a good first guess avoids regrowth.
    let mut out = Vec::with_capacity(bytes.len().saturating_mul(5));
    flate2::read::MultiGzDecoder::new(bytes.as_slice())
        .read_to_end(&mut out)
        .map_err(|source| DataError::Gzip {
            path: path.to_owned(),
            source,
        })?;
    Ok(out)
}

/// Reads `path` and decompresses it if it is gzip.
pub(crate) fn read_decompressed(path: &Path) -> Result<Vec<u8>, DataError> {
    let bytes = std::fs::read(path).map_err(|source| DataError::Read {
        path: path.to_owned(),
        source,
    })?;
    decompress(path, bytes)
}

/// Checks the SHA-256 of decompressed `bytes` against `file.sha256`.
pub(crate) fn verify(path: &Path, file: &MnistFile, bytes: &[u8]) -> Result<(), DataError> {
    let found = sha256_hex(bytes);
    if found == file.sha256 {
        Ok(())
    } else {
        Err(DataError::Checksum {
            path: path.to_owned(),
            expected: file.sha256.to_owned(),
            found,
        })
    }
}

/// Reads, parses and verifies one IDX file; returns its path and decompressed bytes.
fn read_one(
    dir: &Path,
    file: &MnistFile,
    parse: fn(&[u8]) -> Result<(), IdxError>,
) -> Result<(PathBuf, Vec<u8>), DataError> {
    let path = find_file(dir, file).ok_or_else(|| DataError::FileMissing {
        dir: dir.to_owned(),
        file: file.name,
    })?;
    let bytes = read_decompressed(&path)?;
    // Structure first: "truncated" or "bad magic" says more than a checksum mismatch.
    parse(&bytes).map_err(|source| DataError::Idx {
        path: path.clone(),
        source,
    })?;
    verify(&path, file, &bytes)?;
    Ok((path, bytes))
}

/// Reads the split made of `images` and `labels` in `dir`.
pub(crate) fn read_split(
    dir: &Path,
    images: &MnistFile,
    labels: &MnistFile,
) -> Result<Split, DataError> {
    // Decompressing and hashing the images dominates; do the labels meanwhile.
    let (image_res, label_res) = std::thread::scope(|s| {
        let labels = s.spawn(|| read_one(dir, labels, |b| Labels::parse(b).map(drop)));
        let images = read_one(dir, images, |b| Images::parse(b).map(drop));
        (images, labels.join())
    });
    let (image_path, mut image_bytes) = image_res?;
    let (label_path, mut label_bytes) = match label_res {
        Ok(r) => r?,
        Err(panic) => std::panic::resume_unwind(panic),
    };
    let (n, image_header, label_header) = {
        let map_idx = |path: &Path| {
            let path = path.to_owned();
            move |source| DataError::Idx { path, source }
        };
        let im = Images::parse(&image_bytes).map_err(map_idx(&image_path))?;
        let lb = Labels::parse(&label_bytes).map_err(map_idx(&label_path))?;
        let n = idx::pair(&im, &lb).map_err(|_| DataError::CountMismatch {
            images: image_path.clone(),
            labels: label_path.clone(),
            images_count: im.count(),
            labels_count: lb.count(),
        })?;
        (
            n,
            image_bytes.len() - im.as_bytes().len(),
            label_bytes.len() - lb.as_bytes().len(),
        )
    };
    // Strip the headers in place (no second copy of the pixels).
    image_bytes.drain(..image_header);
    label_bytes.drain(..label_header);
    Ok(Split {
        images: image_bytes,
        labels: label_bytes,
        n,
    })
}
