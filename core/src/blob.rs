//! The model blob: a 20-byte header followed by a postcard payload. Field-by-field spec in
//! `core/FORMAT.md`.
//!
//! ```text
//! offset size field
//!  0     4    magic        b"SUMI"
//!  4     2    version      u16 LE, 2 (1 is still read: no calibration, temperature 1)
//!  6     2    flags        u16 LE, reserved, must be 0
//!  8     4    payload_len  u32 LE, bytes of postcard payload that follow the header
//! 12     4    arena_bytes  u32 LE, scratch the model needs (checked against the layers at load)
//! 16     4    crc32        u32 LE, CRC-32 (IEEE) of the payload
//! 20     ..   payload      postcard-encoded [`ModelDesc`], then (version 2) [`Calibration`]
//! ```
//!
//! Reading a file: [`blob_len`] tells from the 20-byte header alone how many bytes the whole
//! blob has (at most [`MAX_BLOB_BYTES`]), so a reader never needs to read more than that.
//!
//! Decoding borrows every weight array from the input slice: nothing is copied or allocated,
//! so a blob in flash (`include_bytes!`) is used in place. [`encode`] is the writer the trainer
//! uses; it plans the model first so it can never write a blob that does not load.

use heapless::Vec;
use serde::{Deserialize, Serialize};

use crate::MAX_LAYERS;
/// CRC-32 (IEEE 802.3), the checksum of a blob's payload (header field at offset 16).
pub use crate::crc::crc32;
/// The weight precisions (bits) a layer may declare ([`ConvDesc::weight_bits`],
/// [`DenseDesc::weight_bits`]).
pub use crate::packing::BITS as WEIGHT_BITS;

/// The four magic bytes at the start of every blob.
pub const MAGIC: [u8; 4] = *b"SUMI";
/// The blob format version this crate writes: fully connected layers declare their weight
/// precision ([`DenseDesc::weight_bits`]: 8, 4 or 2 bits, packed), and so do convolutions
/// ([`ConvDesc::weight_bits`]). It also reads [`VERSION_5`] to [`VERSION_1`], whose layers have
/// no such field (int8).
pub const VERSION: u16 = 6;
/// Format version 5: the header declares the streamed plan's arena, where every path reads
/// kernel rows of a multiple of 4 bytes in place and a logits layer that follows the spatial
/// chain consumes it band by band; every weight is int8.
pub const VERSION_5: u16 = 5;
/// Format version 4: the header declares the streamed plan's arena with the last spatial
/// layer's whole map (the logits layer read it after the chain).
pub const VERSION_4: u16 = 4;
/// Format version 3: the header declares the streamed plan's arena with gathered patches for
/// every kernel row that is not a multiple of 16 bytes.
pub const VERSION_3: u16 = 3;
/// Format version 2: the header declares the arena of the ping-pong plan of engine v1
/// (`max over layers of input + output bytes`); the payload is the same as version 3's.
pub const VERSION_2: u16 = 2;
/// The first format version: no [`Calibration`] section (temperature 1).
pub const VERSION_1: u16 = 1;
/// Largest blob accepted (header + payload): 16 MiB, far above any model that fits a
/// microcontroller (the default model is about 100 KiB). Readers cap file reads at it.
pub const MAX_BLOB_BYTES: usize = 16 * 1024 * 1024;
/// Longest model name accepted in [`Metadata::name`], in bytes.
pub const MAX_NAME_BYTES: usize = 64;
/// Longest [`Metadata::created`] accepted, in bytes.
pub const MAX_CREATED_BYTES: usize = 64;
/// Longest [`Metadata::recipe`] accepted, in bytes.
pub const MAX_RECIPE_BYTES: usize = 4096;
/// Range of temperatures accepted in [`Calibration::temperature`].
pub const TEMPERATURE_RANGE: core::ops::RangeInclusive<f32> = 0.01..=100.0;
/// Size of the fixed header in bytes.
pub const HEADER_LEN: usize = 20;

