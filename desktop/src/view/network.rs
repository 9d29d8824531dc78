//! The network panel (`ui/network-panel.slint`): what the network sees.
#![forbid(unsafe_code)]

use slint::{ComponentHandle, Image, ModelRc, SharedString, VecModel};
use sumi_core::preprocess::SIDE;

use crate::render;
use crate::state::State;
use crate::{AppWindow, Ui};

/// The 28×28 network input, the layer tabs and the selected layer's feature maps.
pub(crate) fn render(w: &AppWindow, st: &State) {
    let ui = w.global::<Ui>();
    let blank = [0u8; SIDE * SIDE];
    let input = st.analysis.as_ref().map_or(&blank, |a| &a.input);
    ui.set_input_image(Image::from_rgb8(render::grey(input, SIDE, SIDE)));

    let layers = st.model.as_ref().map_or(&[][..], |m| m.feature_layers());
    let tabs: Vec<SharedString> = layers
        .iter()
        .map(|(i, _)| (i + 1).to_string().into())
        .collect();
    ui.set_layer_tabs(ModelRc::new(VecModel::from(tabs)));
    let selected = st.feature_layer.min(layers.len().saturating_sub(1));
    ui.set_feature_layer(i32::try_from(selected).unwrap_or(0));

    let map = st.analysis.as_ref().and_then(|a| a.features.get(selected));
    match map {
        Some(m) => {
            ui.set_feature_image(Image::from_rgb8(render::feature_grid(m)));
            ui.set_has_feature_map(true);
            ui.set_feature_layer_number((m.layer + 1).to_string().into());
            ui.set_feature_kind(m.kind.as_str().into());
            ui.set_feature_shape(format!("{} × {}×{}", m.shape.c, m.shape.h, m.shape.w).into());
        }
        None => {
            ui.set_feature_image(Image::default());
            ui.set_has_feature_map(false);
            let (number, kind) = layers
                .get(selected)
                .map_or((String::new(), ""), |(i, kind)| {
                    ((i + 1).to_string(), kind.as_str())
                });
            ui.set_feature_layer_number(number.into());
            ui.set_feature_kind(kind.into());
            ui.set_feature_shape(SharedString::new());
        }
    }
}
