//! Fixed-point requantization, the only arithmetic that maps an int32 accumulator back to int8.
//!
//! A real multiplier `M = s_in · s_w / s_out` (always positive) is stored as a Q31 `multiplier`
//! in `[2^30, 2^31)` and a power-of-two `shift` (positive = left), exactly as gemmlowp and
//! TensorFlow Lite do: `requantize(acc) = RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(
//! acc · 2^max(shift,0), multiplier), max(-shift,0))`. It uses integers only, so every target
//! (x86, Cortex-M4F, Cortex-M0+) gives bit-identical results.
//!
//! ```
//! use sumi_core::{quantize_multiplier, requantize};
//! let rq = quantize_multiplier(0.25);
//! assert_eq!(requantize(1000, rq), 250);
//! assert_eq!(requantize(-6, rq), -2); // -1.5 rounds half away from zero
//! ```

/// A real multiplier in fixed point: `multiplier · 2^(shift - 31)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Requant {
    /// Q31 mantissa, `0` or in `[2^30, 2^31)`.
    pub multiplier: i32,
    /// Power-of-two exponent, positive means shift left. Valid range `-31..=30`.
    pub shift: i8,
}

impl Requant {
    /// Whether the pair is within the ranges [`requantize`] is defined for.
    ///
    /// ```
    /// use sumi_core::{Requant, quantize_multiplier};
    /// assert!(quantize_multiplier(0.003).is_valid());
    /// assert!(!Requant { multiplier: -1, shift: 0 }.is_valid());
    /// assert!(!Requant { multiplier: 1 << 30, shift: 31 }.is_valid());
    /// ```
    pub const fn is_valid(self) -> bool {
        self.multiplier >= 0 && self.shift >= -31 && self.shift <= 30
    }
}

/// gemmlowp's `SaturatingRoundingDoublingHighMul`: `round(a · b / 2^31)`, saturating.
#[inline(always)]
pub fn saturating_rounding_doubling_high_mul(a: i32, b: i32) -> i32 {
    if a == i32::MIN && b == i32::MIN {
        return i32::MAX;
    }
    let ab = a as i64 * b as i64;
    let nudge: i64 = if ab >= 0 { 1 << 30 } else { 1 - (1 << 30) };
    // Division truncates toward zero, as in gemmlowp.
    ((ab + nudge) / (1i64 << 31)) as i32
}

/// gemmlowp's `RoundingDivideByPOT`: `x / 2^exponent`, rounding half away from zero.
#[inline(always)]
pub fn rounding_divide_by_pot(x: i32, exponent: u32) -> i32 {
    // Branch-free: exponent 0 gives mask 0, so nothing is added.
    let exponent = exponent.min(31);
    let mask = ((1u32 << exponent) - 1) as i32;
    let threshold = (mask >> 1) + (x < 0) as i32;
    (x >> exponent) + ((x & mask) > threshold) as i32
}

/// Multiply an accumulator by a quantized multiplier (TFLite `MultiplyByQuantizedMultiplier`).
/// The left shift saturates instead of overflowing.
///
/// Computed without branches on the sign: with a non-negative multiplier (all valid ones),
/// gemmlowp's `SaturatingRoundingDoublingHighMul` — add `2^30` or `1 - 2^30` by sign, then
/// divide by `2^31` truncating toward zero — equals `floor((acc·m + 2^30) / 2^31)` and never
/// saturates, and `RoundingDivideByPOT` needs only a mask and a compare. This is what the
/// vector kernels do too; `tests::matches_exact_reference_on_random_inputs` pins it.
///
/// ```
/// use sumi_core::{Requant, requantize};
/// let half = Requant { multiplier: 1 << 30, shift: 0 }; // 2^30 · 2^-31 = 0.5
/// assert_eq!(requantize(100, half), 50);
/// assert_eq!(requantize(3, half), 2); // 1.5 rounds half away from zero
/// let three = Requant { multiplier: 3 << 29, shift: 2 }; // 0.75 · 4 = 3
/// assert_eq!(requantize(-7, three), -21);
/// ```
#[inline(always)]
pub fn requantize(acc: i32, rq: Requant) -> i32 {
    if rq.multiplier < 0 {
        // Only reachable with an invalid (negative) multiplier: keep gemmlowp's exact form.
        let high = saturating_rounding_doubling_high_mul(shift_left(acc, rq), rq.multiplier);
        return rounding_divide_by_pot(high, right_shift(rq));
    }
    requantize_valid(acc, rq)
}

