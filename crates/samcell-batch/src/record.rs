//! Run records: what was run, with what, on what, and what came out.
//!
//! Written as JSON (pretty, atomically): `run.json` per run in the output folder (every image of
//! the run, including skipped and failed ones, and the records of earlier runs' other images)
//! and `<name>_run.json` per segmented image (the same settings and model identity with that
//! image's record, and the page it was made from), so that each result stays reproducible after
//! later runs rewrite `run.json`. Thresholds are written in their shortest `f32` form
//! ([`shortest_f32`]); the times of an image are a [`Timings`] written in seconds.
//!
//! An image record's `pixel_size_um` / `pixel_size_source` is the calibration its outputs were
//! written with. It is not among the settings resume compares ([`ResultSettings`]): it is known
//! only once the input is read, so outputs made with another pixel size are not redone unless
//! `--overwrite` is given.

use crate::timings::{self, Timings};
use crate::BatchError;
use samcell_io::{Calibration, CalibrationSource, ChannelUse, SourceInfo, StackSource};
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
    /// Image resize factor before the model (`--scale`; `SegmentConfig::scale`). Records
    /// written before the field read as 1.
    #[serde(default = "unit_scale", serialize_with = "shortest_f32")]
    pub scale: f32,
    /// Crop size of the tiling.
    pub crop: usize,
    /// Overlap of neighbouring crops.
    pub overlap: usize,
    /// TIFF page read (0-based); in `run.json`, the `--page` of the run.
    pub page: usize,
    /// Channel read on its own (`--channel`, 0-based); `None` (null): the samples of each pixel
    /// made grey as usual. Records written before the field read as `None`.
    #[serde(default)]
    pub channel: Option<usize>,
    /// How non-8-bit input is brought to u8: `"min-max"` or `"percentile LO..HI"`.
    pub scaling: String,
    /// Overlay with outlines.
    pub outlines: bool,
}

fn unit_scale() -> f32 {
    1.0
}

/// All settings of a run.
#[derive(Clone, Debug, Serialize)]
pub struct RunSettings {
    /// The settings that change the results (written flat, beside the others).
    #[serde(flatten)]
    pub result: ResultSettings,
    /// Crops per forward pass.
    pub batch_size: usize,
    /// Threads in effect (rayon pool and candle).
    pub threads: usize,
    /// The distance map is written too.
    pub save_distmap: bool,
    /// The cell outlines are written as GeoJSON too.
    pub save_geojson: bool,
    /// The cell outlines are written as an ImageJ ROI set too.
    pub save_rois: bool,
    /// Complete outputs are redone anyway.
    pub overwrite: bool,
    /// `--all-pages`: every page of multi-page files (then `page` does not apply).
    pub all_pages: bool,
}

pub use samcell_pipeline::short_f32::serialize as shortest_f32;

/// Identity of the model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// The checkpoint file.
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
    /// The model that segments the images this one looks out of its domain on (the default
    /// `lite`: the built-in nuclei model); absent for a single model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<Box<ModelInfo>>,
}

/// How an image record names a calibration's source: `ome`, `imagej`, `tiff-resolution` or
/// `user`.
pub fn calibration_source_name(source: CalibrationSource) -> &'static str {
    match source {
        CalibrationSource::Ome => "ome",
        CalibrationSource::ImageJ => "imagej",
        CalibrationSource::TiffResolution => "tiff-resolution",
        CalibrationSource::User => "user",
    }
}

/// The pixel size an image's outputs carry: `user`'s (`--pixel-size`) when given, else the
/// file's own, except a 72, 96 or 300 dpi resolution of screen and office software
/// ([`Calibration::is_dpi_default`]), which is not a calibration and gives none.
pub fn output_calibration(
    user: Option<Calibration>,
    file: Option<Calibration>,
) -> Option<Calibration> {
    user.or(file.filter(|c| !c.is_dpi_default()))
}

