//! The execution plan: every layer validated against the one before it, its shape and cost,
//! and the memory layout of streamed execution.
//!
//! **Streaming.** The leading spatial layers (convolutions, depthwise convolutions, pools) form a
//! chain of *stages*, stage 0 being the input itself. Each stage's output lives in a *window*
//! of a few rows: a stage produces `step` rows at a time, pulling from the stage before it only
//! the rows it needs, so no early feature map is ever held whole — only the last stage's map,
//! which the flatten/dense tail reads. The row schedule ([`pull`]) is the same for planning and
//! for running: the planner runs it without computing anything and records, per stage, the most
//! rows its consumer ever needs at once; that is the window. Every value is computed once.
//!
//! When the only layers after the chain are flattens and the logits layer, the logits are
//! streamed too: each band of the last stage's rows is multiplied into int32 accumulators as
//! soon as it is produced (integer sums, so the logits are the same bit for bit), and the last
//! map is never held whole either.
//!
//! A window keeps rows `[base, base + rows)` contiguous; when a step would run past its end the
//! oldest rows (already consumed) are moved out first, so kernels see plain contiguous rows and
//! index them without a modulo.

use crate::blob::{self, BlobError, DenseOutput, LayerDesc, Metadata, Padding, Pool};
use crate::layers::{self, MAX_WINDOW};
use crate::model::{LayerInfo, LayerKind, Shape};
use crate::{MAX_CLASSES, MAX_LAYERS};

/// Largest tensor, arena or parameter count accepted: 2^31 − 1, so every size fits `usize` on
/// 32-bit targets.
const LIMIT: u64 = i32::MAX as u64;

/// Patches are padded to a multiple of every path's [`crate::simd::Tile::PAD`] (at most 16).
pub(crate) const PATCH_ALIGN: usize = 16;

/// Most stages of the streamed chain: the input and 7 layers. Spatial layers past them (and
/// those with kernels taller than 255 rows) run on whole maps after the chain; the bound keeps
/// the plan small on a microcontroller's stack.
pub(crate) const MAX_STAGES: usize = 8;

/// One stage of the streamed chain: stage 0 is the input, stage `i > 0` is layer `i − 1`.
/// Twelve bytes: the plan holds [`MAX_STAGES`] of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Stage {
    /// Rows of this stage's output map.
    pub(crate) out_h: u16,
    /// Rows produced per step (at most 4).
    pub(crate) step: u8,
    /// Kernel height (1 for the input and pools).
    pub(crate) kh: u8,
    /// Padding rows before the first input row (less than `kh`).
    pub(crate) pad: u8,
    /// Conv rows per output row: 2 with 2×2 pooling, else 1.
    pub(crate) m: u8,
    /// Rows of the output window.
    pub(crate) rows: u16,
    /// Byte offset of the output window in the arena.
    pub(crate) off: u32,
}

impl Stage {
    /// A stage with every field zero (an unused one).
    const EMPTY: Stage = Stage {
        out_h: 0,
        step: 0,
        kh: 0,
        pad: 0,
        m: 0,
        rows: 0,
        off: 0,
    };

    /// Input rows `[lo, hi)` this stage reads to produce its output rows `[a, b)`, given the
    /// previous stage's height.
    #[inline]
    pub(crate) fn input_rows(&self, in_h: usize, a: usize, b: usize) -> (usize, usize) {
        let (m, kh, pad) = (self.m as usize, self.kh as usize, self.pad as usize);
        let lo = (a * m).saturating_sub(pad);
        let hi = (b * m + kh - 1).saturating_sub(pad).min(in_h);
        (lo, hi)
    }
}

/// The stages of a plan, with what a schedule needs.
pub(crate) type Stages = [Stage; MAX_STAGES];

