//! `--save-rois`: `<name>_rois.zip`, an ImageJ ROI set that Fiji's ROI Manager opens, with one
//! ROI per cell in label order: the cell's pixel-edge outline (`samcell_morphology::label_polygons`)
//! as a polygon ROI, or as a composite ROI (filled by the even-odd rule) when the cell has holes
//! or several 4-connected parts, written by `samcell_io::imagej_roi::write_roi_zip`.
//!
//! Names come from `samcell_io::imagej_roi::label_roi_name`: the label zero-padded to four digits
//! (`0007`). A single image's ROIs have no position (ImageJ shows them on every slice). For a page
//! of a multi-page file, every ROI is placed on that page's slice, `RoiPosition::Slice(page + 1)`
//! (ImageJ counts from 1), and its name is prefixed by that slice (`0003-0007` for page 2), so the
//! ROIs of several pages opened together stay apart and sort by page, then label.

use anyhow::{Context, Result};
use samcell_imaging::Labels;
use samcell_io::imagej_roi::{label_roi_name, write_roi_zip, RoiPolygon, RoiPosition};
use std::path::Path;

/// Writes the ROI set of `labels` to `path`; `slice` is the 1-based slice of a page of a
/// multi-page file, `None` for a single image.
pub fn write_cells_rois(path: &Path, labels: &Labels, slice: Option<u32>) -> Result<()> {
    let outlines =
        samcell_morphology::label_polygons(labels).context("cannot outline the cells")?;
    let rois: Vec<RoiPolygon> = outlines
        .iter()
        .map(|o| {
            RoiPolygon::from_rings(
                label_roi_name(o.label, slice),
                o.polygons.iter().flatten(),
                slice.map(RoiPosition::Slice),
            )
        })
        .collect();
    write_roi_zip(path, &rois)?;
    Ok(())
}
