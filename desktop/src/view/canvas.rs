//! The drawing panel (`ui/canvas-panel.slint`): the canvas ink as an alpha mask.
//!
//! The whole 336×336 mask is rebuilt on each change: an image set on a Slint property is shared
//! with the renderer, so patching only the changed rectangle would copy the buffer anyway, and
//! the renderer redraws the whole scaled image either way.
#![forbid(unsafe_code)]

use slint::{ComponentHandle, Image};

use crate::render;
use crate::state::State;
use crate::{AppWindow, Ui};

/// The ink, whether the canvas is empty, and the stroke count (Undo / Clear enabled).
pub(crate) fn render(w: &AppWindow, st: &State) {
    let ui = w.global::<Ui>();
    let c = &st.canvas;
    ui.set_canvas_image(Image::from_rgba8(render::ink_mask(
        c.pixels(),
        c.width(),
        c.height(),
    )));
    ui.set_canvas_empty(c.is_empty());
    ui.set_stroke_count(i32::try_from(c.stroke_count()).unwrap_or(i32::MAX));
}
