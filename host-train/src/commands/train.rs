//! `sumi-train train`: start a run (or resume one), train it, then quantize and export it. Each
//! step is a function: [`start`] or [`resume`], [`audit`], [`describe`], training, [`export`].

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use burn::module::Module as _;
use burn::optim::ModuleOptimizer;

use super::export::{Outputs, export_run};
use crate::checkpoint::{self, RunConfig, State};
use crate::cli::TrainArgs;
use crate::model::Net;
use crate::{config, train};

/// A run ready to train: its recipe, directory, model, optimizer and progress.
struct Run {
    cfg: RunConfig,
    dir: PathBuf,
    net: Net,
    optim: ModuleOptimizer,
    state: State,
}

pub fn run(a: TrainArgs) -> Result<ExitCode> {
    super::set_threads(a.threads)?;
    let Run {
        cfg,
        dir,
        net,
        optim,
        state,
    } = match &a.resume {
        Some(dir) => resume(dir)?,
        None => start(&a)?,
    };
    // Load data (fails early and clearly on a bad --data-dir).
    let mnist = super::load_mnist(&a.data.data_dir)?;
    audit(&mnist, &cfg);
    let sets = train::Sets::new(&mnist.train, &cfg);
    if !a.quiet {
        describe(&cfg, &sets, &dir);
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
    if !a.no_export {
        let out = Outputs {
            blob: dir.join("model.sumi"),
            report: Some(dir.join("export.json")),
            copy_to: a.export_to.clone(),
        };
        export_run(&cfg, &net.valid(), &mnist, &sets, &out, &state)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Continues the run in `dir` (`--resume`) from its last checkpoint.
fn resume(dir: &Path) -> Result<Run> {
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
    Ok(Run {
        cfg,
        dir,
        net,
        optim,
        state,
    })
}

/// A new run from the preset and the flags: its directory (which must not hold a run yet)
/// gets the recipe, and the model its seeded initial weights.
fn start(a: &TrainArgs) -> Result<Run> {
    let cfg = config::run_config(a)?;
    let dir = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("runs/{}-seed{}", cfg.preset.name(), cfg.seed)));
    if dir.join(checkpoint::STATE_FILE).exists() {
        bail!(
            "{} already holds a run: continue it with --resume {0} or choose another --out",
            dir.display()
        );
    }
    if let Some(d) = &cfg.distill {
        d.load_teacher()?; // a bad teacher or weight fails before the run directory exists
    }
    let device = cfg.backend.device().autodiff();
    let net = match &cfg.init_from {
        Some(from) => init_from(from, &cfg, &device)?,
        None => train::init_model(&cfg, &device),
    };
    checkpoint::save_config(&dir, &cfg)?;
    let optim = train::optimizer(&cfg);
    Ok(Run {
        cfg,
        dir,
        net,
        optim,
        state: State::default(),
    })
}

/// The weights of the last checkpoint of the run in `from` (`--init-from`), in a model of this
/// run's architecture: the same layer widths, this run's weight bits (fake-quantized from the
/// first step on).
fn init_from(from: &Path, cfg: &RunConfig, device: &burn::tensor::Device) -> Result<Net> {
    let from = checkpoint::run_dir(from)?;
    let state = checkpoint::load_state(&from)?;
    let mut net = checkpoint::load_model(&from, cfg, &state, device).with_context(|| {
        format!(
            "--init-from {}: its layers must have the widths of this run's architecture ({}; \
             the weight bits may differ)",
            from.display(),
            cfg.arch.spec()
        )
    })?;
    eprintln!(
        "starting from the weights of {} (epoch {} step {})",
        from.display(),
        state.epoch,
        state.step
    );
    // An `--act-quant` run keeps the activation ranges of an `--act-quant` run it starts from;
    // otherwise they are learnt from its first batch on.
    if !cfg.act_quant {
        net.act_ranges.clear();
    }
    Ok(net)
}

/// Prints the leak audit of the run's splits, with a warning if it is not clean.
fn audit(mnist: &sumi_data::Mnist, cfg: &RunConfig) {
    let report = super::audit::report(mnist, cfg.val_size);
    eprintln!("{report}");
    if !report.is_clean() {
        eprintln!("warning: the leak audit found identical images across splits (see above)");
    }
}

/// Prints what is about to be trained, on what, and where.
fn describe(cfg: &RunConfig, sets: &train::Sets<'_>, dir: &Path) {
    eprintln!(
        "model {}: {} ({} params)\ntrain {} images, validation {}, {} steps/epoch, batch {}, backend {}, run dir {}",
        cfg.preset.name(),
        cfg.arch.describe(),
        cfg.arch.params(),
        sets.train.len(),
        sets.val.len(),
        train::steps_per_epoch(cfg, sets.train.len()),
        cfg.batch_size,
        cfg.backend.name(),
        dir.display()
    );
    if let Some(d) = &cfg.distill {
        eprintln!(
            "distilling from {} (weight {}, temperature {})",
            d.teacher.display(),
            d.weight,
            d.temperature
        );
    }
}
