//! Run directories and checkpoints.
//!
//! A run directory holds `config.json` (the recipe), and a checkpoint made of
//! `model-<tag>.bpk` (burn module record), `optim-<tag>.bpk` (optimizer record) and
//! `state.json` (progress and metric history) which names the two record files. Every file is
//! written atomically ([`sumi_data::write_atomic`]: a temporary file renamed into place), and
//! `state.json` last, so a crash at any moment leaves the previous checkpoint intact.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use sumi_data::write_atomic;

use crate::data::Augment;
use crate::metrics::EpochMetrics;
use crate::model::{Arch, Net, Preset};

/// Which burn backend to train on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// burn's Flex CPU backend (gemm + rayon): the default, much faster.
    Flex,
    /// burn-ndarray (deprecated in burn 0.22, kept for comparison).
    Ndarray,
}

impl Backend {
    pub fn device(self) -> Device {
        match self {
            Backend::Flex => Device::flex(),
            #[allow(deprecated)]
            Backend::Ndarray => Device::ndarray(),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Flex => "flex",
            Backend::Ndarray => "ndarray",
        }
    }
}

/// The training recipe: everything that determines the final weights.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RunConfig {
    pub preset: Preset,
    pub arch: Arch,
    pub epochs: usize,
    pub batch_size: usize,
    pub seed: u64,
    pub backend: Backend,
    pub lr: f64,
    pub warmup_steps: usize,
    pub min_lr_ratio: f64,
    pub weight_decay: f32,
    /// Label smoothing of the training loss (0 = plain cross-entropy).
    #[serde(default)]
    pub label_smoothing: f32,
    pub augment: Augment,
    pub val_size: usize,
    /// Use only the first N training images (after the split); for quick tests.
    pub limit_train: Option<usize>,
    /// Steps per epoch cap (for quick tests); `None` = full epochs.
    pub max_steps_per_epoch: Option<usize>,
    /// The run whose weights this one started from (`--init-from`), instead of seeded random
    /// ones.
    #[serde(default)]
    pub init_from: Option<PathBuf>,
    /// Activation quantization-aware training (`--act-quant`, [`Net::act_ranges`]).
    #[serde(default)]
    pub act_quant: bool,
    /// Knowledge distillation from a teacher blob (`--distill-from`).
    #[serde(default)]
    pub distill: Option<crate::distill::Distill>,
}

/// Partial epoch progress (only when the run was interrupted mid-epoch).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Partial {
    pub loss_sum: f64,
    pub correct: usize,
    pub seen: usize,
    pub seconds: f64,
}

/// Progress of a run.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct State {
    /// Next epoch to run (0-based); equals `epochs` when training is complete.
    pub epoch: usize,
    /// Next step within `epoch`.
    pub step: usize,
    /// Optimizer steps taken so far.
    pub global_step: usize,
    pub partial: Partial,
    pub history: Vec<EpochMetrics>,
    /// File names (relative to the run directory) of the current records.
    pub model_file: String,
    pub optim_file: String,
    /// Seconds spent training so far (summed over sessions).
    pub train_seconds: f64,
    /// `--act-quant` runs: the model's activation ranges ([`Net::act_ranges`]), which are not
    /// part of burn's module record. Empty otherwise.
    #[serde(default)]
    pub act_ranges: Vec<f64>,
}

pub const CONFIG_FILE: &str = "config.json";
pub const STATE_FILE: &str = "state.json";

pub fn save_config(dir: &Path, cfg: &RunConfig) -> Result<()> {
    fs::create_dir_all(dir)
        .with_context(|| format!("cannot create run directory {}", dir.display()))?;
    Ok(write_atomic(
        &dir.join(CONFIG_FILE),
        &serde_json::to_vec_pretty(cfg)?,
    )?)
}

pub fn load_config(dir: &Path) -> Result<RunConfig> {
    let p = dir.join(CONFIG_FILE);
    let bytes = fs::read(&p).with_context(|| {
        format!(
            "cannot read {}: is {} a sumi-train run directory (made by `sumi-train train --out DIR`)?",
            p.display(),
            dir.display()
        )
    })?;
    let cfg: RunConfig = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is corrupt or from an incompatible version", p.display()))?;
    cfg.validate().with_context(|| {
        format!(
            "{} is corrupt: it holds a recipe sumi-train would never write; delete the run directory and train again",
            p.display()
        )
    })?;
    Ok(cfg)
}

