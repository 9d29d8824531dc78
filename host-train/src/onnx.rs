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
//! The protobuf is written with `prost` from the hand-declared subset of `onnx.proto` in
//! [`proto`] (field numbers as in onnx.proto; no protoc needed).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use prost::Message;
use sumi_core::blob::{DenseOutput, LayerDesc, ModelDesc, Padding, Pool};

use crate::model::{Arch, Net};

/// Scale given to every hidden activation of a dequantized blob (see the module docs).
pub const HIDDEN_SCALE: f64 = 1.0 / 255.0;
/// ONNX opset and IR version written.
pub const OPSET: i64 = 13;
pub const IR_VERSION: i64 = 8;

/// The subset of `onnx.proto` (proto2) that the exporter writes, field numbers as upstream.
/// Repeated scalars are written unpacked, as proto2 declares them.
pub mod proto {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ModelProto {
        #[prost(int64, tag = "1")]
        pub ir_version: i64,
        #[prost(string, tag = "2")]
        pub producer_name: String,
        #[prost(string, tag = "3")]
        pub producer_version: String,
        #[prost(string, tag = "6")]
        pub doc_string: String,
        #[prost(message, optional, tag = "7")]
        pub graph: Option<GraphProto>,
        #[prost(message, repeated, tag = "8")]
        pub opset_import: Vec<OperatorSetIdProto>,
        #[prost(message, repeated, tag = "14")]
        pub metadata_props: Vec<StringStringEntryProto>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct OperatorSetIdProto {
        #[prost(string, tag = "1")]
        pub domain: String,
        #[prost(int64, tag = "2")]
        pub version: i64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct StringStringEntryProto {
        #[prost(string, tag = "1")]
        pub key: String,
        #[prost(string, tag = "2")]
        pub value: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct GraphProto {
        #[prost(message, repeated, tag = "1")]
        pub node: Vec<NodeProto>,
        #[prost(string, tag = "2")]
        pub name: String,
        #[prost(message, repeated, tag = "5")]
        pub initializer: Vec<TensorProto>,
        #[prost(string, tag = "10")]
        pub doc_string: String,
        #[prost(message, repeated, tag = "11")]
        pub input: Vec<ValueInfoProto>,
        #[prost(message, repeated, tag = "12")]
        pub output: Vec<ValueInfoProto>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct NodeProto {
        #[prost(string, repeated, tag = "1")]
        pub input: Vec<String>,
        #[prost(string, repeated, tag = "2")]
        pub output: Vec<String>,
        #[prost(string, tag = "3")]
        pub name: String,
        #[prost(string, tag = "4")]
        pub op_type: String,
        #[prost(message, repeated, tag = "5")]
        pub attribute: Vec<AttributeProto>,
    }

    /// `AttributeProto.AttributeType`.
    pub const ATTR_FLOAT: i32 = 1;
    pub const ATTR_INT: i32 = 2;
    pub const ATTR_INTS: i32 = 7;

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct AttributeProto {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(float, optional, tag = "2")]
        pub f: Option<f32>,
        #[prost(int64, optional, tag = "3")]
        pub i: Option<i64>,
        #[prost(int64, repeated, packed = "false", tag = "8")]
        pub ints: Vec<i64>,
        #[prost(int32, tag = "20")]
        pub r#type: i32,
    }

    /// `TensorProto.DataType.FLOAT`.
    pub const FLOAT: i32 = 1;

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TensorProto {
        #[prost(int64, repeated, packed = "false", tag = "1")]
        pub dims: Vec<i64>,
        #[prost(int32, tag = "2")]
        pub data_type: i32,
        #[prost(string, tag = "8")]
        pub name: String,
        /// Little-endian values.
        #[prost(bytes = "vec", tag = "9")]
        pub raw_data: Vec<u8>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ValueInfoProto {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(message, optional, tag = "2")]
        pub r#type: Option<TypeProto>,
        #[prost(string, tag = "3")]
        pub doc_string: String,
    }

    /// `TypeProto` with its one variant used here, `tensor_type` (field 1 of the oneof).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TypeProto {
        #[prost(message, optional, tag = "1")]
        pub tensor_type: Option<TensorTypeProto>,
    }

    /// `TypeProto.Tensor`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TensorTypeProto {
        #[prost(int32, tag = "1")]
        pub elem_type: i32,
        #[prost(message, optional, tag = "2")]
        pub shape: Option<TensorShapeProto>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TensorShapeProto {
        #[prost(message, repeated, tag = "1")]
        pub dim: Vec<Dimension>,
    }

    /// `TensorShapeProto.Dimension`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Dimension {
        #[prost(oneof = "DimValue", tags = "1, 2")]
        pub value: Option<DimValue>,
    }

    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum DimValue {
        #[prost(int64, tag = "1")]
        DimValue(i64),
        #[prost(string, tag = "2")]
        DimParam(String),
    }
}

/// One layer of a float network, in ONNX's layouts.
#[derive(Clone, Debug, PartialEq)]
pub enum FloatLayer {
    /// `Conv` (+ `Relu`) (+ 2×2 pool). `weight` is OIHW (`[out][in / groups][kh][kw]`).
    Conv {
        out_c: usize,
        in_c: usize,
        kh: usize,
        kw: usize,
        /// Depthwise: `groups == in_c == out_c`; else 1.
        groups: usize,
        /// ONNX `pads`: top, left, bottom, right.
        pads: [usize; 4],
        weight: Vec<f32>,
        bias: Vec<f32>,
        relu: bool,
        pool: Pool,
    },
    /// Standalone 2×2 pooling.
    Pool(Pool),
    /// NCHW → `[N, C·H·W]` (CHW order).
    Flatten,
    /// `Gemm` (+ `Relu`): `weight` is `[out][in]` with the input in CHW order.
    Dense {
        in_f: usize,
        out_f: usize,
        weight: Vec<f32>,
        bias: Vec<f32>,
        relu: bool,
    },
}

/// A float network: input shape (C, H, W), layers, and what it was made from.
#[derive(Clone, Debug, PartialEq)]
pub struct FloatNet {
    pub input: [usize; 3],
    pub layers: Vec<FloatLayer>,
    pub classes: usize,
    /// Key/value pairs written as the model's `metadata_props`.
    pub meta: Vec<(String, String)>,
}

fn le_i32(b: &[u8]) -> impl Iterator<Item = i32> + '_ {
    b.chunks_exact(4)
        .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
}

