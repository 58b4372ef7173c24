//! HTTP API integration tests, part 3: who may drive the server (`Host`, `Origin`, JSON content
//! type, access token, response headers) and how it recovers from a crash while processing, a
//! damaged job record, a missing result file, and what it says about multi-page TIFFs.
//!
//! A real server on 127.0.0.1. The model is a synthetic predictor (the map is the crop's
//! brightness): none of these rules depend on the model, and these tests need no shared
//! materials.

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use common::{get_json, job_id, upload, wait_final, TestServer};
use samcell_imaging::{GrayU8, MapF32};
use samcell_pipeline::{DistanceMapPredictor, PredictError, SegmentConfig, Segmenter};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const WAIT: Duration = Duration::from_secs(60);

/// A gate the predictor waits at while closed (to hold a job in "processing").
#[derive(Default)]
struct Gate {
    open: Mutex<bool>,
    cv: Condvar,
}

impl Gate {
    fn set(&self, open: bool) {
        *self.open.lock().expect("gate") = open;
        self.cv.notify_all();
    }
}

/// Distance map = brightness / 255, so the bright disks of [`cells_png`] become cells.
struct Brightness {
    calls: AtomicUsize,
    gate: Arc<Gate>,
}

impl DistanceMapPredictor for Brightness {
    fn describe(&self) -> String {
        "synthetic (brightness)".into()
    }

    fn predict(&self, crops: &[GrayU8]) -> Result<Vec<MapF32>, PredictError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let mut open = self.gate.open.lock().expect("gate");
        while !*open {
            open = self.gate.cv.wait(open).expect("gate");
        }
        drop(open);
        Ok(crops
            .iter()
            .map(|c| {
                let v = c.data().iter().map(|&p| p as f32 / 255.0).collect();
                MapF32::from_vec(c.width(), c.height(), v).expect("map")
            })
            .collect())
    }
}

/// A segmenter over [`Brightness`] and its gate (open unless `closed`).
fn synthetic(closed: bool) -> (Arc<Segmenter>, Arc<Brightness>) {
    let gate = Arc::new(Gate::default());
    gate.set(!closed);
    let p = Arc::new(Brightness {
        calls: AtomicUsize::new(0),
        gate,
    });
    let seg = Segmenter::new(p.clone(), SegmentConfig::default());
    (Arc::new(seg), p)
}

async fn server(
    closed: bool,
    tweak: impl FnOnce(&mut samcell_web::ServeConfig),
) -> (TestServer, Arc<Brightness>) {
    server_in(tempfile::tempdir().expect("tempdir"), closed, tweak).await
}

async fn server_in(
    work: tempfile::TempDir,
    closed: bool,
    tweak: impl FnOnce(&mut samcell_web::ServeConfig),
) -> (TestServer, Arc<Brightness>) {
    let (seg, p) = synthetic(closed);
    let srv = TestServer::start_with(seg, work, |c| {
        c.peak = 0.5;
        c.fill = 0.2;
        tweak(c);
    })
    .await;
    (srv, p)
}

/// A 60x60 grey image with four bright disks, as pixels.
fn cells_pixels() -> Vec<u8> {
    let mut px = vec![10u8; 60 * 60];
    for (cx, cy) in [(15, 15), (45, 15), (15, 45), (45, 45)] {
        for y in 0..60i32 {
            for x in 0..60i32 {
                let d2 = (x - cx) * (x - cx) + (y - cy) * (y - cy);
                if d2 < 64 {
                    px[(y * 60 + x) as usize] = (250 - 2 * d2) as u8;
                }
            }
        }
    }
    px
}

/// [`cells_pixels`] as PNG bytes.
fn cells_png() -> Vec<u8> {
    let img = image::GrayImage::from_raw(60, 60, cells_pixels()).expect("image");
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("PNG");
    out.into_inner()
}