impl RunConfig {
    /// The checks `train` applies to its flags, applied to a recipe read back from disk: a
    /// hand-edited or corrupt `config.json` is refused, never trained (a batch size of 0 used
    /// to divide by zero, 0 epochs to declare the run done).
    pub fn validate(&self) -> Result<()> {
        let finite_pos = |v: f64| v.is_finite() && v > 0.0;
        let checks: [(bool, String); 10] = [
            (
                self.epochs >= 1,
                format!("epochs {} (must be at least 1)", self.epochs),
            ),
            (
                self.batch_size >= 1,
                format!("batch_size {} (must be at least 1)", self.batch_size),
            ),
            (
                finite_pos(self.lr),
                format!("lr {} (must be a positive number)", self.lr),
            ),
            (
                (0.0..=1.0).contains(&self.min_lr_ratio),
                format!("min_lr_ratio {} (must be in [0, 1])", self.min_lr_ratio),
            ),
            (
                self.weight_decay.is_finite() && self.weight_decay >= 0.0,
                format!("weight_decay {} (must be >= 0)", self.weight_decay),
            ),
            (
                (0.0..1.0).contains(&self.label_smoothing),
                format!(
                    "label_smoothing {} (must be in [0, 1))",
                    self.label_smoothing
                ),
            ),
            (
                self.val_size < 60_000,
                format!(
                    "val_size {} (must be below the 60,000 training images)",
                    self.val_size
                ),
            ),
            (
                self.limit_train != Some(0) && self.max_steps_per_epoch != Some(0),
                "limit_train / max_steps_per_epoch of 0".to_owned(),
            ),
            (
                [
                    self.augment.shift,
                    self.augment.rotate_deg,
                    self.augment.scale,
                ]
                .iter()
                .all(|v| v.is_finite() && *v >= 0.0)
                    && self.augment.scale < 1.0,
                format!(
                    "augment {:?} (must be finite, >= 0, scale < 1)",
                    self.augment
                ),
            ),
            (
                self.arch.dropout_permille < 950
                    && Arch::parse(
                        &self.arch.spec(),
                        self.arch.dropout_permille,
                        self.arch.batch_norm,
                    )
                    .is_ok_and(|a| {
                        Arch {
                            weight_scale: self.arch.weight_scale,
                            ..a
                        } == self.arch
                    }),
                format!(
                    "arch {:?} (not an architecture sumi-train builds)",
                    self.arch
                ),
            ),
        ];
        match checks.into_iter().find(|(ok, _)| !ok) {
            Some((_, what)) => bail!("invalid {what}"),
            None => Ok(()),
        }
    }
}

impl State {
    /// Checks a checkpoint's progress against its recipe and the number of optimizer steps per
    /// epoch: a `state.json` claiming step 999999, a finished run that never ran, or record
    /// files outside the run directory is refused instead of trusted.
    pub fn validate(&self, cfg: &RunConfig, steps_per_epoch: usize) -> Result<()> {
        let plain = |f: &str| {
            !f.is_empty()
                && Path::new(f)
                    .file_name()
                    .is_some_and(|n| n == std::ffi::OsStr::new(f))
        };
        let done = self.epoch == cfg.epochs;
        let checks: [(bool, String); 6] = [
            (
                self.epoch <= cfg.epochs,
                format!("epoch {} of a {}-epoch run", self.epoch, cfg.epochs),
            ),
            (
                self.step < steps_per_epoch && !(done && self.step > 0),
                format!("step {} of an epoch of {steps_per_epoch} steps", self.step),
            ),
            (
                self.global_step == self.epoch * steps_per_epoch + self.step,
                format!(
                    "global_step {} (epoch {} step {} at {steps_per_epoch} steps per epoch makes {})",
                    self.global_step,
                    self.epoch,
                    self.step,
                    self.epoch * steps_per_epoch + self.step
                ),
            ),
            (
                self.history.len() == self.epoch,
                format!(
                    "{} epochs of metric history for {} finished epochs",
                    self.history.len(),
                    self.epoch
                ),
            ),
            (
                self.partial.seen <= self.step * cfg.batch_size
                    && self.train_seconds.is_finite()
                    && self.train_seconds >= 0.0,
                "partial-epoch counters".to_owned(),
            ),
            (
                plain(&self.model_file) && plain(&self.optim_file),
                format!(
                    "record file names {:?}, {:?} (must be plain names in the run directory)",
                    self.model_file, self.optim_file
                ),
            ),
        ];
        match checks.into_iter().find(|(ok, _)| !ok) {
            Some((_, what)) => bail!(
                "checkpoint state is corrupt: {what}; delete the run directory and train again"
            ),
            None => Ok(()),
        }
    }
}

