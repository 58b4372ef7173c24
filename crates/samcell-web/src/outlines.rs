//! The cells' outlines as downloads, made when asked for from a finished job's `masks.tif` and
//! `cells.csv` (so a slider drag never pays for them, and results finished before these
//! downloads existed have them too), exactly as `samcell segment --save-geojson` and
//! `--save-rois` make them (`samcell_batch::outlines`):
//!
//! - `cells.geojson` (saved as `<stem>.geojson`): one QuPath detection feature per cell along
//!   its pixel edges, with the cell's `cells.csv` row (µm columns included when the pixel size
//!   is known) as measurements;
//! - `rois.zip` (saved as `<stem>_rois.zip`): the ImageJ ROI set that Fiji's ROI Manager opens,
//!   one ROI per cell named by its label; for a page of a multi-page TIFF every ROI is placed on
//!   that page's slice (page + 1) and its name starts with it.

use std::path::Path;

use crate::job::{files, Job};
use crate::WebError;

/// A generated download.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outline {
    /// `<stem>.geojson`.
    GeoJson,
    /// `<stem>_rois.zip`.
    Rois,
}

impl Outline {
    /// Both, in the order of the result ZIPs.
    pub const ALL: [Outline; 2] = [Outline::GeoJson, Outline::Rois];

    /// What the saved file's name adds to the job's output name.
    pub fn suffix(self) -> &'static str {
        match self {
            Outline::GeoJson => ".geojson",
            Outline::Rois => "_rois.zip",
        }
    }

    /// The file's bytes for `job`, whose directory is `dir` (blocking: reads and traces).
    pub fn bytes(self, dir: &Path, job: &Job) -> Result<Vec<u8>, WebError> {
        let labels = samcell_io::labels::read_labels(&dir.join(files::MASKS))
            .map_err(|e| WebError::Io(e.full_message()))?;
        let failed = |e: samcell_batch::BatchError| {
            WebError::Processing(format!("{}: {}", job.name, samcell_batch::error_chain(&e)))
        };
        match self {
            Outline::GeoJson => {
                let path = dir.join(files::CELLS);
                let csv = std::fs::read_to_string(&path)
                    .map_err(|e| WebError::Io(format!("{}: {e}", path.display())))?;
                let text = samcell_batch::outlines::cells_geojson(&labels, &csv).map_err(failed)?;
                Ok(text.into_bytes())
            }
            Outline::Rois => {
                let slice = samcell_batch::outlines::roi_slice(job.page, job.pages.unwrap_or(1));
                samcell_batch::outlines::cells_roi_zip(&labels, slice).map_err(failed)
            }
        }
    }
}
