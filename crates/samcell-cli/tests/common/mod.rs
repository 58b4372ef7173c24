//! Shared helpers of the CLI tests: locating the reference harness and the real data, running
//! the built `samcell` binary, and a minimal HTTP server on 127.0.0.1.
//!
//! - `SAMCELL_SHARED` (default `<workspace>/../shared`): the tiny checkpoint
//!   `reference/sam_tiny_scaled.{safetensors,pt}` and `reference/config_tiny.json`.
//! - `SAMCELL_DATA` (default `<workspace>/../shared/data`): `dsb2018-train/` and `usiigaci-phc/`.
//!
//! A test that needs them asks [`have`] first and returns when it says no: the test is skipped
//! with one line naming what is missing (a failure under `SAMCELL_REQUIRE_DATA=1`). Tests that
//! only need some image and some model use [`write_test_png`] and [`write_lite_model`] instead.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// Three 256x256 DSB2018 training images (RGBA PNGs, fluorescence-like), by fixed name.
pub const DSB_IMAGES: [&str; 3] = [
    "00071198d059ba7f5914a526d124d28e6d010c92466da21d4a04cd5413362552.png",
    "003cee89357d9fe13516167fd67b609a164651b21934585648c740d2c3d86dc1.png",
    "0280fa8f60f6bcae0f97d93c28f60be194f9309ff610dc5845e60455b0f87c21.png",
];

/// Whether this build has both built-in samcell-lite models (the cell model and the nuclei
/// model the default turns to); when not, one line says so and the caller returns.
pub fn builtin_pair_present() -> bool {
    if samcell_lite::builtin_weights().is_none() || samcell_lite::builtin_nuclei_weights().is_none()
    {
        samcell_testdata::skip(
            "this build lacks a built-in samcell-lite model (models/samcell-lite.safetensors, \
             models/samcell-lite-nuclei.safetensors)",
        );
        return false;
    }
    true
}

/// The DSB2018 image set (`SAMCELL_DATA/dsb2018-train`).
pub const DSB: &str = "dsb2018-train";
/// The Usiigaci phase-contrast set (`SAMCELL_DATA/usiigaci-phc`).
pub const USIIGACI: &str = "usiigaci-phc";

/// Whether the shared materials a test needs are present: the tiny checkpoint in each format of
/// `tiny` ("safetensors", "pt") with its config, and the image `sets`. When something is missing
/// the caller returns: one line says what (see samcell-testdata; with `SAMCELL_REQUIRE_DATA=1`
/// this panics instead).
pub fn have(tiny: &[&str], sets: &[&str]) -> bool {
    let mut files: Vec<String> = tiny
        .iter()
        .map(|ext| format!("sam_tiny_scaled.{ext}"))
        .collect();
    if !tiny.is_empty() {
        files.push("config_tiny.json".into());
    }
    let files: Vec<&str> = files.iter().map(String::as_str).collect();
    samcell_testdata::require(&files, sets).is_some()
}

/// The shared folder holding `reference/` (`SAMCELL_SHARED`); ask [`have`] first.
pub fn shared() -> PathBuf {
    samcell_testdata::shared_dir()
}

/// The real data folder (`SAMCELL_DATA`); ask [`have`] first.
pub fn data() -> PathBuf {
    samcell_testdata::data_dir()
}

/// A file of the shared reference harness; ask [`have`] first.
pub fn reference_file(name: &str) -> PathBuf {
    samcell_testdata::reference_file(name)
}

/// Writes a `side` x `side` grey PNG of bright round blobs on a darker, slightly textured
/// background (`seed` places them): an image for tests about files, options and models rather
/// than about segmentation quality.
pub fn write_test_png(dest: &Path, side: u32, seed: u32) {
    let mut state = seed.wrapping_mul(2_654_435_761) ^ 0x9e37_79b9;
    let mut next = move || {
        // xorshift32
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state
    };
    let blobs: Vec<(f32, f32, f32)> = (0..(side * side / 1024).max(3))
        .map(|_| {
            let x = (next() % side) as f32;
            let y = (next() % side) as f32;
            let r = 3.0 + (next() % 6) as f32;
            (x, y, r)
        })
        .collect();
    let img = image::GrayImage::from_fn(side, side, |x, y| {
        let (fx, fy) = (x as f32, y as f32);
        let inside = blobs
            .iter()
            .any(|&(cx, cy, r)| (fx - cx).powi(2) + (fy - cy).powi(2) <= r * r);
        let texture = ((x * 7 + y * 13 + seed * 5) % 16) as u8;
        image::Luma([if inside { 200 + texture } else { 40 + texture }])
    });
    if let Some(d) = dest.parent() {
        std::fs::create_dir_all(d).unwrap();
    }
    img.save(dest)
        .unwrap_or_else(|e| panic!("{}: {e}", dest.display()));
}

