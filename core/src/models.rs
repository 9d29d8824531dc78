//! The embedded default model (`core/models/default.sumi`), trained and exported by `sumi-train`
//! with the recipe in `host-train/MODEL_CARD.md`. The GUI, the CLI and the firmware all embed
//! these same bytes.

/// The default model blob.
pub const DEFAULT: &[u8] = include_bytes!("../models/default.sumi");

/// Arena bytes the default model needs, known at compile time (from the blob header; checked
/// against the layers when the model loads).
pub const DEFAULT_ARENA_BYTES: usize = crate::blob::header_arena_bytes(DEFAULT);
