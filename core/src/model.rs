//! [`Model`]: a validated, zero-copy view of a blob and the inference engine that runs its plan.
//!
//! Loading checks everything a malformed blob could get wrong (see [`BlobError`]), so inference
//! cannot index out of bounds or overflow. A `Model` is small and fixed-size: it keeps the layers
//! encoded in the blob and decodes each one when it runs. Memory: the caller owns one scratch
//! arena of [`Model::arena_bytes`] bytes, laid out by [`crate::plan`]: the leading convolutions
//! and pools run streamed, a few rows of each feature map at a time, and the flatten/dense tail
//! ping-pongs between the two ends of the arena. [`Model::predict_with`] runs the same kernels on
//! whole maps so that it can show every layer's output.

use crate::MAX_CLASSES;
use crate::blob::{self, BlobError, Calibration, ConvDesc, DenseOutput, LayerDesc, Metadata, Pool};
use crate::layers::{self, Rows};
use crate::plan::{Head, MAX_STAGES, Plan, Stages, pull};
use crate::prediction::Prediction;

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
    ///
    /// ```
    /// use sumi_core::{MNIST_INPUT, Shape};
    /// assert_eq!(MNIST_INPUT.len(), 28 * 28);
    /// assert_eq!(Shape { h: 1, w: 1, c: 640 }.len(), 640);
    /// ```
    pub const fn len(&self) -> usize {
        (self.h as usize)
            .saturating_mul(self.w as usize)
            .saturating_mul(self.c as usize)
    }

    /// Number of elements as `u64`, exact on every target (the planner's overflow checks).
    pub(crate) const fn elems(&self) -> u64 {
        self.h as u64 * self.w as u64 * self.c as u64
    }
    /// Whether the shape has no elements.
    ///
    /// ```
    /// use sumi_core::{MNIST_INPUT, Shape};
    /// assert!(!MNIST_INPUT.is_empty());
    /// assert!(Shape { h: 28, w: 0, c: 1 }.is_empty());
    /// ```
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
    /// Kernel height and width (1 × 1 for layers without a kernel).
    pub kernel: (u8, u8),
    /// Multiply-accumulates.
    pub macs: u64,
    /// Parameters (weights + biases).
    pub params: u32,
    /// Bytes of this layer's whole input and output maps (what whole-map execution holds while
    /// it runs; streamed execution holds a few rows of each).
    pub arena_bytes: usize,
}

/// Errors at inference time.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PredictError {
    /// The scratch arena is smaller than [`Model::arena_bytes`] ([`Model::predict`]) or
    /// [`Model::observed_arena_bytes`] ([`Model::predict_with`]).
    #[error(
        "arena of {given} bytes is too small: the model needs {needed} (Model::arena_bytes for \
         predict, Model::observed_arena_bytes for predict_with)"
    )]
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
    /// The storage given to [`Model::prepare`] is smaller than [`Model::prepared_bytes`].
    #[error(
        "storage of {given} bytes is too small for the prepared weights: they need {needed} \
         (Model::prepared_bytes)"
    )]
    PreparedTooSmall {
        /// Required bytes.
        needed: usize,
        /// Bytes given.
        given: usize,
    },
    /// The row source of [`Model::predict_rows`] could not supply an input row.
    #[error("the input source could not supply row {row}; no prediction was made")]
    InputRow {
        /// The first row that could not be read (0-based).
        row: usize,
    },
}

/// The input every MNIST digit classifier takes: 28 × 28 × 1.
pub const MNIST_INPUT: Shape = Shape {
    h: crate::preprocess::SIDE as u32,
    w: crate::preprocess::SIDE as u32,
    c: 1,
};
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

/// A loaded model: borrows the blob, owns a small fixed-size plan. Cheap to copy around by
/// reference.
#[derive(Debug, Clone)]
pub struct Model<'a> {
    blob: &'a [u8],
    layers: &'a [u8],
    meta: Metadata<'a>,
    logit_scale: f32,
    calibration: Calibration,
    plan: Plan,
}

