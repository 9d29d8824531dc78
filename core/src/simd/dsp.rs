//! Cortex-M DSP fast paths (M4/M7/M33): `SXTB16` unpacks pairs of int8 to int16 and `SMLAD`
//! does two multiply-accumulates per instruction, as CMSIS-NN does. Stable Rust has no
//! intrinsics for them, hence inline assembly.
//!
//! Audit notes: the small asm blocks read and write registers only (`pure, nomem`); the
//! 2×2 block loop ([`block_2x2_rows`]) reads the patch and weight bytes its caller asserted the
//! bounds of, and a 16-byte frame it pushes and pops itself.
#![allow(unsafe_code)]

use super::portable::dot_portable;
use super::{Row4, Tile};
use core::arch::asm;

/// Four int8 lanes as one little-endian word (one unaligned `LDR`: the length is known).
#[inline(always)]
fn word(c: &[i8]) -> u32 {
    let b: [i8; 4] = [c[0], c[1], c[2], c[3]];
    u32::from_le_bytes(b.map(|v| v as u8))
}

/// One word of [`dot`]: `acc += x·y` for the words at `pa`, `pb`, both pointers advanced.
macro_rules! dot_word {
    () => {
        concat!(
            "ldr {x}, [{pa}], #4\n",
            "ldr {y}, [{pb}], #4\n",
            "sxtb16 {xe}, {x}\n",
            "sxtb16 {ye}, {y}\n",
            "smlad {acc}, {xe}, {ye}, {acc}\n",
            "sxtb16 {x}, {x}, ror #8\n",
            "sxtb16 {y}, {y}, ror #8\n",
            "smlad {acc}, {x}, {y}, {acc}\n",
        )
    };
}

/// `Σ a[i]·b[i]` over the common length of `a` and `b`: an asm loop over 8-byte steps (two
/// words of each: 4 `LDR`, 8 `SXTB16`, 4 `SMLAD`), then a word and the last bytes.
#[inline(always)]
pub fn dot(a: &[i8], b: &[i8]) -> i32 {
    let n = a.len().min(b.len());
    let steps = n / 8;
    let mut acc = 0i32;
    if steps > 0 {
        // SAFETY: reads `8·steps <= n` bytes from each slice; registers otherwise.
        unsafe {
            asm!(
                "2:",
                dot_word!(),
                dot_word!(),
                "subs {k}, {k}, #1",
                "bne 2b",
                pa = inout(reg) a.as_ptr() => _,
                pb = inout(reg) b.as_ptr() => _,
                k = inout(reg) steps => _,
                acc = inout(reg) acc,
                x = out(reg) _,
                y = out(reg) _,
                xe = out(reg) _,
                ye = out(reg) _,
                options(readonly, nostack),
            );
        }
    }
    let i = steps * 8;
    let j = i + (n - i) / 4 * 4;
    for (ca, cb) in a[i..j].chunks_exact(4).zip(b[i..j].chunks_exact(4)) {
        acc = mac4(acc, unpack(word(ca)), unpack(word(cb)));
    }
    acc + dot_portable(&a[j..n], &b[j..n])
}

/// `SXTB16` twice: the int8 lanes 0, 2 and 1, 3 of `x` as pairs of int16.
#[inline(always)]
fn unpack(x: u32) -> (u32, u32) {
    let (even, odd): (u32, u32);
    // SAFETY: register-only DSP instructions; `out` (not `lateout`) keeps `even` from sharing
    // `x`'s register, which the second instruction still reads.
    unsafe {
        asm!(
            "sxtb16 {e}, {x}",
            "sxtb16 {o}, {x}, ror #8",
            x = in(reg) x,
            e = out(reg) even,
            o = lateout(reg) odd,
            options(pure, nomem, nostack),
        );
    }
    (even, odd)
}

/// `acc + x·w` over four int8 lanes given as unpacked int16 pairs: two `SMLAD`s.
#[inline(always)]
fn mac4(acc: i32, x: (u32, u32), w: (u32, u32)) -> i32 {
    let mut acc = acc;
    // SAFETY: register-only DSP instructions (SMLAD), no memory access.
    unsafe {
        asm!(
            "smlad {a}, {xe}, {we}, {a}",
            "smlad {a}, {xo}, {wo}, {a}",
            a = inout(reg) acc,
            xe = in(reg) x.0,
            xo = in(reg) x.1,
            we = in(reg) w.0,
            wo = in(reg) w.1,
            options(pure, nomem, nostack),
        );
    }
    acc
}

