//! The report: bit-exactness, accuracy, memory and compute figures, as a table or JSON.

use std::fmt::Write as _;

use anyhow::{Result, bail};
use serde_json::{Value, json};
use sumi_core::{LayerInfo, Model};

use super::build::Budget;
use super::elf::Sizes;
use super::qemu::{Board, Outcome, Record};
use crate::protocol::{STAT_ARENA_DECLARED, STAT_ARENA_PEAK, STAT_STACK_PEAK, STAT_STACK_REGION};

/// What the report is computed from.
pub struct Inputs<'a> {
    pub board: Board,
    pub model_label: &'a str,
    pub model: &'a Model<'a>,
    pub budget: Budget,
    pub labels: &'a [u8],
    pub host: &'a [Record],
    pub outcome: &'a Outcome,
    pub sizes: Sizes,
    pub jobs: usize,
    /// Whole-map execution (`--whole-map`) instead of the streamed plan.
    pub whole_map: bool,
}

/// Exact instruction counts per inference.
#[derive(Debug, Clone)]
pub struct Instructions {
    pub min: u64,
    pub max: u64,
    pub mean: f64,
    /// Instructions of the whole firmware run.
    pub total: Option<u64>,
    /// Whole-map runs: each layer's mean instructions per inference (empty otherwise).
    pub per_layer: Vec<f64>,
}

/// The computed figures.
pub struct Report {
    board: Board,
    model_label: String,
    model_name: String,
    pub images: usize,
    pub identical: usize,
    first_mismatches: Vec<usize>,
    host_correct: usize,
    firmware_correct: usize,
    float_accuracy: Option<f32>,
    int8_accuracy_meta: Option<f32>,
    budget: Budget,
    sizes: Sizes,
    blob_bytes: usize,
    weight_bytes: usize,
    arena_declared: u64,
    arena_peak: u64,
    stack_peak: u64,
    stack_region: u64,
    macs: u64,
    params: u32,
    instructions: Option<Instructions>,
    layers: Vec<LayerInfo>,
    whole_map: bool,
    wall_s: f64,
    jobs: usize,
}

fn stat(outcome: &Outcome, key: &str) -> Result<u64> {
    match outcome.stats.get(key) {
        Some(&v) => Ok(v),
        None => bail!("the firmware's stats lack {key}"),
    }
}

impl Report {
    /// Computes the figures.
    pub fn new(i: Inputs<'_>) -> Result<Report> {
        let n = i.host.len();
        let fw = &i.outcome.records;
        let mismatches: Vec<usize> = (0..n).filter(|&k| fw[k] != i.host[k]).collect();
        let instructions = if i.outcome.per_inference.is_empty() {
            None
        } else {
            let counts = &i.outcome.per_inference;
            Some(Instructions {
                min: *counts.iter().min().expect("n > 0"),
                max: *counts.iter().max().expect("n > 0"),
                mean: counts.iter().sum::<u64>() as f64 / n as f64,
                total: i.outcome.total_instructions,
                per_layer: layer_means(&i.outcome.per_layer),
            })
        };
        let meta = i.model.metadata();
        Ok(Report {
            board: i.board,
            model_label: i.model_label.to_string(),
            model_name: meta.name.to_string(),
            images: n,
            identical: n - mismatches.len(),
            first_mismatches: mismatches.into_iter().take(10).collect(),
            host_correct: (0..n).filter(|&k| i.host[k].digit == i.labels[k]).count(),
            firmware_correct: (0..n).filter(|&k| fw[k].digit == i.labels[k]).count(),
            float_accuracy: meta.float_accuracy,
            int8_accuracy_meta: meta.int8_accuracy,
            budget: i.budget,
            sizes: i.sizes,
            blob_bytes: i.model.blob_bytes(),
            weight_bytes: i.model.weight_bytes(),
            arena_declared: stat(i.outcome, STAT_ARENA_DECLARED)?,
            arena_peak: stat(i.outcome, STAT_ARENA_PEAK)?,
            stack_peak: stat(i.outcome, STAT_STACK_PEAK)?,
            stack_region: stat(i.outcome, STAT_STACK_REGION)?,
            macs: i.model.macs(),
            params: i.model.params(),
            instructions,
            layers: i.model.layers().collect(),
            whole_map: i.whole_map,
            wall_s: i.outcome.wall.as_secs_f64(),
            jobs: i.jobs,
        })
    }

    fn pct(correct: usize, n: usize) -> f64 {
        100.0 * correct as f64 / n as f64
    }

