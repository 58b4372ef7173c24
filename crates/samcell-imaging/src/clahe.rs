//! Contrast-limited adaptive histogram equalisation, OpenCV 4.12 `createCLAHE(...).apply` on u8.

use crate::{GrayU8, ImagingError};

/// CLAHE settings; the defaults are SAMCell's (clip limit 1, 8x8 tiles).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClaheConfig {
    pub clip_limit: f64,
    pub tiles_x: usize,
    pub tiles_y: usize,
}

impl Default for ClaheConfig {
    fn default() -> Self {
        Self { clip_limit: 1.0, tiles_x: 8, tiles_y: 8 }
    }
}

/// Applies CLAHE to an 8-bit image, byte-identical to OpenCV.
pub fn clahe(img: &GrayU8, cfg: &ClaheConfig) -> Result<GrayU8, ImagingError> {
    let _ = (img, cfg);
    todo!("CLAHE")
}
