//! The training loop: learning-rate schedule, epochs, validation, checkpoints, Ctrl-C and resume.
//!
//! Reproducibility: burn's RNG is seeded once for weight initialisation; every later random
//! choice (shuffling, augmentation, dropout masks) comes from a stream derived from
//! `(seed, purpose, epoch, step)` in [`crate::data`]. A run interrupted at any step and resumed
//! from its checkpoint (weights + AdamW state + step) therefore takes exactly the same steps as
//! an uninterrupted one.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Context, Result};
use burn::module::Module;
use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::Device;
use indicatif::{ProgressBar, ProgressStyle};
use sumi_data::Split;

use crate::checkpoint::{self, Backend, RunConfig, State};
use crate::data::{self, Rng, purpose};
use crate::distill::{self, Distill};
use crate::metrics::{self, EpochMetrics};
use crate::model::{Net, Observed};
use crate::plot;

/// The learning rate at optimizer step `step` of `total`: linear warm-up from lr/20 to `lr`
/// over `warmup` steps, then cosine decay to `lr · min_ratio`.
pub fn learning_rate(cfg: &RunConfig, step: usize, total: usize) -> f64 {
    let warm = cfg.warmup_steps.min(total / 2).max(1);
    if step < warm {
        let f = (step as f64 + 1.0) / warm as f64;
        return cfg.lr * (0.05 + 0.95 * f);
    }
    let span = (total - warm).max(1) as f64;
    let t = ((step - warm) as f64 / span).min(1.0);
    let min = cfg.lr * cfg.min_lr_ratio;
    min + (cfg.lr - min) * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
}

/// The training and validation images of a run.
pub struct Sets<'a> {
    pub train_split: &'a Split,
    pub train: Vec<usize>,
    pub val: Vec<usize>,
}

impl<'a> Sets<'a> {
    pub fn new(train_split: &'a Split, cfg: &RunConfig) -> Sets<'a> {
        let (mut train, val) = data::split_train_val(train_split.n, cfg.val_size);
        if let Some(n) = cfg.limit_train {
            train.truncate(n);
        }
        Sets {
            train_split,
            train,
            val,
        }
    }
}

/// Images in the MNIST training file (split into training and validation by `val_size`).
pub const MNIST_TRAIN_IMAGES: usize = 60_000;

/// Weight of each batch's maximum in the moving average of an `--act-quant` run's activation
/// ranges ([`Net::act_ranges`]; PyTorch's observer uses the same 0.01).
pub const ACT_RANGE_MOMENTUM: f64 = 0.01;

pub fn steps_per_epoch(cfg: &RunConfig, n_train: usize) -> usize {
    let full = (n_train / cfg.batch_size).max(1);
    cfg.max_steps_per_epoch.map_or(full, |m| m.min(full))
}

/// How a call to [`train`] ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Finished,
    Interrupted,
}

/// Options that do not change the result.
pub struct Session {
    pub dir: PathBuf,
    /// Stop (as if interrupted) after this many optimizer steps in this session (tests).
    pub stop_after_steps: Option<usize>,
    /// Set by the Ctrl-C handler.
    pub stop: Arc<AtomicBool>,
    pub quiet: bool,
}

pub fn optimizer(cfg: &RunConfig) -> ModuleOptimizer {
    AdamWConfig::new()
        .with_weight_decay(cfg.weight_decay)
        .init()
}

/// Build a fresh model for `cfg` on `device` (seeded).
pub fn init_model(cfg: &RunConfig, device: &Device) -> Net {
    device.seed(Rng::derive(&[cfg.seed, purpose::INIT]).next_u64());
    Net::new(&cfg.arch, device)
}

