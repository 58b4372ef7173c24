//! HTTP API integration tests: a server running the built-in model (`ServeConfig::builtin_model`)
//! notes on each result whether the image looks unlike the model's training data
//! (`domain_warning` of the job, `samcell_pipeline::domain`), with what the user of the server can
//! do; re-thresholding recomputes the note (its unsure-map sign depends on the thresholds); a
//! server with another model adds no note.
//!
//! The rules run on the synthetic predictor (`common::synthetic`). The built-in model itself is
//! tested on a generated fluorescence-like image (skipped in builds without it) and on a real
//! phase-contrast image (also needs the Usiigaci set, `SAMCELL_DATA`). With the built-in nuclei
//! model as the fallback (`samcell serve` without `--model`), the fluorescence-like image is
//! segmented by it, the note says so (`routed`), and re-thresholding keeps that note; nuclei a
//! few pixels across get the small-object advice in `warning`, and an upload's `scale` is used;
//! a time series whose frames went to both models is segmented again with one.

mod common;

use std::sync::Arc;

use common::synthetic::{server, uploaded_done};
use common::timelapse::disks_png;
use common::{corner_png, job_id, upload, wait_final, TestServer, LONG, USIIGACI};
use serde_json::{json, Value};

/// The web's remedy names the server's model option, not a flag of `samcell segment`.
const REMEDY: &str = "samcell serve --model generalist";

async fn threshold(c: &reqwest::Client, srv: &TestServer, id: &str, peak: f32) -> Value {
    let r = c
        .post(srv.url(&format!("/api/jobs/{id}/threshold")))
        .json(&json!({"peak": peak, "fill": 0.2}))
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status().as_u16(), 200);
    r.json().await.expect("json")
}

#[tokio::test]
async fn a_dark_background_is_noted_and_the_note_follows_the_thresholds() {
    let (srv, _) = server(false, |c| c.builtin_model = true).await;
    let c = reqwest::Client::new();
    // bright disks on a dark background (grey 10), as fluorescence looks
    let j = uploaded_done(&c, &srv, "dark").await;
    let note = j["domain_warning"].as_str().expect("a note").to_string();
    assert!(
        note.contains("background level")
            && note.ends_with(&format!("(e.g. {REMEDY}) and upload the image again")),
        "{note}"
    );
    assert!(
        !note.contains("unsure"),
        "the disks reach the seed level: {note}"
    );
    assert!(j["warning"].is_null(), "the file's own note is apart: {j}");
    // few pixels reach a seed level of 0.99: the model is called unsure too
    let id = j["id"].as_str().expect("id");
    let high = threshold(&c, &srv, id, 0.99).await;
    let high_note = high["domain_warning"].as_str().expect("a note");
    assert!(
        high_note.contains("the model is unsure") && high_note.contains("background level"),
        "{high_note}"
    );
    // back at the processing thresholds: the note of processing again, and it is persisted
    let back = threshold(&c, &srv, id, 0.5).await;
    assert_eq!(back["domain_warning"], json!(note));
    let work = srv.stop().await;
    let record: Value = serde_json::from_slice(
        &std::fs::read(work.path().join("jobs").join(id).join("job.json")).expect("job.json"),
    )
    .expect("JSON");
    assert_eq!(record["domain_warning"], json!(note));
}

#[tokio::test]
async fn another_model_gets_no_note() {
    let (srv, _) = server(false, |_| {}).await;
    let c = reqwest::Client::new();
    let j = uploaded_done(&c, &srv, "other").await;
    assert!(j["domain_warning"].is_null(), "{j}");
    srv.stop().await;
}

/// A job record of a version without the note still loads, without a note.
#[test]
fn records_without_the_note_load() {
    let mut j = serde_json::to_value(samcell_web::Job::queued(
        "0123456789abcdef".into(),
        "b".into(),
        "a.png".into(),
    ))
    .expect("JSON");
    j.as_object_mut().expect("object").remove("domain_warning");
    let back: samcell_web::Job = serde_json::from_value(j).expect("an older record loads");
    assert_eq!(back.domain_warning, None);
}