/// Save model + optimizer + state as one checkpoint and delete the previous records.
pub fn save(dir: &Path, model: &Net, optim: &ModuleOptimizer, state: &mut State) -> Result<()> {
    state.act_ranges.clone_from(&model.act_ranges);
    let tag = format!("e{}s{}", state.epoch, state.step);
    let model_file = format!("model-{tag}.bpk");
    let optim_file = format!("optim-{tag}.bpk");
    let mbytes = model
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| anyhow::anyhow!("cannot serialise the model: {e:?}"))?;
    write_atomic(&dir.join(&model_file), &mbytes)?;
    let obytes = optim
        .into_bytes()
        .map_err(|e| anyhow::anyhow!("cannot serialise the optimizer state: {e:?}"))?;
    write_atomic(&dir.join(&optim_file), &obytes)?;
    let old = (
        std::mem::replace(&mut state.model_file, model_file),
        std::mem::replace(&mut state.optim_file, optim_file),
    );
    write_atomic(&dir.join(STATE_FILE), &serde_json::to_vec_pretty(state)?)?;
    for f in [old.0, old.1] {
        if !f.is_empty() && f != state.model_file && f != state.optim_file {
            let _ = fs::remove_file(dir.join(f));
        }
    }
    Ok(())
}

pub fn load_state(dir: &Path) -> Result<State> {
    let p = dir.join(STATE_FILE);
    let bytes = fs::read(&p).with_context(|| {
        format!(
            "cannot read {}: {} holds no checkpoint (train with --out DIR first)",
            p.display(),
            dir.display()
        )
    })?;
    serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "checkpoint state {} is corrupt; delete the run directory and train again",
            p.display()
        )
    })
}

fn read_record(path: &Path) -> Result<burn::tensor::Bytes> {
    let bytes = fs::read(path)
        .with_context(|| format!("cannot read checkpoint file {}", path.display()))?;
    Ok(burn::tensor::Bytes::from_bytes_vec(bytes))
}

/// Load the model weights of the checkpoint in `dir` into a freshly built `Net`.
pub fn load_model(dir: &Path, cfg: &RunConfig, state: &State, device: &Device) -> Result<Net> {
    let path = dir.join(&state.model_file);
    let bytes = read_record(&path)?;
    let record = burn::store::ModuleRecord::from_bytes(bytes)
        .map_err(|e| anyhow::anyhow!("checkpoint {} is corrupt: {e:?}", path.display()))?;
    let mut net = Net::new(&cfg.arch, device)
        .try_load_record(record)
        .map_err(|e| {
            anyhow::anyhow!(
                "checkpoint {} does not match the model: {e:?}",
                path.display()
            )
        })?;
    let hidden = cfg.arch.hidden_layers();
    if !state.act_ranges.is_empty() && state.act_ranges.len() != hidden {
        bail!(
            "{} is corrupt: it holds {} activation ranges for a model with {hidden} hidden layers; delete the run directory and train again",
            dir.join(STATE_FILE).display(),
            state.act_ranges.len()
        );
    }
    net.act_ranges.clone_from(&state.act_ranges);
    Ok(net)
}

/// Load the optimizer state of the checkpoint in `dir`.
pub fn load_optim(dir: &Path, state: &State, optim: ModuleOptimizer) -> Result<ModuleOptimizer> {
    let path = dir.join(&state.optim_file);
    let bytes = read_record(&path)?;
    // Check the bytes decode before handing them to burn (whose loader may panic on garbage).
    let record = burn::optim::OptimizerRecord::from_bytes(bytes).map_err(|e| {
        anyhow::anyhow!("optimizer checkpoint {} is corrupt: {e:?}", path.display())
    })?;
    Ok(optim.load_record(record))
}

/// Resolve a checkpoint argument: a run directory.
pub fn run_dir(path: &Path) -> Result<PathBuf> {
    if !path.is_dir() {
        bail!(
            "{} is not a directory: pass the run directory written by `sumi-train train --out DIR`",
            path.display()
        );
    }
    Ok(path.to_path_buf())
}

/// All parameters of `net` as f32, in a fixed order (conv weights and biases, then dense).
pub fn flat_params(net: &Net) -> Vec<f32> {
    fn take<const D: usize>(t: burn::tensor::Tensor<D>, out: &mut Vec<f32>) {
        out.extend(t.into_data().try_into_vec_as::<f32>().unwrap_or_default());
    }
    let mut v = Vec::new();
    for c in &net.convs {
        take(c.weight.val(), &mut v);
        if let Some(b) = &c.bias {
            take(b.val(), &mut v);
        }
    }
    for l in &net.dense {
        take(l.weight.val(), &mut v);
        if let Some(b) = &l.bias {
            take(b.val(), &mut v);
        }
    }
    v
}

/// FNV-1a over the exact bits of every parameter (and of `--act-quant` activation ranges):
/// equal digests = bit-identical weights.
pub fn weights_digest(net: &Net) -> (u64, usize) {
    let p = flat_params(net);
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let bytes = p.iter().flat_map(|x| x.to_bits().to_le_bytes());
    // `--act-quant` runs: their activation ranges are part of what training produced.
    let ranges = net
        .act_ranges
        .iter()
        .flat_map(|x| x.to_bits().to_le_bytes());
    for b in bytes.chain(ranges) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    (h, p.len())
}
