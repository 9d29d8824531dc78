//! PNG figures drawn with plotters' bitmap backend into an RGB buffer, encoded with `image`:
//! training curves, the confusion matrix and a grid of the worst mistakes.
//!
//! Text is drawn with an embedded font ([`FONT`]): plotters' `ab_glyph` backend has no system
//! font lookup, and figures must not lose their labels on a machine without fonts.

use std::path::Path;
use std::sync::OnceLock;

use anyhow::{Result, anyhow};
use plotters::prelude::*;
use sumi_core::preprocess::SIDE;

use crate::metrics::{Confusion, EpochMetrics};
use sumi_data::write_atomic;

/// The workspace's one embedded font: the desktop app's Noto Sans CJK JP subset (SIL OFL 1.1,
/// see `desktop/ui/fonts/`), which always contains printable ASCII. Plots draw ASCII text only,
/// so every figure has its labels on every machine, with no system font needed.
static FONT: &[u8] = include_bytes!("../../desktop/ui/fonts/NotoSansCJKjp-Sumi-Regular.otf");

/// Register [`FONT`] as plotters' "sans-serif" once.
fn register_font() -> Result<()> {
    static OK: OnceLock<bool> = OnceLock::new();
    let ok = *OK.get_or_init(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, FONT).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(anyhow!("the embedded plot font could not be parsed"))
    }
}

fn save_rgb(path: &Path, w: u32, h: u32, buf: Vec<u8>) -> Result<()> {
    let img = image::RgbImage::from_raw(w, h, buf).ok_or_else(|| anyhow!("bad image buffer"))?;
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)?;
    Ok(write_atomic(path, &out.into_inner())?)
}

fn err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("plotting failed: {e:?}")
}

/// `curves.png`: loss (left) and accuracy (right), train vs validation, per epoch.
pub fn curves(path: &Path, history: &[EpochMetrics]) -> Result<()> {
    let (w, h) = (1200u32, 480u32);
    let mut buf = vec![255u8; (w * h * 3) as usize];
    register_font()?;
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (left, right) = root.split_horizontally(w / 2);
        let n = history.len().max(1) as f64;
        let xs: Vec<f64> = history.iter().map(|m| m.epoch as f64).collect();
        type Get = fn(&EpochMetrics) -> f64;
        let panels: [(_, &str, Get, Get, bool); 2] = [
            (left, "loss", |m| m.train_loss, |m| m.val_loss, false),
            (
                right,
                "accuracy %",
                |m| 100.0 * m.train_acc,
                |m| 100.0 * m.val_acc,
                true,
            ),
        ];
        for (area, title, tr, va, is_acc) in panels {
            let tv: Vec<f64> = history.iter().map(tr).collect();
            let vv: Vec<f64> = history.iter().map(va).collect();
            let all = tv.iter().chain(&vv).copied();
            let (mut lo, mut hi) = all.fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
            if !lo.is_finite() || !hi.is_finite() || lo >= hi {
                lo = if is_acc { 90.0 } else { 0.0 };
                hi = if is_acc { 100.0 } else { 1.0 };
            }
            let pad = (hi - lo) * 0.05;
            let mut b = ChartBuilder::on(&area);
            b.margin(15);
            b.caption(title, ("sans-serif", 20))
                .x_label_area_size(40)
                .y_label_area_size(60);
            let mut chart = b
                .build_cartesian_2d(0.5f64..n + 0.5, (lo - pad)..(hi + pad))
                .map_err(err)?;
            chart
                .configure_mesh()
                .x_desc("epoch")
                .x_label_formatter(&|x| format!("{x:.0}"))
                .label_style(("sans-serif", 15))
                .axis_desc_style(("sans-serif", 16))
                .draw()
                .map_err(err)?;
            for (vals, color, label) in [(&tv, BLUE, "train"), (&vv, RED, "validation")] {
                let s = chart
                    .draw_series(LineSeries::new(
                        xs.iter().copied().zip(vals.iter().copied()),
                        color.stroke_width(2),
                    ))
                    .map_err(err)?;
                s.label(label).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .label_font(("sans-serif", 15))
                .position(if is_acc {
                    SeriesLabelPosition::LowerRight
                } else {
                    SeriesLabelPosition::UpperRight
                })
                .draw()
                .map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    save_rgb(path, w, h, buf)
}

/// `confusion.png`: the confusion matrix, cells shaded by count (log scale), counts written in.
pub fn confusion(path: &Path, c: &Confusion) -> Result<()> {
    let cell = 56u32;
    let margin = 60u32;
    let (w, h) = (margin + 10 * cell + 20, margin + 10 * cell + 20);
    let mut buf = vec![255u8; (w * h * 3) as usize];
    register_font()?;
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let max = c.m.iter().flatten().copied().max().unwrap_or(1).max(1) as f64;
        for t in 0..10u32 {
            for p in 0..10u32 {
                let v = c.m[t as usize][p as usize];
                let f = if v == 0 {
                    0.0
                } else {
                    (1.0 + v as f64).ln() / (1.0 + max).ln()
                };
                let (r, g, b) = if t == p {
                    (255.0 - 200.0 * f, 255.0 - 120.0 * f, 255.0 - 200.0 * f)
                } else {
                    (255.0, 255.0 - 220.0 * f, 255.0 - 220.0 * f)
                };
                let x0 = (margin + p * cell) as i32;
                let y0 = (margin + t * cell) as i32;
                let color = RGBColor(r as u8, g as u8, b as u8);
                root.draw(&Rectangle::new(
                    [(x0, y0), (x0 + cell as i32, y0 + cell as i32)],
                    color.filled(),
                ))
                .map_err(err)?;
                root.draw(&Rectangle::new(
                    [(x0, y0), (x0 + cell as i32, y0 + cell as i32)],
                    RGBColor(200, 200, 200),
                ))
                .map_err(err)?;
                if v > 0 {
                    root.draw(&Text::new(
                        v.to_string(),
                        (x0 + 6, y0 + cell as i32 / 2 - 8),
                        ("sans-serif", 16).into_font().color(&BLACK),
                    ))
                    .map_err(err)?;
                }
            }
            let s = ("sans-serif", 18).into_font().color(&BLACK);
            root.draw(&Text::new(
                t.to_string(),
                (
                    (margin + t * cell + cell / 2 - 5) as i32,
                    (margin - 24) as i32,
                ),
                s.clone(),
            ))
            .map_err(err)?;
            root.draw(&Text::new(
                t.to_string(),
                (
                    (margin - 24) as i32,
                    (margin + t * cell + cell / 2 - 9) as i32,
                ),
                s,
            ))
            .map_err(err)?;
        }
        root.draw(&Text::new(
            "rows: true digit, columns: predicted",
            (margin as i32, 8),
            ("sans-serif", 16).into_font().color(&BLACK),
        ))
        .map_err(err)?;
        root.present().map_err(err)?;
    }
    save_rgb(path, w, h, buf)
}

/// One tile of the mistakes grid.
pub struct Mistake<'a> {
    pub pixels: &'a [u8],
    pub truth: u8,
    pub pred: u8,
    pub confidence: f32,
}

