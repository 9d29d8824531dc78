//! Every malformed blob gets its own error, and no byte sequence makes loading or inference
//! panic.

mod support;

use sumi_core::blob::{self, BlobError, HEADER_LEN, Pool};
use sumi_core::{Model, PredictError};
use support::{FLayer, Lcg, Spec, encode};

fn small_spec(rng: &mut Lcg) -> Spec {
    let conv = FLayer::Conv {
        k: (3, 3),
        in_c: 1,
        out_c: 4,
        same: false,
        relu: true,
        pool: Pool::Max2,
        depthwise: false,
        w: (0..36).map(|_| rng.f() * 0.3).collect(),
        b: vec![0.01; 4],
        s_out: 0.02,
        zp_out: -128,
    };
    let dense = FLayer::Dense {
        in_f: 4 * 4 * 4,
        out_f: 10,
        relu: false,
        logits: true,
        w: (0..640).map(|_| rng.f() * 0.1).collect(),
        b: vec![0.0; 10],
        s_out: 1.0,
        zp_out: 0,
    };
    Spec {
        h: 10,
        w: 10,
        c: 1,
        layers: vec![conv, FLayer::Flatten, dense],
        logit_scale: 0.01,
    }
}

fn valid_blob() -> Vec<u8> {
    encode(&small_spec(&mut Lcg(11))).unwrap()
}

/// Rewrite the payload's CRC so a payload edit reaches the decoder.
fn fix_crc(b: &mut [u8]) {
    let crc = sumi_core::blob::crc32(&b[HEADER_LEN..]);
    b[16..20].copy_from_slice(&crc.to_le_bytes());
}

#[test]
fn valid_blob_loads() {
    let b = valid_blob();
    let m = Model::from_bytes(&b).unwrap();
    assert_eq!(m.classes(), 10);
    assert_eq!(m.input_shape().len(), 100);
    assert_eq!(m.arena_bytes(), blob::header_arena_bytes(&b));
    // conv 8x8x4 outputs · 9 taps + dense 64·10
    assert_eq!(m.macs(), 8 * 8 * 4 * 9 + 640);
}

#[test]
fn header_errors_are_distinct() {
    let b = valid_blob();
    assert_eq!(
        Model::from_bytes(&b[..7]).unwrap_err(),
        BlobError::TooShort(7)
    );
    let mut x = b.clone();
    x[0] = b'X';
    assert!(matches!(Model::from_bytes(&x), Err(BlobError::BadMagic(_))));
    let mut x = b.clone();
    x[4] = 9;
    assert!(matches!(
        Model::from_bytes(&x),
        Err(BlobError::UnsupportedVersion { found: 9, .. })
    ));
    let mut x = b.clone();
    x[6] = 1;
    assert_eq!(Model::from_bytes(&x).unwrap_err(), BlobError::BadFlags(1));
    assert!(matches!(
        Model::from_bytes(&b[..b.len() - 1]),
        Err(BlobError::LengthMismatch { .. })
    ));
    let mut x = b.clone();
    x.push(0);
    assert!(matches!(
        Model::from_bytes(&x),
        Err(BlobError::LengthMismatch { .. })
    ));
    let mut x = b.clone();
    let last = x.len() - 1;
    x[last] ^= 0x55;
    assert!(matches!(
        Model::from_bytes(&x),
        Err(BlobError::CrcMismatch { .. })
    ));
    let mut x = b.clone();
    x[12] ^= 1;
    assert!(matches!(
        Model::from_bytes(&x),
        Err(BlobError::ArenaMismatch { .. })
    ));
}

#[test]
fn payload_errors_are_distinct() {
    // Truncated payload with a consistent header: postcard cannot decode it.
    let b = valid_blob();
    let mut x = b[..b.len() - 40].to_vec();
    let n = (x.len() - HEADER_LEN) as u32;
    x[8..12].copy_from_slice(&n.to_le_bytes());
    fix_crc(&mut x);
    assert!(matches!(
        Model::from_bytes(&x),
        Err(BlobError::Malformed(_))
    ));
    // Trailing byte inside the payload.
    let mut x = b.clone();
    x.push(0);
    let n = (x.len() - HEADER_LEN) as u32;
    x[8..12].copy_from_slice(&n.to_le_bytes());
    fix_crc(&mut x);
    assert_eq!(
        Model::from_bytes(&x).unwrap_err(),
        BlobError::TrailingBytes(1)
    );
}

