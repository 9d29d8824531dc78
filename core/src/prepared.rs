//! A model with its weights prepared once for this CPU's kernels ("prepacking", as onnxruntime
//! does when a session is created): on x86-64, the weights of the 3×3 convolutions transformed
//! for Winograd's F(4×4, 3×3) (36 products per 4×4 output tile instead of 144), which the AVX2
//! and SSE2 kernels read on every call; without them [`Model::predict`] transforms the weights
//! for F(2×2, 3×3) on every call with AVX2 and the SSE2 baseline keeps the direct kernels. The
//! storage is the caller's, like the arena: no heap.

use crate::layers;
use crate::model::{Model, NOT_PREPARED, PredictError, PreparedWeights};
use crate::prediction::Prediction;

/// Bytes of one block of prepared weights (sixteen int16).
const BLOCK: usize = 32;

/// A [`Model`] whose weights were prepared once for this CPU ([`Model::prepare`]). Its
/// [`Prepared::predict`] gives exactly the logits of [`Model::predict`], faster on a host
/// that runs many predictions.
#[derive(Debug, Clone, Copy)]
pub struct Prepared<'p> {
    model: &'p Model<'p>,
    weights: PreparedWeights<'p>,
}

impl<'a> Model<'a> {
    /// Bytes of storage [`Model::prepare`] needs: the prepared weights, 32-byte aligned inside
    /// it. Zero where the kernels take none (they read the blob's weights in place): anywhere
    /// but x86-64, and for models without 3×3 int8 convolutions of the Winograd kernels' shape.
    pub fn prepared_bytes(&self) -> usize {
        match self.prepared_blocks() {
            0 => 0,
            n => n * BLOCK + BLOCK - 1,
        }
    }

    fn prepared_blocks(&self) -> usize {
        self.stage_convs()
            .map(|(_, c, d)| layers::prepared_blocks(c, &d))
            .sum()
    }

    /// Prepares the weights for this CPU's kernels in `storage` (at least
    /// [`Model::prepared_bytes`]), once, for any number of [`Prepared::predict`] calls.
    ///
    /// ```
    /// use sumi_core::{Model, models};
    ///
    /// let model = Model::from_bytes(models::DEFAULT)?;
    /// let mut storage = vec![0u8; model.prepared_bytes()];
    /// let prepared = model.prepare(&mut storage)?;
    /// let mut arena = vec![0u8; model.observed_arena_bytes()];
    /// let mut image = [0u8; 784];
    /// for y in 4..24 { image[y * 28 + 14] = 255; }
    /// let fast = prepared.predict(&image, &mut arena)?;
    /// assert_eq!(fast.logits(), model.predict(&image, &mut arena)?.logits());
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    pub fn prepare<'p>(&'p self, storage: &'p mut [u8]) -> Result<Prepared<'p>, PredictError> {
        let needed = self.prepared_bytes();
        if storage.len() < needed {
            return Err(PredictError::PreparedTooSmall {
                needed,
                given: storage.len(),
            });
        }
        let mut weights: PreparedWeights<'p> = NOT_PREPARED;
        if needed == 0 {
            return Ok(Prepared {
                model: self,
                weights,
            });
        }
        let n = self.prepared_blocks();
        let skip = storage.as_ptr().align_offset(BLOCK);
        let mut rest: &'p mut [[i16; 16]] =
            bytemuck::cast_slice_mut(&mut storage[skip..skip + n * BLOCK]);
        for (stage, c, d) in self.stage_convs() {
            let (mine, tail) =
                core::mem::take(&mut rest).split_at_mut(layers::prepared_blocks(c, &d));
            layers::prepare_conv(c, &d, &mut *mine);
            // Every stage has a slot where any layer prepares weights (x86-64).
            if let Some(slot) = weights.get_mut(stage) {
                *slot = mine;
            }
            rest = tail;
        }
        Ok(Prepared {
            model: self,
            weights,
        })
    }
}

impl<'p> Prepared<'p> {
    /// [`Model::predict`] on the prepared weights: the same arena rules (at least
    /// [`Model::arena_bytes`]; [`Model::observed_arena_bytes`] for whole maps, where the
    /// prepared weights are read), the same errors, the same logits.
    pub fn predict(&self, input: &[u8], arena: &mut [u8]) -> Result<Prediction, PredictError> {
        self.model.predict_prepared(input, arena, self.weights)
    }

    /// The model these weights were prepared from.
    pub fn model(&self) -> &'p Model<'p> {
        self.model
    }
}
