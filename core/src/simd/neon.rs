//! aarch64 fast paths: NEON (Advanced SIMD, part of the aarch64 baseline, so always present),
//! plus the `SDOT` dot-product instruction (Armv8.2 `dotprod`: Cortex-A55/A76 and later, e.g.
//! Raspberry Pi 5; not Cortex-A53/A72, i.e. Pi 3/4) chosen at run time.
//!
//! * [`Neon`]: `SMULL`/`SMULL2` multiply 8 int8 pairs into int16 (each product, at most
//!   `(-128)·(-128) = 16384`, fits), and `SADALP` adds adjacent int16 pairs into the int32
//!   accumulator. No int16 sum of two products is ever formed (`2 · 16384` does not fit an
//!   int16), so the result is exact for every input, `-128` included.
//! * [`NeonDot`]: `SDOT` adds four int8 products into each int32 lane, exactly (16 MACs in one
//!   instruction). Stable Rust does not expose `vdotq_s32` yet (`stdarch_neon_dotprod`), hence
//!   inline assembly, in functions compiled with the `dotprod` feature.
//! * Requantization is gemmlowp's NEON code: `SQRDMULH` is `SaturatingRoundingDoublingHighMul`,
//!   and `SRSHL` by `-e` after subtracting 1 from negative values is `RoundingDivideByPOT`
//!   (`SRSHL` alone rounds half up; gemmlowp rounds half away from zero).
//!
//! Audit notes: every load is an unaligned 16-byte load at `i` with `i + 16 <= n`, where `n` is
//! at most the length of each slice read, or (the last bytes of a segment) a load of exactly
//! 4, 8 or 12 bytes at `i` with `i + n` at most that length ([`load_tail`]); stores write local `[i32; 8]` arrays at offsets 0 and
//! 4; the `SDOT` asm reads and writes registers only (`pure, nomem, nostack`) and runs only in
//! functions compiled with `dotprod` after run-time detection (or a static `dotprod` target).
#![allow(unsafe_code)]

use super::Tile;
use super::portable::dot_portable;
use crate::quant::Requant4x2;
use core::arch::aarch64::*;

/// `acc + Σ x[i]·w[i]` over 16 lanes, exactly: products widened to int16 (`SMULL`, `SMULL2`),
/// adjacent pairs added into the four int32 lanes (`SADALP`).
#[inline(always)]
fn mac16(acc: int32x4_t, x: int8x16_t, w: int8x16_t) -> int32x4_t {
    // SAFETY: NEON is part of the aarch64 baseline; register-only operations.
    unsafe {
        let lo = vmull_s8(vget_low_s8(x), vget_low_s8(w));
        let hi = vmull_high_s8(x, w);
        vpadalq_s16(vpadalq_s16(acc, lo), hi)
    }
}

/// `[Σ a0, Σ a1, Σ a2, Σ a3]`: the lane sums of four vectors, by two pairwise additions.
#[inline(always)]
fn hsum4(a: [int32x4_t; 4]) -> int32x4_t {
    // SAFETY: NEON is part of the aarch64 baseline; register-only operations.
    unsafe { vpaddq_s32(vpaddq_s32(a[0], a[1]), vpaddq_s32(a[2], a[3])) }
}

/// `Σ a[i]·b[i]` over the common length of `a` and `b`.
#[inline(always)]
pub fn dot(a: &[i8], b: &[i8]) -> i32 {
    let n = a.len().min(b.len());
    let mut i = 0;
    // SAFETY: NEON is part of the aarch64 baseline; both loads read 16 bytes starting at `i`,
    // and the loop condition keeps `i + 16 <= n <= len` for both slices.
    let lanes = unsafe {
        let mut acc = vdupq_n_s32(0);
        while i + 16 <= n {
            let x = vld1q_s8(a.as_ptr().add(i));
            let y = vld1q_s8(b.as_ptr().add(i));
            acc = mac16(acc, x, y);
            i += 16;
        }
        vaddvq_s32(acc)
    };
    lanes + dot_portable(&a[i..n], &b[i..n])
}

/// The NEON micro-kernel (the aarch64 baseline: every aarch64 CPU has it).
#[derive(Clone, Copy, Debug)]
pub struct Neon;

