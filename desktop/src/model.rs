//! The loaded model: validation through `sumi-core`, and one "analysis" per canvas update
//! (preprocessing + inference + the first convolution layers' feature maps), timed.
//!
//! Everything numeric is done by `sumi_core` (`preprocess::preprocess`, `Model::predict_with`):
//! the same integer code the firmware runs. This module only owns the blob and scratch memory.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

// `std::time::Instant` panics in a browser; web-time's is std's elsewhere.
use web_time::Instant;

use sumi_core::LayerKind;
use sumi_core::preprocess::preprocess;
use sumi_core::{
    BlobError, LayerInfo, Model, NotADigitClassifier, PredictError, Prediction, PreprocessError,
    Shape,
};
use sumi_data::model_file::{self, ModelFileError};

/// Side of the model input the app produces (MNIST: 28×28×1): the core's preprocessing output.
pub use sumi_core::preprocess::SIDE;
/// Number of classes the app displays (digits 0–9).
pub const CLASSES: usize = 10;
/// How many convolution layers' feature maps are captured for display.
pub const FEATURE_LAYERS: usize = 2;

/// Why a model could not be loaded. The messages are shown in the error dialog as they are.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The file could not be read, or is longer than its header declares (read bounded by
    /// `sumi_data::model_file`: never more than the header declares, at most 16 MiB).
    #[error(transparent)]
    File(ModelFileError),
    /// `sumi-core` rejected the blob.
    #[error("{origin} is not a valid Sumi model: {source}")]
    Blob {
        /// Where the blob came from (file path or "the embedded default model").
        origin: String,
        /// The core's validation error.
        source: BlobError,
    },
    /// The blob is valid but does not classify 28×28×1 images into 10 digits (the core's one
    /// rule, [`Model::check_digit_classifier`], shared with `sumi-train predict` and `eval`).
    #[error("{origin} cannot be used for MNIST digits: {source}")]
    Incompatible {
        /// Where the blob came from.
        origin: String,
        /// What the core found.
        source: NotADigitClassifier,
    },
}

/// Why a canvas could not be analysed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnalyseError {
    /// Nothing drawn (or invalid canvas): show the "draw a digit" state.
    #[error(transparent)]
    Preprocess(#[from] PreprocessError),
    /// Inference failed (cannot happen with a validated model and a correctly sized arena).
    #[error(transparent)]
    Predict(#[from] PredictError),
}

/// Where the model came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSource {
    /// One of `sumi_core::models::BUNDLED`, by name (`default` at start-up).
    Bundled(&'static str),
    /// A blob file given with `--model`.
    File(PathBuf),
}

/// Facts about the model for the model panel.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    /// Name from the blob's metadata.
    pub name: String,
    /// Parameter count.
    pub params: u32,
    /// Blob size in bytes.
    pub blob_bytes: usize,
    /// Multiply-accumulates per inference.
    pub macs: u64,
    /// Float test accuracy (0..1) from the metadata, if measured.
    pub float_accuracy: Option<f32>,
    /// int8 test accuracy (0..1) from the metadata, if measured.
    pub int8_accuracy: Option<f32>,
    /// Where it came from.
    pub source: ModelSource,
}

/// One captured feature map (a layer's int8 output, HWC).
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureMap {
    /// Layer index in the model.
    pub layer: usize,
    /// Short description, e.g. `conv 3×3 + max-pool`.
    pub kind: String,
    /// Output shape.
    pub shape: Shape,
    /// `shape.len()` values, HWC.
    pub data: Vec<i8>,
}

/// The result of one canvas update.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    /// The 28×28 input the network saw (0 = background, 255 = ink).
    pub input: [u8; SIDE * SIDE],
    /// The prediction.
    pub prediction: Prediction,
    /// Softmax probabilities of digits 0–9.
    pub probabilities: [f32; CLASSES],
    /// Feature maps of the first convolution layers.
    pub features: Vec<FeatureMap>,
    /// Time spent in preprocessing.
    pub preprocess_time: Duration,
    /// Time spent in inference (including copying the feature maps).
    pub inference_time: Duration,
}

impl Analysis {
    /// The two most likely digits, most likely first.
    pub fn top2(&self) -> (usize, usize) {
        top2(&self.probabilities)
    }
}

/// Indices of the two largest values, largest first (ties: lower index first).
pub fn top2(p: &[f32; CLASSES]) -> (usize, usize) {
    let mut order: [usize; CLASSES] = core::array::from_fn(|i| i);
    order.sort_by(|&a, &b| p[b].total_cmp(&p[a]).then(a.cmp(&b)));
    (order[0], order[1])
}

/// A validated model with its scratch memory.
pub struct LoadedModel {
    model: Model<'static>,
    source: ModelSource,
    arena: Vec<u8>,
    feature_layers: Vec<(usize, String)>,
}

