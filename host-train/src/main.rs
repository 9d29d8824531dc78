//! `sumi-train`: trains Sumi's digit models with burn, quantizes them to the `sumi-core` int8
//! blob, and evaluates or runs them through the core.
//!
//! Modules:
//! * [`model`]: the burn model and its presets (`default`, `tiny`);
//! * [`data`]: train/validation split, batching, augmentation, seeded RNG streams;
//! * [`train`]: training loop, learning-rate schedule, Ctrl-C, resume;
//! * [`checkpoint`]: run directories, checkpoints, atomic writes;
//! * [`metrics`]: per-epoch metrics, `metrics.csv`, confusion matrix;
//! * [`plot`]: `curves.png`, `confusion.png`, `mistakes.png` (plotters, bitmap backend);
//! * [`quantize`]: calibration, post-training int8 quantization, blob export;
//! * [`calibrate`]: the softmax temperature fitted on validation, NLL and ECE;
//! * [`eval`]: int8 test-set evaluation through the core;
//! * [`predict`]: classify image files through the core's preprocessing and inference;
//! * [`bench`]: training throughput of each burn backend;
//! * [`onnx`]: `export-onnx`, the float network of a blob or checkpoint as ONNX.
#![forbid(unsafe_code)]

mod bench;
mod calibrate;
mod checkpoint;
mod data;
mod eval;
mod metrics;
mod model;
mod onnx;
mod plot;
mod predict;
mod quantize;
mod train;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Parser, Subcommand};

use checkpoint::{Backend, RunConfig};
use model::Preset;

#[derive(Parser)]
#[command(
    name = "sumi-train",
    version,
    about = "Train, quantize, evaluate and run Sumi digit models"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Train a model, then quantize and export it (run directory: --out).
    Train(TrainArgs),
    /// Re-export the int8 blob from a run directory's checkpoint.
    Export(ExportArgs),
    /// Write the float network of a blob (dequantized) or checkpoint as an ONNX model.
    ExportOnnx(onnx::ExportOnnxArgs),
    /// Fit a blob's softmax temperature on the validation split and write it as a
    /// format-version-2 blob (integer weights and logits unchanged).
    Calibrate(CalibrateArgs),
    /// int8 accuracy of a blob on the 10,000 test images (through sumi-core).
    Eval(EvalArgs),
    /// Classify image files (PNG/JPEG/BMP, any size, either polarity).
    Predict(PredictArgs),
    /// Exact-duplicate leak audit of train/validation/test.
    Audit(DataArgs),
    /// Training throughput (images/s) of each burn backend.
    Bench(BenchArgs),
    /// Print a digest of a checkpoint's float weights (bit-exact comparison of runs).
    #[command(hide = true)]
    Digest {
        /// Run directory.
        #[arg(long)]
        checkpoint: PathBuf,
    },
}

