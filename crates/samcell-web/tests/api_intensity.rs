//! HTTP API integration tests, part 5: the intensity columns of a job's `cells.csv` are measured
//! on the uploaded image's own values (as `samcell measure --image` and `samcell segment` do), not
//! on the 8-bit image the model saw, both when the image is processed and after re-thresholding.
//!
//! A real server on 127.0.0.1 with the synthetic predictor (`common::synthetic`); the image is a
//! generated 16-bit TIFF. No shared materials needed.

mod common;

use common::synthetic::{cells_pixels, server, WAIT};
use common::{get_bytes, job_id, upload, wait_final};
use serde_json::{json, Value};

/// Value of every pixel of the uploaded image: far above 255, so that measurements taken on the
/// 8-bit image cannot match.
fn raw_pixels() -> Vec<u16> {
    // background 30100, the four disks 31240..32500
    cells_pixels()
        .into_iter()
        .map(|p| 30000 + 10 * u16::from(p))
        .collect()
}

/// [`raw_pixels`] as a 60x60 16-bit grey TIFF.
fn raw_tiff() -> Vec<u8> {
    let img = image::ImageBuffer::<image::Luma<u16>, Vec<u16>>::from_raw(60, 60, raw_pixels())
        .expect("image");
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Tiff)
        .expect("TIFF");
    out.into_inner()
}

/// The rows of a CSV text as (header, rows of fields).
fn csv_rows(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut lines = text.lines();
    let header = lines
        .next()
        .expect("a header")
        .split(',')
        .map(String::from)
        .collect();
    let rows = lines
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    (header, rows)
}

/// Checks the job's `cells.csv` against its `masks.tif` and the raw values: for every cell,
/// `MeanIntensity_raw` is the mean of the uploaded values under the cell's mask, `MaxIntensity_raw`
/// their maximum, and the 0-1 columns are the raw ones / 65535. Returns (label, area) per cell.
async fn check_cells(c: &reqwest::Client, base: &str, id: &str, when: &str) -> Vec<(u32, u64)> {
    let (st, _, masks) = get_bytes(c, &format!("{base}/api/jobs/{id}/files/masks.tif")).await;
    assert_eq!(st, 200, "{when}: masks.tif");
    let labels = samcell_io::labels::decode_labels(&masks).expect("masks.tif is a label image");
    assert_eq!((labels.width(), labels.height()), (60, 60), "{when}");
    let (st, _, csv) = get_bytes(c, &format!("{base}/api/jobs/{id}/files/cells.csv")).await;
    assert_eq!(st, 200, "{when}: cells.csv");
    let text = String::from_utf8(csv).expect("UTF-8");
    let (header, rows) = csv_rows(&text);
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("{when}: no column {name} in {header:?}"))
    };
    let (label, area) = (col("label"), col("Area_px2"));
    let (mean, mean_raw) = (col("MeanIntensity"), col("MeanIntensity_raw"));
    let (max, max_raw) = (col("MaxIntensity"), col("MaxIntensity_raw"));
    let num = |row: &[String], k: usize| -> f64 {
        row[k]
            .parse()
            .unwrap_or_else(|e| panic!("{when}: {} = {:?}: {e}", header[k], row[k]))
    };
    assert_eq!(rows.len(), 4, "{when}: four cells expected\n{text}");
    let raw = raw_pixels();
    let mut cells = Vec::new();
    for row in &rows {
        let l: u32 = row[label].parse().expect("label");
        let under: Vec<f64> = labels
            .data()
            .iter()
            .zip(&raw)
            .filter(|(&k, _)| k == l)
            .map(|(_, &v)| f64::from(v))
            .collect();
        assert_eq!(
            under.len() as f64,
            num(row, area),
            "{when}: area of cell {l}"
        );
        let expect_mean = under.iter().sum::<f64>() / under.len() as f64;
        let expect_max = under.iter().cloned().fold(f64::MIN, f64::max);
        assert!(
            (num(row, mean_raw) - expect_mean).abs() <= 1e-9 * expect_mean,
            "{when}: cell {l}: MeanIntensity_raw {} vs the mean of the uploaded values under its \
             mask {expect_mean}",
            num(row, mean_raw)
        );
        assert_eq!(
            num(row, max_raw),
            expect_max,
            "{when}: cell {l}: MaxIntensity_raw"
        );
        for (scaled, raw_col) in [(mean, mean_raw), (max, max_raw)] {
            let want = num(row, raw_col) / 65535.0;
            assert!(
                (num(row, scaled) - want).abs() <= 1e-12,
                "{when}: cell {l}: {} {} vs {} / 65535 = {want}",
                header[scaled],
                num(row, scaled),
                header[raw_col]
            );
        }
        cells.push((l, under.len() as u64));
    }
    cells
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cells_csv_intensities_are_the_uploaded_values_also_after_rethresholding() {
    let c = reqwest::Client::new();
    let (srv, _) = server(false, |_| {}).await;
    let (st, body) = upload(
        &c,
        &srv.url("/api/jobs?batch=raw16"),
        &[("wide.tif".into(), raw_tiff())],
    )
    .await;
    assert_eq!(st, 202, "{body}");
    let id = job_id(&body, 0);
    let base = srv.url("");
    let (_, j) = wait_final(&c, &base, &id, WAIT).await;
    assert_eq!(j["state"], "done", "{j}");
    assert!(
        j["source"].as_str().is_some_and(|s| s.contains("u16")),
        "read as 16-bit: {j}"
    );
    let first = check_cells(&c, &base, &id, "after processing").await;

    // tighter thresholds: smaller cells, measured again on the uploaded values
    let r = c
        .post(srv.url(&format!("/api/jobs/{id}/threshold")))
        .json(&json!({"peak": 0.7, "fill": 0.6}))
        .send()
        .await
        .expect("POST threshold");
    assert_eq!(r.status().as_u16(), 200);
    let j: Value = r.json().await.expect("JSON");
    assert_eq!(j["revision"], 1, "{j}");
    let second = check_cells(&c, &base, &id, "after re-thresholding").await;
    let area = |v: &[(u32, u64)]| v.iter().map(|c| c.1).sum::<u64>();
    assert!(
        area(&second) < area(&first),
        "the new thresholds give smaller cells: {first:?} -> {second:?}"
    );
    drop(c);
    srv.stop().await;
}