/// Everything that can be wrong with a blob. Each malformation has its own variant.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlobError {
    /// Fewer bytes than the 20-byte header.
    #[error(
        "blob is {0} bytes, shorter than the 20-byte header: the file is truncated or not a Sumi model"
    )]
    TooShort(usize),
    /// The first four bytes are not `SUMI`.
    #[error("bad magic {0:02x?}: not a Sumi model blob (expected \"SUMI\")")]
    BadMagic([u8; 4]),
    /// A format version this build cannot read.
    #[error(
        "blob format version {found} is not supported (this build reads versions 1 to {supported}); re-export the model with a matching sumi-train"
    )]
    UnsupportedVersion {
        /// Version in the header.
        found: u16,
        /// Version this crate reads.
        supported: u16,
    },
    /// Reserved header flags are set.
    #[error("reserved header flags {0:#06x} are set: blob written by an incompatible tool")]
    BadFlags(u16),
    /// The header declares a blob larger than [`MAX_BLOB_BYTES`].
    #[error(
        "header declares a {declared}-byte blob, more than the {max}-byte limit: not a Sumi model, or a corrupt one"
    )]
    TooLarge {
        /// Header plus declared payload length.
        declared: u64,
        /// [`MAX_BLOB_BYTES`].
        max: usize,
    },
    /// The payload is shorter or longer than the header says.
    #[error(
        "payload length mismatch: header says {header} bytes, {actual} bytes follow the header (truncated or padded file)"
    )]
    LengthMismatch {
        /// Length stated in the header.
        header: u32,
        /// Bytes actually present after the header.
        actual: usize,
    },
    /// The CRC-32 of the payload does not match the header.
    #[error("CRC mismatch: header {expected:#010x}, payload {actual:#010x}: the blob is corrupt")]
    CrcMismatch {
        /// CRC stored in the header.
        expected: u32,
        /// CRC computed over the payload.
        actual: u32,
    },
    /// The payload is not a valid postcard-encoded model description.
    #[error("payload does not decode as a model description (postcard: {0})")]
    Malformed(postcard::Error),
    /// The payload decoded but bytes were left over.
    #[error("{0} unexpected bytes after the model description")]
    TrailingBytes(usize),
    /// The model has no layers.
    #[error("the model has no layers")]
    NoLayers,
    /// More layers than supported.
    #[error("the model has {0} layers; at most {max} are supported", max = crate::MAX_LAYERS)]
    TooManyLayers(u64),
    /// An input dimension is zero or out of the supported range (1..=65535).
    #[error("input: invalid dimension ({0}); each must be 1 to 65535")]
    BadInputDimension(&'static str),
    /// A dimension is zero or out of the supported range.
    #[error("layer {layer}: invalid dimension ({what})")]
    BadDimension {
        /// Layer index.
        layer: usize,
        /// Which dimension.
        what: &'static str,
    },
    /// A layer's declared input does not match the previous layer's output.
    #[error("layer {layer}: expects input {expected}, previous layer produces {found}")]
    ShapeMismatch {
        /// Layer index.
        layer: usize,
        /// What the layer declares.
        expected: u32,
        /// What the previous layer produces.
        found: u32,
    },
    /// A layer declares a weight precision this build has no kernel for (8, 4 or 2 bits; 8
    /// for depthwise convolutions).
    #[error(
        "layer {layer}: {bits}-bit weights are not supported here (8, 4 or 2; depthwise convolutions 8); re-export the model with a matching sumi-train"
    )]
    BadWeightBits {
        /// Layer index.
        layer: usize,
        /// The declared bits per weight.
        bits: u8,
    },
    /// A weight that the layer's precision cannot hold (when building a blob).
    #[error(
        "layer {layer}: weight {value} has no {bits}-bit code (4 bits hold -8 to 7, 2 bits -3, -1, 1 and 3): quantize the layer to its precision first"
    )]
    WeightNotRepresentable {
        /// Layer index.
        layer: usize,
        /// The layer's bits per weight.
        bits: u8,
        /// The weight.
        value: i8,
    },
    /// A weight, bias or requantization array has the wrong length.
    #[error("layer {layer}: {what} has {found} bytes, expected {expected}")]
    ArrayLength {
        /// Layer index.
        layer: usize,
        /// Which array.
        what: &'static str,
        /// Expected byte length.
        expected: usize,
        /// Actual byte length.
        found: usize,
    },
    /// A size computation overflowed.
    #[error("layer {0}: tensor sizes overflow")]
    Overflow(usize),
    /// A kernel's receptive field exceeds what the engine supports.
    #[error("layer {layer}: kernel window of {size} values exceeds the supported {max}")]
    KernelTooLarge {
        /// Layer index.
        layer: usize,
        /// kernel_h · kernel_w · in_channels.
        size: usize,
        /// Supported maximum.
        max: usize,
    },
    /// A bias is so large the int32 accumulator could overflow.
    #[error("layer {0}: bias out of range (|bias| must be below 2^30)")]
    BiasOutOfRange(usize),
    /// A requantization multiplier or shift is out of range.
    #[error("layer {0}: requantization multiplier or shift out of range")]
    BadRequant(usize),
    /// A layer that is only valid as the last layer appears elsewhere, or the last layer is not one.
    #[error("the last layer must be a Dense layer with logits output, and only the last")]
    BadOutputLayer,
    /// More classes than supported.
    #[error("{0} output classes; at most {max} are supported", max = crate::MAX_CLASSES)]
    TooManyClasses(usize),
    /// The arena size in the header does not match the layers.
    #[error("header says the arena needs {header} bytes but the layers need {computed}")]
    ArenaMismatch {
        /// From the header.
        header: u32,
        /// Computed from the layers.
        computed: usize,
    },
    /// The logit scale is not a finite positive number.
    #[error("logit scale must be a finite positive number")]
    BadLogitScale,
    /// The calibration temperature is not a finite number in [`TEMPERATURE_RANGE`].
    #[error("calibration temperature must be a finite number from 0.01 to 100")]
    BadTemperature,
    /// A metadata field is out of range (accuracy not in 0..=1, or a string too long).
    #[error("metadata: {0}")]
    BadMetadata(&'static str),
    /// The output buffer given to [`encode`] is too small.
    #[error("output buffer too small to encode the blob")]
    BufferTooSmall,
}

