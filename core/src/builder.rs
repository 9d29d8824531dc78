//! [`ModelBuilder`]: the one writer of model blobs (feature `alloc`).
//!
//! The builder owns typed layer parameters (int8 weights, int32 biases, [`Requant`] pairs), packs
//! them into the little-endian arrays of [`blob::LayerDesc`] and encodes the blob with
//! [`blob::encode`] into a buffer of exactly the right size. The model is validated and planned
//! before anything is written, so a built blob always loads with [`crate::Model::from_bytes`].
//! The trainer's exporter, the core's tests and the fuzz seed generator all build blobs here.
//!
//! ```
//! use sumi_core::builder::{Dense, ModelBuilder, Params};
//! use sumi_core::blob::DenseOutput;
//! use sumi_core::Requant;
//! use sumi_core::Model;
//!
//! // A 2×2 image, flattened, into 2 logits: logit o = requantize(Σ wᵢ·xᵢ + bias).
//! let one = Requant { multiplier: 1 << 30, shift: 1 }; // × 1.0
//! let blob = ModelBuilder::new(2, 2, 1)
//!     .name("two-class")
//!     .logit_scale(0.1)
//!     .flatten()
//!     .dense(Dense {
//!         in_features: 4,
//!         out_features: 2,
//!         relu: false,
//!         output: DenseOutput::Logits,
//!         weight_bits: 8,
//!         params: Params {
//!             weights: vec![1, 1, 1, 1, -1, -1, -1, -1],
//!             bias: vec![0, 0],
//!             requant: vec![one, one],
//!         },
//!     })
//!     .build()?;
//! let model = Model::from_bytes(&blob)?;
//! let mut arena = vec![0u8; model.arena_bytes()];
//! assert_eq!(model.predict(&[255; 4], &mut arena)?.class(), 0); // bright: class 0
//! assert_eq!(model.predict(&[0; 4], &mut arena)?.class(), 1); // dark: class 1
//! # Ok::<(), Box<dyn core::error::Error>>(())
//! ```

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use crate::blob::{
    self, BlobError, Calibration, ConvDesc, DenseDesc, DenseOutput, LayerDesc, Metadata, ModelDesc,
    Padding, Pool,
};
use crate::quant::Requant;

/// A convolution (regular or depthwise), stride 1, with owned parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conv {
    /// Kernel height and width.
    pub kernel: (u8, u8),
    /// Input channels (must match the previous layer).
    pub in_channels: u16,
    /// Output channels (equals `in_channels` for depthwise).
    pub out_channels: u16,
    /// Padding mode.
    pub padding: Padding,
    /// ReLU fused into the output.
    pub relu: bool,
    /// 2×2 pooling fused after requantization.
    pub pool: Pool,
    /// Output zero point.
    pub output_zero_point: i8,
    /// Bits per stored weight: 8, or for a regular convolution 4 or 2 (as
    /// [`Dense::weight_bits`]; depthwise weights are int8).
    pub weight_bits: u8,
    /// Weights (OHWI for conv2d, HWC for depthwise), bias and requantization per output channel.
    pub params: Params,
}

/// A fully connected layer with owned parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dense {
    /// Input features (the flattened previous output, HWC order).
    pub in_features: u32,
    /// Output features.
    pub out_features: u16,
    /// ReLU fused into the output (int8 output only).
    pub relu: bool,
    /// int8 activations or (last layer only) logits.
    pub output: DenseOutput,
    /// Bits per stored weight, one of [`blob::WEIGHT_BITS`]: 8, 4 (weights −8 to 7) or 2
    /// (weights −3, −1, 1, 3); [`ModelBuilder::build`] packs the weights and rejects one that
    /// the precision cannot hold.
    pub weight_bits: u8,
    /// Weights (`[out][in]`), bias and requantization per output.
    pub params: Params,
}

/// The parameters of a convolution or fully connected layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    /// int8 weights, in the layer's order.
    pub weights: Vec<i8>,
    /// int32 bias per output channel, input zero point folded in.
    pub bias: Vec<i32>,
    /// Requantization per output channel.
    pub requant: Vec<Requant>,
}

