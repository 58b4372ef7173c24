//! The job record: one uploaded image, its state and its results, persisted as
//! `<work_dir>/jobs/<id>/job.json` next to the job's files.
//!
//! Files of a job directory:
//! `input.<ext>` (the upload as received; read again on re-thresholding, for the intensities of
//! `cells.csv`), `gray.png` (the 8-bit grey image the model saw),
//! `distmap.tif` (the blended distance map, f32, also read back for re-thresholding without the
//! model), and the outputs `masks.tif`, `overlay.png`, `cells.csv`, `summary.csv`, plus the
//! viewer layers `view_image.png`, `view_fill.png`, `view_edges.png`, `view_distmap.png`. The
//! GeoJSON and ImageJ ROI downloads are not stored: they are made from `masks.tif` and
//! `cells.csv` when asked for (`crate::outlines`).

use samcell_batch::{Timings, Upload};
/// Thresholds are written in their shortest decimal form (`0.09`).
pub use samcell_pipeline::short_f32::{serialize as shortest_f32, short_f64};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::WebError;

/// The model a frame of a time series was made to use, so that one model segments the whole
/// series (a server with a fallback model: the default built-in pair; see
/// `crate::series::linker`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ForcedModel {
    /// The server's main model (the cell model of the built-in pair).
    First,
    /// Its fallback (the built-in nuclei model).
    Fallback,
}

/// Where a job is in its life. The page colours them as the published SAMCell GUI does:
/// queued plain, processing yellow, done green, and failed red.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Waiting for the model.
    Queued,
    /// The model is working on it (see [`Job::progress`]).
    Processing,
    /// Results are ready.
    Done,
    /// Stopped; [`Job::error`] says why.
    Failed,
}

impl JobState {
    /// Done or failed: nothing will change without a request.
    pub fn is_final(self) -> bool {
        matches!(self, JobState::Done | JobState::Failed)
    }
}

/// Crops predicted so far, out of the image's total.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// Crops predicted so far.
    pub done: usize,
    /// Crops of the whole image (0 until the image is read and tiled).
    pub total: usize,
}

/// The per-image figures shown in the table (from samcell-measure's `ImageSummary`).
/// `null` in JSON where undefined (no cells).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Number of cells.
    pub cell_count: usize,
    /// Mean cell area in px^2.
    pub mean_area_px: Option<f64>,
    /// Median cell area in px^2.
    pub median_area_px: Option<f64>,
    /// Mean cell area in um^2 when the pixel size is known ([`Job::pixel_size_um`]).
    pub mean_area_um2: Option<f64>,
    /// Cells per mm^2 of image when the pixel size is known (`summary.csv`'s `cells_per_mm2`).
    #[serde(default)]
    pub cells_per_mm2: Option<f64>,
    /// Cell pixels / image pixels, in percent.
    pub confluency_percent: Option<f64>,
    /// Mean number of touching neighbours (CellProfiler `NumberOfNeighbors_Adjacent`).
    pub mean_neighbors: Option<f64>,
    /// Mean number of cells within `neighbor_distance` px.
    pub mean_neighbors_within: Option<f64>,
    /// Distance of `mean_neighbors_within`, px.
    pub neighbor_distance: u32,
    /// Cell pixels (for pooled confluency across images).
    pub cell_pixels: u64,
}