/// Real multipliers `multiplier · 2^(shift − 31)` per output channel.
fn real_multipliers(mult: &[u8], shifts: &[u8]) -> Vec<f64> {
    le_i32(mult)
        .zip(shifts)
        .map(|(m, &s)| f64::from(m) * 2f64.powi(i32::from(s as i8) - 31))
        .collect()
}

/// Dequantize `[out][k]` int8 weights and int32 biases: returns real weights (same order)
/// and biases.
fn dequantize_rows(
    q: &[u8],
    bias: &[u8],
    mult: &[u8],
    shifts: &[u8],
    s_in: f64,
    zp_in: i8,
    s_out: f64,
) -> (Vec<f32>, Vec<f32>) {
    let m = real_multipliers(mult, shifts);
    let k = q.len() / m.len().max(1);
    let mut w = Vec::with_capacity(q.len());
    let mut b = Vec::with_capacity(m.len());
    for (o, (bq, mo)) in le_i32(bias).zip(&m).enumerate() {
        let s_w = mo * s_out / s_in;
        let row = &q[o * k..(o + 1) * k];
        let sum: i64 = row.iter().map(|&v| i64::from(v as i8)).sum();
        w.extend(row.iter().map(|&v| (s_w * f64::from(v as i8)) as f32));
        b.push((s_in * s_w * (i64::from(bq) + i64::from(zp_in) * sum) as f64) as f32);
    }
    (w, b)
}

/// Where the tensor stands while walking the layers.
#[derive(Clone, Copy)]
enum Cur {
    /// NCHW map of (h, w, c).
    Map(usize, usize, usize),
    /// Flat vector: `Some((h, w, c))` while it is a flattened map (the next dense layer's
    /// columns are permuted from HWC to CHW).
    Flat(Option<(usize, usize, usize)>),
}