/// Spatial padding of a convolution (stride is always 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Padding {
    /// No padding: output is `(h - k + 1) × (w - k + 1)`.
    Valid,
    /// Zero padding (in real terms) of `(k - 1) / 2` before and `k / 2` after: output is `h × w`.
    Same,
}

/// A 2×2, stride-2 pooling step (fused into a convolution or standalone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Pool {
    /// No pooling.
    None,
    /// Maximum of each 2×2 window.
    Max2,
    /// Mean of each 2×2 window: `(a + b + c + d + 2) >> 2`.
    Avg2,
}

/// Convolution (regular or depthwise) parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConvDesc<'a> {
    /// Kernel height.
    pub kernel_h: u8,
    /// Kernel width.
    pub kernel_w: u8,
    /// Input channels (must match the previous layer).
    pub in_channels: u16,
    /// Output channels (equals `in_channels` for depthwise).
    pub out_channels: u16,
    /// Padding mode.
    pub padding: Padding,
    /// ReLU fused into the output (clamp at the output zero point).
    pub relu: bool,
    /// 2×2 pooling fused after requantization.
    pub pool: Pool,
    /// Output zero point.
    pub output_zero_point: i8,
    /// Bits per weight (format version 6; older blobs: 8): 8, or for a regular convolution 4
    /// or 2, as [`DenseDesc::weight_bits`] (depthwise weights are int8).
    pub weight_bits: u8,
    /// The weights: OHWI for conv2d, each output channel's `kernel_h · kernel_w · in_channels`
    /// packed into [`ConvDesc::row_bytes`] bytes; HWC int8 for depthwise (as stored; typed:
    /// [`ConvDesc::weight`], [`ConvDesc::weights_i8`]).
    pub weights: &'a [u8],
    /// int32 little-endian bias per output channel, input zero point folded in (as stored;
    /// typed: [`ConvDesc::channels`]).
    pub bias: &'a [u8],
    /// i32 little-endian Q31 multiplier per output channel (as stored).
    pub multipliers: &'a [u8],
    /// i8 shift per output channel (as stored).
    pub shifts: &'a [u8],
}

/// Output of a fully connected layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DenseOutput {
    /// int8 activations with this zero point.
    Int8 {
        /// Output zero point.
        zero_point: i8,
    },
    /// int32 logits (last layer only): `requantize(acc)` with no zero point and no clamp.
    Logits,
}

/// Fully connected layer parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DenseDesc<'a> {
    /// Input features (must match the flattened previous output, HWC order).
    pub in_features: u32,
    /// Output features.
    pub out_features: u16,
    /// ReLU fused into the output (int8 output only).
    pub relu: bool,
    /// Output kind.
    pub output: DenseOutput,
    /// Bits per weight (format version 6; older blobs: 8): 8 (int8), 4 (two's complement,
    /// −8 to 7) or 2 (code `c` is the weight `2c − 3`: −3, −1, 1 or 3). See
    /// [`DenseDesc::weight`].
    pub weight_bits: u8,
    /// The weights, `[out][in]`, each row packed into [`DenseDesc::row_bytes`] bytes (as
    /// stored; typed: [`DenseDesc::weight`], [`DenseDesc::weight_values`]).
    pub weights: &'a [u8],
    /// int32 little-endian bias per output, input zero point folded in (as stored; typed:
    /// [`DenseDesc::channels`]).
    pub bias: &'a [u8],
    /// i32 little-endian Q31 multiplier per output.
    pub multipliers: &'a [u8],
    /// i8 shift per output.
    pub shifts: &'a [u8],
}

/// The per-output-channel parameters of a convolution or fully connected layer, read from
/// the blob's little-endian arrays as typed values (zero-copy: the arrays stay in flash,
/// unaligned). Lengths are checked when the model loads ([`crate::Model::from_bytes`]).
///
/// ```
/// use sumi_core::blob::{self, LayerDesc};
///
/// let (_, desc) = blob::decode(sumi_core::models::DEFAULT)?;
/// let LayerDesc::Conv2d(first) = &desc.layers[0] else { unreachable!() };
/// let ch = first.channels();
/// assert_eq!(ch.len(), usize::from(first.out_channels));
/// assert!(ch.requants().all(|r| r.is_valid()));
/// assert_eq!(first.weights_i8().map(|w| w.len()), Some(3 * 3 * 16));
/// # Ok::<(), sumi_core::BlobError>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Channels<'a> {
    bias: &'a [u8],
    multipliers: &'a [u8],
    shifts: &'a [u8],
}

