//! The shared per-crop preprocessing, before any model-specific encoding.
//!
//! Reproduces samcell 1.1.4 `SlidingWindowPipeline._preprocess` up to (not including)
//! `cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)`:
//! `cv2.createCLAHE(clipLimit=1, tileGridSize=(8, 8)).apply(crop)` then
//! `cv2.normalize(img, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)` (OpenCV 4.12), applied to
//! each crop on its own (not to the whole image). The three BGR channels the reference makes next
//! are equal, so one grey channel is kept; SAM's input encoding (`samcell_model::sam_input`)
//! expands it.
//! The arithmetic lives in `samcell_imaging::{clahe, normalize}`; this module fixes the settings.

use rayon::prelude::*;
use samcell_imaging::{clahe, normalize, ClaheConfig, GrayU8, ImagingError};

use crate::PipelineError;

/// samcell's CLAHE settings: clip limit 1.0, 8x8 tiles.
pub fn clahe_config() -> ClaheConfig {
    ClaheConfig {
        clip_limit: 1.0,
        tiles_x: 8,
        tiles_y: 8,
    }
}

/// CLAHE (clip 1, 8x8) then min-max to 0..255, on one crop.
pub fn enhance(crop: &GrayU8) -> Result<GrayU8, PipelineError> {
    enhance_with(crop, PipelineError::imaging)
}

/// [`enhance`], with `err` wrapping a CLAHE failure (so that [`enhance_all`] can name the crop).
fn enhance_with(
    crop: &GrayU8,
    err: impl FnOnce(ImagingError) -> PipelineError,
) -> Result<GrayU8, PipelineError> {
    let eq = clahe::clahe(crop, &clahe_config()).map_err(err)?;
    Ok(normalize::minmax_u8(&eq))
}

/// [`enhance`] on several crops in parallel; an error names the crop's index in `crops` plus
/// `first_index`.
pub fn enhance_all(crops: &[GrayU8], first_index: usize) -> Result<Vec<GrayU8>, PipelineError> {
    crops
        .par_iter()
        .enumerate()
        .map(|(i, c)| enhance_with(c, PipelineError::imaging_on(first_index + i)))
        .collect()
}