/// Produce rows of stage `i` until `target` rows exist, pulling input rows from the stages before
/// it first. `step(i, a, b, lo, produced)` runs (or simulates) stage `i` producing output rows
/// `[a, b)` from its input rows starting at `lo`; `produced` counts every stage's rows so far.
/// Recursion depth is at most [`MAX_STAGES`].
pub(crate) fn pull<F: FnMut(usize, usize, usize, usize, &[usize; MAX_STAGES])>(
    stages: &[Stage],
    produced: &mut [usize; MAX_STAGES],
    i: usize,
    target: usize,
    step: &mut F,
) {
    while produced[i] < target {
        let st = stages[i];
        let a = produced[i];
        let b = (a + st.step as usize).min(st.out_h as usize);
        let lo = if i == 0 {
            a
        } else {
            let (lo, hi) = st.input_rows(stages[i - 1].out_h as usize, a, b);
            pull(stages, produced, i - 1, hi, step);
            lo
        };
        step(i, a, b, lo, produced);
        produced[i] = b;
    }
}

/// The validated plan of a model (shapes, costs, stages, arena layout). Small and fixed-size:
/// layers are decoded again from the blob when they run, never held all at once.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) input: Shape,
    pub(crate) n_layers: usize,
    /// Output shape (h, w, c) of each layer; see [`Plan::shape`].
    shapes: [[u16; 3]; MAX_LAYERS],
    /// Byte offset of each layer in the encoded layer list.
    pub(crate) offsets: [u32; MAX_LAYERS],
    /// Leading spatial layers (streamed): stages `0..=spatial`.
    pub(crate) spatial: usize,
    /// Streamed layout.
    pub(crate) stages: Stages,
    /// Zero point of each stage's output (stage 0: the input; stage `i`: layer `i − 1`).
    pub(crate) zero_points: [i8; MAX_LAYERS + 1],
    /// Bytes of each patch in the convolution scratch (the largest padded window).
    pub(crate) patch: usize,
    /// Arena of streamed execution ([`crate::Model::predict`]).
    pub(crate) arena_bytes: usize,
    /// Arena of whole-map execution ([`crate::Model::predict_with`]).
    pub(crate) whole_arena_bytes: usize,
    /// [`Plan::whole_stages`], laid out once at load on hosts, where `predict` runs whole maps
    /// whenever the arena holds them (bare-metal builds compute it for `predict_with` only, and
    /// keep their plan, which firmware holds on its stack while loading, small).
    #[cfg(not(target_os = "none"))]
    whole: Stages,
    /// The logits layer consumes the last stage band by band (see the module doc).
    pub(crate) stream_logits: bool,
    pub(crate) macs: u64,
    pub(crate) params: u32,
    pub(crate) classes: usize,
}

/// The arena each format version's header declares for a model, by that version's own rule.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Declared {
    /// Versions 1 and 2: engine v1's ping-pong plan.
    legacy: usize,
    /// Version 3: the streamed plan gathering kernel rows that are not a multiple of 16 bytes.
    v3: usize,
    /// Version 4: the streamed plan holding the last stage's whole map.
    v4: usize,
    /// The current version: this engine's plan ([`Plan::arena_bytes`]).
    current: usize,
}

impl Declared {
    /// The arena a header of format `version` declares.
    pub(crate) fn for_version(&self, version: u16) -> usize {
        match version {
            blob::VERSION_5.. => self.current,
            blob::VERSION_4 => self.v4,
            blob::VERSION_3 => self.v3,
            _ => self.legacy,
        }
    }
}

/// How [`Plan::layout`] sizes the stages' windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// Every stage's whole map ([`crate::Model::predict_with`]).
    Whole,
    /// Windows, the last stage whole (format version 4's plan).
    Streamed,
    /// Windows, the last stage's a single step: the logits layer consumes it band by band.
    StreamedLogits,
}