/// One layer of a [`ModelBuilder`] (the owned counterpart of [`blob::LayerDesc`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layer {
    /// 2-D convolution.
    Conv2d(Conv),
    /// Depthwise 2-D convolution, channel multiplier 1.
    DepthwiseConv2d(Conv),
    /// Standalone 2×2 pooling.
    Pool(Pool),
    /// Flatten HWC to a vector.
    Flatten,
    /// Fully connected.
    Dense(Dense),
}

/// Builds a model blob from owned layers; see the [module documentation](self).
#[derive(Debug, Clone, PartialEq)]
pub struct ModelBuilder {
    input: (u16, u16, u16),
    input_zero_point: i8,
    logit_scale: f32,
    temperature: f32,
    name: String,
    created: String,
    recipe: String,
    float_accuracy: Option<f32>,
    int8_accuracy: Option<f32>,
    params: u32,
    layers: Vec<Layer>,
}

/// The little-endian arrays of one layer, which the descriptors borrow.
struct Packed {
    weights: Vec<u8>,
    bias: Vec<u8>,
    multipliers: Vec<u8>,
    shifts: Vec<u8>,
}

impl Packed {
    fn new(p: &Params) -> Packed {
        Packed::with_weights(p, p.weights.iter().map(|&w| w as u8).collect())
    }

    /// A layer's arrays, each row of `row_len` weights (one output's) packed at `bits` bits;
    /// `Err` names the first weight the precision cannot hold.
    fn rows(layer: usize, bits: u8, row_len: usize, p: &Params) -> Result<Packed, BlobError> {
        if bits == 8 {
            return Ok(Packed::new(p));
        }
        if !blob::WEIGHT_BITS.contains(&bits) {
            return Err(BlobError::BadWeightBits { layer, bits });
        }
        let mut weights = Vec::new();
        for row in p.weights.chunks(row_len.max(1)) {
            crate::packing::pack_row(bits, row, &mut weights)
                .map_err(|value| BlobError::WeightNotRepresentable { layer, bits, value })?;
        }
        Ok(Packed::with_weights(p, weights))
    }

    fn with_weights(p: &Params, weights: Vec<u8>) -> Packed {
        Packed {
            weights,
            bias: p.bias.iter().flat_map(|b| b.to_le_bytes()).collect(),
            multipliers: p
                .requant
                .iter()
                .flat_map(|r| r.multiplier.to_le_bytes())
                .collect(),
            shifts: p.requant.iter().map(|r| r.shift as u8).collect(),
        }
    }
}

impl Params {
    /// A descriptor's unpacked weights and per-channel arrays.
    fn unpack(weights: impl Iterator<Item = i8>, channels: blob::Channels<'_>) -> Params {
        Params {
            weights: weights.collect(),
            bias: channels.biases().collect(),
            requant: channels.requants().collect(),
        }
    }
}

impl From<&ConvDesc<'_>> for Conv {
    fn from(c: &ConvDesc<'_>) -> Conv {
        Conv {
            kernel: (c.kernel_h, c.kernel_w),
            in_channels: c.in_channels,
            out_channels: c.out_channels,
            padding: c.padding,
            relu: c.relu,
            pool: c.pool,
            output_zero_point: c.output_zero_point,
            weight_bits: c.weight_bits,
            params: Params::unpack(c.weight_values(), c.channels()),
        }
    }
}

impl From<&DenseDesc<'_>> for Dense {
    fn from(d: &DenseDesc<'_>) -> Dense {
        Dense {
            in_features: d.in_features,
            out_features: d.out_features,
            relu: d.relu,
            output: d.output,
            weight_bits: d.weight_bits,
            params: Params::unpack(d.weight_values(), d.channels()),
        }
    }
}

impl From<&LayerDesc<'_>> for Layer {
    fn from(l: &LayerDesc<'_>) -> Layer {
        match l {
            LayerDesc::Conv2d(c) => Layer::Conv2d(c.into()),
            LayerDesc::DepthwiseConv2d(c) => Layer::DepthwiseConv2d(c.into()),
            LayerDesc::Pool(p) => Layer::Pool(*p),
            LayerDesc::Flatten => Layer::Flatten,
            LayerDesc::Dense(d) => Layer::Dense(d.into()),
        }
    }
}

