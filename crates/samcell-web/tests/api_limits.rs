//! HTTP API integration tests, part 2: what the server refuses and how it copes with load:
//! oversized and non-image uploads, eight clients at once, the page's assets, bad requests.
//! Real server, real tiny SAM model, real images; nothing is mocked (so without the shared
//! materials these tests skip with a line saying so).

mod common;

use std::collections::HashSet;

use common::*;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn oversized_uploads_get_413_and_the_server_keeps_working() {
    if !have(true, &[DSB]) {
        return;
    }
    let srv = TestServer::start(|c| c.max_upload_bytes = 30_000).await;
    let c = reqwest::Client::new();
    let big = IMAGES[1]; // 39 KB
    let (status, body) = upload(&c, &srv.url("/api/jobs"), &[real_file(big)]).await;
    assert_eq!(status, 413, "{body}");
    let msg = body["error"].as_str().expect("error");
    assert!(
        msg.contains("file too large") && msg.contains("30 KB"),
        "{msg}"
    );
    assert_eq!(body["rejected"][0]["name"], big);
    // raw-body upload, same limit
    let r = c
        .post(srv.url("/api/jobs?name=big.png"))
        .body(read(&image(big)))
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status().as_u16(), 413);
    // nothing was kept
    let l = get_json(&c, &srv.url("/api/jobs")).await;
    assert!(l["jobs"].as_array().expect("jobs").is_empty(), "{l}");
    assert_eq!(
        std::fs::read_dir(srv.work.path().join("tmp"))
            .expect("tmp")
            .count(),
        0,
        "no partial upload left"
    );
    // a small image in the same request as a big one: one accepted, one rejected, 202
    let small = IMAGES[0]; // 22 KB
    let (status, body) = upload(
        &c,
        &srv.url("/api/jobs"),
        &[real_file(big), real_file(small)],
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["rejected"].as_array().expect("rejected").len(), 1);
    let id = job_id(&body, 0);
    let (_, j) = wait_final(&c, &srv.url(""), &id, LONG).await;
    assert_eq!(j["state"], "done", "{j}");
    drop(c);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn non_images_get_a_clear_message_and_the_server_keeps_working() {
    if !have(true, &[DSB]) {
        return;
    }
    let srv = TestServer::start(|_| {}).await;
    let c = reqwest::Client::new();
    let (status, body) = upload(
        &c,
        &srv.url("/api/jobs"),
        &[("notes.txt".into(), b"cell counts, day 1\n".to_vec())],
    )
    .await;
    assert_eq!(status, 415, "{body}");
    let msg = body["error"].as_str().expect("error");
    assert!(
        msg.contains("notes.txt") && msg.contains("not an image") && msg.contains("text"),
        "{msg}"
    );
    let (status, body) = upload(
        &c,
        &srv.url("/api/jobs"),
        &[("empty.png".into(), Vec::new())],
    )
    .await;
    assert_eq!(status, 415, "{body}");
    assert_error_contains(&body, "empty file");
    let (status, body) = upload(
        &c,
        &srv.url("/api/jobs"),
        &[("movie.gif".into(), b"GIF89a\x01\x00\x01\x00".to_vec())],
    )
    .await;
    assert_eq!(status, 415);
    assert_error_contains(&body, "GIF");
    // right signature, broken content: accepted, then fails with the decoder's reason
    let mut broken = b"\x89PNG\r\n\x1a\n".to_vec();
    broken.extend_from_slice(&[7u8; 100]);
    let (status, body) = upload(&c, &srv.url("/api/jobs"), &[("broken.png".into(), broken)]).await;
    assert_eq!(status, 202, "{body}");
    let id = job_id(&body, 0);
    let (_, j) = wait_final(&c, &srv.url(""), &id, LONG).await;
    assert_eq!(j["state"], "failed");
    let err = j["error"].as_str().expect("error");
    assert!(
        err.starts_with("cannot read the image:")
            && !err.contains(srv.work.path().to_str().expect("path")),
        "{err}"
    );
    let r = c
        .get(srv.url(&format!("/api/jobs/{id}/files/masks.tif")))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status().as_u16(), 409, "no results for a failed job");
    // and a real image still goes through
    let (status, body) = upload(&c, &srv.url("/api/jobs"), &[real_file(IMAGES[0])]).await;
    assert_eq!(status, 202);
    let (_, j) = wait_final(&c, &srv.url(""), &job_id(&body, 0), LONG).await;
    assert_eq!(j["state"], "done", "{j}");
    drop(c);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_clients_upload_at_once() {
    if !have(true, &[DSB]) {
        return;
    }
    let srv = TestServer::start(|_| {}).await;
    let base = srv.url("");
    // corners of eight real images: one model tile each keeps the test quick
    let images: Vec<(String, Vec<u8>)> = dsb_images(8)
        .iter()
        .map(|p| {
            (
                p.file_name().expect("name").to_string_lossy().to_string(),
                corner_png(p, 60),
            )
        })
        .collect();
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(8));
    let tasks: Vec<_> = images
        .into_iter()
        .enumerate()
        .map(|(k, (name, bytes))| {
            let base = base.clone();
            let start = start.clone();
            tokio::spawn(async move {
                let c = reqwest::Client::new(); // one client (connection pool) each
                start.wait().await;
                let (status, body) = upload(
                    &c,
                    &format!("{base}/api/jobs?batch=client-{k}"),
                    &[(name, bytes)],
                )
                .await;
                assert_eq!(status, 202, "client {k}: {body}");
                let (_, j) = wait_final(&c, &base, &job_id(&body, 0), LONG).await;
                let l = get_json(&c, &format!("{base}/api/jobs?batch=client-{k}")).await;
                assert_eq!(
                    l["jobs"].as_array().expect("jobs").len(),
                    1,
                    "client {k} sees only its own image"
                );
                j
            })
        })
        .collect();
    let mut jobs = Vec::new();
    for t in tasks {
        jobs.push(t.await.expect("client task"));
    }
    let ids: HashSet<&str> = jobs.iter().map(|j| j["id"].as_str().expect("id")).collect();
    assert_eq!(ids.len(), 8);
    for j in &jobs {
        assert_eq!(j["state"], "done", "{j}");
        assert!(j["metrics"]["cell_count"].as_u64().is_some(), "{j}");
    }
    // a single model: the eight runs never overlap and follow the queue order
    jobs.sort_by_key(|j| j["seq"].as_u64());
    for w in jobs.windows(2) {
        assert!(
            w[1]["started_ms"].as_u64() >= w[0]["finished_ms"].as_u64(),
            "overlapping runs: {} / {}",
            w[0],
            w[1]
        );
    }
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn page_assets_info_and_errors() {
    if !have(true, &[DSB]) {
        return;
    }
    let srv = TestServer::start(|_| {}).await;
    let c = reqwest::Client::new();
    let r = c.get(srv.url("/")).send().await.expect("GET /");
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .expect("ct")
        .starts_with("text/html"));
    let html = r.text().await.expect("html");
    for id in [
        "id=\"dropzone\"",
        "id=\"job-list\"",
        "id=\"results-table\"",
        "id=\"peak\"",
        "id=\"dl-zip\"",
        "/assets/app.js",
    ] {
        assert!(html.contains(id), "page lacks {id}");
    }
    for (path, ct) in [
        ("/assets/app.js", "text/javascript"),
        ("/assets/app.css", "text/css"),
        ("/assets/favicon.svg", "image/svg+xml"),
    ] {
        let r = c.get(srv.url(path)).send().await.expect("GET");
        assert_eq!(r.status().as_u16(), 200, "{path}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .expect("ct")
                .starts_with(ct),
            "{path}"
        );
    }
    let info = get_json(&c, &srv.url("/api/info")).await;
    assert_eq!(
        info["defaults"]["peak"].as_f64().map(|v| v as f32),
        Some(TINY_PEAK)
    );
    assert!(
        info["model"].as_str().expect("model").starts_with("SAM"),
        "{info}"
    );
    for (path, code) in [
        ("/nope", 404),
        ("/assets/secret.txt", 404),
        ("/api/jobs/..%2F..%2Fetc", 404),
        ("/api/jobs/0123456789abcdef", 404),
        ("/api/jobs?batch=a%2Fb", 400),
        ("/api/batches/empty/results.zip", 404),
    ] {
        let r = c.get(srv.url(path)).send().await.expect("GET");
        assert_eq!(r.status().as_u16(), code, "{path}");
        let e: Value = r.json().await.expect("JSON error");
        assert!(e["error"].is_string(), "{path}: {e}");
    }
    // bad thresholds on upload
    let (status, body) = upload(&c, &srv.url("/api/jobs?peak=2"), &[real_file(IMAGES[0])]).await;
    assert_eq!(status, 400, "{body}");
    // removing a job removes its files
    let (_, body) = upload(&c, &srv.url("/api/jobs"), &[real_file(IMAGES[0])]).await;
    let id = job_id(&body, 0);
    wait_final(&c, &srv.url(""), &id, LONG).await;
    let r = c
        .delete(srv.url(&format!("/api/jobs/{id}")))
        .send()
        .await
        .expect("DELETE");
    assert_eq!(r.status().as_u16(), 200);
    assert!(!srv.work.path().join("jobs").join(&id).exists());
    assert_eq!(
        c.get(srv.url(&format!("/api/jobs/{id}")))
            .send()
            .await
            .expect("GET")
            .status()
            .as_u16(),
        404
    );
    drop(c);
    srv.stop().await;
}
