//! Workspace-level end-to-end tests for Sumi live in `tests/tests/`:
//!
//! * `default_model.rs` — the embedded default model, run through `sumi-core` on the full MNIST
//!   test set, reproduces the int8 accuracy recorded in its own metadata, and preprocessing a
//!   test image (the GUI's path) keeps it recognisable.
//! * `architecture.rs` — structural promises: the GUI does not compile burn, the core has no
//!   `std`/`alloc` dependency, README and CI run the same test command.
#![forbid(unsafe_code)]
