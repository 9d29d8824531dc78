//! `sumi-train export`: quantize a run's checkpoint into the int8 blob (also the last step of
//! `train`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Instant, SystemTime};

use anyhow::{Context, Result};

use crate::checkpoint::{self, RunConfig};
use crate::cli::ExportArgs;
use crate::{config, model, quantize, train};

/// Where [`export_run`] writes.
pub struct Outputs {
    /// The blob.
    pub blob: PathBuf,
    /// `export.json` (the run directory's own export only).
    pub report: Option<PathBuf>,
    /// A second copy of the blob (`train --export-to`).
    pub copy_to: Option<PathBuf>,
}

/// Calibrates, quantizes and measures `net` (see [`quantize::export`]) and writes the blob (and
/// `export.json`) to `outputs`.
pub fn export_run(
    cfg: &RunConfig,
    net: &model::Net,
    mnist: &sumi_data::Mnist,
    sets: &train::Sets<'_>,
    outputs: &Outputs,
    state: &checkpoint::State,
) -> Result<()> {
    let t = Instant::now();
    let calib: Vec<usize> = sets.train.iter().copied().take(2000).collect();
    let meta = quantize::Meta {
        name: format!("sumi-{}", cfg.preset.name()),
        created: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        recipe: format!(
            "{} | trained {:.0}s on {} ({} epochs)",
            config::recipe_string(cfg),
            state.train_seconds,
            cfg.backend.name(),
            state.epoch
        ),
        float_accuracy: None,
        int8_accuracy: None,
    };
    let device = cfg.backend.device();
    let (blob, rep) = quantize::export(
        net,
        &cfg.arch,
        &mnist.train,
        &calib,
        &sets.val,
        &mnist.test,
        meta,
        &device,
    )?;
    let out = &outputs.blob;
    sumi_data::write_atomic(out, &blob)?;
    if let Some(p) = &outputs.report {
        sumi_data::write_atomic(p, &serde_json::to_vec_pretty(&rep)?)?;
    }
    if let Some(p) = &outputs.copy_to {
        sumi_data::write_atomic(p, &blob)
            .with_context(|| format!("cannot write {}", p.display()))?;
    }
    let (fit, tb, ta) = (
        &rep.calibration_validation,
        &rep.calibration_test_before,
        &rep.calibration_test_after,
    );
    eprintln!(
        "exported {} ({} bytes, arena {} bytes, {} params, {} weight bytes) in {:.0}s\n  calibration: {}\n  validation: float {:.2}%  int8 {:.2}%\n  test:       float {:.2}%  int8 {:.2}%  (int8-float {:+.2} pp, agreement {:.2}%)\n  {fit}; on test (reported only): NLL {:.4} -> {:.4}, ECE {:.4} -> {:.4}",
        out.display(),
        rep.blob_bytes,
        rep.arena_bytes,
        rep.params,
        rep.weight_bytes,
        t.elapsed().as_secs_f64(),
        if rep.trained_activation_ranges {
            format!(
                "activation ranges from --act-quant training, logit range on {} images",
                rep.calibration_images
            )
        } else {
            format!(
                "{} images, percentile {}",
                rep.calibration_images, rep.calibration_percentile
            )
        },
        100.0 * rep.val_float_accuracy,
        100.0 * rep.val_int8_accuracy,
        100.0 * rep.test_float_accuracy,
        100.0 * rep.test_int8_accuracy,
        100.0 * (rep.test_int8_accuracy - rep.test_float_accuracy),
        100.0 * rep.test_agreement,
        tb.nll,
        ta.nll,
        tb.ece,
        ta.ece,
    );
    Ok(())
}

pub fn run(a: ExportArgs) -> Result<ExitCode> {
    super::set_threads(a.threads)?;
    let dir = checkpoint::run_dir(&a.checkpoint)?;
    let cfg = checkpoint::load_config(&dir)?;
    let state = checkpoint::load_state(&dir)?;
    let net = checkpoint::load_model(&dir, &cfg, &state, &cfg.backend.device())?;
    let mnist = super::load_mnist(&a.data.data_dir)?;
    let sets = train::Sets::new(&mnist.train, &cfg);
    // --out names the only file written; without it, the run directory's own export.
    let outputs = match a.out {
        Some(blob) => Outputs {
            blob,
            report: None,
            copy_to: None,
        },
        None => Outputs {
            blob: dir.join("model.sumi"),
            report: Some(dir.join("export.json")),
            copy_to: None,
        },
    };
    export_run(&cfg, &net, &mnist, &sets, &outputs, &state)?;
    Ok(ExitCode::SUCCESS)
}