impl ModelBuilder {
    /// A builder holding everything `desc` describes (a decoded blob): building it again
    /// writes the same bytes (in the current format version), so a blob can be changed
    /// field by field.
    ///
    /// ```
    /// use sumi_core::blob;
    /// use sumi_core::builder::ModelBuilder;
    ///
    /// let (_, desc) = blob::decode(sumi_core::models::DEFAULT)?;
    /// let warmer = ModelBuilder::from_desc(&desc).temperature(2.0).build()?;
    /// assert_eq!(sumi_core::Model::from_bytes(&warmer)?.temperature(), 2.0);
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    pub fn from_desc(desc: &ModelDesc<'_>) -> ModelBuilder {
        let meta = &desc.meta;
        ModelBuilder {
            input: (desc.input_h, desc.input_w, desc.input_c),
            input_zero_point: desc.input_zero_point,
            logit_scale: desc.logit_scale,
            temperature: desc.calibration.temperature,
            name: String::from(meta.name),
            created: String::from(meta.created),
            recipe: String::from(meta.recipe),
            float_accuracy: meta.float_accuracy,
            int8_accuracy: meta.int8_accuracy,
            params: meta.params,
            layers: desc.layers.iter().map(Layer::from).collect(),
        }
    }

    /// A model taking `height` × `width` × `channels` images: input zero point −128 (the MNIST
    /// convention, int8 input `pixel − 128`), no layers, empty metadata, logit scale 1,
    /// temperature 1.
    ///
    /// ```
    /// use sumi_core::builder::ModelBuilder;
    /// use sumi_core::BlobError;
    /// let empty = ModelBuilder::new(28, 28, 1);
    /// assert!(empty.layers().is_empty());
    /// assert_eq!(empty.build(), Err(BlobError::NoLayers)); // a model needs layers
    /// ```
    pub fn new(height: u16, width: u16, channels: u16) -> ModelBuilder {
        ModelBuilder {
            input: (height, width, channels),
            input_zero_point: -128,
            logit_scale: 1.0,
            temperature: 1.0,
            name: String::new(),
            created: String::new(),
            recipe: String::new(),
            float_accuracy: None,
            int8_accuracy: None,
            params: 0,
            layers: Vec::new(),
        }
    }

    /// Sets the input zero point: the int8 input is `pixel + input_zero_point`.
    pub fn input_zero_point(mut self, input_zero_point: i8) -> Self {
        self.input_zero_point = input_zero_point;
        self
    }

    /// Sets the model name ([`blob::Metadata::name`]).
    ///
    /// ```
    /// use sumi_core::builder::ModelBuilder;
    /// use sumi_core::{blob, models, Model};
    /// let (_, desc) = blob::decode(models::DEFAULT)?;
    /// let renamed = ModelBuilder::from_desc(&desc).name("digits-v2").build()?;
    /// assert_eq!(Model::from_bytes(&renamed)?.metadata().name, "digits-v2");
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    pub fn name(mut self, name: &str) -> Self {
        self.name = String::from(name);
        self
    }

    /// Sets the creation date and time ([`blob::Metadata::created`], ISO 8601).
    pub fn created(mut self, created: &str) -> Self {
        self.created = String::from(created);
        self
    }

    /// Sets how the model was trained ([`blob::Metadata::recipe`]).
    ///
    /// ```
    /// use sumi_core::builder::ModelBuilder;
    /// use sumi_core::{blob, models, Model};
    /// let (_, desc) = blob::decode(models::DEFAULT)?;
    /// let blob = ModelBuilder::from_desc(&desc).recipe("--epochs 3").build()?;
    /// assert_eq!(Model::from_bytes(&blob)?.metadata().recipe, "--epochs 3");
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    pub fn recipe(mut self, recipe: &str) -> Self {
        self.recipe = String::from(recipe);
        self
    }

    /// Sets the measured float and int8 test accuracies (each `0..=1`, if measured).
    ///
    /// ```
    /// use sumi_core::builder::ModelBuilder;
    /// use sumi_core::{blob, models, Model};
    /// let (_, desc) = blob::decode(models::DEFAULT)?;
    /// let blob = ModelBuilder::from_desc(&desc).accuracy(Some(0.99), None).build()?;
    /// let model = Model::from_bytes(&blob)?;
    /// assert_eq!(model.metadata().float_accuracy, Some(0.99));
    /// assert_eq!(model.metadata().int8_accuracy, None);
    /// let bad = ModelBuilder::from_desc(&desc).accuracy(Some(1.5), None).build();
    /// assert!(matches!(bad, Err(sumi_core::BlobError::BadMetadata(_))));
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    pub fn accuracy(mut self, float: Option<f32>, int8: Option<f32>) -> Self {
        self.float_accuracy = float;
        self.int8_accuracy = int8;
        self
    }

