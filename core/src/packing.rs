//! Sub-byte weights: how regular convolutions and fully connected layers store 8-, 4- and 2-bit
//! weights (format version 6, `core/FORMAT.md`, "Weight precision"), and their unpacking to
//! int8 for the kernels.
//!
//! Each output row of `n` weights takes `⌈n · bits / 8⌉` bytes and starts on a byte boundary.
//! Weight `i` of a row sits at bit `i · bits` of it, least significant bits first:
//!
//! | bits | code → weight | weights |
//! |---|---|---|
//! | 8 | the byte as `i8` | −128 … 127 |
//! | 4 | the nibble as two's complement | −8 … 7 |
//! | 2 | `2c − 3` | −3, −1, 1, 3 |
//!
//! The kernels unpack into int8 on the stack (fully connected rows 32 weights at a time, a
//! convolution tile's two rows per tile) and run the same micro-kernels as for int8 weights,
//! so the integer result is exact and identical on every ISA path.

/// The weight precisions a regular convolution or fully connected layer may declare.
pub const BITS: [u8; 3] = [8, 4, 2];

/// Bytes of one packed row of `n` weights of `bits` bits.
pub const fn row_bytes(n: usize, bits: u8) -> usize {
    (n * bits as usize).div_ceil(8)
}

/// Weights `start .. start + out.len()` of a packed row, unpacked into `out`. `bits` is one of
/// [`BITS`] and the row long enough (checked when the model loads). From a byte boundary (the
/// kernels always start there) whole bytes are unpacked at once.
#[inline]
pub fn unpack(bits: u8, row: &[u8], start: usize, out: &mut [i8]) {
    match bits {
        4 if start.is_multiple_of(2) => unpack_bytes(row, start, out, unpack4),
        2 if start.is_multiple_of(4) => unpack_bytes(row, start, out, unpack2),
        4 | 2 => unpack_each(bits, row, start, out),
        _ => {
            for (b, w) in row[start..start + out.len()].iter().zip(out.iter_mut()) {
                *w = *b as i8;
            }
        }
    }
}

/// [`unpack`] from the byte holding weight `start` on: `N` weights per byte by `f`, then the
/// last, partial byte weight by weight.
#[inline(always)]
fn unpack_bytes<const N: usize>(row: &[u8], start: usize, out: &mut [i8], f: fn(u8) -> [i8; N]) {
    let len = out.len();
    let mut whole = out.chunks_exact_mut(N);
    for (w, &b) in (&mut whole).zip(&row[start / N..]) {
        w.copy_from_slice(&f(b));
    }
    let rest = whole.into_remainder();
    let done = len - rest.len();
    unpack_each((8 / N) as u8, row, start + done, rest);
}

/// The two 4-bit weights of byte `b`, low nibble first: each nibble moved to the top, then an
/// arithmetic shift (sign extension).
#[inline(always)]
fn unpack4(b: u8) -> [i8; 2] {
    [((b << 4) as i8) >> 4, (b as i8) >> 4]
}

/// The four 2-bit weights of byte `b`, lowest bits first, computed in one 32-bit word: code `c`
/// becomes `2c − 3`, whose byte is `0b1` | `(c & 1) << 1` | `0xfc` if `c < 2` (no carries
/// between the bytes).
#[inline(always)]
fn unpack2(b: u8) -> [i8; 4] {
    const ONES: u32 = 0x0101_0101;
    let b = u32::from(b);
    // One code per byte.
    let c = (b & 3) | ((b & 0xc) << 6) | ((b & 0x30) << 12) | ((b & 0xc0) << 18);
    let v = ONES | ((c & ONES) << 1) | ((((c >> 1) & ONES) ^ ONES) * 0xfc);
    v.to_le_bytes().map(|x| x as i8)
}

/// [`unpack`] one weight at a time (any `start`).
fn unpack_each(bits: u8, row: &[u8], start: usize, out: &mut [i8]) {
    for (i, w) in (start..).zip(out.iter_mut()) {
        *w = if bits == 4 {
            unpack4(row[i / 2])[i % 2]
        } else {
            unpack2(row[i / 4])[i % 4]
        };
    }
}

