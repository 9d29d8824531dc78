//! The firmware: classify every image of a host file with the embedded model and write the
//! digit and integer logits of each back to the host (protocol in [`crate::protocol`]).
//!
//! Memory: the blob is a `const` byte array in flash; the arena is one static buffer sized at
//! compile time from the blob header; there is no heap. Errors print a message on the host's
//! stderr and exit QEMU with a distinct code; a panic does the same (code 101), it never hangs.

mod sys;

use core::fmt::Write;

use sumi_core::Model;

use crate::protocol::{
    EXIT_IO, EXIT_MODEL, EXIT_OK, EXIT_PANIC, EXIT_PREDICT, EXIT_SHAPE, EXIT_STACK, IMAGES_FILE,
    INPUT_LEN, RESULTS_FILE, STAT_ARENA_DECLARED, STAT_ARENA_PEAK, STAT_IMAGES, STAT_STACK_PEAK,
    STAT_STACK_REGION, STATS_FILE,
};

/// The model blob, chosen at build time (`SUMI_MODEL`, default `core/models/default.sumi`;
/// build.rs copies it into `OUT_DIR`).
pub(crate) const BLOB: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/model.sumi"));

/// `core::fmt` sink for a semihosting handle.
struct HostWriter(sys::Handle);

impl Write for HostWriter {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        if sys::write_all(self.0, s.as_bytes()) {
            Ok(())
        } else {
            Err(core::fmt::Error)
        }
    }
}

/// Prints a line on the host's stderr (best effort: nothing else can report a failure).
pub(crate) fn report_error(args: core::fmt::Arguments<'_>) {
    if let Some(h) = sys::open(":tt", sys::MODE_APPEND) {
        let mut w = HostWriter(h);
        let _ = w.write_fmt(args);
        let _ = w.write_str("\n");
    }
}

/// Highest arena byte that differs from `paint`, plus one.
fn touched(arena: &[u8], paint: u8) -> usize {
    arena.iter().rposition(|&b| b != paint).map_or(0, |i| i + 1)
}

/// The whole firmware; returns the exit code. Called by the start-up code (`sys`).
fn run() -> i32 {
    if cfg!(sumi_selftest_panic) {
        panic!("self-test panic requested at build time (SUMI_SELFTEST_PANIC=1)");
    }
    let model = match Model::from_bytes(BLOB) {
        Ok(m) => m,
        Err(e) => {
            report_error(format_args!(
                "sumi firmware: cannot load the embedded model blob ({} bytes): {e}; \
                 rebuild with SUMI_MODEL pointing at a blob exported by sumi-train",
                BLOB.len()
            ));
            return EXIT_MODEL;
        }
    };
    let Some(arena) = sys::take_arena() else {
        report_error(format_args!("sumi firmware: arena already taken"));
        return EXIT_MODEL;
    };
    if model.arena_bytes() > arena.len() {
        report_error(format_args!(
            "sumi firmware: the model needs a {} byte arena but its header declares {}; \
             the blob is inconsistent, re-export it",
            model.arena_bytes(),
            arena.len()
        ));
        return EXIT_MODEL;
    }
    let shape = model.input_shape();
    if shape.len() != INPUT_LEN {
        report_error(format_args!(
            "sumi firmware: model input is {}x{}x{}, but the images are 28x28x1",
            shape.h, shape.w, shape.c
        ));
        return EXIT_SHAPE;
    }

    let Some(images) = sys::open(IMAGES_FILE, sys::MODE_READ) else {
        report_error(format_args!(
            "sumi firmware: cannot open {IMAGES_FILE} in QEMU's working directory"
        ));
        return EXIT_IO;
    };
    let len = sys::flen(images).unwrap_or(usize::MAX);
    if len == usize::MAX || !len.is_multiple_of(INPUT_LEN) {
        report_error(format_args!(
            "sumi firmware: {IMAGES_FILE} must hold whole {INPUT_LEN}-byte images (length {len})"
        ));
        return EXIT_IO;
    }
    let n = len / INPUT_LEN;
    let Some(results) = sys::open(RESULTS_FILE, sys::MODE_WRITE) else {
        report_error(format_args!("sumi firmware: cannot create {RESULTS_FILE}"));
        return EXIT_IO;
    };

    // Calibration: the instruction count between two back-to-back marks is the marker
    // overhead, which the driver subtracts from every inference's count.
    sys::sumi_icount_mark();
    sys::sumi_icount_mark();

    let mut image = [0u8; INPUT_LEN];
    let mut arena_peak = 0;
    let mut record = [0u8; crate::protocol::record_len(sumi_core::MAX_CLASSES)];
    for i in 0..n {
        if !sys::read_exact(images, &mut image) {
            report_error(format_args!(
                "sumi firmware: short read of image {i} from {IMAGES_FILE}"
            ));
            return EXIT_IO;
        }
        if i == 0 {
            // Arena high-water mark: paint with two patterns (a byte that happens to equal one
            // paint value cannot hide from both), run, and find the last byte written.
            for paint in [0xA5u8, 0x5A] {
                arena.fill(paint);
                if let Err(e) = model.predict(&image, arena) {
                    report_error(format_args!(
                        "sumi firmware: predict failed on image 0: {e}"
                    ));
                    return EXIT_PREDICT;
                }
                arena_peak = arena_peak.max(touched(arena, paint));
            }
        }
        sys::sumi_icount_mark();
        let prediction = model.predict(&image, arena);
        sys::sumi_icount_mark();
        let prediction = match prediction {
            Ok(p) => p,
            Err(e) => {
                report_error(format_args!(
                    "sumi firmware: predict failed on image {i}: {e}"
                ));
                return EXIT_PREDICT;
            }
        };
        let logits = prediction.logits();
        record[0] = prediction.digit;
        record[1] = logits.len() as u8;
        for (chunk, l) in record[2..].chunks_exact_mut(4).zip(logits) {
            chunk.copy_from_slice(&l.to_le_bytes());
        }
        if !sys::write_all(
            results,
            &record[..crate::protocol::record_len(logits.len())],
        ) {
            report_error(format_args!("sumi firmware: cannot write {RESULTS_FILE}"));
            return EXIT_IO;
        }
    }
    sys::close(images);
    sys::close(results);

    let (stack_peak, stack_region) = sys::stack_usage();
    let Some(stats) = sys::open(STATS_FILE, sys::MODE_WRITE) else {
        report_error(format_args!("sumi firmware: cannot create {STATS_FILE}"));
        return EXIT_IO;
    };
    let mut w = HostWriter(stats);
    let written = write!(
        w,
        "{STAT_IMAGES}={n}\n{STAT_ARENA_DECLARED}={}\n{STAT_ARENA_PEAK}={arena_peak}\n\
         {STAT_STACK_PEAK}={stack_peak}\n{STAT_STACK_REGION}={stack_region}\n",
        sys::ARENA_BYTES
    );
    sys::close(stats);
    if written.is_err() {
        report_error(format_args!("sumi firmware: cannot write {STATS_FILE}"));
        return EXIT_IO;
    }
    if stack_peak >= stack_region {
        report_error(format_args!(
            "sumi firmware: the stack used its whole {stack_region} byte region (overflow into \
             static data is likely); raise the RAM budget or shrink the model"
        ));
        return EXIT_STACK;
    }
    EXIT_OK
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    report_error(format_args!("sumi firmware panicked: {info}"));
    sys::exit(EXIT_PANIC)
}