/// [`requantize`] of a non-negative multiplier, which every valid pair has
/// ([`Requant::is_valid`], checked by the planner for every channel of a model): what the
/// kernels call, without the branch for the invalid case.
#[inline(always)]
pub(crate) fn requantize_valid(acc: i32, rq: Requant) -> i32 {
    debug_assert!(rq.multiplier >= 0);
    let high = ((shift_left(acc, rq) as i64 * rq.multiplier as i64 + (1 << 30)) >> 31) as i32;
    rounding_divide_by_pot(high, right_shift(rq))
}

/// The accumulator shifted left by a positive `shift`, saturating.
#[inline(always)]
fn shift_left(acc: i32, rq: Requant) -> i32 {
    if rq.shift > 0 {
        let wide = (acc as i64) << (rq.shift as u32).min(31);
        wide.clamp(i32::MIN as i64, i32::MAX as i64) as i32
    } else {
        acc
    }
}

/// The right shift of a negative `shift`, at most 31.
#[inline(always)]
fn right_shift(rq: Requant) -> u32 {
    (-(rq.shift as i32)).clamp(0, 31) as u32
}

/// Requantization parameters of two output channels for a tile of 4 output pixels × 2 channels
/// (accumulator lanes 0–3: the first channel, 4–7: the second). Only right shifts: a channel
/// with a left shift (a real multiplier above 1, rare) takes the scalar path.
#[derive(Clone, Copy, Debug)]
pub struct Requant4x2 {
    /// Per-channel int32 bias.
    pub bias: [i32; 2],
    /// Per-channel Q31 multiplier, `0` or in `[2^30, 2^31)`.
    pub multiplier: [i32; 2],
    /// Per-channel right shift (`-shift`), `0..=31`.
    pub right_shift: [i32; 2],
    /// Lower clamp before the zero point is added: (`zp` with ReLU, else `-128`) `- zp`.
    pub lo: i32,
    /// Upper clamp before the zero point is added: `127 - zp`.
    pub hi: i32,
    /// Output zero point.
    pub zero_point: i32,
}

impl Requant4x2 {
    /// The reference: `clamp(requantize(acc + bias) + zp, lo + zp, 127)` lane by lane, exactly
    /// what the scalar kernels compute. Vector implementations must equal it bit for bit.
    #[inline(always)]
    pub fn apply(&self, acc: [i32; 8]) -> [i32; 8] {
        let mut out = [0i32; 8];
        for (c, (lanes, acc)) in out.chunks_exact_mut(4).zip(acc.chunks_exact(4)).enumerate() {
            let rq = Requant {
                multiplier: self.multiplier[c],
                shift: -(self.right_shift[c].clamp(0, 31) as i8),
            };
            for (o, &a) in lanes.iter_mut().zip(acc) {
                *o = requantize_valid(a + self.bias[c], rq).clamp(self.lo, self.hi)
                    + self.zero_point;
            }
        }
        out
    }
}

