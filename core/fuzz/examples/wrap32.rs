//! Reproducer for a 32-bit-only validation gap (found by review while writing the fuzz targets;
//! the fuzzer itself runs on 64-bit, where this blob is correctly rejected).
//!
//! `Shape::len()` multiplies `h · w · c` in `usize`. On a 32-bit target (Cortex-M firmware,
//! wasm32, i686) a shape within the per-dimension limit of 65535 can exceed 2^32 elements, so the
//! product wraps (or panics with overflow checks) inside `Plan::new`, and the arena / shape
//! checks see the small wrapped size. This blob declares a 65480×52474×5 input (wraps to
//! 118416), a standalone 2×2 max pool (32740×26237×5, wraps to 29604), Flatten and a 29604→2
//! logits layer.
//!
//! ```text
//! cargo run --manifest-path core/fuzz/Cargo.toml --example wrap32 [-- OUT.sumi]
//! # on a 32-bit target (e.g. --target i686-unknown-linux-gnu) it loads, then predict panics
//! # with an index out of bounds in the pool kernel (release) or overflows in from_bytes (debug).
//! ```
//!
//! Expected on 64-bit: `Err(Overflow(0))`.
#![forbid(unsafe_code)]

use sumi_core::blob::{DenseDesc, DenseOutput, HEADER_LEN, LayerDesc, Metadata, ModelDesc, Pool};
use sumi_core::{Model, blob::crc32};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (h, w, c) = (65480u16, 52474u16, 5u16);
    let in_f = 29604u32;
    let classes = 2u16;
    let weights = vec![1u8; in_f as usize * classes as usize];
    let bias = [0u8; 8];
    let mult: Vec<u8> = [1u32 << 30, 1u32 << 30]
        .iter()
        .flat_map(|m| m.to_le_bytes())
        .collect();
    let shifts = [0u8; 2];
    let mut layers = heapless::Vec::new();
    layers.push(LayerDesc::Pool(Pool::Max2)).unwrap();
    layers.push(LayerDesc::Flatten).unwrap();
    layers
        .push(LayerDesc::Dense(DenseDesc {
            in_features: in_f,
            out_features: classes,
            relu: false,
            output: DenseOutput::Logits,
            weight_bits: 8,
            weights: &weights,
            bias: &bias,
            multipliers: &mult,
            shifts: &shifts,
        }))
        .unwrap();
    let desc = ModelDesc {
        meta: Metadata {
            name: "wrap32",
            created: "2026-11-28",
            recipe: "hand-made: 32-bit size wrap",
            float_accuracy: None,
            int8_accuracy: None,
            params: 0,
        },
        input_h: h,
        input_w: w,
        input_c: c,
        input_zero_point: -128,
        logit_scale: 1.0,
        layers,
        calibration: Default::default(),
    };
    // Arena the 32-bit plan computes: max(118416, 118416 + 29604, 29604).
    let arena: u32 = 118_416 + 29_604;
    let mut buf = vec![0u8; 1 << 17];
    let payload = postcard::to_slice(&desc, &mut buf)?;
    let mut blob = Vec::with_capacity(HEADER_LEN + payload.len());
    blob.extend_from_slice(b"SUMI");
    blob.extend_from_slice(&1u16.to_le_bytes());
    blob.extend_from_slice(&0u16.to_le_bytes());
    blob.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    blob.extend_from_slice(&arena.to_le_bytes());
    blob.extend_from_slice(&crc32(payload).to_le_bytes());
    blob.extend_from_slice(payload);
    if let Some(path) = std::env::args().nth(1) {
        std::fs::write(&path, &blob)?;
        println!("wrote {} bytes to {path}", blob.len());
    }
    println!("target pointer width {} bits", usize::BITS);
    match Model::from_bytes(&blob) {
        Err(e) => println!("from_bytes: Err({e:?}) — rejected, as it should be"),
        Ok(m) => {
            println!(
                "from_bytes: Ok — arena {} bytes, input {} pixels; running predict",
                m.arena_bytes(),
                m.input_shape().len()
            );
            let mut arena = vec![0u8; m.arena_bytes()];
            let input = vec![0u8; m.input_shape().len()];
            println!("predict: {:?}", m.predict(&input, &mut arena));
        }
    }
    Ok(())
}
