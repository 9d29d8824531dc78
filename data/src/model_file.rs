//! Bounded reading of a Sumi model blob file (`--model FILE` of the trainer and the app).
//!
//! The 20-byte header is read first and checked ([`sumi_core::blob::blob_len`]: magic, version,
//! flags, and a declared size of at most [`sumi_core::blob::MAX_BLOB_BYTES`]); then exactly the
//! declared number of bytes is read, plus one to tell a longer file. So `/dev/zero`, a FIFO or a
//! multi-gigabyte file costs at most 16 MiB and is answered at once, never read until memory
//! runs out. The caller validates the bytes with [`sumi_core::Model::from_bytes`].

use std::io::Read;
use std::path::{Path, PathBuf};

use sumi_core::BlobError;
use sumi_core::blob::HEADER_LEN;

/// Why a model file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ModelFileError {
    /// The file could not be opened or read.
    #[error("cannot read model file {}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The header is not that of a Sumi blob this build reads, or declares too many bytes.
    #[error("{} is not a valid Sumi model: {source}", .path.display())]
    Header {
        /// The file.
        path: PathBuf,
        /// What the header check found.
        source: BlobError,
    },
    /// The file goes on past the size its header declares.
    #[error(
        "{} is longer than the {declared} bytes its header declares: not a Sumi model, or \
         something was appended to it; re-export it with sumi-train",
        .path.display()
    )]
    TooLong {
        /// The file.
        path: PathBuf,
        /// Header plus declared payload.
        declared: usize,
    },
}

/// Reads the blob in `path`, never more than its header declares (see the module docs). A file
/// shorter than declared is returned as is: the loader reports the exact length mismatch.
pub fn read(path: &Path) -> Result<Vec<u8>, ModelFileError> {
    let io = |source| ModelFileError::Io {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut head = Vec::with_capacity(HEADER_LEN);
    let mut reader = file.take(HEADER_LEN as u64);
    reader.read_to_end(&mut head).map_err(io)?;
    let declared = sumi_core::blob::blob_len(&head).map_err(|source| ModelFileError::Header {
        path: path.to_owned(),
        source,
    })?;
    let mut bytes = head;
    bytes.reserve_exact(declared - HEADER_LEN);
    reader.set_limit((declared - HEADER_LEN + 1) as u64);
    reader.read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() > declared {
        return Err(ModelFileError::TooLong {
            path: path.to_owned(),
            declared,
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_zero_is_refused_after_the_header() {
        let p = Path::new("/dev/zero");
        if !p.exists() {
            return;
        }
        let e = read(p).unwrap_err();
        assert!(
            matches!(
                e,
                ModelFileError::Header {
                    source: BlobError::BadMagic(_),
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn reads_exactly_the_declared_bytes_and_refuses_longer_files() {
        let dir = tempfile::tempdir().unwrap();
        let blob = sumi_core::models::DEFAULT;
        let ok = dir.path().join("ok.sumi");
        std::fs::write(&ok, blob).unwrap();
        assert_eq!(read(&ok).unwrap(), blob);
        // A valid header followed by 64 MiB more than it declares: refused, not read whole.
        let long = dir.path().join("long.sumi");
        let mut bytes = blob.to_vec();
        bytes.resize(blob.len() + (64 << 20), 0);
        std::fs::write(&long, &bytes).unwrap();
        let e = read(&long).unwrap_err();
        assert!(matches!(e, ModelFileError::TooLong { .. }), "{e:?}");
        assert!(e.to_string().contains("longer than"), "{e}");
        // A header declaring 4 GiB.
        let mut huge = blob[..HEADER_LEN].to_vec();
        huge[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        let p = dir.path().join("huge.sumi");
        std::fs::write(&p, &huge).unwrap();
        let e = read(&p).unwrap_err();
        assert!(
            matches!(
                e,
                ModelFileError::Header {
                    source: BlobError::TooLarge { .. },
                    ..
                }
            ),
            "{e:?}"
        );
        // A truncated file is returned for the loader to report.
        let short = dir.path().join("short.sumi");
        std::fs::write(&short, &blob[..100]).unwrap();
        assert_eq!(read(&short).unwrap().len(), 100);
        let e = read(&dir.path().join("missing.sumi")).unwrap_err();
        assert!(e.to_string().contains("missing.sumi"), "{e}");
    }
}
