//! The firmware: classify every image of a host file with the embedded model and write the
//! digit and integer logits of each back to the host (protocol in [`crate::protocol`]).
//!
//! Memory: the blob is a `const` byte array in flash; the arena is one static buffer sized at
//! compile time from the blob header; there is no heap. Errors print a message on the host's
//! stderr and exit QEMU with a distinct code; a panic does the same (code 101), it never hangs.

mod sys;

use core::fmt::Write;

use sumi_core::{Model, PredictError, Prediction};

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
    match classify_host_images() {
        Ok(()) => EXIT_OK,
        Err(code) => code,
    }
}

/// A failed step: its message is already on the host's stderr; the value is the exit code.
type Failed = i32;

/// Prints `args` on the host's stderr and returns `code`, for `Err(fail(..))`.
fn fail(code: i32, args: core::fmt::Arguments<'_>) -> Failed {
    report_error(args);
    code
}

/// The firmware's steps in order: load the model, take the arena, open the files, classify
/// every image, report the memory figures.
fn classify_host_images() -> Result<(), Failed> {
    // Loaded here, not in a helper that returns it, and borrowed where `from_bytes` wrote it:
    // moving the model out of its `Result` would hold a second copy (~580 B) in this frame for
    // the whole run (what the peak stack, reached in `Model::from_bytes`, adds to).
    let loaded = Model::from_bytes(BLOB);
    let model = match &loaded {
        Ok(model) => model,
        Err(e) => {
            return Err(fail(
                EXIT_MODEL,
                format_args!(
                    "sumi firmware: cannot load the embedded model blob ({} bytes): {e}; \
                     rebuild with SUMI_MODEL pointing at a blob exported by sumi-train",
                    BLOB.len()
                ),
            ));
        }
    };
    let arena = take_arena(model)?;
    check_input(model)?;
    let (images, n, results) = open_files()?;

    // Calibration: the instruction count between two back-to-back marks is the marker
    // overhead, which the driver subtracts from every inference's count.
    sys::sumi_icount_mark();
    sys::sumi_icount_mark();

    let arena_peak = classify_all(model, arena, images, n, results)?;
    sys::close(images);
    sys::close(results);
    write_stats(n, arena_peak)
}

