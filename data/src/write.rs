//! [`write_atomic`]: write a file so that readers see the old content or the new, never a part.

use std::io::Write as _;
use std::path::Path;

use crate::DataError;

/// Writes `bytes` to `path` atomically: into a temporary file in the same directory
/// (`.<name>.<random>.tmp`), synced, then renamed over `path`. On any failure the temporary
/// file is removed and `path` is left as it was.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("model.sumi");
/// sumi_data::write_atomic(&path, b"blob")?;
/// assert_eq!(std::fs::read(&path)?, b"blob");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Error: [`DataError::Write`] naming `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), DataError> {
    let err = |source| DataError::Write {
        path: path.to_owned(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .ok_or_else(|| {
            err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the path has no file name",
            ))
        })?;
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(err)?;
    tmp.write_all(bytes).map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    // A failed rename drops the temporary file with the error, which deletes it.
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 15 case 8: a write that fails (here the rename, onto a directory) leaves no
    /// temporary file behind and the target as it was.
    #[test]
    fn a_failed_write_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("model.sumi");
        std::fs::create_dir_all(&target).unwrap();
        let e = write_atomic(&target, b"blob").unwrap_err();
        assert!(
            matches!(&e, DataError::Write { path, .. } if *path == target),
            "{e}"
        );
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, [std::ffi::OsString::from("model.sumi")], "{left:?}");
        assert!(target.is_dir());
        write_atomic(&dir.path().join("ok"), b"x").unwrap();
        assert_eq!(std::fs::read(dir.path().join("ok")).unwrap(), b"x");
        assert!(write_atomic(Path::new("/"), b"x").is_err());
    }
}
