//! `sumi-train calibrate`: fit a blob's softmax temperature on the validation split and write
//! it as a current-format blob (integer weights and logits unchanged).

use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};

use crate::cli::CalibrateArgs;
use crate::{calibrate, data};

pub fn run(a: CalibrateArgs) -> Result<ExitCode> {
    let path = Some(a.model.clone());
    let (blob, name) = super::read_model(&path)?;
    let model = super::open_model(&blob, &name, &path)?;
    let (_, desc) = sumi_core::blob::decode(&blob).map_err(|e| anyhow!("{name}: {e}"))?;
    let val_size = a
        .val_size
        .or_else(|| calibrate::recipe_val_size(desc.meta.recipe))
        .unwrap_or(data::DEFAULT_VAL_SIZE);
    let mnist = super::load_mnist(&a.data.data_dir)?;
    if val_size == 0 || val_size >= mnist.train.n {
        bail!("--val-size {val_size}: must be 1 to {}", mnist.train.n - 1);
    }
    let (_, val) = data::split_train_val(mnist.train.n, val_size);
    let fit = calibrate::fit(&calibrate::score_set(&model, &mnist.train, &val)?)?;
    let mut desc = desc;
    desc.calibration.temperature = fit.temperature;
    let out = sumi_core::builder::encode_exact(&desc)
        .map_err(|e| anyhow!("cannot encode the calibrated blob: {e}"))?;
    // Same layers, byte for byte: the integer logits cannot change.
    let (_, back) = sumi_core::blob::decode(&out).map_err(|e| anyhow!("{e}"))?;
    let (_, orig) = sumi_core::blob::decode(&blob).map_err(|e| anyhow!("{e}"))?;
    if back.layers != orig.layers || back.logit_scale != orig.logit_scale {
        bail!("internal error: calibration changed the layers");
    }
    sumi_data::write_atomic(&a.out, &out)
        .with_context(|| format!("cannot write {}", a.out.display()))?;
    eprintln!(
        "{name}: {fit} (val {val_size} of 60k train); wrote {}",
        a.out.display()
    );
    println!(
        "{}",
        serde_json::json!({ "model": name, "val_size": val_size, "validation": fit })
    );
    Ok(ExitCode::SUCCESS)
}
