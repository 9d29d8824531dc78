//! The micro-kernels, one file per ISA, the one place where `unsafe` is allowed in this crate
//! (as TFLM keeps `kernels/` reference code beside vendor fast paths).
//!
//! A convolution is computed in tiles of 4 output pixels × 2 output channels ([`Tile`]): the
//! driver in `layers` gathers the four receptive fields once, then each micro-kernel returns
//! the tile's eight int32 accumulators and requantizes them. Exact integer arithmetic makes the
//! result independent of the order of summation, so every path is bit-identical to
//! [`Portable`] (tested against the definition on random layers in `layers`, and on all 10,000
//! MNIST test images by the workspace's golden-logits test and the firmware parity runs):
//!
//! | file | ISA | how |
//! |---|---|---|
//! | `portable.rs` | any (Cortex-M0/M0+, RISC-V, wasm) | plain Rust; the reference |
//! | `x86.rs` | x86-64 SSE2 (baseline) | `pcmpgtb` sign extension, `pmaddwd`, SSE2 requantization |
//! | `sse2_lanes.rs` | x86-64 SSE2 (baseline) | output channels in lanes, the AVX2 kernels' layouts 128 bits wide, requantized in vector lanes without per-lane shifts (`LaneRequant`): the int8 3×3 first layer, the products of Winograd's tiles |
//! | `x86.rs` | x86-64 AVX2 (CPUID at run time, [`set_avx2_allowed`] to forbid) | 256-bit `vpmaddwd`, vector requantization, first-layer kernels, output channels in lanes (`vpmaddwd` on int16-widened input for int8 weights, `vpmaddubsw` for sub-byte weights), 3×3 int8 convolutions in Winograd's F(2×2, 3×3) form on whole maps with weights transformed per call (exact in integers) |
//! | `winograd4.rs` | x86-64 AVX2 and SSE2 | 3×3 int8 convolutions in Winograd's F(4×4, 3×3) form on weights prepared once (`Model::prepare`): integer transforms, the output divided exactly by 576 modulo 2^32 |
//! | `dsp.rs` | Cortex-M4/M7/M33 | CMSIS-NN-style 2×2 blocks of `SXTB16` + `SMLAD` (inline asm) |
//! | `neon.rs` | aarch64 | NEON widening multiply-accumulate (SMULL + SADALP); SDOT (dotprod) chosen at run time |
//!
//! `dot` (one int8 dot product, for fully connected layers) has one implementation per ISA too.
//!
//! Audit notes: every x86/NEON load is bounded by an assertion on the slice lengths next to it;
//! the Cortex-M asm reads registers, its own stack frame and bytes whose bounds the Rust around
//! it asserted (`dsp.rs`).

// The portable module holds every target's fallbacks; each target uses some of them (and the
// tests all of them), so the rest is dead code there.
#[allow(dead_code)]
mod portable;

#[cfg(target_arch = "x86_64")]
mod sse2_lanes;
#[cfg(target_arch = "x86_64")]
mod winograd4;
#[cfg(target_arch = "x86_64")]
mod x86;
#[cfg(target_arch = "x86_64")]
pub use winograd4::{winograd4_blocks, winograd4_weights};
#[cfg(target_arch = "x86_64")]
pub use x86::{
    Avx2, FirstLayer3x3, FirstLayerGroup, LanesLayer, Sse2, WINOGRAD_MAX_BLOCKS,
    WINOGRAD_MAX_PAIRS, WINOGRAD_TILES, WideRowKernel, WinogradKernel, WinogradLayer, dot,
    set_avx2_allowed, winograd_blocks,
};

#[cfg(target_arch = "aarch64")]
mod neon;
#[cfg(target_arch = "aarch64")]
pub use neon::{Neon, NeonDot, dot};

#[cfg(all(target_arch = "arm", sumi_dsp))]
mod dsp;
#[cfg(all(target_arch = "arm", sumi_dsp))]
pub use dsp::{Dsp, dot};

#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    all(target_arch = "arm", sumi_dsp)
)))]
pub use portable::dot;

use crate::quant::Requant4x2;

