//! `sumi-train predict`: classify image files (PNG/JPEG/BMP, any size, either polarity) through
//! the core's preprocessing and int8 inference.

use std::io::{BufReader, Read};
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::json;

/// Largest accepted image side and decoded allocation (decompression-bomb guard).
pub const MAX_SIDE: u32 = 8192;
pub const MAX_ALLOC: u64 = 256 * 1024 * 1024;
/// Largest accepted file.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// A prediction for one file.
pub struct FilePrediction {
    pub digit: u8,
    pub confidence: f32,
    pub probabilities: Vec<f32>,
}

/// Decode `path` into greyscale with size limits; an alpha channel is composited first
/// ([`sumi_core::preprocess::grey_from_rgba`]).
pub fn load_grey(path: &Path) -> Result<image::GrayImage> {
    let f = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    if len > MAX_FILE_BYTES {
        bail!(
            "{} is {len} bytes, larger than the {MAX_FILE_BYTES}-byte limit",
            path.display()
        );
    }
    let mut bytes = Vec::new();
    BufReader::new(f)
        .take(MAX_FILE_BYTES)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.is_empty() {
        bail!("{} is an empty file, not an image", path.display());
    }
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .with_context(|| format!("cannot read {}", path.display()))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    if reader.format().is_none() {
        bail!(
            "{}: not a PNG, JPEG or BMP image (unrecognised content)",
            path.display()
        );
    }
    let img = reader.decode().map_err(|e| {
        anyhow!(
            "{}: cannot decode the image ({e}); use a valid PNG, JPEG or BMP of at most {MAX_SIDE}x{MAX_SIDE} pixels",
            path.display()
        )
    })?;
    if !img.color().has_alpha() {
        return Ok(img.to_luma8());
    }
    // Ink may live only in the alpha channel (RGB all 0): composite before preprocessing.
    let rgba = img.to_rgba8();
    let mut grey = image::GrayImage::new(rgba.width(), rgba.height());
    sumi_core::preprocess::grey_from_rgba(rgba.as_raw(), &mut grey)
        .map_err(|e| anyhow!("{}: {e}", path.display()))?;
    Ok(grey)
}

/// Classify one image file with `model`.
pub fn predict_file(model: &sumi_core::Model<'_>, path: &Path) -> Result<FilePrediction> {
    let grey = load_grey(path)?;
    let (w, h) = (grey.width() as usize, grey.height() as usize);
    let mut input = [0u8; sumi_data::IMAGE_BYTES];
    sumi_core::preprocess(grey.as_raw(), w, h, &mut input)
        .map_err(|e| anyhow!("{}: {e}", path.display()))?;
    let mut arena = vec![0u8; model.arena_bytes()];
    let p = model
        .predict(&input, &mut arena)
        .map_err(|e| anyhow!("{}: inference failed: {e}", path.display()))?;
    let probs = p.probabilities();
    Ok(FilePrediction {
        digit: p.class(),
        confidence: p.confidence(),
        probabilities: probs[..model.classes()].to_vec(),
    })
}

/// The `--json` line for a file. `file` is the name as given when it is valid UTF-8; otherwise
/// it is shown with U+FFFD replacements and `file_bytes` holds the exact bytes of the name
/// (Unix), so no name comes back altered without saying so.
pub fn json_line(file: &Path, r: &Result<FilePrediction>) -> String {
    let mut v = match r {
        Ok(p) => json!({
            "file": file.to_string_lossy(),
            "digit": p.digit,
            "confidence": p.confidence,
            "probabilities": p.probabilities,
        }),
        Err(e) => json!({ "file": file.to_string_lossy(), "error": format!("{e:#}") }),
    };
    if file.to_str().is_none() {
        v["file_bytes"] = json!(name_bytes(file));
    }
    v.to_string()
}

#[cfg(unix)]
fn name_bytes(file: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    file.as_os_str().as_bytes().to_vec()
}

#[cfg(not(unix))]
fn name_bytes(file: &Path) -> Vec<u8> {
    file.as_os_str().as_encoded_bytes().to_vec()
}