impl<'a> Channels<'a> {
    /// Number of output channels (of shifts; the bias and multiplier arrays hold as many).
    ///
    /// ```
    /// use sumi_core::blob::{self, LayerDesc};
    /// let (_, desc) = blob::decode(sumi_core::models::DEFAULT)?;
    /// let LayerDesc::Conv2d(first) = &desc.layers[0] else { unreachable!() };
    /// assert_eq!(first.channels().len(), 16);
    /// # Ok::<(), sumi_core::BlobError>(())
    /// ```
    pub fn len(&self) -> usize {
        self.shifts.len()
    }
    /// Bytes stored in the bias, multiplier and shift arrays (what the loader checks).
    pub(crate) fn stored_bytes(&self) -> [usize; 3] {
        [self.bias.len(), self.multipliers.len(), self.shifts.len()]
    }
    /// Whether there are no channels.
    ///
    /// ```
    /// use sumi_core::blob::{self, LayerDesc};
    /// let (_, desc) = blob::decode(sumi_core::models::DEFAULT)?;
    /// let LayerDesc::Conv2d(first) = &desc.layers[0] else { unreachable!() };
    /// assert!(!first.channels().is_empty());
    /// # Ok::<(), sumi_core::BlobError>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.shifts.is_empty()
    }
    /// The int32 bias of channel `o` (input zero point folded in).
    ///
    /// ```
    /// use sumi_core::blob::{self, LayerDesc};
    /// let (_, desc) = blob::decode(sumi_core::models::DEFAULT)?;
    /// let LayerDesc::Conv2d(first) = &desc.layers[0] else { unreachable!() };
    /// let ch = first.channels();
    /// assert_eq!(ch.bias(0), i32::from_le_bytes(first.bias[..4].try_into().unwrap()));
    /// # Ok::<(), sumi_core::BlobError>(())
    /// ```
    #[inline(always)]
    pub fn bias(&self, o: usize) -> i32 {
        let b = &self.bias[o * 4..o * 4 + 4];
        i32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }
    /// The requantization (Q31 multiplier, shift) of channel `o`.
    ///
    /// ```
    /// use sumi_core::blob::{self, LayerDesc};
    /// let (_, desc) = blob::decode(sumi_core::models::DEFAULT)?;
    /// let LayerDesc::Conv2d(first) = &desc.layers[0] else { unreachable!() };
    /// let rq = first.channels().requant(0);
    /// assert!(rq.is_valid());
    /// assert_eq!(rq.shift, first.shifts[0] as i8);
    /// # Ok::<(), sumi_core::BlobError>(())
    /// ```
    #[inline(always)]
    pub fn requant(&self, o: usize) -> crate::Requant {
        let m = &self.multipliers[o * 4..o * 4 + 4];
        crate::Requant {
            multiplier: i32::from_le_bytes([m[0], m[1], m[2], m[3]]),
            shift: self.shifts[o] as i8,
        }
    }
    /// Every channel's bias, in order.
    ///
    /// ```
    /// use sumi_core::blob::{self, LayerDesc};
    /// let (_, desc) = blob::decode(sumi_core::models::DEFAULT)?;
    /// let LayerDesc::Conv2d(first) = &desc.layers[0] else { unreachable!() };
    /// let ch = first.channels();
    /// assert_eq!(ch.biases().len(), ch.len());
    /// assert_eq!(ch.biases().nth(3), Some(ch.bias(3)));
    /// # Ok::<(), sumi_core::BlobError>(())
    /// ```
    pub fn biases(self) -> impl ExactSizeIterator<Item = i32> + 'a {
        (0..self.bias.len() / 4).map(move |o| self.bias(o))
    }
    /// Every channel's requantization, in order.
    ///
    /// ```
    /// use sumi_core::blob::{self, LayerDesc};
    /// let (_, desc) = blob::decode(sumi_core::models::DEFAULT)?;
    /// let LayerDesc::Conv2d(first) = &desc.layers[0] else { unreachable!() };
    /// let ch = first.channels();
    /// assert_eq!(ch.requants().len(), ch.len());
    /// assert!(ch.requants().all(|rq| rq.is_valid()));
    /// # Ok::<(), sumi_core::BlobError>(())
    /// ```
    pub fn requants(self) -> impl ExactSizeIterator<Item = crate::Requant> + 'a {
        (0..self.len().min(self.multipliers.len() / 4)).map(move |o| self.requant(o))
    }
}

/// Typed access to a weighted layer's stored arrays (one implementation for both kinds).
macro_rules! weighted_layer {
    ($desc:ident) => {
        impl<'a> $desc<'a> {
            /// The per-output-channel bias and requantization.
            pub fn channels(&self) -> Channels<'a> {
                Channels {
                    bias: self.bias,
                    multipliers: self.multipliers,
                    shifts: self.shifts,
                }
            }
        }
    };
}
weighted_layer!(ConvDesc);
weighted_layer!(DenseDesc);

impl ConvDesc<'_> {
    /// Weights per output channel of a regular convolution: `kernel_h · kernel_w ·
    /// in_channels` (one OHWI row; the row accessors below read regular convolutions, whose
    /// rows are per output channel: depthwise weights are HWC, read them with
    /// [`ConvDesc::weights_i8`]).
    pub fn row_len(&self) -> usize {
        self.kernel_h as usize * self.kernel_w as usize * self.in_channels as usize
    }
}

impl DenseDesc<'_> {
    /// Weights per output: `in_features`.
    pub fn row_len(&self) -> usize {
        self.in_features as usize
    }
}

