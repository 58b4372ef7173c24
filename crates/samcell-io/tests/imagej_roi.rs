//! ImageJ ROI writer: byte-for-byte equality with `roifile` (fixtures written by
//! `reference/gen_roi_fixtures.py`), a round trip through a small decoder written here from
//! ImageJ's `RoiDecoder` layout, and ROI-set zips read back with the `zip` crate.
//!
//! With `SAMCELL_IO_KEEP=DIR` the encoder's `.roi` files for every fixture case and a zip of all
//! of them (`cells_rois.zip`) are written to DIR, for
//! `reference/gen_roi_fixtures.py --check-written DIR` (roifile decodes them).

use proptest::prelude::*;
use samcell_io::imagej_roi::{
    encode_roi, label_roi_name, roi_zip_bytes, write_roi_zip, RoiError, RoiPolygon, RoiPosition,
    ROI_VERSION,
};
use samcell_testdata::imagej_roi::{self, Roi};
use serde_json::Value;
use std::io::Read;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/roi")
        .join(name)
}

fn points(v: &Value) -> Vec<(i32, i32)> {
    let p = |p: &Value| p.as_i64().expect("integer coordinate") as i32;
    v.as_array()
        .expect("ring")
        .iter()
        .map(|xy| (p(&xy[0]), p(&xy[1])))
        .collect()
}

/// The cases of tests/fixtures/roi/cases.json as (stem, ROI).
fn cases() -> Vec<(String, RoiPolygon)> {
    let text = std::fs::read_to_string(fixture("cases.json")).expect("cases.json");
    let doc: Value = serde_json::from_str(&text).expect("cases.json is JSON");
    let n = |v: &Value| v.as_u64().expect("position") as u32;
    doc["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| {
            let position = match &c["position"] {
                Value::Null => None,
                p if p.get("slice").is_some() => Some(RoiPosition::Slice(n(&p["slice"]))),
                p => Some(RoiPosition::Hyperstack {
                    channel: n(&p["c"]),
                    slice: n(&p["z"]),
                    frame: n(&p["t"]),
                }),
            };
            let roi = RoiPolygon {
                name: c["name"].as_str().expect("name").to_string(),
                ring: points(&c["ring"]),
                holes: c["holes"]
                    .as_array()
                    .expect("holes")
                    .iter()
                    .map(points)
                    .collect(),
                position,
            };
            (c["stem"].as_str().expect("stem").to_string(), roi)
        })
        .collect()
}

/// Every case encodes to exactly the bytes roifile wrote for it.
#[test]
fn bytes_equal_roifile() {
    let cases = cases();
    assert!(cases.len() >= 6);
    for (stem, roi) in &cases {
        let want = std::fs::read(fixture(&format!("{stem}.roi"))).expect("fixture");
        let got = encode_roi(roi).unwrap();
        assert_eq!(got, want, "{stem}");
    }
    if let Ok(dir) = std::env::var("SAMCELL_IO_KEEP") {
        let dir = Path::new(&dir);
        std::fs::create_dir_all(dir).unwrap();
        for (stem, roi) in &cases {
            std::fs::write(dir.join(format!("{stem}.roi")), encode_roi(roi).unwrap()).unwrap();
        }
        let all: Vec<RoiPolygon> = cases.into_iter().map(|(_, r)| r).collect();
        write_roi_zip(&dir.join("cells_rois.zip"), &all).unwrap();
    }
}

/// A `.roi` file decoded by the shared test decoder, of the version samcell writes.
fn decode(b: &[u8]) -> Roi {
    let d = imagej_roi::decode(b);
    assert_eq!(d.version, ROI_VERSION);
    d
}

/// Polygon: type 0, bounds = min/max of the pixel corners, coordinates relative to left/top.
#[test]
fn polygon_round_trip() {
    let ring = vec![(10, 10), (14, 10), (14, 12), (12, 12), (12, 16), (10, 16)];
    let mut roi = RoiPolygon::new("0002", ring.clone());
    roi.position = Some(RoiPosition::Slice(3));
    let bytes = encode_roi(&roi).unwrap();
    // relative x then relative y after the 64-byte header
    let rel: Vec<u16> = (0..12)
        .map(|i| u16::from_be_bytes([bytes[64 + 2 * i], bytes[65 + 2 * i]]))
        .collect();
    assert_eq!(rel, [0, 4, 4, 2, 2, 0, 0, 0, 2, 2, 6, 6]);
    let d = decode(&bytes);
    assert_eq!(d.kind, 0);
    assert_eq!(d.bounds, (10, 10, 16, 14));
    assert_eq!(d.vertices, ring);
    assert_eq!((d.position, d.cztp), (3, (0, 0, 0)));
    assert_eq!(d.name, "0002");
    // a repeated closing vertex is not written
    let mut closed = roi.clone();
    closed.ring.push((10, 10));
    assert_eq!(encode_roi(&closed).unwrap(), bytes);
}

