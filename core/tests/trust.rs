//! Issue 15: calibration (format version 2), bounded reads, metadata validation, messages and
//! the one digit-classifier rule. Every crafted blob is written raw (header, payload, CRC,
//! arena), bypassing the validating encoder, so the loader is what is tested.

mod support;

use sumi_core::blob::{self, BlobError, Calibration, HEADER_LEN, LayerDesc, ModelDesc};
use sumi_core::preprocess::{PreprocessError, grey_from_rgba, preprocess};
use sumi_core::{MAX_LAYERS, Model, models};
use support::{FLayer, Lcg, Spec, encode};

/// A 28×28×1 → `classes` model: one dense logits layer.
fn dense_spec(h: usize, w: usize, c: usize, classes: usize) -> Spec {
    let n = h * w * c;
    let mut rng = Lcg(5);
    Spec {
        h,
        w,
        c,
        layers: vec![
            FLayer::Flatten,
            FLayer::Dense {
                in_f: n,
                out_f: classes,
                relu: false,
                logits: true,
                w: (0..n * classes).map(|_| rng.f() * 0.1).collect(),
                b: vec![0.0; classes],
                s_out: 1.0,
                zp_out: 0,
            },
        ],
        logit_scale: 0.01,
    }
}

/// Header + `payload` with the right length, CRC and `arena` bytes.
fn raw(version: u16, payload: &[u8], arena: u32) -> Vec<u8> {
    let mut b = Vec::with_capacity(HEADER_LEN + payload.len());
    b.extend_from_slice(&blob::MAGIC);
    b.extend_from_slice(&version.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    b.extend_from_slice(&arena.to_le_bytes());
    b.extend_from_slice(&sumi_core::blob::crc32(payload).to_le_bytes());
    b.extend_from_slice(payload);
    b
}

/// `desc`'s `ModelDesc` as versions 1 to 5 encode it: weighted layers without `weight_bits`
/// (every weight int8). Postcard writes a struct as its fields in order and an enum as its
/// variant index then the fields, so the old encoding is the current one with each weighted
/// layer written field by field, less that one byte.
fn legacy_desc(desc: &ModelDesc<'_>) -> Vec<u8> {
    let mut empty = desc.clone();
    empty.layers.clear();
    let mut buf = vec![0u8; 1 << 20];
    let n = postcard::to_slice(&empty, &mut buf).unwrap().len();
    let mut out = buf[..n - 1].to_vec(); // all but the empty layer list's count
    out.extend(
        postcard::to_slice(&(desc.layers.len() as u32), &mut buf)
            .unwrap()
            .iter(),
    );
    for layer in &desc.layers {
        let bytes = match layer {
            LayerDesc::Dense(d) => {
                assert_eq!(d.weight_bits, 8, "versions 1 to 5 hold int8 weights only");
                let fields = (
                    4u8, // the variant index of `Dense`
                    d.in_features,
                    d.out_features,
                    d.relu,
                    d.output,
                    d.weights,
                    d.bias,
                    d.multipliers,
                    d.shifts,
                );
                postcard::to_slice(&fields, &mut buf).unwrap().to_vec()
            }
            LayerDesc::Conv2d(c) | LayerDesc::DepthwiseConv2d(c) => {
                assert_eq!(c.weight_bits, 8, "versions 1 to 5 hold int8 weights only");
                let variant = u8::from(matches!(layer, LayerDesc::DepthwiseConv2d(_)));
                let head = (
                    variant,
                    c.kernel_h,
                    c.kernel_w,
                    c.in_channels,
                    c.out_channels,
                    c.padding,
                    c.relu,
                    c.pool,
                    c.output_zero_point,
                );
                let arrays = (c.weights, c.bias, c.multipliers, c.shifts);
                let mut v = postcard::to_slice(&head, &mut buf).unwrap().to_vec();
                v.extend(postcard::to_slice(&arrays, &mut buf).unwrap().iter());
                v
            }
            other => postcard::to_slice(other, &mut buf).unwrap().to_vec(),
        };
        out.extend(bytes);
    }
    out
}

/// `desc` written raw as a version-2 blob (ModelDesc then Calibration), unvalidated.
fn raw_v2(desc: &ModelDesc<'_>, arena: u32) -> Vec<u8> {
    raw(2, &with_calibration(desc), arena)
}

/// [`legacy_desc`] then the calibration: the payload of versions 2 to 5.
fn with_calibration(desc: &ModelDesc<'_>) -> Vec<u8> {
    let mut payload = legacy_desc(desc);
    let mut buf = [0u8; 16];
    payload.extend(
        postcard::to_slice(&desc.calibration, &mut buf)
            .unwrap()
            .iter(),
    );
    payload
}

/// What versions 1 and 2 declare for [`dense_spec`]`(28, 28, 1, _)`: engine v1's ping-pong
/// arena, the 784-byte input (the current plan streams it a row at a time into the logits).
const DENSE_V2_ARENA: u32 = 28 * 28;

#[test]
fn version_1_blobs_load_with_temperature_1_and_version_2_applies_its_temperature() {
    let v2 = encode(&dense_spec(28, 28, 1, 10)).unwrap();
    assert_eq!(u16::from_le_bytes([v2[4], v2[5]]), blob::VERSION);
    let (_, desc) = blob::decode(&v2).unwrap();
    // Version 1: the same ModelDesc with no calibration section.
    let v1_payload = legacy_desc(&desc);
    let v1 = raw(1, &v1_payload, DENSE_V2_ARENA);
    let m1 = Model::from_bytes(&v1).unwrap();
    assert_eq!(m1.temperature(), 1.0);
    // Version 2 with temperature 2.5: same logits and digit, softer probabilities.
    let mut hot = desc.clone();
    hot.calibration = Calibration { temperature: 2.5 };
    let mut out = vec![0u8; 1 << 20];
    let len = blob::encode(&hot, &mut out).unwrap();
    let m2 = Model::from_bytes(&out[..len]).unwrap();
    assert_eq!(m2.temperature(), 2.5);
    let mut input = [0u8; 784];
    for (i, p) in input.iter_mut().enumerate() {
        *p = (i * 7 % 256) as u8;
    }
    let mut arena = vec![0u8; m1.arena_bytes()];
    let p1 = m1.predict(&input, &mut arena).unwrap();
    let p2 = m2.predict(&input, &mut arena).unwrap();
    assert_eq!(p1.logits(), p2.logits());
    assert_eq!(p1.class(), p2.class());
    assert_eq!(p2.probabilities(), p1.probabilities_at(2.5));
    assert_ne!(p2.probabilities(), p1.probabilities());
    assert!(p2.confidence() < p1.confidence());
    // A version-1 payload labelled version 2 lacks its calibration: a clear decode error.
    let mislabelled = raw(2, &v1_payload, DENSE_V2_ARENA);
    assert!(matches!(
        Model::from_bytes(&mislabelled),
        Err(BlobError::Malformed(_))
    ));
}

/// Each version declared the arena of its own plan. Version 3's gathered every kernel row that
/// is not a multiple of 16 bytes; version 4 reads rows of a multiple of 4 bytes in place but held
/// the last spatial layer's whole map for the logits; version 5 streams it into the logits. The
/// int8 tiny model (`host-train/models/tiny-int8.sumi`, the tiny model until 2026-11-30) differs at
/// both steps (its second convolution has 3 × 12 = 36-byte rows; its logits read a 5×5×20 map):
/// every header loads, each only with its own rule's value, and runs in the current plan's arena
/// with the same logits.
#[test]
fn older_blobs_load_with_their_own_arena_rule() {
    let tiny = &include_bytes!("../../host-train/models/tiny-int8.sumi")[..];
    assert_eq!(u16::from_le_bytes([tiny[4], tiny[5]]), blob::VERSION);
    let (_, desc) = blob::decode(tiny).unwrap();
    let payload = &with_calibration(&desc);
    let current = Model::from_bytes(tiny).unwrap();
    // Version 4: the last stage's whole 5·5·20-byte map instead of one 5·20-byte row.
    let v4_arena = current.arena_bytes() as u32 + 500 - 100;
    // Version 3: four patches of the 3·3·12 = 108-byte field, padded to 112, gathered on top.
    let v3_arena = v4_arena + 4 * 112 - 4 * 16;
    let mut arena = vec![0u8; current.arena_bytes()];
    let input: Vec<u8> = (0..784).map(|i| (i * 13 % 256) as u8).collect();
    let expected = current.predict(&input, &mut arena).unwrap();
    for (version, declared) in [
        (5, current.arena_bytes() as u32),
        (4, v4_arena),
        (3, v3_arena),
    ] {
        let old_blob = raw(version, payload, declared);
        let old = Model::from_bytes(&old_blob).unwrap();
        assert_eq!(old.arena_bytes(), current.arena_bytes());
        assert_eq!(
            old.predict(&input, &mut arena).unwrap().logits(),
            expected.logits()
        );
        if version == 5 {
            continue; // version 5 declared the current plan's arena
        }
        // The current value in an old header is refused, naming that version's value.
        let wrong = raw(version, payload, current.arena_bytes() as u32);
        assert_eq!(
            Model::from_bytes(&wrong).unwrap_err(),
            BlobError::ArenaMismatch {
                header: current.arena_bytes() as u32,
                computed: declared as usize
            }
        );
    }
    let wrong_current = raw(blob::VERSION, &tiny[HEADER_LEN..], v4_arena);
    assert!(matches!(
        Model::from_bytes(&wrong_current),
        Err(BlobError::ArenaMismatch { .. })
    ));
}

#[test]
fn bad_temperatures_are_refused_at_load() {
    let good = encode(&dense_spec(28, 28, 1, 10)).unwrap();
    let (_, desc) = blob::decode(&good).unwrap();
    for t in [0.0, -1.0, f32::NAN, f32::INFINITY, 1e-4, 1e4] {
        let mut d = desc.clone();
        d.calibration.temperature = t;
        let b = raw_v2(&d, DENSE_V2_ARENA);
        assert_eq!(
            Model::from_bytes(&b).unwrap_err(),
            BlobError::BadTemperature
        );
        assert_eq!(
            blob::encode(&d, &mut vec![0u8; 1 << 20]).unwrap_err(),
            BlobError::BadTemperature
        );
    }
}

#[test]
fn metadata_out_of_range_is_refused_at_load() {
    let good = encode(&dense_spec(28, 28, 1, 10)).unwrap();
    let (_, desc) = blob::decode(&good).unwrap();
    for acc in [f32::NAN, 5.0, -1.0, f32::INFINITY] {
        for which in 0..2 {
            let mut d = desc.clone();
            if which == 0 {
                d.meta.float_accuracy = Some(acc);
            } else {
                d.meta.int8_accuracy = Some(acc);
            }
            let e = Model::from_bytes(&raw_v2(&d, DENSE_V2_ARENA)).unwrap_err();
            assert!(matches!(e, BlobError::BadMetadata(_)), "{acc}: {e:?}");
            assert!(e.to_string().contains("accuracy"), "{e}");
        }
    }
    let long = "x".repeat(blob::MAX_NAME_BYTES + 1);
    let mut d = desc.clone();
    d.meta.name = &long;
    let e = Model::from_bytes(&raw_v2(&d, DENSE_V2_ARENA)).unwrap_err();
    assert!(e.to_string().contains("name"), "{e}");
    // In range still loads: 0, 1 and a 64-byte name.
    let name = "n".repeat(blob::MAX_NAME_BYTES);
    let mut d = desc.clone();
    d.meta.name = &name;
    d.meta.float_accuracy = Some(1.0);
    d.meta.int8_accuracy = Some(0.0);
    Model::from_bytes(&raw_v2(&d, DENSE_V2_ARENA)).unwrap();
}

#[test]
fn seventeen_layers_name_the_16_layer_limit() {
    // Hand-build a payload with 17 Flatten layers: the layer list cannot even decode.
    let good = encode(&dense_spec(28, 28, 1, 10)).unwrap();
    let (_, desc) = blob::decode(&good).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    // Encode the desc with no layers, then patch the layer count and append 17 Flatten tags.
    let mut empty = desc.clone();
    empty.layers.clear();
    let n = postcard::to_slice(&empty, &mut buf).unwrap().len();
    assert_eq!(buf[n - 1], 0, "the empty layer list is the last byte");
    let mut payload = buf[..n - 1].to_vec();
    payload.push(17);
    payload.extend(std::iter::repeat_n(3u8, 17)); // LayerDesc::Flatten
    payload.extend_from_slice(&1.0f32.to_le_bytes()); // calibration
    let e = Model::from_bytes(&raw(2, &payload, 1000)).unwrap_err();
    assert_eq!(e, BlobError::TooManyLayers(17));
    let msg = e.to_string();
    assert!(msg.contains("17") && msg.contains("16"), "{msg}");
    assert_eq!(MAX_LAYERS, 16);
}

#[test]
fn input_dimension_errors_do_not_print_a_layer_index() {
    let good = encode(&dense_spec(28, 28, 1, 10)).unwrap();
    let (_, desc) = blob::decode(&good).unwrap();
    let mut d = desc.clone();
    d.input_h = 0;
    let e = Model::from_bytes(&raw_v2(&d, DENSE_V2_ARENA)).unwrap_err();
    assert_eq!(e, BlobError::BadInputDimension("input height"));
    let msg = e.to_string();
    assert!(!msg.contains(&usize::MAX.to_string()), "{msg}");
    assert!(msg.starts_with("input"), "{msg}");
}

#[test]
fn blob_len_reads_the_header_only_and_caps_the_size() {
    let b = models::DEFAULT;
    assert_eq!(blob::blob_len(&b[..HEADER_LEN]), Ok(b.len()));
    let mut h = b[..HEADER_LEN].to_vec();
    h[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
    let e = blob::blob_len(&h).unwrap_err();
    assert!(matches!(e, BlobError::TooLarge { .. }), "{e:?}");
    assert!(e.to_string().contains("limit"), "{e}");
    // The same cap applies when a whole (padded) blob is loaded.
    assert!(matches!(
        Model::from_bytes(&h),
        Err(BlobError::TooLarge { .. })
    ));
    assert!(matches!(
        blob::blob_len(&[0u8; 20]),
        Err(BlobError::BadMagic(_))
    ));
    assert!(matches!(
        blob::blob_len(&b[..10]),
        Err(BlobError::TooShort(10))
    ));
}

#[test]
fn one_digit_classifier_rule_refuses_flat_inputs_and_extra_classes() {
    Model::from_bytes(models::DEFAULT)
        .unwrap()
        .check_digit_classifier()
        .unwrap();
    for (h, w, c, classes) in [
        (784, 1, 1, 10),
        (28, 28, 1, 16),
        (28, 28, 1, 9),
        (1, 1, 784, 10),
    ] {
        let b = encode(&dense_spec(h, w, c, classes)).unwrap();
        let m = Model::from_bytes(&b).unwrap();
        let e = m.check_digit_classifier().unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains(&format!("{h}×{w}×{c}")) && msg.contains(&format!("{classes} classes")),
            "{msg}"
        );
    }
}

/// A 280×280 RGBA canvas: RGB all 0, the digit only in alpha (a common drawing-app export).
#[test]
fn ink_in_the_alpha_channel_only_is_composited_and_recognised_as_ink() {
    let (w, h) = (280, 280);
    let mut rgba = vec![0u8; w * h * 4];
    for y in 40..240 {
        for x in 130..150 {
            rgba[(y * w + x) * 4 + 3] = 255;
        }
    }
    // Without compositing (alpha dropped) the canvas is all black: "empty".
    let dropped: Vec<u8> = rgba.chunks_exact(4).map(|p| p[0]).collect();
    let mut out = [0u8; 784];
    assert_eq!(
        preprocess(&dropped, w, h, &mut out),
        Err(PreprocessError::Empty)
    );
    let mut grey = vec![0u8; w * h];
    grey_from_rgba(&rgba, &mut grey).unwrap();
    let info = preprocess(&grey, w, h, &mut out).unwrap();
    assert!(info.inverted, "black ink composited onto white paper");
    assert!(out[14 * 28 + 14] > 200);
    // White ink in alpha on white RGB goes onto black paper instead.
    for p in rgba.chunks_exact_mut(4) {
        p[..3].fill(255);
    }
    grey_from_rgba(&rgba, &mut grey).unwrap();
    let info = preprocess(&grey, w, h, &mut out).unwrap();
    assert!(!info.inverted);
    assert!(out[14 * 28 + 14] > 200);
    // Length mismatch is an error, fully transparent is blank.
    assert!(grey_from_rgba(&rgba[..7], &mut grey[..2]).is_err());
    let clear = vec![0u8; 16];
    let mut g = [0u8; 4];
    grey_from_rgba(&clear, &mut g).unwrap();
    assert_eq!(g, [255; 4]);
}
