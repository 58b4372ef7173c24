//! CSV outputs: `<stem>_cells.csv` (one row per cell) and `summary.csv` (one row per image).
//!
//! Comma-separated, `\n` line ends, a header row whose names carry their unit (`_px`, `_px2`,
//! `_deg`; ratios have none). With an intensity image, the cells table has
//! [`INTENSITY_COLUMNS`] (CellProfiler `MeasureObjectIntensity` features, on CellProfiler's 0..1
//! scale: the image's values divided by [`Measurements::intensity_full_scale`], e.g. 65535 for
//! 16-bit data) followed by the same features with the suffix `_raw` (the image's own values). Numbers are written in Rust's shortest round-trip form, undefined
//! values as `NaN` (pandas, R and numpy read it as NaN), an absent closest object as an empty
//! field. Text fields are quoted when they contain a comma, quote or line break (RFC 4180).
//!
//! With a pixel size ([`cells_csv_string_calibrated`]), the cells table ends with
//! [`CALIBRATED_COLUMNS`]: the size columns again in micrometres, named like the pixel ones
//! with `_um` (lengths) or `_um2` (areas) instead of `_px` / `_px2`. Areas are multiplied by
//! the pixel area (x µm * y µm), lengths by the side of a square pixel of that area
//! (sqrt(x * y) µm). With square pixels all are exact. With rectangular pixels the areas and
//! `EquivalentDiameter_um` (a function of the area) stay exact; perimeter, axis lengths, Feret
//! diameters and the closest-object distance are approximations, since a length's scale then
//! depends on its direction.
//! Files are written atomically (samcell_io::write_atomic).

use crate::measure::{CellMeasurement, ImageSummary, Measurements};
use crate::MeasureError;
use samcell_io::Calibration;
use std::fmt::Write as _;
use std::path::Path;

/// A number as written in the CSV files.
pub fn fmt_f64(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v.is_infinite() {
        if v > 0.0 { "inf" } else { "-inf" }.to_string()
    } else {
        format!("{v}")
    }
}

/// A text field, quoted when needed.
pub fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The intensity features of the cells table, in order; each is followed (after all of them) by
/// its `<name>_raw` column.
pub const INTENSITY_COLUMNS: [&str; 5] = [
    "MeanIntensity",
    "StdIntensity",
    "MinIntensity",
    "MaxIntensity",
    "IntegratedIntensity",
];

/// Column names of the cells table.
pub fn cell_columns(m: &Measurements) -> Vec<String> {
    let mut c: Vec<String> = [
        "label",
        "Area_px2",
        "Perimeter_px",
        "ConvexArea_px2",
        "Solidity",
        "Extent",
        "Eccentricity",
        "MajorAxisLength_px",
        "MinorAxisLength_px",
        "Orientation_deg",
        "EquivalentDiameter_px",
        "FormFactor",
        "Compactness",
        "Center_X_px",
        "Center_Y_px",
        "BoundingBoxMinimum_X_px",
        "BoundingBoxMaximum_X_px",
        "BoundingBoxMinimum_Y_px",
        "BoundingBoxMaximum_Y_px",
        "MinFeretDiameter_px",
        "MaxFeretDiameter_px",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if m.has_intensity {
        c.extend(INTENSITY_COLUMNS.map(String::from));
        c.extend(INTENSITY_COLUMNS.map(|n| format!("{n}_raw")));
    }
    c.push("NumberOfNeighbors_Adjacent".into());
    c.push(format!("NumberOfNeighbors_{}", m.neighbor_distance));
    c.push("PercentTouching".into());
    c.push("FirstClosestObjectNumber".into());
    c.push("FirstClosestDistance_px".into());
    c
}

/// The columns [`cells_csv_string_calibrated`] adds at the end of the cells table, in order,
/// with the power of the pixel size they scale with (1 length, 2 area).
pub const CALIBRATED_COLUMNS: [(&str, u8); 9] = [
    ("Area_um2", 2),
    ("Perimeter_um", 1),
    ("ConvexArea_um2", 2),
    ("MajorAxisLength_um", 1),
    ("MinorAxisLength_um", 1),
    ("EquivalentDiameter_um", 1),
    ("MinFeretDiameter_um", 1),
    ("MaxFeretDiameter_um", 1),
    ("FirstClosestDistance_um", 1),
];

/// The cells table as CSV text.
pub fn cells_csv_string(m: &Measurements) -> String {
    cells_csv_string_calibrated(m, None)
}

/// One column of the cells table, its values in row order (one per cell).
#[derive(Clone, Debug, PartialEq)]
pub enum Column {
    /// Whole numbers (label, pixel counts, bounding box, neighbour counts).
    Int(Vec<u64>),
    /// Real numbers; NaN where undefined (written `NaN`).
    Float(Vec<f64>),
    /// Whole numbers that may be absent (the closest object of a lone cell), written as an empty
    /// field when absent.
    OptionalInt(Vec<Option<u64>>),
}

impl Column {
    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            Column::Int(v) => v.len(),
            Column::Float(v) => v.len(),
            Column::OptionalInt(v) => v.len(),
        }
    }

    /// Whether the column has no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Value `row` as written in the CSV.
    fn write_field(&self, row: usize, out: &mut String) {
        let _ = match self {
            Column::Int(v) => write!(out, "{}", v[row]),
            Column::Float(v) => write!(out, "{}", fmt_f64(v[row])),
            Column::OptionalInt(v) => match v[row] {
                Some(x) => write!(out, "{x}"),
                None => Ok(()),
            },
        };
    }
}