/// A convolution micro-kernel: a tile of 4 output pixels × 2 output channels, the unit every
/// ISA path implements. The convolution driver (`layers`) reads the four receptive fields in
/// place (kernel rows of a multiple of [`SEG_ALIGN`] bytes) or gathers them ("patches",
/// zero-padded to a multiple of [`Tile::PAD`]) and picks two weight rows; the kernel returns
/// the eight accumulators, then requantizes them. Integer arithmetic is exact,
/// so every implementation equals [`Portable`] bit for bit (tested in `layers`).
pub trait Tile: Copy {
    /// Gathered patches are zero-padded to a multiple of this many bytes.
    const PAD: usize;
    /// `[Σ p_j·w0 for j in 0..4, Σ p_j·w1 for j in 0..4]` over receptive fields of `rows`
    /// segments of `seg` bytes (`seg` a multiple of [`SEG_ALIGN`]; vector paths load 16 bytes
    /// at a time and the last 4, 8 or 12 exactly): segment `r` of patch `j` is
    /// `p[j][r·stride..][..seg]`, of the weights `w0[r·seg..][..seg]`. Gathered patches are one
    /// segment ([`Tile::dot_4x2`]); receptive fields read in place are `kernel_h` rows of the
    /// input. Vector paths keep their accumulators across segments (one horizontal sum per tile).
    fn dot_4x2_rows(
        self,
        p: [&[i8]; 4],
        w0: &[i8],
        w1: &[i8],
        seg: usize,
        rows: usize,
        stride: usize,
    ) -> [i32; 8];
    /// The tile over the first `kp` bytes of four gathered patches (`kp` a multiple of
    /// [`Tile::PAD`]; every slice at least `kp` long): one segment of [`Tile::dot_4x2_rows`].
    #[inline(always)]
    fn dot_4x2(self, p: [&[i8]; 4], w0: &[i8], w1: &[i8], kp: usize) -> [i32; 8] {
        self.dot_4x2_rows(p, w0, w1, kp, 1, 0)
    }
    /// Requantize the tile (bias, multiplier, right shift, zero point, clamp); the default is
    /// the scalar reference [`Requant4x2::apply`].
    #[inline(always)]
    fn requant_4x2(self, acc: [i32; 8], q: &Requant4x2) -> [i32; 8] {
        q.apply(acc)
    }
    /// A fused 2×2 max pool of the tile: each channel's maximum over its four pixels,
    /// requantized (the default: [`Tile::requant_4x2`], then the maxima). Requantization is
    /// monotonic (non-negative multipliers, and `|bias| < 2^30` keeps `acc + bias` from
    /// overflowing), so an implementation may take the maxima of the accumulators first.
    #[inline(always)]
    fn requant_max_4x2(self, acc: [i32; 8], q: &Requant4x2) -> [i32; 2] {
        let r = self.requant_4x2(acc, q);
        [max4(&r[..4]), max4(&r[4..])]
    }
    /// Scalar requantization (no vectors): a fused max pool takes the maxima of the
    /// accumulators and requantizes those two values one by one, instead of calling
    /// [`Tile::requant_max_4x2`] (which suits eight-lane vector requantization).
    const SCALAR: bool = false;
}

/// The portable micro-kernel: plain Rust, for cores without a fast path (Cortex-M0/M0+,
/// RISC-V, wasm) and the reference the others are tested against. Also the portable
/// [`Row4`].
// Dispatched on cores without a fast path; where one exists only the tests run it.
#[cfg_attr(
    all(
        not(test),
        any(
            target_arch = "x86_64",
            target_arch = "aarch64",
            all(target_arch = "arm", sumi_dsp)
        )
    ),
    allow(dead_code)
)]
#[derive(Clone, Copy, Debug)]
pub struct Portable;

impl Tile for Portable {
    const PAD: usize = 1;
    const SCALAR: bool = true;
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
        let mut acc = [0i32; 8];
        for r in 0..rows {
            let (at, wt) = (r * stride, r * seg);
            let x = [
                &p[0][at..at + seg],
                &p[1][at..at + seg],
                &p[2][at..at + seg],
                &p[3][at..at + seg],
            ];
            let (u, v) = (&w0[wt..wt + seg], &w1[wt..wt + seg]);
            // Armv6-M (Cortex-M0) has too few low registers for the one-pass tile: two passes
            // of the four-patch dot product there; one pass elsewhere (RISC-V, wasm).
            #[cfg(target_arch = "arm")]
            let a = {
                let (a, b) = (portable::dot4(x, u), portable::dot4(x, v));
                [a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3]]
            };
            #[cfg(not(target_arch = "arm"))]
            let a = portable::dot_4x2(x, u, v);
            for (x, y) in acc.iter_mut().zip(a) {
                *x += y;
            }
        }
        acc
    }
}

