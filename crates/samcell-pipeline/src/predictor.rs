//! The seam between the pipeline and any model or back-end.
//!
//! A predictor is self-describing: besides the maps it says how the image is to be cut for it
//! ([`DistanceMapPredictor::tiling`]; SAMCell's SAM: samcell 1.1.4's `crop_size=256` with the
//! helper's `overlap_size=32`), so the pipeline needs nothing beside the predictor to run it.

use samcell_imaging::{GrayU8, MapF32};

use crate::tiling::TilingConfig;

/// Error a predictor reports; the pipeline adds the image and crop it happened on.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PredictError(pub String);

/// Something that turns enhanced crops into distance maps.
///
/// Input: crops after the shared per-crop preprocessing (CLAHE, then min-max to 0..255), each
/// of the crop's own size. Output: one map per crop, same width and height as the crop, values
/// in 0..1 (sigmoid already applied). A predictor does its own model-specific input encoding
/// (for SAM: resize to 1024, ImageNet normalisation, padding; see `samcell_model::sam_input`).
pub trait DistanceMapPredictor: Send + Sync {
    /// Short human-readable identity (architecture, variant, back-end).
    fn describe(&self) -> String;

    /// The crop size and overlap this predictor is to be run with (SAM: samcell's 256 + 32,
    /// [`TilingConfig::default`]; a model trained on other crops: its own).
    fn tiling(&self) -> TilingConfig;

    /// Predicts the distance maps of a batch of crops.
    fn predict(&self, crops: &[GrayU8]) -> Result<Vec<MapF32>, PredictError>;

    /// The predictor's small-object rule: for images whose objects look smaller than it
    /// segments well, a larger scale is suggested (`crate::segment`, "Object size"); `None`
    /// (the default): no advice.
    fn small_objects(&self) -> Option<crate::size::SmallObjects> {
        None
    }

    /// Largest batch worth sending in one call.
    fn max_batch(&self) -> usize {
        1
    }
}
