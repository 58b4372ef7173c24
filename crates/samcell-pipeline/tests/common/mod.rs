//! Shared helpers of the golden tests: fixture loading (written by
//! `reference/gen_pipeline_fixtures.py`), hashes, the label-partition comparison and the replay
//! predictor.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use samcell_imaging::{GrayU8, Image, Labels, MapF32};
use samcell_pipeline::{DistanceMapPredictor, PredictError, TilingConfig};
use sha2::{Digest, Sha256};

pub const SIZES: [&str; 4] = ["704x520", "256x256", "200x150", "48x40"];

pub fn fixture_dir(size: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("synth_{size}"))
}

pub fn size_wh(size: &str) -> (usize, usize) {
    let (w, h) = size.split_once('x').expect("WxH");
    (w.parse().expect("w"), h.parse().expect("h"))
}

/// Reads a .npy into (shape, values).
pub use samcell_testdata::npy::read as npy;

pub fn npy_image<T: samcell_testdata::npy::Deserialize + Copy>(path: &Path) -> Image<T> {
    let (h, w, data) = samcell_testdata::npy::read_2d(path);
    Image::from_vec(w, h, data).expect("image")
}

/// Labels stored as u8 or u16 (relabelled 1..N) as u32.
pub fn npy_labels(path: &Path) -> Labels {
    let (shape, data) = samcell_testdata::npy::read_u32(path);
    assert_eq!(shape.len(), 2, "{}: expected 2-D", path.display());
    Labels::from_vec(shape[1], shape[0], data).expect("labels")
}

pub fn json(path: &Path) -> serde_json::Value {
    let s = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&s).expect("json")
}

pub fn checks(size: &str) -> serde_json::Value {
    json(&fixture_dir(size).join("checks.json"))
}