    /// Sets the number of parameters reported in the metadata.
    pub fn params(mut self, params: u32) -> Self {
        self.params = params;
        self
    }

    /// Sets the real value of one logit unit ([`blob::ModelDesc::logit_scale`]).
    pub fn logit_scale(mut self, logit_scale: f32) -> Self {
        self.logit_scale = logit_scale;
        self
    }

    /// Sets the softmax temperature ([`blob::Calibration::temperature`]).
    ///
    /// ```
    /// use sumi_core::builder::ModelBuilder;
    /// use sumi_core::{blob, models, Model};
    /// let (_, desc) = blob::decode(models::DEFAULT)?;
    /// let blob = ModelBuilder::from_desc(&desc).temperature(1.0).build()?;
    /// assert_eq!(Model::from_bytes(&blob)?.temperature(), 1.0);
    /// let bad = ModelBuilder::from_desc(&desc).temperature(f32::NAN).build();
    /// assert_eq!(bad, Err(sumi_core::BlobError::BadTemperature));
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    pub fn temperature(mut self, temperature: f32) -> Self {
        self.temperature = temperature;
        self
    }

    /// Appends a layer.
    pub fn layer(mut self, layer: Layer) -> Self {
        self.layers.push(layer);
        self
    }

    /// Appends a 2-D convolution.
    pub fn conv2d(self, conv: Conv) -> Self {
        self.layer(Layer::Conv2d(conv))
    }

    /// Appends a depthwise convolution.
    pub fn depthwise_conv2d(self, conv: Conv) -> Self {
        self.layer(Layer::DepthwiseConv2d(conv))
    }

    /// Appends a standalone 2×2 pooling.
    pub fn pool(self, pool: Pool) -> Self {
        self.layer(Layer::Pool(pool))
    }

    /// Appends a flatten.
    pub fn flatten(self) -> Self {
        self.layer(Layer::Flatten)
    }

    /// Appends a fully connected layer.
    pub fn dense(self, dense: Dense) -> Self {
        self.layer(Layer::Dense(dense))
    }

