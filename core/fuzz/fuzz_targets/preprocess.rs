//! Fuzz `sumi_core::preprocess::preprocess`: byte 0 = width, byte 1 = height, the rest is the
//! canvas. It is called once with the bytes as given (mostly a dimension mismatch) and once with
//! the canvas cycled to exactly `width · height` bytes. It must never panic, and a success must
//! describe a digit that fits the 28×28 field with nothing drawn outside it. The canvas bytes are
//! also read as RGBA and composited (`grey_from_rgba`) before preprocessing, as `sumi-train
//! predict` does with images that have an alpha channel.
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;
use sumi_core::preprocess::{FIT, SIDE, grey_from_rgba, preprocess};

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let (w, h) = (data[0] as usize, data[1] as usize);
    let rest = &data[2..];
    let mut out = [0u8; SIDE * SIDE];
    let _ = preprocess(rest, w, h, &mut out);
    if w == 0 || h == 0 || rest.is_empty() {
        return;
    }
    let rgba: Vec<u8> = rest.iter().copied().cycle().take(4 * w * h).collect();
    let mut grey = vec![0u8; w * h];
    grey_from_rgba(&rgba, &mut grey).expect("sizes match");
    assert!(grey_from_rgba(&rgba[1..], &mut grey).is_err());
    let mut out = [0u8; SIDE * SIDE];
    let _ = preprocess(&grey, w, h, &mut out);
    let canvas: Vec<u8> = rest.iter().copied().cycle().take(w * h).collect();
    let mut out = [0xAAu8; SIDE * SIDE];
    if let Ok(info) = preprocess(&canvas, w, h, &mut out) {
        let (bx, by, bw, bh) = info.bbox;
        assert!(
            bw >= 1 && bh >= 1 && bx + bw <= w && by + bh <= h,
            "{info:?}"
        );
        let (tw, th) = info.scaled;
        assert!(
            (1..=FIT).contains(&tw) && (1..=FIT).contains(&th),
            "{info:?}"
        );
        let (ox, oy) = info.offset;
        assert!(ox + tw <= SIDE && oy + th <= SIDE, "{info:?}");
        for y in 0..SIDE {
            for x in 0..SIDE {
                let inside = (ox..ox + tw).contains(&x) && (oy..oy + th).contains(&y);
                assert!(
                    inside || out[y * SIDE + x] == 0,
                    "ink outside the digit box"
                );
            }
        }
        assert!(out.iter().any(|&v| v > 0), "a non-empty result has ink");
        // Deterministic.
        let mut again = [0u8; SIDE * SIDE];
        assert_eq!(preprocess(&canvas, w, h, &mut again), Ok(info));
        assert_eq!(out, again);
    }
});