/// One uploaded image.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// 16 lowercase hex digits.
    pub id: String,
    /// The group the image was uploaded in (one browser tab, or a name a script chose).
    pub batch: String,
    /// File name as uploaded (directories stripped).
    pub name: String,
    /// Where the job is in its life.
    pub state: JobState,
    /// Why it failed, in words for the user.
    pub error: Option<String>,
    /// Crops predicted in the current run (kept after it ends).
    pub progress: Progress,
    /// Position in the server's queue (processing order).
    pub seq: u64,
    /// Upload size in bytes.
    pub bytes: u64,
    /// Unix milliseconds: uploaded, started, finished (the latest run).
    pub created_ms: u64,
    /// When the latest run started, Unix milliseconds (`None` while queued).
    pub started_ms: Option<u64>,
    /// When the latest run ended, done or failed, Unix milliseconds.
    pub finished_ms: Option<u64>,
    /// Image width in pixels, once the upload was read.
    pub width: Option<usize>,
    /// Image height in pixels, once the upload was read.
    pub height: Option<usize>,
    /// What the file held (format, bit depth, scaling, the page read), in words.
    pub source: Option<String>,
    /// TIFF page to segment, counted from 0 (`?page=` on upload; other formats have page 0).
    #[serde(default)]
    pub page: usize,
    /// Pages of the uploaded file, once it was read (`None` before): a page of a file with
    /// several is named `<name>_p<N>` in downloads.
    #[serde(default)]
    pub pages: Option<usize>,
    /// Pixel size of the results in micrometres, `[x, y]`, once the upload was read: the
    /// server's `--pixel-size`, else the file's own calibration (a 72/96/300 dpi software
    /// default is none; `samcell_batch::record::output_calibration`). `None`: unknown, sizes are
    /// in pixels only.
    #[serde(default)]
    pub pixel_size_um: Option<[f64; 2]>,
    /// Where [`Job::pixel_size_um`] came from: `ome`, `imagej`, `tiff-resolution` or `user`
    /// (`samcell_batch::record::calibration_source_name`).
    #[serde(default)]
    pub pixel_size_source: Option<String>,
    /// What the user should know about a result that is not an error, e.g. that a multi-page
    /// TIFF had other pages that were not segmented.
    #[serde(default)]
    pub warning: Option<String>,
    /// With the built-in model ([`crate::ServeConfig::builtin_model`]): the signs that the image
    /// looks unlike the model's training data (`samcell_pipeline::domain`), in one sentence
    /// with the remedy; `None` when it looks like it, with another model, and in records of
    /// earlier versions. The unsure-map sign depends on the thresholds: re-thresholding
    /// recomputes it.
    #[serde(default)]
    pub domain_warning: Option<String>,
    /// The image was segmented by the built-in model's fallback (the nuclei model) because it
    /// looked unlike the cell model's training data; `domain_warning` then says so and stays as
    /// it is when re-thresholding (the check belongs to the cell model's map).
    #[serde(default)]
    pub routed: bool,
    /// Set when the job is a frame of a time series that was segmented again with the model
    /// most of its frames went to; [`Job::routed`] then says which model made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forced_model: Option<ForcedModel>,
    /// Times the model started on this image (recorded before it runs). A job found started but
    /// unfinished at start-up was cut short by a crash (out of memory, killed): it is queued
    /// again while this is below [`MAX_ATTEMPTS`], marked failed otherwise.
    #[serde(default)]
    pub attempts: u32,
    /// Resize factor of the image before the model (`samcell segment --scale`); `None`: 1,
    /// with the model's small-object advice in [`Job::warning`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<f32>,
    /// Seed threshold (`map > peak`) of the current results.
    #[serde(serialize_with = "shortest_f32")]
    pub peak: f32,
    /// Cell extent threshold (`map > fill`) of the current results.
    #[serde(serialize_with = "shortest_f32")]
    pub fill: f32,
    /// Bumped each time the results are rewritten (re-thresholding), so clients can reload.
    pub revision: u32,
    /// The figures of the current results (`None` until the first run is done).
    pub metrics: Option<Metrics>,
    /// Time per stage, written as whole milliseconds (`read`, `model`, `postprocess`,
    /// `outputs`; `samcell_batch::timings::millis`).
    #[serde(with = "samcell_batch::timings::millis", default)]
    pub timings_ms: Option<Timings>,
}