/// Float accuracy and mean loss of `model` (no autodiff) on `indices` of `split`.
pub fn evaluate(model: &Net, split: &Split, indices: &[usize], device: &Device) -> (f64, f64) {
    let loss_fn = CrossEntropyLoss::new(None, device);
    let (mut correct, mut loss_sum) = (0usize, 0f64);
    for chunk in indices.chunks(500) {
        let b = data::batch(split, chunk, None, device);
        let logits = model.forward(b.images, None);
        let loss: f32 = loss_fn
            .forward(logits.clone(), b.targets)
            .into_scalar::<f32>();
        loss_sum += f64::from(loss) * chunk.len() as f64;
        correct += count_correct(&logits_vec(logits), &b.labels);
    }
    let n = indices.len().max(1) as f64;
    (correct as f64 / n, loss_sum / n)
}

/// Float class predictions of `model` for `indices` of `split`.
pub fn predict_float(model: &Net, split: &Split, indices: &[usize], device: &Device) -> Vec<u8> {
    let mut out = Vec::with_capacity(indices.len());
    for chunk in indices.chunks(500) {
        let b = data::batch(split, chunk, None, device);
        let v = logits_vec(model.forward(b.images, None));
        out.extend(v.chunks(10).map(|r| metrics::argmax(r) as u8));
    }
    out
}

pub fn logits_vec(t: burn::tensor::Tensor<2>) -> Vec<f32> {
    t.into_data().try_into_vec_as::<f32>().unwrap_or_default()
}

fn count_correct(logits: &[f32], labels: &[u8]) -> usize {
    logits
        .chunks(10)
        .zip(labels)
        .filter(|(r, l)| metrics::argmax(r) == usize::from(**l))
        .count()
}

