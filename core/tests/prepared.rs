//! `Model::prepare`: weights prepared once give exactly `Model::predict`'s logits, whatever the
//! storage's alignment and the arena (streamed or whole maps), on every bundled model and, on
//! x86-64, on the SSE2 baseline too (weights prepared without AVX2); storage that is too small
//! is refused with the size it needs.

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
        // The SSE2 baseline, on weights prepared without AVX2 (the switch is process-wide: the
        // other tests here may run on either path meanwhile, with the same answers).
        #[cfg(target_arch = "x86_64")]
        {
            sumi_core::set_avx2_allowed(false);
            let mut storage = vec![0u8; model.prepared_bytes()];
            let sse2 = model.prepare(&mut storage).unwrap();
            let mut arena = vec![0u8; model.observed_arena_bytes()];
            for seed in 0..20 {
                let img = image(seed, n);
                let want = model.predict(&img, &mut arena).unwrap();
                let got = sse2.predict(&img, &mut arena).unwrap();
                assert_eq!(
                    got.logits(),
                    want.logits(),
                    "{name} model, SSE2, image {seed}"
                );
            }
            sumi_core::set_avx2_allowed(true);
        }
    }
}

#[test]
fn the_default_model_prepares_its_winograd_weights_on_x86_64() {
    let model = Model::from_bytes(models::DEFAULT).unwrap();
    // Three 3×3 layers (16→32, 32→32, 32→40) in F(4×4, 3×3) form: 36 positions × pairs ×
    // groups of 32 bytes, read by the AVX2 and the SSE2 Winograd kernels alike.
    let blocks = 36 * (8 * 4 + 16 * 4 + 16 * 5);
    let want = if cfg!(target_arch = "x86_64") {
        blocks * 32 + 31
    } else {
        0
    };
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