/// One kernel row of a one-channel layer (up to 4 taps, zero-padded to 4) against 4 input
/// bytes: the unit of the first-layer kernel (`layers::conv2d_first`) on the cores without
/// wide vectors. A row's weights are prepared once per output channel; `mac_row4` is exact, so
/// every implementation equals [`Portable`]'s (a 4th input byte meets the zero weight).
pub trait Row4: Copy {
    /// A row of four weights, prepared for [`Row4::mac_row4`].
    type W: Copy;
    /// Prepares four weights.
    fn prepare(self, w: [i8; 4]) -> Self::W;
    /// `acc + Σ x_i · w_i`.
    fn mac_row4(self, acc: i32, x: [i8; 4], w: Self::W) -> i32;
    /// Two adjacent outputs of a row of at most 3 taps (the 4th weight zero) from one word:
    /// `[acc[0] + Σ_{i<3} x_i · w_i, acc[1] + Σ_{i<3} x_{i+1} · w_i]`.
    fn mac_row3_pair(self, acc: [i32; 2], x: [i8; 4], w: Self::W) -> [i32; 2];
}

impl Row4 for Portable {
    type W = [i32; 4];
    #[inline(always)]
    fn prepare(self, w: [i8; 4]) -> [i32; 4] {
        w.map(i32::from)
    }
    #[inline(always)]
    fn mac_row4(self, acc: i32, x: [i8; 4], w: [i32; 4]) -> i32 {
        acc + x[0] as i32 * w[0] + x[1] as i32 * w[1] + x[2] as i32 * w[2] + x[3] as i32 * w[3]
    }
    #[inline(always)]
    fn mac_row3_pair(self, acc: [i32; 2], x: [i8; 4], w: [i32; 4]) -> [i32; 2] {
        let x = x.map(i32::from);
        [
            acc[0] + x[0] * w[0] + x[1] * w[1] + x[2] * w[2],
            acc[1] + x[1] * w[0] + x[2] * w[1] + x[3] * w[2],
        ]
    }
}

/// The largest of the first four values: a 2×2 max pool.
#[inline(always)]
pub(crate) fn max4(a: &[i32]) -> i32 {
    a[0].max(a[1]).max(a[2]).max(a[3])
}

/// Receptive-field segments (kernel rows read in place) are a multiple of this many bytes on
/// every path: whole words for the DSP kernel; the 16-byte vector paths finish a segment with
/// exact loads of its last 4, 8 or 12 bytes.
pub(crate) const SEG_ALIGN: usize = 4;

/// The bounds every vector path checks before its unchecked loads (see
/// [`Tile::dot_4x2_rows`]): `seg` a multiple of [`SEG_ALIGN`], both weight rows `rows · seg`
/// long, each patch reaching its last segment.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[inline(always)]
fn assert_rows(p: &[&[i8]; 4], w0: &[i8], w1: &[i8], seg: usize, rows: usize, stride: usize) {
    let (wn, pn) = (rows * seg, (rows.max(1) - 1) * stride + seg);
    assert!(seg.is_multiple_of(SEG_ALIGN) && w0.len() >= wn && w1.len() >= wn);
    assert!(p.iter().all(|x| x.len() >= pn));
}

#[cfg(test)]
mod tests {
    use super::portable::dot_portable;
    use super::*;

    #[test]
    fn fast_path_equals_portable_on_all_lengths_and_extremes() {
        let mut s = 1u32;
        for n in 0..300 {
            let mut a = [0i8; 300];
            let mut b = [0i8; 300];
            for i in 0..n {
                s = s.wrapping_mul(1664525).wrapping_add(1013904223);
                a[i] = (s >> 24) as i8;
                b[i] = (s >> 16) as i8;
            }
            assert_eq!(
                dot(&a[..n], &b[..n]),
                dot_portable(&a[..n], &b[..n]),
                "n={n}"
            );
            let lo = [-128i8; 300];
            assert_eq!(dot(&lo[..n], &lo[..n]), 16384 * n as i32);
            let hi = [127i8; 300];
            assert_eq!(dot(&lo[..n], &hi[..n]), -16256 * n as i32);
            let q = [&a[..n], &b[..n], &lo[..n], &hi[..n]];
            let want = q.map(|x| dot_portable(x, &b[..n]));
            assert_eq!(portable::dot4(q, &b[..n]), want, "n={n}");
        }
    }
}
