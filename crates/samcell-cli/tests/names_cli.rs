//! One naming rule for the command line and the web server: `samcell segment` on the files of
//! one folder and `samcell serve` given the same files as uploads, in the same order, name their
//! outputs the same (`samcell_batch::naming`), including stems that collide by extension and by
//! case only, and names with spaces.
//!
//! The model is a small untrained samcell-lite network written by the test (no download, no
//! shared materials): the test is about names, not about segmentation.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// The input files, in sorted order (the command line's order; uploaded in the same order).
const FILES: [&str; 5] = ["Z.png", "a.png", "a.tif", "b c.png", "z.png"];

/// One HTTP/1.1 request; returns (status, body).
fn http(port: u16, method: &str, path: &str, extra: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{extra}Content-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    )
    .expect("send");
    s.write_all(body).expect("send body");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("headers");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    assert!(
        !head.to_ascii_lowercase().contains("chunked"),
        "this client reads whole bodies only: {head}"
    );
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, raw[split + 4..].to_vec())
}

/// Entry names of a ZIP archive, from its central directory.
fn zip_names(zip: &[u8]) -> Vec<String> {
    let u16_at = |i: usize| usize::from(u16::from_le_bytes([zip[i], zip[i + 1]]));
    let u32_at = |i: usize| u32::from_le_bytes(zip[i..i + 4].try_into().unwrap()) as usize;
    let eocd = zip
        .windows(4)
        .rposition(|w| w == b"PK\x05\x06")
        .expect("end of central directory");
    let (count, mut at) = (u16_at(eocd + 10), u32_at(eocd + 16));
    let mut names = Vec::with_capacity(count);
    for _ in 0..count {
        assert_eq!(&zip[at..at + 4], b"PK\x01\x02", "central directory entry");
        let (n, extra, comment) = (u16_at(at + 28), u16_at(at + 30), u16_at(at + 32));
        names.push(String::from_utf8(zip[at + 46..at + 46 + n].to_vec()).expect("UTF-8 name"));
        at += 46 + n + extra + comment;
    }
    names
}

/// The output names (`<name>` of `<name>_masks.tif`) among file names.
fn masks_names<'a>(files: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut v: Vec<String> = files
        .filter_map(|f| f.strip_suffix("_masks.tif"))
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

#[test]
fn command_line_and_web_server_name_the_same_files_the_same() {
    let tmp = tempfile::tempdir().unwrap();
    let model = write_lite_model(tmp.path());
    let input = tmp.path().join("in");
    std::fs::create_dir(&input).unwrap();
    for (seed, f) in FILES.iter().enumerate() {
        // PNG content whatever the extension: the content decides the format
        write_test_png(&input.join(f), 48, seed as u32);
    }

    // the command line
    let out = tmp.path().join("out");
    let mut c = samcell();
    c.arg("segment")
        .arg(&input)
        .arg("--model")
        .arg(format!("lite:{}", model.display()))
        .arg("--output")
        .arg(&out)
        .args(["--threads", "1"]);
    let (code, _, err) = run(&mut c);
    assert_eq!(code, 0, "{err}");
    let written: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let cli = masks_names(written.iter().map(String::as_str));
    let mut want = vec!["Z", "a_png", "a_tif", "b c", "z_2"];
    want.sort();
    assert_eq!(cli, want, "the command line's names");

    // the web server, given the same files in the same order
    let server = start_serve(
        samcell()
            .arg("serve")
            .arg("--model")
            .arg(format!("lite:{}", model.display()))
            .args(["--port", "0", "--threads", "1"])
            .arg("--work-dir")
            .arg(tmp.path().join("work")),
    );
    let (port, token) = (server.port, server.token.clone());
    let auth = token.map_or(String::new(), |t| format!("X-Samcell-Token: {t}\r\n"));

    let boundary = "samcellnamesboundary";
    let mut body = Vec::new();
    for f in FILES {
        write!(
            body,
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{f}\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .unwrap();
        body.extend(std::fs::read(input.join(f)).unwrap());
        body.extend(b"\r\n");
    }
    write!(body, "--{boundary}--\r\n").unwrap();
    let (st, reply) = http(
        port,
        "POST",
        "/api/jobs?batch=names",
        &format!("{auth}Content-Type: multipart/form-data; boundary={boundary}\r\n"),
        &body,
    );
    assert!(
        (200..300).contains(&st),
        "{st}: {}",
        String::from_utf8_lossy(&reply)
    );

    let t = Instant::now();
    loop {
        let (st, list) = http(port, "GET", "/api/jobs?batch=names", &auth, b"");
        assert_eq!(st, 200);
        let list: serde_json::Value = serde_json::from_slice(&list).expect("JSON");
        let jobs = list["jobs"].as_array().expect("jobs");
        assert!(
            jobs.iter().all(|j| j["state"] != "failed"),
            "a job failed: {list}"
        );
        if jobs.len() == FILES.len() && jobs.iter().all(|j| j["state"] == "done") {
            let uploaded: Vec<&str> = jobs.iter().filter_map(|j| j["name"].as_str()).collect();
            assert_eq!(uploaded, FILES, "jobs in upload order");
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(120), "not done: {list}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (st, zip) = http(port, "GET", "/api/batches/names/results.zip", &auth, b"");
    assert_eq!(st, 200);
    let entries = zip_names(&zip);
    let web = masks_names(entries.iter().map(String::as_str));
    assert_eq!(web, cli, "the web server's names are the command line's");

    // the batch summary names the images the same way
    let (st, csv) = http(port, "GET", "/api/batches/names/summary.csv", &auth, b"");
    assert_eq!(st, 200);
    let csv = String::from_utf8(csv).unwrap();
    let mut rows: Vec<String> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().trim_matches('"').to_string())
        .collect();
    rows.sort();
    assert_eq!(rows, cli, "{csv}");
}