/// The float network of a blob, dequantized (see the module docs).
pub fn from_blob(desc: &ModelDesc<'_>) -> Result<FloatNet> {
    let mut s_in = crate::quantize::INPUT_SCALE;
    let mut zp_in = desc.input_zero_point;
    let (h0, w0, c0) = (
        usize::from(desc.input_h),
        usize::from(desc.input_w),
        usize::from(desc.input_c),
    );
    let mut cur = Cur::Map(h0, w0, c0);
    let mut layers = Vec::new();
    let mut classes = 0;
    for (li, layer) in desc.layers.iter().enumerate() {
        let unsupported =
            |what: &str| anyhow!("layer {li}: {what} cannot be written as ONNX by this exporter");
        match layer {
            LayerDesc::Conv2d(d) | LayerDesc::DepthwiseConv2d(d) => {
                let Cur::Map(h, w, c) = cur else {
                    return Err(unsupported("a convolution after a flatten"));
                };
                let depthwise = matches!(layer, LayerDesc::DepthwiseConv2d(_));
                let (kh, kw) = (usize::from(d.kernel_h), usize::from(d.kernel_w));
                let oc = usize::from(d.out_channels);
                let ic = usize::from(d.in_channels);
                let s_out = HIDDEN_SCALE;
                let (weight, bias) = if depthwise {
                    // HWC [kh][kw][c] -> rows [c][kh·kw] (OIHW with I = 1).
                    let mut rows = vec![0u8; d.weights.len()];
                    for t in 0..kh * kw {
                        for ch in 0..oc {
                            rows[ch * kh * kw + t] = d.weights[t * oc + ch];
                        }
                    }
                    dequantize_rows(&rows, d.bias, d.multipliers, d.shifts, s_in, zp_in, s_out)
                } else {
                    // OHWI -> OIHW after dequantizing (rows are per output channel either way).
                    let (ohwi, b) = dequantize_rows(
                        d.weights,
                        d.bias,
                        d.multipliers,
                        d.shifts,
                        s_in,
                        zp_in,
                        s_out,
                    );
                    let mut oihw = vec![0f32; ohwi.len()];
                    for o in 0..oc {
                        for y in 0..kh {
                            for x in 0..kw {
                                for i in 0..ic {
                                    oihw[((o * ic + i) * kh + y) * kw + x] =
                                        ohwi[((o * kh + y) * kw + x) * ic + i];
                                }
                            }
                        }
                    }
                    (oihw, b)
                };
                let (pads, oh, ow) = match d.padding {
                    Padding::Valid => ([0; 4], h + 1 - kh, w + 1 - kw),
                    Padding::Same => ([(kh - 1) / 2, (kw - 1) / 2, kh / 2, kw / 2], h, w),
                };
                let (oh, ow) = match d.pool {
                    Pool::None => (oh, ow),
                    _ => (oh / 2, ow / 2),
                };
                layers.push(FloatLayer::Conv {
                    out_c: oc,
                    in_c: c,
                    kh,
                    kw,
                    groups: if depthwise { c } else { 1 },
                    pads,
                    weight,
                    bias,
                    relu: d.relu,
                    pool: d.pool,
                });
                cur = Cur::Map(oh, ow, oc);
                s_in = s_out;
                zp_in = d.output_zero_point;
            }
            LayerDesc::Pool(p) => {
                let Cur::Map(h, w, c) = cur else {
                    return Err(unsupported("pooling after a flatten"));
                };
                if *p != Pool::None {
                    layers.push(FloatLayer::Pool(*p));
                    cur = Cur::Map(h / 2, w / 2, c);
                }
            }
            LayerDesc::Flatten => {
                if let Cur::Map(h, w, c) = cur {
                    layers.push(FloatLayer::Flatten);
                    cur = Cur::Flat(Some((h, w, c)));
                }
            }
            LayerDesc::Dense(d) => {
                let perm = match cur {
                    Cur::Map(h, w, c) => {
                        layers.push(FloatLayer::Flatten);
                        Some((h, w, c))
                    }
                    Cur::Flat(p) => p,
                };
                let in_f = d.in_features as usize;
                let out_f = usize::from(d.out_features);
                let (s_out, zp_out) = match d.output {
                    DenseOutput::Int8 { zero_point } => (HIDDEN_SCALE, zero_point),
                    DenseOutput::Logits => (f64::from(desc.logit_scale), 0),
                };
                let (hwc, bias) = dequantize_rows(
                    d.weights,
                    d.bias,
                    d.multipliers,
                    d.shifts,
                    s_in,
                    zp_in,
                    s_out,
                );
                let weight = match perm {
                    Some((h, w, c)) if h * w > 1 => {
                        let mut chw = vec![0f32; hwc.len()];
                        for o in 0..out_f {
                            for j in 0..in_f {
                                let (ch, hw) = (j % c, j / c);
                                chw[o * in_f + ch * h * w + hw] = hwc[o * in_f + j];
                            }
                        }
                        chw
                    }
                    _ => hwc,
                };
                let logits = matches!(d.output, DenseOutput::Logits);
                layers.push(FloatLayer::Dense {
                    in_f,
                    out_f,
                    weight,
                    bias,
                    relu: d.relu && !logits,
                });
                cur = Cur::Flat(None);
                s_in = s_out;
                zp_in = zp_out;
                if logits {
                    classes = out_f;
                }
            }
        }
    }
    if classes == 0 {
        bail!("the blob has no logits layer");
    }
    let m = &desc.meta;
    let mut meta = vec![
        ("sumi.name".to_owned(), m.name.to_owned()),
        ("sumi.created".to_owned(), m.created.to_owned()),
        ("sumi.recipe".to_owned(), m.recipe.to_owned()),
        (
            "sumi.source".to_owned(),
            "dequantized from the int8 blob (int8 weights x per-channel scales)".to_owned(),
        ),
        ("sumi.logit_scale".to_owned(), desc.logit_scale.to_string()),
        (
            "sumi.temperature".to_owned(),
            desc.calibration.temperature.to_string(),
        ),
    ];
    if let Some(a) = m.int8_accuracy {
        meta.push(("sumi.int8_accuracy".to_owned(), a.to_string()));
    }
    Ok(FloatNet {
        input: [c0, h0, w0],
        layers,
        classes,
        meta,
    })
}