/// SHA-256 (hex) of the raw little-endian bytes, as the generator hashes numpy arrays.
pub fn sha_u8(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

pub fn sha_f32(data: &[f32]) -> String {
    let mut h = Sha256::new();
    for v in data {
        h.update(v.to_le_bytes());
    }
    hex(&h.finalize())
}

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// True when `a` and `b` describe the same partition: 0 is background in both, and non-zero
/// labels correspond one to one.
pub fn same_partition(a: &Labels, b: &Labels) -> bool {
    if a.shape_hw() != b.shape_hw() {
        return false;
    }
    let mut ab = std::collections::HashMap::new();
    let mut ba = std::collections::HashMap::new();
    for (&x, &y) in a.data().iter().zip(b.data()) {
        if (x == 0) != (y == 0) {
            return false;
        }
        if x == 0 {
            continue;
        }
        if *ab.entry(x).or_insert(y) != y || *ba.entry(y).or_insert(x) != x {
            return false;
        }
    }
    true
}

/// Number of pixels where two partitions disagree, for failure messages (pixels whose label
/// pair is not the majority pair of their label in `a`).
pub fn partition_mismatch(a: &Labels, b: &Labels) -> usize {
    let mut counts = std::collections::HashMap::<(u32, u32), usize>::new();
    for (&x, &y) in a.data().iter().zip(b.data()) {
        *counts.entry((x, y)).or_default() += 1;
    }
    let mut best = std::collections::HashMap::<u32, usize>::new();
    for (&(x, _), &c) in &counts {
        let e = best.entry(x).or_default();
        *e = (*e).max(c);
    }
    a.data().len() - best.values().sum::<usize>()
}

/// Largest |a - b| over pixels where `valid`, and the number of pixels compared.
pub fn max_abs_diff(a: &MapF32, b: &MapF32, valid: Option<&[bool]>) -> (f32, usize) {
    assert_eq!(a.shape_hw(), b.shape_hw());
    let mut worst = 0f32;
    let mut n = 0;
    for (i, (&x, &y)) in a.data().iter().zip(b.data()).enumerate() {
        if valid.is_some_and(|v| !v[i]) {
            continue;
        }
        let d = (x - y).abs();
        if d.is_nan() || d > worst {
            worst = if d.is_nan() { f32::INFINITY } else { d };
        }
        n += 1;
    }
    (worst, n)
}

/// A predictor that returns the reference's per-crop maps, in order, and checks that each crop
/// it receives is the reference's enhanced crop (SHA-256). Maps can be 256x256 (SAM's output
/// size; if `to_crop`, resized to the crop with OpenCV INTER_LINEAR as SAM's predictor does,
/// `samcell_model::sam_input::sam_output_to_crop`) or already crop-shaped.
pub struct ReplayPredictor {
    pub maps: Vec<MapF32>,
    pub expected_sha: Vec<String>,
    pub to_crop: bool,
    pub batch: usize,
    next: Mutex<usize>,
    pub calls: Mutex<Vec<usize>>,
}

impl ReplayPredictor {
    pub fn new(maps: Vec<MapF32>, expected_sha: Vec<String>, to_crop: bool, batch: usize) -> Self {
        Self {
            maps,
            expected_sha,
            to_crop,
            batch,
            next: Mutex::new(0),
            calls: Mutex::new(Vec::new()),
        }
    }
}

impl DistanceMapPredictor for ReplayPredictor {
    fn describe(&self) -> String {
        "replay of the reference's per-crop maps".into()
    }

    /// The reference's: samcell's 256 + 32.
    fn tiling(&self) -> TilingConfig {
        TilingConfig::default()
    }

    fn predict(&self, crops: &[GrayU8]) -> Result<Vec<MapF32>, PredictError> {
        let mut next = self.next.lock().expect("lock");
        self.calls.lock().expect("lock").push(crops.len());
        let mut out = Vec::with_capacity(crops.len());
        for c in crops {
            let k = *next;
            *next += 1;
            let map = self
                .maps
                .get(k)
                .ok_or_else(|| PredictError(format!("no map for crop {k}")))?;
            if sha_u8(c.data()) != self.expected_sha[k] {
                return Err(PredictError(format!(
                    "crop {k} is not the reference's enhanced crop"
                )));
            }
            let crop_shaped = (map.width(), map.height()) == (c.width(), c.height());
            out.push(if self.to_crop && !crop_shaped {
                samcell_imaging::resize::opencv_linear_f32(map, c.width(), c.height())
                    .map_err(|e| PredictError(e.to_string()))?
            } else {
                map.clone()
            });
        }
        Ok(out)
    }

    fn max_batch(&self) -> usize {
        self.batch
    }
}

pub fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|s| s.as_str().expect("string").to_string())
        .collect()
}

/// Reference's per-crop maps of the 48x40 image (one 256x256 map).
pub fn maps_48x40() -> Vec<MapF32> {
    let (shape, data) = npy::<f32>(&fixture_dir("48x40").join("crops_dist_maps.npy"));
    let (n, h, w) = (shape[0], shape[1], shape[2]);
    (0..n)
        .map(|k| MapF32::from_vec(w, h, data[k * w * h..(k + 1) * w * h].to_vec()).expect("map"))
        .collect()
}

/// Reference's per-crop maps of the 200x150 image, crop-shaped; the parts the blending must not
/// read are NaN.
pub fn maps_200x150(plan: &samcell_pipeline::TilePlan) -> Vec<MapF32> {
    let (_, data) = npy::<f32>(&fixture_dir("200x150").join("crop_maps_used.npy"));
    let mut at = 0;
    let mut maps = Vec::new();
    for t in &plan.tiles {
        let mut m = MapF32::filled(t.width, t.height, f32::NAN);
        for y in 0..t.region.h {
            m.row_mut(y)[..t.region.w].copy_from_slice(&data[at..at + t.region.w]);
            at += t.region.w;
        }
        maps.push(m);
    }
    assert_eq!(at, data.len(), "crop_maps_used.npy does not match the plan");
    maps
}

/// The generator's formula maps: `((31x + 17y + 101k) % 251) / 250` in f32, 256x256.
pub fn formula_map(k: usize) -> MapF32 {
    let mut m = MapF32::filled(256, 256, 0.0);
    for y in 0..256 {
        for x in 0..256 {
            m.set(x, y, ((31 * x + 17 * y + 101 * k) % 251) as f32 / 250.0f32);
        }
    }
    m
}
