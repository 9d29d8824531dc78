//! Runs the default model N times (default 200) on a fixed input: a target for profilers
//! (`valgrind --tool=callgrind target/release/examples/profile`, `perf record`) and instruction
//! counters. `profile [N] [streamed|whole|prepared] [sse2]`: the smallest arena (the default), a
//! host's arena (whole maps), or whole maps on weights prepared once (`Model::prepare`); `sse2`
//! forbids the AVX2 kernels (x86-64).
use sumi_core::{Model, models};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(200);
    let mode = args.get(2).map_or("streamed", String::as_str);
    #[cfg(target_arch = "x86_64")]
    sumi_core::set_avx2_allowed(args.get(3).map(String::as_str) != Some("sse2"));
    let model = Model::from_bytes(models::DEFAULT).expect("default model loads");
    let mut arena = vec![
        0u8;
        match mode {
            "streamed" => model.arena_bytes(),
            "whole" | "prepared" => model.observed_arena_bytes(),
            other => panic!("mode {other}: streamed, whole or prepared"),
        }
    ];
    let mut storage = vec![0u8; model.prepared_bytes()];
    let prepared = model
        .prepare(&mut storage)
        .expect("storage of prepared_bytes");
    let mut input = [0u8; 784];
    for (i, p) in input.iter_mut().enumerate() {
        *p = ((i * 37) % 251) as u8;
    }
    let mut acc = 0i64;
    for _ in 0..n {
        let p = if mode == "prepared" {
            prepared.predict(&input, &mut arena)
        } else {
            model.predict(&input, &mut arena)
        };
        acc += p.expect("predict").logits()[0] as i64;
    }
    println!(
        "{n} inferences ({mode}), {} MACs each, checksum {acc}",
        model.macs()
    );
}