/// Stores the eight accumulators `[a, b]` of a tile.
#[inline(always)]
fn store_4x2(a: int32x4_t, b: int32x4_t) -> [i32; 8] {
    let mut out = [0i32; 8];
    // SAFETY: two 16-byte stores at offsets 0 and 4 of the local eight-element array.
    unsafe {
        vst1q_s32(out.as_mut_ptr(), a);
        vst1q_s32(out.as_mut_ptr().add(4), b);
    }
    out
}

/// The tile loop shared by both kernels: eight accumulators, each step loads 16 bytes of both
/// weight rows and of each patch and feeds them to `mac` (`acc + Σ` over 16 lanes, exactly);
/// `rows` segments of `seg` bytes ([`Tile::dot_4x2_rows`]), one horizontal sum at the end.
/// The `n` bytes (4, 8 or 12) at `ptr` in the low lanes of a vector, zeros above: the last
/// bytes of a segment that is a multiple of [`super::SEG_ALIGN`], read without going past it.
///
/// # Safety
/// `n` bytes at `ptr` must be readable.
#[inline(always)]
unsafe fn load_tail(ptr: *const i8, n: usize) -> int8x16_t {
    // SAFETY: each read stays within the `n` bytes the caller guarantees (an 8-byte read at 0,
    // a 4-byte read at 0 or 8); NEON is part of the aarch64 baseline.
    unsafe {
        let word = |at: usize| {
            let w = core::ptr::read_unaligned(ptr.add(at) as *const i32);
            vreinterpret_s8_s32(vset_lane_s32::<0>(w, vdup_n_s32(0)))
        };
        match n {
            4 => vcombine_s8(word(0), vdup_n_s8(0)),
            8 => vcombine_s8(vld1_s8(ptr), vdup_n_s8(0)),
            _ => vcombine_s8(vld1_s8(ptr), word(8)),
        }
    }
}

#[inline(always)]
fn tile_4x2(
    p: [&[i8]; 4],
    w0: &[i8],
    w1: &[i8],
    (seg, rows, stride): (usize, usize, usize),
    mac: impl Fn(int32x4_t, int8x16_t, int8x16_t) -> int32x4_t,
) -> [i32; 8] {
    super::assert_rows(&p, w0, w1, seg, rows, stride);
    // SAFETY: NEON is part of the aarch64 baseline; register-only operation.
    let zero = unsafe { vdupq_n_s32(0) };
    let (mut a, mut b) = ([zero; 4], [zero; 4]);
    let (full, n) = (seg - seg % 16, seg % 16);
    for r in 0..rows {
        let (pw, pp) = (r * seg, r * stride);
        let mut i = 0;
        while i < full {
            // SAFETY: NEON is part of the aarch64 baseline; every 16-byte load is at
            // `r·seg + i` (weights) or `r·stride + i` (patches) with `i + 16 <= seg` and
            // `r < rows`, and the assertions above bound each slice by those.
            unsafe {
                let x0 = vld1q_s8(w0.as_ptr().add(pw + i));
                let x1 = vld1q_s8(w1.as_ptr().add(pw + i));
                for j in 0..4 {
                    let x = vld1q_s8(p[j].as_ptr().add(pp + i));
                    a[j] = mac(a[j], x, x0);
                    b[j] = mac(b[j], x, x1);
                }
            }
            i += 16;
        }
        if n > 0 {
            // SAFETY: each tail load reads the `seg % 16` bytes after `r·seg + full` (weights)
            // or `r·stride + full` (patches), within the bounds asserted above.
            unsafe {
                let x0 = load_tail(w0.as_ptr().add(pw + full), n);
                let x1 = load_tail(w1.as_ptr().add(pw + full), n);
                for j in 0..4 {
                    let x = load_tail(p[j].as_ptr().add(pp + full), n);
                    a[j] = mac(a[j], x, x0);
                    b[j] = mac(b[j], x, x1);
                }
            }
        }
    }
    store_4x2(hsum4(a), hsum4(b))
}

impl Tile for Neon {
    const PAD: usize = 16;

