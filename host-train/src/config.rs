//! The training recipe: a new run's [`RunConfig`] from the preset and the `train` flags, and the
//! recipe string written into the exported blob (the command that reproduces it).

use anyhow::{Result, bail};

use crate::checkpoint::RunConfig;
use crate::cli::TrainArgs;
use crate::{data, model, train};

/// The `train` flags that make `cfg` differ from its preset's architecture and loss.
pub fn arch_flags(cfg: &RunConfig) -> String {
    let recipe = train::default_config(cfg.preset);
    let preset = recipe.arch;
    let mut f = String::new();
    // The spec holds the weight bits too: a run that only changes them is still recorded.
    if cfg.arch.spec() != preset.spec() {
        f += &format!(" --arch {}", cfg.arch.spec());
    }
    if cfg.arch.dropout_permille != preset.dropout_permille {
        f += &format!(" --dropout {}", cfg.arch.dropout());
    }
    if cfg.arch.batch_norm && !preset.batch_norm {
        f += " --batch-norm";
    }
    if cfg.arch.weight_scale != preset.weight_scale
        && let Some(v) = clap::ValueEnum::to_possible_value(&cfg.arch.weight_scale)
    {
        f += &format!(" --weight-scale {}", v.get_name());
    }
    if cfg.label_smoothing != recipe.label_smoothing {
        f += &format!(" --label-smoothing {}", cfg.label_smoothing);
    }
    if let Some(d) = &cfg.distill {
        f += &format!(
            " --distill-from {} --distill-weight {} --distill-temp {}",
            d.teacher.display(),
            d.weight,
            d.temperature
        );
    }
    f
}

pub fn recipe_string(cfg: &RunConfig) -> String {
    format!(
        "sumi-train train --preset {}{} --epochs {} --batch-size {} --seed {} --lr {} --backend {}{}{}{}{}{} | {} | AdamW wd {} warm-up {} steps then cosine to {}x | augment shift ±{}px rot ±{}° scale ±{}% | val {} of 60k train",
        cfg.preset.name(),
        arch_flags(cfg),
        cfg.epochs,
        cfg.batch_size,
        cfg.seed,
        cfg.lr,
        cfg.backend.name(),
        if cfg.augment.is_none() {
            " --no-augment"
        } else {
            ""
        },
        cfg.limit_train
            .map(|n| format!(" --limit-train {n}"))
            .unwrap_or_default(),
        cfg.max_steps_per_epoch
            .map(|n| format!(" --max-steps-per-epoch {n}"))
            .unwrap_or_default(),
        cfg.init_from
            .as_ref()
            .map(|d| format!(" --init-from {}", d.display()))
            .unwrap_or_default(),
        if cfg.act_quant { " --act-quant" } else { "" },
        cfg.arch.describe(),
        cfg.weight_decay,
        cfg.warmup_steps,
        cfg.min_lr_ratio,
        cfg.augment.shift,
        cfg.augment.rotate_deg,
        cfg.augment.scale * 100.0,
        cfg.val_size,
    )
}