/// The code of weight `w` at `bits` bits, or `None` if `w` has none (see the module table).
#[cfg(feature = "alloc")]
pub const fn code(bits: u8, w: i8) -> Option<u8> {
    match bits {
        8 => Some(w as u8),
        4 if w >= -8 && w <= 7 => Some(w as u8 & 0xf),
        2 if w >= -3 && w <= 3 && w % 2 != 0 => Some(((w + 3) / 2) as u8),
        _ => None,
    }
}

/// One row of weights packed at `bits` bits, appended to `out`; `Err(w)` for the first weight
/// that has no code.
#[cfg(feature = "alloc")]
pub fn pack_row(bits: u8, row: &[i8], out: &mut alloc::vec::Vec<u8>) -> Result<(), i8> {
    let per_byte = 8 / bits as usize;
    for chunk in row.chunks(per_byte) {
        let mut byte = 0u8;
        for (j, &w) in chunk.iter().enumerate() {
            byte |= code(bits, w).ok_or(w)? << (j * bits as usize);
        }
        out.push(byte);
    }
    Ok(())
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    /// The word-at-a-time unpacking of every byte against the definition of the codes.
    #[test]
    fn every_byte_unpacks_to_its_codes() {
        for b in 0..=255u8 {
            for j in 0..4 {
                let c = (b >> (2 * j)) & 3;
                assert_eq!(unpack2(b)[j], 2 * c as i8 - 3, "byte {b:#04x}, weight {j}");
            }
            for j in 0..2 {
                let nibble = (b >> (4 * j)) & 0xf;
                let w = if nibble < 8 {
                    nibble as i8
                } else {
                    nibble as i8 - 16
                };
                assert_eq!(unpack4(b)[j], w, "byte {b:#04x}, weight {j}");
            }
        }
    }

    #[test]
    fn every_representable_weight_round_trips_at_every_offset() {
        for bits in BITS {
            let levels: Vec<i8> = (i8::MIN..=i8::MAX)
                .filter(|&w| code(bits, w).is_some())
                .collect();
            let expected = match bits {
                8 => 256,
                4 => 16,
                _ => 4,
            };
            assert_eq!(levels.len(), expected, "{bits} bits");
            // Rows of odd lengths, so that rows end inside a byte.
            for n in [1usize, 3, 7, 37, 130] {
                let row: Vec<i8> = (0..n).map(|i| levels[(i * 7 + n) % levels.len()]).collect();
                let mut packed = Vec::new();
                pack_row(bits, &row, &mut packed).unwrap();
                assert_eq!(packed.len(), row_bytes(n, bits));
                for start in 0..n {
                    let mut out = [0i8; 130];
                    let out = &mut out[..n - start];
                    unpack(bits, &packed, start, out);
                    assert_eq!(out, &row[start..], "{bits} bits, n {n}, start {start}");
                }
            }
        }
        // The byte layout FORMAT.md specifies: least significant bits first, 4 bits as two's
        // complement nibbles, 2 bits as the code (w + 3) / 2; a row ends on a byte boundary.
        let mut v = Vec::new();
        pack_row(4, &[1, -1, -8], &mut v).unwrap();
        assert_eq!(v, [0xf1, 0x08]);
        v.clear();
        pack_row(2, &[-3, -1, 1, 3, 1], &mut v).unwrap();
        assert_eq!(v, [0b1110_0100, 0b10]);
        v.clear();
        pack_row(8, &[-128, 127], &mut v).unwrap();
        assert_eq!(v, [0x80, 0x7f]);
        assert_eq!(pack_row(4, &[3, 8], &mut v), Err(8));
        assert_eq!(pack_row(2, &[1, 0], &mut v), Err(0));
        assert_eq!(pack_row(2, &[-3, 4], &mut v), Err(4));
    }
}
