//! Turn a drawn greyscale canvas into an MNIST-style 28×28 input, the way MNIST itself was made:
//!
//! 1. **Polarity.** The mean of the border pixels tells the background: if it is light, the
//!    canvas is dark-on-light and is inverted, so ink is high.
//! 2. **Background and contrast.** The background level is subtracted and the ink stretched so
//!    the darkest stroke becomes 255 (photos of paper are not pure white).
//! 3. **Crop** to the bounding box of pixels above [`INK_THRESHOLD`].
//! 4. **Scale** to fit 20×20, keeping the aspect ratio, by exact area averaging (anti-aliased).
//! 5. **Centre of mass** of the 20×20 digit is placed at the centre of the 28×28 field.
//!
//! Integer arithmetic only: the same canvas gives the same bytes on every target. An empty or
//! near-empty canvas is [`PreprocessError::Empty`], never a guess.
//!
//! ```
//! use sumi_core::preprocess::{preprocess, PreprocessError};
//! // A 100×100 white canvas with a black vertical bar.
//! let mut canvas = [255u8; 100 * 100];
//! for y in 10..90 { for x in 45..55 { canvas[y * 100 + x] = 0; } }
//! let mut out = [0u8; 784];
//! let info = preprocess(&canvas, 100, 100, &mut out)?;
//! assert!(info.inverted);
//! assert_eq!(info.scaled, (3, 20)); // 10×80 fits 20 high, 2.5 → 3 wide
//! assert!(out[14 * 28 + 14] > 200); // ink is centred
//! assert_eq!(preprocess(&[255u8; 64], 8, 8, &mut out), Err(PreprocessError::Empty));
//! # Ok::<(), PreprocessError>(())
//! ```

/// Output side length.
pub const SIDE: usize = 28;
/// The box the digit is scaled to fit.
pub const FIT: usize = 20;
/// Ink level (after background removal and contrast stretch) that counts as ink for cropping.
pub const INK_THRESHOLD: u8 = 64;
/// Minimum ink after background removal, below which the canvas is considered blank.
pub const MIN_CONTRAST: u8 = 48;
/// A canvas is near-empty when fewer than `area / NEAR_EMPTY_DIVISOR` pixels (at least 1) are ink.
pub const NEAR_EMPTY_DIVISOR: usize = 4000;

/// Why a canvas could not be preprocessed.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PreprocessError {
    /// `width · height` is zero or does not match the buffer length.
    #[error("canvas of {width}×{height} does not match its {len} bytes")]
    BadDimensions {
        /// Stated width.
        width: usize,
        /// Stated height.
        height: usize,
        /// Buffer length.
        len: usize,
    },
    /// Nothing (or almost nothing) is drawn.
    #[error("the canvas is empty: draw a digit first")]
    Empty,
}

/// What preprocessing found, for display and debugging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreprocessInfo {
    /// Whether the canvas was dark-on-light and got inverted.
    pub inverted: bool,
    /// Background level that was subtracted (0–255, after inversion).
    pub background: u8,
    /// Ink bounding box in the canvas: x, y, width, height.
    pub bbox: (usize, usize, usize, usize),
    /// Size of the scaled digit (width, height), at most 20×20.
    pub scaled: (usize, usize),
    /// Where the scaled digit's top-left corner sits in the 28×28 output.
    pub offset: (usize, usize),
}

/// Convert an RGBA image (`4 · out.len()` bytes, row-major) to greyscale in `out`, compositing
/// the alpha channel first, so ink that lives only in the alpha channel (RGB all 0, alpha =
/// ink: a common export of drawing apps) is not lost. The background the image is composited
/// onto is chosen to contrast with the ink: white under dark ink, black under light ink (the
/// alpha-weighted mean luma of the pixels decides). A fully opaque image is plain luma; a fully
/// transparent one becomes blank (and [`preprocess`] then answers [`PreprocessError::Empty`]).
///
/// ```
/// use sumi_core::preprocess::grey_from_rgba;
/// // Black ink in the alpha channel only: opaque pixel, then transparent pixel.
/// let rgba = [0, 0, 0, 255, 0, 0, 0, 0];
/// let mut grey = [0u8; 2];
/// grey_from_rgba(&rgba, &mut grey)?;
/// assert_eq!(grey, [0, 255]); // black ink on white paper
/// # Ok::<(), sumi_core::PreprocessError>(())
/// ```
pub fn grey_from_rgba(rgba: &[u8], out: &mut [u8]) -> Result<(), PreprocessError> {
    if out.len().checked_mul(4) != Some(rgba.len()) {
        return Err(PreprocessError::BadDimensions {
            width: out.len(),
            height: 1,
            len: rgba.len(),
        });
    }
    let luma =
        |p: &[u8]| -> u64 { (77 * p[0] as u64 + 150 * p[1] as u64 + 29 * p[2] as u64 + 128) >> 8 };
    let (mut weighted, mut alpha_sum) = (0u64, 0u64);
    for p in rgba.chunks_exact(4) {
        weighted += luma(p) * p[3] as u64;
        alpha_sum += p[3] as u64;
    }
    // Dark ink (mean luma below half) goes onto white paper, light ink onto black.
    let paper: u64 = if alpha_sum == 0 || weighted * 2 < alpha_sum * 255 {
        255
    } else {
        0
    };
    for (o, p) in out.iter_mut().zip(rgba.chunks_exact(4)) {
        let a = p[3] as u64;
        *o = div_round(luma(p) * a + paper * (255 - a), 255) as u8;
    }
    Ok(())
}

