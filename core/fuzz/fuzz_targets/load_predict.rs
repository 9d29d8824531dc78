//! Fuzz `Model::from_bytes` and, for every blob that loads, `Model::predict`.
//!
//! Each input is tried twice: as given (exercising the header checks), and with its header
//! repaired — `payload_len` and CRC-32 recomputed, and `arena_bytes` set to what the loader
//! computes — so that mutated payloads get past the CRC and reach the postcard decoder, the
//! validator and the kernels instead of being rejected at the checksum.
//!
//! Properties checked (any failure is a crash libFuzzer reports):
//! - loading any byte string returns `Ok` or `Err`, never panics or hangs;
//! - the bounded file read path (header first, `blob::blob_len`, then exactly the declared
//!   bytes plus one, as `sumi_data::model_file::read` does) never asks for more than
//!   `MAX_BLOB_BYTES + 1` bytes, and yields exactly the blob whenever the whole input loads;
//! - calibrated probabilities are finite, sum to about 1 and never change the digit, and the
//!   digit-classifier rule answers without panicking;
//! - a loaded model is consistent: `header_arena_bytes` equals `arena_bytes`, at most 16
//!   classes, layer shapes chain;
//! - it re-encodes with `blob::encode` into a blob that loads again with the same plan;
//! - inference on a fixed input and on an input derived from the fuzz bytes never panics,
//!   yields `digit < classes`, observes every non-logit layer with a feature map of the declared
//!   size, and is deterministic even when the arena starts with different garbage (the engine
//!   must never read scratch it did not write).
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;
use sumi_core::blob::{self, HEADER_LEN};
use sumi_core::{BlobError, Model};

/// Largest arena the target runs inference with (bigger models only exercise loading).
const MAX_ARENA: usize = 256 * 1024;
/// Largest multiply-accumulate count the target runs, so one input stays well under libFuzzer's
/// hang timeout while the fuzzer keeps a high execution rate.
const MAX_MACS: u64 = 20_000_000;

fuzz_target!(|data: &[u8]| {
    check(data);
    if let Some(fixed) = repair_header(data) {
        check(&fixed);
    }
});

/// `data` with a consistent header, or `None` if it is too short or already consistent.
fn repair_header(data: &[u8]) -> Option<Vec<u8>> {
    if data.len() < HEADER_LEN {
        return None;
    }
    let mut b = data.to_vec();
    let n = u32::try_from(b.len() - HEADER_LEN).ok()?;
    b[8..12].copy_from_slice(&n.to_le_bytes());
    let crc = sumi_core::blob::crc32(&b[HEADER_LEN..]);
    b[16..20].copy_from_slice(&crc.to_le_bytes());
    let computed = match Model::from_bytes(&b) {
        Err(BlobError::ArenaMismatch { computed, .. }) => Some(computed),
        _ => None,
    };
    if let Some(computed) = computed {
        let arena = u32::try_from(computed).ok()?;
        b[12..16].copy_from_slice(&arena.to_le_bytes());
    }
    (b != data).then_some(b)
}

/// What a bounded reader takes from a file holding `data`: header first, then at most the
/// declared length plus one byte. `None` when the header is refused or the file is longer.
fn bounded_read(data: &[u8]) -> Option<&[u8]> {
    let head = &data[..data.len().min(HEADER_LEN)];
    let declared = blob::blob_len(head).ok()?;
    assert!(declared <= blob::MAX_BLOB_BYTES, "the size cap holds");
    assert!(declared >= HEADER_LEN);
    let taken = &data[..data.len().min(declared + 1)];
    (taken.len() <= declared).then_some(taken)
}

fn check(data: &[u8]) {
    let read = bounded_read(data);
    let Ok(model) = Model::from_bytes(data) else {
        if let Some(bytes) = read {
            // What the reader returns is what the loader refuses, never something else.
            assert_eq!(bytes, data);
        }
        return;
    };
    assert_eq!(read, Some(data), "a loadable blob reads back whole");
    let _ = model.check_digit_classifier();
    assert!(blob::TEMPERATURE_RANGE.contains(&model.temperature()));
    check_model(&model, data);
    reencode(&model, data);
    if model.arena_bytes() > MAX_ARENA || model.macs() > MAX_MACS {
        return;
    }
    let n = model.input_shape().len();
    let fixed: Vec<u8> = (0..n).map(|i| (i * 37 % 256) as u8).collect();
    let derived: Vec<u8> = (0..n)
        .map(|i| data[i % data.len()] ^ (i as u8).wrapping_mul(0x9d))
        .collect();
    for input in [&fixed, &derived] {
        run(&model, input);
    }
    // Wrong sizes are errors, not panics.
    let mut arena = vec![0u8; model.arena_bytes()];
    assert!(model.predict(&fixed[..n - 1], &mut arena).is_err());
    if model.arena_bytes() > 0 {
        assert!(
            model
                .predict(&fixed, &mut arena[..model.arena_bytes() - 1])
                .is_err()
        );
    }
}

