//! Cell outlines as a GeoJSON FeatureCollection (RFC 7946) that QuPath imports as detection
//! objects with their measurements.
//!
//! [`geojson_string`] builds, and [`write_geojson`] writes atomically (through
//! [`crate::write::write_atomic`]), one `FeatureCollection` with one `Feature` per
//! [`CellFeature`], in the order given:
//!
//! - `"id"`: the label, as a JSON number;
//! - `"geometry"`: a `Polygon` when the cell has one polygon, a `MultiPolygon` when it has
//!   several, with the coordinates as given (pixel coordinates; whole numbers are written
//!   without a fractional part);
//! - `"properties"`: `"objectType": "detection"`, `"name"`: the label as text, and
//!   `"measurements"`: an object of the cell's `(name, value)` pairs in the order given; values
//!   that are NaN or infinite are left out (JSON has no NaN, and a missing measurement is what
//!   QuPath shows as NaN); of pairs with the same name only the first is written.
//!
//! A cell without polygons gets `"geometry": null`. The file is compact JSON (no indentation)
//! followed by a newline.

use crate::IoError;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::path::Path;

/// One cell to write: its label, its polygons (GeoJSON layout: each polygon is its exterior
/// ring then its holes, each ring closed) and its measurements.
#[derive(Debug, Clone, Copy)]
pub struct CellFeature<'a> {
    /// The cell's label (the feature's `id` and `name`).
    pub label: u32,
    /// The cell's polygons; more than one makes a MultiPolygon.
    pub polygons: &'a [Vec<Vec<[f64; 2]>>],
    /// Per-cell numeric values, `(name, value)`.
    pub measurements: &'a [(&'a str, f64)],
}

/// A coordinate as JSON: an integer when it is a whole number, a float otherwise.
fn coord(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        Value::from(v as i64)
    } else {
        Value::from(v)
    }
}

fn polygon(rings: &[Vec<[f64; 2]>]) -> Value {
    Value::Array(
        rings
            .iter()
            .map(|r| {
                Value::Array(
                    r.iter()
                        .map(|&[x, y]| Value::Array(vec![coord(x), coord(y)]))
                        .collect(),
                )
            })
            .collect(),
    )
}

fn geometry(polygons: &[Vec<Vec<[f64; 2]>>]) -> Value {
    match polygons {
        [] => Value::Null,
        [one] => json!({"type": "Polygon", "coordinates": polygon(one)}),
        many => json!({
            "type": "MultiPolygon",
            "coordinates": many.iter().map(|p| polygon(p)).collect::<Vec<_>>(),
        }),
    }
}

#[derive(Serialize)]
struct Collection<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    features: Vec<Feature<'a>>,
}

#[derive(Serialize)]
struct Feature<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: u32,
    geometry: Value,
    properties: Properties<'a>,
}

#[derive(Serialize)]
struct Properties<'a> {
    #[serde(rename = "objectType")]
    object_type: &'static str,
    name: String,
    measurements: Measurements<'a>,
}

/// The finite measurements, in the order given, first of each name only.
struct Measurements<'a>(&'a [(&'a str, f64)]);

impl Serialize for Measurements<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut names = HashSet::new();
        let mut map = s.serialize_map(None)?;
        for &(name, v) in self.0 {
            if v.is_finite() && names.insert(name) {
                map.serialize_entry(name, &v)?;
            }
        }
        map.end()
    }
}

/// The FeatureCollection of `cells` as compact JSON text (see the module documentation).
pub fn geojson_string(cells: &[CellFeature<'_>]) -> String {
    let collection = Collection {
        kind: "FeatureCollection",
        features: cells
            .iter()
            .map(|c| Feature {
                kind: "Feature",
                id: c.label,
                geometry: geometry(c.polygons),
                properties: Properties {
                    object_type: "detection",
                    name: c.label.to_string(),
                    measurements: Measurements(c.measurements),
                },
            })
            .collect(),
    };
    // Serialising these types cannot fail: every map key is a string and every number finite.
    serde_json::to_string(&collection).unwrap_or_default()
}

/// Writes the FeatureCollection of `cells` to `path`, atomically.
pub fn write_geojson(path: &Path, cells: &[CellFeature<'_>]) -> Result<(), IoError> {
    let mut text = geojson_string(cells);
    text.push('\n');
    crate::write::write_atomic(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(x: f64, y: f64) -> Vec<[f64; 2]> {
        vec![
            [x + 1.0, y],
            [x + 1.0, y + 1.0],
            [x, y + 1.0],
            [x, y],
            [x + 1.0, y],
        ]
    }

    #[test]
    fn features_polygons_multipolygons_and_measurements() {
        let one = vec![vec![square(0.0, 0.0)]];
        let two = vec![vec![square(2.0, 2.0)], vec![square(4.5, 0.0)]];
        let m1 = [("Area", 1.0), ("Bad", f64::NAN), ("Inf", f64::INFINITY)];
        let m2 = [("Area", 2.0), ("Centroid X", 3.25)];
        let cells = [
            CellFeature {
                label: 4,
                polygons: &one,
                measurements: &m1,
            },
            CellFeature {
                label: 70000,
                polygons: &two,
                measurements: &m2,
            },
        ];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.geojson");
        write_geojson(&path, &cells).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.ends_with("}\n") && !text.contains("NaN"));
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["type"], "FeatureCollection");
        let f = v["features"].as_array().unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(f[0]["id"], 4);
        assert_eq!(f[0]["properties"]["name"], "4");
        assert_eq!(f[0]["properties"]["objectType"], "detection");
        assert_eq!(f[0]["geometry"]["type"], "Polygon");
        assert_eq!(
            f[0]["geometry"]["coordinates"],
            json!([[[1, 0], [1, 1], [0, 1], [0, 0], [1, 0]]])
        );
        assert_eq!(f[0]["properties"]["measurements"], json!({"Area": 1.0}));
        assert_eq!(f[1]["geometry"]["type"], "MultiPolygon");
        assert_eq!(f[1]["geometry"]["coordinates"][1][0][0], json!([5.5, 0]));
        assert_eq!(
            f[1]["properties"]["measurements"],
            json!({"Area": 2.0, "Centroid X": 3.25})
        );
        // Measurements keep the caller's order, not name order.
        let m3 = [("Z", 1.0), ("A", 2.0), ("Z", 3.0)];
        let text = geojson_string(&[CellFeature {
            label: 1,
            polygons: &one,
            measurements: &m3,
        }]);
        assert!(
            text.contains(r#""measurements":{"Z":1.0,"A":2.0}"#),
            "{text}"
        );
    }

    #[test]
    fn empty_collection_and_no_geometry() {
        assert_eq!(
            geojson_string(&[]),
            r#"{"type":"FeatureCollection","features":[]}"#
        );
        let v: Value = serde_json::from_str(&geojson_string(&[CellFeature {
            label: 1,
            polygons: &[],
            measurements: &[],
        }]))
        .unwrap();
        assert_eq!(v["features"][0]["geometry"], Value::Null);
    }
}
