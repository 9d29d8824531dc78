//! `Model::predict_rows`: the input read one row at a time gives the logits of
//! `Model::predict` in the same arena, asks for each row once and in order, and a source that
//! fails answers `PredictError::InputRow` (never a prediction made from a missing row).

mod support;

use sumi_core::{Model, PredictError, models};
use support::Lcg;

/// A random digit-like image: background with a few random strokes of ink.
fn image(rng: &mut Lcg) -> [u8; 784] {
    let mut img = [0u8; 784];
    for _ in 0..rng.range(0, 6) {
        let (y, x, len) = (rng.range(2, 25), rng.range(2, 25), rng.range(3, 15));
        for k in 0..len {
            let at = ((y + k) % 28) * 28 + x;
            img[at] = rng.range(100, 255) as u8;
        }
    }
    img
}

fn tiny() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../host-train/models/tiny.sumi"
    ))
    .expect("host-train/models/tiny.sumi is committed")
}

#[test]
fn rows_give_the_logits_of_whole_images_and_are_asked_at_most_once_in_order() {
    let tiny = tiny();
    for blob in [models::DEFAULT, &tiny[..]] {
        let model = Model::from_bytes(blob).unwrap();
        let mut arena = vec![0u8; model.arena_bytes()];
        let mut rng = Lcg(21);
        for _ in 0..50 {
            let img = image(&mut rng);
            let whole = model.predict(&img, &mut arena).unwrap();
            let mut asked = Vec::new();
            let rows = model
                .predict_rows(
                    |y, row| {
                        asked.push(y);
                        row.copy_from_slice(&img[y * 28..(y + 1) * 28]);
                        true
                    },
                    &mut arena,
                )
                .unwrap();
            assert_eq!(rows.logits(), whole.logits());
            // Each row at most once, in order; rows no output depends on are never asked for
            // (the default model's pooled 3×3 chain never reads the last two).
            assert!(asked.windows(2).all(|w| w[0] + 1 == w[1]), "{asked:?}");
            assert_eq!(asked.first(), Some(&0));
            assert!(*asked.last().unwrap() < 28);
        }
    }
}

#[test]
fn a_failing_row_source_is_an_error_naming_the_row() {
    let model = Model::from_bytes(models::DEFAULT).unwrap();
    let mut arena = vec![0u8; model.arena_bytes()];
    for bad in [0, 13, 27] {
        let err = model
            .predict_rows(
                |y, row| {
                    row.fill(255);
                    y != bad
                },
                &mut arena,
            )
            .unwrap_err();
        assert_eq!(err, PredictError::InputRow { row: bad });
        assert!(err.to_string().contains(&format!("row {bad}")), "{err}");
    }
    // The arena check comes first, as for `predict`.
    let mut small = vec![0u8; model.arena_bytes() - 1];
    assert!(matches!(
        model.predict_rows(|_, _| true, &mut small),
        Err(PredictError::ArenaTooSmall { .. })
    ));
}