/// `mistakes.png`: a grid of 28x28 images (scaled 3x), each captioned "true->pred conf%".
pub fn mistakes(path: &Path, items: &[Mistake<'_>]) -> Result<()> {
    let cols = 8u32;
    let rows = (items.len() as u32).div_ceil(cols).max(1);
    let side = SIDE as u32;
    let (tw, th) = (side * 3 + 16, side * 3 + 30);
    let (w, h) = (cols * tw, rows * th);
    let mut buf = vec![255u8; (w * h * 3) as usize];
    register_font()?;
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        for (i, m) in items.iter().enumerate() {
            let (cx, cy) = ((i as u32 % cols) * tw + 8, (i as u32 / cols) * th + 4);
            for y in 0..side {
                for x in 0..side {
                    let v = 255 - m.pixels[(y * side + x) as usize];
                    let color = RGBColor(v, v, v);
                    root.draw(&Rectangle::new(
                        [
                            ((cx + 3 * x) as i32, (cy + 3 * y) as i32),
                            ((cx + 3 * x + 3) as i32, (cy + 3 * y + 3) as i32),
                        ],
                        color.filled(),
                    ))
                    .map_err(err)?;
                }
            }
            root.draw(&Text::new(
                format!("{}->{} {:.0}%", m.truth, m.pred, 100.0 * m.confidence),
                (cx as i32, (cy + side * 3 + 4) as i32),
                ("sans-serif", 15).into_font().color(&RED),
            ))
            .map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    save_rgb(path, w, h, buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ink pixels (not white) in a 200x40 figure with `s` drawn by the embedded font.
    fn ink(s: &str) -> usize {
        register_font().unwrap();
        let (w, h) = (200u32, 40u32);
        let mut buf = vec![255u8; (w * h * 3) as usize];
        {
            let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
            root.draw(&Text::new(s, (4, 8), ("sans-serif", 20).into_font()))
                .unwrap();
            root.present().unwrap();
        }
        buf.chunks(3).filter(|p| p != &[255, 255, 255]).count()
    }

    #[test]
    fn embedded_font_draws_text_without_system_fonts() {
        assert_eq!(ink(""), 0);
        let digits = ink("0123456789");
        assert!(digits > 150, "only {digits} ink pixels for ten digits");
        assert!(ink("validation accuracy %") > digits);
    }
}
