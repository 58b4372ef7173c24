//! Intensity columns of `<key>_cells.csv` for 16-bit images, end to end with the built binary:
//! `samcell measure --image` and `samcell segment` measure the image's own values (written on
//! CellProfiler's 0..1 scale, value / 65535, and in the `_raw` columns), not the 8-bit image the
//! model sees. Self-contained: the images and an untrained samcell-lite network are written here.
//!
//! Tolerance: 1e-9 relative (the CSV holds shortest round-trip f64 text).

mod common;

use common::*;
use samcell_imaging::Labels;
use std::collections::BTreeMap;
use std::path::Path;
use tiff::encoder::{colortype, TiffEncoder};

fn write_u16_tiff(path: &Path, w: usize, h: usize, data: &[u16]) {
    let f = std::fs::File::create(path).expect("create");
    TiffEncoder::new(f)
        .expect("encoder")
        .write_image::<colortype::Gray16>(w as u32, h as u32, data)
        .expect("tiff");
}

/// `<key>_cells.csv` as label -> column -> value.
fn cells_csv(path: &Path) -> BTreeMap<u32, BTreeMap<String, f64>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .expect("header")
        .split(',')
        .map(str::to_string)
        .collect();
    lines
        .map(|l| {
            let row: BTreeMap<String, f64> = header
                .iter()
                .zip(l.split(','))
                .map(|(h, v)| (h.clone(), v.parse().unwrap_or(f64::NAN)))
                .collect();
            (row["label"] as u32, row)
        })
        .collect()
}

fn assert_close(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() <= 1e-9 * want.abs().max(1.0),
        "{what}: {got}, expected {want}"
    );
}

#[test]
fn measure_reports_16_bit_intensities_on_the_original_values() {
    let tmp = tempfile::tempdir().unwrap();
    let (w, h) = (8, 4);
    #[rustfmt::skip]
    let lab: Vec<u32> = vec![
        5, 5, 5, 5, 5, 0, 7, 7,
        5, 5, 5, 5, 5, 0, 7, 7,
        0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0,
    ];
    // cell 5: nine pixels of 31231 and one of 31228 (mean 31230.7); cell 7: 1000..4000; the
    // background spans 0..65535, so the 8-bit image of the old behaviour gave about 121.7
    #[rustfmt::skip]
    let raw: Vec<u16> = vec![
        31231, 31231, 31231, 31231, 31231, 0, 1000, 2000,
        31231, 31231, 31231, 31231, 31228, 500, 3000, 4000,
        500, 500, 500, 500, 500, 500, 500, 500,
        500, 500, 500, 500, 500, 500, 500, 65535,
    ];
    let labels = Labels::from_vec(w, h, lab).unwrap();
    samcell_io::write_labels_tiff(&tmp.path().join("cell_masks.tif"), &labels).unwrap();
    write_u16_tiff(&tmp.path().join("cell.tif"), w, h, &raw);
    let out = tmp.path().join("out");
    let (code, _, err) = run(samcell()
        .arg("measure")
        .arg(tmp.path().join("cell_masks.tif"))
        .arg("--image")
        .arg(tmp.path().join("cell.tif"))
        .arg("--output")
        .arg(&out));
    assert_eq!(code, 0, "{err}");
    let cells = cells_csv(&out.join("cell_cells.csv"));
    let c5 = &cells[&5];
    assert_close(c5["MeanIntensity_raw"], 31230.7, "cell 5 MeanIntensity_raw");
    assert_close(
        c5["MeanIntensity"],
        31230.7 / 65535.0,
        "cell 5 MeanIntensity (raw / 65535)",
    );
    assert_close(c5["MinIntensity_raw"], 31228.0, "cell 5 MinIntensity_raw");
    assert_close(c5["MaxIntensity"], 31231.0 / 65535.0, "cell 5 MaxIntensity");
    assert_close(
        c5["IntegratedIntensity_raw"],
        312_307.0,
        "cell 5 IntegratedIntensity_raw",
    );
    let c7 = &cells[&7];
    assert_close(c7["MeanIntensity_raw"], 2500.0, "cell 7 MeanIntensity_raw");
    // population std of 1000, 2000, 3000, 4000
    assert_close(
        c7["StdIntensity_raw"],
        1.25e6f64.sqrt(),
        "cell 7 StdIntensity_raw",
    );
    assert_close(
        c7["StdIntensity"],
        c7["StdIntensity_raw"] / 65535.0,
        "cell 7 StdIntensity",
    );
}

#[test]
fn segment_of_a_16_bit_image_reports_intensities_of_the_original_values() {
    let tmp = tempfile::tempdir().unwrap();
    let weights = write_lite_model_tiled(tmp.path(), 64, 16, 17);
    // 64x64, values 30000..32000 in bright discs on a darker background, one 0 and one 65535
    let (w, h) = (64usize, 64usize);
    let mut raw = vec![0u16; w * h];
    for y in 0..h {
        for x in 0..w {
            let (dx, dy) = ((x % 16) as i32 - 8, (y % 16) as i32 - 8);
            let inside = dx * dx + dy * dy <= 25;
            let base = if inside { 31000 } else { 30000 };
            raw[y * w + x] = base + ((x * 7 + y * 13) % 97) as u16;
        }
    }
    raw[0] = 0;
    raw[w * h - 1] = 65535;
    let img = tmp.path().join("img.tif");
    write_u16_tiff(&img, w, h, &raw);
    let out = tmp.path().join("out");
    let (code, _, err) = run(samcell()
        .arg("segment")
        .arg(&img)
        .arg("--model")
        .arg(format!("lite:{}", weights.display()))
        .args(["--threads", "2", "--peak", "0", "--fill", "0", "--output"])
        .arg(&out));
    assert_eq!(code, 0, "{err}");
    let (mw, mh, masks) = read_labels(&out.join("img_masks.tif"));
    assert_eq!((mw as usize, mh as usize), (w, h));
    let cells = cells_csv(&out.join("img_cells.csv"));
    assert!(!cells.is_empty(), "the thresholds give at least one cell");
    for (label, row) in &cells {
        let vals: Vec<f64> = masks
            .iter()
            .zip(&raw)
            .filter(|(m, _)| *m == label)
            .map(|(_, &v)| f64::from(v))
            .collect();
        let mean = vals.iter().sum::<f64>() / vals.len() as f64;
        let max = vals.iter().cloned().fold(f64::MIN, f64::max);
        assert_close(
            row["MeanIntensity_raw"],
            mean,
            &format!("cell {label} MeanIntensity_raw"),
        );
        assert_close(
            row["MeanIntensity"],
            mean / 65535.0,
            &format!("cell {label} MeanIntensity"),
        );
        assert_close(
            row["MaxIntensity_raw"],
            max,
            &format!("cell {label} MaxIntensity_raw"),
        );
        assert_close(
            row["IntegratedIntensity_raw"],
            vals.iter().sum(),
            &format!("cell {label} IntegratedIntensity_raw"),
        );
    }
}
