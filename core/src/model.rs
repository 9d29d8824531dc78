//! [`Model`]: a validated, zero-copy view of a blob, its memory plan, and the inference engine.
//!
//! Loading checks everything a malformed blob could get wrong (see [`BlobError`]), so inference
//! cannot index out of bounds or overflow. Memory: the caller owns one scratch arena of
//! [`Model::arena_bytes`] bytes. Layers ping-pong inside it: a layer reads its input from one
//! end and writes its output at the other end, so the arena needs only
//! `max over layers (input bytes + output bytes)`. Pooling fused into a convolution never
//! materialises the un-pooled map, which is what keeps this peak small.

use heapless::Vec;

use crate::blob::{self, BlobError, DenseOutput, LayerDesc, Metadata, ModelDesc, Pool};
use crate::layers::{self, MAX_WINDOW};
use crate::prediction::Prediction;
use crate::{MAX_CLASSES, MAX_LAYERS};

/// Height, width and channels of an activation tensor (HWC layout). A flat vector of `n`
/// features is `1 × 1 × n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Shape {
    /// Height.
    pub h: u32,
    /// Width.
    pub w: u32,
    /// Channels.
    pub c: u32,
}

impl Shape {
    /// Number of elements, `h · w · c`.
    /// Saturates instead of overflowing (validated shapes are far below the limit).
    pub const fn len(&self) -> usize {
        (self.h as usize)
            .saturating_mul(self.w as usize)
            .saturating_mul(self.c as usize)
    }

    /// Number of elements as `u64`, exact on every target.
    pub const fn elems(&self) -> u64 {
        self.h as u64 * self.w as u64 * self.c as u64
    }
    /// Whether the shape has no elements.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What kind of layer a [`LayerInfo`] describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerKind {
    /// 2-D convolution.
    Conv2d,
    /// Depthwise 2-D convolution.
    DepthwiseConv2d,
    /// Standalone 2×2 pooling.
    Pool,
    /// Flatten.
    Flatten,
    /// Fully connected with int8 output.
    Dense,
    /// Fully connected producing the logits.
    Logits,
}

/// A layer's place in the plan: shapes and costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerInfo {
    /// Kind of layer.
    pub kind: LayerKind,
    /// Input shape.
    pub input: Shape,
    /// Output shape (after any fused pooling).
    pub output: Shape,
    /// Whether ReLU is fused.
    pub relu: bool,
    /// Fused pooling.
    pub pool: Pool,
    /// Multiply-accumulates.
    pub macs: u64,
    /// Parameters (weights + biases).
    pub params: u32,
    /// Arena bytes this layer needs (input + output int8 maps).
    pub arena_bytes: usize,
}

/// Errors at inference time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PredictError {
    /// The scratch arena is smaller than [`Model::arena_bytes`].
    #[error("arena of {given} bytes is too small: the model needs {needed} (Model::arena_bytes)")]
    ArenaTooSmall {
        /// Required bytes.
        needed: usize,
        /// Bytes given.
        given: usize,
    },
    /// The input does not have `h · w · c` pixels.
    #[error("input has {given} pixels, the model expects {expected}")]
    InputLength {
        /// Expected pixels.
        expected: usize,
        /// Pixels given.
        given: usize,
    },
}

/// The input every MNIST digit classifier takes: 28 × 28 × 1.
pub const MNIST_INPUT: Shape = Shape { h: 28, w: 28, c: 1 };
/// The classes of an MNIST digit classifier: the digits 0–9.
pub const MNIST_CLASSES: usize = 10;

/// A valid model that is not an MNIST digit classifier ([`Model::check_digit_classifier`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the model takes {h}×{w}×{c} input and has {classes} classes; a digit classifier takes 28×28×1 \
     images and has exactly 10 classes (digits 0–9): use a model exported by sumi-train"
)]
pub struct NotADigitClassifier {
    /// Input height.
    pub h: u32,
    /// Input width.
    pub w: u32,
    /// Input channels.
    pub c: u32,
    /// Output classes.
    pub classes: usize,
}

/// The validated plan of a model description (shapes, costs, arena size).
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) layers: Vec<LayerInfo, MAX_LAYERS>,
    pub(crate) input: Shape,
    pub(crate) arena_bytes: usize,
    pub(crate) macs: u64,
    pub(crate) params: u32,
    pub(crate) classes: usize,
}