/// The model-wide fields the planner checks.
pub(crate) struct Head<'a, 'm> {
    pub(crate) input: (u16, u16, u16),
    pub(crate) input_zero_point: i8,
    pub(crate) logit_scale: f32,
    pub(crate) temperature: f32,
    pub(crate) meta: &'m Metadata<'a>,
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

/// The per-channel arrays hold `n` channels each, every bias is in range and every
/// requantization valid.
fn check_bias_requant(
    layer: usize,
    n: usize,
    channels: blob::Channels<'_>,
) -> Result<(), BlobError> {
    let [bias, mult, shifts] = channels.stored_bytes();
    check_len(layer, "bias", bias, 4 * n as u64)?;
    check_len(layer, "multipliers", mult, 4 * n as u64)?;
    check_len(layer, "shifts", shifts, n as u64)?;
    if channels.biases().any(|v| v.unsigned_abs() >= 1 << 30) {
        return Err(BlobError::BiasOutOfRange(layer));
    }
    if !channels.requants().all(|rq| rq.is_valid()) {
        return Err(BlobError::BadRequant(layer));
    }
    Ok(())
}

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

/// A checked convolution (regular or depthwise): its info and its receptive-field size.
fn conv_layer(
    i: usize,
    layer: &LayerDesc<'_>,
    d: &blob::ConvDesc<'_>,
    cur: Shape,
) -> Result<(LayerInfo, usize), BlobError> {
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
    if d.padding == Padding::Valid && (kh > cur.h as u64 || kw > cur.w as u64) {
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
    if !crate::packing::BITS.contains(&d.weight_bits) || (depthwise && d.weight_bits != 8) {
        return Err(BlobError::BadWeightBits {
            layer: i,
            bits: d.weight_bits,
        });
    }
    let stored = if depthwise {
        wlen
    } else {
        d.row_bytes() as u64 * oc
    };
    check_len(i, "weights", d.weights.len(), stored)?;
    check_bias_requant(i, oc as usize, d.channels())?;
    let kind = if depthwise {
        LayerKind::DepthwiseConv2d
    } else {
        LayerKind::Conv2d
    };
    let info = LayerInfo {
        kind,
        input: cur,
        output: out,
        relu: d.relu,
        pool: d.pool,
        kernel: (d.kernel_h, d.kernel_w),
        macs: ch * cw * oc * window,
        params: (wlen + oc) as u32,
        arena_bytes: 0,
    };
    // Scratch for gathered patches, padded for the widest path (see layers::needs_patches).
    let patch = if depthwise {
        0
    } else {
        layers::needs_patches(d, cur.c as usize).unwrap_or(0)
    };
    Ok((info, patch))
}

fn pool_layer(i: usize, p: Pool, cur: Shape) -> Result<LayerInfo, BlobError> {
    if p == Pool::None {
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
    Ok(info(LayerKind::Pool, cur, out, false, p, 0, 0))
}

fn flatten_layer(cur: Shape) -> LayerInfo {
    let out = Shape {
        h: 1,
        w: 1,
        c: cur.elems() as u32,
    };
    info(LayerKind::Flatten, cur, out, false, Pool::None, 0, 0)
}

fn dense_layer(
    i: usize,
    last: bool,
    d: &blob::DenseDesc<'_>,
    cur: Shape,
) -> Result<LayerInfo, BlobError> {
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
    if !crate::packing::BITS.contains(&d.weight_bits) {
        return Err(BlobError::BadWeightBits {
            layer: i,
            bits: d.weight_bits,
        });
    }
    check_len(i, "weights", d.weights.len(), d.row_bytes() as u64 * o)?;
    check_bias_requant(i, o as usize, d.channels())?;
    let logits = matches!(d.output, DenseOutput::Logits);
    if logits != last || (logits && d.relu) {
        return Err(BlobError::BadOutputLayer);
    }
    if logits && o as usize > MAX_CLASSES {
        return Err(BlobError::TooManyClasses(o as usize));
    }
    let kind = if logits {
        LayerKind::Logits
    } else {
        LayerKind::Dense
    };
    let out = Shape {
        h: 1,
        w: 1,
        c: o as u32,
    };
    Ok(info(kind, cur, out, d.relu, Pool::None, n * o, n * o + o))
}

fn info(
    kind: LayerKind,
    input: Shape,
    output: Shape,
    relu: bool,
    pool: Pool,
    macs: u64,
    params: u64,
) -> LayerInfo {
    LayerInfo {
        kind,
        input,
        output,
        relu,
        pool,
        kernel: (1, 1),
        macs,
        params: params as u32,
        arena_bytes: 0,
    }
}

/// Check layer `i` (the last one if `last`) against its input shape; return its info and the
/// bytes of each of the four patches it gathers (0 when it gathers none).
pub(crate) fn layer_info(
    i: usize,
    last: bool,
    layer: &LayerDesc<'_>,
    cur: Shape,
) -> Result<(LayerInfo, usize), BlobError> {
    let (info, patch) = match layer {
        LayerDesc::Conv2d(d) | LayerDesc::DepthwiseConv2d(d) => conv_layer(i, layer, d, cur)?,
        LayerDesc::Pool(p) => (pool_layer(i, *p, cur)?, 0),
        LayerDesc::Flatten => (flatten_layer(cur), 0),
        LayerDesc::Dense(d) => (dense_layer(i, last, d, cur)?, 0),
    };
    if last && info.kind != LayerKind::Logits {
        return Err(BlobError::BadOutputLayer);
    }
    let mut info = info;
    let bytes = match info.kind {
        LayerKind::Flatten => 0,
        LayerKind::Logits => cur.elems(),
        _ => cur.elems() + info.output.elems(),
    };
    if bytes > LIMIT {
        return Err(BlobError::Overflow(i));
    }
    info.arena_bytes = bytes as usize;
    Ok((info, patch))
}

/// The stage a spatial layer runs as, without its window (filled in by the layout).
fn stage_of(layer: &LayerDesc<'_>, out: Shape) -> Option<Stage> {
    let (kh, pad, m, tiled_w) = match layer {
        LayerDesc::Conv2d(d) => {
            let kh = d.kernel_h as usize;
            let m = if d.pool == Pool::None { 1 } else { 2 };
            let tiled = (d.pool == Pool::None).then_some(out.w as usize);
            (kh, layers::pad_before(d.padding, kh), m, tiled)
        }
        LayerDesc::DepthwiseConv2d(d) => {
            let kh = d.kernel_h as usize;
            let m = if d.pool == Pool::None { 1 } else { 2 };
            (kh, layers::pad_before(d.padding, kh), m, None)
        }
        LayerDesc::Pool(_) => (1, 0, 2, None),
        LayerDesc::Flatten | LayerDesc::Dense(_) => return None,
    };
    // A stage stores its kernel height in a byte: taller kernels run on whole maps.
    let kh = u8::try_from(kh).ok()?;
    // A tile holds 4 consecutive output pixels and may wrap to the next row: steps of whole
    // tiles (4 / gcd(width, 4) rows) leave no partial tile but the map's last.
    let step = match tiled_w {
        Some(w) if w % 4 == 0 => 1,
        Some(w) if w % 2 == 0 => 2,
        Some(_) => 4,
        None => 1,
    }
    .min(out.h as usize);
    Some(Stage {
        out_h: out.h as u16,
        step: step as u8,
        kh,
        pad: pad as u8,
        m,
        rows: 0,
        off: 0,
    })
}

impl Plan {
    /// An empty plan, for [`Plan::fill`].
    pub(crate) const EMPTY: Plan = Plan {
        input: Shape { h: 0, w: 0, c: 0 },
        n_layers: 0,
        shapes: [[0; 3]; MAX_LAYERS],
        offsets: [0; MAX_LAYERS],
        spatial: 0,
        stages: [Stage::EMPTY; MAX_STAGES],
        #[cfg(not(target_os = "none"))]
        whole: [Stage::EMPTY; MAX_STAGES],
        zero_points: [0; MAX_LAYERS + 1],
        patch: 0,
        arena_bytes: 0,
        whole_arena_bytes: 0,
        stream_logits: false,
        macs: 0,
        params: 0,
        classes: 0,
    };

    /// Validate and plan a model whose layers come from `layers` (decoded lazily or not).
    pub(crate) fn new<'a, I>(head: &Head<'a, '_>, layers: I) -> Result<Plan, BlobError>
    where
        I: Iterator<Item = Result<(LayerDesc<'a>, u32), BlobError>> + ExactSizeIterator,
    {
        let mut plan = Plan::EMPTY;
        plan.fill(head, layers)?;
        Ok(plan)
    }

    /// [`Plan::new`] in place: the model loader plans straight into the [`crate::Model`] it
    /// returns, so no second plan is on a microcontroller's stack while loading. Returns the
    /// arena each format version declares for the model. Out of line: the planner's temporaries
    /// live in its own frame, above the loader's.
    #[inline(never)]
    pub(crate) fn fill<'a, I>(
        &mut self,
        head: &Head<'a, '_>,
        layers: I,
    ) -> Result<Declared, BlobError>
    where
        I: Iterator<Item = Result<(LayerDesc<'a>, u32), BlobError>> + ExactSizeIterator,
    {
        let plan = self;
        let input_dim = |v: u16, what| match v {
            0 => Err(BlobError::BadInputDimension(what)),
            v => Ok(u32::from(v)),
        };
        let input = Shape {
            h: input_dim(head.input.0, "input height")?,
            w: input_dim(head.input.1, "input width")?,
            c: input_dim(head.input.2, "input channels")?,
        };
        let n_layers = layers.len();
        if n_layers == 0 {
            return Err(BlobError::NoLayers);
        }
        if n_layers > MAX_LAYERS {
            return Err(BlobError::TooManyLayers(n_layers as u64));
        }
        if !(head.logit_scale.is_finite() && head.logit_scale > 0.0) {
            return Err(BlobError::BadLogitScale);
        }
        if !blob::TEMPERATURE_RANGE.contains(&head.temperature) {
            return Err(BlobError::BadTemperature);
        }
        check_metadata(head.meta)?;
        if input.elems() > LIMIT {
            return Err(BlobError::Overflow(0));
        }
        *plan = Plan::EMPTY;
        plan.input = input;
        plan.n_layers = n_layers;
        plan.stages[0] = Stage {
            out_h: input.h as u16,
            step: 1,
            kh: 1,
            pad: 0,
            m: 1,
            rows: 0,
            off: 0,
        };
        plan.zero_points[0] = head.input_zero_point;
        let mut cur = input;
        let mut legacy = input.elems();
        let mut params = 0u64;
        let mut streaming = true;
        // The tail (after the streamed chain) ping-pongs: its peak is max(in + out), over the
        // layers before the logits layer and with it.
        let (mut tail, mut logits_in) = (0u64, 0u64);
        // Whether the tail so far holds only flattens (then the logits can be streamed).
        let mut only_flattens = true;
        let mut patch_v3 = 0usize;
        for (i, item) in layers.enumerate() {
            let (layer, offset) = item?;
            let (info, patch) = layer_info(i, i == n_layers - 1, &layer, cur)?;
            let out = info.output;
            let layer_arena = info.arena_bytes as u64;
            legacy = legacy.max(layer_arena);
            plan.macs = plan.macs.saturating_add(info.macs);
            params = params.saturating_add(info.params as u64);
            if params > LIMIT {
                return Err(BlobError::Overflow(i));
            }
            if info.kind == LayerKind::Logits {
                plan.classes = out.c as usize;
            }
            plan.patch = plan.patch.max(patch);
            if let LayerDesc::Conv2d(d) = &layer {
                let v3 = layers::needs_patches_at(d, cur.c as usize, PATCH_ALIGN);
                patch_v3 = patch_v3.max(v3.unwrap_or(0));
            }
            match stage_of(&layer, out).filter(|_| streaming && i + 1 < MAX_STAGES) {
                Some(stage) => {
                    plan.spatial = i + 1;
                    plan.stages[i + 1] = stage;
                }
                None => {
                    streaming = false;
                    if info.kind == LayerKind::Logits {
                        logits_in = layer_arena;
                        plan.stream_logits = only_flattens;
                    } else {
                        only_flattens &= info.kind == LayerKind::Flatten;
                        tail = tail.max(layer_arena);
                    }
                }
            }
            plan.zero_points[i + 1] = match &layer {
                LayerDesc::Conv2d(d) | LayerDesc::DepthwiseConv2d(d) => d.output_zero_point,
                LayerDesc::Dense(d) => match d.output {
                    DenseOutput::Int8 { zero_point } => zero_point,
                    DenseOutput::Logits => 0,
                },
                LayerDesc::Pool(_) | LayerDesc::Flatten => plan.zero_points[i],
            };
            // Every dimension fits 16 bits except a flatten's length, which a valid next layer
            // bounds to 65535 as well (dense input, conv channels); a longer one fails there.
            plan.shapes[i] = [out.h, out.w, out.c].map(|v| v.min(u16::MAX as u32) as u16);
            plan.offsets[i] = offset;
            cur = out;
        }
        plan.params = params as u32;
        let scratch = 4 * plan.patch as u64;
        let whole = (0..=plan.spatial)
            .map(|i| plan.stages[i].out_h as u64 * plan.row_bytes(i) as u64)
            .sum::<u64>()
            + scratch;
        // Version 4's plan: the last stage whole, the logits layer reading it in the tail.
        let tail_all = tail.max(logits_in) + scratch;
        let v4 = (plan.layout(Layout::Streamed) + scratch).max(tail_all);
        if v4.max(whole) > LIMIT {
            return Err(BlobError::Overflow(n_layers - 1));
        }
        plan.arena_bytes = if plan.stream_logits {
            (plan.layout(Layout::StreamedLogits) + scratch).max(tail + scratch) as usize
        } else {
            v4 as usize
        };
        plan.whole_arena_bytes = whole.max(tail_all) as usize;
        #[cfg(not(target_os = "none"))]
        {
            plan.whole = plan.lay_out_whole();
        }
        Ok(Declared {
            legacy: legacy as usize,
            // Version 3's rule gathers a superset of the layers version 4 does, into patches
            // at least as large.
            v3: v4 as usize + 4 * (patch_v3 - plan.patch),
            v4: v4 as usize,
            current: plan.arena_bytes,
        })
    }

    /// Bytes of one row of stage `i`'s output.
    pub(crate) fn row_bytes(&self, i: usize) -> usize {
        let s = self.stage_shape(i);
        s.w as usize * s.c as usize
    }

    /// Output shape of layer `i`.
    pub(crate) fn shape(&self, i: usize) -> Shape {
        let [h, w, c] = self.shapes[i].map(u32::from);
        Shape { h, w, c }
    }

    /// Output shape of stage `i` (stage 0 is the input).
    pub(crate) fn stage_shape(&self, i: usize) -> Shape {
        if i == 0 {
            self.input
        } else {
            self.shape(i - 1)
        }
    }

    /// Fill in every stage's window (rows and offset) for `mode` and return the bytes of all
    /// windows. The last stage's window sits at offset 0, where the tail reads it.
    fn layout(&mut self, mode: Layout) -> u64 {
        let last = self.spatial;
        let mut need = [0usize; MAX_STAGES];
        if mode != Layout::Whole {
            let mut produced = [0usize; MAX_STAGES];
            let stages = &self.stages;
            pull(
                &stages[..],
                &mut produced,
                last,
                stages[last].out_h as usize,
                &mut |i, _, _, lo, produced| {
                    if i > 0 {
                        need[i - 1] = need[i - 1].max(produced[i - 1] - lo);
                    }
                },
            );
        }
        let mut total = 0u64;
        for i in (0..=last).rev() {
            let row = self.row_bytes(i) as u64;
            let st = &mut self.stages[i];
            let h = st.out_h as usize;
            st.rows = match mode {
                Layout::Whole => h,
                Layout::Streamed if i == last => h,
                Layout::StreamedLogits if i == last => (st.step as usize).min(h),
                _ => need[i].next_multiple_of(st.step as usize).min(h),
            } as u16;
            st.off = total as u32;
            total += st.rows as u64 * row;
        }
        total
    }

    /// The stages laid out for whole-map execution ([`crate::Model::predict_with`], and
    /// [`crate::Model::predict`] given that arena on hosts).
    pub(crate) fn whole_stages(&self) -> Stages {
        #[cfg(not(target_os = "none"))]
        return self.whole;
        #[cfg(target_os = "none")]
        self.lay_out_whole()
    }

    /// [`Plan::whole_stages`] computed: the plan laid out again for whole maps.
    fn lay_out_whole(&self) -> Stages {
        let mut whole = self.clone();
        whole.layout(Layout::Whole);
        // Whole maps: steps as long as a stage stores (a multiple of 4 rows, so only a map's
        // last tile can be partial); the windows hold whole maps, so no row ever moves.
        for st in &mut whole.stages[..=self.spatial] {
            st.step = 252; // the largest multiple of 4 a u8 holds
        }
        whole.stages
    }

    /// Byte offset of the convolution scratch (four patches) in an arena of `arena` bytes.
    pub(crate) fn scratch_at(&self, arena: usize) -> usize {
        arena - 4 * self.patch
    }
}
