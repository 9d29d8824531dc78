//! The drawing surface: strokes rasterised into a greyscale ink buffer.
//!
//! Points arrive in canvas pixel coordinates. Every stroke segment is drawn as an anti-aliased
//! capsule (a round brush swept along the segment), so fast pointer movement never leaves gaps
//! and the edges stay smooth. The buffer uses the MNIST convention: 0 = paper, 255 = ink, which
//! is what `sumi_core::preprocess::preprocess` expects. Strokes are kept as point lists so the
//! last one can be undone by redrawing the others.
#![forbid(unsafe_code)]

/// A point in canvas pixel coordinates (x right, y down).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Horizontal position in pixels.
    pub x: f32,
    /// Vertical position in pixels.
    pub y: f32,
}

/// Greyscale drawing canvas with a round brush, stroke interpolation and undo.
#[derive(Debug, Clone)]
pub struct Canvas {
    width: usize,
    height: usize,
    radius: f32,
    ink: Vec<u8>,
    strokes: Vec<Vec<Point>>,
    drawing: bool,
}

impl Canvas {
    /// A blank `width` × `height` canvas whose brush has the given radius in pixels.
    pub fn new(width: usize, height: usize, brush_radius: f32) -> Self {
        Self {
            width,
            height,
            radius: brush_radius.max(0.5),
            ink: vec![0; width * height],
            strokes: Vec::new(),
            drawing: false,
        }
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// Brush radius in pixels.
    pub fn brush_radius(&self) -> f32 {
        self.radius
    }

    /// The ink buffer, row-major, 0 = paper, 255 = ink.
    pub fn pixels(&self) -> &[u8] {
        &self.ink
    }

    /// True when nothing has been drawn (or everything was cleared/undone).
    pub fn is_empty(&self) -> bool {
        self.strokes.is_empty()
    }

    /// Number of strokes (a stroke is one press-move-release gesture).
    pub fn stroke_count(&self) -> usize {
        self.strokes.len()
    }

    /// True between [`Canvas::begin_stroke`] and [`Canvas::end_stroke`].
    pub fn is_drawing(&self) -> bool {
        self.drawing
    }

    /// Starts a new stroke at `p` (draws a dot there).
    pub fn begin_stroke(&mut self, p: Point) {
        let p = self.clamp(p);
        self.strokes.push(vec![p]);
        self.drawing = true;
        self.stamp_segment(p, p);
    }

    /// Extends the current stroke to `p`, filling the whole segment from the previous point.
    /// Returns false (and draws nothing) when no stroke is in progress or `p` is within a
    /// quarter pixel of the previous point.
    pub fn extend_stroke(&mut self, p: Point) -> bool {
        if !self.drawing {
            return false;
        }
        let p = self.clamp(p);
        let Some(stroke) = self.strokes.last_mut() else {
            return false;
        };
        let Some(&last) = stroke.last() else {
            return false;
        };
        if (last.x - p.x).abs() < 0.25 && (last.y - p.y).abs() < 0.25 {
            return false;
        }
        stroke.push(p);
        self.stamp_segment(last, p);
        true
    }

    /// Finishes the current stroke.
    pub fn end_stroke(&mut self) {
        self.drawing = false;
    }

    /// Draws one whole stroke through `points` given as fractions (0..1) of the canvas size:
    /// the benchmark's and the browser timing's drawn digit.
    pub fn stroke_through(&mut self, points: &[(f32, f32)]) {
        let (w, h) = (self.width as f32, self.height as f32);
        let mut points = points.iter().map(|&(x, y)| Point { x: x * w, y: y * h });
        if let Some(first) = points.next() {
            self.begin_stroke(first);
            for p in points {
                self.extend_stroke(p);
            }
            self.end_stroke();
        }
    }

    /// Removes the last stroke. Returns false when there was nothing to undo.
    pub fn undo(&mut self) -> bool {
        if self.strokes.pop().is_none() {
            return false;
        }
        self.drawing = false;
        self.redraw();
        true
    }

    /// Erases everything.
    pub fn clear(&mut self) {
        self.strokes.clear();
        self.drawing = false;
        self.ink.fill(0);
    }

    fn redraw(&mut self) {
        self.ink.fill(0);
        let strokes = std::mem::take(&mut self.strokes);
        for stroke in &strokes {
            let mut prev = stroke[0];
            self.stamp_segment(prev, prev);
            for &p in &stroke[1..] {
                self.stamp_segment(prev, p);
                prev = p;
            }
        }
        self.strokes = strokes;
    }

    fn clamp(&self, p: Point) -> Point {
        let fix = |v: f32, max: usize| {
            if v.is_finite() {
                v.clamp(0.0, max as f32)
            } else {
                0.0
            }
        };
        Point {
            x: fix(p.x, self.width),
            y: fix(p.y, self.height),
        }
    }

    /// Sweeps the round brush from `a` to `b`: every pixel's coverage is its distance to the
    /// segment, with a one-pixel anti-aliased rim; ink only ever increases (max blend).
    fn stamp_segment(&mut self, a: Point, b: Point) {
        let r = self.radius;
        let reach = r + 1.0;
        let x0 = ((a.x.min(b.x) - reach).floor().max(0.0)) as usize;
        let y0 = ((a.y.min(b.y) - reach).floor().max(0.0)) as usize;
        let x1 = ((a.x.max(b.x) + reach).ceil() as usize).min(self.width);
        let y1 = ((a.y.max(b.y) + reach).ceil() as usize).min(self.height);
        let (dx, dy) = (b.x - a.x, b.y - a.y);
        let len2 = dx * dx + dy * dy;
        for y in y0..y1 {
            let py = y as f32 + 0.5;
            let row = &mut self.ink[y * self.width..(y + 1) * self.width];
            for (x, px_ink) in row.iter_mut().enumerate().take(x1).skip(x0) {
                let px = x as f32 + 0.5;
                let t = if len2 > 0.0 {
                    (((px - a.x) * dx + (py - a.y) * dy) / len2).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                let (cx, cy) = (a.x + t * dx - px, a.y + t * dy - py);
                let d = (cx * cx + cy * cy).sqrt();
                let coverage = (r + 0.5 - d).clamp(0.0, 1.0);
                let v = (coverage * 255.0).round() as u8;
                if v > *px_ink {
                    *px_ink = v;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(x: f32, y: f32) -> Point {
        Point { x, y }
    }

    #[test]
    fn stroke_through_draws_one_whole_stroke_in_canvas_fractions() {
        let mut c = Canvas::new(100, 50, 2.0);
        c.stroke_through(&[]);
        assert!(c.is_empty());
        c.stroke_through(&[(0.1, 0.5), (0.9, 0.5)]);
        assert_eq!(c.stroke_count(), 1);
        assert!(!c.is_drawing());
        // Ink along the middle row from x = 10 to 90, none at the ends or off the row.
        let at = |x: usize, y: usize| c.pixels()[y * 100 + x];
        assert!((12..=88).all(|x| at(x, 25) > 0));
        assert_eq!((at(2, 25), at(97, 25), at(50, 5)), (0, 0, 0));
    }

    #[test]
    fn a_dot_is_round_and_centred() {
        let mut c = Canvas::new(40, 40, 5.0);
        c.begin_stroke(p(20.0, 20.0));
        c.end_stroke();
        let px = c.pixels();
        assert_eq!(px[20 * 40 + 20], 255);
        assert_eq!(px[20 * 40 + 20 + 8], 0, "ink beyond the radius");
        assert_eq!(px[(20 + 8) * 40 + 20], 0);
        // Round, not square: the corner of the bounding square stays blank.
        assert_eq!(px[(20 - 5) * 40 + 20 - 5], 0);
        assert!(!c.is_empty());
    }

    #[test]
    fn fast_movement_leaves_no_gap() {
        let mut c = Canvas::new(200, 50, 3.0);
        c.begin_stroke(p(5.0, 25.0));
        // One huge jump: the whole segment must be inked.
        assert!(c.extend_stroke(p(195.0, 25.0)), "stroke in progress");
        c.end_stroke();
        for x in 5..195 {
            assert_eq!(c.pixels()[25 * 200 + x], 255, "gap at x={x}");
        }
        assert_eq!(c.pixels()[10 * 200 + 100], 0);
    }

    #[test]
    fn edges_are_anti_aliased() {
        let mut c = Canvas::new(50, 50, 4.3);
        c.begin_stroke(p(25.0, 5.0));
        c.extend_stroke(p(25.0, 45.0));
        let row = &c.pixels()[25 * 50..26 * 50];
        assert!(
            row.iter().any(|&v| v > 0 && v < 255),
            "no partial coverage: {row:?}"
        );
    }

    #[test]
    fn undo_removes_only_the_last_stroke_and_clear_removes_all() {
        let mut c = Canvas::new(60, 60, 3.0);
        c.begin_stroke(p(10.0, 10.0));
        c.extend_stroke(p(10.0, 50.0));
        c.end_stroke();
        let one = c.pixels().to_vec();
        c.begin_stroke(p(50.0, 10.0));
        c.extend_stroke(p(50.0, 50.0));
        c.end_stroke();
        assert_ne!(c.pixels(), &one[..]);
        assert_eq!(c.stroke_count(), 2);
        assert!(c.undo());
        assert_eq!(c.pixels(), &one[..]);
        c.clear();
        assert!(c.is_empty());
        assert!(c.pixels().iter().all(|&v| v == 0));
        assert!(!c.undo(), "nothing left to undo");
    }

    #[test]
    fn moves_without_a_press_and_out_of_range_points_are_harmless() {
        let mut c = Canvas::new(30, 30, 2.0);
        assert!(!c.extend_stroke(p(5.0, 5.0)));
        assert!(c.is_empty());
        c.begin_stroke(p(-100.0, f32::NAN));
        c.extend_stroke(p(1e9, 1e9));
        c.end_stroke();
        assert_eq!(c.pixels()[0], 255);
        assert_eq!(c.pixels()[29 * 30 + 29], 255);
    }
}