fn check_len(
    layer: usize,
    what: &'static str,
    found: usize,
    expected: u64,
) -> Result<(), BlobError> {
    if found as u64 != expected {
        return Err(BlobError::ArrayLength {
            layer,
            what,
            expected: expected as usize,
            found,
        });
    }
    Ok(())
}

fn check_bias_requant(
    layer: usize,
    n: usize,
    bias: &[u8],
    mult: &[u8],
    shifts: &[u8],
) -> Result<(), BlobError> {
    check_len(layer, "bias", bias.len(), 4 * n as u64)?;
    check_len(layer, "multipliers", mult.len(), 4 * n as u64)?;
    check_len(layer, "shifts", shifts.len(), n as u64)?;
    for b in bias.chunks_exact(4) {
        let v = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        if v.unsigned_abs() >= 1 << 30 {
            return Err(BlobError::BiasOutOfRange(layer));
        }
    }
    for (m, &s) in mult.chunks_exact(4).zip(shifts) {
        let rq = crate::quant::Requant {
            multiplier: i32::from_le_bytes([m[0], m[1], m[2], m[3]]),
            shift: s as i8,
        };
        if !rq.is_valid() {
            return Err(BlobError::BadRequant(layer));
        }
    }
    Ok(())
}

/// Largest tensor, arena or parameter count accepted: 2^31 − 1, so every size fits `usize` on
/// 32-bit targets.
const LIMIT: u64 = i32::MAX as u64;

fn dim(layer: usize, v: u64, what: &'static str) -> Result<u32, BlobError> {
    if v == 0 || v > u16::MAX as u64 {
        return Err(BlobError::BadDimension { layer, what });
    }
    Ok(v as u32)
}

/// Metadata is shown to people as it is: accuracies must be fractions in `0..=1` and the
/// strings of a reasonable length.
fn check_metadata(meta: &Metadata<'_>) -> Result<(), BlobError> {
    for acc in [meta.float_accuracy, meta.int8_accuracy]
        .into_iter()
        .flatten()
    {
        if !(0.0..=1.0).contains(&acc) {
            return Err(BlobError::BadMetadata(
                "an accuracy is not a fraction from 0 to 1 (NaN, negative or above 1)",
            ));
        }
    }
    if meta.name.len() > blob::MAX_NAME_BYTES {
        return Err(BlobError::BadMetadata("name is longer than 64 bytes"));
    }
    if meta.created.len() > blob::MAX_CREATED_BYTES {
        return Err(BlobError::BadMetadata(
            "creation date is longer than 64 bytes",
        ));
    }
    if meta.recipe.len() > blob::MAX_RECIPE_BYTES {
        return Err(BlobError::BadMetadata("recipe is longer than 4096 bytes"));
    }
    Ok(())
}

