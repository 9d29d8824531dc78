//! `ModelBuilder` writes the committed models byte for byte: each is decoded, its layers turned
//! back into the builder's typed arrays (`ModelBuilder::from_desc`), and rebuilt.

use sumi_core::Model;
use sumi_core::blob;
use sumi_core::builder::ModelBuilder;

fn rebuild(bytes: &[u8]) -> Vec<u8> {
    let (_, desc) = blob::decode(bytes).expect("a committed model decodes");
    ModelBuilder::from_desc(&desc)
        .build()
        .expect("a committed model rebuilds")
}

#[test]
fn the_committed_models_rebuild_byte_for_byte() {
    for (name, bytes) in [
        ("core/models/default.sumi", sumi_core::models::DEFAULT),
        (
            "host-train/models/tiny.sumi",
            &include_bytes!("../../host-train/models/tiny.sumi")[..],
        ),
        // Sub-byte weights: unpacked into the builder's int8 arrays and packed again.
        (
            "host-train/models/micro.sumi",
            &include_bytes!("../../host-train/models/micro.sumi")[..],
        ),
    ] {
        assert_eq!(rebuild(bytes), bytes, "{name}");
    }
}

#[test]
fn a_built_blob_is_exactly_as_long_as_it_needs_and_loads() {
    let blob = rebuild(sumi_core::models::DEFAULT);
    assert_eq!(
        blob.len(),
        blob::blob_len(&blob[..blob::HEADER_LEN]).unwrap()
    );
    Model::from_bytes(&blob).unwrap();
}

#[test]
fn too_many_layers_is_an_error_not_a_panic() {
    let mut b = ModelBuilder::new(2, 2, 1);
    for _ in 0..=sumi_core::MAX_LAYERS {
        b = b.pool(blob::Pool::None);
    }
    assert!(matches!(
        b.build(),
        Err(blob::BlobError::TooManyLayers(n)) if n == sumi_core::MAX_LAYERS as u64 + 1
    ));
}
