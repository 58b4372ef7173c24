//! [`SamPredictor`]: SAM behind the pipeline's predictor seam.
//!
//! Per batch: each enhanced crop is encoded exactly as transformers' `SamImageProcessor` does
//! ([`crate::sam_input`]), the batch runs through the model, mask token 1 goes through
//! a sigmoid, and each 256x256 map is brought back to its crop's size the way samcell does
//! (`sam_output_to_crop`).

use crate::sam::SamModel;
use crate::sam_input::{sam_output_to_crop, write_pixel_values, PIXEL_VALUES_LEN, SAM_INPUT_SIZE};
use candle_core::Tensor;
use rayon::prelude::*;
use samcell_imaging::{GrayU8, MapF32};
use samcell_pipeline::{DistanceMapPredictor, PredictError, TilingConfig};

/// Runs SAM on enhanced crops in batches.
pub struct SamPredictor {
    /// The model every batch runs through.
    pub model: SamModel,
    /// Crops per forward pass.
    pub batch: usize,
}

impl SamPredictor {
    /// A predictor over `model` running `batch` crops per forward pass (at least 1).
    pub fn new(model: SamModel, batch: usize) -> Self {
        Self {
            model,
            batch: batch.max(1),
        }
    }
}

impl DistanceMapPredictor for SamPredictor {
    fn describe(&self) -> String {
        let device = match self.model.device() {
            candle_core::Device::Cpu => "CPU".to_string(),
            d => format!("{d:?}"),
        };
        match self.model.cpu_precision() {
            Some(p) => format!(
                "SAM {} (candle, CPU, {p}; CPU path {})",
                self.model.config.variant(),
                crate::cpu_path::describe()
            ),
            None => format!(
                "SAM {} (candle, {device}, {:?})",
                self.model.config.variant(),
                self.model.dtype()
            ),
        }
    }

    /// samcell's `crop_size=256` (SAM's mask side) with the helper's `overlap_size=32`.
    fn tiling(&self) -> TilingConfig {
        TilingConfig::default()
    }

    fn predict(&self, crops: &[GrayU8]) -> Result<Vec<MapF32>, PredictError> {
        if self.model.input_size() != SAM_INPUT_SIZE {
            return Err(PredictError(format!(
                "model input size {} is not SAM's {SAM_INPUT_SIZE}",
                self.model.input_size()
            )));
        }
        let n = crops.len();
        let mut input = vec![0f32; n * PIXEL_VALUES_LEN];
        input
            .par_chunks_mut(PIXEL_VALUES_LEN)
            .zip(crops.par_iter())
            .try_for_each(|(buf, crop)| write_pixel_values(crop, buf))
            .map_err(|e| PredictError(format!("input encoding: {e}")))?;
        let pv = Tensor::from_vec(
            input,
            (n, 3, SAM_INPUT_SIZE, SAM_INPUT_SIZE),
            self.model.device(),
        )
        .and_then(|t| t.to_dtype(self.model.dtype()))
        .map_err(|e| PredictError(e.to_string()))?;
        let maps = self
            .model
            .distance_maps(&pv)
            .map_err(|e| PredictError(e.to_string()))?;
        let side = self.model.mask_size();
        let flat = maps
            .flatten_all()
            .and_then(|t| t.to_dtype(candle_core::DType::F32))
            .and_then(|t| t.to_vec1::<f32>())
            .map_err(|e| PredictError(e.to_string()))?;
        flat.chunks(side * side)
            .zip(crops)
            .map(|(m, crop)| {
                let map = MapF32::from_vec(side, side, m.to_vec())
                    .map_err(|e| PredictError(e.to_string()))?;
                sam_output_to_crop(&map, crop.width(), crop.height())
                    .map_err(|e| PredictError(e.to_string()))
            })
            .collect()
    }

    fn max_batch(&self) -> usize {
        self.batch.max(1)
    }
}
