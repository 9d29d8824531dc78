//! The host driver: build the firmware, run it under QEMU, run the host core on the same
//! images, compare, and report.
//!
//! | module | concept |
//! |---|---|
//! | [`build`] | nested cargo build of the firmware; the icount plugin build |
//! | [`elf`] | flash / RAM sizes and the marker symbol from the ELF |
//! | [`qemu`] | running QEMU with a timeout, parsing results, stats and counts |
//! | [`report`] | the figures, as a table or JSON |

mod build;
mod elf;
mod qemu;
mod report;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Parser;
use sumi_core::Model;

use crate::protocol::{IMAGES_FILE, INPUT_LEN, MARK_SYMBOL};
pub use qemu::Board;

/// Build the Sumi firmware, run it on an emulated microcontroller (Cortex-M4F/M7, Cortex-M0,
/// RISC-V RV32IMAC) under QEMU over MNIST test images, check its integer logits are
/// bit-identical to the host core's, and report flash, RAM, stack, arena and instructions per
/// inference.
#[derive(Debug, Parser)]
#[command(name = "sumi-firmware-sim", version)]
pub struct Cli {
    /// Model blob to embed (default: the blob sumi-core embeds, core/models/default.sumi).
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// MNIST directory (default: MNIST_DIR, then the sumi-data cache).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Run only the first N test images (default: all 10,000).
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// Emulated board.
    #[arg(long, value_enum, default_value_t = Board(&crate::boards::BOARDS[0]))]
    board: Board,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Flash budget the firmware is linked against, KiB (default: the board's default, 256).
    #[arg(long, value_name = "KIB")]
    flash_kib: Option<u32>,
    /// RAM budget the firmware is linked against, KiB (default: 64, 16 on the 16 KiB boards).
    #[arg(long, value_name = "KIB")]
    ram_kib: Option<u32>,
    /// Stack the static data must leave free, KiB (checked before the build and at link time).
    #[arg(long, default_value_t = crate::boards::DEFAULT_MIN_STACK_KIB, value_name = "KIB")]
    min_stack_kib: u32,
    /// QEMU processes to run in parallel, each on a consecutive share of the images
    /// (default: the number of CPUs, at most 8).
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
    /// Skip instruction counting (no C compiler needed; faster).
    #[arg(long)]
    no_icount: bool,
    /// Kill QEMU after this many seconds (default: 120 + 0.1 s per image).
    #[arg(long, value_name = "S")]
    timeout_s: Option<u64>,
    /// Keep the run directory (images, results, stats, counts) for inspection.
    #[arg(long)]
    keep_run_dir: bool,
    /// Run every layer on whole feature maps (`Model::predict_with`, the arena of
    /// `Model::observed_arena_bytes`) instead of the streamed plan (`Model::predict`): the
    /// comparison the report's memory and instruction figures are read against.
    #[arg(long)]
    whole_map: bool,
    /// Do not validate the blob on the host first (tests the firmware's own load error).
    #[arg(long, hide = true)]
    no_host_check: bool,
    /// Build a firmware that panics at start (tests that a panic exits QEMU with its message).
    #[arg(long, hide = true)]
    selftest_panic: bool,
}

/// Entry point: parse arguments, run, print errors with their causes.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs everything; `Ok(false)` when some firmware logits differ from the host's.
fn run(cli: &Cli) -> Result<bool> {
    let blob: Vec<u8> = match &cli.model {
        Some(path) => {
            std::fs::read(path).with_context(|| format!("cannot read model {}", path.display()))?
        }
        None => sumi_core::models::DEFAULT.to_vec(),
    };
    let model_label = cli.model.as_ref().map_or_else(
        || "default (sumi_core::models::DEFAULT)".to_string(),
        |p| p.display().to_string(),
    );
    let host_model = match Model::from_bytes(&blob) {
        Ok(m) => Some(m),
        Err(e) if cli.no_host_check => {
            eprintln!(
                "warning: the host cannot load {model_label} ({e}); running the firmware anyway"
            );
            None
        }
        Err(e) => bail!(
            "{model_label} is not a loadable Sumi model blob: {e}; export one with sumi-train"
        ),
    };
    if let Some(m) = &host_model {
        let shape = m.input_shape();
        if shape.len() != INPUT_LEN {
            bail!(
                "{model_label} takes {}x{}x{} inputs; the firmware and MNIST need 28x28x1",
                shape.h,
                shape.w,
                shape.c
            );
        }
    }

    let budget = budget(cli, &blob, &model_label)?;

    let test =
        sumi_data::load_test(cli.data_dir.as_deref()).context("cannot load the MNIST test set")?;
    let n = cli.limit.map_or(test.n, |l| l.min(test.n));
    if n == 0 {
        bail!("--limit 0: nothing to run");
    }
    let images = &test.images[..n * INPUT_LEN];
    let labels = &test.labels[..n];

    let work = build::work_dir();
    std::fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;
    let run_dir = work
        .join("runs")
        .join(format!("run-{}", std::process::id()));
    if run_dir.exists() {
        std::fs::remove_dir_all(&run_dir)
            .with_context(|| format!("cannot clear {}", run_dir.display()))?;
    }
    std::fs::create_dir_all(&run_dir)
        .with_context(|| format!("cannot create {}", run_dir.display()))?;
    let task = Task {
        cli,
        budget,
        blob: &blob,
        model_label: &model_label,
        host_model: host_model.as_ref(),
        images,
        labels,
    };
    let result = run_in(&task, &run_dir);
    if !cli.keep_run_dir {
        let _ = std::fs::remove_dir_all(&run_dir);
    } else {
        eprintln!("run directory kept: {}", run_dir.display());
    }
    result
}

/// The MCU budget: the options, else the board's defaults. Refuses, before anything is built,
/// a budget larger than the board or a model that does not fit it (`build.rs` and the linker
/// check the same again at build time).
fn budget(cli: &Cli, blob: &[u8], model_label: &str) -> Result<build::Budget> {
    let spec = cli.board.spec();
    let budget = build::Budget {
        flash_kib: cli.flash_kib.unwrap_or(spec.default_flash_kib),
        ram_kib: cli.ram_kib.unwrap_or(spec.default_ram_kib),
        min_stack_kib: cli.min_stack_kib,
    };
    let mut arena = sumi_core::blob::header_arena_bytes(blob);
    if cli.whole_map {
        // build.rs checks the same: whole maps need Model::observed_arena_bytes.
        arena = sumi_core::Model::from_bytes(blob).map_or(arena, |m| m.observed_arena_bytes());
    }
    if let Err(e) = crate::boards::check_fit(spec, budget, model_label, blob.len(), arena) {
        bail!("{e} (--flash-kib, --ram-kib, --min-stack-kib; --board lists the boards)");
    }
    Ok(budget)
}

/// One run's inputs: the options, the budget, the model and the images with their labels.
struct Task<'a> {
    cli: &'a Cli,
    budget: build::Budget,
    blob: &'a [u8],
    model_label: &'a str,
    /// `None` only with `--no-host-check` when the host cannot load the blob.
    host_model: Option<&'a Model<'a>>,
    images: &'a [u8],
    labels: &'a [u8],
}

