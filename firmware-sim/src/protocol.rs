//! The file protocol between the firmware and the host driver (shared by both builds).
//!
//! QEMU runs with its working directory set to a per-run folder; the firmware opens these
//! relative paths through semihosting:
//!
//! * [`IMAGES_FILE`]: `n × input_len` raw `u8` pixels (MNIST convention), written by the driver.
//! * [`RESULTS_FILE`]: one record per image, written by the firmware: `digit: u8`,
//!   `classes: u8`, then `classes` little-endian `i32` logits.
//! * [`STATS_FILE`]: `key=value` lines (keys `STAT_*`), written by the firmware after the last image.
//!
//! The firmware ends with a semihosting extended exit; the codes are the `EXIT_*` constants.

/// Input images (raw pixels), read by the firmware.
pub const IMAGES_FILE: &str = "images.u8";
/// Per-image predictions, written by the firmware.
pub const RESULTS_FILE: &str = "results.bin";
/// Run statistics, written by the firmware.
pub const STATS_FILE: &str = "stats.txt";

/// Size in bytes of one result record for a model with `classes` outputs.
pub const fn record_len(classes: usize) -> usize {
    2 + 4 * classes
}

/// Number of images processed.
pub const STAT_IMAGES: &str = "images";
/// Arena bytes the model declares (blob header), i.e. the static arena size.
pub const STAT_ARENA_DECLARED: &str = "arena_declared";
/// Highest arena byte the inference touched, plus one (measured by painting).
pub const STAT_ARENA_PEAK: &str = "arena_peak";
/// Deepest stack use over the whole run, in bytes (measured by stack painting).
pub const STAT_STACK_PEAK: &str = "stack_peak";
/// Size of the stack region (RAM left after static data), in bytes.
pub const STAT_STACK_REGION: &str = "stack_region";

/// Every image was classified and written.
pub const EXIT_OK: i32 = 0;
/// A semihosting file operation failed (missing or unreadable input, unwritable output).
pub const EXIT_IO: i32 = 2;
/// The embedded blob could not be loaded by `Model::from_bytes`, or its arena does not fit.
pub const EXIT_MODEL: i32 = 3;
/// `Model::predict` returned an error.
pub const EXIT_PREDICT: i32 = 4;
/// The stack painting shows the stack reached the end of its region (possible overflow).
pub const EXIT_STACK: i32 = 5;
/// The model's input shape is not the 28×28×1 the images file carries.
pub const EXIT_SHAPE: i32 = 6;
/// The core faulted (Cortex-M hard fault, RISC-V trap); the message was printed to stderr.
pub const EXIT_FAULT: i32 = 7;
/// The firmware panicked (the message was printed to stderr).
pub const EXIT_PANIC: i32 = 101;

/// Pixels per MNIST image (28 × 28 × 1).
pub const INPUT_LEN: usize = sumi_core::preprocess::SIDE * sumi_core::preprocess::SIDE;

/// Name of the firmware function called immediately before and after each `Model::predict`;
/// the instruction-counting QEMU plugin records the instruction count every time it runs.
pub const MARK_SYMBOL: &str = "sumi_icount_mark";

/// Human explanation of a firmware exit code.
pub fn describe_exit(code: i32) -> &'static str {
    match code {
        EXIT_OK => "success",
        EXIT_IO => "semihosting file I/O failed",
        EXIT_MODEL => "the firmware could not load the embedded model blob",
        EXIT_PREDICT => "Model::predict failed on the firmware",
        EXIT_STACK => "stack overflow: the stack used its whole region",
        EXIT_SHAPE => "the model input is not 28x28x1",
        EXIT_FAULT => "the core faulted (hard fault / trap)",
        EXIT_PANIC => "the firmware panicked",
        _ => "unknown exit code",
    }
}