/// Writes a small untrained samcell-lite model (tiling 128 + 32: an image of up to 64 pixels a
/// side is one crop) as `dir/lite.safetensors`: a real model for `--model lite:PATH` whose maps
/// mean nothing.
pub fn write_lite_model(dir: &Path) -> PathBuf {
    write_lite_model_tiled(dir, 128, 32, 3)
}

/// Writes an untrained samcell-lite model like [`write_lite_model`], with tiling `crop` +
/// `overlap` and weights from `seed`, as `dir/lite.safetensors`.
pub fn write_lite_model_tiled(dir: &Path, crop: usize, overlap: usize, seed: u64) -> PathBuf {
    let config = samcell_lite::LiteConfig {
        base_width: 4,
        levels: 2,
        norm_groups: 0,
        crop,
        overlap,
    };
    let path = dir.join("lite.safetensors");
    std::fs::write(
        &path,
        samcell_lite::untrained_file_bytes(&config, seed).unwrap(),
    )
    .unwrap();
    path
}

/// The tiny checkpoint (`ext`: "safetensors" or "pt").
pub fn tiny_model(ext: &str) -> PathBuf {
    reference_file(&format!("sam_tiny_scaled.{ext}"))
}

/// The tiny model's Hugging Face config (head counts).
pub fn tiny_config() -> PathBuf {
    reference_file("config_tiny.json")
}

/// Copies DSB image `i` (0..3) to `dest`.
pub fn copy_dsb(i: usize, dest: &Path) {
    let src = data().join("dsb2018-train/images").join(DSB_IMAGES[i]);
    assert!(src.is_file(), "{} missing", src.display());
    if let Some(d) = dest.parent() {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::copy(&src, dest)
        .unwrap_or_else(|e| panic!("copy {} -> {}: {e}", src.display(), dest.display()));
}

/// `samcell` with a clean environment for model lookup and logging.
pub fn samcell() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_samcell"));
    for k in [
        "SAMCELL_MODEL_DIR",
        "SAMCELL_MODEL_BASE_URL",
        "SAMCELL_LITE_WEIGHTS",
        "RUST_LOG",
        "RAYON_NUM_THREADS",
    ] {
        c.env_remove(k);
    }
    c
}

/// Seed and extent thresholds for an untrained lite model of [`write_lite_model`]: low enough
/// that its meaningless map still gives many cells on a [`write_test_png`] image.
pub const LITE_PEAK: &str = "0.515";
pub const LITE_FILL: &str = "0.505";

/// Runs `samcell segment` on `inputs` into `out` with the lite model at `model`, 2 threads,
/// [`LITE_PEAK`] and [`LITE_FILL`], and the `extra` arguments; asserts it succeeds and returns
/// its stderr.
pub fn segment_lite(inputs: &[&Path], out: &Path, model: &Path, extra: &[&str]) -> String {
    let mut c = samcell();
    c.arg("segment")
        .args(inputs)
        .args([
            "--threads",
            "2",
            "--peak",
            LITE_PEAK,
            "--fill",
            LITE_FILL,
            "--output",
        ])
        .arg(out)
        .arg("--model")
        .arg(format!("lite:{}", model.display()))
        .args(extra);
    let (code, _, err) = run(&mut c);
    assert_eq!(code, 0, "stderr:\n{err}");
    err
}