/// Turn a real, non-negative multiplier into its fixed-point form (used at export time only;
/// inference never touches floating point). Values too small to represent become zero; values
/// too large saturate.
///
/// ```
/// use sumi_core::{Requant, quantize_multiplier};
/// // 0.5 = 2^30 · 2^(0 − 31); 3 = 0.75 · 2^2.
/// assert_eq!(quantize_multiplier(0.5), Requant { multiplier: 1 << 30, shift: 0 });
/// assert_eq!(quantize_multiplier(3.0), Requant { multiplier: 3 << 29, shift: 2 });
/// assert_eq!(quantize_multiplier(0.0), Requant { multiplier: 0, shift: 0 });
/// assert!(quantize_multiplier(1e-3).is_valid());
/// ```
pub fn quantize_multiplier(real: f64) -> Requant {
    // Not a number, zero, negative or subnormal: the multiplier is zero.
    if real.is_nan() || real < f64::MIN_POSITIVE {
        return Requant {
            multiplier: 0,
            shift: 0,
        };
    }
    if real >= (1u64 << 31) as f64 {
        return Requant {
            multiplier: i32::MAX,
            shift: 30,
        };
    }
    // frexp: real = fraction · 2^exp with fraction in [0.5, 1).
    let bits = real.to_bits();
    let biased = ((bits >> 52) & 0x7FF) as i32;
    let exp = biased - 1022;
    let fraction = f64::from_bits((bits & !(0x7FFu64 << 52)) | (1022u64 << 52));
    let mut q = (fraction * (1u64 << 31) as f64 + 0.5) as i64;
    let mut shift = exp;
    if q == 1i64 << 31 {
        q /= 2;
        shift += 1;
    }
    if shift < -31 {
        return Requant {
            multiplier: 0,
            shift: 0,
        };
    }
    if shift > 30 {
        return Requant {
            multiplier: i32::MAX,
            shift: 30,
        };
    }
    Requant {
        multiplier: q as i32,
        shift: shift as i8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Exact reference: round(acc · multiplier · 2^(shift-31)) with the two roundings gemmlowp
    /// performs, computed with i128 arithmetic.
    fn reference(acc: i32, rq: Requant) -> i32 {
        let left = rq.shift.max(0) as u32;
        let right = (-(rq.shift as i32)).max(0) as u32;
        let x = ((acc as i128) << left).clamp(i32::MIN as i128, i32::MAX as i128);
        let prod = x * rq.multiplier as i128;
        // gemmlowp rounds the high multiply half toward +infinity: floor((prod + 2^30) / 2^31).
        let high = (prod + (1i128 << 30)).div_euclid(1i128 << 31);
        let high = high.clamp(i32::MIN as i128, i32::MAX as i128);
        if right == 0 {
            return high as i32;
        }
        let d = 1i128 << right;
        let r = if high >= 0 {
            (high + d / 2) / d
        } else {
            -((-high + d / 2) / d)
        };
        r as i32
    }

    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 11
        }
    }

    #[test]
    fn matches_exact_reference_on_random_inputs() {
        let mut rng = Lcg(7);
        for _ in 0..200_000 {
            let acc = (rng.next() as i64 - (1i64 << 52)) as i32 >> (rng.next() % 20);
            let rq = Requant {
                multiplier: match rng.next() % 50 {
                    0 => 0,
                    1 => i32::MAX,
                    _ => (1 << 30) + (rng.next() % (1 << 30)) as i32,
                },
                // Every valid shift, right shifts of trained layers most often.
                shift: match rng.next() % 3 {
                    0 => (rng.next() % 62) as i8 - 31,
                    _ => -((rng.next() % 20) as i8),
                },
            };
            assert_eq!(
                requantize(acc, rq),
                reference(acc, rq),
                "acc {acc} rq {rq:?}"
            );
        }
    }

    #[test]
    fn quantize_multiplier_round_trips() {
        for &m in &[
            1e-6,
            0.000_123_4,
            0.003_921_568_6,
            0.25,
            0.5,
            0.999_999,
            1.0,
            1.5,
            3.0,
            1000.0,
        ] {
            let rq = quantize_multiplier(m);
            assert!(rq.is_valid());
            assert!(rq.multiplier >= 1 << 30, "{m}: {rq:?}");
            let back = rq.multiplier as f64 * 2f64.powi(rq.shift as i32 - 31);
            assert!(((back - m) / m).abs() < 1e-9, "{m} -> {back}");
            // requantize approximates round(acc * m)
            for acc in [-100_000, -777, -1, 0, 1, 999, 123_456] {
                let exact = acc as f64 * m;
                let got = requantize(acc, rq) as f64;
                assert!(
                    (got - exact).abs() <= 0.5 + 1e-6 * exact.abs() + 1.0,
                    "{acc}*{m}"
                );
            }
        }
    }

    #[test]
    fn edge_cases() {
        assert_eq!(
            quantize_multiplier(0.0),
            Requant {
                multiplier: 0,
                shift: 0
            }
        );
        assert_eq!(quantize_multiplier(-1.0).multiplier, 0);
        assert_eq!(quantize_multiplier(f64::NAN).multiplier, 0);
        assert_eq!(quantize_multiplier(1e-30).multiplier, 0);
        assert_eq!(
            saturating_rounding_doubling_high_mul(i32::MIN, i32::MIN),
            i32::MAX
        );
        let one = quantize_multiplier(1.0);
        assert_eq!(requantize(1 << 29, one), 1 << 29);
        assert_eq!(requantize(-(1 << 29), one), -(1 << 29));
        // The left shift saturates before the multiply (TFLite leaves this overflow undefined).
        assert_eq!(requantize(i32::MAX, one), 1 << 30);
        assert_eq!(rounding_divide_by_pot(5, 1), 3);
        assert_eq!(rounding_divide_by_pot(-5, 1), -3);
        assert_eq!(rounding_divide_by_pot(-4, 1), -2);
        // saturating left shift
        let big = Requant {
            multiplier: 1 << 30,
            shift: 30,
        };
        assert_eq!(requantize(1 << 20, big), i32::MAX / 2 + 1);
    }
}
