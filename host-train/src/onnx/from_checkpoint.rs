//! The float network of a trained checkpoint: the burn model's own weights, batch
//! normalisation folded into the convolutions as the int8 export folds it, dense weights moved
//! from burn's `[in][out]` to ONNX's `[out][in]`.

use anyhow::{Result, anyhow};
use sumi_core::blob::Pool;

use super::{FloatLayer, FloatNet};
use crate::model::{Arch, Net};

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
            weight: in_out_to_out_in(&w, in_f, out_f),
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

/// A `[in][out]` matrix transposed to `[out][in]`.
fn in_out_to_out_in(w: &[f32], in_f: usize, out_f: usize) -> Vec<f32> {
    let mut t = vec![0f32; w.len()];
    for o in 0..out_f {
        for j in 0..in_f {
            t[o * in_f + j] = w[j * out_f + o];
        }
    }
    t
}
