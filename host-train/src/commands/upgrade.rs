//! `sumi-train upgrade`: rewrite a blob of any version this build reads in the current format
//! version, losslessly (the same integer layers, checked, and the same logits).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use sumi_core::blob;
use sumi_core::builder::{Layer, encode_exact};

use crate::cli::UpgradeArgs;

pub fn run(a: UpgradeArgs) -> Result<ExitCode> {
    let path = Some(a.model.clone());
    let (old, name) = super::read_model(&path)?;
    let (version, new) = upgrade(&old, &name, &path)?;
    sumi_data::write_atomic(&a.out, &new)
        .with_context(|| format!("cannot write {}", a.out.display()))?;
    eprintln!(
        "{name}: format version {version} -> {} ({} -> {} bytes, layers and logits unchanged); wrote {}",
        blob::VERSION,
        old.len(),
        new.len(),
        a.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `old` (a blob of any readable version, read from `path`, named `name` in messages) in the
/// current version, with the version it had.
fn upgrade(old: &[u8], name: &str, path: &Option<PathBuf>) -> Result<(u16, Vec<u8>)> {
    let before = super::open_model(old, name, path)?;
    let (header, desc) = blob::decode(old).map_err(|e| anyhow!("{name}: {e}"))?;
    let new = encode_exact(&desc).map_err(|e| anyhow!("cannot encode {name}: {e}"))?;
    check_lossless(&before, &desc, &new)?;
    Ok((header.version, new))
}

/// That `new` holds the same integer layers as `desc` (every weight, bias and requantization)
/// and gives `before`'s logits on a fixed set of inputs.
fn check_lossless(
    before: &sumi_core::Model<'_>,
    desc: &blob::ModelDesc<'_>,
    new: &[u8],
) -> Result<()> {
    let after = sumi_core::Model::from_bytes(new)
        .map_err(|e| anyhow!("internal error: the upgraded blob does not load: {e}"))?;
    let (_, back) = blob::decode(new).map_err(|e| anyhow!("{e}"))?;
    let owned = |d: &blob::ModelDesc<'_>| d.layers.iter().map(Layer::from).collect::<Vec<_>>();
    if owned(&back) != owned(desc) || back.logit_scale != desc.logit_scale {
        bail!("internal error: upgrading changed the layers");
    }
    let mut arena = vec![0u8; before.arena_bytes().max(after.arena_bytes())];
    let mut s = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..64 {
        let img: Vec<u8> = (0..sumi_core::preprocess::SIDE * sumi_core::preprocess::SIDE)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 56) as u8
            })
            .collect();
        let want = before.predict(&img, &mut arena)?.logits().to_vec();
        if after.predict(&img, &mut arena)?.logits() != want {
            bail!("internal error: upgrading changed the logits");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::upgrade;
    use std::path::PathBuf;

    #[test]
    fn a_current_blob_upgrades_to_itself_and_a_corrupt_one_is_refused() {
        for (name, blob) in [
            ("default", sumi_core::models::DEFAULT),
            ("micro", sumi_core::models::MICRO),
            ("small", sumi_core::models::SMALL),
        ] {
            let (version, new) = upgrade(blob, name, &Some(PathBuf::from(name))).unwrap();
            assert_eq!(version, sumi_core::blob::VERSION);
            assert_eq!(new, blob, "{name}");
        }
        let mut bad = sumi_core::models::DEFAULT.to_vec();
        bad[100] ^= 1;
        let e = upgrade(&bad, "bad", &Some(PathBuf::from("bad")))
            .unwrap_err()
            .to_string();
        assert!(e.contains("CRC"), "{e}");
    }
}
