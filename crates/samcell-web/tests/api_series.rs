//! HTTP API tests of the time-series mode: a batch marked as a series is linked by samcell-track
//! once its frames are segmented, again after a re-threshold or a change of settings, its result
//! survives a restart, and a failed frame (or frames that cannot be linked) is reported instead
//! of being linked around.
//!
//! The frames are small synthetic images of bright disks (two moving cells and one that divides)
//! segmented by the synthetic brightness model (`common::synthetic`): the server's labels are
//! one cell per disk, so the expected tracks are known. One more test runs the built-in
//! samcell-lite model on the scene drawn as that model sees cells. Exactness: the series ZIP must hold the
//! files, byte for byte, that `samcell_track::series::track_files` (what `samcell track --labels`
//! runs) writes for the server's own `masks.tif` and `gray.png` of the frames in frame order,
//! with no file more or less.

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use common::synthetic::{server, server_in, WAIT};
use common::timelapse::{disks_png, frame, lite_frame, name, UPLOAD};
use common::*;
use serde_json::{json, Value};

/// Uploads the five frames of [`frame`] into `batch`, in [`UPLOAD`] order, one request each; their job ids
/// in time order.
async fn upload_frames(c: &reqwest::Client, srv: &TestServer, batch: &str) -> Vec<String> {
    upload_drawn(c, srv, batch, frame).await
}

/// [`upload_frames`] with frames drawn by `draw`.
async fn upload_drawn(
    c: &reqwest::Client,
    srv: &TestServer,
    batch: &str,
    draw: fn(usize) -> Vec<u8>,
) -> Vec<String> {
    let mut ids = vec![String::new(); 5];
    for t in UPLOAD {
        let (st, body) = upload(
            c,
            &srv.url(&format!("/api/jobs?batch={batch}")),
            &[(name(t), draw(t))],
        )
        .await;
        assert_eq!(st, 202, "{body}");
        ids[t] = job_id(&body, 0);
    }
    ids
}

async fn put_series(
    c: &reqwest::Client,
    srv: &TestServer,
    batch: &str,
    body: Value,
) -> (u16, Value) {
    let r = c
        .put(srv.url(&format!("/api/batches/{batch}/series")))
        .json(&body)
        .send()
        .await
        .expect("PUT");
    (r.status().as_u16(), r.json().await.expect("JSON"))
}

/// Polls the series until its state is `want` (and, when given, its revision is above
/// `after`); panics on a final state that is not `want`.
async fn wait_series(
    c: &reqwest::Client,
    srv: &TestServer,
    batch: &str,
    want: &str,
    after: Option<u64>,
) -> Value {
    let t = Instant::now();
    loop {
        let s = get_json(c, &srv.url(&format!("/api/batches/{batch}/series"))).await;
        let st = s["state"].as_str().unwrap_or_default().to_string();
        let newer = after.is_none_or(|r| s["revision"].as_u64().unwrap_or(0) > r);
        if st == want && newer {
            return s;
        }
        assert!(
            !matches!((st.as_str(), want), ("done", "failed") | ("failed", "done")),
            "series {batch} is {st}, expected {want}: {s}"
        );
        assert!(
            t.elapsed() < WAIT,
            "series {batch} not {want} after {WAIT:?}: {s}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every entry of a ZIP: name -> bytes.
fn zip_entries(bytes: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).expect("a ZIP");
    (0..z.len())
        .map(|i| {
            let mut e = z.by_index(i).expect("entry");
            let mut b = Vec::new();
            e.read_to_end(&mut b).expect("read");
            (e.name().to_string(), b)
        })
        .collect()
}

/// Every file under `dir`: path relative to it with `/` -> bytes.
fn folder_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).expect("list").flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                let rel = p.strip_prefix(dir).expect("under dir");
                let rel = rel.to_string_lossy().replace('\\', "/");
                out.insert(rel, std::fs::read(&p).expect("read"));
            }
        }
    }
    out
}

