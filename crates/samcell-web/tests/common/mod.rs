//! Shared helpers of the web tests: the real tiny SAM model, real images, a running server.
//!
//! The tiny model and the images come from the shared materials (`SAMCELL_SHARED`,
//! `SAMCELL_DATA`); a test that uses them asks [`have`] first and returns when it says no, which
//! skips it with one line naming what is missing (a failure under `SAMCELL_REQUIRE_DATA=1`).
//! The tests of the server's own rules use the synthetic model and generated images instead.
#![allow(dead_code)]

pub mod cdp;
pub mod synthetic;
pub mod timelapse;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use samcell_model::{HeadOverrides, SamModel, SamPredictor};
use samcell_pipeline::{SegmentConfig, Segmenter};
use samcell_web::{AppState, ServeConfig};

/// Thresholds for the tiny random-weight reference model: its maps are nearly flat, so samcell's
/// 0.47 / 0.09 would give one blob covering the image. Its maps lie in ~0.47..0.60 (median ~0.497,
/// 90th percentile ~0.523 on the three test images); at fill 0.50 the counts are 85 / 88 / 71 at
/// peak 0.52, ~3700 at peak 0.51 and 0 at 0.53 (measured with the `probe_tiny` example), so every
/// image gets a positive count and one 0.01 step of the peak slider changes it.
pub const TINY_PEAK: f32 = 0.52;
pub const TINY_FILL: f32 = 0.50;

/// Three small DSB2018 images (256x256 RGBA PNG, 4 tiles each).
pub const IMAGES: [&str; 3] = [
    "00071198d059ba7f5914a526d124d28e6d010c92466da21d4a04cd5413362552.png",
    "003cee89357d9fe13516167fd67b609a164651b21934585648c740d2c3d86dc1.png",
    "0280fa8f60f6bcae0f97d93c28f60be194f9309ff610dc5845e60455b0f87c21.png",
];

/// The first `n` DSB2018 images (name order).
pub fn dsb_images(n: usize) -> Vec<PathBuf> {
    let dir = data_dir().join("dsb2018-train/images");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e} (set SAMCELL_DATA)", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "png"))
        .collect();
    v.sort();
    assert!(
        v.len() >= n,
        "need {n} images in {}, found {}",
        dir.display(),
        v.len()
    );
    v.truncate(n);
    v
}

#[allow(unused_imports)] // each test binary uses its own part of this module
pub use samcell_testdata::{data_dir, shared_dir, workspace_root};

/// The DSB2018 image set (`SAMCELL_DATA/dsb2018-train`).
pub const DSB: &str = "dsb2018-train";
/// The Usiigaci phase-contrast set (`SAMCELL_DATA/usiigaci-phc`).
pub const USIIGACI: &str = "usiigaci-phc";

/// Whether the shared materials a test needs are present: the tiny checkpoint (when `tiny`) and
/// the image `sets`. When something is missing the caller returns: one line says what (see
/// samcell-testdata; with `SAMCELL_REQUIRE_DATA=1` this panics instead).
pub fn have(tiny: bool, sets: &[&str]) -> bool {
    let files: &[&str] = if tiny {
        &["sam_tiny_scaled.safetensors"]
    } else {
        &[]
    };
    samcell_testdata::require(files, sets).is_some()
}

pub fn image(name: &str) -> PathBuf {
    let p = data_dir().join("dsb2018-train/images").join(name);
    assert!(
        p.is_file(),
        "test image {} is missing (set SAMCELL_DATA)",
        p.display()
    );
    p
}

/// The tiny reference checkpoint as a real segmenter (loaded once per test binary).
pub fn segmenter() -> Arc<Segmenter> {
    static SEG: OnceLock<Arc<Segmenter>> = OnceLock::new();
    SEG.get_or_init(|| {
        let ck = shared_dir().join("reference/sam_tiny_scaled.safetensors");
        assert!(
            ck.is_file(),
            "tiny reference checkpoint not found at {} (set SAMCELL_SHARED)",
            ck.display()
        );
        let heads = HeadOverrides {
            vision_heads: Some(2),
            decoder_heads: Some(2),
        };
        let model = SamModel::load(&ck, Some(heads))
            .unwrap_or_else(|e| panic!("loading {}: {e}", ck.display()));
        Arc::new(Segmenter::new(
            Arc::new(SamPredictor::new(model, 4)),
            SegmentConfig::default(),
        ))
    })
    .clone()
}

/// A server on 127.0.0.1 (free port) over a fresh work directory.
pub struct TestServer {
    pub addr: SocketAddr,
    pub state: AppState,
    pub work: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    pub async fn start(tweak: impl FnOnce(&mut ServeConfig)) -> Self {
        let work = tempfile::tempdir().expect("tempdir");
        Self::start_in(work, tweak).await
    }

    pub async fn start_in(work: tempfile::TempDir, tweak: impl FnOnce(&mut ServeConfig)) -> Self {
        Self::start_with(segmenter(), work, tweak).await
    }

