//! Image decoding to one grey u8 channel.

use crate::IoError;
use samcell_imaging::GrayU8;
use std::path::Path;

/// How non-8-bit grey data is brought to u8.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Scaling {
    /// Whole-image min-max to 0..255.
    #[default]
    MinMax,
    /// Percentiles (low, high) clipped and stretched to 0..255.
    Percentile(f64, f64),
}

/// Options for [`read_gray`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ReadOptions {
    /// Page of a multi-page TIFF (0-based).
    pub page: usize,
    pub scaling: Scaling,
}

/// Reads `path` as SAMCell's grey u8 input.
pub fn read_gray(path: &Path, opts: &ReadOptions) -> Result<GrayU8, IoError> {
    let _ = (path, opts);
    todo!("read")
}
