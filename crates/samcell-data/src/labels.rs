//! Reading instance-label images with their values kept: `samcell_io::labels` (the accepted
//! formats are listed there), with this crate's error type; and counting cells.

use crate::DataError;
use samcell_imaging::Labels;
use std::path::Path;

/// Reads a label image (see `samcell_io::labels` for what is accepted).
pub fn read_labels(path: &Path) -> Result<Labels, DataError> {
    // samcell-io's error names the file (and keeps the system's error as its source)
    Ok(samcell_io::labels::read_labels(path)?)
}

/// Number of distinct non-zero labels.
pub fn count_cells(labels: &Labels) -> usize {
    let mut v: Vec<u32> = labels.data().iter().copied().filter(|&x| x != 0).collect();
    v.sort_unstable();
    v.dedup();
    v.len()
}
