//! Pixel buffers for the UI: the canvas ink mask, 28×28 greyscale views and feature-map grids.
//!
//! Pure functions from numbers to `slint::SharedPixelBuffer`s; the `.slint` side scales them
//! (pixelated for the small network views).
#![forbid(unsafe_code)]

use slint::{Rgb8Pixel, Rgba8Pixel, SharedPixelBuffer};

use crate::model::FeatureMap;

/// The canvas ink as an alpha mask (white, alpha = ink); the UI colours it with the theme.
pub fn ink_mask(ink: &[u8], width: usize, height: usize) -> SharedPixelBuffer<Rgba8Pixel> {
    let mut buf = SharedPixelBuffer::<Rgba8Pixel>::new(width as u32, height as u32);
    for (dst, &a) in buf.make_mut_slice().iter_mut().zip(ink) {
        *dst = Rgba8Pixel {
            r: 255,
            g: 255,
            b: 255,
            a,
        };
    }
    buf
}

/// A greyscale image (0 = black, 255 = white), e.g. the 28×28 network input.
pub fn grey(pixels: &[u8], width: usize, height: usize) -> SharedPixelBuffer<Rgb8Pixel> {
    let mut buf = SharedPixelBuffer::<Rgb8Pixel>::new(width as u32, height as u32);
    for (dst, &v) in buf.make_mut_slice().iter_mut().zip(pixels) {
        *dst = Rgb8Pixel { r: v, g: v, b: v };
    }
    buf
}

/// Colour of the one-pixel gaps between feature-map tiles.
const GAP: Rgb8Pixel = Rgb8Pixel {
    r: 40,
    g: 44,
    b: 52,
};

/// Grid layout for `channels` tiles: (columns, rows), as square as possible.
pub fn grid(channels: usize) -> (usize, usize) {
    if channels == 0 {
        return (0, 0);
    }
    let mut cols = 1;
    while cols * cols < channels {
        cols += 1;
    }
    (cols, channels.div_ceil(cols))
}

/// All channels of a feature map tiled into one image (1-pixel gaps), normalised over the
/// whole layer (so brightness is comparable across channels) and coloured with a perceptual
/// "inferno"-like map: dark = weak, yellow = strong activation.
pub fn feature_grid(map: &FeatureMap) -> SharedPixelBuffer<Rgb8Pixel> {
    let (h, w, c) = (
        map.shape.h as usize,
        map.shape.w as usize,
        map.shape.c as usize,
    );
    let (cols, rows) = grid(c);
    let (img_w, img_h) = (cols * (w + 1) + 1, rows * (h + 1) + 1);
    let mut buf = SharedPixelBuffer::<Rgb8Pixel>::new(img_w as u32, img_h as u32);
    let out = buf.make_mut_slice();
    out.fill(GAP);
    if map.data.len() != h * w * c || c == 0 {
        return buf;
    }
    let lo = i32::from(*map.data.iter().min().unwrap_or(&0));
    let hi = i32::from(*map.data.iter().max().unwrap_or(&0));
    let range = (hi - lo).max(1) as f32;
    for ch in 0..c {
        let (tx, ty) = ((ch % cols) * (w + 1) + 1, (ch / cols) * (h + 1) + 1);
        for y in 0..h {
            for x in 0..w {
                let v = i32::from(map.data[(y * w + x) * c + ch]);
                let t = (v - lo) as f32 / range;
                out[(ty + y) * img_w + tx + x] = colormap(t);
            }
        }
    }
    buf
}

/// Maps 0..1 to a dark-purple → orange → pale-yellow ramp.
pub fn colormap(t: f32) -> Rgb8Pixel {
    const STOPS: [[f32; 3]; 6] = [
        [0.0, 0.0, 4.0],
        [66.0, 10.0, 104.0],
        [147.0, 38.0, 103.0],
        [221.0, 81.0, 58.0],
        [252.0, 165.0, 10.0],
        [252.0, 255.0, 164.0],
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let pos = t * (STOPS.len() - 1) as f32;
    let i = (pos.floor() as usize).min(STOPS.len() - 2);
    let f = pos - i as f32;
    let mix = |k: usize| (STOPS[i][k] + (STOPS[i + 1][k] - STOPS[i][k]) * f).round() as u8;
    Rgb8Pixel {
        r: mix(0),
        g: mix(1),
        b: mix(2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sumi_core::Shape;

    #[test]
    fn grid_is_nearly_square() {
        assert_eq!(grid(0), (0, 0));
        assert_eq!(grid(1), (1, 1));
        assert_eq!(grid(8), (3, 3));
        assert_eq!(grid(16), (4, 4));
        assert_eq!(grid(32), (6, 6));
    }

    #[test]
    fn feature_grid_places_channels_in_tiles() {
        // 2×2 spatial, 2 channels: channel 0 all low, channel 1 has one strong pixel.
        let mut data = vec![-128i8; 2 * 2 * 2];
        data[7] = 127; // (y=1, x=1, channel 1): ((1 * 2) + 1) * 2 + 1
        let map = FeatureMap {
            layer: 0,
            kind: "conv".into(),
            shape: Shape { h: 2, w: 2, c: 2 },
            data,
        };
        let img = feature_grid(&map);
        // grid(2) = 2 columns × 1 row; tiles 2×2 with 1-pixel gaps: 7 × 4 pixels.
        assert_eq!((img.width(), img.height()), (7, 4));
        let px = img.as_slice();
        let at = |x: usize, y: usize| px[y * 7 + x];
        assert_eq!(at(0, 0), GAP);
        assert_eq!(at(1, 1), colormap(0.0), "channel 0 is weak");
        assert_eq!(
            at(5, 2),
            colormap(1.0),
            "channel 1's strong pixel at tile (4,1)+(1,1)"
        );
        assert_eq!(at(4, 1), colormap(0.0));
    }

    #[test]
    fn ink_mask_carries_ink_in_alpha() {
        let img = ink_mask(&[0, 128, 255], 3, 1);
        let a: Vec<u8> = img.as_slice().iter().map(|p| p.a).collect();
        assert_eq!(a, [0, 128, 255]);
    }
}