/// A baseline little-endian TIFF with one 8-bit grey 60x60 page per entry of `pages`
/// (uncompressed, one strip per page).
fn multipage_tiff(pages: &[Vec<u8>]) -> Vec<u8> {
    let (w, h) = (60u32, 60u32);
    let mut out = b"II*\0\0\0\0\0".to_vec();
    let mut link = 4usize; // where the offset of the next IFD goes
    for px in pages {
        let data = out.len() as u32;
        out.extend_from_slice(px);
        if out.len() % 2 == 1 {
            out.push(0);
        }
        let ifd = out.len() as u32;
        out[link..link + 4].copy_from_slice(&ifd.to_le_bytes());
        // (tag, type, value): type 3 = SHORT, 4 = LONG; one value each
        let entries: [(u16, u16, u32); 9] = [
            (256, 4, w),
            (257, 4, h),
            (258, 3, 8),
            (259, 3, 1),
            (262, 3, 1),
            (273, 4, data),
            (277, 3, 1),
            (278, 4, h),
            (279, 4, w * h),
        ];
        out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        for (tag, ty, v) in entries {
            out.extend_from_slice(&tag.to_le_bytes());
            out.extend_from_slice(&ty.to_le_bytes());
            out.extend_from_slice(&1u32.to_le_bytes());
            if ty == 3 {
                out.extend_from_slice(&(v as u16).to_le_bytes());
                out.extend_from_slice(&[0, 0]);
            } else {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        link = out.len();
        out.extend_from_slice(&[0, 0, 0, 0]);
    }
    out
}

/// One raw HTTP/1.1 exchange (full control over `Host`); returns (status, head, body).
async fn raw(addr: std::net::SocketAddr, request: &str) -> (u16, String, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(request.as_bytes()).await.expect("send");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.expect("read");
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, head.to_string(), body.to_string())
}

async fn uploaded_done(c: &reqwest::Client, srv: &TestServer, batch: &str) -> Value {
    let (st, body) = upload(
        c,
        &srv.url(&format!("/api/jobs?batch={batch}")),
        &[("cells.png".into(), cells_png())],
    )
    .await;
    assert_eq!(st, 202, "{body}");
    let (_, j) = wait_final(c, &srv.url(""), &job_id(&body, 0), WAIT).await;
    assert_eq!(j["state"], "done", "{j}");
    j
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_host_is_refused() {
    let (srv, _) = server(false, |_| {}).await;
    let port = srv.addr.port();
    for host in [
        "evil.example".to_string(),
        format!("evil.example:{port}"),
        format!("127.0.0.1.nip.io:{port}"),
        format!("127.0.0.1:{}", port.wrapping_add(1)),
    ] {
        let req = format!("GET /api/jobs HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        let (st, _, body) = raw(srv.addr, &req).await;
        assert_eq!(st, 421, "Host {host}: {body}");
        assert!(body.contains("--allowed-host"), "{body}");
    }
    let no_host = "GET /api/jobs HTTP/1.0\r\n\r\n";
    assert_eq!(raw(srv.addr, no_host).await.0, 421, "no Host at all");
    for host in [format!("127.0.0.1:{port}"), format!("localhost:{port}")] {
        let req = format!("GET /api/jobs HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        assert_eq!(raw(srv.addr, &req).await.0, 200, "Host {host}");
    }
    srv.stop().await;

    // a name given with --allowed-host is accepted
    let (srv, _) = server(false, |c| c.allowed_hosts = vec!["lab.example.org".into()]).await;
    let req = "GET /api/info HTTP/1.1\r\nHost: lab.example.org\r\nConnection: close\r\n\r\n";
    assert_eq!(raw(srv.addr, req).await.0, 200);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_origin_cannot_change_anything() {
    let (srv, _) = server(false, |_| {}).await;
    let c = reqwest::Client::new();
    let own = format!("http://{}", srv.addr);
    let j = uploaded_done(&c, &srv, "o").await;
    let id = j["id"].as_str().expect("id").to_string();
    let form = || {
        reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(cells_png()).file_name("x.png"),
        )
    };
    for origin in ["http://evil.example", "null", "http://127.0.0.1:1"] {
        let r = c
            .post(srv.url("/api/jobs?batch=o"))
            .header("Origin", origin)
            .multipart(form())
            .send()
            .await
            .expect("POST");
        assert_eq!(r.status().as_u16(), 403, "upload from {origin}");
        let r = c
            .post(srv.url(&format!("/api/jobs/{id}/threshold")))
            .header("Origin", origin)
            .json(&json!({"peak": 0.6, "fill": 0.2}))
            .send()
            .await
            .expect("POST");
        assert_eq!(r.status().as_u16(), 403, "threshold from {origin}");
        let r = c
            .delete(srv.url(&format!("/api/jobs/{id}")))
            .header("Origin", origin)
            .send()
            .await
            .expect("DELETE");
        assert_eq!(r.status().as_u16(), 403, "delete from {origin}");
        let e: Value = r.json().await.expect("JSON error");
        assert!(
            e["error"].as_str().expect("error").contains("own page"),
            "{e}"
        );
    }
    let l = get_json(&c, &srv.url("/api/jobs?batch=o")).await;
    assert_eq!(
        l["jobs"].as_array().expect("jobs").len(),
        1,
        "nothing added or removed: {l}"
    );
    assert_eq!(l["jobs"][0]["revision"], 0, "not re-thresholded");
    // reads from another origin get no CORS permission (the browser keeps the answer from it)
    let r = c
        .get(srv.url("/api/jobs"))
        .header("Origin", "http://evil.example")
        .send()
        .await
        .expect("GET");
    assert!(r.headers().get("access-control-allow-origin").is_none());

    // the page's own origin, and scripts without an Origin, work
    let r = c
        .post(srv.url(&format!("/api/jobs/{id}/threshold")))
        .header("Origin", &own)
        .json(&json!({"peak": 0.6, "fill": 0.2}))
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status().as_u16(), 200);
    let r = c
        .post(srv.url("/api/jobs?batch=o"))
        .header("Origin", &own)
        .multipart(form())
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status().as_u16(), 202);
    let r = c
        .delete(srv.url(&format!("/api/jobs/{id}")))
        .header("Origin", &own)
        .send()
        .await
        .expect("DELETE");
    assert_eq!(r.status().as_u16(), 200);
    drop(c);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_endpoints_need_a_json_content_type() {
    let (srv, _) = server(false, |_| {}).await;
    let c = reqwest::Client::new();
    let j = uploaded_done(&c, &srv, "ct").await;
    let id = j["id"].as_str().expect("id");
    let body = r#"{"peak": 0.6, "fill": 0.2}"#;
    for path in [
        format!("/api/jobs/{id}/threshold"),
        "/api/batches/ct/threshold".to_string(),
    ] {
        for ct in [
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            None,
        ] {
            let mut r = c.post(srv.url(&path)).body(body);
            if let Some(ct) = ct {
                r = r.header("Content-Type", ct);
            }
            let r = r.send().await.expect("POST");
            assert_eq!(r.status().as_u16(), 415, "{path} with {ct:?}");
            let e: Value = r.json().await.expect("JSON error");
            assert!(
                e["error"]
                    .as_str()
                    .expect("error")
                    .contains("application/json"),
                "{e}"
            );
        }
        let r = c
            .post(srv.url(&path))
            .header("Content-Type", "application/json; charset=utf-8")
            .body(body)
            .send()
            .await
            .expect("POST");
        assert_eq!(r.status().as_u16(), 200, "{path}");
    }
    drop(c);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_forbids_framing_and_sniffing() {
    let (srv, _) = server(false, |c| c.token = Some("tok-0123456789abcdef".into())).await;
    let c = reqwest::Client::new();
    let port = srv.addr.port();
    let check = |what: &str, head: &str| {
        let head = head.to_ascii_lowercase();
        for h in [
            "x-frame-options: deny",
            "content-security-policy: frame-ancestors 'none'",
            "x-content-type-options: nosniff",
            "cross-origin-resource-policy: same-origin",
        ] {
            assert!(head.contains(h), "{what}: no {h} in\n{head}");
        }
    };
    for path in [
        "/",
        "/assets/app.js",
        "/api/info",
        "/nope",
        "/api/jobs/0123456789abcdef",
    ] {
        for token in [true, false] {
            let t = if token {
                "X-Samcell-Token: tok-0123456789abcdef\r\n"
            } else {
                ""
            };
            let req = format!(
                "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{t}Connection: close\r\n\r\n"
            );
            let (st, head, _) = raw(srv.addr, &req).await;
            check(&format!("GET {path} ({st})"), &head);
        }
    }
    let req = "GET / HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n";
    let (st, head, _) = raw(srv.addr, req).await;
    assert_eq!(st, 421);
    check("a refused host", &head);
    let r = c
        .delete(srv.url("/api/jobs/0123456789abcdef"))
        .header("Origin", "http://evil.example")
        .send()
        .await
        .expect("DELETE");
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    drop(c);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_with_a_token_requires_it() {
    const TOKEN: &str = "abcdef0123456789abcdef0123456789";
    let (srv, _) = server(false, |c| c.token = Some(TOKEN.into())).await;
    let c = reqwest::Client::new();
    // the page itself holds no data and loads without the token
    assert_eq!(
        c.get(srv.url("/"))
            .send()
            .await
            .expect("GET")
            .status()
            .as_u16(),
        200
    );
    for (name, value) in [
        ("X-Other", TOKEN.to_string()),
        ("X-Samcell-Token", "abcdef0123456789abcdef012345678X".into()),
        ("Cookie", "samcell_token_1=wrong".into()),
    ] {
        let r = c
            .get(srv.url("/api/info"))
            .header(name, value)
            .send()
            .await
            .expect("GET");
        assert_eq!(r.status().as_u16(), 401, "{name}");
        let e: Value = r.json().await.expect("JSON");
        assert!(e["error"].as_str().expect("error").contains("token"), "{e}");
    }
    let r = c
        .post(srv.url("/api/jobs"))
        .body(cells_png())
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status().as_u16(), 401, "no upload without the token");
    assert!(get_ok(&c, &srv, "X-Samcell-Token", TOKEN).await);
    assert!(
        get_ok(
            &c,
            &srv,
            "Cookie",
            &format!("x=1; samcell_token_{}={TOKEN}", srv.addr.port())
        )
        .await
    );
    let r = c
        .post(srv.url("/api/jobs?name=cells.png"))
        .header("X-Samcell-Token", TOKEN)
        .body(cells_png())
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status().as_u16(), 202);
    drop(c);
    srv.stop().await;

    // a server reachable from other computers does not start without a token
    let (seg, _) = synthetic(false);
    let work = tempfile::tempdir().expect("tempdir");
    let cfg = samcell_web::ServeConfig {
        host: "0.0.0.0".into(),
        port: 0,
        work_dir: work.path().to_path_buf(),
        ..Default::default()
    };
    let e = samcell_web::AppState::open(cfg, seg)
        .err()
        .expect("refused");
    assert!(e.to_string().contains("without an access token"), "{e}");
}

async fn get_ok(c: &reqwest::Client, srv: &TestServer, name: &str, value: &str) -> bool {
    c.get(srv.url("/api/info"))
        .header(name, value)
        .send()
        .await
        .expect("GET")
        .status()
        .as_u16()
        == 200
}

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
    let p = work.join("jobs").join(id).join("job.json");
    serde_json::from_slice(&std::fs::read(&p).expect("job.json")).expect("JSON")
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
    let a = uploaded_done(&c, &srv, "d").await["id"]
        .as_str()
        .expect("id")
        .to_string();
    let b = uploaded_done(&c, &srv, "d").await["id"]
        .as_str()
        .expect("id")
        .to_string();
    let m = uploaded_done(&c, &srv, "d").await["id"]
        .as_str()
        .expect("id")
        .to_string();
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
    assert!(
        e["error"]
            .as_str()
            .expect("error")
            .contains("masks.tif is missing"),
        "{e}"
    );
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
    let third = uploaded_id_after_restart(&c, work).await;
    let (srv, work_path, done_id) = third;
    std::fs::remove_file(work_path.join("jobs").join(&done_id).join("overlay.png")).expect("rm");
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
    assert!(
        j["error"]
            .as_str()
            .expect("error")
            .contains("overlay.png is missing"),
        "{j}"
    );
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

/// Restarts on `work`, processes one more image; returns the server, its work path, the new id.
async fn uploaded_id_after_restart(
    c: &reqwest::Client,
    work: tempfile::TempDir,
) -> (TestServer, std::path::PathBuf, String) {
    let (srv, _) = server_in(work, false, |_| {}).await;
    let id = uploaded_done(c, &srv, "d").await["id"]
        .as_str()
        .expect("id")
        .to_string();
    let path = srv.work.path().to_path_buf();
    (srv, path, id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multipage_tiff_says_which_page_was_segmented() {
    let (srv, _) = server(false, |_| {}).await;
    let c = reqwest::Client::new();
    let dark = vec![10u8; 60 * 60];
    let tiff = multipage_tiff(&[dark, cells_pixels()]);
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
    assert!(
        none["error"].as_str().expect("error").contains("page"),
        "{none}"
    );
    // a one-page image has no warning
    let j = uploaded_done(&c, &srv, "p").await;
    assert!(j["warning"].is_null(), "{j}");
    drop(c);
    srv.stop().await;
}