impl Plan {
    pub(crate) fn new(desc: &ModelDesc<'_>) -> Result<Plan, BlobError> {
        let input_dim = |v: u16, what| match v {
            0 => Err(BlobError::BadInputDimension(what)),
            v => Ok(u32::from(v)),
        };
        let input = Shape {
            h: input_dim(desc.input_h, "input height")?,
            w: input_dim(desc.input_w, "input width")?,
            c: input_dim(desc.input_c, "input channels")?,
        };
        if desc.layers.is_empty() {
            return Err(BlobError::NoLayers);
        }
        if !(desc.logit_scale.is_finite() && desc.logit_scale > 0.0) {
            return Err(BlobError::BadLogitScale);
        }
        if !blob::TEMPERATURE_RANGE.contains(&desc.calibration.temperature) {
            return Err(BlobError::BadTemperature);
        }
        check_metadata(&desc.meta)?;
        let mut cur = input;
        let mut arena = input.elems();
        if arena > LIMIT {
            return Err(BlobError::Overflow(0));
        }
        let mut macs = 0u64;
        let mut params = 0u64;
        let mut layers = Vec::new();
        let mut classes = 0;
        let last = desc.layers.len() - 1;
        for (i, layer) in desc.layers.iter().enumerate() {
            let (kind, out, relu, pool, lmacs, lparams) = match layer {
                LayerDesc::Conv2d(d) | LayerDesc::DepthwiseConv2d(d) => {
                    let depthwise = matches!(layer, LayerDesc::DepthwiseConv2d(_));
                    let (kh, kw) = (d.kernel_h as u64, d.kernel_w as u64);
                    if kh == 0 || kw == 0 {
                        return Err(BlobError::BadDimension {
                            layer: i,
                            what: "kernel size",
                        });
                    }
                    if d.in_channels as u32 != cur.c {
                        return Err(BlobError::ShapeMismatch {
                            layer: i,
                            expected: d.in_channels as u32,
                            found: cur.c,
                        });
                    }
                    let oc = dim(i, d.out_channels as u64, "output channels")? as u64;
                    if depthwise && oc != cur.c as u64 {
                        return Err(BlobError::ShapeMismatch {
                            layer: i,
                            expected: d.out_channels as u32,
                            found: cur.c,
                        });
                    }
                    let window = if depthwise {
                        kh * kw
                    } else {
                        kh * kw * cur.c as u64
                    };
                    if window > MAX_WINDOW as u64 {
                        return Err(BlobError::KernelTooLarge {
                            layer: i,
                            size: window as usize,
                            max: MAX_WINDOW,
                        });
                    }
                    if d.padding == blob::Padding::Valid && (kh > cur.h as u64 || kw > cur.w as u64)
                    {
                        return Err(BlobError::BadDimension {
                            layer: i,
                            what: "kernel larger than input",
                        });
                    }
                    let ch = layers::conv_out(d.padding, cur.h as usize, kh as usize) as u64;
                    let cw = layers::conv_out(d.padding, cur.w as usize, kw as usize) as u64;
                    let (oh, ow) = match d.pool {
                        Pool::None => (ch, cw),
                        _ => (ch / 2, cw / 2),
                    };
                    let out = Shape {
                        h: dim(i, oh, "output height")?,
                        w: dim(i, ow, "output width")?,
                        c: oc as u32,
                    };
                    let wlen = window * oc;
                    check_len(i, "weights", d.weights.len(), wlen)?;
                    check_bias_requant(i, oc as usize, d.bias, d.multipliers, d.shifts)?;
                    let kind = if depthwise {
                        LayerKind::DepthwiseConv2d
                    } else {
                        LayerKind::Conv2d
                    };
                    (kind, out, d.relu, d.pool, ch * cw * oc * window, wlen + oc)
                }
                LayerDesc::Pool(p) => {
                    if *p == Pool::None {
                        return Err(BlobError::BadDimension {
                            layer: i,
                            what: "pool kind None",
                        });
                    }
                    let out = Shape {
                        h: dim(i, cur.h as u64 / 2, "pooled height")?,
                        w: dim(i, cur.w as u64 / 2, "pooled width")?,
                        c: cur.c,
                    };
                    (LayerKind::Pool, out, false, *p, 0, 0)
                }
                LayerDesc::Flatten => {
                    let n = cur.elems();
                    (
                        LayerKind::Flatten,
                        Shape {
                            h: 1,
                            w: 1,
                            c: n as u32,
                        },
                        false,
                        Pool::None,
                        0,
                        0,
                    )
                }
                LayerDesc::Dense(d) => {
                    let n = cur.elems();
                    if d.in_features as u64 != n {
                        return Err(BlobError::ShapeMismatch {
                            layer: i,
                            expected: d.in_features,
                            found: n as u32,
                        });
                    }
                    if n > u16::MAX as u64 {
                        return Err(BlobError::BadDimension {
                            layer: i,
                            what: "more than 65535 input features",
                        });
                    }
                    let o = dim(i, d.out_features as u64, "output features")? as u64;
                    check_len(i, "weights", d.weights.len(), n * o)?;
                    check_bias_requant(i, o as usize, d.bias, d.multipliers, d.shifts)?;
                    let logits = matches!(d.output, DenseOutput::Logits);
                    if logits != (i == last) || (logits && d.relu) {
                        return Err(BlobError::BadOutputLayer);
                    }
                    if logits {
                        if o as usize > MAX_CLASSES {
                            return Err(BlobError::TooManyClasses(o as usize));
                        }
                        classes = o as usize;
                    }
                    let kind = if logits {
                        LayerKind::Logits
                    } else {
                        LayerKind::Dense
                    };
                    (
                        kind,
                        Shape {
                            h: 1,
                            w: 1,
                            c: o as u32,
                        },
                        d.relu,
                        Pool::None,
                        n * o,
                        n * o + o,
                    )
                }
            };
            if i == last && kind != LayerKind::Logits {
                return Err(BlobError::BadOutputLayer);
            }
            let layer_arena = match kind {
                LayerKind::Flatten => 0,
                LayerKind::Logits => cur.elems(),
                _ => cur.elems() + out.elems(),
            };
            if layer_arena > LIMIT {
                return Err(BlobError::Overflow(i));
            }
            arena = arena.max(layer_arena);
            macs = macs.saturating_add(lmacs);
            params = params.saturating_add(lparams);
            if params > LIMIT {
                return Err(BlobError::Overflow(i));
            }
            let info = LayerInfo {
                kind,
                input: cur,
                output: out,
                relu,
                pool,
                macs: lmacs,
                params: lparams as u32,
                arena_bytes: layer_arena as usize,
            };
            // Capacity equals MAX_LAYERS, the same bound as the decoded layer list.
            let _ = layers.push(info);
            cur = out;
        }
        Ok(Plan {
            layers,
            input,
            arena_bytes: arena as usize,
            macs,
            params: params as u32,
            classes,
        })
    }
}