/// The callback of [`Model::predict_with`].
type Observer<'o> = &'o mut dyn FnMut(usize, Shape, &[i8]);

/// How one run executes: streamed (the plan's windows), or on whole maps shown to an observer.
enum Exec<'o> {
    Streamed,
    Observed(Observer<'o>),
}

/// The input of one run: fills row `y` (`w · c` pixels) and says whether it could.
type RowSource<'s> = &'s mut dyn FnMut(usize, &mut [u8]) -> bool;

/// What one run of the engine writes into and reads from.
struct Run<'r> {
    /// Fills input row `y` (`w · c` pixels); `false` when it cannot.
    input: RowSource<'r>,
    /// The first row `input` failed to supply.
    failed_row: Option<usize>,
    /// The stages' windows (the arena without the scratch).
    maps: &'r mut [i8],
    scratch: &'r mut [i8],
    /// First row each stage's window holds.
    base: [usize; MAX_STAGES],
    /// The logits layer consumes the last stage band by band, into `logits`.
    stream_logits: bool,
    /// The logits (int32 accumulators until the run ends).
    logits: [i32; MAX_CLASSES],
    /// Per stage, its layer's weights prepared for this CPU (`Model::prepare`), or empty.
    prepared: PreparedWeights<'r>,
}

/// Per stage, the weights of its layer prepared once for this CPU's kernels, or empty. Only
/// x86-64 kernels take any; elsewhere the array is empty, so a microcontroller's run pays no
/// stack for it.
pub(crate) type PreparedWeights<'p> = [&'p [[i16; 16]]; PREPARED_STAGES];

/// Stages [`PreparedWeights`] holds.
const PREPARED_STAGES: usize = if cfg!(target_arch = "x86_64") {
    MAX_STAGES
} else {
    0
};

/// No prepared weights: every kernel lays out or reads its layer's weights itself.
pub(crate) const NOT_PREPARED: PreparedWeights<'static> = [&[]; PREPARED_STAGES];

/// The row source of a whole image in memory (`rb` bytes per row).
fn rows_of(input: &[u8], rb: usize) -> impl FnMut(usize, &mut [u8]) -> bool + '_ {
    move |y, row| {
        row.copy_from_slice(&input[y * rb..(y + 1) * rb]);
        true
    }
}