fn encode_err(spec: &Spec) -> BlobError {
    encode(spec).unwrap_err()
}

#[test]
fn shape_errors_are_distinct() {
    let mut rng = Lcg(12);
    // Dense declares the wrong input size.
    let mut s = small_spec(&mut rng);
    if let FLayer::Dense { in_f, w, .. } = &mut s.layers[2] {
        *in_f = 65;
        *w = vec![0.01; 650];
    }
    assert!(matches!(
        encode_err(&s),
        BlobError::ShapeMismatch {
            layer: 2,
            expected: 65,
            found: 64
        }
    ));
    // Conv declares the wrong input channels.
    let mut s = small_spec(&mut rng);
    if let FLayer::Conv { in_c, w, .. } = &mut s.layers[0] {
        *in_c = 2;
        *w = vec![0.01; 72];
    }
    assert!(matches!(
        encode_err(&s),
        BlobError::ShapeMismatch { layer: 0, .. }
    ));
    // Weights of the wrong length.
    let mut s = small_spec(&mut rng);
    if let FLayer::Dense { w, .. } = &mut s.layers[2] {
        w.truncate(630);
    }
    assert!(matches!(
        encode_err(&s),
        BlobError::ArrayLength {
            layer: 2,
            what: "weights",
            ..
        }
    ));
    // Last layer is not the logits.
    let mut s = small_spec(&mut rng);
    s.layers.pop();
    assert_eq!(encode_err(&s), BlobError::BadOutputLayer);
    // Kernel larger than a valid-padded input.
    let mut s = small_spec(&mut rng);
    s.h = 2;
    assert!(matches!(
        encode_err(&s),
        BlobError::BadDimension { layer: 0, .. }
    ));
    // Tensors beyond 2^31 elements are rejected on every target (they would wrap `usize` on
    // 32-bit MCUs).
    let s = Spec {
        h: 65535,
        w: 65535,
        c: 1,
        layers: vec![
            FLayer::Pool(Pool::Max2),
            FLayer::Flatten,
            FLayer::Dense {
                in_f: 1,
                out_f: 2,
                relu: false,
                logits: true,
                w: vec![0.1; 2],
                b: vec![0.0; 2],
                s_out: 1.0,
                zp_out: 0,
            },
        ],
        logit_scale: 1.0,
    };
    assert_eq!(encode_err(&s), BlobError::Overflow(0));
    // A logit scale that is not a finite positive number.
    for bad in [0.0, -1.0, f32::NAN, f32::INFINITY] {
        let mut s = small_spec(&mut rng);
        s.logit_scale = bad;
        assert_eq!(encode_err(&s), BlobError::BadLogitScale);
    }
    // No layers.
    let s = Spec {
        h: 1,
        w: 1,
        c: 1,
        layers: vec![],
        logit_scale: 1.0,
    };
    assert_eq!(encode_err(&s), BlobError::NoLayers);
    // Too many classes.
    let s = Spec {
        h: 1,
        w: 1,
        c: 1,
        layers: vec![FLayer::Dense {
            in_f: 1,
            out_f: 17,
            relu: false,
            logits: true,
            w: vec![0.1; 17],
            b: vec![0.0; 17],
            s_out: 1.0,
            zp_out: 0,
        }],
        logit_scale: 1.0,
    };
    assert_eq!(encode_err(&s), BlobError::TooManyClasses(17));
    // Kernel window beyond the engine's limit.
    let s = Spec {
        h: 9,
        w: 9,
        c: 8,
        layers: vec![
            FLayer::Conv {
                k: (9, 9),
                in_c: 8,
                out_c: 1,
                same: false,
                relu: false,
                pool: Pool::None,
                depthwise: false,
                w: vec![0.1; 648],
                b: vec![0.0],
                s_out: 1.0,
                zp_out: 0,
            },
            FLayer::Dense {
                in_f: 1,
                out_f: 2,
                relu: false,
                logits: true,
                w: vec![0.1; 2],
                b: vec![0.0; 2],
                s_out: 1.0,
                zp_out: 0,
            },
        ],
        logit_scale: 1.0,
    };
    assert!(matches!(
        encode_err(&s),
        BlobError::KernelTooLarge {
            layer: 0,
            size: 648,
            ..
        }
    ));
}