#[derive(Args, Clone)]
struct DataArgs {
    /// MNIST directory (default: env MNIST_DIR, else the per-user cache).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(Args)]
struct TrainArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Model preset.
    #[arg(long, value_enum, default_value = "default")]
    preset: Preset,
    /// Custom architecture instead of the preset's, e.g. "16,32p,32p/48,10" (convolution
    /// widths, p = 2x2 max-pool, '/', dense widths ending in 10); the rest of the preset's
    /// recipe is kept.
    #[arg(long)]
    arch: Option<String>,
    /// Dropout before each dense layer (default: the preset's).
    #[arg(long)]
    dropout: Option<f64>,
    /// Batch normalisation after every convolution (folded into it at export).
    #[arg(long)]
    batch_norm: bool,
    /// Label smoothing of the training loss, in [0, 1) (default: the preset's).
    #[arg(long)]
    label_smoothing: Option<f32>,
    /// Epochs (default: the preset's recipe).
    #[arg(long)]
    epochs: Option<usize>,
    #[arg(long, default_value_t = 128)]
    batch_size: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Peak learning rate (AdamW; linear warm-up then cosine decay).
    #[arg(long, default_value_t = 3e-3)]
    lr: f64,
    /// Run directory (checkpoints, metrics.csv, curves.png, model.sumi).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Continue the run in this directory (its recipe is used; training flags are ignored).
    #[arg(long, conflicts_with = "out")]
    resume: Option<PathBuf>,
    /// Worker threads for the backend (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    #[arg(long, value_enum, default_value = "flex")]
    backend: Backend,
    /// Validation images held out of the 60k training set.
    #[arg(long, default_value_t = data::DEFAULT_VAL_SIZE)]
    val_size: usize,
    /// Train without augmentation.
    #[arg(long)]
    no_augment: bool,
    /// Use only the first N training images (quick experiments and tests).
    #[arg(long)]
    limit_train: Option<usize>,
    /// Cap the steps of each epoch (quick experiments and tests).
    #[arg(long)]
    max_steps_per_epoch: Option<usize>,
    /// Save a checkpoint and stop after N steps in this session, as Ctrl-C would (tests).
    #[arg(long, hide = true)]
    stop_after_steps: Option<usize>,
    /// Also copy the exported blob here (e.g. core/models/default.sumi).
    #[arg(long)]
    export_to: Option<PathBuf>,
    /// Skip quantization/export after training.
    #[arg(long)]
    no_export: bool,
    /// No progress bars or per-epoch lines.
    #[arg(long)]
    quiet: bool,
}

#[derive(Args)]
struct ExportArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Run directory written by `sumi-train train`.
    #[arg(long)]
    checkpoint: PathBuf,
    /// Where to write the blob (default: CHECKPOINT/model.sumi, with CHECKPOINT/export.json).
    /// With --out, only this file is written: the checkpoint's model.sumi is left as it is.
    #[arg(long)]
    out: Option<PathBuf>,
    #[arg(long)]
    threads: Option<usize>,
}

#[derive(Args)]
struct CalibrateArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Model blob to calibrate (version 1 or 2).
    #[arg(long)]
    model: PathBuf,
    /// Where to write the calibrated blob (may be --model itself; written atomically).
    #[arg(long)]
    out: PathBuf,
    /// Validation images held out of the 60k training set (default: the size the blob's
    /// recipe names, else the trainer's default).
    #[arg(long)]
    val_size: Option<usize>,
}

#[derive(Args)]
struct EvalArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Model blob (default: the embedded default model).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Run directory: also report the float accuracy of its checkpoint.
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Directory for confusion.png and mistakes.png.
    #[arg(long, default_value = "runs/eval")]
    out: PathBuf,
    /// Number of worst mistakes in mistakes.png.
    #[arg(long, default_value_t = 48)]
    mistakes: usize,
}

#[derive(Args)]
struct PredictArgs {
    /// Model blob (default: the embedded default model).
    #[arg(long)]
    model: Option<PathBuf>,
    /// One JSON object per line and file.
    #[arg(long)]
    json: bool,
    /// Image files.
    #[arg(required = true)]
    images: Vec<PathBuf>,
}