/// `(&a[x], &mut a[y])` for two disjoint ranges of `a`.
fn split_two(a: &mut [i8], x: (usize, usize), y: (usize, usize)) -> (&[i8], &mut [i8]) {
    if x.0 < y.0 {
        let (lo, hi) = a.split_at_mut(y.0);
        (&lo[x.0..x.1], &mut hi[..y.1 - y.0])
    } else {
        let (lo, hi) = a.split_at_mut(x.0);
        (&hi[..x.1 - x.0], &mut lo[y.0..y.1])
    }
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
    // Out of line: the planner's temporaries live in this frame only while loading, not in
    // the caller's frame for as long as the model is used (what a microcontroller's stack
    // budget counts).
    #[inline(never)]
    pub fn from_bytes(blob: &'a [u8]) -> Result<Model<'a>, BlobError> {
        let lazy = blob::decode_lazy(blob)?;
        let h = &lazy.head;
        let (input, input_zero_point, n) = (
            (h.input_h, h.input_w, h.input_c),
            h.input_zero_point,
            h.layers as usize,
        );
        let mut model = Model {
            blob,
            layers: lazy.layers,
            meta: lazy.head.meta,
            logit_scale: lazy.head.logit_scale,
            calibration: lazy.calibration,
            plan: Plan::EMPTY,
        };
        // Planned in place, into the model returned: no second plan on the stack while loading.
        let declared = model.plan.fill(
            &Head {
                input,
                input_zero_point,
                logit_scale: model.logit_scale,
                temperature: model.calibration.temperature,
                meta: &model.meta,
            },
            blob::LayerIter::new(lazy.layers, lazy.header.version, n),
        )?;
        // Each version declares exactly the arena of the plan it was written with (versions 1
        // and 2 engine v1's ping-pong plan, 3 and 4 earlier streamed plans, 5 this engine's).
        let declared = declared.for_version(lazy.header.version);
        if lazy.header.arena_bytes as usize != declared {
            return Err(BlobError::ArenaMismatch {
                header: lazy.header.arena_bytes,
                computed: declared,
            });
        }
        Ok(model)
    }

    /// Bytes of scratch memory [`Model::predict`] needs: the streamed plan's exact peak
    /// (`core/FORMAT.md`, "Memory plan"). The header of a current (version-5) blob holds the
    /// same value, so firmware can size a static arena at compile time.
    ///
    /// ```
    /// use sumi_core::{Model, models};
    /// let model = Model::from_bytes(models::DEFAULT)?;
    /// assert_eq!(model.arena_bytes(), models::DEFAULT_ARENA_BYTES);
    /// // Streaming needs less than holding every whole map.
    /// assert!(model.arena_bytes() < model.observed_arena_bytes());
    /// # Ok::<(), sumi_core::BlobError>(())
    /// ```
    pub fn arena_bytes(&self) -> usize {
        self.plan.arena_bytes
    }
    /// Bytes of scratch memory [`Model::predict_with`] needs: every layer's whole output map.
    ///
    /// ```
    /// use sumi_core::{Model, models};
    /// let model = Model::from_bytes(models::DEFAULT)?;
    /// let largest = model.layers().map(|l| l.output.len()).max().unwrap();
    /// assert!(model.observed_arena_bytes() >= largest);
    /// # Ok::<(), sumi_core::BlobError>(())
    /// ```
    pub fn observed_arena_bytes(&self) -> usize {
        self.plan.whole_arena_bytes
    }
    /// Input shape (28 × 28 × 1 for MNIST models).
    ///
    /// ```
    /// use sumi_core::{MNIST_INPUT, Model, models};
    /// let model = Model::from_bytes(models::DEFAULT)?;
    /// assert_eq!(model.input_shape(), MNIST_INPUT);
    /// assert_eq!(model.input_shape().len(), 784);
    /// # Ok::<(), sumi_core::BlobError>(())
    /// ```
    pub fn input_shape(&self) -> Shape {
        self.plan.input
    }
    /// The one rule every front end (trainer eval and predict, desktop app) applies before
    /// feeding 28×28 digit images and reading the answer as a digit: input exactly
    /// [`MNIST_INPUT`] (not just as many pixels) and exactly [`MNIST_CLASSES`] classes, so no
    /// answer can be a "digit" outside 0–9.
    ///
    /// ```
    /// use sumi_core::{Model, models};
    /// let model = Model::from_bytes(models::DEFAULT)?;
    /// model.check_digit_classifier()?;
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
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
    ///
    /// ```
    /// use sumi_core::{Model, models};
    /// let model = Model::from_bytes(models::DEFAULT)?;
    /// assert!(sumi_core::blob::TEMPERATURE_RANGE.contains(&model.temperature()));
    /// # Ok::<(), sumi_core::BlobError>(())
    /// ```
    pub fn temperature(&self) -> f32 {
        self.calibration.temperature
    }
    /// Number of output classes.
    ///
    /// ```
    /// use sumi_core::{MNIST_CLASSES, Model, models};
    /// let model = Model::from_bytes(models::DEFAULT)?;
    /// assert_eq!(model.classes(), MNIST_CLASSES);
    /// # Ok::<(), sumi_core::BlobError>(())
    /// ```
    pub fn classes(&self) -> usize {
        self.plan.classes
    }
    /// Multiply-accumulates per inference: the sum over [`Model::layers`].
    ///
    /// ```
    /// use sumi_core::{Model, models};
    /// let model = Model::from_bytes(models::DEFAULT)?;
    /// assert_eq!(model.macs(), model.layers().map(|l| l.macs).sum::<u64>());
    /// # Ok::<(), sumi_core::BlobError>(())
    /// ```
    pub fn macs(&self) -> u64 {
        self.plan.macs
    }
    /// Parameters (weights and biases).
    ///
    /// ```
    /// use sumi_core::{Model, models};
    /// let model = Model::from_bytes(models::DEFAULT)?;
    /// assert_eq!(model.params(), model.layers().map(|l| l.params).sum::<u32>());
    /// assert_eq!(model.params(), model.metadata().params);
    /// # Ok::<(), sumi_core::BlobError>(())
    /// ```
    pub fn params(&self) -> u32 {
        self.plan.params
    }
    /// Total blob size in bytes.
    ///
    /// ```
    /// use sumi_core::{Model, models};
    /// let model = Model::from_bytes(models::DEFAULT)?;
    /// assert_eq!(model.blob_bytes(), models::DEFAULT.len());
    /// # Ok::<(), sumi_core::BlobError>(())
    /// ```
    pub fn blob_bytes(&self) -> usize {
        self.blob.len()
    }
    /// Bytes of int8 weights, int32 biases and requantization parameters.
    ///
    /// ```
    /// use sumi_core::{Model, models};
    /// let model = Model::from_bytes(models::DEFAULT)?;
    /// // At least one byte per parameter, and never more than the blob holds.
    /// assert!(model.weight_bytes() >= model.params() as usize);
    /// assert!(model.weight_bytes() < model.blob_bytes());
    /// # Ok::<(), sumi_core::BlobError>(())
    /// ```
    pub fn weight_bytes(&self) -> usize {
        self.decoded()
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
    ///
    /// ```
    /// use sumi_core::{Model, models};
    /// let model = Model::from_bytes(models::DEFAULT)?;
    /// assert_eq!(model.metadata().name, "sumi-default");
    /// # Ok::<(), sumi_core::BlobError>(())
    /// ```
    pub fn metadata(&self) -> &Metadata<'a> {
        &self.meta
    }
    /// Each layer's kind, shapes and cost, in order.
    ///
    /// ```
    /// use sumi_core::{LayerKind, MNIST_INPUT, Model, models};
    /// let model = Model::from_bytes(models::DEFAULT)?;
    /// let layers: Vec<_> = model.layers().collect();
    /// assert_eq!(layers[0].input, MNIST_INPUT);
    /// assert_eq!(layers.last().unwrap().kind, LayerKind::Logits);
    /// // Each layer takes what the one before it produces.
    /// assert!(layers.windows(2).all(|w| w[0].output.len() == w[1].input.len()));
    /// # Ok::<(), sumi_core::BlobError>(())
    /// ```
    pub fn layers(&self) -> impl Iterator<Item = LayerInfo> + '_ {
        let n = self.plan.n_layers;
        self.decoded().enumerate().filter_map(move |(i, layer)| {
            let input = if i == 0 {
                self.plan.input
            } else {
                self.plan.shape(i - 1)
            };
            crate::plan::layer_info(i, i + 1 == n, &layer, input)
                .ok()
                .map(|(info, _)| info)
        })
    }

    /// The blob's format version (its layers are decoded as that version encodes them).
    fn version(&self) -> u16 {
        u16::from_le_bytes([self.blob[4], self.blob[5]])
    }

    /// The layers, decoded one at a time.
    fn decoded(&self) -> impl Iterator<Item = LayerDesc<'a>> + use<'a> {
        blob::LayerIter::new(self.layers, self.version(), self.plan.n_layers)
            .filter_map(|l| l.ok().map(|l| l.0))
    }

    /// The convolutions of the streamed stages: `(stage, input channels, layer)`.
    pub(crate) fn stage_convs(&self) -> impl Iterator<Item = (usize, usize, ConvDesc<'a>)> + '_ {
        (1..=self.plan.spatial).filter_map(|i| match self.layer(i - 1) {
            LayerDesc::Conv2d(d) => Some((i, self.plan.stage_shape(i - 1).c as usize, d)),
            _ => None,
        })
    }

    /// Layer `i`, decoded from the blob (validated at load).
    fn layer(&self, i: usize) -> LayerDesc<'a> {
        match blob::layer_at(self.layers, self.version(), self.plan.offsets[i]) {
            Some(layer) => layer,
            None => unreachable!("layer {i} of a loaded blob no longer decodes"),
        }
    }

    /// Classify one input: `h · w · c` pixels, 0 = background, 255 = ink (MNIST convention).
    /// `arena` must hold at least [`Model::arena_bytes`] bytes: the layers then stream band by
    /// band of rows through the smallest memory. Given at least
    /// [`Model::observed_arena_bytes`], the layers run one after the other on whole maps
    /// instead — one kernel call per layer, not one per band (each call unpacks or lays out its
    /// layer's weights, unless they were prepared once: [`Model::prepare`]), so faster where
    /// memory is plentiful (the 4-bit tiny model: 11 µs
    /// instead of 24 on one x86-64 core, `cargo run --release -p sumi-core --example latency`); the logits are the same. (Bare-metal builds,
    /// `target_os = "none"`, always stream, which keeps the whole-map code out of their flash.)
    ///
    /// ```
    /// use sumi_core::{Model, PredictError, models};
    /// let model = Model::from_bytes(models::DEFAULT)?;
    /// let mut arena = [0u8; models::DEFAULT_ARENA_BYTES];
    /// let prediction = model.predict(&[0u8; 28 * 28], &mut arena)?;
    /// assert!(prediction.class() < 10);
    /// let short = model.predict(&[0u8; 10], &mut arena);
    /// assert_eq!(short, Err(PredictError::InputLength { expected: 784, given: 10 }));
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    pub fn predict(&self, input: &[u8], arena: &mut [u8]) -> Result<Prediction, PredictError> {
        self.predict_prepared(input, arena, NOT_PREPARED)
    }

    /// [`Model::predict`] with the weights `prepared` for this CPU ([`crate::Prepared`]).
    pub(crate) fn predict_prepared(
        &self,
        input: &[u8],
        arena: &mut [u8],
        prepared: PreparedWeights<'_>,
    ) -> Result<Prediction, PredictError> {
        let rb = self.check_input(input)?;
        // Bare-metal builds always stream: the whole-map chain stays out of their flash.
        #[cfg(not(target_os = "none"))]
        if arena.len() >= self.plan.whole_arena_bytes {
            return self.run(
                &mut rows_of(input, rb),
                arena,
                &self.plan.whole_stages(),
                self.plan.whole_arena_bytes,
                Exec::Observed(&mut |_, _, _| {}),
                prepared,
            );
        }
        self.run(
            &mut rows_of(input, rb),
            arena,
            &self.plan.stages,
            self.plan.arena_bytes,
            Exec::Streamed,
            prepared,
        )
    }

    /// Like [`Model::predict`], with the input read one row at a time: `rows(y, row)` fills
    /// input row `y` (`w · c` pixels, 0 = background, 255 = ink) and returns `false` when it
    /// cannot (then the answer is [`PredictError::InputRow`]). Rows are asked for at most once
    /// each, in order, as the first layer needs them (a row no output depends on is never
    /// asked for), so the caller never holds the whole image: a
    /// camera or sensor driver can hand over lines as they arrive, a firmware can read them from
    /// flash or a file. The same arena ([`Model::arena_bytes`]) and the same logits as
    /// [`Model::predict`].
    ///
    /// ```
    /// use sumi_core::{models, Model};
    ///
    /// let model = Model::from_bytes(models::DEFAULT).unwrap();
    /// let mut arena = vec![0u8; model.arena_bytes()];
    /// let image = [0u8; 28 * 28];
    /// let whole = model.predict(&image, &mut arena).unwrap();
    /// let mut asked = Vec::new();
    /// let rows = model
    ///     .predict_rows(
    ///         |y, row| {
    ///             asked.push(y);
    ///             row.copy_from_slice(&image[y * 28..(y + 1) * 28]);
    ///             true
    ///         },
    ///         &mut arena,
    ///     )
    ///     .unwrap();
    /// assert_eq!(rows.logits(), whole.logits());
    /// assert!(asked.windows(2).all(|w| w[0] + 1 == w[1]));
    /// ```
    pub fn predict_rows<F>(&self, mut rows: F, arena: &mut [u8]) -> Result<Prediction, PredictError>
    where
        F: FnMut(usize, &mut [u8]) -> bool,
    {
        self.run(
            &mut rows,
            arena,
            &self.plan.stages,
            self.plan.arena_bytes,
            Exec::Streamed,
            NOT_PREPARED,
        )
    }

    /// Checks `input` has exactly the model's input pixels; returns the bytes of one row.
    fn check_input(&self, input: &[u8]) -> Result<usize, PredictError> {
        let n_in = self.plan.input.len();
        if input.len() != n_in {
            return Err(PredictError::InputLength {
                expected: n_in,
                given: input.len(),
            });
        }
        Ok(self.plan.row_bytes(0))
    }

    /// Like [`Model::predict`] on whole feature maps (an arena of
    /// [`Model::observed_arena_bytes`]), calling `observe(layer_index, shape, feature_map)` with
    /// every layer's int8 output (HWC) as each layer completes — for visualisation and per-layer
    /// timing. The logits layer is not observed. Same kernels, same logits.
    ///
    /// ```
    /// use sumi_core::{Model, models};
    /// let model = Model::from_bytes(models::DEFAULT)?;
    /// let mut arena = vec![0u8; model.observed_arena_bytes()];
    /// let mut seen = Vec::new();
    /// let p = model.predict_with(&[0u8; 784], &mut arena, |i, shape, map| {
    ///     assert_eq!(map.len(), shape.len());
    ///     seen.push(i);
    /// })?;
    /// assert_eq!(seen.len(), model.layers().count() - 1); // all but the logits
    /// assert_eq!(p.logits(), model.predict(&[0u8; 784], &mut arena)?.logits());
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    pub fn predict_with<F>(
        &self,
        input: &[u8],
        arena: &mut [u8],
        mut observe: F,
    ) -> Result<Prediction, PredictError>
    where
        F: FnMut(usize, Shape, &[i8]),
    {
        let rb = self.check_input(input)?;
        let stages = self.plan.whole_stages();
        self.run(
            &mut rows_of(input, rb),
            arena,
            &stages,
            self.plan.whole_arena_bytes,
            Exec::Observed(&mut observe),
            NOT_PREPARED,
        )
    }

    fn run(
        &self,
        input: RowSource<'_>,
        arena: &mut [u8],
        stages: &Stages,
        size: usize,
        exec: Exec<'_>,
        prepared: PreparedWeights<'_>,
    ) -> Result<Prediction, PredictError> {
        if arena.len() < size {
            return Err(PredictError::ArenaTooSmall {
                needed: size,
                given: arena.len(),
            });
        }
        let arena: &mut [i8] = bytemuck::cast_slice_mut(&mut arena[..size]);
        let (maps, scratch) = arena.split_at_mut(self.plan.scratch_at(size));
        let mut run = Run {
            input,
            failed_row: None,
            maps,
            scratch,
            base: [0; MAX_STAGES],
            stream_logits: false,
            logits: [0; MAX_CLASSES],
            prepared,
        };
        let observe = match exec {
            Exec::Streamed => {
                run.stream_logits = self.plan.stream_logits;
                self.chain(&mut run, stages);
                None
            }
            Exec::Observed(observe) => {
                self.chain_observed(&mut run, stages, observe);
                Some(observe)
            }
        };
        if let Some(row) = run.failed_row {
            return Err(PredictError::InputRow { row });
        }
        Ok(self.finish(&mut run, observe))
    }

    /// The streamed chain: the last stage's rows pulled through the windows (and, with
    /// streamed logits, each band of them into the logits).
    fn chain(&self, run: &mut Run<'_>, stages: &Stages) {
        let last = self.plan.spatial;
        let mut produced = [0usize; MAX_STAGES];
        let h = stages[last].out_h as usize;
        pull(stages, &mut produced, last, h, &mut |i, a, b, lo, _| {
            self.step(run, stages, i, (a, b), lo);
            if i == last && run.stream_logits {
                self.logits_band(run, stages, (a, b));
            }
        });
    }

    /// The chain on whole maps, one stage after the other, each observed when complete. Out
    /// of line: its frame is never on the stack of a streamed run.
    #[inline(never)]
    fn chain_observed(&self, run: &mut Run<'_>, stages: &Stages, observe: Observer<'_>) {
        let mut produced = [0usize; MAX_STAGES];
        for i in 0..=self.plan.spatial {
            let h = stages[i].out_h as usize;
            pull(stages, &mut produced, i, h, &mut |i, a, b, lo, _| {
                self.step(run, stages, i, (a, b), lo)
            });
            if i > 0 {
                let st = stages[i];
                let len = self.plan.shape(i - 1).len();
                let off = st.off as usize;
                observe(i - 1, self.plan.shape(i - 1), &run.maps[off..off + len]);
            }
        }
    }

    /// The logits of a finished chain: the streamed logits requantized, or the tail run. Out of
    /// line: its frame is never on the stack together with the chain's.
    #[inline(never)]
    fn finish(&self, run: &mut Run<'_>, observe: Option<Observer<'_>>) -> Prediction {
        let mut logits = run.logits;
        if run.stream_logits {
            if let LayerDesc::Dense(d) = self.layer(self.plan.n_layers - 1) {
                layers::dense_logits_finish(&d, &mut logits[..self.plan.classes]);
            }
        } else {
            self.tail(run.maps, run.scratch, observe, &mut logits);
        }
        Prediction::new(
            logits,
            self.plan.classes,
            self.logit_scale,
            self.calibration.temperature,
        )
    }

    /// The logits layer takes in the last stage's rows `rows`, just produced: its int32
    /// accumulators add the products of those flattened inputs (rows are contiguous in HWC
    /// order, so row `y` is inputs `[y · w · c, (y + 1) · w · c)`). Out of line: its frame is
    /// never on the stack together with a convolution's.
    #[inline(never)]
    fn logits_band(&self, run: &mut Run<'_>, stages: &Stages, rows: (usize, usize)) {
        let last = self.plan.spatial;
        let rb = self.plan.row_bytes(last);
        let at = stages[last].off as usize + (rows.0 - run.base[last]) * rb;
        let band = &run.maps[at..at + (rows.1 - rows.0) * rb];
        if let LayerDesc::Dense(d) = self.layer(self.plan.n_layers - 1) {
            let classes = self.plan.classes;
            layers::dense_logits_add(band, rows.0 * rb, &d, &mut run.logits[..classes]);
        }
    }

    /// Stage `i` produces its output rows `rows` from input rows starting at `lo`.
    fn step(&self, run: &mut Run<'_>, stages: &Stages, i: usize, rows: (usize, usize), lo: usize) {
        let st = stages[i];
        let rb = self.plan.row_bytes(i);
        let (off, cap) = (st.off as usize, st.rows as usize);
        // Make room: drop the oldest rows (already consumed) so that `rows` fit the window.
        let base = &mut run.base[i];
        if rows.1 > *base + cap {
            let new_base = rows.1 - cap;
            let (from, to) = ((new_base - *base) * rb, (rows.0 - *base) * rb);
            run.maps.copy_within(off + from..off + to, off);
            *base = new_base;
        }
        let out_at = (off + (rows.0 - *base) * rb, off + (rows.1 - *base) * rb);
        if i == 0 {
            let zp = self.plan.zero_points[0] as i32;
            let window = &mut run.maps[out_at.0..out_at.1];
            for (y, row) in (rows.0..).zip(window.chunks_exact_mut(rb)) {
                let pixels: &mut [u8] = bytemuck::cast_slice_mut(row);
                if !(run.input)(y, pixels) && run.failed_row.is_none() {
                    // Finish the run on whatever the row holds; `run` then answers the error.
                    run.failed_row = Some(y);
                }
                for q in row.iter_mut() {
                    *q = (*q as u8 as i32 + zp).clamp(-128, 127) as i8;
                }
            }
            return;
        }
        let prev = stages[i - 1];
        let prb = self.plan.row_bytes(i - 1);
        let y0 = run.base[i - 1];
        debug_assert!(
            lo >= y0,
            "stage {i} needs row {lo}, its input window starts at {y0}"
        );
        let in_at = (
            prev.off as usize,
            prev.off as usize + prev.rows as usize * prb,
        );
        let (data, out) = split_two(run.maps, in_at, out_at);
        let src = Rows {
            data,
            y0,
            s: self.plan.stage_shape(i - 1),
        };
        let zp_in = self.plan.zero_points[i - 1];
        match self.layer(i - 1) {
            LayerDesc::Conv2d(d) => {
                let prepared = run.prepared.get(i).copied().unwrap_or(&[]);
                layers::conv2d(src, zp_in, &d, rows, out, run.scratch, prepared)
            }
            LayerDesc::DepthwiseConv2d(d) => layers::depthwise_conv2d(src, zp_in, &d, rows, out),
            LayerDesc::Pool(p) => layers::pool2(src, p, rows, out),
            // The planner streams only the layers above.
            LayerDesc::Flatten | LayerDesc::Dense(_) => {}
        }
    }

    /// The layers after the streamed chain, on whole maps, ping-ponging between the two ends of
    /// `maps`; the chain's output starts at offset 0. Writes the logits. Out of line: its frame
    /// and the streamed chain's are never on the stack together.
    #[inline(never)]
    fn tail(
        &self,
        maps: &mut [i8],
        scratch: &mut [i8],
        mut observe: Option<Observer<'_>>,
        logits: &mut [i32; MAX_CLASSES],
    ) {
        let size = maps.len();
        let mut low = true;
        for i in self.plan.spatial..self.plan.n_layers {
            let layer = self.layer(i);
            let in_shape = self.plan.stage_shape(i);
            let out_shape = self.plan.shape(i);
            let (in_n, out_n) = (in_shape.len(), out_shape.len());
            let cur = if low { 0..in_n } else { size - in_n..size };
            match &layer {
                LayerDesc::Flatten => {
                    if let Some(observe) = observe.as_mut() {
                        observe(i, out_shape, &maps[cur.clone()]);
                    }
                    continue;
                }
                LayerDesc::Dense(d) if d.output == DenseOutput::Logits => {
                    layers::dense_logits(&maps[cur.clone()], d, &mut logits[..out_n]);
                    break;
                }
                _ => {}
            }
            let (input, output) = if low {
                let (a, b) = maps.split_at_mut(size - out_n);
                (&a[..in_n], &mut b[..])
            } else {
                let (a, b) = maps.split_at_mut(size - in_n);
                (&b[..], &mut a[..out_n])
            };
            let src = Rows::whole(input, in_shape);
            let zp_in = self.plan.zero_points[i];
            let all = (0, out_shape.h as usize);
            match &layer {
                LayerDesc::Conv2d(d) => layers::conv2d(src, zp_in, d, all, output, scratch, &[]),
                LayerDesc::DepthwiseConv2d(d) => {
                    layers::depthwise_conv2d(src, zp_in, d, all, output)
                }
                LayerDesc::Pool(p) => layers::pool2(src, *p, all, output),
                LayerDesc::Dense(d) => {
                    if let DenseOutput::Int8 { zero_point } = d.output {
                        layers::dense_int8(input, d, zero_point, output);
                    }
                }
                LayerDesc::Flatten => {}
            }
            if let Some(observe) = observe.as_mut() {
                observe(i, out_shape, output);
            }
            low = !low;
        }
    }
}
