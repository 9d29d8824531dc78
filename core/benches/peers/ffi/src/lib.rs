//! A C ABI over `sumi_core::Prepared::predict` (a model with its weights prepared once), for
//! timing sumi-core beside onnxruntime and tract in one Python process (`core/benches/peers/bench.py`, through ctypes).
//!
//! A handle owns a copy of the blob, the model view over it, its weights prepared once for this
//! CPU (`Model::prepare`, as onnxruntime prepacks when a session is created) and the scratch
//! arena. Every function returns a negative number on error (null handle, bad blob, inference
//! error).

use sumi_core::{Model, Prepared};

/// A loaded model: the blob, the model over it and the prepared weights' storage (all three
/// leaked while the handle lives, freed by `sumi_free`), the prepared model, its arena.
pub struct Handle {
    prepared: Option<Prepared<'static>>,
    model: *mut Model<'static>,
    storage: *mut [u8],
    blob: *mut [u8],
    arena: Vec<u8>,
}

/// Loads a blob (copied). Returns null if it is not a valid Sumi model.
///
/// # Safety
/// `blob` must point to `len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sumi_load(blob: *const u8, len: usize) -> *mut Handle {
    if blob.is_null() {
        return std::ptr::null_mut();
    }
    // SAFETY: the caller promises `len` readable bytes.
    let bytes = unsafe { std::slice::from_raw_parts(blob, len) }.to_vec();
    let raw: *mut [u8] = Box::into_raw(bytes.into_boxed_slice());
    // SAFETY: `raw` stays allocated until `sumi_free` drops the model first, then the bytes.
    let leaked: &'static [u8] = unsafe { &*raw };
    match Model::from_bytes(leaked) {
        Ok(model) => {
            // A host's arena: room for every whole map, so `predict` runs layer by layer
            // (`sumi_set_streamed` switches to the smallest, streamed arena).
            let arena = vec![0u8; model.observed_arena_bytes()];
            let model: *mut Model<'static> = Box::into_raw(Box::new(model));
            // SAFETY: `model` stays allocated until `sumi_free` drops `prepared` first.
            let m: &'static Model<'static> = unsafe { &*model };
            let storage: *mut [u8] =
                Box::into_raw(vec![0u8; m.prepared_bytes()].into_boxed_slice());
            // SAFETY: as `model`; nothing else touches the storage.
            let prepared = m.prepare(unsafe { &mut *storage }).ok();
            Box::into_raw(Box::new(Handle {
                prepared,
                model,
                storage,
                blob: raw,
                arena,
            }))
        }
        Err(_) => {
            // SAFETY: nothing borrows the bytes any more.
            drop(unsafe { Box::from_raw(raw) });
            std::ptr::null_mut()
        }
    }
}

/// Gives the handle the smallest arena (`Model::arena_bytes`: the layers stream band by band,
/// as on a microcontroller) when `streamed` is non-zero, else room for every whole map
/// (`Model::observed_arena_bytes`, the default: layer by layer). Returns 0, or -1 for a null
/// handle.
///
/// # Safety
/// `h` must be a live handle or null.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sumi_set_streamed(h: *mut Handle, streamed: i32) -> i32 {
    // SAFETY: the caller passes a live handle or null.
    let Some(h) = (unsafe { h.as_mut() }) else {
        return -1;
    };
    let Some(model) = h.prepared.map(|p| p.model()) else {
        return -1;
    };
    let n = if streamed != 0 {
        model.arena_bytes()
    } else {
        model.observed_arena_bytes()
    };
    h.arena = vec![0u8; n];
    0
}

/// Frees a handle from [`sumi_load`] (null is ignored).
///
/// # Safety
/// `h` must come from `sumi_load` and not be used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sumi_free(h: *mut Handle) {
    if h.is_null() {
        return;
    }
    // SAFETY: `h` came from `Box::into_raw` in `sumi_load`.
    let mut h = unsafe { Box::from_raw(h) };
    h.prepared = None;
    // SAFETY: nothing borrows the model or the storage any more (the prepared model is gone),
    // then nothing borrows the bytes (the model is gone).
    unsafe {
        drop(Box::from_raw(h.model));
        drop(Box::from_raw(h.storage));
        drop(Box::from_raw(h.blob));
    }
}

/// Pixels one input takes (`h · w · c`).
///
/// # Safety
/// `h` must be a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sumi_input_len(h: *const Handle) -> i64 {
    // SAFETY: the caller passes a live handle or null.
    match unsafe { h.as_ref() }.and_then(|h| h.prepared) {
        Some(p) => p.model().input_shape().len() as i64,
        None => -1,
    }
}

/// Classifies one image through `Prepared::predict`: returns the digit, and writes the
/// `classes` int32 logits to `logits` unless it is null.
///
/// # Safety
/// `h` must be a live handle, `pixels` must point to `sumi_input_len` bytes, and `logits`
/// (if not null) to room for the model's classes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sumi_predict(h: *mut Handle, pixels: *const u8, logits: *mut i32) -> i32 {
    // SAFETY: the caller passes a live handle or null.
    let Some(h) = (unsafe { h.as_mut() }) else {
        return -1;
    };
    let Some(prepared) = h.prepared else {
        return -1;
    };
    let n = prepared.model().input_shape().len();
    // SAFETY: the caller promises `n` readable bytes.
    let input = unsafe { std::slice::from_raw_parts(pixels, n) };
    match prepared.predict(input, &mut h.arena) {
        Ok(p) => {
            if !logits.is_null() {
                let l = p.logits();
                // SAFETY: the caller promises room for the classes.
                unsafe { std::ptr::copy_nonoverlapping(l.as_ptr(), logits, l.len()) };
            }
            i32::from(p.class())
        }
        Err(_) => -2,
    }
}

/// Classifies `n` consecutive images (a loop over `Prepared::predict`), writing the digits.
/// Returns `n`, or a negative number on error.
///
/// # Safety
/// `h` must be a live handle, `pixels` must point to `n · sumi_input_len` bytes and
/// `digits` to `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sumi_predict_batch(
    h: *mut Handle,
    pixels: *const u8,
    n: usize,
    digits: *mut u8,
) -> i64 {
    // SAFETY: the caller passes a live handle or null.
    let Some(h) = (unsafe { h.as_mut() }) else {
        return -1;
    };
    let Some(prepared) = h.prepared else {
        return -1;
    };
    let len = prepared.model().input_shape().len();
    // SAFETY: the caller promises the sizes.
    let (input, out) = unsafe {
        (
            std::slice::from_raw_parts(pixels, n * len),
            std::slice::from_raw_parts_mut(digits, n),
        )
    };
    for (img, d) in input.chunks_exact(len).zip(out) {
        match prepared.predict(img, &mut h.arena) {
            Ok(p) => *d = p.class(),
            Err(_) => return -2,
        }
    }
    n as i64
}

/// Allows (non-zero, the default) or forbids (0) the AVX2 kernels in this process: with 0,
/// x86-64 runs the SSE2 baseline. Returns 1 where the switch exists (x86-64), else 0.
#[unsafe(no_mangle)]
pub extern "C" fn sumi_set_avx2_allowed(allowed: i32) -> i32 {
    #[cfg(target_arch = "x86_64")]
    {
        sumi_core::set_avx2_allowed(allowed != 0);
        1
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = allowed;
        0
    }
}