/// Holes make a composite: rectangle type, MOVETO/LINETO/CLOSE floats in image coordinates,
/// hyperstack positions in header 2.
#[test]
fn composite_round_trip() {
    let roi = RoiPolygon {
        name: "0009".into(),
        ring: vec![(5, 5), (9, 5), (9, 9), (5, 9)],
        holes: vec![vec![(6, 6), (6, 7), (7, 7), (7, 6)]],
        position: Some(RoiPosition::Hyperstack {
            channel: 2,
            slice: 0,
            frame: 7,
        }),
    };
    let d = decode(&encode_roi(&roi).unwrap());
    assert_eq!(d.kind, 1);
    assert_eq!(d.bounds, (5, 5, 9, 9));
    #[rustfmt::skip]
    let want = [
        0., 5., 5., 1., 9., 5., 1., 9., 9., 1., 5., 9., 4.,
        0., 6., 6., 1., 6., 7., 1., 7., 7., 1., 7., 6., 4.,
    ];
    assert_eq!(d.shape, want);
    assert_eq!((d.position, d.cztp), (0, (2, 0, 7)));
}

#[test]
fn invalid_rings_are_refused() {
    let two = RoiPolygon::new("a", vec![(0, 0), (1, 0), (0, 0)]);
    assert!(matches!(
        encode_roi(&two),
        Err(RoiError::TooFewVertices { count: 2, .. })
    ));
    let far = RoiPolygon::new("b", vec![(0, 0), (60536, 0), (0, 1)]);
    assert!(matches!(
        encode_roi(&far),
        Err(RoiError::OutOfRange { x: 60536, .. })
    ));
    let wide = RoiPolygon::new("w", vec![(-5000, 0), (55536, 0), (0, 1)]);
    assert!(matches!(
        encode_roi(&wide),
        Err(RoiError::TooLarge { width: 60536, .. })
    ));
    let mut hole = RoiPolygon::new("c", vec![(0, 0), (4, 0), (4, 4)]);
    hole.holes.push(vec![(1, 1)]);
    assert!(encode_roi(&hole).is_err());
}

/// Entries named `<name>.roi` in order, repeats made unique, deflated; each entry is the
/// encoder's bytes with the entry's name stored inside.
#[test]
fn zip_entries_named_and_unique() {
    let sq = |x: i32| vec![(x, 0), (x + 2, 0), (x + 2, 2), (x, 2)];
    let rois = vec![
        RoiPolygon::new(label_roi_name(1, None), sq(0)),
        RoiPolygon::new(label_roi_name(1, None), sq(3)),
        RoiPolygon::new("a/b", sq(6)),
        RoiPolygon::new(label_roi_name(12, Some(3)), sq(9)),
    ];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("img_rois.zip");
    write_roi_zip(&path, &rois).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(
        bytes,
        roi_zip_bytes(&rois).unwrap(),
        "same bytes every time"
    );
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let names = ["0001", "0001-2", "a_b", "0003-0012"];
    assert_eq!(zip.len(), names.len());
    for (i, (name, roi)) in names.iter().zip(&rois).enumerate() {
        let mut entry = zip.by_index(i).unwrap();
        assert_eq!(entry.name(), format!("{name}.roi"));
        assert_eq!(entry.compression(), zip::CompressionMethod::Deflated);
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        let d = decode(&data);
        assert_eq!(d.name, *name);
        assert_eq!(d.vertices, roi.ring);
    }
    let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(files.len(), 1, "no temporary file left");
}

/// A ROI that cannot be encoded fails the write and leaves nothing at the path.
#[test]
fn failed_zip_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad_rois.zip");
    let rois = [RoiPolygon::new("x", vec![(0, 0), (1, 1)])];
    let e = write_roi_zip(&path, &rois).unwrap_err();
    assert_eq!(e.path(), path);
    assert!(e.to_string().contains("at least 3"), "{e}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

proptest! {
    /// Any ring within the format's range decodes to the same absolute vertices, name and
    /// position, with bounds = min/max.
    #[test]
    fn any_ring_round_trips(
        ring in prop::collection::vec((-5000i32..=55535, -5000i32..=55535), 3..40),
        name in "[a-zA-Z0-9 µé-]{0,12}",
        pos in 0u32..100,
    ) {
        prop_assume!(ring.first() != ring.last());
        let mut roi = RoiPolygon::new(name.clone(), ring.clone());
        roi.position = Some(RoiPosition::Slice(pos));
        let d = decode(&encode_roi(&roi).unwrap());
        let xs = ring.iter().map(|p| p.0);
        let ys = ring.iter().map(|p| p.1);
        let bounds = (
            ys.clone().min().unwrap(),
            xs.clone().min().unwrap(),
            ys.max().unwrap(),
            xs.max().unwrap(),
        );
        prop_assert_eq!(d.bounds, bounds);
        prop_assert_eq!(d.vertices, ring);
        prop_assert_eq!(d.name, name);
        prop_assert_eq!(d.position, pos as i32);
    }
}