/// A server with the built-in cell model (`with_fallback`: and the nuclei model as its fallback,
/// as `samcell serve` runs without `--model`); `None` (after the skip line) in builds without
/// them.
async fn builtin_server(with_fallback: bool) -> Option<TestServer> {
    use samcell_lite::{LiteModel, LitePredictor};
    if samcell_lite::builtin_weights().is_none() {
        samcell_testdata::skip(
            "this build has no built-in samcell-lite model (models/samcell-lite.safetensors)",
        );
        return None;
    }
    let model = LiteModel::builtin().expect("the built-in model loads");
    let mut seg = samcell_pipeline::Segmenter::new(
        Arc::new(LitePredictor::new(model, 4)),
        samcell_pipeline::SegmentConfig::default(),
    );
    let mut fallback = None;
    if with_fallback {
        if samcell_lite::builtin_nuclei_weights().is_none() {
            samcell_testdata::skip(
                "this build has no built-in nuclei model (models/samcell-lite-nuclei.safetensors)",
            );
            return None;
        }
        let nuclei = LiteModel::builtin_nuclei().expect("the built-in nuclei model loads");
        let nuclei = LitePredictor::new(nuclei, 4)
            .with_small_objects(Some(samcell_lite::NUCLEI_SMALL_OBJECTS));
        seg = seg.with_fallback(Arc::new(nuclei));
        fallback = Some(samcell_lite::NUCLEI_NAME.to_string());
    }
    let srv = TestServer::start_with(
        Arc::new(seg),
        tempfile::tempdir().expect("tempdir"),
        |cfg| {
            let defaults = samcell_web::ServeConfig::default();
            (cfg.peak, cfg.fill) = (defaults.peak, defaults.fill);
            cfg.builtin_model = true;
            cfg.fallback_model = fallback;
        },
    )
    .await;
    Some(srv)
}

async fn segmented(c: &reqwest::Client, srv: &TestServer, name: &str, png: Vec<u8>) -> Value {
    let (st, body) = upload(c, &srv.url("/api/jobs?batch=lite"), &[(name.into(), png)]).await;
    assert_eq!(st, 202, "{body}");
    let (_, j) = wait_final(c, &srv.url(""), &job_id(&body, 0), LONG).await;
    assert_eq!(j["state"], "done", "{j}");
    j
}