/// Round-to-nearest integer division for non-negative values.
const fn div_round(n: u64, d: u64) -> u64 {
    (n + d / 2) / d
}

/// Preprocess a `width × height` greyscale `canvas` (row-major, either polarity) into `out`.
///
/// ```
/// use sumi_core::{PreprocessError, preprocess};
/// // A 60×40 canvas, black on white, with a dark dot: it ends up centred in the 28×28 field.
/// let mut canvas = [255u8; 60 * 40];
/// for y in 5..15 { for x in 40..50 { canvas[y * 60 + x] = 0; } }
/// let mut input = [0u8; 28 * 28];
/// let info = preprocess(&canvas, 60, 40, &mut input)?;
/// assert_eq!(info.bbox, (40, 5, 10, 10));
/// assert!(input[14 * 28 + 14] > 200);
/// let wrong = preprocess(&canvas, 60, 41, &mut input); // 60 × 41 is not 2400 bytes
/// assert!(matches!(wrong, Err(PreprocessError::BadDimensions { len: 2400, .. })));
/// # Ok::<(), PreprocessError>(())
/// ```
pub fn preprocess(
    canvas: &[u8],
    width: usize,
    height: usize,
    out: &mut [u8; SIDE * SIDE],
) -> Result<PreprocessInfo, PreprocessError> {
    let area = width.checked_mul(height).unwrap_or(0);
    if area == 0 || area != canvas.len() {
        return Err(PreprocessError::BadDimensions {
            width,
            height,
            len: canvas.len(),
        });
    }
    let (inverted, background) = polarity(canvas, width, height);
    let lut = contrast(canvas, inverted, background)?;
    let bbox = bounding_box(canvas, width, height, &lut)?;
    let (small, scaled) = scale_to_fit(canvas, width, bbox, &lut);
    let offset = centre_of_mass(&small, scaled, out)?;
    Ok(PreprocessInfo {
        inverted,
        background,
        bbox,
        scaled,
        offset,
    })
}

/// Step 1, polarity: the mean of the border pixels is the background; a light one means
/// dark-on-light ink, to be inverted. Returns (inverted, background level after inversion).
fn polarity(canvas: &[u8], width: usize, height: usize) -> (bool, u8) {
    let mut border_sum = 0u64;
    let mut border_n = 0u64;
    for x in 0..width {
        border_sum += canvas[x] as u64 + canvas[(height - 1) * width + x] as u64;
        border_n += 2;
    }
    for y in 0..height {
        border_sum += canvas[y * width] as u64 + canvas[y * width + width - 1] as u64;
        border_n += 2;
    }
    let border_mean = (border_sum / border_n) as u8;
    let inverted = border_mean > 127;
    let background = if inverted {
        255 - border_mean
    } else {
        border_mean
    };
    (inverted, background)
}

/// Step 2, background and contrast: the table that maps a canvas value to its ink level
/// (inverted if needed, background subtracted, stretched so the strongest ink is 255). Every
/// per-pixel mapping goes through a 256-entry table: one lookup per pixel and pass.
fn contrast(canvas: &[u8], inverted: bool, background: u8) -> Result<[u8; 256], PreprocessError> {
    let mut raw = [0u8; 256];
    for (v, r) in raw.iter_mut().enumerate() {
        let v = if inverted { 255 - v as u8 } else { v as u8 };
        *r = v.saturating_sub(background);
    }
    let max_ink = canvas.iter().map(|&v| raw[v as usize]).max().unwrap_or(0);
    if max_ink < MIN_CONTRAST {
        return Err(PreprocessError::Empty);
    }
    let mut lut = [0u8; 256];
    for (l, &r) in lut.iter_mut().zip(&raw) {
        *l = (r as u32 * 255 / max_ink as u32) as u8;
    }
    Ok(lut)
}

