//! Per-image time of `Prepared::predict` on real digits: the first 640 MNIST test images in
//! batches of 64, 40 rounds, one thread, the default model on weights prepared once and a host
//! arena (`Model::observed_arena_bytes`). Unlike the core's `latency` example (one synthetic
//! input, the same every round), the kernels' data-dependent branches see what they see in use.
//!
//! `MNIST_DIR=../shared/mnist cargo run --release -p sumi-tests --example real_images [-- sse2]`
//! (`sse2` forbids the AVX2 kernels, x86-64).
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sse2 = std::env::args().nth(1).as_deref() == Some("sse2");
    #[cfg(target_arch = "x86_64")]
    sumi_core::set_avx2_allowed(!sse2);
    let test = sumi_data::load_test(None)?;
    let images: Vec<&[u8]> = test.iter().take(640).map(|(image, _)| image).collect();
    let model = sumi_core::Model::from_bytes(sumi_core::models::DEFAULT)?;
    let mut storage = vec![0u8; model.prepared_bytes()];
    let prepared = model.prepare(&mut storage)?;
    let mut arena = vec![0u8; model.observed_arena_bytes()];
    let mut per_image = Vec::new();
    let mut checksum = 0i64;
    for _ in 0..40 {
        for batch in images.chunks(64) {
            let start = Instant::now();
            for image in batch {
                checksum += i64::from(prepared.predict(image, &mut arena)?.logits()[0]);
            }
            per_image.push(start.elapsed().as_secs_f64() * 1e6 / batch.len() as f64);
        }
    }
    per_image.sort_by(f64::total_cmp);
    println!(
        "{} images, {}: min {:.2} µs, median {:.2} µs per image (checksum {checksum})",
        images.len(),
        if sse2 { "SSE2" } else { "dispatched kernels" },
        per_image[0],
        per_image[per_image.len() / 2]
    );
    Ok(())
}
