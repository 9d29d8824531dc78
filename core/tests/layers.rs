//! Each layer of the integer engine against a straightforward float reference, on random shapes
//! including edge cases (1×1 inputs, kernels as large as the input, odd sizes before pooling).

mod support;

use sumi_core::Model;
use sumi_core::blob::Pool;
use support::{FLayer, Lcg, Spec, encode, reference};

/// Random weights on the int8 grid (so weight quantization is exact) with per-channel scales.
fn grid_weights(rng: &mut Lcg, rows: usize, k: usize) -> Vec<f32> {
    let mut w = vec![0f32; rows * k];
    for r in 0..rows {
        let s = 0.002 + 0.02 * rng.f().abs();
        for i in 0..k {
            let q = if i == 0 {
                127
            } else {
                rng.range(0, 254) as i32 - 127
            };
            w[r * k + i] = q as f32 * s;
        }
    }
    w
}

fn random_input(rng: &mut Lcg, n: usize) -> Vec<u8> {
    (0..n)
        .map(|_| {
            if rng.range(0, 3) == 0 {
                0
            } else {
                rng.range(0, 255) as u8
            }
        })
        .collect()
}

/// Build [layer, Flatten, Dense logits], run it, and compare layer 0's int8 output with the
/// float reference quantized to the same output scale. Returns the max difference in LSB.
fn check_layer(rng: &mut Lcg, mut layer: FLayer, s: (usize, usize, usize)) -> i32 {
    let input = random_input(rng, s.0 * s.1 * s.2);
    let x: Vec<f32> = input.iter().map(|&p| p as f32 / 255.0).collect();
    let (y, ys) = reference(&layer, &x, s);
    let relu = matches!(
        layer,
        FLayer::Conv { relu: true, .. } | FLayer::Dense { relu: true, .. }
    );
    // The output range is calibrated before any fused pooling (average pooling of clamped
    // values would be wrong otherwise), as the trainer's calibration does.
    let mut unpooled = layer.clone();
    if let FLayer::Conv { pool, .. } = &mut unpooled {
        *pool = Pool::None;
    }
    let (pre, _) = reference(&unpooled, &x, s);
    let max = pre.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
    let (s_out, zp_out) = if relu {
        (max / 255.0, -128i8)
    } else {
        (max / 127.0, 0i8)
    };
    match &mut layer {
        FLayer::Conv {
            s_out: so,
            zp_out: zo,
            ..
        }
        | FLayer::Dense {
            s_out: so,
            zp_out: zo,
            ..
        } => {
            *so = s_out;
            *zo = zp_out;
        }
        _ => {}
    }
    // Pools keep the input quantization.
    let (s_out, zp_out) = if matches!(layer, FLayer::Pool(_)) {
        (1.0 / 255.0, -128)
    } else {
        (s_out, zp_out)
    };
    let n = ys.0 * ys.1 * ys.2;
    let head = FLayer::Dense {
        in_f: n,
        out_f: 10,
        relu: false,
        logits: true,
        w: grid_weights(rng, 10, n),
        b: vec![0.0; 10],
        s_out: 1.0,
        zp_out: 0,
    };
    let spec = Spec {
        h: s.0,
        w: s.1,
        c: s.2,
        layers: vec![layer, FLayer::Flatten, head],
        logit_scale: 0.01,
    };
    let blob = encode(&spec).expect("encode");
    let model = Model::from_bytes(&blob).expect("load");
    let mut arena = vec![0u8; model.observed_arena_bytes()];
    let mut got = Vec::new();
    let whole = model
        .predict_with(&input, &mut arena, |i, _, out| {
            if i == 0 {
                got = out.to_vec();
            }
        })
        .expect("predict");
    // The streamed plan, in its smaller arena, gives the same logits.
    let mut small = vec![0u8; model.arena_bytes()];
    let streamed = model.predict(&input, &mut small).expect("predict");
    assert_eq!(streamed.logits(), whole.logits());
    assert_eq!(got.len(), n);
    let mut worst = 0;
    for (g, r) in got.iter().zip(&y) {
        let want = ((r / s_out).round() as i32 + zp_out as i32).clamp(-128, 127);
        worst = worst.max((*g as i32 - want).abs());
    }
    worst
}

