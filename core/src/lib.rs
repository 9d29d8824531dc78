//! # sumi-core
//!
//! `#![no_std]`, heap-free, integer-only int8 inference for small convolutional networks, and the
//! preprocessing that turns a drawn canvas into an MNIST-style 28×28 input. This crate is the one
//! implementation of both: the trainer, the desktop app and the firmware all call it, so a digit
//! drawn anywhere goes through exactly the same integer arithmetic.
//!
//! | module | concept |
//! |---|---|
//! | [`blob`] | the versioned model blob: header, postcard payload, CRC-32, encoder (spec: `core/FORMAT.md`) |
//! | `builder` | `ModelBuilder`, the one blob writer: owned layers → exact-size blob (feature `alloc`) |
//! | [`model`] | [`Model`]: loading, and the engine that runs a plan (streamed layers, then the dense tail) |
//! | `plan` | the execution plan: each layer validated, shapes and costs, streamed row schedule and arena layout |
//! | [`layers`] | the int8 kernels: the tiled conv2d driver (and an AVX2 first-layer kernel), depthwise conv2d, pooling, fully connected |
//! | [`quant`] | fixed-point requantization (gemmlowp/TFLite style), scalar reference of the vector paths |
//! | [`prediction`] | [`Prediction`]: integer logits, digit, softmax probabilities |
//! | [`preprocess`] | canvas → 28×28 MNIST convention (polarity, crop, 20×20 fit, centre of mass) |
//! | [`simd`] | per-ISA micro-kernels ([`simd::Tile`]: 4 pixels × 2 channels): portable, SSE2 and AVX2 (chosen at run time), Cortex-M DSP (SMLAD), aarch64 NEON |
//! | [`crc`] | CRC-32 (IEEE) used by the blob |
//! | [`models`] | the embedded default model blob |
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
//! assert!(prediction.digit < 10);
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
pub mod crc;
pub mod layers;
pub mod model;
pub mod models;
mod plan;
pub mod prediction;
pub mod preprocess;
pub mod quant;
pub mod simd;

pub use blob::BlobError;
pub use model::{LayerInfo, Model, NotADigitClassifier, PredictError, Shape};
pub use prediction::Prediction;
pub use preprocess::{PreprocessError, PreprocessInfo, preprocess};

/// Largest number of output classes a model may have.
pub const MAX_CLASSES: usize = 16;
/// Largest number of layers a model may have.
pub const MAX_LAYERS: usize = 16;

/// The workspace README's Rust example runs as a doctest of this crate.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
