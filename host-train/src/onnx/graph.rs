//! A [`FloatNet`] as an ONNX `ModelProto` and its bytes: one node per operation (`Conv`,
//! `Relu`, `MaxPool`/`AveragePool`, `Flatten`, `Gemm`), each output named after its node, the
//! weights as float initializers, the last node writing `logits`.

use prost::Message;
use sumi_core::blob::Pool;

use super::proto;
use super::{FloatLayer, FloatNet, IR_VERSION, OPSET};

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

    /// A node `p` with initializers `{p}.weight` (`dims`) and `{p}.bias` (`[dims[0]]`).
    fn weighted(
        &mut self,
        op: &str,
        p: &str,
        dims: &[usize],
        weight: &[f32],
        bias: &[f32],
        attrs: Vec<proto::AttributeProto>,
    ) {
        let (w, b) = (format!("{p}.weight"), format!("{p}.bias"));
        self.inits.push(tensor(w.clone(), dims, weight));
        self.inits.push(tensor(b.clone(), &dims[..1], bias));
        self.node(op, p.to_owned(), vec![w, b], attrs);
    }

    fn relu(&mut self, relu: bool, prefix: &str) {
        if relu {
            self.node("Relu", format!("{prefix}.relu"), vec![], vec![]);
        }
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

    /// The nodes (and initializers) of layer `i`.
    fn layer(&mut self, i: usize, l: &FloatLayer) {
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
                let mut attrs = vec![
                    ints("kernel_shape", &[*kh, *kw]),
                    ints("pads", pads),
                    ints("strides", &[1, 1]),
                ];
                if *groups > 1 {
                    attrs.push(int("group", *groups as i64));
                }
                let dims = [*out_c, in_c / groups, *kh, *kw];
                self.weighted("Conv", &p, &dims, weight, bias, attrs);
                self.relu(*relu, &p);
                self.pool(*pool, &p);
            }
            FloatLayer::Pool(p) => self.pool(*p, &format!("pool{i}")),
            FloatLayer::Flatten => self.node(
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
                let attrs = vec![float("alpha", 1.0), float("beta", 1.0), int("transB", 1)];
                self.weighted("Gemm", &p, &[*out_f, *in_f], weight, bias, attrs);
                self.relu(*relu, &p);
            }
        }
    }
}

/// The graph of a float network: `input` through every layer to `logits`.
fn graph(net: &FloatNet) -> proto::GraphProto {
    let mut b = Builder {
        nodes: Vec::new(),
        inits: Vec::new(),
        last: "input".to_owned(),
    };
    for (i, l) in net.layers.iter().enumerate() {
        b.layer(i, l);
    }
    // The last node writes the graph output.
    if let Some(n) = b.nodes.last_mut() {
        n.output = vec!["logits".to_owned()];
    }
    let [c, h, w] = net.input;
    proto::GraphProto {
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
    }
}

/// The ONNX `ModelProto` of a float network.
pub fn to_model(net: &FloatNet) -> proto::ModelProto {
    proto::ModelProto {
        ir_version: IR_VERSION,
        producer_name: "sumi-train".to_owned(),
        producer_version: env!("CARGO_PKG_VERSION").to_owned(),
        doc_string: "Sumi digit classifier, float network (sumi-train export-onnx)".to_owned(),
        graph: Some(graph(net)),
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