/// Train (or continue training) the run in `session.dir`. `model`/`optim`/`state` come from
/// [`init_model`] + a fresh optimizer + `State::default()`, or from a checkpoint.
pub fn train(
    cfg: &RunConfig,
    sets: &Sets<'_>,
    mut model: Net,
    mut optim: ModuleOptimizer,
    mut state: State,
    session: &Session,
) -> Result<(Net, State, Outcome)> {
    let device = cfg.backend.device().autodiff();
    let plain = cfg.backend.device();
    let loss_fn = CrossEntropyLossConfig::new()
        .with_smoothing((cfg.label_smoothing > 0.0).then_some(cfg.label_smoothing))
        .init(&device);
    let spe = steps_per_epoch(cfg, sets.train.len());
    let total = spe * cfg.epochs;
    let mut session_steps = 0usize;
    let session_start = Instant::now();
    let train_seconds_at_start = state.train_seconds;
    let n_masks = cfg.arch.dense.len().min(1);
    let hidden = cfg.arch.hidden_layers();
    let teacher_blob = cfg
        .distill
        .as_ref()
        .map(Distill::load_teacher)
        .transpose()?;
    let teacher = match (&teacher_blob, &cfg.distill) {
        (Some(blob), Some(d)) => Some((
            sumi_core::Model::from_bytes(blob).map_err(|e| anyhow::anyhow!("teacher blob: {e}"))?,
            d,
        )),
        _ => None,
    };

    while state.epoch < cfg.epochs {
        let epoch = state.epoch;
        let mut order = sets.train.clone();
        Rng::derive(&[cfg.seed, purpose::SHUFFLE, epoch as u64]).shuffle(&mut order);
        let pb = progress_bar(spe as u64, epoch, cfg.epochs, session.quiet);
        pb.set_position(state.step as u64);
        let epoch_start = Instant::now();
        let seconds_before = state.partial.seconds;
        let mut lr = learning_rate(cfg, state.global_step, total);
        while state.step < spe {
            if session.stop.load(Ordering::SeqCst)
                || session.stop_after_steps.is_some_and(|n| session_steps >= n)
            {
                pb.abandon();
                state.partial.seconds = seconds_before + epoch_start.elapsed().as_secs_f64();
                state.train_seconds =
                    train_seconds_at_start + session_start.elapsed().as_secs_f64();
                checkpoint::save(&session.dir, &model, &optim, &mut state)?;
                return Ok((model, state, Outcome::Interrupted));
            }
            let step = state.step;
            let idx = &order[step * cfg.batch_size..((step + 1) * cfg.batch_size).min(order.len())];
            let parts = [cfg.seed, purpose::AUGMENT, epoch as u64, step as u64];
            let b = data::batch(sets.train_split, idx, Some((&cfg.augment, &parts)), &device);
            let mut mrng = Rng::derive(&[cfg.seed, purpose::DROPOUT, epoch as u64, step as u64]);
            let masks: Vec<_> = (0..n_masks)
                .map(|_| {
                    data::dropout_mask(
                        idx.len(),
                        cfg.arch.flat_len(),
                        cfg.arch.dropout(),
                        &mut mrng,
                        &device,
                    )
                })
                .collect();
            lr = learning_rate(cfg, state.global_step, total);
            // `--act-quant`: each hidden layer's batch maximum.
            let mut maxima = vec![0f64; if cfg.act_quant { hidden } else { 0 }];
            if cfg.act_quant && model.act_ranges.is_empty() {
                // The first step of an `--act-quant` run: ranges from its own batch.
                model.forward_observed(b.images.clone(), Some(&masks), record_max(&mut maxima));
                model.act_ranges.clone_from(&maxima);
            }
            // A distilled run's teacher reads the batch's images back (a copy only then).
            let pixels = match &teacher {
                Some(_) => Some(b.images.clone().into_data().try_to_vec::<f32>()?),
                None => None,
            };
            let logits = model.forward_observed(b.images, Some(&masks), record_max(&mut maxima));
            let mut loss = loss_fn.forward(logits.clone(), b.targets);
            if let (Some((teacher, d)), Some(pixels)) = (&teacher, &pixels) {
                let soft = distill::soft_targets(teacher, pixels, d.temperature, &device)?;
                let taught = distill::loss(logits.clone(), soft, d.temperature);
                loss = loss.mul_scalar(1.0 - f64::from(d.weight))
                    + taught.mul_scalar(f64::from(d.weight));
            }
            let loss_v: f32 = loss.clone().into_scalar::<f32>();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            // The optimizer's `map` moves skipped fields (the ranges) into the new model.
            model = optim.step(lr, model, grads);
            // Moving average of the batch maxima (before rounding), as PyTorch's
            // MovingAverageMinMaxObserver keeps them.
            for (r, m) in model.act_ranges.iter_mut().zip(&maxima) {
                *r += ACT_RANGE_MOMENTUM * (m - *r);
            }
            let correct = count_correct(&logits_vec(logits.inner()), &b.labels);

            state.partial.loss_sum += f64::from(loss_v) * idx.len() as f64;
            state.partial.correct += correct;
            state.partial.seen += idx.len();
            state.step += 1;
            state.global_step += 1;
            session_steps += 1;
            let secs = seconds_before + epoch_start.elapsed().as_secs_f64();
            pb.set_position(state.step as u64);
            pb.set_message(format!(
                "loss {:.4} acc {:.2}% {:.0} img/s lr {:.1e}",
                state.partial.loss_sum / state.partial.seen as f64,
                100.0 * state.partial.correct as f64 / state.partial.seen as f64,
                state.partial.seen as f64 / secs.max(1e-9),
                lr
            ));
        }
        pb.finish_and_clear();
        let secs = seconds_before + epoch_start.elapsed().as_secs_f64();
        let valid = model.valid(); // clones the activation ranges (a skipped field)
        let (val_acc, val_loss) = evaluate(&valid, sets.train_split, &sets.val, &plain);
        let p = &state.partial;
        let m = EpochMetrics {
            epoch: epoch + 1,
            lr,
            train_loss: p.loss_sum / p.seen.max(1) as f64,
            train_acc: p.correct as f64 / p.seen.max(1) as f64,
            val_loss,
            val_acc,
            seconds: secs,
            images_per_s: p.seen as f64 / secs.max(1e-9),
        };
        if !session.quiet {
            eprintln!("{}", m.summary(cfg.epochs));
        }
        state.history.push(m);
        state.epoch += 1;
        state.step = 0;
        state.partial = Default::default();
        state.train_seconds = train_seconds_at_start + session_start.elapsed().as_secs_f64();
        checkpoint::save(&session.dir, &model, &optim, &mut state)?;
        metrics::write_csv(&session.dir.join("metrics.csv"), &state.history)?;
        if let Err(e) = plot::curves(&session.dir.join("curves.png"), &state.history) {
            eprintln!("warning: could not draw curves.png: {e:#}");
        }
    }
    Ok((model, state, Outcome::Finished))
}

