//! Reading label images with their integer values kept: `samcell_io::labels` (the accepted
//! formats are listed there), with this crate's error type. Every error names the file.

use crate::MeasureError;
use samcell_imaging::Labels;
use std::path::Path;

pub use samcell_io::labels::decode_labels;

/// Reads a label image (see `samcell_io::labels` for the accepted formats).
pub fn read_labels(path: &Path) -> Result<Labels, MeasureError> {
    samcell_io::labels::read_labels(path).map_err(|e| match e {
        samcell_io::IoError::Read {
            path,
            reason,
            source,
        }
        | samcell_io::IoError::Write {
            path,
            reason,
            source,
        } => MeasureError::Read {
            path,
            reason,
            source,
        },
    })
}