    /// The layers so far.
    ///
    /// ```
    /// use sumi_core::builder::ModelBuilder;
    /// use sumi_core::{blob, models, Model};
    /// let (_, desc) = blob::decode(models::DEFAULT)?;
    /// let builder = ModelBuilder::from_desc(&desc);
    /// assert_eq!(builder.layers().len(), desc.layers.len());
    /// assert_eq!(builder.flatten().layers().len(), desc.layers.len() + 1);
    /// # Ok::<(), sumi_core::BlobError>(())
    /// ```
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// Encodes the blob (header + payload, exactly as long as needed).
    ///
    /// Errors: [`BlobError::TooManyLayers`] for more than [`crate::MAX_LAYERS`] layers,
    /// [`BlobError::WeightNotRepresentable`] for a weight outside its layer's precision, else
    /// whatever [`blob::encode`] finds wrong with the model (it validates and plans it first).
    ///
    /// ```
    /// use sumi_core::blob::DenseOutput;
    /// use sumi_core::builder::{Dense, ModelBuilder, Params};
    /// use sumi_core::{quantize_multiplier, Model};
    /// // The smallest digit classifier: 28×28 pixels, flattened, into 10 logits.
    /// let params = Params {
    ///     weights: vec![1; 784 * 10],
    ///     bias: vec![0; 10],
    ///     requant: vec![quantize_multiplier(1.0); 10],
    /// };
    /// let (output, relu) = (DenseOutput::Logits, false);
    /// // Weights of 1 fit in 4 bits: two per byte.
    /// let dense = Dense { in_features: 784, out_features: 10, relu, output, weight_bits: 4, params };
    /// let blob = ModelBuilder::new(28, 28, 1).flatten().dense(dense).build()?;
    /// let model = Model::from_bytes(&blob)?;
    /// model.check_digit_classifier()?;
    /// assert_eq!(model.blob_bytes(), blob.len());
    /// assert!(blob.len() < 784 * 10 / 2 + 200);
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    pub fn build(&self) -> Result<Vec<u8>, BlobError> {
        let packed = self
            .layers
            .iter()
            .enumerate()
            .map(|(i, l)| match l {
                Layer::Conv2d(c) => {
                    let k = c.kernel.0 as usize * c.kernel.1 as usize * c.in_channels as usize;
                    Packed::rows(i, c.weight_bits, k, &c.params).map(Some)
                }
                Layer::DepthwiseConv2d(c) => Ok(Some(Packed::new(&c.params))),
                Layer::Dense(d) => {
                    Packed::rows(i, d.weight_bits, d.in_features as usize, &d.params).map(Some)
                }
                Layer::Pool(_) | Layer::Flatten => Ok(None),
            })
            .collect::<Result<Vec<Option<Packed>>, BlobError>>()?;
        let mut layers = heapless::Vec::new();
        for (layer, p) in self.layers.iter().zip(&packed) {
            let desc = match (layer, p) {
                (Layer::Conv2d(c), Some(p)) => LayerDesc::Conv2d(conv_desc(c, p)),
                (Layer::DepthwiseConv2d(c), Some(p)) => LayerDesc::DepthwiseConv2d(conv_desc(c, p)),
                (Layer::Dense(d), Some(p)) => LayerDesc::Dense(DenseDesc {
                    in_features: d.in_features,
                    out_features: d.out_features,
                    relu: d.relu,
                    output: d.output,
                    weight_bits: d.weight_bits,
                    weights: &p.weights,
                    bias: &p.bias,
                    multipliers: &p.multipliers,
                    shifts: &p.shifts,
                }),
                (Layer::Pool(pool), _) => LayerDesc::Pool(*pool),
                _ => LayerDesc::Flatten,
            };
            layers
                .push(desc)
                .map_err(|_| BlobError::TooManyLayers(self.layers.len() as u64))?;
        }
        let desc = ModelDesc {
            meta: Metadata {
                name: &self.name,
                created: &self.created,
                recipe: &self.recipe,
                float_accuracy: self.float_accuracy,
                int8_accuracy: self.int8_accuracy,
                params: self.params,
            },
            input_h: self.input.0,
            input_w: self.input.1,
            input_c: self.input.2,
            input_zero_point: self.input_zero_point,
            logit_scale: self.logit_scale,
            layers,
            calibration: Calibration {
                temperature: self.temperature,
            },
        };
        encode_exact(&desc)
    }
}

fn conv_desc<'a>(c: &Conv, p: &'a Packed) -> ConvDesc<'a> {
    ConvDesc {
        kernel_h: c.kernel.0,
        kernel_w: c.kernel.1,
        in_channels: c.in_channels,
        out_channels: c.out_channels,
        padding: c.padding,
        relu: c.relu,
        pool: c.pool,
        output_zero_point: c.output_zero_point,
        weight_bits: c.weight_bits,
        weights: &p.weights,
        bias: &p.bias,
        multipliers: &p.multipliers,
        shifts: &p.shifts,
    }
}

/// [`blob::encode`] into a buffer of exactly the blob's size (header, the postcard
/// [`ModelDesc`], then its [`Calibration`]).
///
/// ```
/// use sumi_core::{blob, builder, models};
/// let (_, desc) = blob::decode(models::DEFAULT)?;
/// let bytes = builder::encode_exact(&desc)?;
/// assert_eq!(bytes, models::DEFAULT); // exactly as long as the blob, byte for byte
/// # Ok::<(), sumi_core::BlobError>(())
/// ```
pub fn encode_exact(desc: &ModelDesc<'_>) -> Result<Vec<u8>, BlobError> {
    use postcard::{ser_flavors::Size, serialize_with_flavor};
    let len = blob::HEADER_LEN
        + serialize_with_flavor(desc, Size::default()).map_err(BlobError::Malformed)?
        + serialize_with_flavor(&desc.calibration, Size::default())
            .map_err(BlobError::Malformed)?;
    let mut out = vec![0u8; len];
    let n = blob::encode(desc, &mut out)?;
    debug_assert_eq!(n, len, "the computed blob size is exact");
    out.truncate(n);
    Ok(out)
}
