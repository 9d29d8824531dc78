//! Finding the MNIST directory: `--data-dir` > `MNIST_DIR` > per-user cache (downloaded into
//! when files are missing).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::DataError;
use crate::download::{MIRRORS, download_missing};
use crate::error::Origin;
use crate::files::MnistFile;
use crate::read::find_file;

/// Name of the environment variable naming the MNIST directory.
pub const ENV_VAR: &str = "MNIST_DIR";

/// The per-user cache directory MNIST is downloaded into (`<cache>/sumi/mnist` on Linux,
/// e.g. `~/.cache/sumi/mnist`), or `None` if the system has no home directory.
pub fn cache_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "sumi").map(|d| d.cache_dir().join("mnist"))
}

/// Picks the directory and where it came from: argument > non-empty env value > cache.
pub(crate) fn choose(
    data_dir: Option<&Path>,
    env: Option<OsString>,
    cache: Option<PathBuf>,
) -> Result<(PathBuf, Origin), DataError> {
    if let Some(dir) = data_dir {
        return Ok((dir.to_owned(), Origin::Argument));
    }
    if let Some(dir) = env.filter(|v| !v.is_empty()) {
        return Ok((PathBuf::from(dir), Origin::EnvVar));
    }
    cache
        .map(|dir| (dir, Origin::Cache))
        .ok_or(DataError::NoCacheDir)
}

/// Checks that `dir` exists and holds every file of `files`.
pub(crate) fn check_dir(dir: &Path, origin: Origin, files: &[MnistFile]) -> Result<(), DataError> {
    if !dir.is_dir() {
        return Err(DataError::DirMissing {
            dir: dir.to_owned(),
            origin,
        });
    }
    match files.iter().find(|f| find_file(dir, f).is_none()) {
        Some(f) => Err(DataError::FileMissing {
            dir: dir.to_owned(),
            file: f.name,
        }),
        None => Ok(()),
    }
}

/// Locates a directory holding `files`, downloading into the cache if that is the one chosen.
pub(crate) fn locate_files(
    data_dir: Option<&Path>,
    files: &[MnistFile],
) -> Result<PathBuf, DataError> {
    let (dir, origin) = choose(data_dir, std::env::var_os(ENV_VAR), cache_dir())?;
    if origin == Origin::Cache {
        std::fs::create_dir_all(&dir).map_err(|source| DataError::Write {
            path: dir.clone(),
            source,
        })?;
        let missing: Vec<MnistFile> = files
            .iter()
            .filter(|f| find_file(&dir, f).is_none())
            .copied()
            .collect();
        download_missing(&dir, &missing, &MIRRORS)?;
    }
    check_dir(&dir, origin, files)?;
    Ok(dir)
}
