//! Reading one split from a directory: find the file (raw or `.gz`), decompress, parse with
//! [`crate::idx`], verify SHA-256, check that images and labels pair up.

use std::io::{BufRead as _, Read};
use std::path::{Path, PathBuf};

use crate::idx::{IdxError, IdxKind, Images, Labels};

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

/// Largest IDX file accepted, decompressed (the MNIST training images are 47,040,016 bytes).
pub const MAX_IDX_BYTES: u64 = 64 * 1024 * 1024;

/// Bytes per element of an IDX type code (`0x08` u8 … `0x0E` f64), `None` if unknown.
fn idx_element_bytes(code: u8) -> Option<u64> {
    match code {
        0x08 | 0x09 => Some(1),
        0x0B => Some(2),
        0x0C | 0x0D => Some(4),
        0x0E => Some(8),
        _ => None,
    }
}

/// The total length an IDX header declares (`head` holds at least the magic and dimensions),
/// or `None` if `head` is not a complete IDX header (the parser then reports what is wrong).
fn idx_declared_len(head: &[u8]) -> Option<u64> {
    let (&[0, 0, code, ndims], dims) = (head.first_chunk::<4>()?, &head[4..]) else {
        return None;
    };
    let dims = dims.get(..4 * usize::from(ndims))?;
    let elems = dims.chunks_exact(4).try_fold(1u64, |acc, d| {
        acc.checked_mul(u64::from(u32::from_be_bytes([d[0], d[1], d[2], d[3]])))
    })?;
    let body = elems.checked_mul(idx_element_bytes(code)?)?;
    body.checked_add(4 + dims.len() as u64)
}

/// Reads an IDX stream, stopping at the size its header declares: one byte more is read so the
/// parser still reports trailing bytes, but a decompression bomb is never inflated whole. A
/// declared size above [`MAX_IDX_BYTES`] is refused before the body is read.
fn read_idx_bounded(path: &Path, mut r: impl Read) -> Result<Vec<u8>, DataError> {
    let io = |source| DataError::Read {
        path: path.to_owned(),
        source,
    };
    let mut out = Vec::new();
    (&mut r).take(4).read_to_end(&mut out).map_err(io)?;
    let ndims = u64::from(out.get(3).copied().unwrap_or(0));
    (&mut r).take(4 * ndims).read_to_end(&mut out).map_err(io)?;
    let declared = idx_declared_len(&out);
    if let Some(d) = declared.filter(|&d| d > MAX_IDX_BYTES) {
        return Err(DataError::TooLarge {
            path: path.to_owned(),
            declared: d,
            max: MAX_IDX_BYTES,
        });
    }
    // At least a full MNIST header (16 bytes), so the parser names a wrong magic or rank
    // rather than a truncation.
    let limit = declared.unwrap_or(MAX_IDX_BYTES).max(16) + 1;
    out.reserve(
        usize::try_from(limit)
            .unwrap_or(0)
            .saturating_sub(out.len()),
    );
    (&mut r)
        .take(limit.saturating_sub(out.len() as u64))
        .read_to_end(&mut out)
        .map_err(io)?;
    Ok(out)
}

/// Decompresses `bytes` if they are gzip (whatever the file name), else returns them as is.
/// Decompression stops at the size the IDX header declares (see [`read_idx_bounded`]).
pub(crate) fn decompress(path: &Path, bytes: Vec<u8>) -> Result<Vec<u8>, DataError> {
    if !is_gzip(&bytes) {
        return Ok(bytes);
    }
    read_idx_bounded(path, flate2::read::MultiGzDecoder::new(bytes.as_slice())).map_err(|e| match e
    {
        DataError::Read { path, source } => DataError::Gzip { path, source },
        other => other,
    })
}

/// Reads `path` and decompresses it if it is gzip; neither the file nor its decompressed
/// content is read past the size the IDX header declares (plus one byte, capped).
pub(crate) fn read_decompressed(path: &Path) -> Result<Vec<u8>, DataError> {
    let file = std::fs::File::open(path).map_err(|source| DataError::Read {
        path: path.to_owned(),
        source,
    })?;
    let mut r = std::io::BufReader::new(file);
    let gzip = is_gzip(r.fill_buf().map_err(|source| DataError::Read {
        path: path.to_owned(),
        source,
    })?);
    if !gzip {
        return read_idx_bounded(path, r);
    }
    // A gzip file is never larger than its (capped) content plus a little framing.
    let mut bytes = Vec::new();
    r.take(MAX_IDX_BYTES + (1 << 20))
        .read_to_end(&mut bytes)
        .map_err(|source| DataError::Read {
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
    let (image_path, image_bytes) = image_res?;
    let (label_path, label_bytes) = match label_res {
        Ok(r) => r?,
        Err(panic) => std::panic::resume_unwind(panic),
    };
    Split::from_idx(image_bytes, label_bytes).map_err(|source| match source {
        IdxError::CountMismatch { images, labels } => DataError::CountMismatch {
            images: image_path,
            labels: label_path,
            images_count: images,
            labels_count: labels,
        },
        // Both files were parsed above, so this is not reached; name the file it is about.
        source => DataError::Idx {
            path: if idx_kind(&source) == Some(IdxKind::Labels) {
                label_path
            } else {
                image_path
            },
            source,
        },
    })
}

/// Which file an [`IdxError`] is about, if it is about one.
fn idx_kind(e: &IdxError) -> Option<IdxKind> {
    match e {
        IdxError::TooShort { kind, .. }
        | IdxError::BadMagic { kind, .. }
        | IdxError::Truncated { kind, .. }
        | IdxError::TrailingBytes { kind, .. } => Some(*kind),
        IdxError::WrongDimensions { .. } => Some(IdxKind::Images),
        IdxError::LabelOutOfRange { .. } => Some(IdxKind::Labels),
        IdxError::CountMismatch { .. } => None,
    }
}