/// The float network of a trained checkpoint (batch normalisation folded into the
/// convolutions, as the int8 export does).
pub fn from_checkpoint(net: &Net, arch: &Arch, name: &str) -> Result<FloatNet> {
    let mut layers = Vec::new();
    for (i, spec) in arch.convs.iter().enumerate() {
        let (weight, bias) = crate::quantize::folded_conv(net, i)?;
        layers.push(FloatLayer::Conv {
            out_c: spec.out_c,
            in_c: spec.in_c,
            kh: spec.kernel,
            kw: spec.kernel,
            groups: 1,
            pads: [0; 4],
            weight,
            bias,
            relu: true,
            pool: if spec.pool { Pool::Max2 } else { Pool::None },
        });
    }
    layers.push(FloatLayer::Flatten);
    let mut in_f = arch.flat_len();
    for (di, lin) in net.dense.iter().enumerate() {
        let out_f = arch.dense[di];
        // burn's Linear weight is [in][out] over burn's NCHW flatten (CHW order, as ONNX's).
        let w = lin
            .weight
            .val()
            .into_data()
            .try_into_vec_as::<f32>()
            .map_err(|e| anyhow!("cannot read weights: {e:?}"))?;
        let mut weight = vec![0f32; w.len()];
        for o in 0..out_f {
            for j in 0..in_f {
                weight[o * in_f + j] = w[j * out_f + o];
            }
        }
        let bias = match &lin.bias {
            Some(b) => b
                .val()
                .into_data()
                .try_into_vec_as::<f32>()
                .map_err(|e| anyhow!("cannot read biases: {e:?}"))?,
            None => vec![0.0; out_f],
        };
        layers.push(FloatLayer::Dense {
            in_f,
            out_f,
            weight,
            bias,
            relu: di + 1 < net.dense.len(),
        });
        in_f = out_f;
    }
    Ok(FloatNet {
        input: [1, sumi_core::preprocess::SIDE, sumi_core::preprocess::SIDE],
        layers,
        classes: in_f,
        meta: vec![
            ("sumi.name".to_owned(), name.to_owned()),
            (
                "sumi.source".to_owned(),
                "float checkpoint (batch normalisation folded)".to_owned(),
            ),
        ],
    })
}

fn ints(name: &str, v: &[usize]) -> proto::AttributeProto {
    proto::AttributeProto {
        name: name.to_owned(),
        ints: v.iter().map(|&x| x as i64).collect(),
        r#type: proto::ATTR_INTS,
        ..Default::default()
    }
}

fn int(name: &str, v: i64) -> proto::AttributeProto {
    proto::AttributeProto {
        name: name.to_owned(),
        i: Some(v),
        r#type: proto::ATTR_INT,
        ..Default::default()
    }
}

fn float(name: &str, v: f32) -> proto::AttributeProto {
    proto::AttributeProto {
        name: name.to_owned(),
        f: Some(v),
        r#type: proto::ATTR_FLOAT,
        ..Default::default()
    }
}

fn tensor(name: String, dims: &[usize], v: &[f32]) -> proto::TensorProto {
    proto::TensorProto {
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: proto::FLOAT,
        name,
        raw_data: v.iter().flat_map(|x| x.to_le_bytes()).collect(),
    }
}

fn value_info(name: &str, dims: &[Option<usize>], doc: &str) -> proto::ValueInfoProto {
    use proto::{DimValue, Dimension};
    proto::ValueInfoProto {
        name: name.to_owned(),
        r#type: Some(proto::TypeProto {
            tensor_type: Some(proto::TensorTypeProto {
                elem_type: proto::FLOAT,
                shape: Some(proto::TensorShapeProto {
                    dim: dims
                        .iter()
                        .map(|d| Dimension {
                            value: Some(match d {
                                Some(n) => DimValue::DimValue(*n as i64),
                                None => DimValue::DimParam("N".to_owned()),
                            }),
                        })
                        .collect(),
                }),
            }),
        }),
        doc_string: doc.to_owned(),
    }
}

