//! `--save-geojson`: `<name>.geojson`, the cells' pixel-edge outlines
//! (`samcell_morphology::label_polygons`) with, as each feature's measurements, the cell's row
//! of `<name>_cells.csv` (every column but `label`, under the same names; NaN values and an
//! absent closest object are left out), written by `samcell_io::geojson::write_geojson`.

use anyhow::{Context, Result};
use samcell_imaging::Labels;
use samcell_io::geojson::CellFeature;
use samcell_measure::Measurements;
use std::collections::HashMap;
use std::path::Path;

/// Writes the GeoJSON of `labels` with the measurements `cells` to `path`.
pub fn write_cells_geojson(path: &Path, labels: &Labels, cells: &Measurements) -> Result<()> {
    let outlines =
        samcell_morphology::label_polygons(labels).context("cannot outline the cells")?;
    // The CSV text is the one place the per-cell columns are defined: read the rows back from it
    // (numbers there round-trip exactly).
    let csv = samcell_measure::csv::cells_csv_string(cells);
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let mut rows: HashMap<u32, Vec<(&str, f64)>> = HashMap::new();
    for line in lines {
        let mut fields = line.split(',');
        let Some(Ok(label)) = fields.next().map(str::parse::<u32>) else {
            continue;
        };
        let values = header[1..]
            .iter()
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
    samcell_io::geojson::write_geojson(path, &features)?;
    Ok(())
}