/// Takes the static arena, checking it is as large as `model` needs.
fn take_arena(model: &Model<'_>) -> Result<&'static mut [u8], Failed> {
    let Some(arena) = sys::take_arena() else {
        return Err(fail(
            EXIT_MODEL,
            format_args!("sumi firmware: arena already taken"),
        ));
    };
    if model.arena_bytes() > arena.len() {
        return Err(fail(
            EXIT_MODEL,
            format_args!(
                "sumi firmware: the model needs a {} byte arena but its header declares {}; \
                 the blob is inconsistent, re-export it",
                model.arena_bytes(),
                arena.len()
            ),
        ));
    }
    Ok(arena)
}

/// Checks that `model` takes the 28×28×1 images of the images file.
fn check_input(model: &Model<'_>) -> Result<(), Failed> {
    let shape = model.input_shape();
    if shape.len() != INPUT_LEN {
        return Err(fail(
            EXIT_SHAPE,
            format_args!(
                "sumi firmware: model input is {}x{}x{}, but the images are 28x28x1",
                shape.h, shape.w, shape.c
            ),
        ));
    }
    Ok(())
}

/// Opens the images file (whole images only) and creates the results file: the images
/// handle, the number of images, the results handle.
fn open_files() -> Result<(sys::Handle, usize, sys::Handle), Failed> {
    let Some(images) = sys::open(IMAGES_FILE, sys::MODE_READ) else {
        return Err(fail(
            EXIT_IO,
            format_args!("sumi firmware: cannot open {IMAGES_FILE} in QEMU's working directory"),
        ));
    };
    let len = sys::flen(images).unwrap_or(usize::MAX);
    if len == usize::MAX || !len.is_multiple_of(INPUT_LEN) {
        return Err(fail(
            EXIT_IO,
            format_args!(
                "sumi firmware: {IMAGES_FILE} must hold whole {INPUT_LEN}-byte images (length {len})"
            ),
        ));
    }
    let Some(results) = sys::open(RESULTS_FILE, sys::MODE_WRITE) else {
        return Err(fail(
            EXIT_IO,
            format_args!("sumi firmware: cannot create {RESULTS_FILE}"),
        ));
    };
    Ok((images, len / INPUT_LEN, results))
}

/// Classifies the `n` images of `images` between two instruction-count marks each and writes
/// one result record per image to `results`; returns the arena high-water mark.
fn classify_all(
    model: &Model<'_>,
    arena: &mut [u8],
    images: sys::Handle,
    n: usize,
    results: sys::Handle,
) -> Result<usize, Failed> {
    let mut arena_peak = 0;
    for i in 0..n {
        let input = Input::read(images, i)?;
        if i == 0 {
            arena_peak = measure_arena_peak(model, &input, arena)?;
        }
        sys::sumi_icount_mark();
        let prediction = input.infer(model, arena, true);
        sys::sumi_icount_mark();
        let prediction = prediction.map_err(|e| {
            fail(
                EXIT_PREDICT,
                format_args!("sumi firmware: predict failed on image {i} of {IMAGES_FILE}: {e}"),
            )
        })?;
        write_record(results, &prediction)?;
    }
    Ok(arena_peak)
}

/// One image of the images file, and the plan chosen at build time to classify it.
struct Input {
    images: sys::Handle,
    /// Byte offset of the image in the file.
    at: usize,
    /// Whole maps (`SUMI_WHOLE_MAP=1`, for the report's comparison): the image, read before
    /// the instruction count starts.
    #[cfg(sumi_whole_map)]
    image: [u8; INPUT_LEN],
}

impl Input {
    /// Image `i` of `images`: located (streamed), or read whole (whole maps).
    fn read(images: sys::Handle, i: usize) -> Result<Input, Failed> {
        let input = Input {
            images,
            at: i * INPUT_LEN,
            #[cfg(sumi_whole_map)]
            image: [0; INPUT_LEN],
        };
        #[cfg(sumi_whole_map)]
        let input = {
            let mut input = input;
            if !(sys::seek(images, input.at) && sys::read_exact(images, &mut input.image)) {
                return Err(fail(
                    EXIT_IO,
                    format_args!("sumi firmware: cannot read image {i} from {IMAGES_FILE}"),
                ));
            }
            input
        };
        Ok(input)
    }

    /// One inference. Streamed (the default): `Model::predict_rows` reads the image one row at
    /// a time from the host file, as it would from a sensor, so no image buffer is held (the
    /// row reads count as part of the inference). Whole maps: `Model::predict_with`, with an
    /// instruction-count mark as each layer but the logits completes when `marked` (the
    /// per-layer figures; the driver expects those marks only between an inference's two).
    #[inline(always)]
    fn infer(
        &self,
        model: &Model<'_>,
        arena: &mut [u8],
        marked: bool,
    ) -> Result<Prediction, PredictError> {
        #[cfg(sumi_whole_map)]
        return model.predict_with(&self.image, arena, |_, _, _| {
            if marked {
                sys::sumi_icount_mark();
            }
        });
        #[cfg(not(sumi_whole_map))]
        let _ = marked;
        #[cfg(not(sumi_whole_map))]
        model.predict_rows(
            |y, row| {
                sys::seek(self.images, self.at + y * row.len()) && sys::read_exact(self.images, row)
            },
            arena,
        )
    }
}

/// Arena high-water mark: paint with two patterns (a byte that happens to equal one paint
/// value cannot hide from both), run, and find the last byte written.
fn measure_arena_peak(model: &Model<'_>, input: &Input, arena: &mut [u8]) -> Result<usize, Failed> {
    let mut peak = 0;
    for paint in [0xA5u8, 0x5A] {
        arena.fill(paint);
        if let Err(e) = input.infer(model, arena, false) {
            return Err(fail(
                EXIT_PREDICT,
                format_args!("sumi firmware: predict failed on image 0: {e}"),
            ));
        }
        peak = peak.max(touched(arena, paint));
    }
    Ok(peak)
}

/// Writes one result record (digit, class count, little-endian logits).
fn write_record(results: sys::Handle, prediction: &Prediction) -> Result<(), Failed> {
    let mut record = [0u8; crate::protocol::record_len(sumi_core::MAX_CLASSES)];
    let logits = prediction.logits();
    record[0] = prediction.class();
    record[1] = logits.len() as u8;
    for (chunk, l) in record[2..].chunks_exact_mut(4).zip(logits) {
        chunk.copy_from_slice(&l.to_le_bytes());
    }
    if sys::write_all(
        results,
        &record[..crate::protocol::record_len(logits.len())],
    ) {
        Ok(())
    } else {
        Err(fail(
            EXIT_IO,
            format_args!("sumi firmware: cannot write {RESULTS_FILE}"),
        ))
    }
}

/// Writes the run's figures (images, arena, stack high-water marks) to the stats file; fails
/// when the stack used its whole region.
fn write_stats(n: usize, arena_peak: usize) -> Result<(), Failed> {
    let (stack_peak, stack_region) = sys::stack_usage();
    let Some(stats) = sys::open(STATS_FILE, sys::MODE_WRITE) else {
        return Err(fail(
            EXIT_IO,
            format_args!("sumi firmware: cannot create {STATS_FILE}"),
        ));
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
        return Err(fail(
            EXIT_IO,
            format_args!("sumi firmware: cannot write {STATS_FILE}"),
        ));
    }
    if stack_peak >= stack_region {
        return Err(fail(
            EXIT_STACK,
            format_args!(
                "sumi firmware: the stack used its whole {stack_region} byte region (overflow \
                 into static data is likely); raise the RAM budget or shrink the model"
            ),
        ));
    }
    Ok(())
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    report_error(format_args!("sumi firmware panicked: {info}"));
    sys::exit(EXIT_PANIC)
}
