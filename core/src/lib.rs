//! # sumi-core
//!
//! `#![no_std]`, heap-free, integer-only int8 inference for small convolutional networks, and the
//! preprocessing that turns a drawn canvas into an MNIST-style 28×28 input. This crate is the one
//! implementation of both: the trainer, the desktop app and the firmware all call it, so a digit
//! drawn anywhere goes through exactly the same integer arithmetic.
//!
//! Public: the types and functions re-exported here, and four modules whose items belong
//! together — [`blob`] (the wire format), `builder` (feature `alloc`), [`models`] and
//! [`preprocess`](mod@preprocess). Everything else is private; each concept lives in one module:
//!
//! | module | concept | public items |
//! |---|---|---|
//! | [`blob`] | the versioned model blob: header, postcard payload, CRC-32, encoder (spec: `core/FORMAT.md`) | [`BlobError`], `blob::*` |
//! | `builder` | the one blob writer: owned layers → exact-size blob (feature `alloc`) | `ModelBuilder`, `builder::*` |
//! | `model` | loading, and the engine that runs a plan (streamed layers, then the dense tail) | [`Model`], [`LayerInfo`], [`LayerKind`], [`Shape`], [`PredictError`], [`NotADigitClassifier`], [`MNIST_INPUT`], [`MNIST_CLASSES`] |
//! | `packing` | 8-, 4- and 2-bit weights (convolutions, fully connected): the codes, row packing, unpacking for the kernels | `blob::WEIGHT_BITS` |
//! | `plan` | the execution plan: each layer validated, shapes and costs, streamed row schedule and arena layout | – |
//! | `layers` | the int8 kernels: the tiled conv2d driver (and an AVX2 first-layer kernel), depthwise conv2d, pooling, fully connected | [`MAX_WINDOW`] |
//! | `quant` | fixed-point requantization (gemmlowp/TFLite style), scalar reference of the vector paths | [`Requant`], [`quantize_multiplier`], [`requantize`] |
//! | `prepared` | a model with its weights prepared once for this CPU's kernels (the x86-64 F(4×4, 3×3) Winograd weights), for hosts that run many predictions | [`Prepared`] |
//! | `prediction` | integer logits, class, softmax probabilities | [`Prediction`] |
//! | [`preprocess`](mod@preprocess) | canvas → 28×28 MNIST convention (polarity, crop, 20×20 fit, centre of mass) | [`preprocess()`], [`PreprocessInfo`], [`PreprocessError`] |
//! | `simd` | per-ISA micro-kernels (a 4 pixels × 2 channels tile): portable, SSE2 and AVX2 (chosen at run time), Cortex-M DSP (SMLAD), aarch64 NEON and SDOT | `set_avx2_allowed` (x86-64) |
//! | `crc` | CRC-32 (IEEE) used by the blob | [`blob::crc32`] |
//! | [`models`] | the bundled model blobs (default, tiny, micro) | `models::DEFAULT`, `models::BUNDLED`, `models::bundled` |
//!
//! ```
//! use sumi_core::{Model, models};
//!
//! let model = Model::from_bytes(models::DEFAULT)?;
//! let mut arena = [0u8; models::DEFAULT_ARENA_BYTES];
//! let mut input = [0u8; 784];
//! // A vertical stroke: a "1".
//! for y in 4..24 { input[y * 28 + 13] = 255; input[y * 28 + 14] = 255; }
//! let prediction = model.predict(&input, &mut arena)?;
//! assert!(prediction.class() < 10);
//! assert_eq!(prediction.logits().len(), 10);
//! # Ok::<(), Box<dyn core::error::Error>>(())
//! ```
#![no_std]
// Unsafe code is forbidden everywhere except the audited `simd` module (SSE2 intrinsics and
// Cortex-M DSP inline assembly for the int8 dot product).
#![deny(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;

pub mod blob;
#[cfg(feature = "alloc")]
pub mod builder;
mod crc;
mod layers;
mod model;
pub mod models;
mod packing;
mod plan;
mod prediction;
mod prepared;
pub mod preprocess;
mod quant;
mod simd;

pub use blob::BlobError;
#[cfg(feature = "alloc")]
pub use builder::ModelBuilder;
pub use layers::MAX_WINDOW;
pub use model::{
    LayerInfo, LayerKind, MNIST_CLASSES, MNIST_INPUT, Model, NotADigitClassifier, PredictError,
    Shape,
};
pub use prediction::Prediction;
pub use prepared::Prepared;
pub use preprocess::{PreprocessError, PreprocessInfo, preprocess};
pub use quant::{Requant, quantize_multiplier, requantize};
#[cfg(target_arch = "x86_64")]
pub use simd::set_avx2_allowed;

/// Largest number of output classes a model may have.
pub const MAX_CLASSES: usize = 16;
/// Largest number of layers a model may have.
pub const MAX_LAYERS: usize = 16;

/// The workspace README's Rust example runs as a doctest of this crate.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