/// What `samcell track GREY --labels MASKS` (the library function it runs) writes for the
/// server's masks and grey images of `ids` (frame order), downloaded through the API.
async fn library_result(
    c: &reqwest::Client,
    srv: &TestServer,
    ids: &[String],
    interval: Option<&str>,
) -> BTreeMap<String, Vec<u8>> {
    let tmp = tempfile::tempdir().expect("tempdir");
    // the layout of `samcell track grey --labels labels`: one folder each, names in frame order
    let (label_dir, grey_dir) = (tmp.path().join("labels"), tmp.path().join("grey"));
    for d in [&label_dir, &grey_dir] {
        std::fs::create_dir_all(d).expect("mkdir");
    }
    let mut frames = Vec::new();
    for (t, id) in ids.iter().enumerate() {
        let labels = label_dir.join(format!("frame{t:03}_masks.tif"));
        let grey = grey_dir.join(format!("frame{t:03}.png"));
        for (file, path) in [("masks.tif", &labels), ("image.png", &grey)] {
            let (st, _, b) = get_bytes(c, &srv.url(&format!("/api/jobs/{id}/files/{file}"))).await;
            assert_eq!(st, 200, "{file} of {id}");
            std::fs::write(path, b).expect("write");
        }
        frames.push(samcell_track::series::FrameFiles {
            labels,
            grey: Some((grey, 0)),
        });
    }
    let out = tmp.path().join("out");
    let timeline = samcell_track::Timeline(
        interval.map(|i| samcell_track::FrameInterval::parse(i).expect("interval")),
    );
    samcell_track::series::track_files(
        &out,
        &frames,
        &samcell_track::TrackConfig::default(),
        &timeline,
        false,
    )
    .expect("library tracking");
    folder_files(&out)
}

async fn series_zip(
    c: &reqwest::Client,
    srv: &TestServer,
    batch: &str,
) -> BTreeMap<String, Vec<u8>> {
    let (st, disp, bytes) = get_bytes(
        c,
        &srv.url(&format!("/api/batches/{batch}/series/results.zip")),
    )
    .await;
    assert_eq!(st, 200, "{}", String::from_utf8_lossy(&bytes));
    assert!(disp.unwrap_or_default().contains("attachment"));
    zip_entries(&bytes)
}

