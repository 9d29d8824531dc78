//! The `export-onnx` subcommand: its arguments, reading the source (a run directory's
//! checkpoint, a blob file or the embedded default model) into a float network, and writing
//! that network's ONNX bytes.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow};

use super::FloatNet;
use super::from_blob::from_blob;
use super::from_checkpoint::from_checkpoint;
use super::graph::to_bytes;
use super::{IR_VERSION, OPSET};

/// `sumi-train export-onnx`.
#[derive(clap::Args)]
pub struct ExportOnnxArgs {
    /// Model blob to export (default: the embedded default model).
    #[arg(long, conflicts_with = "checkpoint")]
    model: Option<PathBuf>,
    /// Export a run directory's float checkpoint instead of a blob.
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Where to write the ONNX model.
    #[arg(long)]
    out: PathBuf,
}

pub fn cmd_export_onnx(a: ExportOnnxArgs) -> Result<ExitCode> {
    let (net, what) = match (&a.checkpoint, &a.model) {
        (Some(dir), _) => checkpoint_net(dir)?,
        (None, path) => blob_net(path)?,
    };
    let bytes = to_bytes(&net);
    sumi_data::write_atomic(&a.out, &bytes)
        .with_context(|| format!("cannot write {}", a.out.display()))?;
    eprintln!(
        "wrote {} ({} bytes, ONNX IR {IR_VERSION}, opset {OPSET}): float network of {what}; input `input` float [N, {}, {}, {}] = pixels / 255, output `logits` [N, {}]",
        a.out.display(),
        bytes.len(),
        net.input[0],
        net.input[1],
        net.input[2],
        net.classes
    );
    Ok(ExitCode::SUCCESS)
}

/// The float network of a run directory's checkpoint, and what it is for the message.
fn checkpoint_net(dir: &Path) -> Result<(FloatNet, String)> {
    use crate::checkpoint;
    let dir = checkpoint::run_dir(dir)?;
    let cfg = checkpoint::load_config(&dir)?;
    let state = checkpoint::load_state(&dir)?;
    let net = checkpoint::load_model(&dir, &cfg, &state, &cfg.backend.device())?;
    let name = format!("sumi-{}", cfg.preset.name());
    Ok((
        from_checkpoint(&net, &cfg.arch, &name)?,
        format!("checkpoint {}", dir.display()),
    ))
}

/// The dequantized float network of a blob file (`None`: the embedded default model), and
/// what it is for the message. The blob must load in the core.
fn blob_net(path: &Option<PathBuf>) -> Result<(FloatNet, String)> {
    let (bytes, name) = crate::commands::read_model(path)?;
    sumi_core::Model::from_bytes(&bytes)
        .map_err(|e| anyhow!("{name} is not a usable Sumi model: {e}"))?;
    let (_, desc) = sumi_core::blob::decode(&bytes)
        .map_err(|e| anyhow!("{name} is not a usable Sumi model: {e}"))?;
    Ok((from_blob(&desc)?, format!("blob {name}")))
}
