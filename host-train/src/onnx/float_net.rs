//! The float network in ONNX's layouts: what [`super::from_blob`] and
//! [`super::from_checkpoint`] build and [`super::graph`] writes.

use sumi_core::blob::Pool;

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