fn check_model(model: &Model<'_>, data: &[u8]) {
    // A current blob declares its arena exactly; a version-3 or 4 one declares its version's
    // rule, which gathers more patches or holds the last map whole: never less than the engine
    // needs (versions 1 and 2 declare
    // engine v1's ping-pong arena, which bounds nothing here).
    let declared = blob::header_arena_bytes(data);
    match blob::read_header(data).expect("a loaded blob has a header").version {
        blob::VERSION => assert_eq!(declared, model.arena_bytes()),
        blob::VERSION_3 | blob::VERSION_4 => assert!(declared >= model.arena_bytes()),
        _ => {}
    }
    assert!(model.classes() >= 1 && model.classes() <= sumi_core::MAX_CLASSES);
    assert_eq!(model.blob_bytes(), data.len());
    assert!(model.weight_bytes() <= data.len());
    let _ = model.metadata();
    let mut cur = model.input_shape();
    for info in model.layers() {
        assert_eq!(info.input, cur, "layer shapes must chain");
        assert!(info.arena_bytes <= model.observed_arena_bytes());
        cur = info.output;
    }
    assert_eq!(cur.len(), model.classes());
}

/// The writer must accept whatever the reader accepted, and the result must load the same.
fn reencode(model: &Model<'_>, data: &[u8]) {
    let mut out = vec![0u8; model.blob_bytes() + 64];
    let (_, desc) = blob::decode(data).expect("a loaded model must decode");
    let n = blob::encode(&desc, &mut out).expect("a loaded model must re-encode");
    let again = Model::from_bytes(&out[..n]).expect("a re-encoded model must load");
    assert_eq!(again.arena_bytes(), model.arena_bytes());
    assert_eq!(again.macs(), model.macs());
    assert_eq!(again.params(), model.params());
    assert!(again.layers().eq(model.layers()));
}

fn run(model: &Model<'_>, input: &[u8]) {
    let mut arena = vec![0u8; model.observed_arena_bytes()];
    let mut observed = 0usize;
    let a = model
        .predict_with(input, &mut arena, |_, shape, map| {
            assert_eq!(shape.len(), map.len());
            observed += 1;
        })
        .expect("predict with a correct input and arena must succeed");
    // The streamed plan, in its own (smaller) arena, gives the same logits.
    let mut small = vec![0u8; model.arena_bytes()];
    let streamed = model
        .predict(input, &mut small)
        .expect("predict with a correct input and arena must succeed");
    assert_eq!(streamed.logits(), a.logits(), "streamed and whole-map logits differ");
    assert!(model.arena_bytes() <= model.observed_arena_bytes());
    assert_eq!(
        observed,
        model.layers().count() - 1,
        "every layer but the logits is observed"
    );
    assert!((a.class() as usize) < model.classes());
    assert_eq!(a.logits().len(), model.classes());
    assert!(
        a.logits()
            .iter()
            .all(|&l| l <= a.logits()[a.class() as usize])
    );
    let p = a.probabilities();
    assert!(p.iter().all(|v| v.is_finite() && *v >= 0.0));
    let sum: f32 = p.iter().sum();
    assert!(sum == 0.0 || (sum - 1.0).abs() < 1e-3, "probabilities sum to {sum}");
    let raw = a.probabilities_at(1.0);
    assert!(raw.iter().all(|v| v.is_finite()));
    let _ = a.confidence();
    // Same input, dirty (and larger) arena: identical result.
    let mut dirty: Vec<u8> = (0..model.arena_bytes() + 7)
        .map(|i| (i * 131 + 77) as u8)
        .collect();
    let b = model
        .predict(input, &mut dirty)
        .expect("larger arena is fine");
    assert_eq!(
        (a.class(), a.logits()),
        (b.class(), b.logits()),
        "inference must be deterministic"
    );
}
