//! Single-image latency of a model, min and median over interleaved rounds, per kernel path
//! this CPU runs, streamed (the smallest arena) and on whole maps (a host's arena). `cargo run --release -p sumi-core --example latency [-- MODEL.sumi|default [ROUNDS]]`
//! (default: the embedded default model, 2,000 rounds). A third argument `sse2` times the layers
//! on the SSE2 baseline instead of the dispatched kernels. Each path is also timed on weights
//! prepared once (`Model::prepare`), on whole maps.

use std::time::Instant;
use sumi_core::{Model, models};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let blob = match args.get(1) {
        Some(path) if path != "default" => {
            std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
        }
        _ => models::DEFAULT.to_vec(),
    };
    let rounds: usize = args
        .get(2)
        .map_or(2000, |r| r.parse().expect("ROUNDS is a number"));
    let model = Model::from_bytes(&blob).expect("the model loads");
    let mut arena = vec![0u8; model.arena_bytes()];
    let mut whole_arena = vec![0u8; model.observed_arena_bytes()];
    let n = model.input_shape().len();
    let input: Vec<u8> = (0..n).map(|i| ((i * 37) % 251) as u8).collect();
    // Each path with the smallest arena (streamed band by band) and with a host's arena (whole
    // maps, one kernel call per layer).
    let paths: &[&str] = if cfg!(target_arch = "x86_64") {
        &["avx2", "sse2"]
    } else {
        &["native"]
    };
    let runs: Vec<(String, &str, bool)> = paths
        .iter()
        .flat_map(|&p| {
            [
                (format!("{p} streamed"), p, false),
                (format!("{p} whole"), p, true),
                (format!("{p} prepared"), p, true),
            ]
        })
        .collect();
    let mut storage = vec![0u8; model.prepared_bytes()];
    let prepared = model
        .prepare(&mut storage)
        .expect("storage of prepared_bytes");
    let mut times = vec![Vec::with_capacity(rounds); runs.len()];
    for _ in 0..rounds {
        for (r, (name, path, whole)) in runs.iter().enumerate() {
            #[cfg(target_arch = "x86_64")]
            sumi_core::set_avx2_allowed(*path == "avx2");
            let _ = path;
            let arena = if *whole { &mut whole_arena } else { &mut arena };
            let input = std::hint::black_box(&input);
            let t = Instant::now();
            let p = if name.ends_with("prepared") {
                prepared.predict(input, arena)
            } else {
                model.predict(input, arena)
            };
            std::hint::black_box(p.unwrap());
            times[r].push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    println!(
        "{} MACs per inference, {rounds} rounds; arena {} B streamed (predict), {} B whole maps \
         (predict_with, per-layer figures)",
        model.macs(),
        model.arena_bytes(),
        model.observed_arena_bytes()
    );
    // Per layer (dispatched kernels): time from the previous layer's end to this one's, via the
    // observation callback (the logits layer is the remainder).
    // `latency MODEL ROUNDS sse2`: per-layer figures of the SSE2 baseline instead.
    #[cfg(target_arch = "x86_64")]
    sumi_core::set_avx2_allowed(args.get(3).map(String::as_str) != Some("sse2"));
    let layers: Vec<_> = model.layers().collect();
    let mut per_layer = vec![Vec::with_capacity(rounds); layers.len()];
    for _ in 0..rounds {
        let mut stamps = Vec::with_capacity(layers.len() + 1);
        let t0 = Instant::now();
        model
            .predict_with(&input, &mut whole_arena, |i, _, _| {
                stamps.push((i, Instant::now()))
            })
            .unwrap();
        let end = Instant::now();
        let mut prev = t0;
        for &(i, t) in &stamps {
            per_layer[i].push((t - prev).as_secs_f64() * 1e6);
            prev = t;
        }
        per_layer[layers.len() - 1].push((end - prev).as_secs_f64() * 1e6);
    }
    for (i, (info, t)) in layers.iter().zip(&mut per_layer).enumerate() {
        if t.is_empty() {
            continue;
        }
        t.sort_by(f64::total_cmp);
        println!(
            "  layer {i:2} {:>12} -> {:>12}  {:>9} MACs  median {:7.1} µs",
            format!("{}x{}x{}", info.input.h, info.input.w, info.input.c),
            format!("{}x{}x{}", info.output.h, info.output.w, info.output.c),
            info.macs,
            t[t.len() / 2]
        );
    }
    for (r, (name, _, _)) in runs.iter().enumerate() {
        let t = &mut times[r];
        t.sort_by(f64::total_cmp);
        println!(
            "{name:>15}: min {:8.1} µs  median {:8.1} µs  ({:.1} GMAC/s at the median)",
            t[0],
            t[t.len() / 2],
            model.macs() as f64 / t[t.len() / 2] / 1e3
        );
    }
}
