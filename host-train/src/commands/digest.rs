//! `sumi-train digest` (hidden): a digest of a checkpoint's float weights, to compare runs bit
//! for bit.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;

use crate::checkpoint;

pub fn run(dir: &Path) -> Result<ExitCode> {
    let dir = checkpoint::run_dir(dir)?;
    let cfg = checkpoint::load_config(&dir)?;
    let state = checkpoint::load_state(&dir)?;
    let net = checkpoint::load_model(&dir, &cfg, &state, &cfg.backend.device())?;
    let (h, n) = checkpoint::weights_digest(&net);
    println!(
        "{h:016x} {n} epoch {} step {} global_step {}",
        state.epoch, state.step, state.global_step
    );
    Ok(ExitCode::SUCCESS)
}
