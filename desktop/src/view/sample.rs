//! The sample panel (`ui/sample-panel.slint`): an MNIST test image and its prediction.
#![forbid(unsafe_code)]

use slint::{ComponentHandle, Image};
use sumi_core::preprocess::SIDE;

use crate::i18n::group_digits;
use crate::render;
use crate::samples::SampleOrigin;
use crate::state::State;
use crate::{AppWindow, Ui};

/// Where the images come from, the "no mistake found" note, and the sample on display: image,
/// true label, prediction, right or wrong, position.
pub(crate) fn render(w: &AppWindow, st: &State) {
    let ui = w.global::<Ui>();
    ui.set_sample_count(group_digits(st.samples.len() as u64).into());
    let (origin, path, error) = match (st.samples.origin(), &st.samples_error) {
        (SampleOrigin::Full(dir), _) => (1, dir.display().to_string(), String::new()),
        (SampleOrigin::Embedded, Some(e)) => (2, String::new(), e.clone()),
        (SampleOrigin::Embedded, None) => (0, String::new(), String::new()),
    };
    ui.set_sample_origin(origin);
    ui.set_sample_path(path.into());
    ui.set_sample_error(error.into());
    ui.set_no_mistake(st.no_mistake);
    let Some(view) = st.sample else {
        ui.set_has_sample(false);
        return;
    };
    let image = st.samples.get(view.index).map_or(&[][..], |(img, _)| img);
    if image.len() == SIDE * SIDE {
        ui.set_sample_image(Image::from_rgb8(render::grey(image, SIDE, SIDE)));
    }
    ui.set_sample_shown(true);
    ui.set_has_sample(view.predicted.is_some());
    ui.set_sample_label(view.label.to_string().into());
    let predicted = view.predicted.map_or("?".to_owned(), |d| d.to_string());
    ui.set_sample_predicted(predicted.into());
    ui.set_sample_correct(view.predicted == Some(view.label));
    ui.set_sample_number(group_digits(view.index as u64 + 1).into());
}