/// The weight accessors of both weighted layer kinds (one implementation).
macro_rules! packed_weights {
    ($desc:ident, $example:literal) => {
        impl<'a> $desc<'a> {
            /// Bytes per output row of the weights: `⌈row_len · weight_bits / 8⌉` (each row
            /// starts on a byte boundary).
            ///
            #[doc = $example]
            pub fn row_bytes(&self) -> usize {
                crate::packing::row_bytes(self.row_len(), self.weight_bits)
            }
            /// The weights as stored, when they are int8 (`weight_bits` 8).
            pub fn weights_i8(&self) -> Option<&'a [i8]> {
                (self.weight_bits == 8).then(|| bytemuck::cast_slice(self.weights))
            }
            /// Weight `i` of output `o`, unpacked (panics if `(o, i)` is outside the stored
            /// rows, which [`crate::Model::from_bytes`] checked).
            pub fn weight(&self, o: usize, i: usize) -> i8 {
                let mut w = [0i8; 1];
                crate::packing::unpack(self.weight_bits, self.row(o), i, &mut w);
                w[0]
            }
            /// Every weight unpacked, in stored order.
            pub fn weight_values(&self) -> impl Iterator<Item = i8> + '_ {
                // int8: the stored bytes; packed: each row unpacked.
                let int8 = self.weights_i8();
                let packed_rows = match int8 {
                    Some(_) => 0,
                    None => self.weights.len() / self.row_bytes().max(1),
                };
                let n = self.row_len();
                let unpacked =
                    (0..packed_rows).flat_map(move |o| (0..n).map(move |i| self.weight(o, i)));
                int8.unwrap_or(&[]).iter().copied().chain(unpacked)
            }
            /// The packed bytes of output row `o`.
            pub(crate) fn row(&self, o: usize) -> &'a [u8] {
                let rb = self.row_bytes();
                &self.weights[o * rb..(o + 1) * rb]
            }
        }
    };
}
packed_weights!(
    ConvDesc,
    "```
/// use sumi_core::blob::{self, LayerDesc};
/// let (_, desc) = blob::decode(sumi_core::models::DEFAULT)?;
/// let LayerDesc::Conv2d(first) = &desc.layers[0] else { unreachable!() };
/// assert_eq!((first.weight_bits, first.row_bytes()), (8, 9));
/// assert_eq!(first.weight(1, 2), first.weights_i8().unwrap()[9 + 2]);
/// assert_eq!(first.weight_values().count(), 9 * 16);
/// # Ok::<(), sumi_core::BlobError>(())
/// ```"
);
packed_weights!(
    DenseDesc,
    "```
/// use sumi_core::blob::{self, LayerDesc};
/// let (_, desc) = blob::decode(sumi_core::models::DEFAULT)?;
/// let Some(LayerDesc::Dense(last)) = desc.layers.last() else { unreachable!() };
/// assert_eq!((last.weight_bits, last.row_bytes()), (8, 56));
/// assert_eq!(last.weight(1, 2), last.weights[56 + 2] as i8);
/// assert_eq!(last.weight_values().count(), 56 * 10);
/// # Ok::<(), sumi_core::BlobError>(())
/// ```"
);

/// One layer of the network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LayerDesc<'a> {
    /// 2-D convolution, stride 1.
    Conv2d(#[serde(borrow)] ConvDesc<'a>),
    /// Depthwise 2-D convolution, channel multiplier 1.
    DepthwiseConv2d(#[serde(borrow)] ConvDesc<'a>),
    /// Standalone 2×2 pooling.
    Pool(Pool),
    /// Flatten HWC to a vector (no data movement).
    Flatten,
    /// Fully connected.
    Dense(#[serde(borrow)] DenseDesc<'a>),
}

/// A convolution as versions 1 to 5 encode it: no `weight_bits` (every weight int8).
#[derive(Deserialize)]
struct ConvDescV5<'a> {
    kernel_h: u8,
    kernel_w: u8,
    in_channels: u16,
    out_channels: u16,
    padding: Padding,
    relu: bool,
    pool: Pool,
    output_zero_point: i8,
    weights: &'a [u8],
    bias: &'a [u8],
    multipliers: &'a [u8],
    shifts: &'a [u8],
}

impl<'a> From<ConvDescV5<'a>> for ConvDesc<'a> {
    fn from(c: ConvDescV5<'a>) -> ConvDesc<'a> {
        ConvDesc {
            kernel_h: c.kernel_h,
            kernel_w: c.kernel_w,
            in_channels: c.in_channels,
            out_channels: c.out_channels,
            padding: c.padding,
            relu: c.relu,
            pool: c.pool,
            output_zero_point: c.output_zero_point,
            weight_bits: 8,
            weights: c.weights,
            bias: c.bias,
            multipliers: c.multipliers,
            shifts: c.shifts,
        }
    }
}

/// A fully connected layer as versions 1 to 5 encode it: no `weight_bits` (every weight int8).
#[derive(Deserialize)]
struct DenseDescV5<'a> {
    in_features: u32,
    out_features: u16,
    relu: bool,
    output: DenseOutput,
    weights: &'a [u8],
    bias: &'a [u8],
    multipliers: &'a [u8],
    shifts: &'a [u8],
}

