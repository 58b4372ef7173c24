//! HTTP API integration tests, part 6: the outputs other programs open and physical units, as
//! `samcell segment` makes them. Each finished job offers `cells.geojson` (QuPath) and `rois.zip`
//! (Fiji's ROI Manager), made from its masks, also in the results ZIP; an upload with a pixel size
//! (the server's `--pixel-size`, else the file's own calibration) gets areas in µm², the µm
//! columns of `cells.csv`, `cells_per_mm2` and a calibrated `masks.tif`.
//!
//! A real server on 127.0.0.1 with the synthetic predictor (`common::synthetic`: four bright
//! disks become four cells); the images are generated. No shared materials needed. Outline
//! checks are exact: a pixel-edge outline encloses exactly its cell's pixels, so its area
//! (shoelace formula) equals `Area_px2`.

mod common;

use common::synthetic::{cells_pixels, cells_png, multipage_tiff, server, WAIT};
use common::{get_bytes, get_json, job_id, upload, wait_final, zip_names, zip_text, TestServer};
use samcell_io::{Calibration, CalibrationSource};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// [`cells_pixels`] as a 16-bit TIFF whose ImageJ calibration says 0.5 x 0.25 µm per pixel.
fn calibrated_tiff() -> Vec<u8> {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("cal.tif");
    let values = cells_pixels().into_iter().map(u32::from).collect();
    let img = samcell_imaging::Labels::from_vec(60, 60, values).expect("image");
    let cal = Calibration {
        x_um: 0.5,
        y_um: 0.25,
        source: CalibrationSource::User,
    };
    samcell_io::write_labels_tiff_calibrated(&path, &img, Some(&cal)).expect("TIFF");
    std::fs::read(&path).expect("read back")
}

/// Uploads `files` into `batch` and waits until each is done; returns the jobs.
async fn done_jobs(
    c: &reqwest::Client,
    srv: &TestServer,
    query: &str,
    files: Vec<(String, Vec<u8>)>,
) -> Vec<Value> {
    let n = files.len();
    let (st, body) = upload(c, &srv.url(&format!("/api/jobs?{query}")), &files).await;
    assert_eq!(st, 202, "{body}");
    let mut jobs = Vec::new();
    for k in 0..n {
        let (_, j) = wait_final(c, &srv.url(""), &job_id(&body, k), WAIT).await;
        assert_eq!(j["state"], "done", "{j}");
        jobs.push(j);
    }
    jobs
}

/// A job file by its key in `files`, which must answer 200: (Content-Disposition, bytes).
async fn file(c: &reqwest::Client, srv: &TestServer, j: &Value, key: &str) -> (String, Vec<u8>) {
    let url = j["files"][key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {}", j["files"]));
    let (st, disp, bytes) = get_bytes(c, &srv.url(url)).await;
    assert_eq!(
        st,
        200,
        "{url}: {}",
        String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
    );
    (disp.unwrap_or_default(), bytes)
}

/// `cells.csv` as label -> (column -> value); empty and NaN values are left out (as the GeoJSON
/// leaves them out).
fn csv_by_label(text: &str) -> BTreeMap<u32, BTreeMap<String, f64>> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    assert_eq!(header[0], "label");
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let row = header[1..]
                .iter()
                .zip(&f[1..])
                .filter_map(|(h, v)| v.parse::<f64>().ok().map(|v| (h.to_string(), v)))
                .filter(|(_, v)| v.is_finite())
                .collect();
            (f[0].parse().expect("label"), row)
        })
        .collect()
}

/// Area enclosed by a closed ring (shoelace), always positive.
fn ring_area(ring: &[[f64; 2]]) -> f64 {
    ring.windows(2)
        .map(|w| w[0][0] * w[1][1] - w[1][0] * w[0][1])
        .sum::<f64>()
        .abs()
        / 2.0
}

