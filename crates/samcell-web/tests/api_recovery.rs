//! HTTP API integration tests, part 4: how the server recovers from a crash while processing
//! (one more try, then failed), a damaged job record, a missing result file, and what it says
//! about multi-page TIFFs.
//!
//! A real server on 127.0.0.1. The model is a synthetic predictor (`common::synthetic`) whose
//! gate holds a job in "processing" while the test copies the work directory: that copy is what
//! a server killed at that moment (out of memory) leaves on disk. No shared materials needed.

mod common;

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::synthetic::{
    cells_pixels, cells_png, multipage_tiff, server, server_in, uploaded_done, Brightness, WAIT,
};
use common::{assert_error_contains, get_json, job_id, upload, wait_final, TestServer};
use serde_json::{json, Value};

/// Copies a work directory as it is at this instant: what a killed server leaves on disk.
fn snapshot(from: &Path) -> tempfile::TempDir {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).expect("mkdir");
        for e in std::fs::read_dir(from).expect("read_dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                copy(&p, &to.join(e.file_name()));
            } else {
                std::fs::copy(&p, to.join(e.file_name())).expect("copy");
            }
        }
    }
    let t = tempfile::tempdir().expect("tempdir");
    copy(from, t.path());
    t
}

fn record(work: &Path, id: &str) -> Value {
    serde_json::from_slice(&std::fs::read(jobs_file(work, id)).expect("job.json")).expect("JSON")
}