    /// `streamed` (`Model::predict`) or `whole-map` (`Model::predict_with`).
    fn plan(&self) -> &'static str {
        if self.whole_map {
            "whole-map"
        } else {
            "streamed"
        }
    }

    fn ram_used(&self) -> u64 {
        self.sizes.static_ram + self.stack_peak
    }

    /// The report as JSON (sizes in bytes, accuracies in percent).
    pub fn to_json(&self) -> Value {
        let n = self.images;
        json!({
            "board": self.board.spec().name,
            "qemu_machine": self.board.machine(),
            "cpu": self.board.core(),
            "target": self.board.spec().target,
            "model": self.model_label,
            "model_name": self.model_name,
            "plan": self.plan(),
            "images": n,
            "identical_logits": self.identical,
            "all_identical": self.identical == n,
            "first_mismatches": self.first_mismatches,
            "host_accuracy_pct": Self::pct(self.host_correct, n),
            "firmware_accuracy_pct": Self::pct(self.firmware_correct, n),
            "float_accuracy_pct": self.float_accuracy.map(|a| 100.0 * f64::from(a)),
            "int8_accuracy_pct_metadata": self.int8_accuracy_meta.map(|a| 100.0 * f64::from(a)),
            "flash": {
                "budget_bytes": u64::from(self.budget.flash_kib) * 1024,
                "total_bytes": self.sizes.flash(),
                "code_bytes": self.sizes.code,
                "rodata_bytes": self.sizes.rodata,
                "data_init_bytes": self.sizes.data_init,
                "model_blob_bytes": self.blob_bytes,
                "model_weight_bytes": self.weight_bytes,
            },
            "ram": {
                "budget_bytes": u64::from(self.budget.ram_kib) * 1024,
                "static_bytes": self.sizes.static_ram,
                "arena_declared_bytes": self.arena_declared,
                "arena_peak_bytes": self.arena_peak,
                "stack_peak_bytes": self.stack_peak,
                "stack_region_bytes": self.stack_region,
                "used_bytes": self.ram_used(),
            },
            "compute": {
                "macs_per_inference": self.macs,
                "params": self.params,
                "instructions_method": self.instructions.as_ref().map(|_| "QEMU TCG plugin (exact guest instruction count between markers around Model::predict, marker overhead subtracted)"),
                "instructions_per_inference_min": self.instructions.as_ref().map(|c| c.min),
                "instructions_per_inference_max": self.instructions.as_ref().map(|c| c.max),
                "instructions_per_inference_mean": self.instructions.as_ref().map(|c| c.mean),
                "instructions_per_mac": self.instructions.as_ref().map(|c| c.mean / self.macs as f64),
                "instructions_total_run": self.instructions.as_ref().and_then(|c| c.total),
                "per_layer": self.per_layer().map(|(i, l, instr)| json!({
                    "layer": i,
                    "kind": describe(&l),
                    "macs": l.macs,
                    "instructions_mean": instr,
                    "instructions_per_mac": (l.macs > 0).then(|| instr / l.macs as f64),
                })).collect::<Vec<_>>(),
            },
            "emulation_wall_s": self.wall_s,
            "qemu_processes": self.jobs,
        })
    }

    /// The report as an aligned human-readable table.
    pub fn table(&self) -> String {
        let mut t = Table(String::new());
        self.model_rows(&mut t);
        self.accuracy_rows(&mut t);
        self.flash_rows(&mut t);
        self.ram_rows(&mut t);
        self.compute_rows(&mut t);
        t.0
    }

    /// Board, model, images run and bit-exactness.
    fn model_rows(&self, t: &mut Table) {
        let n = self.images;
        t.row(
            "board",
            format!(
                "{} ({}, {})",
                self.board.spec().name,
                self.board.core(),
                self.board.spec().target
            ),
        );
        t.row(
            "model",
            format!("{} [{}]", self.model_label, self.model_name),
        );
        t.row("execution plan", self.plan().to_owned());
        t.row("images run", n.to_string());
        t.row(
            "identical logits",
            format!(
                "{} / {n}{}",
                self.identical,
                if self.identical == n {
                    "  (bit-exact)"
                } else {
                    "  MISMATCH"
                }
            ),
        );
        if !self.first_mismatches.is_empty() {
            t.row(
                "first mismatching images",
                format!("{:?}", self.first_mismatches),
            );
        }
    }

    /// Host and firmware accuracy on the images run, and the blob's recorded accuracies.
    fn accuracy_rows(&self, t: &mut Table) {
        let n = self.images;
        let opt_pct = |a: Option<f32>| {
            a.map_or("n/a (not in blob metadata)".to_string(), |a| {
                format!("{:.2} %", 100.0 * a)
            })
        };
        t.row(
            "host accuracy (int8)",
            format!("{:.2} %", Self::pct(self.host_correct, n)),
        );
        t.row(
            "firmware accuracy (int8)",
            format!("{:.2} %", Self::pct(self.firmware_correct, n)),
        );
        t.row(
            "float accuracy (blob metadata)",
            opt_pct(self.float_accuracy),
        );
        t.row(
            "int8 accuracy (blob metadata)",
            opt_pct(self.int8_accuracy_meta),
        );
    }

    /// Flash: total against the budget, then its parts.
    fn flash_rows(&self, t: &mut Table) {
        t.row(
            "flash total / budget",
            format!(
                "{} B ({:.1} KiB) / {} KiB = {:.1} %",
                self.sizes.flash(),
                kib(self.sizes.flash()),
                self.budget.flash_kib,
                100.0 * kib(self.sizes.flash()) / f64::from(self.budget.flash_kib)
            ),
        );
        t.row(
            "  code (.vector_table + .text)",
            format!("{} B", self.sizes.code),
        );
        t.row(
            "  read-only data (.rodata)",
            format!("{} B", self.sizes.rodata),
        );
        t.row(
            "    of which model blob",
            format!(
                "{} B ({} B weights+biases)",
                self.blob_bytes, self.weight_bytes
            ),
        );
        t.row(
            "  .data initialisers",
            format!("{} B", self.sizes.data_init),
        );
    }

    /// RAM: static data with the arena, the stack high-water mark, their sum against the budget.
    fn ram_rows(&self, t: &mut Table) {
        t.row(
            "static RAM (.data+.bss+.uninit)",
            format!(
                "{} B (arena {} B declared, {} B touched)",
                self.sizes.static_ram, self.arena_declared, self.arena_peak
            ),
        );
        t.row(
            "peak stack (painted)",
            format!(
                "{} B of a {} B stack region",
                self.stack_peak, self.stack_region
            ),
        );
        t.row(
            "RAM used (static + peak stack)",
            format!(
                "{} B ({:.1} KiB) / {} KiB = {:.1} %",
                self.ram_used(),
                kib(self.ram_used()),
                self.budget.ram_kib,
                100.0 * kib(self.ram_used()) / f64::from(self.budget.ram_kib)
            ),
        );
    }

    /// MACs, instructions per inference and per MAC, emulation wall time.
    fn compute_rows(&self, t: &mut Table) {
        t.row("MACs per inference", self.macs.to_string());
        match &self.instructions {
            Some(c) => {
                let exact = if c.min == c.max {
                    "exact, identical for every image".to_string()
                } else {
                    format!("min {} / max {}", c.min, c.max)
                };
                t.row(
                    "instructions per inference",
                    format!("{:.0} ({exact})", c.mean),
                );
                t.row(
                    "instructions per MAC",
                    format!("{:.2}", c.mean / self.macs as f64),
                );
            }
            None => t.row(
                "instructions per inference",
                "not measured (--no-icount)".to_string(),
            ),
        }
        let total = self.instructions.as_ref().map_or(0.0, |c| c.mean);
        for (i, l, instr) in self.per_layer() {
            let per_mac = if l.macs > 0 {
                format!(", {:.2} / MAC", instr / l.macs as f64)
            } else {
                String::new()
            };
            t.row(
                &format!("  layer {i}: {}", describe(&l)),
                format!(
                    "{instr:.0} ({:.1} %{per_mac})",
                    100.0 * instr / total.max(1.0)
                ),
            );
        }
        t.row(
            "emulation wall time",
            format!(
                "{:.1} s ({} QEMU process(es) in parallel)",
                self.wall_s, self.jobs
            ),
        );
    }
}

