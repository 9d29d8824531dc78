//! A small float interpreter of the written graph, for the tests: it takes the `ModelProto`
//! decoded back from the exported bytes and reads every attribute from the protobuf, so it
//! checks what was written, not what the writer meant. One image (batch 1) at a time; only
//! the operations the exporter writes.

use std::collections::HashMap;

use super::proto;

/// A float tensor: its dimensions and row-major values.
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
pub fn run(m: &proto::ModelProto, image: &[f32]) -> Vec<f32> {
    let g = m.graph.as_ref().unwrap();
    let mut env = initializers(g);
    env.insert(
        g.input[0].name.clone(),
        T {
            dims: input_dims(&g.input[0]),
            v: image.to_vec(),
        },
    );
    for n in &g.node {
        let x = &env[&n.input[0]];
        let out = match n.op_type.as_str() {
            "Conv" => conv(n, x, &env[&n.input[1]], &env[&n.input[2]]),
            "Relu" => T {
                dims: x.dims.clone(),
                v: x.v.iter().map(|v| v.max(0.0)).collect(),
            },
            "MaxPool" | "AveragePool" => pool(n, x),
            "Flatten" => T {
                dims: vec![1, x.v.len()],
                v: x.v.clone(),
            },
            "Gemm" => gemm(n, x, &env[&n.input[1]], &env[&n.input[2]]),
            op => panic!("unexpected op {op}"),
        };
        env.insert(n.output[0].clone(), out);
    }
    env.remove("logits").expect("no logits output").v
}

/// The graph's float initializers by name.
fn initializers(g: &proto::GraphProto) -> HashMap<String, T> {
    g.initializer
        .iter()
        .map(|t| {
            assert_eq!(t.data_type, proto::FLOAT);
            let v = t
                .raw_data
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            let dims = t.dims.iter().map(|&d| d as usize).collect();
            (t.name.clone(), T { dims, v })
        })
        .collect()
}

/// An input's dimensions, the symbolic batch dimension taken as 1.
fn input_dims(input: &proto::ValueInfoProto) -> Vec<usize> {
    let shape = input
        .r#type
        .as_ref()
        .and_then(|t| t.tensor_type.as_ref())
        .and_then(|t| t.shape.as_ref())
        .unwrap();
    shape
        .dim
        .iter()
        .map(|d| match &d.value {
            Some(proto::DimValue::DimValue(v)) => *v as usize,
            _ => 1,
        })
        .collect()
}

/// `Conv`, stride 1, with `pads` and `group`.
fn conv(n: &proto::NodeProto, x: &T, wt: &T, bt: &T) -> T {
    let (c, h, w) = (x.dims[1], x.dims[2], x.dims[3]);
    let (oc, icg, kh, kw) = (wt.dims[0], wt.dims[1], wt.dims[2], wt.dims[3]);
    let p = ints_of(n, "pads", &[0, 0, 0, 0]);
    let groups = attr(n, "group").and_then(|a| a.i).unwrap_or(1) as usize;
    assert_eq!(ints_of(n, "strides", &[1, 1]), [1, 1]);
    assert_eq!(icg * groups, c);
    let (oh, ow) = (h + p[0] + p[2] + 1 - kh, w + p[1] + p[3] + 1 - kw);
    // The input value at padded position (iy, ix) of channel ch: 0 in the padding.
    let at = |ch: usize, iy: usize, ix: usize| {
        if iy < p[0] || ix < p[1] || iy - p[0] >= h || ix - p[1] >= w {
            None
        } else {
            Some(x.v[(ch * h + iy - p[0]) * w + ix - p[1]])
        }
    };
    let mut v = vec![0f32; oc * oh * ow];
    for o in 0..oc {
        let g0 = o / (oc / groups) * icg;
        for y in 0..oh {
            for xx in 0..ow {
                let mut acc = bt.v[o];
                for i in 0..icg {
                    for ky in 0..kh {
                        for kx in 0..kw {
                            if let Some(xv) = at(g0 + i, y + ky, xx + kx) {
                                acc += xv * wt.v[((o * icg + i) * kh + ky) * kw + kx];
                            }
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

/// `MaxPool` or `AveragePool`, 2×2 stride 2.
fn pool(n: &proto::NodeProto, x: &T) -> T {
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

/// `Gemm` with `transB = 1` (weights `[out][in]`).
fn gemm(n: &proto::NodeProto, x: &T, wt: &T, bt: &T) -> T {
    assert_eq!(attr(n, "transB").and_then(|a| a.i), Some(1));
    let (of, inf) = (wt.dims[0], wt.dims[1]);
    assert_eq!(inf, x.v.len());
    let v = (0..of)
        .map(|o| bt.v[o] + (0..inf).map(|j| x.v[j] * wt.v[o * inf + j]).sum::<f32>())
        .collect();
    T {
        dims: vec![1, of],
        v,
    }
}
