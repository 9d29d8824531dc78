//! One module per `sumi-train` subcommand (`run` takes its parsed arguments), and what several
//! of them share: thread count, loading MNIST, reading and opening a model blob.

pub mod audit;
pub mod bench;
pub mod calibrate;
pub mod digest;
pub mod eval;
pub mod export;
pub mod predict;
pub mod train;
pub mod upgrade;

use std::path::PathBuf;

use anyhow::{Result, anyhow, bail};

/// Size rayon's global pool (used by Flex and ndarray).
pub fn set_threads(threads: Option<usize>) -> Result<()> {
    if let Some(n) = threads {
        if n == 0 {
            bail!("--threads must be at least 1");
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .map_err(|e| anyhow!("cannot set up {n} threads: {e}"))?;
    }
    Ok(())
}

/// Both MNIST splits, from `--data-dir` / `MNIST_DIR` / the cache.
pub fn load_mnist(dir: &Option<PathBuf>) -> Result<sumi_data::Mnist> {
    sumi_data::load(dir.as_deref()).map_err(|e| anyhow!("cannot load MNIST: {e}"))
}

/// The blob `--model` names (read bounded: header first, never more than it declares) or the
/// embedded default, with a name for messages. [`open_model`] validates it.
pub fn read_model(path: &Option<PathBuf>) -> Result<(Vec<u8>, String)> {
    use sumi_data::model_file::{self, ModelFileError};
    match path {
        Some(p) => {
            let name = p.display().to_string();
            let bytes = model_file::read(p).map_err(|e| match e {
                ModelFileError::Header { source, .. } => {
                    anyhow!("{name} is not a usable Sumi model: {source}")
                }
                other => anyhow!(other),
            })?;
            Ok((bytes, name))
        }
        None => Ok((
            sumi_core::models::DEFAULT.to_vec(),
            "embedded default".to_owned(),
        )),
    }
}

/// The model in `bytes` (read by [`read_model`] from `path`), validated and checked to be a
/// 28×28×1 → 10 digit classifier (the core's one rule): the one parse of a command.
pub fn open_model<'a>(
    bytes: &'a [u8],
    name: &str,
    path: &Option<PathBuf>,
) -> Result<sumi_core::Model<'a>> {
    let m = sumi_core::Model::from_bytes(bytes).map_err(|e| match path {
        Some(_) => anyhow!("{name} is not a usable Sumi model: {e}"),
        None => anyhow!("the embedded default model is not usable ({e}); pass --model FILE"),
    })?;
    m.check_digit_classifier()
        .map_err(|e| anyhow!("{name} cannot be used for MNIST digits: {e}"))?;
    Ok(m)
}