/// A layer as versions 1 to 5 encode it (the same variants in the same order).
#[derive(Deserialize)]
enum LayerDescV5<'a> {
    Conv2d(#[serde(borrow)] ConvDescV5<'a>),
    DepthwiseConv2d(#[serde(borrow)] ConvDescV5<'a>),
    Pool(Pool),
    Flatten,
    Dense(#[serde(borrow)] DenseDescV5<'a>),
}

/// Decode one layer of a blob of format `version` and return it with the bytes after it.
fn take_layer(bytes: &[u8], version: u16) -> postcard::Result<(LayerDesc<'_>, &[u8])> {
    if version >= VERSION {
        return postcard::take_from_bytes::<LayerDesc<'_>>(bytes);
    }
    let (layer, rest) = postcard::take_from_bytes::<LayerDescV5<'_>>(bytes)?;
    let layer = match layer {
        LayerDescV5::Conv2d(c) => LayerDesc::Conv2d(c.into()),
        LayerDescV5::DepthwiseConv2d(c) => LayerDesc::DepthwiseConv2d(c.into()),
        LayerDescV5::Pool(p) => LayerDesc::Pool(p),
        LayerDescV5::Flatten => LayerDesc::Flatten,
        LayerDescV5::Dense(d) => LayerDesc::Dense(DenseDesc {
            in_features: d.in_features,
            out_features: d.out_features,
            relu: d.relu,
            output: d.output,
            weight_bits: 8,
            weights: d.weights,
            bias: d.bias,
            multipliers: d.multipliers,
            shifts: d.shifts,
        }),
    };
    Ok((layer, rest))
}

/// Facts about the model that are not needed to run it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metadata<'a> {
    /// Model name, e.g. `"sumi-default"`.
    pub name: &'a str,
    /// Creation date and time, ISO 8601.
    pub created: &'a str,
    /// How it was trained (command line, preset, seed, epochs).
    pub recipe: &'a str,
    /// Float model accuracy on the 10,000-image MNIST test set, if measured.
    pub float_accuracy: Option<f32>,
    /// int8 accuracy on the test set through this crate, if measured.
    pub int8_accuracy: Option<f32>,
    /// Number of parameters (weights and biases).
    pub params: u32,
}

/// How the logits become probabilities (format version 2; version-1 blobs have the default).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Softmax temperature: probabilities are `softmax(logit · logit_scale / temperature)`.
    /// Fitted on validation images by the trainer; 1 means uncalibrated. It never changes the
    /// predicted class.
    pub temperature: f32,
}

impl Default for Calibration {
    fn default() -> Calibration {
        Calibration { temperature: 1.0 }
    }
}

/// The postcard payload of a blob.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelDesc<'a> {
    /// Metadata.
    #[serde(borrow)]
    pub meta: Metadata<'a>,
    /// Input height.
    pub input_h: u16,
    /// Input width.
    pub input_w: u16,
    /// Input channels.
    pub input_c: u16,
    /// Zero point of the int8 input; pixels are mapped as `q = pixel + zero_point` (−128 for
    /// the MNIST convention of scale 1/255).
    pub input_zero_point: i8,
    /// Real value of one logit unit, for softmax only.
    pub logit_scale: f32,
    /// Layers in order.
    #[serde(borrow)]
    pub layers: Vec<LayerDesc<'a>, MAX_LAYERS>,
    /// Probability calibration. Not part of the postcard `ModelDesc` encoding: version 2 writes
    /// it right after it (see `core/FORMAT.md`); version 1 has none (temperature 1).
    #[serde(skip)]
    pub calibration: Calibration,
}

/// The fields of [`ModelDesc`] before its layers, and the number of layers: read first, so a
/// layer count above [`MAX_LAYERS`] is reported before the bounded layer list fails to decode,
/// and so that [`crate::Model`] can keep its layers encoded and decode each when it runs.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct DescHead<'a> {
    #[serde(borrow)]
    pub(crate) meta: Metadata<'a>,
    pub(crate) input_h: u16,
    pub(crate) input_w: u16,
    pub(crate) input_c: u16,
    pub(crate) input_zero_point: i8,
    pub(crate) logit_scale: f32,
    pub(crate) layers: u64,
}

/// A checked blob with its layers still encoded.
#[derive(Debug, Clone)]
pub(crate) struct Lazy<'a> {
    pub(crate) header: Header,
    pub(crate) head: DescHead<'a>,
    /// The encoded layers, back to back (each a postcard [`LayerDesc`]).
    pub(crate) layers: &'a [u8],
    pub(crate) calibration: Calibration,
}

/// The layers of an encoded layer list, each with its byte offset in the list.
#[derive(Debug, Clone)]
pub(crate) struct LayerIter<'a> {
    all: &'a [u8],
    version: u16,
    pos: usize,
    left: usize,
}

