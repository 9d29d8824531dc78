//! Host latency and throughput of the embedded default model, and of preprocessing + inference
//! for one drawn canvas (what the GUI does per update). Run: `cargo bench -p sumi-core`.

use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use sumi_core::{Model, models, preprocess};

/// A deterministic digit-like input: a thick ring (a "0").
fn ring() -> [u8; 784] {
    let mut img = [0u8; 784];
    for y in 0..28 {
        for x in 0..28 {
            let (dx, dy) = (x as f32 - 13.5, y as f32 - 13.5);
            let r = (dx * dx / 36.0 + dy * dy / 81.0).sqrt();
            if (0.75..1.15).contains(&r) {
                img[y * 28 + x] = 255;
            }
        }
    }
    img
}

fn bench(c: &mut Criterion) {
    let model = Model::from_bytes(models::DEFAULT).expect("default model loads");
    let mut arena = vec![0u8; model.arena_bytes()];
    let input = ring();
    println!(
        "default model: {} params, {} MACs/inference, arena {} B, blob {} B",
        model.params(),
        model.macs(),
        model.arena_bytes(),
        model.blob_bytes()
    );
    let mut g = c.benchmark_group("default_model");
    g.throughput(Throughput::Elements(1));
    g.bench_function("predict_single_image", |b| {
        b.iter(|| model.predict(black_box(&input), &mut arena).unwrap())
    });
    // The x86-64 baseline kernel on the same machine (AVX2 forbidden for this one benchmark).
    #[cfg(target_arch = "x86_64")]
    {
        sumi_core::set_avx2_allowed(false);
        g.bench_function("predict_single_image_sse2_only", |b| {
            b.iter(|| model.predict(black_box(&input), &mut arena).unwrap())
        });
        sumi_core::set_avx2_allowed(true);
    }
    g.bench_function("load_and_validate_blob", |b| {
        b.iter(|| Model::from_bytes(black_box(models::DEFAULT)).unwrap())
    });
    // A 280×280 canvas as the GUI has it: preprocessing + inference per update.
    let mut canvas = vec![0u8; 280 * 280];
    for y in 0..280 {
        for x in 0..280 {
            canvas[y * 280 + x] = input[(y / 10) * 28 + x / 10];
        }
    }
    g.bench_function("preprocess_280x280_plus_predict", |b| {
        b.iter(|| {
            let mut out = [0u8; 784];
            preprocess(black_box(&canvas), 280, 280, &mut out).unwrap();
            model.predict(&out, &mut arena).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