/// What the input file held.
#[derive(Clone, Debug, Serialize)]
pub struct SourceMeta {
    /// File format (`PNG`, `TIFF`...).
    pub format: String,
    /// Sample type as stored (`u8`, `u16`, `f32`...).
    pub sample: String,
    /// Samples per pixel.
    pub channels: u8,
    /// Pages in the file.
    pub pages: usize,
    /// The page read (0-based).
    pub page: usize,
    /// `"none" for 8-bit input (used as is), otherwise the scaling applied.
    pub scaling: String,
    /// The input range mapped to 0..255 (non-8-bit input).
    pub scaled_from: Option<[f64; 2]>,
    /// How the samples of a pixel became grey: `single`, `merged colour`, `first sample`
    /// (the other samples, e.g. further channels of the page, ignored) or `sample N` (only
    /// sample N, as `--channel N` asked).
    pub channel_use: String,
    /// Channel / Z / time layout the TIFF's ImageJ or OME metadata declares (its pages hold
    /// these planes; only `page` was read).
    pub stack: Option<StackMeta>,
    /// The position of `page` in `stack`, when the file holds the planes it declares.
    pub plane: Option<PlaneMeta>,
}

impl SourceMeta {
    /// What `info` says the file held; `scaling_label` names the scaling applied to non-8-bit
    /// input (`"min-max"`, `"percentile LO..HI"`).
    pub fn from_info(info: &SourceInfo, scaling_label: &str) -> Self {
        SourceMeta {
            format: info.format.to_string(),
            sample: info.sample.to_string(),
            channels: info.channels,
            pages: info.pages,
            page: info.page,
            scaling: if info.scaled_from.is_some() {
                scaling_label.to_string()
            } else {
                "none".to_string()
            },
            scaled_from: info.scaled_from.map(|(lo, hi)| [lo, hi]),
            channel_use: match info.channel_use {
                ChannelUse::Single => "single".to_string(),
                ChannelUse::MergedColour => "merged colour".to_string(),
                ChannelUse::FirstSample => "first sample".to_string(),
                ChannelUse::Picked(c) => format!("sample {c}"),
            },
            stack: info.stack.map(|s| StackMeta {
                channels: s.channels,
                slices: s.slices,
                frames: s.frames,
                source: match s.source {
                    StackSource::ImageJ => "ImageJ",
                    StackSource::Ome => "OME",
                }
                .to_string(),
                order: s.order.ome().to_string(),
            }),
            plane: info.plane.map(|p| PlaneMeta {
                c: p.c,
                z: p.z,
                t: p.t,
            }),
        }
    }
}

/// A page's position in a stack (0-based).
#[derive(Clone, Copy, Debug, Serialize)]
pub struct PlaneMeta {
    /// Channel.
    pub c: usize,
    /// Z slice.
    pub z: usize,
    /// Time point.
    pub t: usize,
}

/// The channel / Z / time layout of a stack.
#[derive(Clone, Debug, Serialize)]
pub struct StackMeta {
    /// Channels.
    pub channels: usize,
    /// Z slices.
    pub slices: usize,
    /// Time points.
    pub frames: usize,
    /// `ImageJ` or `OME`.
    pub source: String,
    /// The axes' order over the pages, as OME's `DimensionOrder` (`XYCZT`: channels fastest;
    /// always so for ImageJ).
    pub order: String,
}

/// Outcome of one image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Segmented.
    Ok,
    /// Left as it was (outputs current).
    Skipped,
    /// Not segmented: see the record's `error`.
    Failed,
}

/// Record of one image.
#[derive(Clone, Debug, Serialize)]
pub struct ImageRecord {
    /// The input file (non-UTF-8 bytes as `%XX`).
    pub input: String,
    /// Output name prefix (`<name>_masks.tif`...).
    pub name: String,
    /// Page of the input (0-based) this record is about.
    pub page: usize,
    /// What happened to it.
    pub status: Status,
    /// Image width in pixels.
    pub width: Option<usize>,
    /// Image height in pixels.
    pub height: Option<usize>,
    /// What the input file held.
    pub source: Option<SourceMeta>,
    /// Pixel size in µm, `[x, y]`, that the outputs were written with; null when unknown.
    pub pixel_size_um: Option<[f64; 2]>,
    /// Where the pixel size came from ([`calibration_source_name`]); null when unknown.
    pub pixel_size_source: Option<String>,
    /// Cells found.
    pub n_cells: Option<usize>,
    /// Crops the image was cut into: for an image that went to the fallback model, the first
    /// model's crops plus the fallback's (both ran).
    pub n_crops: Option<usize>,
    /// Time per stage, written in seconds.
    #[serde(serialize_with = "timings::seconds::serialize")]
    pub seconds: Option<Timings>,
    /// Output files written (names within the output folder).
    pub outputs: Vec<String>,
    /// Why the image failed or was skipped.
    pub error: Option<String>,
    /// Why the result may not be what was wanted (e.g. a constant image, one page of several).
    pub warnings: Vec<String>,
    /// The model that segmented the image when it was not the run's model itself: the fallback
    /// (`model.fallback`) the default lite model sent it to; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segmented_with: Option<String>,
    /// The image's object diameter estimate in pixels, when the small-object advice of the
    /// model that segmented it weighed it (`samcell_pipeline::size`); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_diameter_px: Option<f32>,
}