/// One word (4 bytes) of the 2×2 block: `acc += [a·u, b·u, a·v, b·v]` for the patch words
/// `a`, `b` (at `x0`, `x1`) and weight words `u`, `v` (at `w0`, `w1`), all four pointers
/// advanced by 4. Four temporaries only (the twelve allocatable registers are all in use), so
/// `u` is loaded again after `v` instead of being kept: 5 `LDR`, 10 `SXTB16`, 8 `SMLAD`.
macro_rules! block_word {
    () => {
        concat!(
            "ldr {t0}, [{w0}], #4\n",
            "sxtb16 {t1}, {t0}\n",
            "sxtb16 {t0}, {t0}, ror #8\n",
            "ldr {t2}, [{x0}], #4\n",
            "sxtb16 {t3}, {t2}\n",
            "sxtb16 {t2}, {t2}, ror #8\n",
            "smlad {a0}, {t3}, {t1}, {a0}\n",
            "smlad {a0}, {t2}, {t0}, {a0}\n",
            "ldr {t0}, [{w1}], #4\n",
            "sxtb16 {t1}, {t0}\n",
            "sxtb16 {t0}, {t0}, ror #8\n",
            "smlad {a2}, {t3}, {t1}, {a2}\n",
            "smlad {a2}, {t2}, {t0}, {a2}\n",
            "ldr {t2}, [{x1}], #4\n",
            "sxtb16 {t3}, {t2}\n",
            "sxtb16 {t2}, {t2}, ror #8\n",
            "smlad {a3}, {t3}, {t1}, {a3}\n",
            "smlad {a3}, {t2}, {t0}, {a3}\n",
            "ldr {t0}, [{w0}, #-4]\n",
            "sxtb16 {t1}, {t0}\n",
            "sxtb16 {t0}, {t0}, ror #8\n",
            "smlad {a1}, {t3}, {t1}, {a1}\n",
            "smlad {a1}, {t2}, {t0}, {a1}\n",
        )
    };
}

/// CMSIS-NN-style 2×2 block over `rows` segments of `n` bytes (`n` a multiple of 4, at least
/// 8; `ODD`: `n / 4` is odd): two patches (`x0`, `x1`; segment `r` at `r·stride`) × two weight
/// rows (`w0`, `w1`; segment `r` at `r·n`, contiguous), added to `acc = [x0·w0, x1·w0, x0·w1,
/// x1·w1]`. One asm loop, two words per iteration, the odd word after it, then the next row:
/// the counters live in a 16-byte frame of its own on the stack (words: `n` rounded down to 8,
/// `stride − n`, rows left, end of the row's weights), as all twelve allocatable registers hold
/// pointers, accumulators and temporaries.
///
/// # Safety
/// `x0`, `x1` readable for `(rows − 1)·stride + n` bytes, `w0`, `w1` for `rows·n`; `rows ≥ 1`,
/// `n ≥ 8`.
#[inline(always)]
unsafe fn block_2x2_rows<const ODD: bool>(
    acc: [i32; 4],
    x: [*const i8; 2],
    w: [*const i8; 2],
    n: usize,
    rows: usize,
    stride: usize,
) -> [i32; 4] {
    let [mut a0, mut a1, mut a2, mut a3] = acc;
    // The loop, with or without the odd word after the pairs (`$odd`).
    macro_rules! rows_asm {
        ($($odd:expr)?) => {
            asm!(
                "sub {t2}, {t2}, {t0}",
                "bic {t0}, {t0}, #7",
                "sub sp, sp, #16",
                "str {t0}, [sp]",
                "str {t2}, [sp, #4]",
                "str {t1}, [sp, #8]",
                // Next row: the end of its pairs of weight words.
                "2:",
                "ldr {t0}, [sp]",
                "add {t0}, {t0}, {w0}",
                "str {t0}, [sp, #12]",
                "3:",
                block_word!(),
                block_word!(),
                "ldr {t0}, [sp, #12]",
                "cmp {w0}, {t0}",
                "bne 3b",
                $($odd,)?
                "ldr {t0}, [sp, #4]",
                "add {x0}, {x0}, {t0}",
                "add {x1}, {x1}, {t0}",
                "ldr {t0}, [sp, #8]",
                "subs {t0}, {t0}, #1",
                "str {t0}, [sp, #8]",
                "bne 2b",
                "add sp, sp, #16",
                a0 = inout(reg) a0,
                a1 = inout(reg) a1,
                a2 = inout(reg) a2,
                a3 = inout(reg) a3,
                x0 = inout(reg) x[0] => _,
                x1 = inout(reg) x[1] => _,
                w0 = inout(reg) w[0] => _,
                w1 = inout(reg) w[1] => _,
                t0 = inout(reg) n => _,
                t1 = inout(reg) rows => _,
                t2 = inout(reg) stride => _,
                t3 = out(reg) _,
            )
        };
    }
    // SAFETY: the caller guarantees the reads; the asm reads only those bytes and its own
    // stack frame, which it pops before the end.
    unsafe {
        if ODD {
            rows_asm!(block_word!());
        } else {
            rows_asm!();
        }
    }
    [a0, a1, a2, a3]
}