fn pool_of(rng: &mut Lcg) -> Pool {
    [Pool::None, Pool::Max2, Pool::Avg2][rng.range(0, 2)]
}

#[test]
fn conv2d_matches_float_reference() {
    let mut rng = Lcg(1);
    for case in 0..80 {
        let c = rng.range(1, 6);
        let (kh, kw) = (rng.range(1, 5), rng.range(1, 5));
        let same = rng.range(0, 1) == 1;
        let h = rng.range(if same { 1 } else { kh }, 12);
        let w = rng.range(if same { 1 } else { kw }, 12);
        let (oh, ow) = if same {
            (h, w)
        } else {
            (h + 1 - kh, w + 1 - kw)
        };
        let mut pool = pool_of(&mut rng);
        if oh < 2 || ow < 2 {
            pool = Pool::None;
        }
        let out_c = rng.range(1, 8);
        let layer = FLayer::Conv {
            k: (kh, kw),
            in_c: c,
            out_c,
            same,
            relu: rng.range(0, 1) == 1,
            pool,
            depthwise: false,
            w: grid_weights(&mut rng, out_c, kh * kw * c),
            b: (0..out_c).map(|_| rng.f() * 0.1).collect(),
            s_out: 1.0,
            zp_out: 0,
        };
        let worst = check_layer(&mut rng, layer.clone(), (h, w, c));
        assert!(
            worst <= 1,
            "case {case}: {worst} LSB off for {layer:?} on {h}x{w}x{c}"
        );
    }
}

#[test]
fn depthwise_conv2d_matches_float_reference() {
    let mut rng = Lcg(2);
    for case in 0..60 {
        let c = rng.range(1, 6);
        let (kh, kw) = (rng.range(1, 5), rng.range(1, 5));
        let same = rng.range(0, 1) == 1;
        let h = rng.range(if same { 1 } else { kh }, 12);
        let w = rng.range(if same { 1 } else { kw }, 12);
        let (oh, ow) = if same {
            (h, w)
        } else {
            (h + 1 - kh, w + 1 - kw)
        };
        let mut pool = pool_of(&mut rng);
        if oh < 2 || ow < 2 {
            pool = Pool::None;
        }
        // HWC weights; grid per channel means: build per-channel rows then transpose.
        let rows = grid_weights(&mut rng, c, kh * kw);
        let mut wt = vec![0f32; kh * kw * c];
        for ch in 0..c {
            for t in 0..kh * kw {
                wt[t * c + ch] = rows[ch * kh * kw + t];
            }
        }
        let layer = FLayer::Conv {
            k: (kh, kw),
            in_c: c,
            out_c: c,
            same,
            relu: rng.range(0, 1) == 1,
            pool,
            depthwise: true,
            w: wt,
            b: (0..c).map(|_| rng.f() * 0.1).collect(),
            s_out: 1.0,
            zp_out: 0,
        };
        let worst = check_layer(&mut rng, layer.clone(), (h, w, c));
        assert!(worst <= 1, "case {case}: {worst} LSB off for {layer:?}");
    }
}

#[test]
fn dense_matches_float_reference() {
    let mut rng = Lcg(3);
    for case in 0..40 {
        let (h, w, c) = (rng.range(1, 6), rng.range(1, 6), rng.range(1, 4));
        let in_f = h * w * c;
        let out_f = rng.range(1, 40);
        let layer = FLayer::Dense {
            in_f,
            out_f,
            relu: rng.range(0, 1) == 1,
            logits: false,
            w: grid_weights(&mut rng, out_f, in_f),
            b: (0..out_f).map(|_| rng.f() * 0.1).collect(),
            s_out: 1.0,
            zp_out: 0,
        };
        let worst = check_layer(&mut rng, layer, (h, w, c));
        assert!(worst <= 1, "case {case}: {worst} LSB off");
    }
}