impl Job {
    /// A queued job that has not run: no results, no size, thresholds 0 (callers set those).
    pub fn queued(id: String, batch: String, name: String) -> Job {
        Job {
            id,
            batch,
            name,
            state: JobState::Queued,
            error: None,
            progress: Progress::default(),
            seq: 0,
            bytes: 0,
            created_ms: 0,
            started_ms: None,
            finished_ms: None,
            width: None,
            height: None,
            source: None,
            page: 0,
            pages: None,
            pixel_size_um: None,
            pixel_size_source: None,
            warning: None,
            domain_warning: None,
            routed: false,
            forced_model: None,
            attempts: 0,
            scale: None,
            peak: 0.0,
            fill: 0.0,
            revision: 0,
            metrics: None,
            timings_ms: None,
        }
    }

    /// The job as an upload to name ([`samcell_batch::naming::upload_names`]).
    pub fn upload(&self) -> Upload<'_> {
        Upload {
            file_name: &self.name,
            page: self.page,
            pages: self.pages.unwrap_or(1),
        }
    }

    /// The job's output name on its own (the `image` column of its `summary.csv`): the one
    /// naming rule of `samcell_batch::naming`, as `samcell segment` names the same file.
    /// Downloads use the name among the job's batch instead (`downloads`).
    pub fn stem(&self) -> String {
        samcell_batch::upload_names(&[self.upload()]).remove(0)
    }

    /// Records the pixel size the results were made with (`None`: unknown).
    pub fn set_calibration(&mut self, calibration: Option<&samcell_io::Calibration>) {
        self.pixel_size_um = calibration.map(|c| [c.x_um, c.y_um]);
        self.pixel_size_source = calibration
            .map(|c| samcell_batch::record::calibration_source_name(c.source).to_string());
    }
}

/// Runs of one image that may be cut short by a crash before it is marked failed: one more try
/// after a crash, none after a second one.
pub const MAX_ATTEMPTS: u32 = 2;

/// Current time in Unix milliseconds.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A fresh job id: 16 hex digits from the clock, a counter and the process's random hasher keys.
pub fn new_id() -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    format!("{:016x}", h.finish())
}

/// Job ids are exactly 16 lowercase hex digits (checked before any path is built from one).
pub fn valid_id(id: &str) -> bool {
    id.len() == 16
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Batch names: 1-64 of `A-Z a-z 0-9 _ -`.
pub fn valid_batch(b: &str) -> bool {
    (1..=64).contains(&b.len())
        && b.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
}

/// File names of a job directory.
pub mod files {
    /// The job record itself ([`super::Job`] as JSON).
    pub const RECORD: &str = "job.json";
    /// The upload as received, `input.<ext>` (`.png`, `.jpg`, `.tif` or `.bmp`): as it is named
    /// in messages.
    pub const INPUT: &str = "input.*";
    /// The 8-bit grey image the model saw (read back for the overlay on re-thresholding).
    pub const GRAY: &str = "gray.png";
    /// The blended distance map, f32 (read back for re-thresholding without the model).
    pub const DISTMAP_TIFF: &str = "distmap.tif";
    /// The cell labels, 0 for background.
    pub const MASKS: &str = "masks.tif";
    /// The cell outlines drawn over the grey image.
    pub const OVERLAY: &str = "overlay.png";
    /// One row of measurements per cell.
    pub const CELLS: &str = "cells.csv";
    /// The image's summary row (cell count, areas, confluency, neighbours).
    pub const SUMMARY: &str = "summary.csv";
    /// Viewer layer: the grey image contrast-stretched for display.
    pub const VIEW_IMAGE: &str = "view_image.png";
    /// Viewer layer: every cell filled with its label colour, background transparent.
    pub const VIEW_FILL: &str = "view_fill.png";
    /// Viewer layer: the cells' boundary pixels in their label colour, the rest transparent.
    pub const VIEW_EDGES: &str = "view_edges.png";
    /// Viewer layer: the distance map in heat-map colours.
    pub const VIEW_DISTMAP: &str = "view_distmap.png";
}

/// `<work_dir>/jobs`.
pub fn jobs_root(work_dir: &Path) -> PathBuf {
    work_dir.join("jobs")
}

/// Writes `job.json` atomically.
pub fn save(dir: &Path, job: &Job) -> Result<(), WebError> {
    let text =
        serde_json::to_vec_pretty(job).map_err(|e| WebError::Io(format!("job {}: {e}", job.id)))?;
    samcell_io::write_atomic(&dir.join(files::RECORD), &text)
        .map_err(|e| WebError::Io(e.full_message()))
}

/// Reads every `jobs/*/job.json`. A record that cannot be read becomes a failed job (so that it
/// stays visible and can be removed) with what could be salvaged from it (batch, name, order)
/// and is also reported in the second list, naming the file.
pub fn load_all(root: &Path) -> (Vec<Job>, Vec<String>) {
    let (mut jobs, mut problems) = (Vec::new(), Vec::new());
    let Ok(entries) = std::fs::read_dir(root) else {
        return (jobs, problems);
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if !valid_id(&name) {
            continue;
        }
        let path = e.path().join(files::RECORD);
        match std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice::<Job>(&b).map_err(|e| e.to_string()))
        {
            Ok(j) if j.id == name => jobs.push(j),
            Ok(j) => problems.push(format!(
                "{}: id {} does not match its directory; skipped",
                path.display(),
                j.id
            )),
            Err(err) => {
                problems.push(format!(
                    "{}: {err}; the job is shown as failed",
                    path.display()
                ));
                jobs.push(damaged(&name, &path, &err));
            }
        }
    }
    jobs.sort_by_key(|j| j.seq);
    (jobs, problems)
}