    #[inline(always)]
    fn dot_4x2_rows(
        self,
        p: [&[i8]; 4],
        w0: &[i8],
        w1: &[i8],
        seg: usize,
        rows: usize,
        stride: usize,
    ) -> [i32; 8] {
        tile_4x2(p, w0, w1, (seg, rows, stride), mac16)
    }

    /// gemmlowp requantization of a tile's accumulators (bias added here), plus zero point and
    /// clamp, four lanes (one channel) per vector; bit-identical to [`Requant4x2::apply`] for
    /// every right shift `0..=31`.
    #[inline(always)]
    fn requant_4x2(self, acc: [i32; 8], q: &Requant4x2) -> [i32; 8] {
        debug_assert!(q.right_shift.iter().all(|s| (0..=31).contains(s)));
        // SAFETY: 16-byte loads of four i32 at offsets 0 and 4 of the eight-element array.
        let (a, b) = unsafe { (vld1q_s32(acc.as_ptr()), vld1q_s32(acc.as_ptr().add(4))) };
        store_4x2(requant4(a, q, 0), requant4(b, q, 1))
    }
}

/// [`Requant4x2::apply`] for the four lanes of channel `c` (one multiplier, one shift).
#[inline(always)]
fn requant4(x: int32x4_t, q: &Requant4x2, c: usize) -> int32x4_t {
    // SAFETY: NEON is part of the aarch64 baseline; register-only operations.
    unsafe {
        let x = vaddq_s32(x, vdupq_n_s32(q.bias[c]));
        // SQRDMULH: sat((2·x·m + 2^31) >> 32) = floor((x·m + 2^30) / 2^31), which is gemmlowp's
        // nudge-and-truncate for both signs; it saturates only for x = m = i32::MIN, and the
        // multiplier is never negative.
        let high = vqrdmulhq_s32(x, vdupq_n_s32(q.multiplier[c]));
        // RoundingDivideByPOT as gemmlowp does it on NEON: SRSHL by -e computes
        // floor((v + 2^(e-1)) / 2^e) (round half up, no intermediate overflow); using v - 1 for
        // negative v (when e > 0: the sign bit of -e is then set) makes ties round away from
        // zero. The saturating add leaves i32::MIN, an exact multiple of 2^e, unchanged, and
        // its quotient is the same.
        let shift = vdupq_n_s32(-q.right_shift[c]);
        let fixup = vshrq_n_s32::<31>(vandq_s32(high, shift));
        let rounded = vrshlq_s32(vqaddq_s32(high, fixup), shift);
        // clamp(r + zp, lo', 127) == clamp(r, lo' - zp, 127 - zp) + zp, without overflow.
        let clamped = vminq_s32(vmaxq_s32(rounded, vdupq_n_s32(q.lo)), vdupq_n_s32(q.hi));
        vaddq_s32(clamped, vdupq_n_s32(q.zero_point))
    }
}

/// Proof that the CPU runs the Armv8.2 dot-product instructions (`SDOT`): the `SDOT` kernel is
/// a method of this token, so safe code can call it only after detection. On Linux, detection
/// reads the kernel's `AT_HWCAP` bit `HWCAP_ASIMDDP` (through `getauxval`, no `std` needed) once
/// and caches it; elsewhere only a build for a `dotprod` target (`-C target-cpu=cortex-a76`)
/// enables it.
#[derive(Clone, Copy, Debug)]
pub struct NeonDot(());

/// Detection state: 0 not yet asked, 1 absent, 2 present.
#[cfg(target_os = "linux")]
static DOTPROD: core::sync::atomic::AtomicU8 = core::sync::atomic::AtomicU8::new(0);