/// Three bright disks on a dark background, as fluorescence nuclei look.
fn fluorescence_png() -> Vec<u8> {
    disks_png(
        128,
        &[(30.0, 30.0, 10.0), (90.0, 40.0, 12.0), (60.0, 95.0, 11.0)],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_builtin_model_notes_a_fluorescence_like_image() {
    let Some(srv) = builtin_server(false).await else {
        return;
    };
    let c = reqwest::Client::new();
    let nuclei = fluorescence_png();
    let j = segmented(&c, &srv, "nuclei.png", nuclei).await;
    let note = j["domain_warning"].as_str().unwrap_or_default();
    assert!(
        note.contains("background level") && note.contains(REMEDY),
        "{j}"
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_builtin_model_does_not_note_phase_contrast() {
    let Some(set) = samcell_testdata::require_data(USIIGACI) else {
        return;
    };
    let Some(srv) = builtin_server(false).await else {
        return;
    };
    let c = reqwest::Client::new();
    let phc = corner_png(&set.join("train/images/set1.tif"), 256);
    let j = segmented(&c, &srv, "set1.png", phc).await;
    assert!(j["domain_warning"].is_null(), "{j}");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fluorescence_like_image_goes_to_the_nuclei_model_and_the_note_says_so() {
    let Some(srv) = builtin_server(true).await else {
        return;
    };
    let c = reqwest::Client::new();
    let nuclei = fluorescence_png();
    let j = segmented(&c, &srv, "nuclei.png", nuclei).await;
    let note = j["domain_warning"].as_str().unwrap_or_default().to_string();
    assert!(
        note.contains("background level")
            && note.contains("it was segmented with samcell-lite-nuclei (built-in) instead")
            && note.contains(REMEDY),
        "{j}"
    );
    assert_eq!(j["routed"], true, "{j}");
    // the note belongs to the cell model's map: re-thresholding the nuclei map keeps it
    let id = j["id"].as_str().expect("id");
    let again = threshold(&c, &srv, id, 0.99).await;
    assert_eq!(again["domain_warning"], json!(note));
    assert_eq!(again["routed"], true);
    srv.stop().await;
}

/// Dots about 6 px across, 14 px apart, on a dark background: nuclei smaller than the nuclei
/// model segments well.
fn small_dots_png() -> Vec<u8> {
    let img = image::GrayImage::from_fn(256, 256, |x, y| {
        let (dx, dy) = (f64::from(x % 14) - 7.0, f64::from(y % 14) - 7.0);
        let v = 10.0 + 220.0 * (-(dx * dx + dy * dy) / (2.0 * 2.5f64.powi(2))).exp();
        image::Luma([v as u8])
    });
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .expect("png");
    png
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_nuclei_get_the_scale_advice_and_an_upload_sets_the_scale() {
    let Some(srv) = builtin_server(true).await else {
        return;
    };
    let c = reqwest::Client::new();
    let j = segmented(&c, &srv, "dots.png", small_dots_png()).await;
    assert_eq!(j["routed"], true, "{j}");
    let w = j["warning"].as_str().unwrap_or_default();
    assert!(w.contains("px across") && w.contains("try scale 2"), "{j}");
    assert!(j.get("scale").is_none(), "{j}");

    let (st, body) = upload(
        &c,
        &srv.url("/api/jobs?batch=lite&scale=2"),
        &[("dots2.png".into(), small_dots_png())],
    )
    .await;
    assert_eq!(st, 202, "{body}");
    let (_, j) = wait_final(&c, &srv.url(""), &job_id(&body, 0), LONG).await;
    assert_eq!(j["state"], "done", "{j}");
    assert_eq!(j["scale"], json!(2.0), "{j}");
    assert!(j["warning"].is_null(), "no advice at a given scale: {j}");
    assert_eq!(
        (j["width"].clone(), j["height"].clone()),
        (json!(256), json!(256))
    );

    let (st, body) = upload(
        &c,
        &srv.url("/api/jobs?batch=lite&scale=9"),
        &[("dots3.png".into(), small_dots_png())],
    )
    .await;
    assert_eq!(st, 400, "{body}");
    assert!(body.to_string().contains("scale"), "{body}");
    srv.stop().await;
}

/// A time series whose frames went to both models (a phase-contrast frame between two
/// fluorescence-like ones) is segmented with one model before it is linked: the odd frame is
/// queued again with the model most frames went to, and its note says so. Needs the Usiigaci
/// images (`SAMCELL_DATA`) and the built-in models.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_series_is_segmented_with_one_model() {
    let Some(set) = samcell_testdata::require_data(USIIGACI) else {
        return;
    };
    let Some(srv) = builtin_server(true).await else {
        return;
    };
    let c = reqwest::Client::new();
    let r = c
        .put(srv.url("/api/batches/mix/series"))
        .json(&json!({"order": "name"}))
        .send()
        .await
        .expect("PUT");
    assert_eq!(r.status().as_u16(), 200);
    let nuclei = disks_png(
        256,
        &[(60.0, 60.0, 12.0), (150.0, 80.0, 14.0), (90.0, 170.0, 13.0)],
    );
    let phc = corner_png(&set.join("train/images/set1.tif"), 256);
    let frames = vec![
        ("t0.png".to_string(), nuclei.clone()),
        ("t1.png".to_string(), phc),
        ("t2.png".to_string(), nuclei),
    ];
    let (st, body) = upload(&c, &srv.url("/api/jobs?batch=mix"), &frames).await;
    assert_eq!(st, 202, "{body}");
    let start = std::time::Instant::now();
    let series = loop {
        let s = common::get_json(&c, &srv.url("/api/batches/mix/series")).await;
        if s["state"] == "done" || s["state"] == "failed" {
            break s;
        }
        assert!(start.elapsed() < LONG, "series not linked: {s}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(series["state"], "done", "{series}");
    let list = common::get_json(&c, &srv.url("/api/jobs?batch=mix")).await;
    let jobs = list["jobs"].as_array().expect("jobs");
    assert_eq!(jobs.len(), 3);
    for j in jobs {
        assert_eq!(j["routed"], true, "every frame by the nuclei model: {j}");
        let forced = j["name"] == "t1.png";
        assert_eq!(j.get("forced_model").is_some(), forced, "{j}");
        if forced {
            assert_eq!(j["forced_model"], "fallback", "{j}");
            let note = j["domain_warning"].as_str().unwrap_or_default();
            assert!(
                note.contains("segmented again with samcell-lite-nuclei (built-in), the model most frames of its time series went to"),
                "{j}"
            );
        }
    }
    srv.stop().await;
}