/// Area of a GeoJSON Polygon's or MultiPolygon's coordinates: exteriors minus holes.
fn geometry_area(g: &Value) -> f64 {
    let ring = |r: &Value| -> Vec<[f64; 2]> {
        r.as_array()
            .expect("ring")
            .iter()
            .map(|p| [p[0].as_f64().expect("x"), p[1].as_f64().expect("y")])
            .collect()
    };
    let polygon = |p: &Value| -> f64 {
        let rings = p.as_array().expect("polygon");
        ring_area(&ring(&rings[0])) - rings[1..].iter().map(|r| ring_area(&ring(r))).sum::<f64>()
    };
    match g["type"].as_str() {
        Some("Polygon") => polygon(&g["coordinates"]),
        Some("MultiPolygon") => g["coordinates"]
            .as_array()
            .expect("polygons")
            .iter()
            .map(polygon)
            .sum(),
        other => panic!("geometry type {other:?}"),
    }
}

/// Checks a job's GeoJSON against its `cells.csv`: one detection feature per row, in label order,
/// whose outline encloses `Area_px2` pixels and whose measurements are the row.
fn check_geojson(text: &[u8], cells: &BTreeMap<u32, BTreeMap<String, f64>>) {
    let gj: Value = serde_json::from_slice(text).expect("GeoJSON is JSON");
    assert_eq!(gj["type"], "FeatureCollection");
    let features = gj["features"].as_array().expect("features");
    let labels: Vec<u32> = features
        .iter()
        .map(|f| f["id"].as_u64().expect("id") as u32)
        .collect();
    assert_eq!(labels, cells.keys().copied().collect::<Vec<_>>());
    for f in features {
        let label = f["id"].as_u64().expect("id") as u32;
        let row = &cells[&label];
        assert_eq!(f["properties"]["objectType"], "detection");
        assert_eq!(
            geometry_area(&f["geometry"]),
            row["Area_px2"],
            "cell {label}: outline area"
        );
        let m = f["properties"]["measurements"]
            .as_object()
            .expect("measurements");
        assert_eq!(m.len(), row.len(), "cell {label}: {m:?} vs {row:?}");
        // serde_json's parser may be 1 ULP off (no `float_roundtrip`): 2 ULP of tolerance
        for (k, v) in row {
            let got = m[k].as_f64().unwrap_or(f64::NAN);
            assert!(
                (got - v).abs() <= 2.0 * f64::EPSILON * v.abs(),
                "cell {label}: {k} = {got} in the GeoJSON, {v} in cells.csv"
            );
        }
    }
}

