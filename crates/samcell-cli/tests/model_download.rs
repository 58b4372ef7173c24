//! Named models: download over a real HTTP exchange with a server on 127.0.0.1 (started by the
//! test, serving the tiny reference checkpoint), cache reuse, and the messages when the download
//! cannot happen (HTTP 404, nothing listening). Only the download test needs the shared tiny
//! checkpoint (skipped with a line without it); the images are generated.

mod common;

use common::*;
use std::path::Path;

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn named_model_downloads_once_then_comes_from_the_cache() {
    if !have(&["pt"], &[]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (img, cache) = (tmp.path().join("a.png"), tmp.path().join("models"));
    write_test_png(&img, 256, 2);
    let checkpoint = std::fs::read(tiny_model("pt")).unwrap();
    let server = TinyServer::serve("samcell-generalist.pt", checkpoint.clone());

    let segment = |out: &str| {
        let mut c = samcell();
        c.env("SAMCELL_MODEL_BASE_URL", &server.base_url)
            .env("SAMCELL_MODEL_DIR", &cache)
            .args([
                "segment",
                "--model",
                "generalist",
                "--threads",
                "2",
                "--model-config",
            ])
            .arg(tiny_config())
            .arg("--output")
            .arg(tmp.path().join(out))
            .arg(&img);
        run(&mut c)
    };
    let (code, _, err) = segment("out1");
    assert_eq!(code, 0, "stderr:\n{err}");
    assert_eq!(server.hits(), 1, "one request");
    let cached = cache.join("samcell-generalist.pt");
    assert_eq!(
        std::fs::read(&cached).unwrap(),
        checkpoint,
        "cached file is the served checkpoint"
    );
    assert_eq!(
        leftovers(&cache),
        ["samcell-generalist.pt"],
        "no temporary files left in the cache"
    );
    let run1 = json(&tmp.path().join("out1/run.json"));
    assert_eq!(run1["model"]["name"], "generalist");
    assert_eq!(
        run1["model"]["url"],
        format!("{}/samcell-generalist.pt", server.base_url)
    );

    let (code, _, err) = segment("out2");
    assert_eq!(code, 0, "stderr:\n{err}");
    assert_eq!(server.hits(), 1, "second run uses the cache, no request");
    let run2 = json(&tmp.path().join("out2/run.json"));
    assert_eq!(run2["model"]["sha256"], run1["model"]["sha256"]);
    assert_eq!(run2["images"][0]["n_cells"], run1["images"][0]["n_cells"]);
}

#[test]
fn http_404_names_url_and_cache_path_and_caches_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (img, cache, out) = (
        tmp.path().join("a.png"),
        tmp.path().join("cache"),
        tmp.path().join("out"),
    );
    write_test_png(&img, 64, 0);
    let server = TinyServer::serve("samcell-generalist.pt", b"unused".to_vec());
    let mut c = samcell();
    c.env("SAMCELL_MODEL_BASE_URL", format!("{}/", server.base_url))
        .args(["segment", "--model", "cyto", "--model-dir"])
        .arg(&cache)
        .arg("--output")
        .arg(&out)
        .arg(&img);
    let (code, _, err) = run(&mut c);
    assert_eq!(code, 1, "stderr:\n{err}");
    let url = format!("{}/samcell-cyto.pt", server.base_url);
    assert!(
        err.contains(&url),
        "message names the URL {url}; stderr:\n{err}"
    );
    assert!(
        err.contains("404"),
        "message gives the HTTP status; stderr:\n{err}"
    );
    let dest = cache.join("samcell-cyto.pt");
    assert!(
        err.contains(&dest.display().to_string()),
        "message names the cache path; stderr:\n{err}"
    );
    assert_eq!(server.hits(), 1);
    assert!(
        leftovers(&cache).is_empty(),
        "nothing cached: {:?}",
        leftovers(&cache)
    );
    assert!(!out.exists(), "no outputs");
}

#[test]
fn unreachable_server_names_url_and_cache_path() {
    let tmp = tempfile::tempdir().unwrap();
    let (img, cache) = (tmp.path().join("a.png"), tmp.path().join("xdg"));
    write_test_png(&img, 64, 0);
    let base = format!("http://127.0.0.1:{}", closed_port());
    let mut c = samcell();
    // no --model-dir, no SAMCELL_MODEL_DIR: the cache is $XDG_CACHE_HOME/samcell
    c.env("SAMCELL_MODEL_BASE_URL", &base)
        .env("XDG_CACHE_HOME", &cache)
        .args(["segment", "--model", "generalist", "--output"])
        .arg(tmp.path().join("out"))
        .arg(&img);
    let (code, _, err) = run(&mut c);
    assert_ne!(code, 0, "stderr:\n{err}");
    assert!(
        err.contains(&format!("{base}/samcell-generalist.pt")),
        "names the URL; stderr:\n{err}"
    );
    let dest = cache.join("samcell").join("samcell-generalist.pt");
    assert!(
        err.contains(&dest.display().to_string()),
        "names the cache path {}; stderr:\n{err}",
        dest.display()
    );
    assert!(
        err.contains("--model PATH"),
        "says how to proceed; stderr:\n{err}"
    );
    assert!(!dest.exists());
}

/// A server that answers the headers and a few bytes of a large body, then sends nothing more
/// (keeping the connection open): the idle timeout (shortened through its environment
/// variable) ends the download with the usual "put it at <path>" message, the partial file is
/// removed, and an old leftover `.part` of a killed download is cleaned up. Needs no shared data.
#[test]
fn stalled_download_times_out_and_leaves_no_partial_file() {
    use std::io::{BufRead, BufReader, Write};
    let tmp = tempfile::tempdir().unwrap();
    let (img, cache) = (tmp.path().join("a.png"), tmp.path().join("cache"));
    std::fs::write(&img, b"not read: the model fails first").unwrap();
    std::fs::create_dir_all(&cache).unwrap();
    let stale = cache.join(".samcell-download-killed.part");
    std::fs::write(&stale, b"left by a killed download").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(86_400))
        .unwrap();

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\nPK\x03\x04 first bytes",
            );
            let _ = stream.flush();
            // stall: hold the connection open without sending more
            std::thread::sleep(std::time::Duration::from_secs(60));
            drop(stream);
        }
    });

    let mut c = samcell();
    c.env("SAMCELL_MODEL_BASE_URL", &base)
        .env("SAMCELL_DOWNLOAD_IDLE_TIMEOUT_S", "0.5")
        .args(["segment", "--model", "generalist", "--model-dir"])
        .arg(&cache)
        .arg("--output")
        .arg(tmp.path().join("out"))
        .arg(&img);
    let (code, _, err) = run(&mut c);
    assert_eq!(code, 1, "stderr:\n{err}");
    assert!(
        err.contains("stalled"),
        "says what happened; stderr:\n{err}"
    );
    let dest = cache.join("samcell-generalist.pt");
    assert!(
        err.contains(&format!("put it at {}", dest.display())),
        "says where to put the file; stderr:\n{err}"
    );
    assert!(
        leftovers(&cache).is_empty(),
        "no partial file, the old leftover removed: {:?}",
        leftovers(&cache)
    );
}