impl<'a> LayerIter<'a> {
    /// The `count` layers of `all`, encoded as format `version` encodes them.
    pub(crate) fn new(all: &'a [u8], version: u16, count: usize) -> LayerIter<'a> {
        LayerIter {
            all,
            version,
            pos: 0,
            left: count,
        }
    }
}

impl<'a> Iterator for LayerIter<'a> {
    type Item = Result<(LayerDesc<'a>, u32), BlobError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let at = self.pos;
        Some(match take_layer(&self.all[at..], self.version) {
            Ok((layer, rest)) => {
                self.pos = self.all.len() - rest.len();
                Ok((layer, at as u32))
            }
            Err(e) => {
                self.left = 0;
                Err(BlobError::Malformed(e))
            }
        })
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for LayerIter<'_> {}

/// Decode the layer at `offset` of an encoded layer list of format `version` that
/// [`decode_lazy`] accepted.
pub(crate) fn layer_at(layers: &[u8], version: u16, offset: u32) -> Option<LayerDesc<'_>> {
    take_layer(layers.get(offset as usize..)?, version)
        .ok()
        .map(|(layer, _)| layer)
}

/// The fields of a header, read without checking anything but its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Magic bytes.
    pub magic: [u8; 4],
    /// Format version.
    pub version: u16,
    /// Reserved flags.
    pub flags: u16,
    /// Payload length.
    pub payload_len: u32,
    /// Arena bytes required.
    pub arena_bytes: u32,
    /// CRC-32 of the payload.
    pub crc32: u32,
}

const fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

const fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The arena size a blob declares, readable in `const` context so firmware can size a static
/// buffer at build time: `static ARENA: [u8; header_arena_bytes(BLOB)]`. Returns 0 if `blob`
/// is not a Sumi blob; [`crate::Model::from_bytes`] checks the value against the layers.
///
/// ```
/// const N: usize = sumi_core::blob::header_arena_bytes(sumi_core::models::DEFAULT);
/// assert!(N > 0);
/// ```
pub const fn header_arena_bytes(blob: &[u8]) -> usize {
    if blob.len() < HEADER_LEN
        || blob[0] != MAGIC[0]
        || blob[1] != MAGIC[1]
        || blob[2] != MAGIC[2]
        || blob[3] != MAGIC[3]
    {
        return 0;
    }
    le32(blob, 12) as usize
}

/// Read the raw header fields.
///
/// ```
/// use sumi_core::blob::{self, HEADER_LEN, MAGIC, VERSION};
/// use sumi_core::{BlobError, models};
/// let header = blob::read_header(models::DEFAULT)?;
/// assert_eq!((header.magic, header.version, header.flags), (MAGIC, VERSION, 0));
/// assert_eq!(HEADER_LEN + header.payload_len as usize, models::DEFAULT.len());
/// assert_eq!(header.arena_bytes as usize, models::DEFAULT_ARENA_BYTES);
/// assert_eq!(blob::read_header(b"SUMI"), Err(BlobError::TooShort(4)));
/// # Ok::<(), BlobError>(())
/// ```
pub fn read_header(blob: &[u8]) -> Result<Header, BlobError> {
    if blob.len() < HEADER_LEN {
        return Err(BlobError::TooShort(blob.len()));
    }
    Ok(Header {
        magic: [blob[0], blob[1], blob[2], blob[3]],
        version: le16(blob, 4),
        flags: le16(blob, 6),
        payload_len: le32(blob, 8),
        arena_bytes: le32(blob, 12),
        crc32: le32(blob, 16),
    })
}

/// Check a header's magic, version and flags, and return the total length of the blob it
/// starts (header + payload), which is at most [`MAX_BLOB_BYTES`]. `prefix` needs only the
/// first [`HEADER_LEN`] bytes: a file reader calls this, then reads exactly that many bytes.
///
/// ```
/// use sumi_core::blob::{blob_len, HEADER_LEN};
/// let blob = sumi_core::models::DEFAULT;
/// assert_eq!(blob_len(&blob[..HEADER_LEN]), Ok(blob.len()));
/// ```
pub fn blob_len(prefix: &[u8]) -> Result<usize, BlobError> {
    check_header(&read_header(prefix)?)
}

fn check_header(header: &Header) -> Result<usize, BlobError> {
    if header.magic != MAGIC {
        return Err(BlobError::BadMagic(header.magic));
    }
    if !(VERSION_1..=VERSION).contains(&header.version) {
        return Err(BlobError::UnsupportedVersion {
            found: header.version,
            supported: VERSION,
        });
    }
    if header.flags != 0 {
        return Err(BlobError::BadFlags(header.flags));
    }
    let declared = HEADER_LEN as u64 + u64::from(header.payload_len);
    if declared > MAX_BLOB_BYTES as u64 {
        return Err(BlobError::TooLarge {
            declared,
            max: MAX_BLOB_BYTES,
        });
    }
    Ok(declared as usize)
}

/// Check the header, length and CRC; return the header and the payload.
fn checked_payload(blob: &[u8]) -> Result<(Header, &[u8]), BlobError> {
    let header = read_header(blob)?;
    check_header(&header)?;
    let payload = &blob[HEADER_LEN..];
    if payload.len() != header.payload_len as usize {
        return Err(BlobError::LengthMismatch {
            header: header.payload_len,
            actual: payload.len(),
        });
    }
    let crc = crate::crc::crc32(payload);
    if crc != header.crc32 {
        return Err(BlobError::CrcMismatch {
            expected: header.crc32,
            actual: crc,
        });
    }
    Ok((header, payload))
}

/// Check the header and CRC and decode the payload's structure without keeping the layers
/// decoded: every layer is decoded once to find the end of the list (so a malformed layer is
/// reported here), then dropped.
pub(crate) fn decode_lazy(blob: &[u8]) -> Result<Lazy<'_>, BlobError> {
    let (header, payload) = checked_payload(blob)?;
    let (head, list) =
        postcard::take_from_bytes::<DescHead<'_>>(payload).map_err(BlobError::Malformed)?;
    if head.layers > MAX_LAYERS as u64 {
        return Err(BlobError::TooManyLayers(head.layers));
    }
    let mut iter = LayerIter::new(list, header.version, head.layers as usize);
    for layer in iter.by_ref() {
        layer?;
    }
    let (layers, mut rest) = list.split_at(iter.pos);
    let mut calibration = Calibration::default();
    if header.version >= VERSION_2 {
        let (c, after) =
            postcard::take_from_bytes::<Calibration>(rest).map_err(BlobError::Malformed)?;
        calibration = c;
        rest = after;
    }
    if !rest.is_empty() {
        return Err(BlobError::TrailingBytes(rest.len()));
    }
    Ok(Lazy {
        header,
        head,
        layers,
        calibration,
    })
}

