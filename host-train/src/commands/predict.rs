//! `sumi-train predict`: classify image files through the core's preprocessing and inference.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::PredictArgs;
use crate::predict;

pub fn run(a: PredictArgs) -> Result<ExitCode> {
    let (blob, name) = super::read_model(&a.model)?;
    let model = super::open_model(&blob, &name, &a.model)?;
    let mut failed = 0;
    for f in &a.images {
        let r = predict::predict_file(&model, f);
        if r.is_err() {
            failed += 1;
        }
        if a.json {
            println!("{}", predict::json_line(f, &r));
        } else {
            match &r {
                Ok(p) => println!(
                    "{}: {} ({:.1}%)",
                    f.display(),
                    p.digit,
                    100.0 * p.confidence
                ),
                Err(e) => eprintln!("error: {e:#}"),
            }
        }
    }
    Ok(if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
