//! Run metadata: what was run, with what, on what, and what came out.
//!
//! Written as JSON (pretty, atomically): `run.json` per run in the output folder (every image of
//! the run, including skipped and failed ones, and the records of earlier runs' other images)
//! and `<name>_run.json` per segmented image (the same settings and model identity with that
//! image's record, and the page it was made from), so that each result stays reproducible after
//! later runs rewrite `run.json`. Thresholds are written in their shortest `f32` form
//! ([`shortest_f32`]).

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::Path;

/// Settings that change the results (compared on resume).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResultSettings {
    /// Seed threshold (`map > peak`).
    #[serde(serialize_with = "shortest_f32")]
    pub peak: f32,
    /// Cell extent threshold (`map > fill`).
    #[serde(serialize_with = "shortest_f32")]
    pub fill: f32,
    pub crop: usize,
    pub overlap: usize,
    /// TIFF page read (0-based); in `run.json`, the `--page` of the run.
    pub page: usize,
    /// How non-8-bit input is brought to u8: `"min-max"` or `"percentile LO..HI"`.
    pub scaling: String,
    /// Overlay with outlines.
    pub outlines: bool,
}

/// All settings of a run.
#[derive(Clone, Debug, Serialize)]
pub struct RunSettings {
    #[serde(flatten)]
    pub result: ResultSettings,
    /// Crops per forward pass.
    pub batch_size: usize,
    /// Threads in effect (rayon pool and candle).
    pub threads: usize,
    pub save_distmap: bool,
    pub overwrite: bool,
    /// `--all-pages`: every page of multi-page files (then `page` does not apply).
    pub all_pages: bool,
}

pub use samcell_pipeline::short_f32::serialize as shortest_f32;

/// Identity of the model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub path: String,
    /// Published name (`generalist`, `cyto`) when given by name.
    pub name: Option<String>,
    /// Download URL of a named model.
    pub url: Option<String>,
    /// SHA-256 of the checkpoint file, hex.
    pub sha256: String,
    /// `config.json` used for the head counts, if any.
    pub config: Option<String>,
    /// ViT-B/L/H, or the detected custom shape.
    pub variant: String,
    /// Checkpoint file format.
    pub format: String,
    /// The predictor's own description (architecture, back-end, precision).
    pub predictor: String,
}

/// What the input file held.
#[derive(Clone, Debug, Serialize)]
pub struct SourceMeta {
    pub format: String,
    /// Sample type as stored (`u8`, `u16`, `f32`...).
    pub sample: String,
    pub channels: u8,
    pub pages: usize,
    pub page: usize,
    /// `"none"` for 8-bit input (used as is), otherwise the scaling applied.
    pub scaling: String,
    /// The input range mapped to 0..255 (non-8-bit input).
    pub scaled_from: Option<[f64; 2]>,
    /// How the samples of a pixel became grey: `single`, `merged colour` or `first sample`
    /// (the other samples, e.g. further channels of the page, ignored).
    pub channel_use: String,
    /// Channel / Z / time layout the TIFF's ImageJ or OME metadata declares (its pages hold
    /// these planes; only `page` was read).
    pub stack: Option<StackMeta>,
}

/// The channel / Z / time layout of a stack.
#[derive(Clone, Debug, Serialize)]
pub struct StackMeta {
    pub channels: usize,
    pub slices: usize,
    pub frames: usize,
    /// `ImageJ` or `OME`.
    pub source: String,
}

/// Seconds per stage of one image.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Seconds {
    pub read: f64,
    pub tiling: f64,
    pub enhance: f64,
    pub predict: f64,
    pub blend: f64,
    pub postprocess: f64,
    pub write: f64,
    pub total: f64,
}

/// Outcome of one image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Skipped,
    Failed,
}

/// Record of one image.
#[derive(Clone, Debug, Serialize)]
pub struct ImageRecord {
    pub input: String,
    /// Output name prefix (`<name>_masks.tif`...).
    pub name: String,
    /// Page of the input (0-based) this record is about.
    pub page: usize,
    pub status: Status,
    pub width: Option<usize>,
    pub height: Option<usize>,
    pub source: Option<SourceMeta>,
    pub n_cells: Option<usize>,
    /// Crops the image was cut into.
    pub n_crops: Option<usize>,
    pub seconds: Option<Seconds>,
    /// Output files written (names within the output folder).
    pub outputs: Vec<String>,
    /// Why the image failed or was skipped.
    pub error: Option<String>,
    /// Why the result may not be what was wanted (e.g. a constant image, one page of several).
    pub warnings: Vec<String>,
}

impl ImageRecord {
    /// A record with only the input, its page and its name filled in.
    pub fn new(input: &Path, page: usize, name: &str, status: Status) -> Self {
        Self {
            input: crate::discover::escape_path(input),
            name: name.to_string(),
            page,
            status,
            width: None,
            height: None,
            source: None,
            n_cells: None,
            n_crops: None,
            seconds: None,
            outputs: Vec::new(),
            error: None,
            warnings: Vec::new(),
        }
    }
}

/// Counts of the run's outcomes.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Summary {
    pub ok: usize,
    pub skipped: usize,
    pub failed: usize,
}

/// `run.json`.
#[derive(Debug, Serialize)]
pub struct RunMeta {
    pub samcell_version: String,
    /// The command line, one argument per item.
    pub command_line: Vec<String>,
    /// Seconds since the Unix epoch.
    pub started_unix: u64,
    pub finished_unix: u64,
    pub output_dir: String,
    pub settings: RunSettings,
    pub model: ModelInfo,
    /// Counts of this run's images.
    pub summary: Summary,
    /// This run's images.
    pub images: Vec<ImageRecord>,
    /// Records of images that earlier runs into the same folder wrote and this run did not
    /// touch, as they were written (plus `run_started_unix`); see `segment::results`.
    pub earlier_images: Vec<serde_json::Value>,
}

/// `<name>_run.json`.
#[derive(Debug, Serialize)]
pub struct ImageMeta<'a> {
    pub samcell_version: &'a str,
    pub settings: &'a RunSettings,
    pub model: &'a ModelInfo,
    pub image: &'a ImageRecord,
}

/// What resume compares in an existing `<name>_run.json`.
#[derive(Debug, Deserialize)]
pub struct StoredImageMeta {
    pub settings: ResultSettings,
    pub model: StoredModel,
}

#[derive(Debug, Deserialize)]
pub struct StoredModel {
    pub sha256: String,
}

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The process's command line, lossily as UTF-8.
pub fn command_line() -> Vec<String> {
    std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

/// SHA-256 of a file, streamed, as lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Serialises `value` as pretty JSON to `path`, atomically.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut text = serde_json::to_vec_pretty(value).context("cannot serialise run metadata")?;
    text.push(b'\n');
    samcell_io::write_atomic(path, &text)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_written_without_float_noise() {
        let s = ResultSettings {
            peak: 0.47,
            fill: 0.09,
            crop: 256,
            overlap: 32,
            page: 0,
            scaling: "min-max".into(),
            outlines: false,
        };
        let text = serde_json::to_string(&s).unwrap();
        assert!(text.contains(r#""peak":0.47,"fill":0.09,"#), "{text}");
        // also through serde_json::Value (which holds numbers as f64)
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["fill"].to_string(), "0.09");
        let back: ResultSettings = serde_json::from_str(&text).unwrap();
        assert_eq!(back, s, "reads back as the same f32 values");
    }

    #[test]
    fn sha256_of_known_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("abc");
        std::fs::write(&p, b"abc").unwrap();
        // FIPS 180-2 test vector for "abc"
        assert_eq!(
            sha256_file(&p).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
