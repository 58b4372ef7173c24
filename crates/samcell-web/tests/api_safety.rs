//! HTTP API integration tests, part 3: who may drive the server: `Host` (against DNS
//! rebinding), `Origin` (against other web sites), the JSON content type, the access token, and
//! the headers of every answer.
//!
//! A real server on 127.0.0.1. The model is a synthetic predictor (`common::synthetic`): none of
//! these rules depend on the model, and these tests need no shared materials.

mod common;

use common::synthetic::{cells_png, server, synthetic, uploaded_done};
use common::{assert_error_contains, get_json, TestServer};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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
        assert_error_contains(&e, "own page");
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
            assert_error_contains(&e, "application/json");
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
        assert_error_contains(&e, "token");
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