/// The firmware built for a run: its private ELF copy, sizes and marker address.
struct Firmware {
    elf: PathBuf,
    sizes: elf::Sizes,
    mark: Option<u64>,
    /// Marks per inference besides the two around it: one per layer but the logits with
    /// `--whole-map`, else none.
    layer_marks: usize,
}

/// Builds the firmware, runs it on the images in `run_dir`, runs the host core on the same
/// images, prints the report; `Ok(false)` when some logits differ.
fn run_in(task: &Task<'_>, run_dir: &Path) -> Result<bool> {
    let cli = task.cli;
    let n = task.labels.len();
    let firmware = build_firmware(task, run_dir)?;
    let (outcome, qemu_processes) = run_firmware(cli, &firmware, task.images, run_dir)?;
    if outcome.records.len() != n {
        bail!(
            "the firmware wrote {} results for {n} images",
            outcome.records.len()
        );
    }
    let Some(host_model) = task.host_model else {
        bail!("the firmware ran, but the host cannot load the model to compare against");
    };
    eprintln!("running the host core on the same images...");
    let host = host_records(host_model, task.images)?;
    let report = report::Report::new(report::Inputs {
        board: cli.board,
        model_label: task.model_label,
        model: host_model,
        budget: task.budget,
        labels: task.labels,
        host: &host,
        outcome: &outcome,
        sizes: firmware.sizes,
        jobs: qemu_processes,
        whole_map: cli.whole_map,
    })?;
    if cli.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report.to_json()).expect("JSON values serialise")
        );
    } else {
        print!("{}", report.table());
    }
    if report.identical != n {
        eprintln!(
            "FAIL: {} of {n} images have firmware logits different from the host's",
            n - report.identical
        );
        return Ok(false);
    }
    Ok(true)
}

/// Writes the blob where the firmware build reads it, under a name made of its content (so an
/// unchanged model does not make cargo rebuild the firmware); the firmware embeds exactly the
/// bytes the host uses.
fn stage_model(blob: &[u8]) -> Result<PathBuf> {
    let models = build::work_dir().join("models");
    std::fs::create_dir_all(&models)
        .with_context(|| format!("cannot create {}", models.display()))?;
    let model_file = models.join(format!(
        "{:08x}-{}.sumi",
        sumi_core::blob::crc32(blob),
        blob.len()
    ));
    if std::fs::read(&model_file).ok().as_deref() != Some(blob) {
        std::fs::write(&model_file, blob)
            .with_context(|| format!("cannot write {}", model_file.display()))?;
    }
    Ok(model_file)
}