/// Step 3, crop: the bounding box (x, y, width, height) of the pixels whose ink reaches
/// [`INK_THRESHOLD`]; a canvas with too few of them is empty.
fn bounding_box(
    canvas: &[u8],
    width: usize,
    height: usize,
    lut: &[u8; 256],
) -> Result<(usize, usize, usize, usize), PreprocessError> {
    let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
    let mut count = 0usize;
    for y in 0..height {
        for x in 0..width {
            if lut[canvas[y * width + x] as usize] >= INK_THRESHOLD {
                count += 1;
                x0 = x0.min(x);
                y0 = y0.min(y);
                x1 = x1.max(x);
                y1 = y1.max(y);
            }
        }
    }
    if count == 0 || count < ((width * height) / NEAR_EMPTY_DIVISOR).max(1) {
        return Err(PreprocessError::Empty);
    }
    Ok((x0, y0, x1 - x0 + 1, y1 - y0 + 1))
}

/// Step 4, scale: the ink inside `bbox`, fitted into 20×20 keeping the aspect ratio by exact
/// area averaging; returns the digit (row stride [`FIT`]) and its size (width, height).
fn scale_to_fit(
    canvas: &[u8],
    width: usize,
    bbox: (usize, usize, usize, usize),
    lut: &[u8; 256],
) -> ([u8; FIT * FIT], (usize, usize)) {
    let (x0, y0, bw, bh) = bbox;
    let long = bw.max(bh) as u64;
    let tw = (div_round(bw as u64 * FIT as u64, long) as usize).clamp(1, FIT);
    let th = (div_round(bh as u64 * FIT as u64, long) as usize).clamp(1, FIT);
    // Exact area averaging. In x, a source pixel sx spans [sx·tw, (sx+1)·tw) and a target pixel
    // tx spans [tx·bw, (tx+1)·bw) (both scaled by bw·tw); likewise in y.
    let mut small = [0u8; FIT * FIT];
    let (bw64, bh64, tw64, th64) = (bw as u64, bh as u64, tw as u64, th as u64);
    for ty in 0..th {
        let (ty0, ty1) = (ty as u64 * bh64, (ty as u64 + 1) * bh64);
        let sy_first = (ty0 / th64) as usize;
        let sy_last = ((ty1 - 1) / th64) as usize;
        for tx in 0..tw {
            let (tx0, tx1) = (tx as u64 * bw64, (tx as u64 + 1) * bw64);
            let sx_first = (tx0 / tw64) as usize;
            let sx_last = ((tx1 - 1) / tw64) as usize;
            let mut acc = 0u64;
            for sy in sy_first..=sy_last.min(bh - 1) {
                let oy =
                    (ty1.min((sy as u64 + 1) * th64)).saturating_sub(ty0.max(sy as u64 * th64));
                let row = (y0 + sy) * width + x0;
                for sx in sx_first..=sx_last.min(bw - 1) {
                    let ox =
                        (tx1.min((sx as u64 + 1) * tw64)).saturating_sub(tx0.max(sx as u64 * tw64));
                    acc += lut[canvas[row + sx] as usize] as u64 * ox * oy;
                }
            }
            small[ty * FIT + tx] = div_round(acc, bw64 * bh64).min(255) as u8;
        }
    }
    (small, (tw, th))
}

/// Step 5, centre: writes the `tw × th` digit into `out` (zeroed) with its centre of mass at
/// the centre of the 28×28 field; returns where its top-left corner went.
fn centre_of_mass(
    small: &[u8; FIT * FIT],
    (tw, th): (usize, usize),
    out: &mut [u8; SIDE * SIDE],
) -> Result<(usize, usize), PreprocessError> {
    // offset = round(14 - com), com in pixel-centre units.
    let (mut mass, mut mx, mut my) = (0u64, 0u64, 0u64);
    for ty in 0..th {
        for tx in 0..tw {
            let v = small[ty * FIT + tx] as u64;
            mass += v;
            mx += (2 * tx as u64 + 1) * v;
            my += (2 * ty as u64 + 1) * v;
        }
    }
    if mass == 0 {
        return Err(PreprocessError::Empty);
    }
    let place = |m: u64, size: usize| -> usize {
        // offset = round((SIDE·mass − m) / (2·mass)), computed on signed values.
        let num = (SIDE as i64) * mass as i64 - m as i64;
        let den = 2 * mass as i64;
        let off = (2 * num + den).div_euclid(2 * den);
        off.clamp(0, (SIDE - size) as i64) as usize
    };
    let (ox, oy) = (place(mx, tw), place(my, th));
    out.fill(0);
    for ty in 0..th {
        let dst = (oy + ty) * SIDE + ox;
        out[dst..dst + tw].copy_from_slice(&small[ty * FIT..ty * FIT + tw]);
    }
    Ok((ox, oy))
}
