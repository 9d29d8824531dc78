//! Running the firmware under QEMU (`qemu-system-arm`, `qemu-system-riscv32`) and reading back
//! what it wrote.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::boards::{self, BoardSpec};
use crate::protocol::{self, RESULTS_FILE, STATS_FILE, describe_exit};

/// An emulated board (one of [`crate::boards::BOARDS`]); `--board` takes its name.
#[derive(Debug, Clone, Copy)]
pub struct Board(pub &'static BoardSpec);

static BOARD_VALUES: LazyLock<Vec<Board>> =
    LazyLock::new(|| boards::BOARDS.iter().map(Board).collect());

impl clap::ValueEnum for Board {
    fn value_variants<'a>() -> &'a [Self] {
        &BOARD_VALUES
    }
    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.0.name).help(self.0.description))
    }
}

impl Board {
    /// The board's specification.
    pub fn spec(self) -> &'static BoardSpec {
        self.0
    }
    /// QEMU `-machine` name.
    pub fn machine(self) -> &'static str {
        self.0.machine
    }
    /// The core, as the report names it.
    pub fn core(self) -> &'static str {
        self.0.core
    }
}

/// The QEMU executable for `board` (`$QEMU_SYSTEM_ARM` / `$QEMU_SYSTEM_RISCV32`, default
/// `qemu-system-arm` / `qemu-system-riscv32`), or an error saying how to install it.
pub fn find_qemu(board: Board) -> Result<PathBuf> {
    let spec = board.spec();
    let exe = std::env::var_os(spec.qemu_env)
        .map(PathBuf::from)
        .unwrap_or_else(|| spec.qemu.into());
    let ok = Command::new(&exe)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        bail!(
            "{} not found, needed for board {} (install it: apt-get install {}, or set {})",
            exe.display(),
            spec.name,
            spec.qemu_package,
            spec.qemu_env
        );
    }
    Ok(exe)
}

/// One firmware prediction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Winning class.
    pub digit: u8,
    /// Integer logits.
    pub logits: Vec<i32>,
}

/// What a firmware run produced.
#[derive(Debug)]
pub struct Outcome {
    /// One record per image.
    pub records: Vec<Record>,
    /// `key=value` statistics the firmware wrote.
    pub stats: HashMap<String, u64>,
    /// Exact instructions of each inference (empty without the plugin).
    pub per_inference: Vec<u64>,
    /// Whole-map runs: the exact instructions of each layer of each inference (empty
    /// otherwise).
    pub per_layer: Vec<Vec<u64>>,
    /// Instructions of the whole run (None without the plugin).
    pub total_instructions: Option<u64>,
    /// Wall time of the emulation.
    pub wall: Duration,
}