/// A real-valued field of a cell.
type Field<'a> = dyn Fn(&CellMeasurement) -> f64 + 'a;

/// The cells table column by column: the names ([`cell_columns`], then [`CALIBRATED_COLUMNS`]
/// when the pixel size is given) and values of `<stem>_cells.csv`, for callers that want arrays
/// rather than text (the Python bindings).
pub fn cells_table(m: &Measurements, pixel_size: Option<&Calibration>) -> Vec<(String, Column)> {
    let cells = &m.cells;
    let int = |f: &dyn Fn(&CellMeasurement) -> u64| Column::Int(cells.iter().map(f).collect());
    let float = |f: &Field<'_>| Column::Float(cells.iter().map(f).collect());
    let mut values = vec![
        int(&|c| u64::from(c.label)),
        int(&|c| c.area),
        float(&|c| c.perimeter),
        int(&|c| c.convex_area),
        float(&|c| c.solidity),
        float(&|c| c.extent),
        float(&|c| c.eccentricity),
        float(&|c| c.major_axis_length),
        float(&|c| c.minor_axis_length),
        float(&|c| c.orientation),
        float(&|c| c.equivalent_diameter),
        float(&|c| c.form_factor),
        float(&|c| c.compactness),
        float(&|c| c.center_x),
        float(&|c| c.center_y),
        int(&|c| u64::from(c.bbox_min_x)),
        int(&|c| u64::from(c.bbox_max_x)),
        int(&|c| u64::from(c.bbox_min_y)),
        int(&|c| u64::from(c.bbox_max_y)),
        float(&|c| c.min_feret),
        float(&|c| c.max_feret),
    ];
    if m.has_intensity {
        // the 0..1 scale first, then the image's own values (`_raw`)
        let stats = |c: &CellMeasurement, scaled: bool| {
            c.intensity.map(|raw| {
                if scaled {
                    raw.scaled(m.intensity_full_scale)
                } else {
                    raw
                }
            })
        };
        for scaled in [true, false] {
            for k in 0..INTENSITY_COLUMNS.len() {
                values.push(float(&|c| {
                    stats(c, scaled)
                        .map_or(f64::NAN, |i| [i.mean, i.std, i.min, i.max, i.integrated][k])
                }));
            }
        }
    }
    values.extend([
        int(&|c| u64::from(c.neighbors_adjacent)),
        int(&|c| u64::from(c.neighbors_within)),
        float(&|c| c.percent_touching),
        Column::OptionalInt(
            cells
                .iter()
                .map(|c| c.first_closest_label.map(u64::from))
                .collect(),
        ),
        float(&|c| c.first_closest_distance),
    ]);
    let mut names = cell_columns(m);
    if let Some(p) = pixel_size {
        let area = p.x_um * p.y_um;
        let length = area.sqrt();
        let scaled: [(&Field<'_>, f64); 9] = [
            (&|c| c.area as f64, area),
            (&|c| c.perimeter, length),
            (&|c| c.convex_area as f64, area),
            (&|c| c.major_axis_length, length),
            (&|c| c.minor_axis_length, length),
            (&|c| c.equivalent_diameter, length),
            (&|c| c.min_feret, length),
            (&|c| c.max_feret, length),
            (&|c| c.first_closest_distance, length),
        ];
        for (f, factor) in scaled {
            values.push(float(&|c| f(c) * factor));
        }
        names.extend(CALIBRATED_COLUMNS.map(|(name, _)| name.to_string()));
    }
    names.into_iter().zip(values).collect()
}

/// The cells table as CSV text, with [`CALIBRATED_COLUMNS`] at the end when the pixel size is
/// given (module docs): [`cells_table`] written row by row.
pub fn cells_csv_string_calibrated(m: &Measurements, pixel_size: Option<&Calibration>) -> String {
    let table = cells_table(m, pixel_size);
    let names: Vec<&str> = table.iter().map(|(n, _)| n.as_str()).collect();
    let mut s = names.join(",");
    s.push('\n');
    for row in 0..m.cells.len() {
        for (k, (_, column)) in table.iter().enumerate() {
            if k > 0 {
                s.push(',');
            }
            column.write_field(row, &mut s);
        }
        s.push('\n');
    }
    s
}

/// Writes `<stem>_cells.csv`-style output (one row per cell) atomically.
pub fn write_cells_csv(path: &Path, m: &Measurements) -> Result<(), MeasureError> {
    write_cells_csv_calibrated(path, m, None)
}

/// [`write_cells_csv`] with the micrometre columns when the pixel size is given (module docs).
pub fn write_cells_csv_calibrated(
    path: &Path,
    m: &Measurements,
    pixel_size: Option<&Calibration>,
) -> Result<(), MeasureError> {
    samcell_io::write_atomic(path, cells_csv_string_calibrated(m, pixel_size).as_bytes())?;
    Ok(())
}

/// Column names of `summary.csv`. Confluency is the fraction (0..1) of the image covered by
/// cells; the column name says so (the GUI shows it as a percentage). The last,
/// `cells_per_mm2`, is empty when the image's pixel size is unknown.
pub const SUMMARY_COLUMNS: [&str; 11] = [
    "image",
    "width_px",
    "height_px",
    "cell_count",
    "mean_area_px2",
    "median_area_px2",
    "confluency_fraction",
    "mean_neighbors_adjacent",
    "mean_neighbors_within_distance",
    "neighbor_distance_px",
    "cells_per_mm2",
];

/// `summary.csv` as text.
pub fn summary_csv_string(rows: &[ImageSummary]) -> String {
    let mut s = SUMMARY_COLUMNS.join(",");
    s.push('\n');
    for r in rows {
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{},{},{},{}",
            quote(&r.image),
            r.width,
            r.height,
            r.cell_count,
            fmt_f64(r.mean_area),
            fmt_f64(r.median_area),
            fmt_f64(r.confluency),
            fmt_f64(r.mean_neighbors_adjacent),
            fmt_f64(r.mean_neighbors_within),
            r.neighbor_distance,
            r.cells_per_mm2.map_or(String::new(), fmt_f64)
        );
    }
    s
}

/// Writes `summary.csv` (one row per image) atomically.
pub fn write_summary_csv(path: &Path, rows: &[ImageSummary]) -> Result<(), MeasureError> {
    samcell_io::write_atomic(path, summary_csv_string(rows).as_bytes())?;
    Ok(())
}