impl std::fmt::Debug for LoadedModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedModel")
            .field("name", &self.model.metadata().name)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl LoadedModel {
    /// The embedded default model (`sumi_core::models::DEFAULT`).
    pub fn embedded() -> Result<Self, ModelError> {
        Self::bundled(sumi_core::models::BUNDLED[0])
    }

    /// One of the bundled models (`sumi_core::models::BUNDLED`).
    pub fn bundled(b: sumi_core::models::Bundled) -> Result<Self, ModelError> {
        let origin = format!("the embedded {} model", b.name);
        Self::from_static(b.blob, ModelSource::Bundled(b.name), &origin)
    }

    /// Loads and validates a blob file.
    pub fn from_file(path: &Path) -> Result<Self, ModelError> {
        let origin = path.display().to_string();
        let bytes = model_file::read(path).map_err(|e| match e {
            ModelFileError::Header { source, .. } => ModelError::Blob {
                origin: origin.clone(),
                source,
            },
            other => ModelError::File(other),
        })?;
        // Validate while the bytes are still owned, so a bad file costs nothing.
        check(&bytes, &origin)?;
        // `Model` borrows its blob (zero-copy, like on the microcontroller). A model is loaded
        // once per user action, so its few kilobytes are kept for the life of the process.
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        Self::from_static(bytes, ModelSource::File(path.to_owned()), &origin)
    }

    fn from_static(
        blob: &'static [u8],
        source: ModelSource,
        origin: &str,
    ) -> Result<Self, ModelError> {
        let model = check(blob, origin)?;
        // `predict_with` (feature maps) keeps every layer's whole output, so its arena, which
        // also serves `predict` (it is never smaller than `Model::arena_bytes`).
        let arena = vec![0; model.observed_arena_bytes()];
        let feature_layers = model
            .layers()
            .enumerate()
            .filter(|(_, l)| {
                matches!(l.kind, LayerKind::Conv2d | LayerKind::DepthwiseConv2d) && l.output.h > 1
            })
            .take(FEATURE_LAYERS)
            .map(|(i, l)| (i, describe_layer(&l)))
            .collect();
        Ok(Self {
            model,
            source,
            arena,
            feature_layers,
        })
    }

    /// Facts for the model panel.
    pub fn info(&self) -> ModelInfo {
        let meta = self.model.metadata();
        ModelInfo {
            name: meta.name.to_owned(),
            params: self.model.params(),
            blob_bytes: self.model.blob_bytes(),
            macs: self.model.macs(),
            float_accuracy: meta.float_accuracy,
            int8_accuracy: meta.int8_accuracy,
            source: self.source.clone(),
        }
    }

    /// The layers whose feature maps [`LoadedModel::analyse`] captures: (index, description).
    pub fn feature_layers(&self) -> &[(usize, String)] {
        &self.feature_layers
    }

    /// Preprocesses a `width × height` canvas (0 = paper, 255 = ink) and classifies it.
    pub fn analyse(
        &mut self,
        canvas: &[u8],
        width: usize,
        height: usize,
    ) -> Result<Analysis, AnalyseError> {
        let start = Instant::now();
        let mut input = [0u8; SIDE * SIDE];
        preprocess(canvas, width, height, &mut input)?;
        let preprocess_time = start.elapsed();

        let start = Instant::now();
        let wanted = &self.feature_layers;
        let mut features: Vec<FeatureMap> = Vec::with_capacity(wanted.len());
        let prediction =
            self.model
                .predict_with(&input, &mut self.arena, |layer, shape, data| {
                    if let Some((_, kind)) = wanted.iter().find(|(i, _)| *i == layer) {
                        features.push(FeatureMap {
                            layer,
                            kind: kind.clone(),
                            shape,
                            data: data.to_vec(),
                        });
                    }
                })?;
        let inference_time = start.elapsed();
        Ok(Analysis {
            input,
            probabilities: probabilities(&prediction),
            prediction,
            features,
            preprocess_time,
            inference_time,
        })
    }

    /// Classifies a 28×28 image that is already in MNIST form (a test-set image).
    pub fn classify(&mut self, image: &[u8]) -> Result<Prediction, PredictError> {
        self.model.predict(image, &mut self.arena)
    }
}

fn probabilities(prediction: &Prediction) -> [f32; CLASSES] {
    let all = prediction.probabilities();
    core::array::from_fn(|i| all[i])
}

/// Validates a blob and checks that it is a 28×28×1 → 10 classifier.
fn check<'a>(blob: &'a [u8], origin: &str) -> Result<Model<'a>, ModelError> {
    let model = Model::from_bytes(blob).map_err(|source| ModelError::Blob {
        origin: origin.to_owned(),
        source,
    })?;
    model
        .check_digit_classifier()
        .map_err(|source| ModelError::Incompatible {
            origin: origin.to_owned(),
            source,
        })?;
    Ok(model)
}