/// A loaded model: borrows the blob, owns nothing else. Cheap to copy around by reference.
#[derive(Debug, Clone)]
pub struct Model<'a> {
    desc: ModelDesc<'a>,
    plan: Plan,
    blob_len: usize,
}

impl<'a> Model<'a> {
    /// Parse and fully validate a blob. Nothing is copied: weights stay in `blob`.
    ///
    /// ```
    /// use sumi_core::{Model, BlobError};
    /// assert!(matches!(Model::from_bytes(b"nope"), Err(BlobError::TooShort(4))));
    /// let model = Model::from_bytes(sumi_core::models::DEFAULT)?;
    /// assert_eq!(model.classes(), 10);
    /// # Ok::<(), BlobError>(())
    /// ```
    pub fn from_bytes(blob: &'a [u8]) -> Result<Model<'a>, BlobError> {
        let (header, desc) = blob::decode(blob)?;
        let plan = Plan::new(&desc)?;
        if header.arena_bytes as usize != plan.arena_bytes {
            return Err(BlobError::ArenaMismatch {
                header: header.arena_bytes,
                computed: plan.arena_bytes,
            });
        }
        Ok(Model {
            desc,
            plan,
            blob_len: blob.len(),
        })
    }

    /// Bytes of scratch memory [`Model::predict`] needs (peak of the ping-pong plan).
    pub fn arena_bytes(&self) -> usize {
        self.plan.arena_bytes
    }
    /// Input shape (28 × 28 × 1 for MNIST models).
    pub fn input_shape(&self) -> Shape {
        self.plan.input
    }
    /// The one rule every front end (trainer eval and predict, desktop app) applies before
    /// feeding 28×28 digit images and reading the answer as a digit: input exactly
    /// [`MNIST_INPUT`] (not just as many pixels) and exactly [`MNIST_CLASSES`] classes, so no
    /// answer can be a "digit" outside 0–9.
    pub fn check_digit_classifier(&self) -> Result<(), NotADigitClassifier> {
        let s = self.plan.input;
        if s == MNIST_INPUT && self.plan.classes == MNIST_CLASSES {
            return Ok(());
        }
        Err(NotADigitClassifier {
            h: s.h,
            w: s.w,
            c: s.c,
            classes: self.plan.classes,
        })
    }
    /// Softmax temperature of the blob's calibration (1 for version-1 blobs).
    pub fn temperature(&self) -> f32 {
        self.desc.calibration.temperature
    }
    /// Number of output classes.
    pub fn classes(&self) -> usize {
        self.plan.classes
    }
    /// Multiply-accumulates per inference.
    pub fn macs(&self) -> u64 {
        self.plan.macs
    }
    /// Parameters (weights and biases).
    pub fn params(&self) -> u32 {
        self.plan.params
    }
    /// Total blob size in bytes.
    pub fn blob_bytes(&self) -> usize {
        self.blob_len
    }
    /// Bytes of int8 weights, int32 biases and requantization parameters.
    pub fn weight_bytes(&self) -> usize {
        self.desc
            .layers
            .iter()
            .map(|l| match l {
                LayerDesc::Conv2d(d) | LayerDesc::DepthwiseConv2d(d) => {
                    d.weights.len() + d.bias.len() + d.multipliers.len() + d.shifts.len()
                }
                LayerDesc::Dense(d) => {
                    d.weights.len() + d.bias.len() + d.multipliers.len() + d.shifts.len()
                }
                _ => 0,
            })
            .sum()
    }
    /// The blob's metadata.
    pub fn metadata(&self) -> &Metadata<'a> {
        &self.desc.meta
    }
    /// The decoded description (layers with their parameters).
    pub fn description(&self) -> &ModelDesc<'a> {
        &self.desc
    }
    /// Each layer's kind, shapes and cost, in order.
    pub fn layers(&self) -> impl Iterator<Item = LayerInfo> + '_ {
        self.plan.layers.iter().copied()
    }

    /// Classify one input: `h · w · c` pixels, 0 = background, 255 = ink (MNIST convention).
    pub fn predict(&self, input: &[u8], arena: &mut [u8]) -> Result<Prediction, PredictError> {
        self.predict_with(input, arena, |_, _, _| {})
    }

    /// Like [`Model::predict`], and calls `observe(layer_index, shape, feature_map)` with every
    /// layer's int8 output (HWC) — for visualisation. The logits layer is not observed.
    pub fn predict_with<F>(
        &self,
        input: &[u8],
        arena: &mut [u8],
        mut observe: F,
    ) -> Result<Prediction, PredictError>
    where
        F: FnMut(usize, Shape, &[i8]),
    {
        let size = self.plan.arena_bytes;
        if arena.len() < size {
            return Err(PredictError::ArenaTooSmall {
                needed: size,
                given: arena.len(),
            });
        }
        let n_in = self.plan.input.len();
        if input.len() != n_in {
            return Err(PredictError::InputLength {
                expected: n_in,
                given: input.len(),
            });
        }
        let arena: &mut [i8] = bytemuck::cast_slice_mut(&mut arena[..size]);
        let zp = self.desc.input_zero_point;
        for (a, &p) in arena[..n_in].iter_mut().zip(input) {
            *a = (p as i32 + zp as i32).clamp(-128, 127) as i8;
        }
        // Where the current activation lives: at the low end (true) or the high end.
        let mut low = true;
        let mut zp_in = zp;
        let mut logits = [0i32; MAX_CLASSES];
        for (i, (layer, info)) in self.desc.layers.iter().zip(&self.plan.layers).enumerate() {
            let (in_n, out_n) = (info.input.len(), info.output.len());
            if let LayerDesc::Flatten = layer {
                let cur = if low {
                    &arena[..in_n]
                } else {
                    &arena[size - in_n..]
                };
                observe(i, info.output, cur);
                continue;
            }
            if let LayerDesc::Dense(d) = layer
                && let DenseOutput::Logits = d.output
            {
                let input = if low {
                    &arena[..in_n]
                } else {
                    &arena[size - in_n..]
                };
                layers::dense_logits(input, d, &mut logits[..out_n]);
                break;
            }
            let (input, output) = if low {
                let (a, b) = arena.split_at_mut(size - out_n);
                (&a[..in_n], &mut b[..])
            } else {
                let (a, b) = arena.split_at_mut(size - in_n);
                (&b[..], &mut a[..out_n])
            };
            match layer {
                LayerDesc::Conv2d(d) => {
                    layers::conv2d(input, info.input, zp_in, d, output);
                    zp_in = d.output_zero_point;
                }
                LayerDesc::DepthwiseConv2d(d) => {
                    layers::depthwise_conv2d(input, info.input, zp_in, d, output);
                    zp_in = d.output_zero_point;
                }
                LayerDesc::Pool(p) => layers::pool2(input, info.input, *p, output),
                LayerDesc::Dense(d) => match d.output {
                    DenseOutput::Int8 { zero_point } => {
                        layers::dense_int8(input, d, zero_point, output);
                        zp_in = zero_point;
                    }
                    DenseOutput::Logits => {}
                },
                LayerDesc::Flatten => {}
            }
            observe(i, info.output, output);
            low = !low;
        }
        Ok(Prediction::new(
            logits,
            self.plan.classes,
            self.desc.logit_scale,
            self.desc.calibration.temperature,
        ))
    }
}
