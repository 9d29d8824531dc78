//! `sumi-train bench`: training throughput (images/s) of each burn backend on real MNIST
//! batches, same model, batch size and augmentation as training.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::Result;

use crate::checkpoint::{Backend, State};
use crate::cli::BenchArgs;
use crate::train;

pub fn run(a: BenchArgs) -> Result<ExitCode> {
    let BenchArgs {
        data,
        preset,
        backend: backends,
        steps,
        batch_size,
        threads,
    } = a;
    super::set_threads(threads)?;
    let mnist = super::load_mnist(&data.data_dir)?;
    let backends = if backends.is_empty() {
        vec![Backend::Flex, Backend::Ndarray]
    } else {
        backends
    };
    let tmp = std::env::temp_dir().join(format!("sumi-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    println!(
        "bench: preset {}, batch {batch_size}, {steps} timed steps after 2 warm-up steps, {} threads",
        preset.name(),
        rayon::current_num_threads()
    );
    for b in backends {
        let mut cfg = train::default_config(preset);
        cfg.backend = b;
        cfg.batch_size = batch_size;
        cfg.epochs = 1;
        let sets = train::Sets::new(&mnist.train, &cfg);
        let device = b.device().autodiff();
        let session = |n| train::Session {
            dir: tmp.clone(),
            stop_after_steps: Some(n),
            stop: Arc::new(AtomicBool::new(false)),
            quiet: true,
        };
        let net = train::init_model(&cfg, &device);
        let (net, state, _) = train::train(
            &cfg,
            &sets,
            net,
            train::optimizer(&cfg),
            State::default(),
            &session(2),
        )?;
        let optim = crate::checkpoint::load_optim(&tmp, &state, train::optimizer(&cfg))?;
        let t = Instant::now();
        let (_, s2, _) = train::train(&cfg, &sets, net, optim, state.clone(), &session(steps))?;
        // The stop writes a checkpoint; time only the steps (the epoch clock the loop keeps)
        // unless the steps crossed an epoch boundary.
        let secs = if s2.epoch == state.epoch {
            s2.partial.seconds - state.partial.seconds
        } else {
            t.elapsed().as_secs_f64()
        };
        let imgs = (s2.global_step - state.global_step) * batch_size;
        println!(
            "{:>8}: {:>8.0} train img/s ({imgs} images in {secs:.1}s)",
            b.name(),
            imgs as f64 / secs
        );
    }
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(ExitCode::SUCCESS)
}
