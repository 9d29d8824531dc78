//! `sumi-train audit`: exact-duplicate leak audit of train/validation/test.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::DataArgs;
use crate::data;

/// The leak audit of the train/validation split (`val_size` held out) and the test set.
pub fn report(mnist: &sumi_data::Mnist, cfg_val: usize) -> sumi_data::audit::LeakReport {
    let (tr, va) = data::split_train_val(mnist.train.n, cfg_val);
    let gather = |idx: &[usize]| -> Vec<u8> {
        idx.iter()
            .flat_map(|&i| mnist.train.image(i).iter().copied())
            .collect()
    };
    let (t, v) = (gather(&tr), gather(&va));
    sumi_data::audit::leak_audit(&[
        ("train", &t),
        ("validation", &v),
        ("test", &mnist.test.images),
    ])
}

pub fn run(a: DataArgs) -> Result<ExitCode> {
    let mnist = super::load_mnist(&a.data_dir)?;
    print!("{}", report(&mnist, data::DEFAULT_VAL_SIZE));
    Ok(ExitCode::SUCCESS)
}
