//! `samcell serve` from the command line: its limits and pixel-size options reach the server,
//! a server listening beyond loopback prints an access token and refuses API calls without it,
//! and bad settings are usage errors before any model is loaded.
//!
//! The model is a small untrained samcell-lite network written by the test (no download, no
//! shared materials): these tests are about the options, not about segmentation.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// One HTTP/1.1 GET with extra header lines; returns (status, body).
fn get(port: u16, path: &str, extra: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{extra}Connection: close\r\n\r\n"
    )
    .expect("send");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read");
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn serve_options_reach_the_server_and_a_remote_server_needs_its_token() {
    let tmp = tempfile::tempdir().unwrap();
    let weights = write_lite_model_tiled(tmp.path(), 96, 16, 3);
    let server = start_serve(
        samcell()
            .arg("serve")
            .arg("--model")
            .arg(format!("lite:{}", weights.display()))
            .args(["--host", "0.0.0.0", "--port", "0", "--threads", "1"])
            .args([
                "--max-upload-mb",
                "5",
                "--max-pixels",
                "1000000",
                "--pixel-size",
                "0.5x0.6um",
            ])
            .args(["--allowed-host", "lab.example.org"])
            .arg("--work-dir")
            .arg(tmp.path().join("work")),
    );
    let (port, seen) = (server.port, &server.before);
    let token = server
        .token
        .clone()
        .expect("the address line names a token");
    assert!(
        seen.iter().any(|l| l.contains("not on localhost")),
        "the exposure warning: {seen:?}"
    );
    assert_eq!(token.len(), 32, "{token}");

    let (st, body) = get(port, "/api/info", "");
    assert_eq!(st, 401, "{body}");
    assert!(body.contains("token"), "{body}");
    assert_eq!(
        get(port, "/", "").0,
        200,
        "the page itself loads without the token"
    );
    let (st, body) = get(port, "/api/info", &format!("X-Samcell-Token: {token}\r\n"));
    assert_eq!(st, 200, "{body}");
    let info: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(info["max_upload_bytes"], 5 * 1024 * 1024);
    assert_eq!(info["max_pixels"], 1_000_000);
    assert_eq!(info["pixel_size_um"], serde_json::json!([0.5, 0.6]));
}

#[test]
fn bad_serve_settings_are_usage_errors_before_the_model_loads() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("no-such-model.safetensors");
    for (args, want) in [
        (vec!["--pixel-size=-1"], "pixel size \"-1\""),
        (vec!["--allowed-host", "not a host/"], "--allowed-host"),
        (vec!["--max-upload-mb", "0"], "--max-upload-mb"),
        (vec!["--max-pixels", "0"], "--max-pixels"),
    ] {
        let mut c = samcell();
        c.arg("serve")
            .arg("--model")
            .arg(&missing)
            .args(&args)
            .arg("--work-dir")
            .arg(tmp.path().join("w"));
        let (code, _, err) = run(&mut c);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(
            !err.contains("no-such-model"),
            "refused before the model is looked for: {err}"
        );
    }
}
