//! `sumi-train eval`: int8 accuracy of a blob through sumi-core on the 10,000 test images, the
//! confusion matrix and the worst mistakes (figures), and optionally a checkpoint's float
//! accuracy.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Result, anyhow};

use crate::checkpoint;
use crate::cli::EvalArgs;
use crate::{eval, train};

/// Makes sure `dir` exists and takes files, before a long run whose results go there.
fn check_writable(dir: &Path) -> Result<()> {
    let fail = |e: std::io::Error| {
        anyhow!(
            "--out {}: cannot write there ({e}); pass --out with a writable directory",
            dir.display()
        )
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    let probe = dir.join(format!(".sumi-write-test-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(fail)?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

pub fn run(a: EvalArgs) -> Result<ExitCode> {
    let (blob, name) = super::read_model(&a.model)?;
    let model = super::open_model(&blob, &name, &a.model)?;
    check_writable(&a.out)?;
    let test = sumi_data::load_test(a.data.data_dir.as_deref())
        .map_err(|e| anyhow!("cannot load the MNIST test set: {e}"))?;
    let float_acc = match &a.checkpoint {
        Some(dir) => {
            let dir = checkpoint::run_dir(dir)?;
            let cfg = checkpoint::load_config(&dir)?;
            let state = checkpoint::load_state(&dir)?;
            let device = cfg.backend.device();
            let net = checkpoint::load_model(&dir, &cfg, &state, &device)?;
            let idx: Vec<usize> = (0..test.n).collect();
            Some(train::evaluate(&net, &test, &idx, &device).0)
        }
        None => None,
    };
    let ev = eval::evaluate(&model, &test)?;
    // Results first: a failure to draw the figures must not lose them.
    if a.json {
        println!("{}", ev.to_json(&name, float_acc));
    } else {
        println!(
            "model {name}: {} params, {} blob bytes, arena {} bytes, {} MACs",
            model.params(),
            blob.len(),
            model.arena_bytes(),
            model.macs()
        );
        println!(
            "int8 accuracy (sumi-core) on {} test images: {:.2}% ({} errors)",
            ev.images,
            100.0 * ev.accuracy(),
            ev.images as u32 - ev.confusion.correct()
        );
        if let Some(f) = float_acc {
            println!("float accuracy (checkpoint): {:.2}%", 100.0 * f);
        }
        let (t, before, after) = (ev.temperature, &ev.uncalibrated, &ev.calibrated);
        println!(
            "confidence: temperature {t:.4}; test NLL {:.4} (T=1) -> {:.4}, ECE {:.4} (T=1) -> {:.4}, mean confidence {:.2}% -> {:.2}%",
            before.nll,
            after.nll,
            before.ece,
            after.ece,
            100.0 * before.mean_confidence,
            100.0 * after.mean_confidence
        );
        print!("{}", ev.confusion.table());
    }
    ev.write_figures(&a.out, &test, a.mistakes)?;
    if !a.json {
        println!(
            "wrote {} and {}",
            a.out.join("confusion.png").display(),
            a.out.join("mistakes.png").display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