/// Check the header and CRC, then decode the payload (borrowing from `blob`). The layers are not
/// validated here: [`crate::Model::from_bytes`] does that.
///
/// ```
/// use sumi_core::blob::{self, LayerDesc};
/// use sumi_core::{BlobError, models};
/// let (header, desc) = blob::decode(models::DEFAULT)?;
/// assert_eq!(header.version, blob::VERSION);
/// assert_eq!((desc.input_h, desc.input_w, desc.input_c), (28, 28, 1));
/// assert!(matches!(desc.layers.last(), Some(LayerDesc::Dense(_))));
/// let mut corrupt = models::DEFAULT.to_vec();
/// *corrupt.last_mut().unwrap() ^= 1;
/// assert!(matches!(blob::decode(&corrupt), Err(BlobError::CrcMismatch { .. })));
/// # Ok::<(), BlobError>(())
/// ```
pub fn decode(blob: &[u8]) -> Result<(Header, ModelDesc<'_>), BlobError> {
    let lazy = decode_lazy(blob)?;
    let mut layers = Vec::new();
    for item in LayerIter::new(lazy.layers, lazy.header.version, lazy.head.layers as usize) {
        // At most MAX_LAYERS, checked by decode_lazy.
        let _ = layers.push(item?.0);
    }
    let h = lazy.head;
    let desc = ModelDesc {
        meta: h.meta,
        input_h: h.input_h,
        input_w: h.input_w,
        input_c: h.input_c,
        input_zero_point: h.input_zero_point,
        logit_scale: h.logit_scale,
        layers,
        calibration: lazy.calibration,
    };
    Ok((lazy.header, desc))
}

/// Encode `desc` into `out` (header + payload) and return the number of bytes written. The model
/// is validated and planned first, so the result always loads with [`crate::Model::from_bytes`].
///
/// ```
/// use sumi_core::blob;
/// use sumi_core::{BlobError, models};
/// let (_, desc) = blob::decode(models::DEFAULT)?;
/// let mut out = vec![0u8; blob::MAX_BLOB_BYTES];
/// let n = blob::encode(&desc, &mut out)?;
/// assert_eq!(&out[..n], models::DEFAULT); // decoding and encoding round-trips
/// assert_eq!(blob::encode(&desc, &mut [0u8; 64]), Err(BlobError::BufferTooSmall));
/// # Ok::<(), BlobError>(())
/// ```
pub fn encode(desc: &ModelDesc<'_>, out: &mut [u8]) -> Result<usize, BlobError> {
    let plan = crate::plan::Plan::new(
        &crate::plan::Head {
            input: (desc.input_h, desc.input_w, desc.input_c),
            input_zero_point: desc.input_zero_point,
            logit_scale: desc.logit_scale,
            temperature: desc.calibration.temperature,
            meta: &desc.meta,
        },
        desc.layers.iter().map(|l| Ok((l.clone(), 0))),
    )?;
    if out.len() < HEADER_LEN {
        return Err(BlobError::BufferTooSmall);
    }
    let (head, body) = out.split_at_mut(HEADER_LEN);
    let mut used = postcard::to_slice(desc, body)
        .map_err(|_| BlobError::BufferTooSmall)?
        .len();
    used += postcard::to_slice(&desc.calibration, &mut body[used..])
        .map_err(|_| BlobError::BufferTooSmall)?
        .len();
    if HEADER_LEN + used > MAX_BLOB_BYTES {
        return Err(BlobError::TooLarge {
            declared: (HEADER_LEN + used) as u64,
            max: MAX_BLOB_BYTES,
        });
    }
    let crc = crate::crc::crc32(&body[..used]);
    let arena = u32::try_from(plan.arena_bytes).map_err(|_| BlobError::Overflow(0))?;
    head[0..4].copy_from_slice(&MAGIC);
    head[4..6].copy_from_slice(&VERSION.to_le_bytes());
    head[6..8].copy_from_slice(&0u16.to_le_bytes());
    head[8..12].copy_from_slice(&(used as u32).to_le_bytes());
    head[12..16].copy_from_slice(&arena.to_le_bytes());
    head[16..20].copy_from_slice(&crc.to_le_bytes());
    Ok(HEADER_LEN + used)
}
