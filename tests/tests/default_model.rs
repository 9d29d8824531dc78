//! The embedded default model against the real MNIST test set, through `sumi-core` only.

use sumi_core::{Model, models, preprocess};

mod support;
use support::test_set;

#[test]
fn default_model_reproduces_its_recorded_int8_accuracy() {
    let Some(test) = test_set() else { return };
    let model = Model::from_bytes(models::DEFAULT).expect("embedded default model loads");
    let mut arena = vec![0u8; model.arena_bytes()];
    let correct = test
        .iter()
        .filter(|(img, label)| model.predict(img, &mut arena).expect("predict").class() == *label)
        .count();
    let accuracy = correct as f32 / test.n as f32;
    let recorded = model
        .metadata()
        .int8_accuracy
        .expect("the default model records its int8 accuracy");
    assert!(
        (accuracy - recorded).abs() < 0.5 / test.n as f32,
        "measured {accuracy} on {} images, blob metadata says {recorded}",
        test.n
    );
    assert!(
        accuracy >= 0.99,
        "default model int8 accuracy {accuracy} is below 99 %"
    );
}

#[test]
fn preprocessing_keeps_mnist_digits_recognisable() {
    // MNIST digits are already centred by mass in a 20×20 box: running them through the GUI's
    // preprocessing (crop, refit, recentre) must keep almost all of them correct.
    let Some(test) = test_set() else { return };
    let model = Model::from_bytes(models::DEFAULT).unwrap();
    let mut arena = vec![0u8; model.arena_bytes()];
    let n = 2000;
    let mut correct = 0;
    for (img, label) in test.iter().take(n) {
        let mut out = [0u8; 784];
        preprocess(img, 28, 28, &mut out).expect("MNIST digits are never empty");
        if model.predict(&out, &mut arena).unwrap().class() == label {
            correct += 1;
        }
    }
    let acc = correct as f32 / n as f32;
    assert!(acc >= 0.98, "accuracy after preprocessing {acc}");
}