/// Runs `elf` on `board` in `run_dir` (which must already hold the images file) and returns
/// the parsed outputs. `plugin` is `(library, mark address)`; the firmware marks
/// `layer_marks` more times during each inference (whole maps: after every layer but the
/// logits).
pub fn run(
    qemu: &Path,
    elf: &Path,
    board: Board,
    run_dir: &Path,
    plugin: Option<(&Path, u64)>,
    layer_marks: usize,
    timeout: Duration,
) -> Result<Outcome> {
    let mut cmd = Command::new(qemu);
    cmd.current_dir(run_dir);
    if let Some(cpu) = board.spec().cpu {
        cmd.args(["-cpu", cpu]);
    }
    if board.spec().runtime == boards::Runtime::Riscv {
        // No firmware (OpenSBI) in front: the reset vector jumps straight to the ELF.
        cmd.args(["-bios", "none"]);
    }
    cmd.args([
        "-machine",
        board.machine(),
        "-nographic",
        "-monitor",
        "none",
    ])
    .args([
        "-serial",
        "none",
        "-semihosting-config",
        "enable=on,target=native",
        "-kernel",
    ])
    .arg(elf)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let icount_file = run_dir.join("icount.txt");
    if let Some((lib, mark)) = plugin {
        cmd.arg("-plugin").arg(format!(
            "{},mark={mark:#x},out={}",
            lib.display(),
            icount_file.display()
        ));
    }
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start {}", qemu.display()))?;
    // Drain the pipes on threads so a chatty QEMU cannot block on a full pipe.
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let out_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut out, &mut s);
        s
    });
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut s);
        s
    });
    let status = loop {
        if let Some(status) = child.try_wait().context("waiting for QEMU")? {
            break status;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "QEMU did not finish within {} s (firmware hung?); raise --timeout-s if the model is very large",
                timeout.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let wall = start.elapsed();
    let console = format!(
        "{}{}",
        out_thread.join().unwrap_or_default(),
        err_thread.join().unwrap_or_default()
    );
    let code = status.code().unwrap_or(-1);
    if code != protocol::EXIT_OK {
        bail!(
            "firmware exited with code {code} ({}); its output:\n{}",
            describe_exit(code),
            console.trim()
        );
    }

    let results =
        std::fs::read(run_dir.join(RESULTS_FILE)).context("the firmware wrote no results file")?;
    let records = parse_records(&results)?;
    let stats_text = std::fs::read_to_string(run_dir.join(STATS_FILE))
        .context("the firmware wrote no stats file")?;
    let stats = stats_text
        .lines()
        .filter_map(|l| l.split_once('='))
        .filter_map(|(k, v)| Some((k.to_string(), v.trim().parse().ok()?)))
        .collect();
    let (segments, total_instructions) = if plugin.is_some() {
        let text =
            std::fs::read_to_string(&icount_file).context("the icount plugin wrote no counts")?;
        let mut marks = Vec::new();
        let mut total = None;
        for line in text.lines() {
            if let Some(t) = line.strip_prefix("total ") {
                total = t.parse().ok();
            } else {
                marks.push(
                    line.parse()
                        .with_context(|| format!("bad icount line {line:?}"))?,
                );
            }
        }
        (segments(&marks, records.len(), layer_marks)?, total)
    } else {
        (Vec::new(), None)
    };
    Ok(Outcome {
        records,
        stats,
        per_inference: segments.iter().map(|s| s.iter().sum()).collect(),
        per_layer: if layer_marks > 0 {
            segments
        } else {
            Vec::new()
        },
        total_instructions,
        wall,
    })
}

fn parse_records(mut bytes: &[u8]) -> Result<Vec<Record>> {
    let mut records = Vec::new();
    while !bytes.is_empty() {
        let classes = *bytes.get(1).context("truncated results record")? as usize;
        let len = protocol::record_len(classes);
        if bytes.len() < len {
            bail!("truncated results record {}", records.len());
        }
        let logits = bytes[2..len]
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        records.push(Record {
            digit: bytes[0],
            logits,
        });
        bytes = &bytes[len..];
    }
    Ok(records)
}

/// The counts of each inference's segments from the mark hits `[cal0, cal1, (before, `
/// `layer_marks` marks, after) per image]`: the instructions between consecutive marks, each
/// minus the marker overhead `cal1 - cal0` (two back-to-back marks). One segment per inference
/// when `layer_marks` is 0, else one per layer.
pub fn segments(marks: &[u64], images: usize, layer_marks: usize) -> Result<Vec<Vec<u64>>> {
    let per_image = 2 + layer_marks;
    if marks.len() != 2 + per_image * images {
        bail!(
            "the icount plugin saw {} marks, expected {} (2 + {per_image} per image)",
            marks.len(),
            2 + per_image * images
        );
    }
    let overhead = marks[1] - marks[0];
    Ok(marks[2..]
        .chunks_exact(per_image)
        .map(|m| m.windows(2).map(|p| p[1] - p[0] - overhead).collect())
        .collect())
}

impl Outcome {
    /// Joins the outcomes of consecutive shards of the image set (in order): records and
    /// counts are concatenated, peaks are maxima, counts of images and instructions add up.
    pub fn merge(shards: Vec<Outcome>) -> Outcome {
        let mut merged = Outcome {
            records: Vec::new(),
            stats: HashMap::new(),
            per_inference: Vec::new(),
            per_layer: Vec::new(),
            total_instructions: Some(0),
            wall: Duration::ZERO,
        };
        for shard in shards {
            merged.records.extend(shard.records);
            merged.per_inference.extend(shard.per_inference);
            merged.per_layer.extend(shard.per_layer);
            merged.total_instructions = match (merged.total_instructions, shard.total_instructions)
            {
                (Some(a), Some(b)) => Some(a + b),
                _ => None,
            };
            merged.wall = merged.wall.max(shard.wall);
            for (k, v) in shard.stats {
                let e = merged.stats.entry(k.clone()).or_insert(0);
                *e = if k == protocol::STAT_IMAGES {
                    *e + v
                } else {
                    (*e).max(v)
                };
            }
        }
        merged
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_subtract_the_marker_overhead() {
        // Calibration pair costs 5; two inferences of 105-5 = 100 and 205-5 = 200.
        let marks = [10, 15, 100, 205, 300, 505];
        assert_eq!(segments(&marks, 2, 0).unwrap(), vec![vec![100], vec![200]]);
        assert!(segments(&marks, 3, 0).is_err());
        assert!(segments(&marks[..5], 2, 0).is_err());
        // One layer mark per image: layers of 30-5 and 75-5, then 45-5 and 155-5.
        let marks = [10, 15, 100, 130, 205, 300, 345, 500];
        let want = vec![vec![25, 70], vec![40, 150]];
        assert_eq!(segments(&marks, 2, 1).unwrap(), want);
        assert!(segments(&marks, 2, 0).is_err());
    }

    #[test]
    fn records_round_trip_and_truncation_is_an_error() {
        let mut bytes = vec![7u8, 2];
        bytes.extend_from_slice(&(-3i32).to_le_bytes());
        bytes.extend_from_slice(&i32::MAX.to_le_bytes());
        bytes.extend_from_slice(&[1, 1]);
        bytes.extend_from_slice(&42i32.to_le_bytes());
        let records = parse_records(&bytes).unwrap();
        assert_eq!(
            records,
            vec![
                Record {
                    digit: 7,
                    logits: vec![-3, i32::MAX]
                },
                Record {
                    digit: 1,
                    logits: vec![42]
                },
            ]
        );
        assert!(parse_records(&bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn merge_concatenates_in_order_and_takes_peaks() {
        let shard = |digit: u8, stack: u64, count: u64| Outcome {
            records: vec![Record {
                digit,
                logits: vec![i32::from(digit)],
            }],
            stats: HashMap::from([
                (protocol::STAT_IMAGES.to_string(), 1),
                (protocol::STAT_STACK_PEAK.to_string(), stack),
            ]),
            per_inference: vec![count],
            per_layer: vec![vec![count - 1, 1]],
            total_instructions: Some(count + 10),
            wall: Duration::from_secs(u64::from(digit)),
        };
        let m = Outcome::merge(vec![shard(1, 300, 50), shard(2, 200, 60)]);
        assert_eq!(
            m.records.iter().map(|r| r.digit).collect::<Vec<_>>(),
            vec![1, 2]
        );
        assert_eq!(m.per_inference, vec![50, 60]);
        assert_eq!(m.per_layer, vec![vec![49, 1], vec![59, 1]]);
        assert_eq!(m.stats[protocol::STAT_IMAGES], 2);
        assert_eq!(m.stats[protocol::STAT_STACK_PEAK], 300);
        assert_eq!(m.total_instructions, Some(130));
        assert_eq!(m.wall, Duration::from_secs(2));
    }
}