fn describe_layer(info: &LayerInfo) -> String {
    use sumi_core::blob::Pool;
    let (kh, kw) = info.kernel;
    let mut s = match info.kind {
        LayerKind::Conv2d => format!("conv {kh}×{kw}"),
        LayerKind::DepthwiseConv2d => format!("depthwise {kh}×{kw}"),
        _ => "layer".to_owned(),
    };
    if info.relu {
        s.push_str(" + ReLU");
    }
    match info.pool {
        Pool::Max2 => s.push_str(" + max-pool"),
        Pool::Avg2 => s.push_str(" + avg-pool"),
        Pool::None => {}
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top2_orders_by_probability() {
        let mut p = [0.0; CLASSES];
        p[4] = 0.45;
        p[9] = 0.40;
        p[1] = 0.15;
        assert_eq!(top2(&p), (4, 9));
    }

    #[test]
    fn every_bundled_model_loads_and_reads_a_drawn_one() {
        let mut canvas = vec![0u8; 100 * 100];
        for y in 20..80 {
            for x in 46..54 {
                canvas[y * 100 + x] = 255;
            }
        }
        for b in sumi_core::models::BUNDLED {
            let mut m = LoadedModel::bundled(b).unwrap();
            assert_eq!(m.info().source, ModelSource::Bundled(b.name));
            let a = m.analyse(&canvas, 100, 100).unwrap();
            assert_eq!(a.prediction.class(), 1, "{}", b.name);
            assert!(!m.feature_layers().is_empty(), "{}", b.name);
        }
    }

    #[test]
    fn missing_file_error_names_the_path() {
        let err = LoadedModel::from_file(Path::new("/nonexistent/model.sumi")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/model.sumi"), "{err}");
    }

    /// Issue 15 case 2: `/dev/zero` is refused after its 20-byte header instead of being read
    /// until memory runs out.
    #[test]
    fn dev_zero_is_refused_at_once() {
        if !Path::new("/dev/zero").exists() {
            return;
        }
        let err = LoadedModel::from_file(Path::new("/dev/zero")).unwrap_err();
        assert!(
            matches!(
                err,
                ModelError::Blob {
                    source: BlobError::BadMagic(_),
                    ..
                }
            ),
            "{err:?}"
        );
    }

    /// Issue 15 case 6: a valid blob taking a flat 784×1×1 input (as many pixels as a 28×28
    /// image) is refused by the same core rule `sumi-train predict` applies.
    #[test]
    fn a_flat_input_model_is_refused_with_the_core_rule() {
        use sumi_core::blob::{DenseDesc, DenseOutput, LayerDesc, ModelDesc};
        let (_, default) = sumi_core::blob::decode(sumi_core::models::DEFAULT).unwrap();
        let (w, b) = (vec![1u8; 7840], vec![0u8; 40]);
        let m: Vec<u8> = (0..10).flat_map(|_| (1i32 << 30).to_le_bytes()).collect();
        let shifts = vec![0u8; 10];
        let mut flat: ModelDesc<'_> = ModelDesc {
            input_h: 784,
            input_w: 1,
            input_c: 1,
            ..default
        };
        flat.layers.clear();
        flat.layers
            .push(LayerDesc::Dense(DenseDesc {
                in_features: 784,
                out_features: 10,
                relu: false,
                output: DenseOutput::Logits,
                weight_bits: 8,
                weights: &w,
                bias: &b,
                multipliers: &m,
                shifts: &shifts,
            }))
            .unwrap();
        let mut out = vec![0u8; 16 * 1024];
        let n = sumi_core::blob::encode(&flat, &mut out).unwrap();
        let dir = tempfile_dir("flat");
        let p = dir.join("flat.sumi");
        std::fs::write(&p, &out[..n]).unwrap();
        let err = LoadedModel::from_file(&p).unwrap_err();
        assert!(matches!(err, ModelError::Incompatible { .. }), "{err:?}");
        assert!(err.to_string().contains("784×1×1"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }

    fn tempfile_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("sumi-desktop-model-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn corrupt_blob_is_rejected_with_the_core_error() {
        let dir = std::env::temp_dir().join(format!("sumi-desktop-model-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.sumi");
        std::fs::write(&path, b"SUMI but not really a model").unwrap();
        let err = LoadedModel::from_file(&path).unwrap_err();
        assert!(matches!(err, ModelError::Blob { .. }), "{err:?}");
        let core_message = match &err {
            ModelError::Blob { source, .. } => source.to_string(),
            _ => unreachable!(),
        };
        assert!(err.to_string().contains(&core_message));
        std::fs::remove_dir_all(&dir).ok();
    }
}
