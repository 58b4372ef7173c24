//! HTTP API integration tests, part 1: upload, status transitions, results, downloads,
//! re-thresholding and restarts. A real server on 127.0.0.1 with the real (tiny, random-weight)
//! SAM model and real DSB2018 images; nothing is mocked (so without the shared materials these
//! tests skip with a line saying so).
//!
//! Exactness: the server's labels must equal, pixel for pixel, what
//! `samcell_pipeline::labels_from_distance_map` gives on `Segmenter::distance_map` of the same
//! image at the same thresholds (tolerance: none; it is the same code on the same input).

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

/// Labels the library computes for an image at (peak, fill), for comparison with the server.
fn library_labels(name: &str, peak: f32, fill: f32) -> (samcell_imaging::Labels, usize) {
    let img = samcell_io::read_gray(&image(name), &Default::default()).expect("read");
    let map = segmenter().distance_map(&img).expect("distance map");
    samcell_pipeline::labels_from_distance_map(&map, peak, fill).expect("labels")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn upload_status_transitions_results_and_downloads() {
    if !have(true, &[DSB]) {
        return;
    }
    let srv = TestServer::start(|_| {}).await;
    let c = reqwest::Client::new();
    let base = srv.url("");
    let files: Vec<(String, Vec<u8>)> = IMAGES.iter().map(|n| real_file(n)).collect();
    let (status, body) = upload(&c, &srv.url("/api/jobs?batch=t1"), &files).await;
    assert_eq!(status, 202, "{body}");
    let jobs = body["jobs"].as_array().expect("jobs");
    assert_eq!(jobs.len(), 3);
    assert!(body["rejected"].as_array().expect("rejected").is_empty());
    let ids: Vec<String> = jobs
        .iter()
        .map(|j| j["id"].as_str().expect("id").to_string())
        .collect();
    for (j, n) in jobs.iter().zip(IMAGES) {
        assert_eq!(j["name"], n);
        assert_eq!(j["batch"], "t1");
        assert!(
            ["queued", "processing", "done"].contains(&j["state"].as_str().expect("state")),
            "{j}"
        );
    }
    let order = ["queued", "processing", "done"];
    let mut finals = Vec::new();
    for id in &ids {
        let (seen, j) = wait_final(&c, &base, id, LONG).await;
        // states only move forward: queued -> processing -> done (each poll sees a subsequence)
        let pos: Vec<usize> = seen
            .iter()
            .map(|s| order.iter().position(|o| o == s).expect("known state"))
            .collect();
        assert!(
            pos.windows(2).all(|w| w[0] < w[1]),
            "states went backwards: {seen:?}"
        );
        assert_eq!(j["state"], "done", "{j}");
        assert_eq!(
            j["progress"],
            json!({"done": 4, "total": 4}),
            "a 256x256 image is 4 tiles"
        );
        assert!(
            j["metrics"]["cell_count"].as_u64().expect("count") > 0,
            "{j}"
        );
        finals.push(j);
    }
    // one worker, in upload order: each job starts after the previous one finished
    for w in finals.windows(2) {
        assert!(w[0]["seq"].as_u64() < w[1]["seq"].as_u64());
        assert!(
            w[1]["started_ms"].as_u64() >= w[0]["finished_ms"].as_u64(),
            "{} / {}",
            w[0],
            w[1]
        );
    }
    for j in &finals {
        assert!(
            j["created_ms"].as_u64() <= j["started_ms"].as_u64()
                && j["started_ms"].as_u64() <= j["finished_ms"].as_u64()
        );
    }

    // downloads of the first image; the labels are the library's own on the same image
    let j = &finals[0];
    let n = j["metrics"]["cell_count"].as_u64().expect("count") as usize;
    let (want, want_n) = library_labels(IMAGES[0], TINY_PEAK, TINY_FILL);
    assert_eq!(n, want_n, "server count vs library count");
    let f = &j["files"];
    let (st, disp, masks) = get_bytes(&c, &srv.url(f["masks"].as_str().expect("url"))).await;
    assert_eq!(st, 200);
    assert!(disp
        .expect("disposition")
        .contains("00071198d059ba7f5914a526d124d28e6d010c92466da21d4a04cd5413362552_masks.tif"));
    let labels = samcell_measure::read::decode_labels(&masks).expect("masks TIFF");
    assert_eq!(
        labels, want,
        "masks.tif must equal the library's labels exactly"
    );
    let (st, _, csv) = get_bytes(&c, &srv.url(f["cells"].as_str().expect("url"))).await;
    assert_eq!(st, 200);
    let csv = String::from_utf8(csv).expect("utf8");
    assert!(
        csv.starts_with("label,Area_px2,"),
        "{}",
        &csv[..80.min(csv.len())]
    );
    assert_eq!(
        csv.lines().count(),
        n + 1,
        "one row per cell plus the header"
    );
    let (_, _, overlay) = get_bytes(&c, &srv.url(f["overlay"].as_str().expect("url"))).await;
    assert_eq!(png_size(&overlay), (256, 256));
    let (_, _, distmap) = get_bytes(&c, &srv.url(f["distmap"].as_str().expect("url"))).await;
    assert!(distmap.starts_with(b"II*\0"), "distance map is a TIFF");
    for key in [
        "image",
        "view_image",
        "view_fill",
        "view_edges",
        "view_distmap",
    ] {
        let (st, disp, b) = get_bytes(&c, &srv.url(f[key].as_str().expect("url"))).await;
        assert_eq!((st, disp), (200, None), "{key} is shown inline");
        assert_eq!(png_size(&b), (256, 256), "{key}");
    }
    let (st, _, zip1) = get_bytes(&c, &srv.url(f["zip"].as_str().expect("url"))).await;
    assert_eq!(st, 200);
    let stem = IMAGES[0].trim_end_matches(".png");
    let mut names = zip_names(&zip1);
    names.sort();
    let mut expect: Vec<String> = [
        "_cells.csv",
        "_distmap.tif",
        "_masks.tif",
        "_overlay.png",
        ".geojson",
        "_rois.zip",
    ]
    .iter()
    .map(|s| format!("{stem}{s}"))
    .collect();
    expect.extend(["settings.json".to_string(), "summary.csv".to_string()]);
    expect.sort();
    assert_eq!(names, expect);

    // batch downloads
    let (st, _, summary) = get_bytes(&c, &srv.url("/api/batches/t1/summary.csv")).await;
    assert_eq!(st, 200);
    let summary = String::from_utf8(summary).expect("utf8");
    let rows: Vec<&str> = summary.lines().collect();
    assert_eq!(rows.len(), 4, "{summary}");
    assert!(rows[0].starts_with("image,width_px,height_px,cell_count,mean_area_px2"));
    for (row, (j, name)) in rows[1..].iter().zip(finals.iter().zip(IMAGES)) {
        let cols: Vec<&str> = row.split(',').collect();
        assert_eq!(cols[0], name.trim_end_matches(".png"));
        assert_eq!(cols[3], j["metrics"]["cell_count"].to_string());
    }
    let (st, disp, all) = get_bytes(&c, &srv.url("/api/batches/t1/results.zip")).await;
    assert_eq!(st, 200);
    assert!(disp
        .expect("disposition")
        .contains("samcell-results-t1.zip"));
    let names = zip_names(&all);
    assert_eq!(names.len(), 3 * 6 + 2, "{names:?}");
    assert_eq!(zip_text(&all, "summary.csv"), summary);
    let settings: Value =
        serde_json::from_str(&zip_text(&all, "settings.json")).expect("settings JSON");
    assert_eq!(settings["images"].as_array().expect("images").len(), 3);

    // the list endpoint: this batch only, with a summary across images
    let l = get_json(&c, &srv.url("/api/jobs?batch=t1")).await;
    assert_eq!(l["jobs"].as_array().expect("jobs").len(), 3);
    let total: u64 = finals
        .iter()
        .map(|j| j["metrics"]["cell_count"].as_u64().expect("n"))
        .sum();
    assert_eq!(l["summary"]["cell_count"].as_u64(), Some(total));
    assert_eq!(l["summary"]["done"].as_u64(), Some(3));
    let other = get_json(&c, &srv.url("/api/jobs?batch=someone-else")).await;
    assert!(other["jobs"].as_array().expect("jobs").is_empty());
    drop(c);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rethreshold_reruns_only_postprocessing() {
    if !have(true, &[DSB]) {
        return;
    }
    let srv = TestServer::start(|_| {}).await;
    let c = reqwest::Client::new();
    let (status, body) = upload(&c, &srv.url("/api/jobs?batch=thr"), &[real_file(IMAGES[1])]).await;
    assert_eq!(status, 202, "{body}");
    let id = job_id(&body, 0);
    let (_, before) = wait_final(&c, &srv.url(""), &id, LONG).await;
    assert_eq!(before["state"], "done", "{before}");
    let n0 = before["metrics"]["cell_count"].as_u64().expect("n");

    let peak = TINY_PEAK - 0.01;
    let r = c
        .post(srv.url(&format!("/api/jobs/{id}/threshold")))
        .json(&json!({"peak": peak, "fill": TINY_FILL}))
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status().as_u16(), 200);
    let after: Value = r.json().await.expect("json");
    let n1 = after["metrics"]["cell_count"].as_u64().expect("n");
    // the stored distance map post-processed at the new thresholds (no model involved)
    let map =
        samcell_io::read_f32_tiff(&srv.work.path().join("jobs").join(&id).join("distmap.tif"))
            .expect("stored map");
    let (want, want_n) =
        samcell_pipeline::labels_from_distance_map(&map, peak, TINY_FILL).expect("labels");
    assert_eq!(
        n1 as usize, want_n,
        "count after re-thresholding vs post-processing of the stored map"
    );
    assert_ne!(
        n0, n1,
        "a 0.01 peak step changes the count on this image (chosen thresholds)"
    );
    assert_eq!(
        after["revision"].as_u64(),
        Some(before["revision"].as_u64().expect("rev") + 1)
    );
    assert_eq!(
        (
            after["peak"].as_f64().expect("peak") as f32,
            after["fill"].as_f64().expect("fill") as f32
        ),
        (peak, TINY_FILL)
    );
    // the model did not run again
    assert_eq!(after["started_ms"], before["started_ms"]);
    assert_eq!(after["timings_ms"]["model"], before["timings_ms"]["model"]);
    let (_, _, masks) = get_bytes(&c, &srv.url(&format!("/api/jobs/{id}/files/masks.tif"))).await;
    assert_eq!(
        samcell_measure::read::decode_labels(&masks).expect("masks"),
        want,
        "masks.tif follows the new thresholds"
    );
    // persisted: the record on disk has the new thresholds
    let rec: Value = serde_json::from_slice(&read(
        &srv.work.path().join("jobs").join(&id).join("job.json"),
    ))
    .expect("job.json");
    assert_eq!(rec["metrics"]["cell_count"].as_u64(), Some(n1));

    // bad requests
    for bad in [
        json!({"peak": 1.5, "fill": 0.1}),
        json!({"peak": 0.3, "fill": 0.4}),
        json!({"peak": 0.5}),
        json!("x"),
    ] {
        let r = c
            .post(srv.url(&format!("/api/jobs/{id}/threshold")))
            .json(&bad)
            .send()
            .await
            .expect("POST");
        assert_eq!(r.status().as_u16(), 400, "{bad}");
        let e: Value = r.json().await.expect("json error");
        assert!(e["error"].as_str().is_some_and(|s| !s.is_empty()), "{e}");
    }
    let r = c
        .post(srv.url("/api/jobs/0123456789abcdef/threshold"))
        .json(&json!({"peak": 0.5, "fill": 0.1}))
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status().as_u16(), 404);

    // the whole batch at once
    let r = c
        .post(srv.url("/api/batches/thr/threshold"))
        .json(&json!({"peak": TINY_PEAK, "fill": TINY_FILL}))
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status().as_u16(), 200);
    let b: Value = r.json().await.expect("json");
    assert_eq!(
        b["jobs"][0]["metrics"]["cell_count"].as_u64(),
        Some(n0),
        "back to the first thresholds, back to the first count"
    );
    drop(c);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restart_keeps_results_and_resumes_unfinished_jobs() {
    if !have(true, &[DSB]) {
        return;
    }
    let srv = TestServer::start(|_| {}).await;
    let c = reqwest::Client::new();
    let (_, body) = upload(&c, &srv.url("/api/jobs?batch=r"), &[real_file(IMAGES[0])]).await;
    let first = job_id(&body, 0);
    let (_, done) = wait_final(&c, &srv.url(""), &first, LONG).await;
    assert_eq!(done["state"], "done");
    let files: Vec<(String, Vec<u8>)> = IMAGES.iter().map(|n| real_file(n)).collect();
    let (status, body) = upload(&c, &srv.url("/api/jobs?batch=r"), &files).await;
    assert_eq!(status, 202);
    let later: Vec<String> = body["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .map(|j| j["id"].as_str().expect("id").to_string())
        .collect();
    drop(c);
    let work = srv.stop().await; // stops while the new images are queued or running
                                 // the old worker finishes the image it was on, then ends; wait for that on disk
    let rec = |id: &str| -> Value {
        serde_json::from_slice(&read(&work.path().join("jobs").join(id).join("job.json")))
            .expect("job.json")
    };
    let t = std::time::Instant::now();
    while later.iter().any(|id| rec(id)["state"] == "processing") {
        assert!(t.elapsed() < LONG, "old worker never finished");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let srv = TestServer::start_in(work, |_| {}).await;
    let c = reqwest::Client::new();
    let j = get_json(&c, &srv.url(&format!("/api/jobs/{first}"))).await;
    assert_eq!(j["state"], "done");
    assert_eq!(
        j["metrics"], done["metrics"],
        "finished results survive the restart"
    );
    let (st, _, masks) =
        get_bytes(&c, &srv.url(&format!("/api/jobs/{first}/files/masks.tif"))).await;
    assert_eq!(st, 200);
    assert!(samcell_measure::read::decode_labels(&masks).is_ok());
    for id in &later {
        let (_, j) = wait_final(&c, &srv.url(""), id, LONG).await;
        assert_eq!(
            j["state"], "done",
            "unfinished jobs run after the restart: {j}"
        );
    }
    drop(c);
    srv.stop().await;
}
