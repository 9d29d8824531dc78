//! The bundled models, trained and exported by `sumi-train` with the recipes in
//! `host-train/MODEL_CARD.md`: the default model (`core/models/default.sumi`) and the smaller
//! ones kept in `host-train/models/`. The GUI, the CLI and the firmware all embed these same
//! bytes; a constant that is not used costs no flash.
//!
//! ```
//! use sumi_core::{Model, models};
//!
//! for bundled in models::BUNDLED {
//!     let model = Model::from_bytes(bundled.blob)?;
//!     // Each model's arena is known at compile time from its header (the small model's
//!     // 2-bit 44-channel maps need more than the default's).
//!     let arena = sumi_core::blob::header_arena_bytes(bundled.blob);
//!     assert_eq!(model.arena_bytes(), arena, "{}", bundled.name);
//! }
//! assert_eq!(models::BUNDLED[0].blob, models::DEFAULT);
//! assert_eq!(models::bundled("micro").map(|b| b.blob), Some(models::MICRO));
//! # Ok::<(), sumi_core::BlobError>(())
//! ```

/// The default model blob: the most accurate one (int8 convolutions and fully connected layers).
pub const DEFAULT: &[u8] = include_bytes!("../models/default.sumi");

/// Arena bytes the default model needs, known at compile time (from the blob header; checked
/// against the layers when the model loads).
pub const DEFAULT_ARENA_BYTES: usize = crate::blob::header_arena_bytes(DEFAULT);

/// The small model blob: 2-bit convolutions behind an int8 first one, in under 12 KiB.
pub const SMALL: &[u8] = include_bytes!("../../host-train/models/small.sumi");

/// The tiny model blob: two 4-bit convolutions in under 7 KiB.
pub const TINY: &[u8] = include_bytes!("../../host-train/models/tiny.sumi");

/// The micro model blob: 4- and 2-bit weights in under 3 KiB.
pub const MICRO: &[u8] = include_bytes!("../../host-train/models/micro.sumi");

/// A model that comes with Sumi.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bundled {
    /// Short name (`default`, `small`, `tiny`, `micro`): how the GUI and the docs call it.
    pub name: &'static str,
    /// The blob.
    pub blob: &'static [u8],
}

/// Every bundled model, largest first; the first is [`DEFAULT`].
pub const BUNDLED: [Bundled; 4] = [
    Bundled {
        name: "default",
        blob: DEFAULT,
    },
    Bundled {
        name: "small",
        blob: SMALL,
    },
    Bundled {
        name: "tiny",
        blob: TINY,
    },
    Bundled {
        name: "micro",
        blob: MICRO,
    },
];

/// The bundled model called `name` (see [`Bundled::name`]), if there is one.
pub fn bundled(name: &str) -> Option<Bundled> {
    BUNDLED.into_iter().find(|b| b.name == name)
}