impl Report {
    /// Whole-map runs: (index, layer, mean instructions) of every layer.
    fn per_layer(&self) -> impl Iterator<Item = (usize, LayerInfo, f64)> + '_ {
        let counts = self.instructions.as_ref().map_or(&[][..], |c| &c.per_layer);
        self.layers
            .iter()
            .zip(counts)
            .enumerate()
            .map(|(i, (l, &c))| (i, *l, c))
    }
}

/// Each layer's mean count over the inferences `per_layer` (one vector of layer counts each).
fn layer_means(per_layer: &[Vec<u64>]) -> Vec<f64> {
    let Some(first) = per_layer.first() else {
        return Vec::new();
    };
    (0..first.len())
        .map(|k| per_layer.iter().map(|c| c[k]).sum::<u64>() as f64 / per_layer.len() as f64)
        .collect()
}

/// A layer in a few words: `conv 3x3 16->32 +pool`.
fn describe(l: &LayerInfo) -> String {
    use sumi_core::LayerKind;
    let (i, o) = (l.input, l.output);
    let pool = if l.pool == sumi_core::blob::Pool::None {
        ""
    } else {
        " +pool"
    };
    match l.kind {
        LayerKind::Conv2d | LayerKind::DepthwiseConv2d => {
            let dw = if l.kind == LayerKind::Conv2d {
                ""
            } else {
                "dw "
            };
            format!(
                "{dw}conv {}x{} {}->{}{pool}",
                l.kernel.0, l.kernel.1, i.c, o.c
            )
        }
        LayerKind::Pool => "pool 2x2".to_owned(),
        LayerKind::Flatten => "flatten".to_owned(),
        LayerKind::Dense | LayerKind::Logits => format!("dense {}->{}", i.len(), o.len()),
    }
}

/// Bytes as KiB.
fn kib(bytes: u64) -> f64 {
    bytes as f64 / 1024.0
}

/// The text table being written: one aligned `key value` line per row.
struct Table(String);

impl Table {
    fn row(&mut self, key: &str, value: String) {
        let _ = writeln!(self.0, "  {key:<34} {value}");
    }
}