    /// A server running `seg` (any predictor) over `work`.
    pub async fn start_with(
        seg: Arc<Segmenter>,
        work: tempfile::TempDir,
        tweak: impl FnOnce(&mut ServeConfig),
    ) -> Self {
        let mut cfg = ServeConfig {
            host: "127.0.0.1".into(),
            port: 0,
            work_dir: work.path().to_path_buf(),
            peak: TINY_PEAK,
            fill: TINY_FILL,
            ..ServeConfig::default()
        };
        tweak(&mut cfg);
        let state = AppState::open(cfg, seg).expect("open state");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let st = state.clone();
        let handle = tokio::spawn(async move {
            samcell_web::serve_on(listener, st, async {
                let _ = rx.await;
            })
            .await
            .expect("server");
        });
        Self {
            addr,
            state,
            work,
            stop: Some(tx),
            handle: Some(handle),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Stops the server and gives back its work directory.
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            let _ = h.await;
        }
        self.work
    }
}

/// Uploads files as one multipart request; returns (status, JSON body).
pub async fn upload(
    client: &reqwest::Client,
    url: &str,
    files: &[(String, Vec<u8>)],
) -> (u16, serde_json::Value) {
    let mut form = reqwest::multipart::Form::new();
    for (name, bytes) in files {
        form = form.part(
            "file",
            reqwest::multipart::Part::bytes(bytes.clone()).file_name(name.clone()),
        );
    }
    let r = client
        .post(url)
        .multipart(form)
        .send()
        .await
        .expect("upload request");
    let status = r.status().as_u16();
    (status, r.json().await.expect("upload answer is JSON"))
}

pub fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// (name, bytes) of one of the DSB2018 test images, for [`upload`].
pub fn real_file(name: &str) -> (String, Vec<u8>) {
    (name.to_string(), read(&image(name)))
}

/// The id of the `k`-th job of an upload answer.
pub fn job_id(body: &serde_json::Value, k: usize) -> String {
    body["jobs"][k]["id"].as_str().expect("id").to_string()
}

/// Asserts that `body["error"]` is a message containing `needle`.
pub fn assert_error_contains(body: &serde_json::Value, needle: &str) {
    let msg = body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error message: {body}"));
    assert!(msg.contains(needle), "{body}");
}

/// The JSON body of a GET.
pub async fn get_json(client: &reqwest::Client, url: &str) -> serde_json::Value {
    client
        .get(url)
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON answer")
}

/// Polls `GET /api/jobs/{id}` until the job is done or failed; returns every state seen, in order
/// (repeats removed), and the final job.
pub async fn wait_final(
    client: &reqwest::Client,
    base: &str,
    id: &str,
    timeout: Duration,
) -> (Vec<String>, serde_json::Value) {
    let t = Instant::now();
    let mut seen: Vec<String> = Vec::new();
    loop {
        let j = get_json(client, &format!("{base}/api/jobs/{id}")).await;
        let st = j["state"].as_str().expect("state").to_string();
        if seen.last() != Some(&st) {
            seen.push(st.clone());
        }
        if st == "done" || st == "failed" {
            return (seen, j);
        }
        assert!(
            t.elapsed() < timeout,
            "job {id} not finished after {timeout:?}; states seen {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The top-left `side` x `side` corner of a real image as PNG bytes (an image under 64 px is one
/// model tile: quick to process).
pub fn corner_png(path: &Path, side: u32) -> Vec<u8> {
    let img = image::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let crop = img.crop_imm(0, 0, side, side);
    let mut out = std::io::Cursor::new(Vec::new());
    crop.write_to(&mut out, image::ImageFormat::Png)
        .expect("PNG");
    out.into_inner()
}

/// Polling limit for one job.
pub const LONG: Duration = Duration::from_secs(300);

/// (status, Content-Disposition, body) of a GET.
pub async fn get_bytes(c: &reqwest::Client, url: &str) -> (u16, Option<String>, Vec<u8>) {
    let r = c.get(url).send().await.expect("GET");
    let status = r.status().as_u16();
    let disp = r
        .headers()
        .get("content-disposition")
        .map(|v| v.to_str().unwrap_or("").to_string());
    (status, disp, r.bytes().await.expect("body").to_vec())
}

/// Width and height of PNG bytes.
pub fn png_size(bytes: &[u8]) -> (u32, u32) {
    let img = image::load_from_memory_with_format(bytes, image::ImageFormat::Png).expect("a PNG");
    (img.width(), img.height())
}

/// Entry names of a ZIP.
pub fn zip_names(bytes: &[u8]) -> Vec<String> {
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).expect("a ZIP");
    (0..z.len())
        .map(|i| z.by_index(i).expect("entry").name().to_string())
        .collect()
}

/// One text entry of a ZIP.
pub fn zip_text(bytes: &[u8], name: &str) -> String {
    use std::io::Read;
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).expect("a ZIP");
    let mut s = String::new();
    z.by_name(name)
        .unwrap_or_else(|e| panic!("{name} in ZIP: {e}"))
        .read_to_string(&mut s)
        .expect("text");
    s
}
