//! `sumi-train`: trains Sumi's digit models with burn, quantizes them to the `sumi-core` int8
//! blob, and evaluates or runs them through the core.
//!
//! `main` only dispatches: [`cli`] holds the command line, [`commands`] one module per
//! subcommand, [`config`] the training recipe. The rest is the trainer itself:
//! * [`model`]: the burn model and its presets (`default`, `tiny`);
//! * [`data`]: train/validation split, batching, augmentation, seeded RNG streams;
//! * [`train`]: training loop, learning-rate schedule, Ctrl-C, resume;
//! * [`distill`]: knowledge distillation from a bundled int8 teacher (`--distill-from`);
//! * [`checkpoint`]: run directories and checkpoints;
//! * [`metrics`]: per-epoch metrics, `metrics.csv`, confusion matrix;
//! * [`plot`]: `curves.png`, `confusion.png`, `mistakes.png` (plotters, bitmap backend);
//! * [`quantize`]: calibration, post-training int8 quantization, blob export;
//! * [`calibrate`]: the softmax temperature fitted on validation, NLL and ECE;
//! * [`eval`]: int8 test-set evaluation through the core;
//! * [`predict`]: classify image files through the core's preprocessing and inference;
//! * [`onnx`]: `export-onnx`, the float network of a blob or checkpoint as ONNX.
#![forbid(unsafe_code)]

mod calibrate;
mod checkpoint;
mod cli;
mod commands;
mod config;
mod data;
mod distill;
mod eval;
mod metrics;
mod model;
mod onnx;
mod plot;
mod predict;
mod quantize;
mod train;

use std::process::ExitCode;

use clap::Parser as _;

use cli::{Cli, Cmd};

fn main() -> ExitCode {
    let r = match Cli::parse().cmd {
        Cmd::Train(a) => commands::train::run(a),
        Cmd::Export(a) => commands::export::run(a),
        Cmd::ExportOnnx(a) => onnx::cmd_export_onnx(a),
        Cmd::Calibrate(a) => commands::calibrate::run(a),
        Cmd::Upgrade(a) => commands::upgrade::run(a),
        Cmd::Eval(a) => commands::eval::run(a),
        Cmd::Predict(a) => commands::predict::run(a),
        Cmd::Audit(a) => commands::audit::run(a),
        Cmd::Digest { checkpoint } => commands::digest::run(&checkpoint),
        Cmd::Bench(a) => commands::bench::run(a),
    };
    match r {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
