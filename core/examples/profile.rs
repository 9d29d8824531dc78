//! Runs the default model N times (default 200) on a fixed input: a target for profilers
//! (`valgrind --tool=callgrind target/release/examples/profile`) and instruction counters.
use sumi_core::{Model, models};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let model = Model::from_bytes(models::DEFAULT).expect("default model loads");
    let mut arena = vec![0u8; model.arena_bytes()];
    let mut input = [0u8; 784];
    for (i, p) in input.iter_mut().enumerate() {
        *p = ((i * 37) % 251) as u8;
    }
    let mut acc = 0i64;
    for _ in 0..n {
        acc += model.predict(&input, &mut arena).expect("predict").logits()[0] as i64;
    }
    println!("{n} inferences, {} MACs each, checksum {acc}", model.macs());
}
