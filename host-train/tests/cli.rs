//! End-to-end tests of the `sumi-train` binary on real MNIST (env `MNIST_DIR`).
//!
//! Without `MNIST_DIR` the MNIST tests print a loud notice and skip, unless
//! `SUMI_REQUIRE_MNIST=1`, in which case they fail.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sumi_core::blob::{self, DenseDesc, DenseOutput, LayerDesc, ModelDesc};
use sumi_core::models::DEFAULT;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sumi-train"))
}

fn mnist_dir(test: &str) -> Option<PathBuf> {
    match std::env::var_os("MNIST_DIR") {
        Some(d) => Some(PathBuf::from(d)),
        None => {
            if std::env::var("SUMI_REQUIRE_MNIST").as_deref() == Ok("1") {
                panic!("{test}: MNIST_DIR is not set but SUMI_REQUIRE_MNIST=1");
            }
            eprintln!(
                "\n*** SKIPPED {test}: MNIST_DIR is not set (point it at the MNIST files, e.g. shared/mnist) ***\n"
            );
            None
        }
    }
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sumi-train-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("cannot start sumi-train");
    eprintln!(
        "--- {:?}\nstatus {:?}\nstdout:\n{}\nstderr:\n{}",
        cmd,
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn digest(dir: &Path) -> String {
    let o = run(bin().args(["digest", "--checkpoint"]).arg(dir));
    assert!(o.status.success());
    String::from_utf8(o.stdout).unwrap()
}

/// `train --resume DIR`: continue the run in `dir`.
fn resume(mnist: &Path, dir: &Path) -> Output {
    run(bin()
        .args(["train", "--quiet", "--data-dir"])
        .arg(mnist)
        .arg("--resume")
        .arg(dir))
}

/// Quick training args shared by the tests: tiny model, few steps.
fn quick(mnist: &Path, out: &Path, steps: usize) -> Command {
    let mut c = bin();
    c.args([
        "train",
        "--preset",
        "tiny",
        "--batch-size",
        "64",
        "--quiet",
        "--threads",
        "2",
    ])
    .arg("--data-dir")
    .arg(mnist)
    .arg("--out")
    .arg(out)
    .args(["--max-steps-per-epoch", &steps.to_string()]);
    c
}

/// Trains one recipe (`quick` plus what `recipe` adds, 12 steps per epoch) twice: into
/// `straight` uninterrupted, into `resumed` stopped after 17 steps (exit 130) and continued with
/// `--resume`. Both must end with the same weights; returns their digest.
fn assert_resume_is_bit_identical(
    mnist: &Path,
    straight: &Path,
    resumed: &Path,
    recipe: impl Fn(&mut Command),
) -> String {
    let mut c = quick(mnist, straight, 12);
    recipe(&mut c);
    let o = run(&mut c);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut c = quick(mnist, resumed, 12);
    recipe(&mut c);
    let o = run(c.args(["--stop-after-steps", "17"]));
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    let o = resume(mnist, resumed);
    assert!(o.status.success(), "{}", stderr(&o));
    let d = digest(straight);
    assert_eq!(
        d,
        digest(resumed),
        "a resumed run must end identical ({})",
        resumed.display()
    );
    d
}

#[test]
fn short_training_exports_a_blob_that_agrees_with_float() {
    let Some(mnist) = mnist_dir("short_training_exports_a_blob_that_agrees_with_float") else {
        return;
    };
    let dir = tmpdir("short");
    let o = run(quick(&mnist, &dir, 300).args(["--epochs", "1"]));
    assert!(o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("leak audit"),
        "the leak audit must be reported before training"
    );
    for f in [
        "metrics.csv",
        "curves.png",
        "model.sumi",
        "export.json",
        "config.json",
        "state.json",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    let rep: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("export.json")).unwrap()).unwrap();
    let float = rep["test_float_accuracy"].as_f64().unwrap();
    let int8 = rep["test_int8_accuracy"].as_f64().unwrap();
    let agree = rep["test_agreement"].as_f64().unwrap();
    assert!(float > 0.80, "float accuracy {float} after 300 steps");
    assert!(int8 > 0.80, "int8 accuracy {int8}");
    assert!(
        agree >= 0.99,
        "int8 and float agree on only {agree} of the test set"
    );

    // The blob loads in sumi-core on its own and classifies test images well.
    let blob = std::fs::read(dir.join("model.sumi")).unwrap();
    let model = sumi_core::Model::from_bytes(&blob).expect("blob must load");
    assert_eq!(model.classes(), 10);
    assert!(model.metadata().int8_accuracy.is_some());
    let test = sumi_data::load_test(Some(&mnist)).unwrap();
    let mut arena = vec![0u8; model.arena_bytes()];
    let n = 1000;
    let ok = (0..n)
        .filter(|&i| model.predict(test.image(i), &mut arena).unwrap().class() == test.labels[i])
        .count();
    assert!(ok as f64 / n as f64 > 0.80, "{ok}/{n}");

    // eval --json on the exported blob.
    let figs = dir.join("eval");
    let o = run(bin()
        .args(["eval", "--json", "--model"])
        .arg(dir.join("model.sumi"))
        .arg("--data-dir")
        .arg(&mnist)
        .arg("--out")
        .arg(&figs));
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["images"], 10_000);
    assert!((v["accuracy"].as_f64().unwrap() - int8).abs() < 1e-9);
    assert_eq!(v["per_class"].as_array().unwrap().len(), 10);
    assert_eq!(v["confusion"].as_array().unwrap().len(), 10);
    assert!(figs.join("confusion.png").is_file() && figs.join("mistakes.png").is_file());

    // predict: a real test digit written as an inverted, upscaled PNG, plus a bad file.
    let digit = test.labels[0];
    let img = image::GrayImage::from_fn(112, 112, |x, y| {
        image::Luma([255 - test.image(0)[(y / 4 * 28 + x / 4) as usize]])
    });
    let png = dir.join("digit.png");
    img.save(&png).unwrap();
    let bad = dir.join("bad.png");
    std::fs::write(&bad, b"not an image").unwrap();
    let o = run(bin()
        .args(["predict", "--json", "--model"])
        .arg(dir.join("model.sumi"))
        .arg(&png)
        .arg(&bad));
    assert!(!o.status.success(), "a bad file must give a non-zero exit");
    let lines: Vec<serde_json::Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["digit"], u64::from(digit));
    assert_eq!(lines[0]["probabilities"].as_array().unwrap().len(), 10);
    assert!(lines[1]["error"].is_string());

    // Issue 15 case 8: export --out X writes X only; the checkpoint's model.sumi stays.
    std::fs::write(dir.join("model.sumi"), b"marker").unwrap();
    let other = dir.join("other.sumi");
    let o = run(bin()
        .args(["export", "--checkpoint"])
        .arg(&dir)
        .arg("--data-dir")
        .arg(&mnist)
        .arg("--out")
        .arg(&other));
    assert!(o.status.success());
    assert_eq!(std::fs::read(dir.join("model.sumi")).unwrap(), b"marker");
    let exported = std::fs::read(&other).unwrap();
    let m = sumi_core::Model::from_bytes(&exported).unwrap();
    assert!(m.temperature() > 0.0);
    assert!(stderr(&o).contains("temperature"), "{}", stderr(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn resume_after_interrupt_gives_identical_weights() {
    let Some(mnist) = mnist_dir("resume_after_interrupt_gives_identical_weights") else {
        return;
    };
    let a = tmpdir("uninterrupted");
    let b = tmpdir("interrupted");
    let args = ["--epochs", "2", "--limit-train", "4096", "--no-export"];
    let o = run(quick(&mnist, &a, 12).args(args));
    assert!(o.status.success());
    // Interrupted mid-way through the second epoch, then resumed.
    let o = run(quick(&mnist, &b, 12)
        .args(args)
        .args(["--stop-after-steps", "17"]));
    assert_eq!(
        o.status.code(),
        Some(130),
        "an interrupted run exits with 130"
    );
    assert!(stderr(&o).contains("--resume"));
    let mid = digest(&b);
    assert!(mid.contains("epoch 1 step 5"), "{mid}");
    let o = resume(&mnist, &b);
    assert!(o.status.success());
    let (da, db) = (digest(&a), digest(&b));
    assert_eq!(da, db, "resumed run must end with the same weights");
    assert!(da.contains("epoch 2 step 0 global_step 24"), "{da}");
    // Same seed, fresh run: same weights (determinism); different seed: different weights.
    let c = tmpdir("seed2");
    let o = run(quick(&mnist, &c, 12).args(args).args(["--seed", "2"]));
    assert!(o.status.success());
    assert_ne!(digest(&c).split(' ').next(), da.split(' ').next());
    for d in [a, b, c] {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// `--act-quant`: activation ranges are learnt, saved with each checkpoint (a resumed run ends
/// bit-identical, ranges included), change what is trained, and are what the exporter uses.
#[test]
fn act_quant_resumes_bit_identically_and_exports_its_ranges() {
    let Some(mnist) = mnist_dir("act_quant_resumes_bit_identically_and_exports_its_ranges") else {
        return;
    };
    let (a, b, f) = (
        tmpdir("aq-straight"),
        tmpdir("aq-resumed"),
        tmpdir("aq-float"),
    );
    let args = ["--epochs", "2", "--limit-train", "4096", "--no-export"];
    let da = assert_resume_is_bit_identical(&mnist, &a, &b, |c| {
        c.args(args).arg("--act-quant");
    });
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.join("state.json")).unwrap()).unwrap();
    let ranges = state["act_ranges"].as_array().expect("act_ranges saved");
    assert_eq!(ranges.len(), 2, "one range per hidden layer: {state}");
    assert!(ranges.iter().all(|r| r.as_f64().unwrap() > 0.0), "{state}");
    // The same recipe without --act-quant trains other weights.
    let o = run(quick(&mnist, &f, 12).args(args));
    assert!(o.status.success());
    assert_ne!(digest(&f).split(' ').next(), da.split(' ').next());
    // Export: the trained ranges, not a calibration; the blob agrees with the model it came from.
    let o = run(bin()
        .args(["export", "--checkpoint"])
        .arg(&b)
        .arg("--data-dir")
        .arg(&mnist));
    assert!(o.status.success());
    assert!(
        stderr(&o).contains("activation ranges from --act-quant training"),
        "{}",
        stderr(&o)
    );
    let rep: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.join("export.json")).unwrap()).unwrap();
    assert_eq!(rep["trained_activation_ranges"], true, "{rep}");
    let agree = rep["test_agreement"].as_f64().unwrap();
    assert!(agree >= 0.99, "int8 vs --act-quant float agreement {agree}");
    for d in [a, b, f] {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// `--weight-scale mean`: recorded in the run's recipe, kept by a resumed run (bit-identical
/// end), trains other weights than the default `max`, and the exporter quantizes with the rule
/// the run trained with (a blob quantized by the other rule would disagree with its 2-bit
/// model on many images).
#[test]
fn weight_scale_mean_resumes_bit_identically_and_exports_with_its_rule() {
    let Some(mnist) =
        mnist_dir("weight_scale_mean_resumes_bit_identically_and_exports_with_its_rule")
    else {
        return;
    };
    let (a, b, m) = (
        tmpdir("ws-straight"),
        tmpdir("ws-resumed"),
        tmpdir("ws-max"),
    );
    let args = [
        "--epochs",
        "2",
        "--limit-train",
        "4096",
        "--no-export",
        "--arch",
        "8p:4,12p:2/10:2",
    ];
    let da = assert_resume_is_bit_identical(&mnist, &a, &b, |c| {
        c.args(args).args(["--weight-scale", "mean"]);
    });
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["arch"]["weight_scale"], "mean", "{config}");
    let o = run(quick(&mnist, &m, 12).args(args));
    assert!(o.status.success());
    assert_ne!(digest(&m).split(' ').next(), da.split(' ').next());
    let o = run(bin()
        .args(["export", "--checkpoint"])
        .arg(&b)
        .arg("--data-dir")
        .arg(&mnist));
    assert!(o.status.success(), "{}", stderr(&o));
    let rep: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.join("export.json")).unwrap()).unwrap();
    let agree = rep["test_agreement"].as_f64().unwrap();
    assert!(
        agree >= 0.99,
        "int8 vs --weight-scale mean float agreement {agree}"
    );
    let blob = std::fs::read(b.join("model.sumi")).unwrap();
    let needle = b"--weight-scale mean";
    assert!(
        blob.windows(needle.len()).any(|w| w == needle),
        "the blob's recipe names the rule"
    );
    for d in [a, b, m] {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// `--init-from`: a quantization-aware run starts from the weights another (float) run ended
/// with, its own bits applied; different layer widths are refused with a clear error.
#[test]
fn init_from_starts_from_the_weights_of_another_run() {
    let Some(mnist) = mnist_dir("init_from_starts_from_the_weights_of_another_run") else {
        return;
    };
    let (float, qat, wrong) = (tmpdir("float"), tmpdir("qat"), tmpdir("wrong"));
    let args = ["--epochs", "1", "--limit-train", "1024", "--no-export"];
    let o = run(quick(&mnist, &float, 6)
        .args(args)
        .args(["--arch", "8p,12p/10"]));
    assert!(o.status.success());
    // Stopped before its first step: its checkpoint holds the weights it started from.
    let o = run(quick(&mnist, &qat, 6)
        .args(args)
        .args([
            "--arch",
            "8p:4,12p:2/10:2",
            "--stop-after-steps",
            "0",
            "--init-from",
        ])
        .arg(&float));
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("starting from the weights of"),
        "{}",
        stderr(&o)
    );
    let weights = |d: &Path| digest(d).split(' ').next().unwrap().to_owned();
    assert_eq!(weights(&qat), weights(&float));
    let config = std::fs::read_to_string(qat.join("config.json")).unwrap();
    assert!(config.contains("init_from"), "{config}");
    // It trains on from there, quantization-aware.
    let o = resume(&mnist, &qat);
    assert!(o.status.success());
    assert_ne!(weights(&qat), weights(&float));
    // Other widths: refused, naming the option and the architecture.
    let o = run(quick(&mnist, &wrong, 6)
        .args(args)
        .args(["--arch", "8p,16p/10", "--init-from"])
        .arg(&float));
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("--init-from") && e.contains("8p,16p/10"), "{e}");
    for d in [float, qat, wrong] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn bad_inputs_give_clear_errors() {
    let dir = tmpdir("bad");
    // Missing data directory.
    let o = run(bin()
        .args(["train", "--quiet", "--data-dir"])
        .arg(dir.join("nope"))
        .arg("--out")
        .arg(dir.join("run")));
    assert!(!o.status.success());
    assert!(stderr(&o).contains("MNIST"), "{}", stderr(&o));
    let o = run(bin().args(["audit", "--data-dir"]).arg(dir.join("nope")));
    assert!(!o.status.success());
    let o = run(bin()
        .args(["eval", "--data-dir"])
        .arg(dir.join("nope"))
        .args(["--model", "/nonexistent.sumi"]));
    assert!(!o.status.success());
    assert!(stderr(&o).contains("/nonexistent.sumi"));

    // Corrupt checkpoint: not a run directory, corrupt state, corrupt model record.
    let o = run(bin().args(["export", "--checkpoint"]).arg(dir.join("nope")));
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not a directory"));
    let run_dir = dir.join("corrupt");
    std::fs::create_dir_all(&run_dir).unwrap();
    let o = run(bin().args(["train", "--resume"]).arg(&run_dir));
    assert!(!o.status.success());
    assert!(stderr(&o).contains("config.json"), "{}", stderr(&o));
    let cfg = r#"{"preset":"tiny","arch":{"convs":[{"in_c":1,"out_c":8,"kernel":3,"pool":true},{"in_c":8,"out_c":16,"kernel":3,"pool":true}],"dense":[10],"dropout_permille":100},"epochs":1,"batch_size":64,"seed":1,"backend":"flex","lr":0.003,"warmup_steps":400,"min_lr_ratio":0.01,"weight_decay":0.0001,"augment":{"shift":2.0,"rotate_deg":10.0,"scale":0.1},"val_size":5000,"limit_train":null,"max_steps_per_epoch":null}"#;
    std::fs::write(run_dir.join("config.json"), cfg).unwrap();
    std::fs::write(run_dir.join("state.json"), "{ garbage").unwrap();
    let o = run(bin().args(["export", "--checkpoint"]).arg(&run_dir));
    assert!(!o.status.success());
    assert!(stderr(&o).contains("corrupt"), "{}", stderr(&o));
    let state = r#"{"epoch":1,"step":0,"global_step":10,"partial":{"loss_sum":0.0,"correct":0,"seen":0,"seconds":0.0},"history":[],"model_file":"model-e1s0.bpk","optim_file":"optim-e1s0.bpk","train_seconds":1.0}"#;
    std::fs::write(run_dir.join("state.json"), state).unwrap();
    std::fs::write(run_dir.join("model-e1s0.bpk"), b"definitely not burnpack").unwrap();
    std::fs::write(run_dir.join("optim-e1s0.bpk"), b"nor this").unwrap();
    for args in [
        &["export", "--checkpoint"][..],
        &["digest", "--checkpoint"],
        &["train", "--resume"],
    ] {
        let o = run(bin().args(args).arg(&run_dir));
        assert!(!o.status.success());
        assert!(stderr(&o).contains("corrupt"), "{}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    }

    // predict: unreadable, empty file, empty (blank) image, corrupt model.
    let blank = dir.join("blank.png");
    image::GrayImage::from_pixel(64, 64, image::Luma([255]))
        .save(&blank)
        .unwrap();
    let empty = dir.join("empty.png");
    std::fs::write(&empty, b"").unwrap();
    let model_blob = dir.join("model.sumi");
    std::fs::write(&model_blob, b"SUMI garbage").unwrap();
    let o = run(bin()
        .args(["predict", "--model"])
        .arg(&model_blob)
        .arg(&blank));
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not a usable Sumi model"));
    if sumi_core::Model::from_bytes(sumi_core::models::DEFAULT).is_ok() {
        let o = run(bin()
            .args(["predict", "--json"])
            .arg(dir.join("missing.png"))
            .arg(&empty)
            .arg(&blank));
        assert!(!o.status.success());
        let out = String::from_utf8(o.stdout).unwrap();
        let lines: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        assert!(lines.iter().all(|l| l["error"].is_string()), "{out}");
        assert!(lines[1]["error"].as_str().unwrap().contains("empty file"));
        assert!(lines[2]["error"].as_str().unwrap().contains("empty"));
    }
    // Bad architecture and recipe flags (checked before any data is read).
    for (flags, says) in [
        (&["--arch", "16,32p/48"][..], "must have 10 outputs"),
        (&["--arch", "16,80,16/10"], "over the core's 576"),
        (&["--dropout", "1.5"], "--dropout"),
        (&["--label-smoothing", "1"], "--label-smoothing"),
    ] {
        let o = run(bin()
            .arg("train")
            .args(flags)
            .arg("--out")
            .arg(dir.join("arch"))
            .arg("--data-dir")
            .arg(dir.join("nope")));
        assert!(!o.status.success());
        assert!(stderr(&o).contains(says), "{flags:?}: {}", stderr(&o));
    }
    // Bad numeric arguments.
    let o = run(bin()
        .args(["train", "--threads", "0", "--data-dir"])
        .arg(dir.join("nope")));
    assert!(!o.status.success());
    let _ = std::fs::remove_dir_all(&dir);
}

// ---- issue 15: the crafted inputs of the hostile-user session ----------------------------
// Crafted blobs are built from the committed default model and written as fixture files under
// the test's temporary directory, so they track the format.

fn encode(desc: &ModelDesc<'_>) -> Vec<u8> {
    sumi_core::builder::encode_exact(desc).unwrap()
}

/// The issue's blob: the default model with 16 classes that answers "12" wherever the default
/// answers "2" (row 12 is the old row 2; rows 2, 10, 11, 13–15 can never win).
fn sixteen_classes() -> Vec<u8> {
    let (_, desc) = blob::decode(DEFAULT).unwrap();
    let Some(LayerDesc::Dense(last)) = desc.layers.last() else {
        panic!("the default model ends in a dense layer");
    };
    let inf = last.in_features as usize;
    let row = |o: usize| -> (Vec<u8>, Vec<u8>, Vec<u8>, u8) {
        (
            last.weights[o * inf..(o + 1) * inf].to_vec(),
            last.bias[4 * o..4 * o + 4].to_vec(),
            last.multipliers[4 * o..4 * o + 4].to_vec(),
            last.shifts[o],
        )
    };
    let (mut w, mut b, mut m, mut s) = (vec![], vec![], vec![], vec![]);
    for o in 0..16 {
        let (rw, rb, rm, rs) = match o {
            12 => row(2),
            o if o < 10 && o != 2 => row(o),
            _ => {
                let (_, _, rm, rs) = row(0);
                (vec![0; inf], (-(1i32 << 29)).to_le_bytes().to_vec(), rm, rs)
            }
        };
        w.extend(rw);
        b.extend(rb);
        m.extend(rm);
        s.push(rs);
    }
    let mut d = desc.clone();
    let n = d.layers.len();
    d.layers[n - 1] = LayerDesc::Dense(DenseDesc {
        out_features: 16,
        weights: &w,
        bias: &b,
        multipliers: &m,
        shifts: &s,
        output: DenseOutput::Logits,
        ..last.clone()
    });
    encode(&d)
}

/// The default model with its float accuracy patched to NaN in place (CRC fixed): the encoder
/// would refuse to write it, so the bytes are edited like a hostile user would.
fn nan_accuracy() -> Vec<u8> {
    let (_, desc) = blob::decode(DEFAULT).unwrap();
    let meta = &desc.meta;
    let varint = |n: usize| {
        if n < 128 {
            1
        } else if n < 16384 {
            2
        } else {
            3
        }
    };
    let at = blob::HEADER_LEN
        + [meta.name, meta.created, meta.recipe]
            .iter()
            .map(|s| varint(s.len()) + s.len())
            .sum::<usize>();
    let mut b = DEFAULT.to_vec();
    assert_eq!(b[at], 1, "float_accuracy is Some");
    b[at + 1..at + 5].copy_from_slice(&f32::NAN.to_le_bytes());
    let crc = sumi_core::blob::crc32(&b[blob::HEADER_LEN..]);
    b[16..20].copy_from_slice(&crc.to_le_bytes());
    b
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Case 1: a 16-class model is refused by eval and predict, never scored with folded classes.
#[test]
fn a_model_whose_classes_are_not_the_digits_is_refused() {
    let dir = tmpdir("classes");
    let model = write(&dir, "sixteen-classes.sumi", &sixteen_classes());
    sumi_core::Model::from_bytes(&std::fs::read(&model).unwrap()).expect("a valid blob");
    let o = run(bin()
        .args(["eval", "--json", "--model"])
        .arg(&model)
        .arg("--out")
        .arg(dir.join("eval")));
    assert!(!o.status.success());
    assert!(o.stdout.is_empty(), "no accuracy is printed for it");
    let e = stderr(&o);
    assert!(e.contains("16 classes") && e.contains("exactly 10"), "{e}");
    let png = dir.join("two.png");
    image::GrayImage::from_fn(40, 40, |x, _| image::Luma([if x == 20 { 255 } else { 0 }]))
        .save(&png)
        .unwrap();
    let o = run(bin().arg("predict").arg("--model").arg(&model).arg(&png));
    assert!(!o.status.success());
    assert!(stderr(&o).contains("16 classes"), "{}", stderr(&o));
}

/// Case 2: `/dev/zero` and a file far longer than its header are answered at once.
#[test]
fn model_reads_are_bounded() {
    let dir = tmpdir("bounded");
    if Path::new("/dev/zero").exists() {
        for cmd in ["predict", "eval"] {
            let t = std::time::Instant::now();
            let mut c = bin();
            c.args([cmd, "--model", "/dev/zero"]);
            if cmd == "predict" {
                c.arg(dir.join("x.png"));
            } else {
                c.arg("--out").arg(dir.join("e"));
            }
            let o = run(&mut c);
            assert!(!o.status.success());
            assert!(stderr(&o).contains("bad magic"), "{}", stderr(&o));
            assert!(t.elapsed().as_secs() < 20, "answered at once");
        }
    }
    let mut long = DEFAULT.to_vec();
    long.resize(DEFAULT.len() + (32 << 20), 0);
    let p = write(&dir, "long.sumi", &long);
    let o = run(bin()
        .args(["eval", "--model"])
        .arg(&p)
        .arg("--out")
        .arg(dir.join("e")));
    assert!(!o.status.success());
    assert!(stderr(&o).contains("longer than"), "{}", stderr(&o));
}

/// Case 3: an RGBA image with the ink only in the alpha channel is a digit, not "empty".
#[test]
fn ink_in_the_alpha_channel_is_read() {
    let dir = tmpdir("alpha");
    let png = dir.join("alpha-one.png");
    image::RgbaImage::from_fn(120, 120, |x, y| {
        let ink = (52..68).contains(&x) && (15..105).contains(&y);
        image::Rgba([0, 0, 0, if ink { 255 } else { 0 }])
    })
    .save(&png)
    .unwrap();
    let o = run(bin().args(["predict", "--json"]).arg(&png));
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["digit"], 1, "{v}");
}

/// Case 4: resume refuses a config or state sumi-train would never write, without panicking.
#[test]
fn resume_validates_config_and_state() {
    let dir = tmpdir("resume");
    let cfg = |batch: usize, epochs: usize| {
        format!(
            r#"{{"preset":"tiny","arch":{{"convs":[{{"in_c":1,"out_c":8,"kernel":3,"pool":true}},{{"in_c":8,"out_c":16,"kernel":3,"pool":true}}],"dense":[10],"dropout_permille":100}},"epochs":{epochs},"batch_size":{batch},"seed":1,"backend":"flex","lr":0.003,"warmup_steps":400,"min_lr_ratio":0.01,"weight_decay":0.0001,"augment":{{"shift":2.0,"rotate_deg":10.0,"scale":0.1}},"val_size":5000,"limit_train":null,"max_steps_per_epoch":null}}"#
        )
    };
    let state = |epoch: usize, step: usize, global: usize, history: usize| {
        let h = vec![r#"{"epoch":1,"lr":0.001,"train_loss":0.1,"train_acc":0.9,"val_loss":0.1,"val_acc":0.9,"seconds":1.0,"images_per_s":1.0}"#; history].join(",");
        format!(
            r#"{{"epoch":{epoch},"step":{step},"global_step":{global},"partial":{{"loss_sum":0.0,"correct":0,"seen":0,"seconds":0.0}},"history":[{h}],"model_file":"model-e0s1.bpk","optim_file":"optim-e0s1.bpk","train_seconds":1.0}}"#
        )
    };
    // 55,000 training images at batch 64: 859 steps per epoch.
    for (config, st, says) in [
        (cfg(0, 1), state(0, 1, 1, 0), "batch_size 0"),
        (cfg(64, 0), state(0, 0, 0, 0), "epochs 0"),
        (cfg(64, 1), state(0, 999_999, 999_999, 0), "step 999999"),
        (cfg(64, 2), state(2, 0, 2 * 859, 0), "history"),
        (cfg(64, 2), state(1, 5, 10, 1), "global_step 10"),
    ] {
        std::fs::write(dir.join("config.json"), config).unwrap();
        std::fs::write(dir.join("state.json"), st).unwrap();
        let o = run(bin().args(["train", "--resume"]).arg(&dir));
        assert_eq!(o.status.code(), Some(1), "an error, not a panic");
        let e = stderr(&o);
        assert!(e.contains(says) && e.contains("corrupt"), "{says}: {e}");
    }
}

/// Issue 15 case 6: non-UTF-8 file names come back exactly in `predict --json`.
#[cfg(unix)]
#[test]
fn predict_json_keeps_non_utf8_names() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tmpdir("names");
    let name = std::ffi::OsStr::from_bytes(b"digit-\xff\xfe.png");
    let p = dir.join(name);
    image::GrayImage::from_fn(60, 60, |x, _| {
        image::Luma([if (28..32).contains(&x) { 0 } else { 255 }])
    })
    .save_with_format(&p, image::ImageFormat::Png)
    .unwrap();
    let o = run(bin().args(["predict", "--json"]).arg(&p));
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let bytes: Vec<u8> = v["file_bytes"]
        .as_array()
        .expect("file_bytes for a non-UTF-8 name")
        .iter()
        .map(|b| b.as_u64().unwrap() as u8)
        .collect();
    assert_eq!(bytes, p.as_os_str().as_bytes());
}

/// Case 7: metadata out of range is refused at load, not shown as "NaN%".
#[test]
fn nan_accuracy_metadata_is_refused() {
    let dir = tmpdir("meta");
    let p = write(&dir, "nan-accuracy.sumi", &nan_accuracy());
    let o = run(bin()
        .args(["predict", "--model"])
        .arg(&p)
        .arg(dir.join("x.png")));
    assert!(!o.status.success());
    assert!(stderr(&o).contains("accuracy"), "{}", stderr(&o));
}

/// Case 8: an unwritable --out is found before the evaluation (and before the data is read).
#[test]
fn eval_checks_out_before_the_long_run() {
    let dir = tmpdir("out");
    let file = write(&dir, "a-file", b"x");
    let o = run(bin()
        .args(["eval", "--json", "--data-dir"])
        .arg(dir.join("no-mnist"))
        .arg("--out")
        .arg(file.join("sub")));
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("--out") && !e.contains("MNIST"), "{e}");
}

/// Case 8 with MNIST: results are printed even when the figures cannot be written.
#[test]
fn eval_prints_results_with_calibration_figures() {
    let Some(mnist) = mnist_dir("eval_prints_results_with_calibration_figures") else {
        return;
    };
    let dir = tmpdir("evaljson");
    let o = run(bin()
        .args(["eval", "--json", "--data-dir"])
        .arg(&mnist)
        .arg("--out")
        .arg(&dir));
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let c = &v["calibration"];
    let t = c["temperature"].as_f64().unwrap();
    assert!(t > 0.0);
    for k in ["uncalibrated", "calibrated"] {
        assert!(c[k]["nll"].as_f64().unwrap() > 0.0);
        assert!((0.0..1.0).contains(&c[k]["ece"].as_f64().unwrap()));
    }
    assert_eq!(v["not_a_digit"], 0);
}

/// `--distill-from`: the teacher's term changes the weights, a resumed distilled run ends
/// bit-identical (the teacher is integer-only), the recipe names the teacher, and a bad teacher
/// is refused before the run directory is made.
#[test]
fn distillation_changes_the_weights_and_resumes_bit_identically() {
    let Some(mnist) = mnist_dir("distillation_changes_the_weights_and_resumes_bit_identically")
    else {
        return;
    };
    let teacher = Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/models/default.sumi");
    let (a, b, f, bad) = (
        tmpdir("kd-straight"),
        tmpdir("kd-resumed"),
        tmpdir("kd-plain"),
        tmpdir("kd-bad"),
    );
    let args = ["--epochs", "2", "--limit-train", "4096", "--no-export"];
    let da = assert_resume_is_bit_identical(&mnist, &a, &b, |c| {
        c.args(args)
            .arg("--distill-from")
            .arg(&teacher)
            .args(["--distill-weight", "0.7"]);
    });
    let cfg = std::fs::read_to_string(a.join("config.json")).unwrap();
    assert!(cfg.contains("default.sumi") && cfg.contains("0.7"), "{cfg}");
    // The same recipe without a teacher trains other weights.
    assert!(run(quick(&mnist, &f, 12).args(args)).status.success());
    assert_ne!(digest(&f).split(' ').next(), da.split(' ').next());
    // A file that is not a blob: a clear error, no run directory.
    let junk = bad.with_extension("sumi");
    std::fs::write(&junk, b"not a model").unwrap();
    let o = run(quick(&mnist, &bad, 12)
        .args(args)
        .arg("--distill-from")
        .arg(&junk));
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("is not a usable blob"),
        "{}",
        stderr(&o)
    );
    assert!(!bad.join("config.json").exists());
    for d in [a, b, f] {
        let _ = std::fs::remove_dir_all(d);
    }
    let _ = std::fs::remove_file(junk);
}