/// Whether the CPU has `dotprod` (Linux: `getauxval(AT_HWCAP) & HWCAP_ASIMDDP`, cached).
#[cfg(target_os = "linux")]
fn has_dotprod() -> bool {
    use core::sync::atomic::Ordering::Relaxed;
    unsafe extern "C" {
        // glibc, musl and bionic all export it; it only reads the auxiliary vector.
        safe fn getauxval(kind: core::ffi::c_ulong) -> core::ffi::c_ulong;
    }
    /// `<elf.h>`: the auxiliary-vector entry holding the hardware capability bits.
    const AT_HWCAP: core::ffi::c_ulong = 16;
    /// `<asm/hwcap.h>` (arm64): Advanced SIMD dot product (`SDOT`/`UDOT`).
    const HWCAP_ASIMDDP: core::ffi::c_ulong = 1 << 20;
    match DOTPROD.load(Relaxed) {
        1 => false,
        2 => true,
        _ => {
            let yes = getauxval(AT_HWCAP) & HWCAP_ASIMDDP != 0;
            DOTPROD.store(1 + yes as u8, Relaxed);
            yes
        }
    }
}

/// Without an OS interface to ask, only a static `dotprod` target enables `SDOT`.
#[cfg(not(target_os = "linux"))]
fn has_dotprod() -> bool {
    false
}

impl NeonDot {
    /// The token, if this CPU runs `SDOT`.
    #[inline]
    pub fn detect() -> Option<NeonDot> {
        (cfg!(target_feature = "dotprod") || has_dotprod()).then_some(NeonDot(()))
    }

    /// Runs `f` inside a function compiled with `dotprod` enabled, so that a kernel driver
    /// marked `#[inline(always)]` and the `SDOT` micro-kernel it calls inline into one loop nest
    /// (a `#[target_feature]` function cannot inline into a caller without the feature).
    #[inline(always)]
    pub fn vectorize<R>(self, f: impl FnOnce() -> R) -> R {
        #[target_feature(enable = "dotprod")]
        unsafe fn run<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        // SAFETY: the token proves the CPU runs `dotprod`.
        unsafe { run(f) }
    }
}

impl Tile for NeonDot {
    const PAD: usize = 16;

    /// The `SDOT` tile (slice bounds checked by `tile_4x2`).
    #[inline]
    fn dot_4x2_rows(
        self,
        p: [&[i8]; 4],
        w0: &[i8],
        w1: &[i8],
        seg: usize,
        rows: usize,
        stride: usize,
    ) -> [i32; 8] {
        // SAFETY: the token proves `dotprod` is available (the loop checks the slice bounds).
        unsafe { dot_4x2_sdot(p, w0, w1, (seg, rows, stride)) }
    }

    /// The NEON requantization ([`Neon::requant_4x2`]).
    #[inline(always)]
    fn requant_4x2(self, acc: [i32; 8], q: &Requant4x2) -> [i32; 8] {
        Neon.requant_4x2(acc, q)
    }
}