#[derive(Args)]
struct BenchArgs {
    #[command(flatten)]
    data: DataArgs,
    #[arg(long, value_enum, default_value = "default")]
    preset: Preset,
    /// Backends to measure (default: both).
    #[arg(long, value_enum)]
    backend: Vec<Backend>,
    /// Timed training steps per backend (after 2 warm-up steps).
    #[arg(long, default_value_t = 20)]
    steps: usize,
    #[arg(long, default_value_t = 128)]
    batch_size: usize,
    #[arg(long)]
    threads: Option<usize>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = match cli.cmd {
        Cmd::Train(a) => cmd_train(a),
        Cmd::Export(a) => cmd_export(a),
        Cmd::ExportOnnx(a) => onnx::cmd_export_onnx(a),
        Cmd::Calibrate(a) => cmd_calibrate(a),
        Cmd::Eval(a) => cmd_eval(a),
        Cmd::Predict(a) => cmd_predict(a),
        Cmd::Audit(a) => cmd_audit(a),
        Cmd::Digest { checkpoint } => cmd_digest(&checkpoint),
        Cmd::Bench(a) => bench::run(
            &a.data.data_dir,
            &a.backend,
            a.preset,
            a.steps,
            a.batch_size,
            a.threads,
        ),
    };
    match r {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

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

fn load_mnist(dir: &Option<PathBuf>) -> Result<sumi_data::Mnist> {
    sumi_data::load(dir.as_deref()).map_err(|e| anyhow!("cannot load MNIST: {e}"))
}

fn audit_report(mnist: &sumi_data::Mnist, cfg_val: usize) -> sumi_data::audit::LeakReport {
    let (tr, va) = data::split_train_val(mnist.train.n, cfg_val);
    let gather = |idx: &[usize]| -> Vec<u8> {
        idx.iter()
            .flat_map(|&i| mnist.train.image(i).iter().copied())
            .collect()
    };
    let (t, v) = (gather(&tr), gather(&va));
    sumi_data::audit::leak_audit(&[
        ("train", &t),
        ("validation", &v),
        ("test", &mnist.test.images),
    ])
}

fn cmd_audit(a: DataArgs) -> Result<ExitCode> {
    let mnist = load_mnist(&a.data_dir)?;
    print!("{}", audit_report(&mnist, data::DEFAULT_VAL_SIZE));
    Ok(ExitCode::SUCCESS)
}

/// ISO 8601 UTC timestamp (no external date crate).
fn now_iso() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The `train` flags that make `cfg` differ from its preset's architecture and loss.
fn arch_flags(cfg: &RunConfig) -> String {
    let recipe = train::default_config(cfg.preset);
    let preset = recipe.arch;
    let mut f = String::new();
    if cfg.arch.convs != preset.convs || cfg.arch.dense != preset.dense {
        f += &format!(" --arch {}", cfg.arch.spec());
    }
    if cfg.arch.dropout_permille != preset.dropout_permille {
        f += &format!(" --dropout {}", cfg.arch.dropout());
    }
    if cfg.arch.batch_norm && !preset.batch_norm {
        f += " --batch-norm";
    }
    if cfg.label_smoothing != recipe.label_smoothing {
        f += &format!(" --label-smoothing {}", cfg.label_smoothing);
    }
    f
}

fn recipe_string(cfg: &RunConfig) -> String {
    format!(
        "sumi-train train --preset {}{} --epochs {} --batch-size {} --seed {} --lr {} --backend {}{}{}{} | {} | AdamW wd {} warm-up {} steps then cosine to {}x | augment shift ±{}px rot ±{}° scale ±{}% | val {} of 60k train",
        cfg.preset.name(),
        arch_flags(cfg),
        cfg.epochs,
        cfg.batch_size,
        cfg.seed,
        cfg.lr,
        cfg.backend.name(),
        if cfg.augment.is_none() {
            " --no-augment"
        } else {
            ""
        },
        cfg.limit_train
            .map(|n| format!(" --limit-train {n}"))
            .unwrap_or_default(),
        cfg.max_steps_per_epoch
            .map(|n| format!(" --max-steps-per-epoch {n}"))
            .unwrap_or_default(),
        cfg.arch.describe(),
        cfg.weight_decay,
        cfg.warmup_steps,
        cfg.min_lr_ratio,
        cfg.augment.shift,
        cfg.augment.rotate_deg,
        cfg.augment.scale * 100.0,
        cfg.val_size,
    )
}

/// The training recipe for a new run: the preset's, with the command line's changes.
fn run_config(a: &TrainArgs) -> Result<RunConfig> {
    let mut cfg = train::default_config(a.preset);
    if let Some(e) = a.epochs {
        cfg.epochs = e;
    }
    if cfg.epochs == 0 || a.batch_size == 0 {
        bail!("--epochs and --batch-size must be at least 1");
    }
    let dropout_permille = match a.dropout {
        None => cfg.arch.dropout_permille,
        Some(p) if (0.0..0.95).contains(&p) => (p * 1000.0).round() as u32,
        Some(p) => bail!("--dropout {p}: must be in [0, 0.95)"),
    };
    cfg.arch = match &a.arch {
        Some(spec) => {
            model::Arch::parse(spec, dropout_permille, a.batch_norm).map_err(anyhow::Error::msg)?
        }
        None => model::Arch {
            dropout_permille,
            batch_norm: a.batch_norm || cfg.arch.batch_norm,
            ..cfg.arch
        },
    };
    cfg.label_smoothing = a.label_smoothing.unwrap_or(cfg.label_smoothing);
    if !(0.0..1.0).contains(&cfg.label_smoothing) {
        bail!(
            "--label-smoothing {}: must be in [0, 1)",
            cfg.label_smoothing
        );
    }
    cfg.batch_size = a.batch_size;
    cfg.seed = a.seed;
    cfg.lr = a.lr;
    cfg.backend = a.backend;
    cfg.val_size = a.val_size;
    cfg.limit_train = a.limit_train;
    cfg.max_steps_per_epoch = a.max_steps_per_epoch;
    if a.no_augment {
        cfg.augment = data::Augment::NONE;
    }
    Ok(cfg)
}

fn cmd_train(a: TrainArgs) -> Result<ExitCode> {
    set_threads(a.threads)?;
    let (cfg, dir, net, optim, state) = if let Some(dir) = &a.resume {
        let dir = checkpoint::run_dir(dir)?;
        let (cfg, net, optim, state) = train::resume(&dir)?;
        eprintln!(
            "resuming {} at epoch {} step {} ({} of {} epochs done)",
            dir.display(),
            state.epoch + 1,
            state.step,
            state.epoch,
            cfg.epochs
        );
        (cfg, dir, net, optim, state)
    } else {
        let cfg = run_config(&a)?;
        let dir = a.out.clone().unwrap_or_else(|| {
            PathBuf::from(format!("runs/{}-seed{}", cfg.preset.name(), cfg.seed))
        });
        if dir.join(checkpoint::STATE_FILE).exists() {
            bail!(
                "{} already holds a run: continue it with --resume {0} or choose another --out",
                dir.display()
            );
        }
        checkpoint::save_config(&dir, &cfg)?;
        let net = train::init_model(&cfg, &cfg.backend.device().autodiff());
        let optim = train::optimizer(&cfg);
        (cfg, dir, net, optim, checkpoint::State::default())
    };
    // Load data (fails early and clearly on a bad --data-dir).
    let mnist = load_mnist(&a.data.data_dir)?;
    let report = audit_report(&mnist, cfg.val_size);
    eprintln!("{report}");
    if !report.is_clean() {
        eprintln!("warning: the leak audit found identical images across splits (see above)");
    }
    let sets = train::Sets::new(&mnist.train, &cfg);
    if !a.quiet {
        eprintln!(
            "model {}: {} ({} params)\ntrain {} images, validation {}, {} steps/epoch, batch {}, backend {}, run dir {}",
            cfg.preset.name(),
            cfg.arch.describe(),
            cfg.arch.params(),
            sets.train.len(),
            sets.val.len(),
            train::steps_per_epoch(&cfg, sets.train.len()),
            cfg.batch_size,
            cfg.backend.name(),
            dir.display()
        );
    }
    let session = train::Session {
        dir: dir.clone(),
        stop_after_steps: a.stop_after_steps,
        stop: train::ctrlc_flag(),
        quiet: a.quiet,
    };
    let (net, state, outcome) = train::train(&cfg, &sets, net, optim, state, &session)?;
    if outcome == train::Outcome::Interrupted {
        eprintln!(
            "stopped at epoch {} step {}; checkpoint saved. Continue with: sumi-train train --resume {}",
            state.epoch + 1,
            state.step,
            dir.display()
        );
        return Ok(ExitCode::from(130));
    }
    eprintln!("training done in {:.0}s", state.train_seconds);
    if a.no_export {
        return Ok(ExitCode::SUCCESS);
    }
    use burn::module::Module;
    let plain = net.valid();
    let out = Outputs {
        blob: dir.join("model.sumi"),
        report: Some(dir.join("export.json")),
        copy_to: a.export_to.clone(),
    };
    do_export(&cfg, &plain, &mnist, &sets, &out, &state)?;
    Ok(ExitCode::SUCCESS)
}

/// Where [`do_export`] writes.
struct Outputs {
    /// The blob.
    blob: PathBuf,
    /// `export.json` (the run directory's own export only).
    report: Option<PathBuf>,
    /// A second copy of the blob (`train --export-to`).
    copy_to: Option<PathBuf>,
}

fn do_export(
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
        created: now_iso(),
        recipe: format!(
            "{} | trained {:.0}s on {} ({} epochs)",
            recipe_string(cfg),
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
        "exported {} ({} bytes, arena {} bytes, {} params, {} weight bytes) in {:.0}s\n  calibration: {} images, percentile {}\n  validation: float {:.2}%  int8 {:.2}%\n  test:       float {:.2}%  int8 {:.2}%  (int8-float {:+.2} pp, agreement {:.2}%)\n  {fit}; on test (reported only): NLL {:.4} -> {:.4}, ECE {:.4} -> {:.4}",
        out.display(),
        rep.blob_bytes,
        rep.arena_bytes,
        rep.params,
        rep.weight_bytes,
        t.elapsed().as_secs_f64(),
        rep.calibration_images,
        rep.calibration_percentile,
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

fn cmd_export(a: ExportArgs) -> Result<ExitCode> {
    set_threads(a.threads)?;
    let dir = checkpoint::run_dir(&a.checkpoint)?;
    let cfg = checkpoint::load_config(&dir)?;
    let state = checkpoint::load_state(&dir)?;
    let net = checkpoint::load_model(&dir, &cfg, &state, &cfg.backend.device())?;
    let mnist = load_mnist(&a.data.data_dir)?;
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
    do_export(&cfg, &net, &mnist, &sets, &outputs, &state)?;
    Ok(ExitCode::SUCCESS)
}

fn cmd_calibrate(a: CalibrateArgs) -> Result<ExitCode> {
    let path = Some(a.model.clone());
    let (blob, name) = read_model(&path)?;
    let model = open_model(&blob, &name, &path)?;
    let (_, desc) = sumi_core::blob::decode(&blob).map_err(|e| anyhow!("{name}: {e}"))?;
    let val_size = a
        .val_size
        .or_else(|| calibrate::recipe_val_size(desc.meta.recipe))
        .unwrap_or(data::DEFAULT_VAL_SIZE);
    let mnist = load_mnist(&a.data.data_dir)?;
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

/// The blob `--model` names (read bounded: header first, never more than it declares) or the
/// embedded default, with a name for messages. [`open_model`] validates it.
fn read_model(path: &Option<PathBuf>) -> Result<(Vec<u8>, String)> {
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
fn open_model<'a>(
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

/// Makes sure `dir` exists and takes files, before a long run whose results go there.
fn check_writable(dir: &Path) -> Result<()> {
    let fail = |e: std::io::Error| {
        anyhow!(
            "--out {}: cannot write there ({e}); pass --out with a writable directory",
            dir.display()
        )
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    let probe = dir.join(format!(".sumi-write-test-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(fail)?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

fn cmd_eval(a: EvalArgs) -> Result<ExitCode> {
    let (blob, name) = read_model(&a.model)?;
    let model = open_model(&blob, &name, &a.model)?;
    check_writable(&a.out)?;
    let test = sumi_data::load_test(a.data.data_dir.as_deref())
        .map_err(|e| anyhow!("cannot load the MNIST test set: {e}"))?;
    let float_acc = match &a.checkpoint {
        Some(dir) => {
            let dir = checkpoint::run_dir(dir)?;
            let cfg = checkpoint::load_config(&dir)?;
            let state = checkpoint::load_state(&dir)?;
            let device = cfg.backend.device();
            let net = checkpoint::load_model(&dir, &cfg, &state, &device)?;
            let idx: Vec<usize> = (0..test.n).collect();
            Some(train::evaluate(&net, &test, &idx, &device).0)
        }
        None => None,
    };
    let ev = eval::evaluate(&model, &test)?;
    // Results first: a failure to draw the figures must not lose them.
    if a.json {
        println!("{}", ev.to_json(&name, float_acc));
    } else {
        println!(
            "model {name}: {} params, {} blob bytes, arena {} bytes, {} MACs",
            model.params(),
            blob.len(),
            model.arena_bytes(),
            model.macs()
        );
        println!(
            "int8 accuracy (sumi-core) on {} test images: {:.2}% ({} errors)",
            ev.images,
            100.0 * ev.accuracy(),
            ev.images as u32 - ev.confusion.correct()
        );
        if let Some(f) = float_acc {
            println!("float accuracy (checkpoint): {:.2}%", 100.0 * f);
        }
        let (t, before, after) = (ev.temperature, &ev.uncalibrated, &ev.calibrated);
        println!(
            "confidence: temperature {t:.4}; test NLL {:.4} (T=1) -> {:.4}, ECE {:.4} (T=1) -> {:.4}, mean confidence {:.2}% -> {:.2}%",
            before.nll,
            after.nll,
            before.ece,
            after.ece,
            100.0 * before.mean_confidence,
            100.0 * after.mean_confidence
        );
        print!("{}", ev.confusion.table());
    }
    ev.write_figures(&a.out, &test, a.mistakes)?;
    if !a.json {
        println!(
            "wrote {} and {}",
            a.out.join("confusion.png").display(),
            a.out.join("mistakes.png").display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn cmd_predict(a: PredictArgs) -> Result<ExitCode> {
    let (blob, name) = read_model(&a.model)?;
    let model = open_model(&blob, &name, &a.model)?;
    let mut failed = 0;
    for f in &a.images {
        let r = predict::predict_file(&model, f);
        if r.is_err() {
            failed += 1;
        }
        if a.json {
            println!("{}", predict::json_line(f, &r));
        } else {
            match &r {
                Ok(p) => println!(
                    "{}: {} ({:.1}%)",
                    f.display(),
                    p.digit,
                    100.0 * p.confidence
                ),
                Err(e) => eprintln!("error: {e:#}"),
            }
        }
    }
    Ok(if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn cmd_digest(dir: &Path) -> Result<ExitCode> {
    let dir = checkpoint::run_dir(dir)?;
    let cfg = checkpoint::load_config(&dir)?;
    let state = checkpoint::load_state(&dir)?;
    let net = checkpoint::load_model(&dir, &cfg, &state, &cfg.backend.device())?;
    let (h, n) = checkpoint::weights_digest(&net);
    println!(
        "{h:016x} {n} epoch {} step {} global_step {}",
        state.epoch, state.step, state.global_step
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(args: &[&str]) -> Result<RunConfig> {
        let cli = Cli::try_parse_from(["sumi-train", "train"].iter().chain(args))?;
        match cli.cmd {
            Cmd::Train(a) => run_config(&a),
            _ => unreachable!(),
        }
    }

    /// `--preset X` alone is exactly the preset's recipe (the committed model's reproduction
    /// command relies on it), and each flag changes only its own field.
    #[test]
    fn train_flags_override_only_what_they_name() {
        for p in [Preset::Default, Preset::Tiny] {
            let c = config(&["--preset", p.name()]).unwrap();
            assert_eq!(c, train::default_config(p));
            assert_eq!(arch_flags(&c), "");
        }
        let c = config(&["--label-smoothing", "0"]).unwrap();
        assert_eq!(c.label_smoothing, 0.0);
        assert_eq!(c.arch, Preset::Default.arch());
        assert_eq!(arch_flags(&c), " --label-smoothing 0");
        let c = config(&[
            "--arch",
            "16,32p,32p/48,10",
            "--batch-norm",
            "--dropout",
            "0.1",
        ])
        .unwrap();
        assert_eq!(c.arch.spec(), "16,32p,32p/48,10");
        assert!(c.arch.batch_norm);
        assert_eq!(c.arch.dropout_permille, 100);
        assert_eq!(
            c.label_smoothing,
            train::default_config(Preset::Default).label_smoothing
        );
        assert_eq!(
            arch_flags(&c),
            " --arch 16,32p,32p/48,10 --dropout 0.1 --batch-norm"
        );
        assert!(config(&["--label-smoothing", "1"]).is_err());
    }
}
