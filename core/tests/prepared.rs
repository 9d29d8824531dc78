//! `Model::prepare`: weights prepared once give exactly `Model::predict`'s logits, whatever the
//! storage's alignment and the arena (streamed or whole maps), on every bundled model; storage
//! that is too small is refused with the size it needs.

use sumi_core::{Model, PredictError, models};

/// A deterministic pseudo-random image (xorshift), some pixels saturated.
fn image(seed: u64, n: usize) -> Vec<u8> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            match s % 4 {
                0 => 0,
                1 => 255,
                _ => (s >> 8) as u8,
            }
        })
        .collect()
}

#[test]
fn prepared_weights_give_the_same_logits_on_every_bundled_model() {
    for bundled in models::BUNDLED {
        let (name, model) = (bundled.name, Model::from_bytes(bundled.blob).unwrap());
        let n = model.input_shape().len();
        // One byte of offset, so the storage is misaligned for the blocks: `prepare` aligns.
        let mut storage = vec![0xa5u8; model.prepared_bytes() + 1];
        let prepared = model.prepare(&mut storage[1..]).unwrap();
        for arena in [model.arena_bytes(), model.observed_arena_bytes()] {
            let mut arena = vec![0u8; arena];
            for seed in 0..20 {
                let img = image(seed, n);
                let want = model.predict(&img, &mut arena).unwrap();
                let got = prepared.predict(&img, &mut arena).unwrap();
                assert_eq!(got.logits(), want.logits(), "{name} model, image {seed}");
            }
        }
    }
}

#[test]
fn the_default_model_prepares_its_winograd_weights_where_the_cpu_has_avx2() {
    let model = Model::from_bytes(models::DEFAULT).unwrap();
    #[cfg(target_arch = "x86_64")]
    let avx2 = std::is_x86_feature_detected!("avx2");
    #[cfg(not(target_arch = "x86_64"))]
    let avx2 = false;
    // Three 3×3 layers (16→32, 32→32, 32→40): 16 positions × pairs × groups of 32 bytes.
    let blocks = 16 * (8 * 4 + 16 * 4 + 16 * 5);
    let want = if avx2 { blocks * 32 + 31 } else { 0 };
    assert_eq!(model.prepared_bytes(), want);
}

#[test]
fn storage_too_small_is_refused_with_the_size_needed() {
    let model = Model::from_bytes(models::DEFAULT).unwrap();
    let needed = model.prepared_bytes();
    if needed == 0 {
        return; // nothing to prepare on this CPU: any storage will do
    }
    let mut storage = vec![0u8; needed - 1];
    assert_eq!(
        model.prepare(&mut storage).err(),
        Some(PredictError::PreparedTooSmall {
            needed,
            given: needed - 1
        })
    );
    let msg = model.prepare(&mut storage).unwrap_err().to_string();
    assert!(msg.contains("Model::prepared_bytes"), "{msg}");
    let short = model
        .prepare(&mut vec![0u8; needed])
        .unwrap()
        .predict(&[0u8; 10], &mut vec![0u8; model.arena_bytes()]);
    assert_eq!(
        short.err(),
        Some(PredictError::InputLength {
            expected: 784,
            given: 10
        })
    );
}