/// Waits until the predictor has been entered `n` times (the job is then "processing").
async fn entered(p: &Brightness, n: usize) {
    let t = Instant::now();
    while p.calls.load(Ordering::SeqCst) < n {
        assert!(t.elapsed() < WAIT, "the model never started");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_that_kills_the_server_is_tried_once_more_then_failed() {
    let c = reqwest::Client::new();
    // first run: the model starts; the disk as it is now is what a crash (OOM kill) leaves
    let (srv, p) = server(true, |_| {}).await;
    let (st, body) = upload(
        &c,
        &srv.url("/api/jobs?batch=k"),
        &[("big.png".into(), cells_png())],
    )
    .await;
    assert_eq!(st, 202, "{body}");
    let id = job_id(&body, 0);
    entered(&p, 1).await;
    assert_eq!(record(srv.work.path(), &id)["state"], "processing");
    assert_eq!(
        record(srv.work.path(), &id)["attempts"],
        1,
        "recorded before the model runs"
    );
    let crash1 = snapshot(srv.work.path());
    // a clean stop (Ctrl+C) instead: the interrupted run is handed back, not counted
    srv.state.release_interrupted();
    let rec = record(srv.work.path(), &id);
    assert_eq!(
        (&rec["state"], &rec["attempts"]),
        (&json!("queued"), &json!(0)),
        "{rec}"
    );
    p.gate.set(true);
    srv.stop().await;

    // restart after the first crash: one more try, which "crashes" again
    let (srv, p) = server_in(crash1, true, |_| {}).await;
    entered(&p, 1).await;
    assert_eq!(record(srv.work.path(), &id)["attempts"], 2);
    let crash2 = snapshot(srv.work.path());
    p.gate.set(true);
    let (_, j) = wait_final(&c, &srv.url(""), &id, WAIT).await;
    assert_eq!(j["state"], "done", "the second try itself can succeed: {j}");
    srv.stop().await;

    // restart after the second crash: failed with the reason, the model is not run again
    let (srv, p) = server_in(crash2, false, |_| {}).await;
    let j = get_json(&c, &srv.url(&format!("/api/jobs/{id}"))).await;
    assert_eq!(j["state"], "failed", "{j}");
    let err = j["error"].as_str().expect("error");
    assert!(
        err.contains("stopped 2 times while processing")
            && err.contains("memory")
            && err.contains("60x60"),
        "{err}"
    );
    assert_eq!(record(srv.work.path(), &id)["state"], "failed", "persisted");
    // and the server goes on with other images
    let j2 = uploaded_done(&c, &srv, "k").await;
    assert_eq!(
        p.calls.load(Ordering::SeqCst),
        1,
        "only the new image ran: {j2}"
    );
    drop(c);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_records_and_missing_results_show_as_failed() {
    let c = reqwest::Client::new();
    let (srv, _) = server(false, |_| {}).await;
    let a = processed_id(&c, &srv).await;
    let b = processed_id(&c, &srv).await;
    let m = processed_id(&c, &srv).await;
    let jobs = srv.work.path().join("jobs");
    // a done job whose masks are gone: 409 with the reason, not 500, and the job is failed
    std::fs::remove_file(jobs.join(&m).join("masks.tif")).expect("rm");
    let r = c
        .get(srv.url(&format!("/api/jobs/{m}/files/masks.tif")))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status().as_u16(), 409);
    let e: Value = r.json().await.expect("JSON");
    assert_error_contains(&e, "masks.tif is missing");
    let j = get_json(&c, &srv.url(&format!("/api/jobs/{m}"))).await;
    assert_eq!(j["state"], "failed", "{j}");
    // the batch downloads leave it out instead of failing
    let r = c
        .get(srv.url("/api/batches/d/results.zip"))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status().as_u16(), 200);
    let work = srv.stop().await;

    // damage: a record cut short, a record with a wrong field, a result removed
    let rec = jobs_file(work.path(), &a);
    let text = std::fs::read(&rec).expect("read");
    std::fs::write(&rec, &text[..text.len() / 2]).expect("truncate");
    let mut v = record(work.path(), &b);
    v["state"] = json!("exploded");
    std::fs::write(jobs_file(work.path(), &b), v.to_string()).expect("write");
    // a third image, processed after a restart, whose overlay is then removed
    let (srv, _) = server_in(work, false, |_| {}).await;
    let done_id = processed_id(&c, &srv).await;
    let job_dir = srv.work.path().join("jobs").join(&done_id);
    std::fs::remove_file(job_dir.join("overlay.png")).expect("rm");
    let work = srv.stop().await;

    let (srv, _) = server_in(work, false, |_| {}).await;
    let all = get_json(&c, &srv.url("/api/jobs")).await;
    let find = |id: &str| {
        all["jobs"]
            .as_array()
            .expect("jobs")
            .iter()
            .find(|j| j["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("job {id} vanished: {all}"))
    };
    for id in [&a, &b] {
        let j = find(id);
        assert_eq!(j["state"], "failed", "{j}");
        let err = j["error"].as_str().expect("error");
        assert!(
            err.contains(&format!("jobs/{id}/job.json")) && err.contains("damaged"),
            "{err}"
        );
    }
    assert_eq!(find(&b)["batch"], "d", "what can be read is kept");
    assert_eq!(find(&b)["name"], "cells.png");
    let j = find(&done_id);
    assert_eq!(j["state"], "failed", "{j}");
    assert_error_contains(&j, "overlay.png is missing");
    // failed entries can be removed
    let r = c
        .delete(srv.url(&format!("/api/jobs/{a}")))
        .send()
        .await
        .expect("DELETE");
    assert_eq!(r.status().as_u16(), 200);
    drop(c);
    srv.stop().await;
}

fn jobs_file(work: &Path, id: &str) -> std::path::PathBuf {
    work.join("jobs").join(id).join("job.json")
}

/// Uploads one image into batch "d", waits until it is done; returns its id.
async fn processed_id(c: &reqwest::Client, srv: &TestServer) -> String {
    uploaded_done(c, srv, "d").await["id"]
        .as_str()
        .expect("id")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multipage_tiff_says_which_page_was_segmented() {
    let (srv, _) = server(false, |_| {}).await;
    let c = reqwest::Client::new();
    let dark = vec![10u8; 60 * 60];
    let tiff = multipage_tiff(&[dark.clone(), cells_pixels()], None);
    let mut results = Vec::new();
    for q in ["", "&page=1", "&page=2"] {
        let r = c
            .post(srv.url(&format!("/api/jobs?name=stack.tif{q}")))
            .body(tiff.clone())
            .send()
            .await
            .expect("POST");
        assert_eq!(r.status().as_u16(), 202);
        let body: Value = r.json().await.expect("JSON");
        let (_, j) = wait_final(&c, &srv.url(""), &job_id(&body, 0), WAIT).await;
        results.push(j);
    }
    let (first, second, none) = (&results[0], &results[1], &results[2]);
    assert_eq!(first["state"], "done", "{first}");
    assert!(
        first["source"]
            .as_str()
            .expect("source")
            .contains("page 1/2"),
        "{first}"
    );
    let w = first["warning"].as_str().expect("a warning");
    assert!(
        w.contains("2 pages") && w.contains("only page 0") && w.contains("?page="),
        "{w}"
    );
    assert_eq!(first["metrics"]["cell_count"], 0, "page 0 is dark");
    assert_eq!(second["state"], "done", "{second}");
    assert_eq!(second["page"], 1);
    assert!(
        second["source"]
            .as_str()
            .expect("source")
            .contains("page 2/2"),
        "{second}"
    );
    assert!(second["warning"]
        .as_str()
        .expect("warning")
        .contains("only page 1"));
    assert_eq!(
        second["metrics"]["cell_count"], 4,
        "page 1 has the four disks"
    );
    assert_eq!(none["state"], "failed", "{none}");
    assert_error_contains(none, "page");
    // an ImageJ hyperstack (2 channels): the warning gives its layout
    let stack = multipage_tiff(
        &[cells_pixels(), dark],
        Some("ImageJ=1.54f\nimages=2\nchannels=2\nhyperstack=true\nmode=composite\n"),
    );
    let r = c
        .post(srv.url("/api/jobs?name=hyper.tif"))
        .body(stack)
        .send()
        .await
        .expect("POST");
    let body: Value = r.json().await.expect("JSON");
    let (_, j) = wait_final(&c, &srv.url(""), &job_id(&body, 0), WAIT).await;
    assert_eq!(j["state"], "done", "{j}");
    let w = j["warning"].as_str().expect("a warning");
    assert!(
        w.contains("2 pages (2 channel(s) x 1 slice(s) x 1 frame(s))") && w.contains("only page 0"),
        "{w}"
    );
    // a one-page image has no warning
    let j = uploaded_done(&c, &srv, "p").await;
    assert!(j["warning"].is_null(), "{j}");
    drop(c);
    srv.stop().await;
}
