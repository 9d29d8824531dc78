//! Cost of one live-prediction update: `sumi-core` preprocessing of the 336×336 canvas plus
//! inference with feature-map capture (`LoadedModel::analyse`), and the same plus building the
//! UI images. The budget is 2 ms per update.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use sumi_desktop::canvas::{Canvas, Point};
use sumi_desktop::model::{LoadedModel, SIDE};
use sumi_desktop::render;
use sumi_desktop::state::{BRUSH_RADIUS, CANVAS_SIZE};

fn seven() -> Canvas {
    let mut c = Canvas::new(CANVAS_SIZE, CANVAS_SIZE, BRUSH_RADIUS);
    c.stroke_through(&[(0.28, 0.22), (0.72, 0.22), (0.58, 0.5), (0.46, 0.84)]);
    c
}

fn bench(c: &mut Criterion) {
    let canvas = seven();
    let mut model = LoadedModel::embedded().expect("embedded model");
    c.bench_function("preprocess+predict (336x336 canvas)", |b| {
        b.iter(|| {
            black_box(
                model
                    .analyse(black_box(canvas.pixels()), CANVAS_SIZE, CANVAS_SIZE)
                    .unwrap(),
            )
        })
    });
    c.bench_function("full update incl. UI images", |b| {
        b.iter(|| {
            let a = model
                .analyse(canvas.pixels(), CANVAS_SIZE, CANVAS_SIZE)
                .unwrap();
            let mask = render::ink_mask(canvas.pixels(), CANVAS_SIZE, CANVAS_SIZE);
            let input = render::grey(&a.input, SIDE, SIDE);
            let maps: Vec<_> = a.features.iter().map(render::feature_grid).collect();
            black_box((a, mask, input, maps))
        })
    });
    let mut canvas = Canvas::new(CANVAS_SIZE, CANVAS_SIZE, BRUSH_RADIUS);
    c.bench_function("one stroke segment (30 px)", |b| {
        b.iter(|| {
            canvas.begin_stroke(Point { x: 100.0, y: 100.0 });
            canvas.extend_stroke(Point { x: 130.0, y: 110.0 });
            canvas.end_stroke();
            canvas.clear();
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