/// Builds the graph node by node, naming each output after the node.
struct Builder {
    nodes: Vec<proto::NodeProto>,
    inits: Vec<proto::TensorProto>,
    last: String,
}

impl Builder {
    fn node(
        &mut self,
        op: &str,
        name: String,
        extra_inputs: Vec<String>,
        attrs: Vec<proto::AttributeProto>,
    ) {
        let mut input = vec![std::mem::take(&mut self.last)];
        input.extend(extra_inputs);
        self.nodes.push(proto::NodeProto {
            input,
            output: vec![name.clone()],
            name: name.clone(),
            op_type: op.to_owned(),
            attribute: attrs,
        });
        self.last = name;
    }

    fn pool(&mut self, p: Pool, prefix: &str) {
        let op = match p {
            Pool::None => return,
            Pool::Max2 => "MaxPool",
            Pool::Avg2 => "AveragePool",
        };
        self.node(
            op,
            format!("{prefix}.pool"),
            vec![],
            vec![ints("kernel_shape", &[2, 2]), ints("strides", &[2, 2])],
        );
    }
}

/// The ONNX `ModelProto` of a float network.
pub fn to_model(net: &FloatNet) -> proto::ModelProto {
    let mut b = Builder {
        nodes: Vec::new(),
        inits: Vec::new(),
        last: "input".to_owned(),
    };
    for (i, l) in net.layers.iter().enumerate() {
        match l {
            FloatLayer::Conv {
                out_c,
                in_c,
                kh,
                kw,
                groups,
                pads,
                weight,
                bias,
                relu,
                pool,
            } => {
                let p = format!("conv{i}");
                b.inits.push(tensor(
                    format!("{p}.weight"),
                    &[*out_c, in_c / groups, *kh, *kw],
                    weight,
                ));
                b.inits.push(tensor(format!("{p}.bias"), &[*out_c], bias));
                let mut attrs = vec![
                    ints("kernel_shape", &[*kh, *kw]),
                    ints("pads", pads),
                    ints("strides", &[1, 1]),
                ];
                if *groups > 1 {
                    attrs.push(int("group", *groups as i64));
                }
                b.node(
                    "Conv",
                    p.clone(),
                    vec![format!("{p}.weight"), format!("{p}.bias")],
                    attrs,
                );
                if *relu {
                    b.node("Relu", format!("{p}.relu"), vec![], vec![]);
                }
                b.pool(*pool, &p);
            }
            FloatLayer::Pool(p) => b.pool(*p, &format!("pool{i}")),
            FloatLayer::Flatten => b.node(
                "Flatten",
                format!("flatten{i}"),
                vec![],
                vec![int("axis", 1)],
            ),
            FloatLayer::Dense {
                in_f,
                out_f,
                weight,
                bias,
                relu,
            } => {
                let p = format!("dense{i}");
                b.inits
                    .push(tensor(format!("{p}.weight"), &[*out_f, *in_f], weight));
                b.inits.push(tensor(format!("{p}.bias"), &[*out_f], bias));
                b.node(
                    "Gemm",
                    p.clone(),
                    vec![format!("{p}.weight"), format!("{p}.bias")],
                    vec![float("alpha", 1.0), float("beta", 1.0), int("transB", 1)],
                );
                if *relu {
                    b.node("Relu", format!("{p}.relu"), vec![], vec![]);
                }
            }
        }
    }
    // The last node writes the graph output.
    if let Some(n) = b.nodes.last_mut() {
        n.output = vec!["logits".to_owned()];
    }
    let [c, h, w] = net.input;
    let graph = proto::GraphProto {
        node: b.nodes,
        name: "sumi".to_owned(),
        initializer: b.inits,
        doc_string: String::new(),
        input: vec![value_info(
            "input",
            &[None, Some(c), Some(h), Some(w)],
            "pixels / 255, NCHW (white digit on black, as sumi-core takes them)",
        )],
        output: vec![value_info(
            "logits",
            &[None, Some(net.classes)],
            "logits in real units (argmax = predicted class)",
        )],
    };
    proto::ModelProto {
        ir_version: IR_VERSION,
        producer_name: "sumi-train".to_owned(),
        producer_version: env!("CARGO_PKG_VERSION").to_owned(),
        doc_string: "Sumi digit classifier, float network (sumi-train export-onnx)".to_owned(),
        graph: Some(graph),
        opset_import: vec![proto::OperatorSetIdProto {
            domain: String::new(),
            version: OPSET,
        }],
        metadata_props: net
            .meta
            .iter()
            .map(|(k, v)| proto::StringStringEntryProto {
                key: k.clone(),
                value: v.clone(),
            })
            .collect(),
    }
}