/// The training recipe for a new run: the preset's, with the command line's changes.
pub fn run_config(a: &TrainArgs) -> Result<RunConfig> {
    let mut cfg = train::default_config(a.preset);
    let preset_scale = cfg.arch.weight_scale;
    if let Some(e) = a.epochs {
        cfg.epochs = e;
    }
    if cfg.epochs == 0 || a.batch_size == 0 {
        bail!("--epochs and --batch-size must be at least 1");
    }
    let dropout_permille = match a.dropout {
        None => cfg.arch.dropout_permille,
        Some(p) if (0.0..0.95).contains(&p) => (p * 1000.0).round() as u32,
        Some(p) => bail!("--dropout {p}: must be in [0, 0.95)"),
    };
    cfg.arch = match &a.arch {
        Some(spec) => {
            model::Arch::parse(spec, dropout_permille, a.batch_norm).map_err(anyhow::Error::msg)?
        }
        None => model::Arch {
            dropout_permille,
            batch_norm: a.batch_norm || cfg.arch.batch_norm,
            ..cfg.arch
        },
    };
    // The preset's rule unless the flag names one (`--arch` alone keeps the preset's).
    cfg.arch.weight_scale = a.weight_scale.unwrap_or(preset_scale);
    cfg.label_smoothing = a.label_smoothing.unwrap_or(cfg.label_smoothing);
    if !(0.0..1.0).contains(&cfg.label_smoothing) {
        bail!(
            "--label-smoothing {}: must be in [0, 1)",
            cfg.label_smoothing
        );
    }
    cfg.batch_size = a.batch_size;
    cfg.seed = a.seed;
    cfg.lr = a.lr;
    cfg.backend = a.backend;
    cfg.val_size = a.val_size;
    cfg.limit_train = a.limit_train;
    cfg.max_steps_per_epoch = a.max_steps_per_epoch;
    cfg.init_from = a.init_from.clone();
    cfg.act_quant = a.act_quant;
    cfg.distill = a
        .distill_from
        .as_ref()
        .map(|teacher| crate::distill::Distill {
            teacher: teacher.clone(),
            weight: a.distill_weight,
            temperature: a.distill_temp,
        });
    if a.no_augment {
        cfg.augment = data::Augment::NONE;
    }
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Cmd};
    use crate::model::Preset;
    use clap::Parser as _;

    fn config(args: &[&str]) -> Result<RunConfig> {
        let cli = Cli::try_parse_from(["sumi-train", "train"].iter().chain(args))?;
        match cli.cmd {
            Cmd::Train(a) => run_config(&a),
            _ => unreachable!(),
        }
    }

    /// `--preset X` alone is exactly the preset's recipe (the committed model's reproduction
    /// command relies on it), and each flag changes only its own field.
    #[test]
    fn train_flags_override_only_what_they_name() {
        for p in [Preset::Default, Preset::Small, Preset::Tiny, Preset::Micro] {
            let c = config(&["--preset", p.name()]).unwrap();
            assert_eq!(c, train::default_config(p));
            assert_eq!(arch_flags(&c), "");
        }
        let c = config(&["--label-smoothing", "0"]).unwrap();
        assert_eq!(c.label_smoothing, 0.0);
        assert_eq!(c.arch, Preset::Default.arch());
        assert_eq!(arch_flags(&c), " --label-smoothing 0");
        let c = config(&[
            "--arch",
            "16,32p,32p/48,10",
            "--batch-norm",
            "--dropout",
            "0.1",
        ])
        .unwrap();
        assert_eq!(c.arch.spec(), "16,32p,32p/48,10");
        assert!(c.arch.batch_norm);
        assert_eq!(c.arch.dropout_permille, 100);
        assert_eq!(
            c.label_smoothing,
            train::default_config(Preset::Default).label_smoothing
        );
        assert_eq!(
            arch_flags(&c),
            " --arch 16,32p,32p/48,10 --dropout 0.1 --batch-norm"
        );
        assert!(config(&["--label-smoothing", "1"]).is_err());
        // The weight-scale rule: the preset's unless named, recorded when it differs.
        let c = config(&["--preset", "tiny", "--arch", "16p:4,24p:2/10:2"]).unwrap();
        assert_eq!(c.arch.weight_scale, model::WeightScale::Max);
        let c = config(&["--preset", "micro", "--arch", "16p:4,26p:2/10:2"]).unwrap();
        assert_eq!(c.arch.weight_scale, model::WeightScale::Mean);
        assert_eq!(arch_flags(&c), " --arch 16p:4,26p:2/10:2");
        let c = config(&["--preset", "micro", "--weight-scale", "max"]).unwrap();
        assert_eq!(arch_flags(&c), " --weight-scale max");
        let c = config(&["--preset", "tiny", "--weight-scale", "mean"]).unwrap();
        assert_eq!(arch_flags(&c), " --weight-scale mean");
        // The small preset is the micro recipe with the 44-wide architecture, 30 epochs and
        // dropout: the recipe its bundled model was trained with under `--preset micro`.
        let mut c = config(&[
            "--preset",
            "micro",
            "--arch",
            "16,32p:2,44:2,44p:2/10:2",
            "--epochs",
            "30",
            "--dropout",
            "0.25",
        ])
        .unwrap();
        c.preset = Preset::Small;
        assert_eq!(c, train::default_config(Preset::Small));
    }

    /// Distillation is part of the recipe (and so of the blob's reproduction command); its
    /// weight and temperature need a teacher.
    #[test]
    fn distill_flags_are_recorded() {
        let c = config(&[
            "--preset",
            "tiny",
            "--distill-from",
            "t.sumi",
            "--distill-temp",
            "2",
        ])
        .unwrap();
        let d = c.distill.as_ref().unwrap();
        assert_eq!(
            (d.teacher.to_str(), d.weight, d.temperature),
            (Some("t.sumi"), 0.5, 2.0)
        );
        assert_eq!(
            arch_flags(&c),
            " --distill-from t.sumi --distill-weight 0.5 --distill-temp 2"
        );
        assert!(config(&["--distill-weight", "0.9"]).is_err());
    }
}
