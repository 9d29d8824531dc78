//! Preprocessing: polarity, translation and scale invariance, aspect ratio, centring, and the
//! empty-canvas error.

use sumi_core::preprocess::{PreprocessError, preprocess};

/// Draw a thick "7" on a `size`² canvas at `(ox, oy)` with scale `s`; ink = 255 on 0.
fn seven(size: usize, ox: usize, oy: usize, s: usize) -> Vec<u8> {
    let mut c = vec![0u8; size * size];
    let mut dot = |x: usize, y: usize| {
        for dy in 0..2 * s {
            for dx in 0..2 * s {
                let (px, py) = (ox + x * s + dx, oy + y * s + dy);
                if px < size && py < size {
                    c[py * size + px] = 255;
                }
            }
        }
    };
    for x in 0..12 {
        dot(x, 0);
    }
    for i in 0..18 {
        dot(11 - i * 2 / 3, i);
    }
    c
}

fn run(c: &[u8], w: usize, h: usize) -> [u8; 784] {
    let mut out = [0u8; 784];
    preprocess(c, w, h, &mut out).expect("preprocess");
    out
}

#[test]
fn translation_does_not_change_the_result() {
    let a = run(&seven(200, 10, 10, 4), 200, 200);
    let b = run(&seven(200, 80, 60, 4), 200, 200);
    assert_eq!(a, b);
}

#[test]
fn polarity_is_detected() {
    let light = seven(150, 20, 30, 3);
    let dark: Vec<u8> = light.iter().map(|v| 255 - v).collect();
    let mut out = [0u8; 784];
    let info_a = preprocess(&light, 150, 150, &mut out).unwrap();
    let a = out;
    let info_b = preprocess(&dark, 150, 150, &mut out).unwrap();
    assert!(!info_a.inverted && info_b.inverted);
    assert_eq!(a, out);
}

#[test]
fn grey_paper_background_is_removed() {
    // Dark ink (40) on grey paper (200), as in a photo.
    let c: Vec<u8> = seven(120, 5, 5, 2)
        .iter()
        .map(|&v| if v > 0 { 40 } else { 200 })
        .collect();
    let mut out = [0u8; 784];
    let info = preprocess(&c, 120, 120, &mut out).unwrap();
    assert!(info.inverted);
    assert_eq!(out[0], 0, "background must map to 0");
    assert_eq!(
        *out.iter().max().unwrap(),
        255,
        "ink is stretched to full contrast"
    );
}

#[test]
fn digit_fits_20x20_and_com_is_centred() {
    for (size, s) in [(60, 1), (200, 4), (600, 12)] {
        let c = seven(size, 3, 3, s);
        let mut out = [0u8; 784];
        let info = preprocess(&c, size, size, &mut out).unwrap();
        assert_eq!(info.scaled.0.max(info.scaled.1), 20, "long side is 20");
        let (mut m, mut mx, mut my) = (0f64, 0f64, 0f64);
        for y in 0..28 {
            for x in 0..28 {
                let v = out[y * 28 + x] as f64;
                m += v;
                mx += (x as f64 + 0.5) * v;
                my += (y as f64 + 0.5) * v;
            }
        }
        assert!(
            (mx / m - 14.0).abs() <= 0.5 && (my / m - 14.0).abs() <= 0.5,
            "com {} {}",
            mx / m,
            my / m
        );
    }
}

#[test]
fn aspect_ratio_is_kept() {
    // A tall thin bar (a "1"): 8 wide, 160 tall.
    let (w, h) = (100, 200);
    let mut c = vec![0u8; w * h];
    for y in 20..180 {
        for x in 46..54 {
            c[y * w + x] = 255;
        }
    }
    let mut out = [0u8; 784];
    let info = preprocess(&c, w, h, &mut out).unwrap();
    assert_eq!(info.scaled, (1, 20));
    assert_eq!(info.bbox, (46, 20, 8, 160));
}

#[test]
fn scaling_is_area_averaged() {
    // A 40x40 checkerboard of 1-pixel squares downsampled 2:1 averages to mid-grey.
    let mut c = vec![0u8; 64 * 64];
    for y in 12..52 {
        for x in 12..52 {
            c[y * 64 + x] = if (x + y) % 2 == 0 { 255 } else { 0 };
        }
    }
    let mut out = [0u8; 784];
    let info = preprocess(&c, 64, 64, &mut out).unwrap();
    assert_eq!(info.scaled, (20, 20));
    let inner = out[14 * 28 + 14];
    assert!((126..=129).contains(&inner), "{inner}");
}

#[test]
fn empty_and_near_empty_canvases_are_errors() {
    let mut out = [0u8; 784];
    assert_eq!(
        preprocess(&[0u8; 10_000], 100, 100, &mut out),
        Err(PreprocessError::Empty)
    );
    assert_eq!(
        preprocess(&[255u8; 10_000], 100, 100, &mut out),
        Err(PreprocessError::Empty)
    );
    // Faint noise is not a digit.
    let noise: Vec<u8> = (0..10_000).map(|i| (i * 7 % 30) as u8).collect();
    assert_eq!(
        preprocess(&noise, 100, 100, &mut out),
        Err(PreprocessError::Empty)
    );
    // One speck on a big canvas is near-empty.
    let mut speck = vec![0u8; 400 * 400];
    speck[200 * 400 + 200] = 255;
    assert_eq!(
        preprocess(&speck, 400, 400, &mut out),
        Err(PreprocessError::Empty)
    );
    assert!(matches!(
        preprocess(&[0u8; 10], 3, 3, &mut out),
        Err(PreprocessError::BadDimensions { .. })
    ));
    assert!(matches!(
        preprocess(&[], 0, 0, &mut out),
        Err(PreprocessError::BadDimensions { .. })
    ));
}

#[test]
fn random_canvases_never_panic() {
    let mut state = 5u64;
    let mut next = || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
        (state >> 33) as usize
    };
    let mut out = [0u8; 784];
    for _ in 0..3000 {
        let (w, h) = (1 + next() % 70, 1 + next() % 70);
        let c: Vec<u8> = (0..w * h)
            .map(|_| if next() % 5 == 0 { next() as u8 } else { 0 })
            .collect();
        if preprocess(&c, w, h, &mut out).is_ok() {
            assert!(out.iter().any(|&v| v > 0));
        }
    }
}