/// The serialized ONNX model of a float network.
pub fn to_bytes(net: &FloatNet) -> Vec<u8> {
    to_model(net).encode_to_vec()
}

/// `sumi-train export-onnx`.
#[derive(clap::Args)]
pub struct ExportOnnxArgs {
    /// Model blob to export (default: the embedded default model).
    #[arg(long, conflicts_with = "checkpoint")]
    model: Option<PathBuf>,
    /// Export a run directory's float checkpoint instead of a blob.
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Where to write the ONNX model.
    #[arg(long)]
    out: PathBuf,
}

/// Largest blob file read (the core's blobs are tens of KiB).
const MAX_BLOB_FILE: u64 = 64 << 20;

pub fn cmd_export_onnx(a: ExportOnnxArgs) -> Result<ExitCode> {
    let (net, what) = match (&a.checkpoint, &a.model) {
        (Some(dir), _) => {
            use crate::checkpoint;
            let dir = checkpoint::run_dir(dir)?;
            let cfg = checkpoint::load_config(&dir)?;
            let state = checkpoint::load_state(&dir)?;
            let net = checkpoint::load_model(&dir, &cfg, &state, &cfg.backend.device())?;
            let name = format!("sumi-{}", cfg.preset.name());
            (
                from_checkpoint(&net, &cfg.arch, &name)?,
                format!("checkpoint {}", dir.display()),
            )
        }
        (None, path) => {
            let (bytes, name) = match path {
                Some(p) => {
                    let name = p.display().to_string();
                    let len = std::fs::metadata(p)
                        .with_context(|| format!("cannot read {name}"))?
                        .len();
                    if len > MAX_BLOB_FILE {
                        bail!(
                            "{name} is not a usable Sumi model: {len} bytes is far too large for a blob"
                        );
                    }
                    let bytes = std::fs::read(p).with_context(|| format!("cannot read {name}"))?;
                    (bytes, name)
                }
                None => (
                    sumi_core::models::DEFAULT.to_vec(),
                    "embedded default".to_owned(),
                ),
            };
            sumi_core::Model::from_bytes(&bytes)
                .map_err(|e| anyhow!("{name} is not a usable Sumi model: {e}"))?;
            let (_, desc) = sumi_core::blob::decode(&bytes)
                .map_err(|e| anyhow!("{name} is not a usable Sumi model: {e}"))?;
            (from_blob(&desc)?, format!("blob {name}"))
        }
    };
    let bytes = to_bytes(&net);
    sumi_data::write_atomic(&a.out, &bytes)
        .with_context(|| format!("cannot write {}", a.out.display()))?;
    eprintln!(
        "wrote {} ({} bytes, ONNX IR {IR_VERSION}, opset {OPSET}): float network of {what}; input `input` float [N, {}, {}, {}] = pixels / 255, output `logits` [N, {}]",
        a.out.display(),
        bytes.len(),
        net.input[0],
        net.input[1],
        net.input[2],
        net.classes
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    //! A small float interpreter of the written graph (decoded back from its bytes, reading
    //! every attribute from the protobuf) checks that the ONNX computes the blob's network.
    use super::*;
    use std::collections::HashMap;

    struct T {
        dims: Vec<usize>,
        v: Vec<f32>,
    }

    fn attr<'a>(n: &'a proto::NodeProto, name: &str) -> Option<&'a proto::AttributeProto> {
        n.attribute.iter().find(|a| a.name == name)
    }

    fn ints_of(n: &proto::NodeProto, name: &str, default: &[i64]) -> Vec<usize> {
        attr(n, name)
            .map(|a| a.ints.clone())
            .unwrap_or_else(|| default.to_vec())
            .into_iter()
            .map(|x| x as usize)
            .collect()
    }

    /// Runs the graph on one NCHW image, returns the `logits` output.
    fn run(m: &proto::ModelProto, image: &[f32]) -> Vec<f32> {
        let g = m.graph.as_ref().unwrap();
        let mut env: HashMap<String, T> = HashMap::new();
        for t in &g.initializer {
            assert_eq!(t.data_type, proto::FLOAT);
            let v = t
                .raw_data
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            let dims = t.dims.iter().map(|&d| d as usize).collect();
            env.insert(t.name.clone(), T { dims, v });
        }
        let in_dims: Vec<usize> = g.input[0]
            .r#type
            .as_ref()
            .unwrap()
            .tensor_type
            .as_ref()
            .unwrap()
            .shape
            .as_ref()
            .unwrap()
            .dim
            .iter()
            .map(|d| match &d.value {
                Some(proto::DimValue::DimValue(v)) => *v as usize,
                _ => 1,
            })
            .collect();
        env.insert(
            g.input[0].name.clone(),
            T {
                dims: in_dims,
                v: image.to_vec(),
            },
        );
        for n in &g.node {
            let x = &env[&n.input[0]];
            let out = match n.op_type.as_str() {
                "Conv" => {
                    let (wt, bt) = (&env[&n.input[1]], &env[&n.input[2]]);
                    let (c, h, w) = (x.dims[1], x.dims[2], x.dims[3]);
                    let (oc, icg, kh, kw) = (wt.dims[0], wt.dims[1], wt.dims[2], wt.dims[3]);
                    let p = ints_of(n, "pads", &[0, 0, 0, 0]);
                    let groups = attr(n, "group").and_then(|a| a.i).unwrap_or(1) as usize;
                    assert_eq!(ints_of(n, "strides", &[1, 1]), [1, 1]);
                    assert_eq!(icg * groups, c);
                    let (oh, ow) = (h + p[0] + p[2] + 1 - kh, w + p[1] + p[3] + 1 - kw);
                    let mut v = vec![0f32; oc * oh * ow];
                    for o in 0..oc {
                        let g0 = o / (oc / groups) * icg;
                        for y in 0..oh {
                            for xx in 0..ow {
                                let mut acc = bt.v[o];
                                for i in 0..icg {
                                    for ky in 0..kh {
                                        for kx in 0..kw {
                                            let (iy, ix) = (y + ky, xx + kx);
                                            if iy < p[0]
                                                || ix < p[1]
                                                || iy - p[0] >= h
                                                || ix - p[1] >= w
                                            {
                                                continue;
                                            }
                                            acc += x.v[((g0 + i) * h + iy - p[0]) * w + ix - p[1]]
                                                * wt.v[((o * icg + i) * kh + ky) * kw + kx];
                                        }
                                    }
                                }
                                v[(o * oh + y) * ow + xx] = acc;
                            }
                        }
                    }
                    T {
                        dims: vec![1, oc, oh, ow],
                        v,
                    }
                }
                "Relu" => T {
                    dims: x.dims.clone(),
                    v: x.v.iter().map(|v| v.max(0.0)).collect(),
                },
                "MaxPool" | "AveragePool" => {
                    assert_eq!(ints_of(n, "kernel_shape", &[]), [2, 2]);
                    assert_eq!(ints_of(n, "strides", &[]), [2, 2]);
                    let (c, h, w) = (x.dims[1], x.dims[2], x.dims[3]);
                    let (oh, ow) = (h / 2, w / 2);
                    let mut v = Vec::with_capacity(c * oh * ow);
                    for ch in 0..c {
                        for y in 0..oh {
                            for xx in 0..ow {
                                let q = [(0, 0), (0, 1), (1, 0), (1, 1)]
                                    .map(|(dy, dx)| x.v[(ch * h + 2 * y + dy) * w + 2 * xx + dx]);
                                v.push(if n.op_type == "MaxPool" {
                                    q.into_iter().fold(f32::MIN, f32::max)
                                } else {
                                    q.iter().sum::<f32>() / 4.0
                                });
                            }
                        }
                    }
                    T {
                        dims: vec![1, c, oh, ow],
                        v,
                    }
                }
                "Flatten" => T {
                    dims: vec![1, x.v.len()],
                    v: x.v.clone(),
                },
                "Gemm" => {
                    let (wt, bt) = (&env[&n.input[1]], &env[&n.input[2]]);
                    assert_eq!(attr(n, "transB").and_then(|a| a.i), Some(1));
                    let (of, inf) = (wt.dims[0], wt.dims[1]);
                    assert_eq!(inf, x.v.len());
                    let v = (0..of)
                        .map(|o| {
                            bt.v[o] + (0..inf).map(|j| x.v[j] * wt.v[o * inf + j]).sum::<f32>()
                        })
                        .collect();
                    T {
                        dims: vec![1, of],
                        v,
                    }
                }
                op => panic!("unexpected op {op}"),
            };
            env.insert(n.output[0].clone(), out);
        }
        env.remove("logits").expect("no logits output").v
    }

    fn argmax(v: &[f32]) -> usize {
        v.iter()
            .enumerate()
            .fold((0, f32::MIN), |b, (i, &x)| if x > b.1 { (i, x) } else { b })
            .0
    }

    /// The written ONNX of both committed models, decoded and interpreted, predicts what
    /// sumi-core predicts and gives logits close to the dequantized int8 ones.
    #[test]
    fn onnx_of_the_committed_models_computes_their_network() {
        let models = [
            ("default", sumi_core::models::DEFAULT.to_vec()),
            (
                "tiny",
                std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/models/tiny.sumi")).unwrap(),
            ),
        ];
        let test = match std::env::var_os("MNIST_DIR") {
            Some(d) => Some(sumi_data::load_test(Some(std::path::Path::new(&d))).unwrap()),
            None => {
                assert_ne!(
                    std::env::var("SUMI_REQUIRE_MNIST").as_deref(),
                    Ok("1"),
                    "MNIST_DIR is not set but SUMI_REQUIRE_MNIST=1"
                );
                eprintln!("\n*** MNIST_DIR not set: synthetic images only ***\n");
                None
            }
        };
        let n = 200;
        let image = |k: usize| -> Vec<u8> {
            match &test {
                Some(t) => t.image(k * 37 % t.n).to_vec(),
                // A blob of ink at a varying place: still exercises every layer.
                None => (0..784)
                    .map(|p| {
                        let (y, x) = (p / 28, p % 28);
                        let (cy, cx) = (8 + (k % 12) as i32, 8 + (k / 12 % 12) as i32);
                        if (y - cy).abs() + (x - cx).abs() < 6 {
                            255
                        } else {
                            0
                        }
                    })
                    .collect(),
            }
        };
        for (name, blob) in models {
            let model = sumi_core::Model::from_bytes(&blob).unwrap();
            let (_, desc) = sumi_core::blob::decode(&blob).unwrap();
            let bytes = to_bytes(&from_blob(&desc).unwrap());
            let m = proto::ModelProto::decode(bytes.as_slice()).unwrap();
            assert_eq!(m.ir_version, IR_VERSION);
            let mut arena = vec![0u8; model.arena_bytes()];
            let (mut agree, mut worst) = (0, 0f32);
            for k in 0..n {
                let px = image(k);
                let p = model.predict(&px, &mut arena).unwrap();
                let x: Vec<f32> = px.iter().map(|&v| f32::from(v) / 255.0).collect();
                let logits = run(&m, &x);
                assert_eq!(logits.len(), 10);
                agree += usize::from(argmax(&logits) == usize::from(p.digit));
                let real: Vec<f32> = p
                    .logits
                    .iter()
                    .map(|&l| l as f32 * desc.logit_scale)
                    .collect();
                let range = real.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
                for (a, b) in logits.iter().zip(&real) {
                    worst = worst.max((a - b).abs() / range);
                }
            }
            eprintln!(
                "{name}: argmax agreement {agree}/{n}, worst logit error {worst:.4} of the range"
            );
            assert!(agree * 100 >= n * 98, "{name}: only {agree}/{n} agree");
            // Off-distribution synthetic blobs saturate more int8 activations than digits do.
            let limit = if test.is_some() { 0.05 } else { 0.1 };
            assert!(
                worst < limit,
                "{name}: logits differ by {worst} of their range"
            );
        }
    }

    /// A blob's dequantized weights requantize to the blob's int8 values (the recovered
    /// per-channel scales are the blob's own, up to the arbitrary hidden scale).
    #[test]
    fn dequantized_conv_weights_keep_their_int8_values() {
        let (_, desc) = sumi_core::blob::decode(sumi_core::models::DEFAULT).unwrap();
        let net = from_blob(&desc).unwrap();
        let (
            LayerDesc::Conv2d(d),
            FloatLayer::Conv {
                weight,
                out_c,
                in_c,
                kh,
                kw,
                ..
            },
        ) = (&desc.layers[0], &net.layers[0])
        else {
            panic!("the default model starts with a convolution");
        };
        let per = in_c * kh * kw;
        for o in 0..*out_c {
            let row = &weight[o * per..(o + 1) * per];
            let s = row.iter().fold(0f32, |m, v| m.max(v.abs())) / 127.0;
            // OIHW with in_c = 1 is OHWI: the same order as the blob.
            for (j, &v) in row.iter().enumerate() {
                assert_eq!((v / s).round() as i8, d.weights[o * per + j] as i8);
            }
        }
    }
}
