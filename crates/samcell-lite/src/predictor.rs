//! [`LitePredictor`]: samcell-lite behind the pipeline's [`DistanceMapPredictor`] seam.
//!
//! Per batch: the crops (already enhanced by the pipeline: CLAHE + min-max, as for SAM) are
//! encoded by [`crate::encode`] (u8 / 255, one channel, crop resolution), crops of equal size go
//! through the network together, and the logits go through a sigmoid. The maps have the crop's
//! own size, so no resizing follows. The tiling it asks for is the one stored in its weights.

use std::collections::BTreeMap;

use samcell_imaging::{GrayU8, MapF32};
use samcell_pipeline::{DistanceMapPredictor, PredictError, SmallObjects, TilingConfig};

use crate::LiteModel;

/// Runs samcell-lite on enhanced crops in batches (candle's CPU kernels use all rayon threads).
#[derive(Debug)]
pub struct LitePredictor {
    /// The model every batch runs through.
    pub model: LiteModel,
    /// Crops per forward pass.
    pub batch: usize,
    /// The small-object rule it states to the pipeline (the built-in nuclei model's:
    /// [`crate::NUCLEI_SMALL_OBJECTS`]); `None` for a model without a measured one.
    pub small_objects: Option<SmallObjects>,
}

impl LitePredictor {
    /// A predictor over `model` running `batch` crops per forward pass (at least 1), without a
    /// small-object rule.
    pub fn new(model: LiteModel, batch: usize) -> Self {
        Self {
            model,
            batch: batch.max(1),
            small_objects: None,
        }
    }

    /// Sets the small-object rule.
    pub fn with_small_objects(mut self, rule: Option<SmallObjects>) -> Self {
        self.small_objects = rule;
        self
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

impl DistanceMapPredictor for LitePredictor {
    fn describe(&self) -> String {
        format!(
            "samcell-lite {} (candle, CPU, f32)",
            self.model.config.describe()
        )
    }

    /// The tiling stored in the weights file (the crops the model was trained on).
    fn tiling(&self) -> TilingConfig {
        self.model.config.tiling()
    }

    fn small_objects(&self) -> Option<SmallObjects> {
        self.small_objects
    }

    fn predict(&self, crops: &[GrayU8]) -> Result<Vec<MapF32>, PredictError> {
        let err = |e: candle_core::Error| PredictError(e.to_string());
        // Ragged crops (at the image's end) have other sizes: one forward pass per size.
        let mut groups: BTreeMap<(usize, usize), Vec<usize>> = BTreeMap::new();
        for (i, c) in crops.iter().enumerate() {
            groups.entry((c.height(), c.width())).or_default().push(i);
        }
        let mut out: Vec<Option<MapF32>> = vec![None; crops.len()];
        for ((h, w), idx) in groups {
            for chunk in idx.chunks(self.batch) {
                let batch: Vec<&GrayU8> = chunk.iter().map(|&i| &crops[i]).collect();
                let input = crate::encode_refs(&batch, self.model.device()).map_err(err)?;
                let logits = self.model.net.forward_logits(&input).map_err(err)?;
                let flat: Vec<f32> = logits
                    .flatten_all()
                    .and_then(|t| t.to_vec1())
                    .map_err(err)?;
                for (&i, m) in chunk.iter().zip(flat.chunks_exact(h * w)) {
                    let map = MapF32::from_vec(w, h, m.iter().map(|&v| sigmoid(v)).collect())
                        .map_err(|e| PredictError(e.to_string()))?;
                    out[i] = Some(map);
                }
            }
        }
        out.into_iter()
            .map(|m| m.ok_or_else(|| PredictError("internal: a crop got no map".into())))
            .collect()
    }

    fn max_batch(&self) -> usize {
        self.batch
    }
}
