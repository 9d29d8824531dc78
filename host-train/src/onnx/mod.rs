//! `sumi-train export-onnx`: the float network of a blob (or of a checkpoint) as an ONNX model,
//! so a Sumi model can be taken to other runtimes (and timed against them:
//! `core/benches/peers/run.sh`).
//!
//! * From a **blob**, every layer is dequantized: real weight `w = s_w[o] · q` and real bias
//!   `b = s_in · s_w[o] · (bias_q + zp_in · Σ q)` (the blob folds the input zero point into its
//!   bias, [`crate::quantize`]), with the per-channel weight scale recovered from the
//!   requantization multiplier `M[o] = s_in · s_w[o] / s_out`. The input scale is the
//!   contract's 1/255 and the logit scale is in the blob; the scales of hidden activations are
//!   not stored, and need not be: ReLU and pooling are positively homogeneous, so any positive
//!   scale per hidden layer gives the same logits. [`HIDDEN_SCALE`] (int8 range ↔ [0, 1]) is
//!   used. The ONNX thus computes the blob's network in float: the same weights, without the
//!   int8 rounding and clamping of activations.
//! * From a **checkpoint**, the trained float weights themselves (batch normalisation folded).
//!
//! The graph: input `input` float `[N, C, H, W]` = pixel / 255 (NCHW, pixels as the core takes
//! them: white digit on black), then `Conv` (OHWI → OIHW, valid or same padding, depthwise as
//! `group = C`), `Relu`, `MaxPool`/`AveragePool` 2×2, `Flatten` and `Gemm` (the first dense
//! layer's columns permuted from the core's HWC flatten order to ONNX's CHW), output `logits`
//! float `[N, classes]` in real units (`int logit · logit_scale` for a blob). Opset 13, IR 8.
//!
//! The submodules, in the order the data flows:
//! * [`float_net`]: [`FloatNet`] and [`FloatLayer`], the float network in ONNX's layouts that
//!   both sources produce and the writer takes;
//! * [`from_blob`]: a blob's network, dequantized;
//! * [`from_checkpoint`]: a trained checkpoint's network (batch normalisation folded);
//! * [`graph`]: a [`FloatNet`] as an ONNX `ModelProto` and its bytes;
//! * [`proto`]: the hand-declared subset of `onnx.proto` that `prost` writes (field numbers as
//!   in onnx.proto; no protoc needed);
//! * [`command`]: the `export-onnx` subcommand (arguments, reading the source, writing the file);
//! * `interpret` (tests only): a small float interpreter of the written graph, decoded back from
//!   its bytes;
//! * `tests`: the written ONNX computes the blob's network, and keeps its int8 weights.

mod command;
mod float_net;
mod from_blob;
mod from_checkpoint;
mod graph;
mod proto;

#[cfg(test)]
mod interpret;
#[cfg(test)]
mod tests;

pub use command::{ExportOnnxArgs, cmd_export_onnx};
use float_net::{FloatLayer, FloatNet};

/// Scale given to every hidden activation of a dequantized blob (see the module docs).
pub const HIDDEN_SCALE: f64 = 1.0 / 255.0;
/// ONNX opset and IR version written.
pub const OPSET: i64 = 13;
pub const IR_VERSION: i64 = 8;
