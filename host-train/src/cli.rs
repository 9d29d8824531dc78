//! The command line: clap's types for every subcommand ([`Cli`]); `main` dispatches on [`Cmd`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::checkpoint::Backend;
use crate::model::{Preset, WeightScale};
use crate::{data, onnx};

#[derive(Parser)]
#[command(
    name = "sumi-train",
    version,
    about = "Train, quantize, evaluate and run Sumi digit models"
)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand)]
// Parsed once per run: the size of the train variant (its many flags) does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Cmd {
    /// Train a model, then quantize and export it (run directory: --out).
    Train(TrainArgs),
    /// Re-export the int8 blob from a run directory's checkpoint.
    Export(ExportArgs),
    /// Write the float network of a blob (dequantized) or checkpoint as an ONNX model.
    ExportOnnx(onnx::ExportOnnxArgs),
    /// Fit a blob's softmax temperature on the validation split and write it as a
    /// format-version-2 blob (integer weights and logits unchanged).
    Calibrate(CalibrateArgs),
    /// Rewrite a blob of an older format version in the current one (lossless: the same
    /// integer layers and logits, checked).
    Upgrade(UpgradeArgs),
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
pub struct DataArgs {
    /// MNIST directory (default: env MNIST_DIR, else the per-user cache).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

#[derive(Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Model preset.
    #[arg(long, value_enum, default_value = "default")]
    pub preset: Preset,
    /// Custom architecture instead of the preset's, e.g. "16,32p,32p/48,10" (convolution
    /// widths, p = 2x2 max-pool, '/', dense widths ending in 10); the rest of the preset's
    /// recipe is kept.
    #[arg(long)]
    pub arch: Option<String>,
    /// Dropout before each dense layer (default: the preset's).
    #[arg(long)]
    pub dropout: Option<f64>,
    /// Batch normalisation after every convolution (folded into it at export).
    #[arg(long)]
    pub batch_norm: bool,
    /// Label smoothing of the training loss, in [0, 1) (default: the preset's).
    #[arg(long)]
    pub label_smoothing: Option<f32>,
    /// Epochs (default: the preset's recipe).
    #[arg(long)]
    pub epochs: Option<usize>,
    #[arg(long, default_value_t = 128)]
    pub batch_size: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Peak learning rate (AdamW; linear warm-up then cosine decay).
    #[arg(long, default_value_t = 3e-3)]
    pub lr: f64,
    /// Run directory (checkpoints, metrics.csv, curves.png, model.sumi).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the run in this directory (its recipe is used; training flags are ignored).
    #[arg(long, conflicts_with = "out")]
    pub resume: Option<PathBuf>,
    /// Start from the weights of the run in this directory (its last checkpoint) instead of
    /// random ones: fine-tune a float run quantization-aware, e.g. `--arch 16p:4,24p:2/10:2
    /// --init-from runs/float --lr 1e-3`. The layer widths must be the same; the bits may differ.
    #[arg(long, value_name = "DIR", conflicts_with = "resume")]
    pub init_from: Option<PathBuf>,
    /// Activation quantization-aware training: round every hidden activation onto the 256
    /// int8 levels the core gives it, over a range learnt during training (a moving average of
    /// batch maxima), which the exporter then uses instead of calibrating.
    #[arg(long)]
    pub act_quant: bool,
    /// How each sub-byte layer's per-channel scale is chosen, in training and at export:
    /// `max` (max |w| on the outermost level) or `mean` (mean |w| times the step that best
    /// rounds a Gaussian; the largest weights are clipped).
    /// Default: the preset's (`mean` for small and micro, `max` for the others).
    #[arg(long, value_enum)]
    pub weight_scale: Option<WeightScale>,
    /// Knowledge distillation: also learn from this int8 teacher blob's logits on every
    /// augmented batch, run through `sumi-core` (e.g. core/models/default.sumi).
    #[arg(long, value_name = "MODEL.sumi")]
    pub distill_from: Option<PathBuf>,
    /// Weight of the teacher's term in the loss, in (0, 1] (with --distill-from).
    #[arg(long, default_value_t = 0.5, requires = "distill_from")]
    pub distill_weight: f32,
    /// Softmax temperature of the teacher's term (with --distill-from).
    #[arg(long, default_value_t = 4.0, requires = "distill_from")]
    pub distill_temp: f32,
    /// Worker threads for the backend (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    #[arg(long, value_enum, default_value = "flex")]
    pub backend: Backend,
    /// Validation images held out of the 60k training set.
    #[arg(long, default_value_t = data::DEFAULT_VAL_SIZE)]
    pub val_size: usize,
    /// Train without augmentation.
    #[arg(long)]
    pub no_augment: bool,
    /// Use only the first N training images (quick experiments and tests).
    #[arg(long)]
    pub limit_train: Option<usize>,
    /// Cap the steps of each epoch (quick experiments and tests).
    #[arg(long)]
    pub max_steps_per_epoch: Option<usize>,
    /// Save a checkpoint and stop after N steps in this session, as Ctrl-C would (tests).
    #[arg(long, hide = true)]
    pub stop_after_steps: Option<usize>,
    /// Also copy the exported blob here (e.g. core/models/default.sumi).
    #[arg(long)]
    pub export_to: Option<PathBuf>,
    /// Skip quantization/export after training.
    #[arg(long)]
    pub no_export: bool,
    /// No progress bars or per-epoch lines.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Run directory written by `sumi-train train`.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Where to write the blob (default: CHECKPOINT/model.sumi, with CHECKPOINT/export.json).
    /// With --out, only this file is written: the checkpoint's model.sumi is left as it is.
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long)]
    pub threads: Option<usize>,
}

#[derive(Args)]
pub struct CalibrateArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Model blob to calibrate (version 1 or 2).
    #[arg(long)]
    pub model: PathBuf,
    /// Where to write the calibrated blob (may be --model itself; written atomically).
    #[arg(long)]
    pub out: PathBuf,
    /// Validation images held out of the 60k training set (default: the size the blob's
    /// recipe names, else the trainer's default).
    #[arg(long)]
    pub val_size: Option<usize>,
}

#[derive(Args)]
pub struct UpgradeArgs {
    /// Model blob of any format version this build reads.
    #[arg(long)]
    pub model: PathBuf,
    /// Where to write the current-version blob (may be --model itself; written atomically).
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Args)]
pub struct EvalArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Model blob (default: the embedded default model).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Run directory: also report the float accuracy of its checkpoint.
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Directory for confusion.png and mistakes.png.
    #[arg(long, default_value = "runs/eval")]
    pub out: PathBuf,
    /// Number of worst mistakes in mistakes.png.
    #[arg(long, default_value_t = 48)]
    pub mistakes: usize,
}

#[derive(Args)]
pub struct PredictArgs {
    /// Model blob (default: the embedded default model).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// One JSON object per line and file.
    #[arg(long)]
    pub json: bool,
    /// Image files.
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
}

#[derive(Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[arg(long, value_enum, default_value = "default")]
    pub preset: Preset,
    /// Backends to measure (default: both).
    #[arg(long, value_enum)]
    pub backend: Vec<Backend>,
    /// Timed training steps per backend (after 2 warm-up steps).
    #[arg(long, default_value_t = 20)]
    pub steps: usize,
    #[arg(long, default_value_t = 128)]
    pub batch_size: usize,
    #[arg(long)]
    pub threads: Option<usize>,
}