/// An observer for [`Net::forward_observed`] that writes the maximum of layer `i` to
/// `maxima[i]` (layers past its end are not measured).
fn record_max(maxima: &mut [f64]) -> impl FnMut(usize, Observed<'_>) + '_ {
    |i, o| {
        if let Some(m) = maxima.get_mut(i) {
            *m = o.max();
        }
    }
}

fn progress_bar(len: u64, epoch: usize, epochs: usize, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb.set_prefix(format!("epoch {}/{}", epoch + 1, epochs));
    pb
}

/// Install the Ctrl-C handler (once per process); returns the flag it sets.
pub fn ctrlc_flag() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    if let Err(e) = ctrlc::set_handler(move || {
        if f.swap(true, Ordering::SeqCst) {
            // Second Ctrl-C: the user really wants out.
            std::process::exit(130);
        }
        eprintln!("\ninterrupt: saving a checkpoint after this step (Ctrl-C again to abort)");
    }) {
        eprintln!("warning: cannot install the Ctrl-C handler: {e}");
    }
    flag
}

/// Load a run directory's config, state, model and optimizer for `--resume`.
pub fn resume(dir: &Path) -> Result<(RunConfig, Net, ModuleOptimizer, State)> {
    let cfg = checkpoint::load_config(dir)?;
    let state = checkpoint::load_state(dir)?;
    // Checked against the recipe before anything is loaded or trained.
    let n_train = MNIST_TRAIN_IMAGES.saturating_sub(cfg.val_size);
    let n_train = cfg.limit_train.map_or(n_train, |l| l.min(n_train));
    state
        .validate(&cfg, steps_per_epoch(&cfg, n_train))
        .with_context(|| format!("cannot resume from {}", dir.display()))?;
    let device = cfg.backend.device().autodiff();
    let model = checkpoint::load_model(dir, &cfg, &state, &device)
        .with_context(|| format!("cannot resume from {}", dir.display()))?;
    let optim = if dir.join(&state.optim_file).exists() {
        checkpoint::load_optim(dir, &state, optimizer(&cfg))?
    } else {
        eprintln!(
            "warning: optimizer state {} is missing: continuing with fresh AdamW moments (the result will not be bit-identical to an uninterrupted run)",
            dir.join(&state.optim_file).display()
        );
        optimizer(&cfg)
    };
    Ok((cfg, model, optim, state))
}

/// Default run configuration for a preset.
pub fn default_config(preset: crate::model::Preset) -> RunConfig {
    use crate::model::Preset;
    RunConfig {
        preset,
        arch: preset.arch(),
        // The default model's 15 epochs were chosen on validation against 30; the tiny
        // model's 4-bit weights gained from 30 (host-train/MODEL_CARD.md).
        epochs: match preset {
            Preset::Default | Preset::Micro => 15,
            Preset::Tiny | Preset::Small => 30,
        },
        batch_size: 128,
        seed: 1,
        backend: Backend::Flex,
        lr: 3e-3,
        warmup_steps: 400,
        min_lr_ratio: 0.01,
        weight_decay: 1e-4,
        // Chosen with the default architecture on validation (host-train/MODEL_CARD.md).
        label_smoothing: match preset {
            Preset::Default => 0.1,
            Preset::Tiny | Preset::Micro | Preset::Small => 0.0,
        },
        // The sub-byte models are capacity-bound: milder augmentation fits them better.
        augment: match preset {
            Preset::Default => data::Augment::DEFAULT,
            Preset::Tiny | Preset::Micro | Preset::Small => data::Augment {
                shift: 1.5,
                rotate_deg: 6.0,
                scale: 0.06,
            },
        },
        val_size: data::DEFAULT_VAL_SIZE,
        limit_train: None,
        max_steps_per_epoch: None,
        init_from: None,
        act_quant: false,
        distill: None,
    }
}