fn frame_names(s: &Value) -> Vec<String> {
    s["frames"]
        .as_array()
        .expect("frames")
        .iter()
        .map(|f| f["name"].as_str().expect("name").to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_series_is_linked_exported_as_the_cli_does_relinked_and_kept_across_a_restart() {
    let (srv, _) = server(false, |_| {}).await;
    let c = reqwest::Client::new();
    // marked before the uploads, in natural name order, with a frame interval
    let (st, s) = put_series(
        &c,
        &srv,
        "ts",
        json!({"order": "name", "frame_interval": "30min"}),
    )
    .await;
    assert_eq!(st, 200, "{s}");
    assert_eq!(
        (s["state"].as_str(), s["order"].as_str()),
        (Some("empty"), Some("name"))
    );
    let ids = upload_frames(&c, &srv, "ts").await;
    let s = wait_series(&c, &srv, "ts", "done", None).await;
    let names: Vec<String> = (0..5).map(name).collect();
    assert_eq!(frame_names(&s), names, "natural order of names: {s}");
    let r = &s["result"];
    assert_eq!(r["frames"], 5);
    assert_eq!(r["time_unit"], "min");
    let counts: Vec<u64> = r["growth"]
        .as_array()
        .expect("growth")
        .iter()
        .map(|g| g["count"].as_u64().expect("count"))
        .collect();
    assert_eq!(counts, [3, 3, 3, 4, 4], "{r}");
    let times: Vec<f64> = r["growth"]
        .as_array()
        .expect("growth")
        .iter()
        .map(|g| g["time"].as_f64().expect("time"))
        .collect();
    assert_eq!(times, [0.0, 30.0, 60.0, 90.0, 120.0]);
    assert_eq!(r["divisions"], 1, "C divides: {r}");
    assert_eq!(r["tracks"], 5, "A, B, C and C's two daughters: {r}");
    assert!(
        r["fit"]["first"].is_u64() && r["fit_text"][0].is_string(),
        "{r}"
    );
    // the export is what samcell track --labels writes for the same frames, byte for byte
    let zip = series_zip(&c, &srv, "ts").await;
    let want = library_result(&c, &srv, &ids, Some("30min")).await;
    let expected: Vec<&str> = [
        "growth.csv",
        "growth.png",
        "lineage.csv",
        "mask000.tif",
        "mask004.tif",
        "overlays/frame000.png",
        "overlays/frame004.png",
        "res_track.txt",
        "summary.txt",
        "tracks.csv",
    ]
    .to_vec();
    for e in expected {
        assert!(zip.contains_key(e), "{e} missing from {:?}", zip.keys());
    }
    assert_eq!(
        zip.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    for (k, v) in &want {
        assert!(zip[k] == *v, "{k} differs from the library's");
    }
    // single files, under the view's URLs
    let files = &r["files"];
    let (st, _, growth) = get_bytes(&c, &srv.url(files["growth_csv"].as_str().expect("url"))).await;
    assert_eq!((st, &growth), (200, &want["growth.csv"]));
    let overlay = files["overlays"][3].as_str().expect("overlay url");
    let (st, _, png) = get_bytes(&c, &srv.url(overlay)).await;
    assert_eq!((st, &png), (200, &want["overlays/frame003.png"]));
    for bad in [
        "series.json",
        "..%2Fseries.json",
        "overlays/..%2F..%2Fseries.json",
        "nope.csv",
    ] {
        let (st, _, _) =
            get_bytes(&c, &srv.url(&format!("/api/batches/ts/series/files/{bad}"))).await;
        assert_eq!(st, 404, "{bad}");
    }
    // the job list of the batch carries the series
    let list = get_json(&c, &srv.url("/api/jobs?batch=ts")).await;
    assert_eq!(list["series"]["state"], "done");

    // upload order instead: frames in the order they came, linked again
    let rev = s["revision"].as_u64().expect("revision");
    let (st, _) = put_series(
        &c,
        &srv,
        "ts",
        json!({"order": "upload", "frame_interval": "30min"}),
    )
    .await;
    assert_eq!(st, 200);
    let s2 = wait_series(&c, &srv, "ts", "done", Some(rev)).await;
    let uploaded: Vec<String> = UPLOAD.iter().map(|&t| name(t)).collect();
    assert_eq!(frame_names(&s2), uploaded);
    let counts2: Vec<u64> = s2["result"]["growth"]
        .as_array()
        .expect("growth")
        .iter()
        .map(|g| g["count"].as_u64().expect("count"))
        .collect();
    assert_eq!(counts2, UPLOAD.map(|t| counts[t]));
    // and back: the same files as the first time
    let rev = s2["revision"].as_u64().expect("revision");
    put_series(
        &c,
        &srv,
        "ts",
        json!({"order": "name", "frame_interval": "30min"}),
    )
    .await;
    let s3 = wait_series(&c, &srv, "ts", "done", Some(rev)).await;
    assert_eq!(series_zip(&c, &srv, "ts").await, zip);

    // a re-threshold of a frame links again: with a seed threshold above most disks' peaks,
    // frame 1 has fewer cells
    let rev = s3["revision"].as_u64().expect("revision");
    let r = c
        .post(srv.url(&format!("/api/jobs/{}/threshold", ids[1])))
        .json(&json!({"peak": 0.99, "fill": 0.2}))
        .send()
        .await
        .expect("threshold");
    assert_eq!(r.status().as_u16(), 200);
    let s4 = wait_series(&c, &srv, "ts", "done", Some(rev)).await;
    let count1 = s4["result"]["growth"][1]["count"].as_u64().expect("count");
    assert!(count1 < 3, "{s4}");
    let zip4 = series_zip(&c, &srv, "ts").await;
    let want4 = library_result(&c, &srv, &ids, Some("30min")).await;
    assert!(
        zip4 == want4,
        "after the re-threshold the export follows the new masks"
    );

    // a restart keeps the result: done at once, same revision, same files
    let work = srv.stop().await;
    let (srv, _) = server_in(work, false, |_| {}).await;
    let s5 = get_json(&c, &srv.url("/api/batches/ts/series")).await;
    assert_eq!(s5["state"], "done", "{s5}");
    assert_eq!(s5["revision"], s4["revision"]);
    assert!(series_zip(&c, &srv, "ts").await == zip4);

    // unmarking keeps the images
    let r = c
        .delete(srv.url("/api/batches/ts/series"))
        .send()
        .await
        .expect("DELETE");
    assert_eq!(r.status().as_u16(), 200);
    let (st, _, _) = get_bytes(&c, &srv.url("/api/batches/ts/series")).await;
    assert_eq!(st, 404);
    let list = get_json(&c, &srv.url("/api/jobs?batch=ts")).await;
    assert_eq!(list["jobs"].as_array().expect("jobs").len(), 5);
    assert!(list["series"].is_null());
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failed_frames_and_frames_that_cannot_be_linked_are_reported() {
    // 80x80 frames fit; a 100x100 one is refused by the pixel limit
    let (srv, _) = server(false, |c| c.max_pixels = 90 * 90).await;
    let c = reqwest::Client::new();
    let (st, s) = put_series(&c, &srv, "tf", json!({"frame_interval": "3 days"})).await;
    assert_eq!(st, 400);
    assert_error_contains(&s, "unknown unit");
    let (st, s) = put_series(&c, &srv, "tf", json!({"order": "sideways"})).await;
    assert_eq!(st, 400, "{s}");
    let (st, _) = put_series(&c, &srv, "tf", json!({})).await;
    assert_eq!(st, 200);
    let mut ids = Vec::new();
    for t in 0..3 {
        let (st, body) = upload(&c, &srv.url("/api/jobs?batch=tf"), &[(name(t), frame(t))]).await;
        assert_eq!(st, 202, "{body}");
        ids.push(job_id(&body, 0));
    }
    let big = disks_png(100, &[(20.0, 20.0, 6.0)]);
    let (_, body) = upload(
        &c,
        &srv.url("/api/jobs?batch=tf"),
        &[("big.png".into(), big)],
    )
    .await;
    let big_id = job_id(&body, 0);
    let s = wait_series(&c, &srv, "tf", "failed", None).await;
    assert_eq!(s["failed_frames"][0]["frame"], 3, "{s}");
    assert_eq!(s["failed_frames"][0]["name"], "big.png");
    let err = s["error"].as_str().expect("error");
    assert!(
        err.contains("frame 3 (big.png)") && err.contains("megapixels"),
        "{err}"
    );
    assert!(s["result"].is_null());
    let (st, _, body) = get_bytes(&c, &srv.url("/api/batches/tf/series/results.zip")).await;
    assert_eq!(st, 409);
    assert!(String::from_utf8_lossy(&body).contains("big.png"));

    // removing the failed frame links the rest
    let r = c
        .delete(srv.url(&format!("/api/jobs/{big_id}")))
        .send()
        .await
        .expect("DELETE");
    assert_eq!(r.status().as_u16(), 200);
    let s = wait_series(&c, &srv, "tf", "done", None).await;
    assert_eq!(s["result"]["frames"], 3);
    assert_eq!(s["result"]["time_unit"], "frames");

    // a frame of another size is segmented but cannot be linked: the error names it
    let rev = s["revision"].as_u64().expect("revision");
    let odd = disks_png(70, &[(20.0, 20.0, 6.0)]);
    let (_, body) = upload(
        &c,
        &srv.url("/api/jobs?batch=tf"),
        &[("odd.png".into(), odd)],
    )
    .await;
    let odd_id = job_id(&body, 0);
    let s = wait_series(&c, &srv, "tf", "failed", None).await;
    let err = s["error"].as_str().expect("error");
    assert!(
        err.contains("frame 3 (odd.png)") && err.contains("frame 3 is 70x70 but frame 0 is 80x80"),
        "{err}"
    );
    assert!(s["failed_frames"].as_array().expect("list").is_empty());
    assert!(!err.contains(&odd_id), "no work-directory paths: {err}");
    c.delete(srv.url(&format!("/api/jobs/{odd_id}")))
        .send()
        .await
        .expect("DELETE");
    // the three frames' result is still the one made before: done again, without linking
    let s = wait_series(&c, &srv, "tf", "done", None).await;
    assert_eq!(
        (s["result"]["frames"].as_u64(), s["revision"].as_u64()),
        (Some(3), Some(rev))
    );
    // not a series / not a batch
    let (st, _, _) = get_bytes(&c, &srv.url("/api/batches/other/series")).await;
    assert_eq!(st, 404);
    let (st, _, _) = get_bytes(&c, &srv.url("/api/batches/a%2Fb/series")).await;
    assert_eq!(st, 400);
    srv.stop().await;
}

/// The built-in samcell-lite model (a real model, as `samcell serve` runs it without
/// `--model`) on the same scene drawn as it sees cells: every frame has cells, and the series is
/// linked and exported as the library does it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_series_segmented_by_the_builtin_model_is_exported_as_the_library_writes_it() {
    use samcell_lite::{LiteModel, LitePredictor};
    let model = LiteModel::builtin().expect("this build has the built-in samcell-lite model");
    let seg = std::sync::Arc::new(samcell_pipeline::Segmenter::new(
        std::sync::Arc::new(LitePredictor::new(model, 4)),
        samcell_pipeline::SegmentConfig::default(),
    ));
    let srv = TestServer::start_with(seg, tempfile::tempdir().expect("tempdir"), |cfg| {
        let defaults = samcell_web::ServeConfig::default();
        (cfg.peak, cfg.fill) = (defaults.peak, defaults.fill);
    })
    .await;
    let c = reqwest::Client::new();
    let (st, _) = put_series(&c, &srv, "lite", json!({"order": "name"})).await;
    assert_eq!(st, 200);
    let ids = upload_drawn(&c, &srv, "lite", lite_frame).await;
    let s = wait_series(&c, &srv, "lite", "done", None).await;
    for g in s["result"]["growth"].as_array().expect("growth") {
        assert!(
            g["count"].as_u64() > Some(0),
            "the model finds the cells: {g}"
        );
    }
    assert!(s["result"]["tracks"].as_u64() >= Some(3), "{s}");
    let zip = series_zip(&c, &srv, "lite").await;
    let want = library_result(&c, &srv, &ids, None).await;
    assert!(zip == want, "the export is the library's result");
    srv.stop().await;
}