#[test]
fn bias_and_requant_ranges_are_checked() {
    let mut rng = Lcg(13);
    // A huge bias relative to the accumulator scale.
    let mut s = small_spec(&mut rng);
    if let FLayer::Dense { b, .. } = &mut s.layers[2] {
        b[0] = 1e9;
    }
    assert_eq!(encode_err(&s), BlobError::BiasOutOfRange(2));
}

#[test]
fn predict_errors() {
    let b = valid_blob();
    let m = Model::from_bytes(&b).unwrap();
    let mut small = vec![0u8; m.arena_bytes() - 1];
    assert_eq!(
        m.predict(&[0u8; 100], &mut small).unwrap_err(),
        PredictError::ArenaTooSmall {
            needed: m.arena_bytes(),
            given: m.arena_bytes() - 1
        }
    );
    let mut arena = vec![0u8; m.arena_bytes()];
    assert_eq!(
        m.predict(&[0u8; 99], &mut arena).unwrap_err(),
        PredictError::InputLength {
            expected: 100,
            given: 99
        }
    );
}

/// Deterministic mutation fuzzing of load + predict (the same loop the `fuzz` example runs for
/// minutes): random bit flips, byte overwrites, truncations and splices, with and without a
/// repaired CRC so mutations reach the decoder and the validator. Must never panic.
#[test]
fn mutated_blobs_never_panic() {
    let base = valid_blob();
    let mut rng = Lcg(99);
    let mut arena = vec![0u8; 1 << 16];
    let input = [200u8; 100];
    let mut loaded = 0;
    for _ in 0..20_000 {
        let mut b = base.clone();
        for _ in 0..rng.range(1, 4) {
            if b.is_empty() {
                break;
            }
            match rng.range(0, 3) {
                0 => {
                    let i = rng.range(0, b.len() - 1);
                    b[i] ^= 1 << rng.range(0, 7);
                }
                1 => {
                    let i = rng.range(0, b.len() - 1);
                    b[i] = rng.next_u32() as u8;
                }
                2 => {
                    let n = rng.range(0, b.len());
                    b.truncate(n);
                }
                _ => {
                    let i = rng.range(0, b.len());
                    b.insert(i, rng.next_u32() as u8);
                }
            }
        }
        if b.len() >= HEADER_LEN && rng.range(0, 1) == 0 {
            let n = (b.len() - HEADER_LEN) as u32;
            b[8..12].copy_from_slice(&n.to_le_bytes());
            fix_crc(&mut b);
        }
        if let Ok(m) = Model::from_bytes(&b) {
            loaded += 1;
            if m.arena_bytes() <= arena.len() && m.input_shape().len() == 100 {
                let _ = m.predict(&input, &mut arena);
            }
        }
    }
    assert!(
        loaded > 100,
        "mutations should also produce loadable blobs ({loaded})"
    );
}

/// Regression (found by the CI fuzz run): a blob whose logit scale is not a finite positive
/// number used to load and then trip micromath's debug assertion in `probabilities()`. The
/// fuzz target repairs length, CRC and arena size before loading; so does this test.
#[test]
fn fuzz_regression_non_finite_logit_scale() {
    let mut b = include_bytes!("../fuzz/regressions/nan-logit-scale.sumi").to_vec();
    let n = (b.len() - HEADER_LEN) as u32;
    b[8..12].copy_from_slice(&n.to_le_bytes());
    fix_crc(&mut b);
    let (_, desc) = blob::decode(&b).expect("the payload decodes");
    assert!(
        !(desc.logit_scale.is_finite() && desc.logit_scale > 0.0),
        "reproducer lost its bad scale"
    );
    assert_eq!(Model::from_bytes(&b).unwrap_err(), BlobError::BadLogitScale);
}