/// A file's modification time.
pub fn modified(path: &Path) -> SystemTime {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Seed and extent thresholds for the tiny model. Its random weights put the whole distance map
/// in about 0.48..0.58, so samcell's defaults (0.47, 0.09) give one cell covering the image;
/// these give tens of cells per DSB image, which makes the cell-count checks meaningful.
pub const TINY_PEAK: &str = "0.52";
pub const TINY_FILL: &str = "0.5";

/// Arguments selecting the tiny model, its thresholds and 2 threads.
pub fn tiny_args(ext: &str) -> Vec<String> {
    vec![
        "--model".into(),
        tiny_model(ext).display().to_string(),
        "--model-config".into(),
        tiny_config().display().to_string(),
        "--threads".into(),
        "2".into(),
        "--peak".into(),
        TINY_PEAK.into(),
        "--fill".into(),
        TINY_FILL.into(),
    ]
}

/// Runs a command and returns (exit code, stdout, stderr).
pub fn run(cmd: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("run samcell");
    let (out, err) = (
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    );
    (status.code().unwrap_or(-1), out, err)
}

/// Reads and parses a JSON file.
pub fn json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A label TIFF as (width, height, labels).
pub fn read_labels(path: &Path) -> (u32, u32, Vec<u32>) {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut d = tiff::decoder::Decoder::new(std::io::BufReader::new(f)).expect("tiff header");
    let (w, h) = d.dimensions().expect("dimensions");
    let v = match d.read_image().expect("tiff data") {
        tiff::decoder::DecodingResult::U16(v) => v.into_iter().map(u32::from).collect(),
        tiff::decoder::DecodingResult::U32(v) => v,
        _ => panic!("{}: labels are not u16/u32", path.display()),
    };
    (w, h, v)
}

/// An f32 TIFF as (width, height, values).
pub fn read_f32(path: &Path) -> (u32, u32, Vec<f32>) {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut d = tiff::decoder::Decoder::new(std::io::BufReader::new(f)).expect("tiff header");
    let (w, h) = d.dimensions().expect("dimensions");
    match d.read_image().expect("tiff data") {
        tiff::decoder::DecodingResult::F32(v) => (w, h, v),
        _ => panic!("{}: not a float TIFF", path.display()),
    }
}

/// Number of distinct non-zero labels.
pub fn count_labels(labels: &[u32]) -> usize {
    let mut v: Vec<u32> = labels.iter().copied().filter(|&l| l != 0).collect();
    v.sort_unstable();
    v.dedup();
    v.len()
}

/// A one-file HTTP/1.1 server on 127.0.0.1: `GET /<name>` answers 200 with `body`, any other
/// path 404. Counts the requests it answered. Runs until the test process ends.
pub struct TinyServer {
    pub base_url: String,
    pub hits: Arc<AtomicUsize>,
}

impl TinyServer {
    pub fn serve(name: &str, body: Vec<u8>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let base_url = format!("http://{}", listener.local_addr().expect("addr"));
        let hits = Arc::new(AtomicUsize::new(0));
        let (count, target) = (hits.clone(), format!("/{name}"));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                // skip the headers
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let path = request_line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("")
                    .to_string();
                count.fetch_add(1, Ordering::SeqCst);
                let (status, payload): (&str, &[u8]) = if path == target {
                    ("200 OK", &body)
                } else {
                    ("404 Not Found", b"Not Found")
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    payload.len()
                );
                let _ = stream
                    .write_all(head.as_bytes())
                    .and_then(|_| stream.write_all(payload));
                let _ = stream.flush();
            }
        });
        Self { base_url, hits }
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// A running `samcell serve`, killed when dropped however the test ends.
pub struct Served {
    child: Child,
    /// The port it listens on.
    pub port: u16,
    /// The access token its address line names (a server beyond loopback prints one).
    pub token: Option<String>,
    /// The stderr lines printed before the address line.
    pub before: Vec<String>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `serve` (a `samcell serve` command) and waits up to 60 s for the line
/// "SAMCell web GUI on http://127.0.0.1:PORT/#token=TOKEN (model: ...)" (the token part only
/// when it has one).
pub fn start_serve(serve: &mut Command) -> Served {
    let mut child = serve
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("start samcell serve");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut served = Served {
        child,
        port: 0,
        token: None,
        before: Vec::new(),
    };
    let t = Instant::now();
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60).saturating_sub(t.elapsed()))
            .unwrap_or_else(|_| {
                panic!(
                    "no address printed; stderr so far:\n{}",
                    served.before.join("\n")
                )
            });
        if let Some(rest) = line.split("web GUI on http://127.0.0.1:").nth(1) {
            let (port, rest) = rest.split_once('/').expect("port");
            served.port = port.parse::<u16>().expect("port");
            served.token = rest
                .strip_prefix("#token=")
                .and_then(|r| r.split_whitespace().next())
                .map(str::to_string);
            return served;
        }
        served.before.push(line);
    }
}

/// A local port with nothing listening (bound, then released).
pub fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}
