//! The written ONNX, decoded back from its bytes and run by [`super::interpret`], computes the
//! blob's network; and a blob's dequantized weights keep their int8 values.

use prost::Message;
use sumi_core::blob::{LayerDesc, ModelDesc};

use super::from_blob::from_blob;
use super::graph::to_bytes;
use super::interpret::run;
use super::{FloatLayer, IR_VERSION, proto};

fn argmax(v: &[f32]) -> usize {
    v.iter()
        .enumerate()
        .fold((0, f32::MIN), |b, (i, &x)| if x > b.1 { (i, x) } else { b })
        .0
}

/// The MNIST test split when `MNIST_DIR` is set (required when `SUMI_REQUIRE_MNIST=1`).
fn mnist_test() -> Option<sumi_data::Split> {
    match std::env::var_os("MNIST_DIR") {
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
    }
}

/// Image `k`: a test image, or without MNIST a blob of ink at a varying place (still
/// exercises every layer).
fn image(test: Option<&sumi_data::Split>, k: usize) -> Vec<u8> {
    match test {
        Some(t) => t.image(k * 37 % t.n).to_vec(),
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
}

/// Over `n` images: how many ONNX argmaxes agree with the core's prediction, and the worst
/// logit difference as a fraction of the core's logit range (real units).
fn agreement(
    blob: &[u8],
    desc: &ModelDesc<'_>,
    m: &proto::ModelProto,
    test: Option<&sumi_data::Split>,
    n: usize,
) -> (usize, f32) {
    let model = sumi_core::Model::from_bytes(blob).unwrap();
    let mut arena = vec![0u8; model.arena_bytes()];
    let (mut agree, mut worst) = (0, 0f32);
    for k in 0..n {
        let px = image(test, k);
        let p = model.predict(&px, &mut arena).unwrap();
        let x: Vec<f32> = px.iter().map(|&v| f32::from(v) / 255.0).collect();
        let logits = run(m, &x);
        assert_eq!(logits.len(), 10);
        agree += usize::from(argmax(&logits) == usize::from(p.class()));
        let real: Vec<f32> = p
            .logits()
            .iter()
            .map(|&l| l as f32 * desc.logit_scale)
            .collect();
        let range = real.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
        for (a, b) in logits.iter().zip(&real) {
            worst = worst.max((a - b).abs() / range);
        }
    }
    (agree, worst)
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
    let test = mnist_test();
    let n = 200;
    for (name, blob) in models {
        let (_, desc) = sumi_core::blob::decode(&blob).unwrap();
        let bytes = to_bytes(&from_blob(&desc).unwrap());
        let m = proto::ModelProto::decode(bytes.as_slice()).unwrap();
        assert_eq!(m.ir_version, IR_VERSION);
        let (agree, worst) = agreement(&blob, &desc, &m, test.as_ref(), n);
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
