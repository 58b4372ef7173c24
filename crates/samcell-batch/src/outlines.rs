//! The cells' outlines in the formats other programs open, made the same way for every front end
//! (`samcell segment --save-geojson`/`--save-rois` and the web server's downloads), from the
//! labels (`samcell_morphology::label_polygons`: one polygon per 4-connected part along the
//! pixel edges, holes, pinch corners cut):
//!
//! - [`cells_geojson`]: a GeoJSON FeatureCollection that QuPath imports as detection objects
//!   (`samcell_io::geojson`), with, as each feature's measurements, the cell's row of the
//!   `_cells.csv` text given (every column but `label`, under the same names; empty and NaN
//!   values left out), so the file carries exactly the numbers of the CSV it goes with;
//! - [`cells_roi_zip`]: an ImageJ ROI set that Fiji's ROI Manager opens
//!   (`samcell_io::imagej_roi`), one ROI per cell in label order, a polygon ROI, or a composite
//!   ROI (filled by the even-odd rule) when the cell has holes or several parts. Names come from
//!   `samcell_io::imagej_roi::label_roi_name`: the label zero-padded to four digits (`0007`). A
//!   single image's ROIs have no position (ImageJ shows them on every slice); for a page of a
//!   multi-page file ([`roi_slice`]) every ROI is placed on that page's slice (page + 1, as
//!   ImageJ counts) and its name is prefixed by that slice (`0003-0007` for page 2), so the ROIs
//!   of several pages opened together stay apart and sort by page, then label.

use crate::BatchError;
use samcell_imaging::Labels;
use samcell_io::geojson::CellFeature;
use samcell_io::imagej_roi::{label_roi_name, roi_zip_bytes, RoiPolygon, RoiPosition};
use std::collections::HashMap;

/// The GeoJSON text of `labels`' cells with their rows of `cells_csv` (the text of a
/// `_cells.csv`: a header whose first column is `label`, then one row per cell) as measurements.
pub fn cells_geojson(labels: &Labels, cells_csv: &str) -> Result<String, BatchError> {
    let outlines = samcell_morphology::label_polygons(labels).map_err(BatchError::Outline)?;
    let mut lines = cells_csv.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let mut rows: HashMap<u32, Vec<(&str, f64)>> = HashMap::new();
    for line in lines {
        let mut fields = line.split(',');
        let Some(Ok(label)) = fields.next().map(str::parse::<u32>) else {
            continue;
        };
        let values = header
            .iter()
            .skip(1)
            .zip(fields)
            .filter_map(|(&name, v)| v.parse::<f64>().ok().map(|v| (name, v)))
            .collect();
        rows.insert(label, values);
    }
    let features: Vec<CellFeature<'_>> = outlines
        .iter()
        .map(|o| CellFeature {
            label: o.label,
            polygons: &o.polygons,
            measurements: rows.get(&o.label).map_or(&[], |r| &r[..]),
        })
        .collect();
    Ok(samcell_io::geojson::geojson_string(&features))
}

/// The 1-based slice the ROIs of page `page` (from 0) of a file with `pages` pages go on:
/// `None` for a single-page file.
pub fn roi_slice(page: usize, pages: usize) -> Option<u32> {
    (pages > 1).then(|| u32::try_from(page + 1).unwrap_or(u32::MAX))
}

/// The ROI-set zip of `labels`' cells; `slice` is the 1-based slice of a page of a multi-page
/// file ([`roi_slice`]), `None` for a single image.
pub fn cells_roi_zip(labels: &Labels, slice: Option<u32>) -> Result<Vec<u8>, BatchError> {
    let outlines = samcell_morphology::label_polygons(labels).map_err(BatchError::Outline)?;
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
    roi_zip_bytes(&rois).map_err(BatchError::Roi)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 5x3: cell 1 a 2x2 block, cell 3 a single pixel, in two rows of CSV (cell 3's `b` empty).
    fn sample() -> Labels {
        Labels::from_vec(5, 3, vec![1, 1, 0, 0, 0, 1, 1, 0, 3, 0, 0, 0, 0, 0, 0]).expect("labels")
    }

    #[test]
    fn geojson_has_each_cell_with_its_csv_row() {
        let csv = "label,a,b\n1,4,0.5\n3,1,\n";
        let v: serde_json::Value =
            serde_json::from_str(&cells_geojson(&sample(), csv).expect("geojson")).expect("json");
        let f = v["features"].as_array().expect("features");
        assert_eq!(f.len(), 2);
        assert_eq!(f[0]["id"], 1);
        let ring = f[0]["geometry"]["coordinates"][0].as_array().expect("ring");
        assert_eq!(
            ring.len(),
            5,
            "a 2x2 block is a closed 4-corner ring: {ring:?}"
        );
        assert_eq!(ring[0], ring[4]);
        assert_eq!(f[1]["id"], 3);
        assert_eq!(
            f[0]["properties"]["measurements"],
            serde_json::json!({"a": 4.0, "b": 0.5})
        );
        assert_eq!(
            f[1]["properties"]["measurements"],
            serde_json::json!({"a": 1.0}),
            "an empty CSV value is left out"
        );
    }

    #[test]
    fn rois_are_named_and_placed_by_page() {
        assert_eq!(roi_slice(0, 1), None);
        assert_eq!(roi_slice(2, 3), Some(3));
        let names = |zip: Vec<u8>| {
            let mut z = zip::ZipArchive::new(std::io::Cursor::new(zip)).expect("zip");
            (0..z.len())
                .map(|i| z.by_index(i).expect("entry").name().to_string())
                .collect::<Vec<_>>()
        };
        let single = cells_roi_zip(&sample(), None).expect("rois");
        assert_eq!(names(single), ["0001.roi", "0003.roi"]);
        let page = cells_roi_zip(&sample(), roi_slice(2, 3)).expect("rois");
        assert_eq!(names(page), ["0003-0001.roi", "0003-0003.roi"]);
    }
}