/// Builds the firmware for the task's model and board, copies the ELF into `run_dir` (a
/// concurrent driver may rebuild the shared output path) and reads its sizes and marker.
fn build_firmware(task: &Task<'_>, run_dir: &Path) -> Result<Firmware> {
    let cli = task.cli;
    let model_file = stage_model(task.blob)?;
    eprintln!(
        "building the firmware ({} for {})...",
        cli.board.spec().target,
        cli.board.spec().name
    );
    let built = build::firmware(
        &model_file,
        cli.board,
        task.budget,
        build::Variant {
            selftest_panic: cli.selftest_panic,
            whole_map: cli.whole_map,
        },
    )?;
    let elf = run_dir.join("firmware.elf");
    std::fs::copy(&built, &elf).with_context(|| format!("cannot copy {}", built.display()))?;
    let (sizes, mark) = elf::inspect(&elf, MARK_SYMBOL, cli.board.spec().ram_origin)?;
    let layer_marks = match (cli.whole_map, task.host_model) {
        (true, Some(m)) => m.layers().count() - 1,
        (true, None) => bail!("--whole-map needs a model the host can load"),
        (false, _) => 0,
    };
    Ok(Firmware {
        elf,
        sizes,
        mark,
        layer_marks,
    })
}

/// The instruction-counting plugin and the marker address it hooks; `None` with
/// `--no-icount`.
fn icount_plugin(cli: &Cli, firmware: &Firmware) -> Result<Option<(PathBuf, u64)>> {
    if cli.no_icount {
        return Ok(None);
    }
    let Some(mark) = firmware.mark else {
        bail!(
            "firmware {} has no {MARK_SYMBOL} symbol to count instructions at; was it stripped? \
             (--no-icount runs without counting)",
            firmware.elf.display()
        );
    };
    Ok(Some((build::icount_plugin()?, mark)))
}

/// Splits `images` into consecutive shards of at most `per_job` images, each in its own
/// folder of `run_dir` with its images file; returns the folders.
fn write_shards(images: &[u8], per_job: usize, run_dir: &Path) -> Result<Vec<PathBuf>> {
    let mut shard_dirs = Vec::new();
    for (k, chunk) in images.chunks(per_job * INPUT_LEN).enumerate() {
        let dir = run_dir.join(format!("shard-{k}"));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        std::fs::write(dir.join(IMAGES_FILE), chunk).context("cannot write the images file")?;
        shard_dirs.push(dir);
    }
    Ok(shard_dirs)
}

/// Runs the firmware under QEMU on `images`, in parallel processes over consecutive shards,
/// and merges their outcomes; returns the outcome and the number of QEMU processes.
fn run_firmware(
    cli: &Cli,
    firmware: &Firmware,
    images: &[u8],
    run_dir: &Path,
) -> Result<(qemu::Outcome, usize)> {
    let n = images.len() / INPUT_LEN;
    let qemu_exe = qemu::find_qemu(cli.board)?;
    let plugin = icount_plugin(cli, firmware)?;
    let jobs = cli
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |p| p.get().min(8)))
        .clamp(1, n);
    let per_job = n.div_ceil(jobs);
    let timeout = Duration::from_secs(cli.timeout_s.unwrap_or(120 + (per_job as u64) / 10));
    let shard_dirs = write_shards(images, per_job, run_dir)?;
    eprintln!(
        "running {n} images under {} ({}) in {} QEMU process(es)...",
        qemu_exe.display(),
        cli.board.machine(),
        shard_dirs.len()
    );
    let plugin_arg = plugin.as_ref().map(|(p, m)| (p.as_path(), *m));
    let (elf, layer_marks) = (firmware.elf.as_path(), firmware.layer_marks);
    let shards: Vec<Result<qemu::Outcome>> = std::thread::scope(|scope| {
        let handles: Vec<_> = shard_dirs
            .iter()
            .map(|dir| {
                let qemu_exe = &qemu_exe;
                scope.spawn(move || {
                    qemu::run(
                        qemu_exe,
                        elf,
                        cli.board,
                        dir,
                        plugin_arg,
                        layer_marks,
                        timeout,
                    )
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| bail!("a QEMU runner thread panicked"))
            })
            .collect()
    });
    let outcome = qemu::Outcome::merge(shards.into_iter().collect::<Result<Vec<_>>>()?);
    Ok((outcome, shard_dirs.len()))
}

/// The host core's prediction for every image, as result records.
fn host_records(model: &Model<'_>, images: &[u8]) -> Result<Vec<qemu::Record>> {
    let mut arena = vec![0u8; model.arena_bytes()];
    images
        .chunks_exact(INPUT_LEN)
        .map(|image| {
            let p = model
                .predict(image, &mut arena)
                .context("host predict failed")?;
            Ok(qemu::Record {
                digit: p.class(),
                logits: p.logits().to_vec(),
            })
        })
        .collect()
}