/// `acc + [Σ x[4l..4l+4]·w[4l..4l+4] for each lane l]`: one `SDOT`, exact (products and sums
/// in int32).
#[target_feature(enable = "dotprod")]
#[inline]
unsafe fn sdot(mut acc: int32x4_t, x: int8x16_t, w: int8x16_t) -> int32x4_t {
    // SAFETY: the caller guarantees `dotprod`; the instruction touches registers only.
    unsafe {
        core::arch::asm!(
            "sdot {acc:v}.4s, {x:v}.16b, {w:v}.16b",
            acc = inout(vreg) acc,
            x = in(vreg) x,
            w = in(vreg) w,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    acc
}

#[target_feature(enable = "dotprod")]
unsafe fn dot_4x2_sdot(
    p: [&[i8]; 4],
    w0: &[i8],
    w1: &[i8],
    shape: (usize, usize, usize),
) -> [i32; 8] {
    // SAFETY: `sdot` needs `dotprod`, which this function's caller guarantees (the closure is
    // compiled with this function's features).
    tile_4x2(p, w0, w1, shape, |acc, x, w| unsafe { sdot(acc, x, w) })
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    /// A deterministic pseudo-random u32 stream (64-bit LCG, high half).
    fn rng(seed: u64) -> impl FnMut() -> u32 {
        let mut s = seed;
        move || {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1);
            (s >> 32) as u32
        }
    }

    /// The NEON requantization equals the scalar reference for every right shift `0..=31`, on
    /// random accumulators, the tie values of each shift (where half-up and half-away-from-zero
    /// differ) and the int32 extremes.
    #[test]
    fn neon_requant_equals_the_reference() {
        let mut next = rng(7);
        let mut checked = 0u32;
        for e in 0..=31i32 {
            for round in 0..2000 {
                let m = match round % 5 {
                    0 => 0,
                    1 => i32::MAX,
                    2 => 1 << 30,
                    _ => (1 << 30) + (next() >> 2) as i32,
                };
                let r = next() as i32;
                // Values around ties of the final shift: ±(k·2^e + 2^(e-1)) + {-1, 0, 1},
                // reached through the unit multiplier path (m = i32::MAX is ~1).
                let half = if e > 0 { 1i64 << (e - 1) } else { 0 };
                let tie = (((r as i64) >> (e + 1)) << e) + half;
                let base = [
                    r,
                    r >> 8,
                    r >> 20,
                    tie as i32,
                    -(tie as i32),
                    i32::MIN,
                    i32::MAX,
                ];
                let acc: [i32; 8] = core::array::from_fn(|j| {
                    base[(j + round) % base.len()].wrapping_add(j as i32 % 3 - 1)
                });
                let zp = (next() as i8) as i32;
                let lo = if round % 2 == 0 { zp } else { -128 } - zp;
                let bias = [
                    ((next() >> 12) as i32) - (1 << 19),
                    if round % 7 == 0 {
                        0
                    } else {
                        (next() >> 12) as i32 - (1 << 19)
                    },
                ];
                let q = Requant4x2 {
                    // Keep acc + bias from overflowing (the scalar reference would panic in a
                    // debug build; the kernels never see such accumulators).
                    bias: if acc.iter().any(|a| a.unsigned_abs() > 1 << 30) {
                        [0, 0]
                    } else {
                        bias
                    },
                    multiplier: [m, (1 << 30) + (next() >> 2) as i32],
                    right_shift: [e, 31 - e],
                    lo,
                    hi: 127 - zp,
                    zero_point: zp,
                };
                assert_eq!(
                    Neon.requant_4x2(acc, &q),
                    q.apply(acc),
                    "shift {e}, acc {acc:?}, {q:?}"
                );
                checked += 1;
            }
        }
        assert_eq!(checked, 32 * 2000);
    }

    /// Both NEON tiles equal the portable tile on random and extreme int8 vectors of every
    /// padded length up to 576, including `-128 · -128` everywhere (the case an int16 pair sum
    /// would overflow).
    #[test]
    fn neon_tiles_equal_portable() {
        let mut next = rng(11);
        let dotprod = NeonDot::detect();
        for kp in (0..=576).step_by(16) {
            for pattern in 0..3 {
                let mut v = [[0i8; 576]; 6];
                for row in v.iter_mut() {
                    for x in row[..kp].iter_mut() {
                        *x = match pattern {
                            0 => next() as i8,
                            1 => -128,
                            _ => [-128, 127][(next() & 1) as usize],
                        };
                    }
                }
                let p = [&v[0][..kp], &v[1][..kp], &v[2][..kp], &v[3][..kp]];
                let want = crate::simd::Portable.dot_4x2(p, &v[4], &v[5], kp);
                assert_eq!(Neon.dot_4x2(p, &v[4], &v[5], kp), want, "kp {kp}");
                if let Some(t) = dotprod {
                    let got = t.vectorize(|| t.dot_4x2(p, &v[4], &v[5], kp));
                    assert_eq!(got, want, "SDOT, kp {kp}");
                }
            }
        }
    }

    /// The run-time `dotprod` detection agrees with what the CI script expects of the emulated
    /// CPU (`SUMI_EXPECT_DOTPROD=1` under `-cpu cortex-a76`, `0` under `cortex-a72`), so the
    /// `SDOT` path cannot be skipped silently where it should run.
    #[test]
    fn dotprod_detection_matches_the_expected_cpu() {
        let found = NeonDot::detect().is_some();
        std::println!("dotprod detected: {found}");
        match std::env::var("SUMI_EXPECT_DOTPROD").as_deref() {
            Ok("1") => assert!(found, "SDOT expected but not detected"),
            Ok("0") => assert!(!found, "SDOT detected but not expected"),
            _ => {}
        }
    }
}