/// The failed job that stands for the unreadable record `path` of job `id`.
fn damaged(id: &str, path: &Path, err: &str) -> Job {
    let v: serde_json::Value = std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let text = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    let num = |k: &str| v.get(k).and_then(|x| x.as_u64());
    let batch = text("batch")
        .filter(|b| valid_batch(b))
        .unwrap_or_else(|| crate::api::DEFAULT_BATCH.to_string());
    let name = text("name").unwrap_or_else(|| format!("job {id}"));
    Job {
        state: JobState::Failed,
        error: Some(format!(
            "the job record jobs/{id}/{} is damaged ({err}); its results cannot be shown. \
             Remove this entry and upload the image again.",
            files::RECORD
        )),
        seq: num("seq").unwrap_or(0),
        bytes: num("bytes").unwrap_or(0),
        created_ms: num("created_ms").unwrap_or(0),
        ..Job::queued(id.to_string(), batch, name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_written_without_float_noise() {
        #[derive(Serialize)]
        struct T {
            #[serde(serialize_with = "shortest_f32")]
            fill: f32,
        }
        // through a Value, as the API's `json!` bodies do: f32 would widen to 0.09000000357627869
        let v = serde_json::to_value(T { fill: 0.09 }).unwrap();
        assert_eq!(v.to_string(), r#"{"fill":0.09}"#);
        assert_eq!(
            serde_json::json!({ "peak": short_f64(0.47) }).to_string(),
            r#"{"peak":0.47}"#
        );
        // and back: the same f32
        let back: f32 = serde_json::from_value(v["fill"].clone()).unwrap();
        assert_eq!(back, 0.09f32);
    }

    #[test]
    fn ids_and_batches() {
        let a = new_id();
        let b = new_id();
        assert!(valid_id(&a) && valid_id(&b) && a != b, "{a} {b}");
        for bad in [
            "",
            "../../etc/passwd",
            "0123456789abcdeF",
            "0123456789abcde",
        ] {
            assert!(!valid_id(bad), "{bad}");
        }
        assert!(
            valid_batch("tab-1_x")
                && !valid_batch("a/b")
                && !valid_batch("")
                && !valid_batch(&"a".repeat(65))
        );
    }

    #[test]
    fn stems_follow_the_batch_naming_rule() {
        let mut j = Job::queued(new_id(), "b".into(), "cells day 1.tif".into());
        assert_eq!(j.stem(), "cells day 1");
        j.name = "..".into();
        assert_eq!(j.stem(), samcell_batch::naming::NO_STEM_NAME);
        j.name = "stack.tif".into();
        (j.page, j.pages) = (1, Some(3));
        assert_eq!(j.stem(), "stack_p1");
    }
}
