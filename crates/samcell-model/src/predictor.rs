//! [`SamPredictor`]: SAM behind the pipeline's predictor seam.

use crate::sam::SamModel;
use samcell_imaging::{GrayU8, MapF32};
use samcell_pipeline::{DistanceMapPredictor, PredictError};

/// Runs SAM on enhanced crops in batches.
pub struct SamPredictor {
    pub model: SamModel,
    pub batch: usize,
}

impl DistanceMapPredictor for SamPredictor {
    fn describe(&self) -> String {
        format!("SAM {} (candle, CPU, f32)", self.model.config.variant())
    }

    fn predict(&self, crops: &[GrayU8]) -> Result<Vec<MapF32>, PredictError> {
        let _ = crops;
        Err(PredictError("not wired yet".into()))
    }

    fn max_batch(&self) -> usize {
        self.batch.max(1)
    }
}