impl ImageRecord {
    /// A record with only the input, its page and its name filled in.
    pub fn new(input: &Path, page: usize, name: &str, status: Status) -> Self {
        Self {
            input: crate::naming::escape_path(input),
            name: name.to_string(),
            page,
            status,
            width: None,
            height: None,
            source: None,
            pixel_size_um: None,
            pixel_size_source: None,
            n_cells: None,
            n_crops: None,
            seconds: None,
            outputs: Vec::new(),
            error: None,
            warnings: Vec::new(),
            segmented_with: None,
            object_diameter_px: None,
        }
    }

    /// Records the pixel size the outputs were written with (`None`: unknown).
    pub fn set_calibration(&mut self, calibration: Option<&Calibration>) {
        self.pixel_size_um = calibration.map(|c| [c.x_um, c.y_um]);
        self.pixel_size_source = calibration.map(|c| calibration_source_name(c.source).to_string());
    }
}

/// Counts of the run's outcomes.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Summary {
    /// Images segmented.
    pub ok: usize,
    /// Images skipped.
    pub skipped: usize,
    /// Images that failed.
    pub failed: usize,
}

/// `run.json`.
#[derive(Debug, Serialize)]
pub struct RunMeta {
    /// Version of samcell that ran.
    pub samcell_version: String,
    /// The command line, one argument per item.
    pub command_line: Vec<String>,
    /// Seconds since the Unix epoch.
    pub started_unix: u64,
    /// Seconds since the Unix epoch at the last record.
    pub finished_unix: u64,
    /// The output folder.
    pub output_dir: String,
    /// The run's settings.
    pub settings: RunSettings,
    /// The model.
    pub model: ModelInfo,
    /// Which shard of a sharded batch this run was, and how the batch was asked for (only in a
    /// shard's `run-shard-I-of-N.json`, see [`crate::shard`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<crate::shard::ShardRecord>,
    /// Counts of this run's images.
    pub summary: Summary,
    /// This run's images.
    pub images: Vec<ImageRecord>,
    /// Records of images that earlier runs into the same folder wrote and this run did not
    /// touch, as they were written (plus `run_started_unix`); see [`crate::results`].
    pub earlier_images: Vec<serde_json::Value>,
}

/// `<name>_run.json`.
#[derive(Debug, Serialize)]
pub struct ImageMeta<'a> {
    /// Version of samcell that made it.
    pub samcell_version: &'a str,
    /// The settings it was made with (its page in `page`).
    pub settings: &'a RunSettings,
    /// The model.
    pub model: &'a ModelInfo,
    /// The image's record.
    pub image: &'a ImageRecord,
}

/// What resume compares in an existing `<name>_run.json`.
#[derive(Debug, Deserialize)]
pub struct StoredImageMeta {
    /// The settings the outputs were made with.
    pub settings: ResultSettings,
    /// The model they were made with.
    pub model: StoredModel,
}

/// The model identity resume compares.
#[derive(Debug, Deserialize)]
pub struct StoredModel {
    /// SHA-256 of the checkpoint file, hex.
    pub sha256: String,
    /// The fallback model's identity (absent for a single model and in earlier records).
    #[serde(default)]
    pub fallback: Option<Box<StoredModel>>,
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
pub fn sha256_file(path: &Path) -> Result<String, BatchError> {
    let mut f = std::fs::File::open(path).map_err(|source| BatchError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|source| BatchError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Serialises `value` as pretty JSON to `path`, atomically.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), BatchError> {
    let mut text = serde_json::to_vec_pretty(value).map_err(BatchError::Serialize)?;
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
            scale: 1.0,
            crop: 256,
            overlap: 32,
            page: 0,
            channel: None,
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
        // records written before `scale` existed read as scale 1: their results are not redone
        let mut old = serde_json::to_value(&s).unwrap();
        old.as_object_mut().unwrap().remove("scale");
        let back: ResultSettings = serde_json::from_value(old).unwrap();
        assert_eq!(back, s);
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