/// The Cortex-M DSP micro-kernel (M4/M7/M33): two CMSIS-NN-style 2×2 blocks (pixels 0–1 and
/// 2–3 × both channels) of `SXTB16` + `SMLAD`, each one asm loop over all kernel rows
/// (23 instructions per 16 multiply-accumulates, against 28–30 for the same loop compiled
/// from Rust, which spilled), and a scalar tail for `k % 4` bytes. A fused max pool is taken
/// on the accumulators ([`Tile::SCALAR`]).
#[derive(Clone, Copy, Debug)]
pub struct Dsp;

impl Tile for Dsp {
    const PAD: usize = 1;
    const SCALAR: bool = true;
    /// Both blocks keep their accumulators across the `rows` segments.
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
        // Segments of 4 bytes run as tails.
        let n = if seg >= 8 { seg & !3 } else { 0 };
        let (mut a, mut b) = ([0i32; 4], [0i32; 4]);
        let mut tail = [0i32; 8];
        if n > 0 && rows > 0 {
            // Bounds of the asm's reads: patches `(rows − 1)·stride + n`, weights `rows·n`
            // (contiguous when `n == seg`; otherwise one call per row).
            let span = (rows - 1) * stride + n;
            assert!(p.iter().all(|x| x.len() >= span) && w0.len() >= rows * seg);
            assert!(w1.len() >= rows * seg);
            let (calls, per_call) = if n == seg { (1, rows) } else { (rows, 1) };
            for r in 0..calls {
                let (at, wt) = (r * stride, r * seg);
                let w = [w0[wt..].as_ptr(), w1[wt..].as_ptr()];
                let xa = [p[0][at..].as_ptr(), p[1][at..].as_ptr()];
                let xb = [p[2][at..].as_ptr(), p[3][at..].as_ptr()];
                // SAFETY: the assertions above bound every read of both blocks; n ≥ 8.
                unsafe {
                    if n % 8 == 4 {
                        a = block_2x2_rows::<true>(a, xa, w, n, per_call, stride);
                        b = block_2x2_rows::<true>(b, xb, w, n, per_call, stride);
                    } else {
                        a = block_2x2_rows::<false>(a, xa, w, n, per_call, stride);
                        b = block_2x2_rows::<false>(b, xb, w, n, per_call, stride);
                    }
                }
            }
        }
        if n < seg {
            for r in 0..rows {
                let (at, wt) = (r * stride, r * seg);
                let (u, v) = (&w0[wt + n..wt + seg], &w1[wt + n..wt + seg]);
                for j in 0..4 {
                    let x = &p[j][at + n..at + seg];
                    tail[j] += dot_portable(x, u);
                    tail[4 + j] += dot_portable(x, v);
                }
            }
        }
        let out = [a[0], a[1], b[0], b[1], a[2], a[3], b[2], b[3]];
        core::array::from_fn(|j| out[j] + tail[j])
    }
}

/// The DSP [`Row4`]: the weights unpacked once (`SXTB16`), then per row one `SXTB16` pair and
/// two `SMLAD`s.
impl Row4 for Dsp {
    type W = (u32, u32);
    #[inline(always)]
    fn prepare(self, w: [i8; 4]) -> (u32, u32) {
        unpack(word(&w))
    }
    /// The four bytes are one (unaligned) `LDR`.
    #[inline(always)]
    fn mac_row4(self, acc: i32, x: [i8; 4], w: (u32, u32)) -> i32 {
        mac4(acc, unpack(word(&x)), w)
    }
    /// With `w = ((w0, w2), (w1, 0))` and `x` unpacked to `e = (x0, x2)`, `o = (x1, x3)`: the
    /// first output is `e·(w0, w2) + o·(w1, 0)`, the second `o·(w0, w2) + x2·w1` (`SMLATB`, the
    /// top half of `e` times the bottom of the odd weights): one `SXTB16` pair, four MACs.
    #[inline(always)]
    fn mac_row3_pair(self, acc: [i32; 2], x: [i8; 4], w: (u32, u32)) -> [i32; 2] {
        let [mut a, mut b] = acc;
        let x = word(&x);
        // SAFETY: register-only DSP instructions (SXTB16, SMLAD, SMLATB), no memory access.
        unsafe {
            asm!(
                "sxtb16 {e}, {x}",
                "sxtb16 {o}, {x}, ror #8",
                "smlad {a}, {e}, {we}, {a}",
                "smlad {a}, {o}, {wo}, {a}",
                "smlad {b}, {o}, {we}, {b}",
                "smlatb {b}, {e}, {wo}, {b}",
                x = in(reg) x,
                e = out(reg) _,
                o = out(reg) _,
                a = inout(reg) a,
                b = inout(reg) b,
                we = in(reg) w.0,
                wo = in(reg) w.1,
                options(pure, nomem, nostack),
            );
        }
        [a, b]
    }
}
