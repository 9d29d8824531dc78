//! The committed models' integer logits on all 10,000 MNIST test images are exactly those of the
//! original engine (format v1, commit db2207e, one SSE2 dot-product path), on every kernel path
//! this machine runs, both streamed (the smallest arena) and on whole maps (a larger arena). The digests are FNV-1a 64 over every logit (i32, little-endian) in test-set
//! order; they were computed with the original engine and must never change unless a model is
//! retrained. Run on aarch64 under qemu-aarch64 (`core/aarch64-parity.sh`), this also proves the
//! NEON path; the firmware parity run proves the Cortex-M paths.

use sumi_core::Model;

mod support;
use support::test_set;

/// Digests of the original engine (`sumi-core` at db2207e) on the committed int8 blobs.
const DEFAULT_DIGEST: u64 = 0x429e_c23a_6351_a144;
const TINY_INT8_DIGEST: u64 = 0xd408_fcef_83c6_2728;
/// The tiny model until 2026-11-30, int8 (3 KiB of RAM on the Cortex-M4).
const TINY_INT8: &[u8] = include_bytes!("../../host-train/models/tiny-int8.sumi");
/// The sub-byte models (format 6) postdate the original engine: their digests were computed
/// when they were committed (portable, SSE2 and AVX2 kernels agreed, and the firmware parity
/// runs on the Cortex-M0, Cortex-M4 and RV32 boards agreed with the host on all 10,000 images).
/// The tiny model is the 4-bit one of 2026-11-30; the micro model the `--weight-scale mean` one
/// of 2026-12-01, the small model the one of the same day.
const TINY_DIGEST: u64 = 0x64a8_4158_5e75_0297;
const TINY: &[u8] = include_bytes!("../../host-train/models/tiny.sumi");
const MICRO_DIGEST: u64 = 0x5ce9_fca9_d4a6_58be;
const MICRO: &[u8] = include_bytes!("../../host-train/models/micro.sumi");
/// The small model of 2026-12-01 (2-bit convolutions behind an int8 first one).
const SMALL_DIGEST: u64 = 0x2ec5_0289_0b41_9c25;
const SMALL: &[u8] = include_bytes!("../../host-train/models/small.sumi");

/// The digest of every test image's logits through `Model::predict` (or, with `prepared`,
/// `Prepared::predict` on weights prepared once) with an arena of `arena` bytes:
/// [`Model::arena_bytes`] streams the layers band by band, [`Model::observed_arena_bytes`] runs
/// them on whole maps.
fn digest(model: &Model<'_>, test: &sumi_data::Split, arena: usize, prepared: bool) -> u64 {
    let mut arena = vec![0u8; arena];
    let mut storage = vec![0u8; model.prepared_bytes()];
    let ready = model
        .prepare(&mut storage)
        .expect("storage of prepared_bytes");
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (img, _) in test.iter() {
        let p = if prepared {
            ready.predict(img, &mut arena)
        } else {
            model.predict(img, &mut arena)
        };
        let p = p.expect("predict");
        for b in p.logits().iter().flat_map(|l| l.to_le_bytes()) {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

#[test]
fn committed_models_give_the_original_engines_logits_on_every_kernel_path() {
    let Some(test) = test_set() else { return };
    assert_eq!(test.n, 10_000);
    let models = [
        ("default", sumi_core::models::DEFAULT, DEFAULT_DIGEST),
        ("tiny", TINY, TINY_DIGEST),
        ("tiny-int8", TINY_INT8, TINY_INT8_DIGEST),
        ("micro", MICRO, MICRO_DIGEST),
        ("small", SMALL, SMALL_DIGEST),
    ];
    // The paths this machine runs: the dispatched one (AVX2 where the CPU has it), and on
    // x86-64 also the SSE2 baseline.
    let paths: &[&str] = if cfg!(target_arch = "x86_64") {
        &["dispatched", "sse2"]
    } else {
        &["dispatched"]
    };
    for path in paths {
        #[cfg(target_arch = "x86_64")]
        sumi_core::set_avx2_allowed(*path != "sse2");
        for (name, blob, want) in models {
            let model = Model::from_bytes(blob).expect("committed model loads");
            // On weights prepared once (`Model::prepare`: the AVX2 Winograd weights) as well.
            let arenas = [
                ("streamed", model.arena_bytes(), false),
                ("whole maps", model.observed_arena_bytes(), false),
                (
                    "whole maps, prepared weights",
                    model.observed_arena_bytes(),
                    true,
                ),
            ];
            for (exec, arena, prepared) in arenas {
                let got = digest(&model, &test, arena, prepared);
                assert_eq!(
                    got, want,
                    "{name} model, {path} kernels, {exec}: logits differ from the original engine's"
                );
                eprintln!(
                    "{name} model, {path} kernels, {exec}: 10,000 logit vectors identical \
                     ({got:#018x})"
                );
            }
        }
    }
    #[cfg(target_arch = "x86_64")]
    sumi_core::set_avx2_allowed(true);
}