#[test]
fn standalone_pools_match_reference() {
    let mut rng = Lcg(4);
    for _ in 0..40 {
        let (h, w, c) = (rng.range(2, 9), rng.range(2, 9), rng.range(1, 4));
        let p = if rng.range(0, 1) == 0 {
            Pool::Max2
        } else {
            Pool::Avg2
        };
        let worst = check_layer(&mut rng, FLayer::Pool(p), (h, w, c));
        let allowed = if p == Pool::Max2 { 0 } else { 1 };
        assert!(worst <= allowed, "{p:?} {h}x{w}x{c}: {worst}");
    }
}

#[test]
fn logits_match_float_reference() {
    let mut rng = Lcg(5);
    for _ in 0..30 {
        let n = rng.range(1, 64);
        let classes = rng.range(2, 16);
        let wts = grid_weights(&mut rng, classes, n);
        let b: Vec<f32> = (0..classes).map(|_| rng.f()).collect();
        let head = FLayer::Dense {
            in_f: n,
            out_f: classes,
            relu: false,
            logits: true,
            w: wts,
            b,
            s_out: 1.0,
            zp_out: 0,
        };
        let input = random_input(&mut rng, n);
        let x: Vec<f32> = input.iter().map(|&p| p as f32 / 255.0).collect();
        let (y, _) = reference(&head, &x, (1, 1, n));
        let logit_scale = 0.001;
        let spec = Spec {
            h: 1,
            w: 1,
            c: n,
            layers: vec![head],
            logit_scale,
        };
        let blob = encode(&spec).unwrap();
        let model = Model::from_bytes(&blob).unwrap();
        let mut arena = vec![0u8; model.arena_bytes()];
        let p = model.predict(&input, &mut arena).unwrap();
        for (g, r) in p.logits().iter().zip(&y) {
            let want = (r / logit_scale).round() as i32;
            assert!((g - want).abs() <= 1, "{g} vs {want}");
        }
        let probs = p.probabilities();
        let total: f32 = probs.iter().sum();
        assert!((total - 1.0).abs() < 1e-3);
        let best = (0..classes)
            .max_by_key(|&i| (p.logits()[i], std::cmp::Reverse(i)))
            .unwrap();
        assert_eq!(p.class() as usize, best);
    }
}

/// The streamed chain holds at most 8 stages (the input and 7 layers): a deeper network runs
/// its later spatial layers on whole maps after the chain. Eleven 3×3 convolutions (28 → 6),
/// then the logits: streamed and whole-map runs agree, with the streamed arena smaller.
#[test]
fn spatial_layers_past_the_chain_run_on_whole_maps() {
    let mut rng = Lcg(11);
    let mut layers = Vec::new();
    let mut c = 1;
    for _ in 0..11 {
        let out_c = rng.range(2, 5);
        layers.push(FLayer::Conv {
            k: (3, 3),
            in_c: c,
            out_c,
            same: false,
            relu: true,
            pool: Pool::None,
            depthwise: false,
            w: grid_weights(&mut rng, out_c, 9 * c),
            b: (0..out_c).map(|_| rng.f() * 0.1).collect(),
            s_out: 0.05,
            zp_out: -100,
        });
        c = out_c;
    }
    let n = 6 * 6 * c;
    layers.push(FLayer::Flatten);
    layers.push(FLayer::Dense {
        in_f: n,
        out_f: 10,
        relu: false,
        logits: true,
        w: grid_weights(&mut rng, 10, n),
        b: vec![0.0; 10],
        s_out: 1.0,
        zp_out: 0,
    });
    let spec = Spec {
        h: 28,
        w: 28,
        c: 1,
        layers,
        logit_scale: 0.01,
    };
    let blob = encode(&spec).expect("encode");
    let model = Model::from_bytes(&blob).expect("load");
    assert!(model.arena_bytes() < model.observed_arena_bytes());
    for _ in 0..4 {
        let input = random_input(&mut rng, 784);
        let mut whole = vec![0u8; model.observed_arena_bytes()];
        let want = model
            .predict_with(&input, &mut whole, |_, _, _| {})
            .unwrap();
        let mut small = vec![0u8; model.arena_bytes()];
        let got = model.predict(&input, &mut small).unwrap();
        assert_eq!(got.logits(), want.logits());
    }
}