/// Checks a job's ROI set: one polygon ROI per cell named `<prefix><label>` (four digits) on
/// slice `position` (0: none), enclosing `Area_px2` pixels.
fn check_rois(zip: &[u8], cells: &BTreeMap<u32, BTreeMap<String, f64>>, slice: i32) {
    use std::io::Read;
    let prefix = if slice > 0 {
        format!("{slice:04}-")
    } else {
        String::new()
    };
    let names = zip_names(zip);
    let want: Vec<String> = cells
        .keys()
        .map(|l| format!("{prefix}{l:04}.roi"))
        .collect();
    assert_eq!(names, want);
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(zip.to_vec())).expect("ZIP");
    for (name, label) in names.iter().zip(cells.keys()) {
        let mut bytes = Vec::new();
        z.by_name(name)
            .expect("entry")
            .read_to_end(&mut bytes)
            .expect("read");
        let roi = samcell_testdata::imagej_roi::decode(&bytes);
        assert_eq!(roi.name, name.trim_end_matches(".roi"));
        assert_eq!(roi.position, slice, "{name}: slice");
        let rings = roi.rings();
        assert_eq!(rings.len(), 1, "{name}: a disk is one polygon");
        assert_eq!(
            ring_area(&rings[0]),
            cells[label]["Area_px2"],
            "{name}: outline area"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_calibrated_tiff_gives_physical_units_and_outlines_that_match_the_masks() {
    let c = reqwest::Client::new();
    let (srv, _) = server(false, |_| {}).await;
    let jobs = done_jobs(
        &c,
        &srv,
        "batch=units",
        vec![("cal.tif".into(), calibrated_tiff())],
    )
    .await;
    let j = &jobs[0];
    assert_eq!(j["pixel_size_um"], json!([0.5, 0.25]), "{j}");
    assert_eq!(j["pixel_size_source"], "imagej", "{j}");
    let m = &j["metrics"];
    assert_eq!(m["cell_count"], 4, "{j}");
    let px_area = 0.5 * 0.25;
    let mean_px = m["mean_area_px"].as_f64().expect("mean area");
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
    assert!(
        close(m["mean_area_um2"].as_f64().expect("µm²"), mean_px * px_area),
        "{m}"
    );
    // 4 cells on 30 µm x 15 µm
    let per_mm2 = 4.0 / (60.0 * 0.5 * 60.0 * 0.25 * 1e-6);
    assert!(
        close(m["cells_per_mm2"].as_f64().expect("per mm²"), per_mm2),
        "{m}"
    );

    // cells.csv: the µm columns after the pixel ones
    let (_, csv) = file(&c, &srv, j, "cells").await;
    let cells = csv_by_label(std::str::from_utf8(&csv).expect("UTF-8"));
    assert_eq!(cells.len(), 4);
    for (l, row) in &cells {
        assert!(
            close(row["Area_um2"], row["Area_px2"] * px_area),
            "cell {l}: {row:?}"
        );
    }
    // summary.csv: cells_per_mm2 last
    let (_, summary) = file(&c, &srv, j, "summary").await;
    let summary = String::from_utf8(summary).expect("UTF-8");
    let last = |line: &str| line.rsplit(',').next().unwrap_or_default().to_string();
    let lines: Vec<&str> = summary.lines().collect();
    assert_eq!(last(lines[0]), "cells_per_mm2");
    assert!(
        close(last(lines[1]).parse().expect("number"), per_mm2),
        "{summary}"
    );
    // masks.tif carries the pixel size as ImageJ calibration
    let (_, masks) = file(&c, &srv, j, "masks").await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("masks.tif");
    std::fs::write(&path, &masks).expect("write");
    let (_, info) = samcell_io::read_gray_with_info(&path, &Default::default()).expect("masks.tif");
    let cal = info.calibration.expect("masks.tif is calibrated");
    assert!(close(cal.x_um, 0.5) && close(cal.y_um, 0.25), "{cal}");

    // the outlines, saved under samcell segment's names
    let (disp, gj) = file(&c, &srv, j, "geojson").await;
    assert!(disp.contains("filename=\"cal.geojson\""), "{disp}");
    check_geojson(&gj, &cells);
    let (disp, rois) = file(&c, &srv, j, "rois").await;
    assert!(disp.contains("filename=\"cal_rois.zip\""), "{disp}");
    check_rois(&rois, &cells, 0);

    // ... and in the batch's ZIP, with the pixel size in settings.json
    let (st, _, zip) = get_bytes(&c, &srv.url("/api/batches/units/results.zip")).await;
    assert_eq!(st, 200);
    let names = zip_names(&zip);
    for n in [
        "cal.geojson",
        "cal_rois.zip",
        "cal_cells.csv",
        "cal_masks.tif",
    ] {
        assert!(names.iter().any(|x| x == n), "{n} missing from {names:?}");
    }
    let settings: Value = serde_json::from_str(&zip_text(&zip, "settings.json")).expect("JSON");
    assert_eq!(settings["images"][0]["pixel_size_um"], json!([0.5, 0.25]));
    assert_eq!(settings["pixel_size_um"], Value::Null, "no --pixel-size");
    let list = get_json(&c, &srv.url("/api/jobs?batch=units")).await;
    let s = &list["summary"];
    assert!(
        close(s["mean_area_um2"].as_f64().expect("µm²"), mean_px * px_area),
        "{s}"
    );

    // re-thresholding rewrites the outlines' source files: they follow the new masks
    let r = c
        .post(srv.url(&format!(
            "/api/jobs/{}/threshold",
            j["id"].as_str().expect("id")
        )))
        .json(&json!({"peak": 0.7, "fill": 0.6}))
        .send()
        .await
        .expect("POST threshold");
    assert_eq!(r.status().as_u16(), 200);
    let j2: Value = r.json().await.expect("JSON");
    assert_eq!(j2["pixel_size_um"], json!([0.5, 0.25]), "{j2}");
    let (_, csv2) = file(&c, &srv, &j2, "cells").await;
    let cells2 = csv_by_label(std::str::from_utf8(&csv2).expect("UTF-8"));
    let area =
        |c: &BTreeMap<u32, BTreeMap<String, f64>>| c.values().map(|r| r["Area_px2"]).sum::<f64>();
    assert!(
        area(&cells2) < area(&cells),
        "smaller cells after re-thresholding"
    );
    check_geojson(&file(&c, &srv, &j2, "geojson").await.1, &cells2);
    check_rois(&file(&c, &srv, &j2, "rois").await.1, &cells2, 0);
    drop(c);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_pixel_size_sizes_stay_in_pixels_and_the_server_setting_wins() {
    let c = reqwest::Client::new();
    let (srv, _) = server(false, |_| {}).await;
    let jobs = done_jobs(
        &c,
        &srv,
        "batch=mixed",
        vec![
            ("plain.png".into(), cells_png()),
            ("cal.tif".into(), calibrated_tiff()),
        ],
    )
    .await;
    let plain = &jobs[0];
    assert_eq!(plain["pixel_size_um"], Value::Null, "{plain}");
    assert_eq!(plain["metrics"]["mean_area_um2"], Value::Null);
    assert_eq!(plain["metrics"]["cells_per_mm2"], Value::Null);
    let (_, csv) = file(&c, &srv, plain, "cells").await;
    let text = String::from_utf8(csv).expect("UTF-8");
    assert!(!text.contains("_um"), "no µm columns: {text}");
    let cells = csv_by_label(&text);
    check_geojson(&file(&c, &srv, plain, "geojson").await.1, &cells);
    // one image of the batch without a pixel size: no mean area in µm² across the batch
    let list = get_json(&c, &srv.url("/api/jobs?batch=mixed")).await;
    assert_eq!(
        list["summary"]["mean_area_um2"],
        Value::Null,
        "{}",
        list["summary"]
    );
    drop(c);
    srv.stop().await;

    let c = reqwest::Client::new();
    let user = Calibration {
        x_um: 0.65,
        y_um: 0.65,
        source: CalibrationSource::User,
    };
    let (srv, _) = server(false, |cfg| cfg.pixel_size = Some(user)).await;
    assert_eq!(
        get_json(&c, &srv.url("/api/info")).await["pixel_size_um"],
        json!([0.65, 0.65])
    );
    let jobs = done_jobs(
        &c,
        &srv,
        "batch=user",
        vec![
            ("plain.png".into(), cells_png()),
            ("cal.tif".into(), calibrated_tiff()),
        ],
    )
    .await;
    for j in &jobs {
        assert_eq!(j["pixel_size_um"], json!([0.65, 0.65]), "{j}");
        assert_eq!(j["pixel_size_source"], "user", "{j}");
    }
    drop(c);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rois_of_a_page_of_a_stack_go_on_its_slice() {
    let c = reqwest::Client::new();
    let (srv, _) = server(false, |_| {}).await;
    let stack = multipage_tiff(&[vec![10; 3600], cells_pixels(), vec![10; 3600]], None);
    let jobs = done_jobs(
        &c,
        &srv,
        "batch=stack&page=1",
        vec![("stack.tif".into(), stack)],
    )
    .await;
    let j = &jobs[0];
    assert_eq!(
        (j["page"].as_u64(), j["pages"].as_u64()),
        (Some(1), Some(3)),
        "{j}"
    );
    let (_, csv) = file(&c, &srv, j, "cells").await;
    let cells = csv_by_label(std::str::from_utf8(&csv).expect("UTF-8"));
    assert_eq!(cells.len(), 4);
    let (disp, rois) = file(&c, &srv, j, "rois").await;
    assert!(disp.contains("filename=\"stack_p1_rois.zip\""), "{disp}");
    check_rois(&rois, &cells, 2);
    drop(c);
    srv.stop().await;
}
