//! Time series: a batch marked as the frames of one time-lapse, linked into cell tracks by
//! samcell-track as `samcell track --labels` links label images.
//!
//! A series is a batch with a record `<work_dir>/series/<batch>/series.json` ([`Series`]): the
//! frame order ([`FrameOrder`]: upload order, or natural order of the uploaded file names with
//! upload order breaking ties) and the optional frame interval (`30min`, `90s`, `1.5h`, parsed by
//! `samcell_track::FrameInterval::parse`; without one, time is in frames). Every upload of the
//! batch, before or after it was marked, is a frame.
//!
//! Its state ([`SeriesState`]) is worked out from the batch's jobs at each request:
//! - `empty`: no frame yet;
//! - `failed`: a frame failed (listed in `failed_frames` with its reason), or linking the
//!   frames failed (`error`, e.g. a frame of another size): the series is not linked around a
//!   failed frame; removing it or uploading it again links the rest (a `PUT` of the settings
//!   tries a failed linking again);
//! - `waiting`: frames are queued or being segmented;
//! - `linking`: every frame is done and the result does not match them yet (new frames, a
//!   re-threshold, a removed frame, other settings): the linker is at work;
//! - `done`: the result in `<work_dir>/series/<batch>/result/` was made from exactly these
//!   frames at their current thresholds (job ids and revisions) and settings.
//!
//! The linker (`linker`) makes the result with `samcell_track::series::track_files` from each
//! frame's `masks.tif` and `gray.png` (the 8-bit image the model saw), with
//! `TrackConfig::default()` and no outlines, as `samcell track GREY --labels MASKS` does on the
//! same files: the folder holds the same files, byte for byte (`maskTTT.tif`, `res_track.txt`,
//! `tracks.csv`, `lineage.csv`, `growth.csv`, `growth.png`, `summary.txt`,
//! `overlays/frameTTT.png`). It is written beside the old one and swapped in, so a download
//! never sees half a result, and it survives a restart with its record.

mod linker;
pub(crate) mod routes;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::job::{Job, JobState};
use crate::WebError;

pub(crate) use linker::{start as start_linker, Linker};

/// How the frames of a series are ordered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FrameOrder {
    /// The order the images were uploaded in.
    #[default]
    Upload,
    /// Natural order of the file names (`t2` before `t10`), as `samcell track` orders a
    /// folder; upload order between equal names.
    Name,
}

/// One frame of a linked result: the job and the revision of its masks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameRef {
    /// The job id.
    pub id: String,
    /// The uploaded file's name.
    pub name: String,
    /// The job's revision (bumped by each re-threshold) when it was linked.
    pub revision: u32,
}

/// One row of `growth.csv`, for the page's chart (`null` where the CSV has `NaN`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GrowthPoint {
    /// Frame number.
    pub frame: usize,
    /// Its time, in [`LinkedResult::time_unit`].
    pub time: f64,
    /// Cells in the frame.
    pub count: usize,
    /// Fraction of the image covered by cells, 0..1.
    pub confluency: f64,
    /// Mean cell area, px²; `None` without cells.
    pub mean_area_px: Option<f64>,
    /// Divisions whose daughters first appear in this frame.
    pub divisions: usize,
}

/// The doubling-time fit of the result (`samcell_track::DoublingFit`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Doubling {
    /// First frame of the fit window.
    pub first: usize,
    /// Last frame of the fit window (included).
    pub last: usize,
    /// Slope of ln(count) per time unit.
    pub rate: f64,
    /// The doubling time in the time unit; `None` when the count does not grow.
    pub doubling: Option<f64>,
    /// R² of the fit.
    pub r2: f64,
}

/// What a linking made: the frames it was made from and its figures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinkedResult {
    /// The frames, in frame order.
    pub frames: Vec<FrameRef>,
    /// The frame interval it was made with.
    pub frame_interval: Option<String>,
    /// Tracks (rows of `res_track.txt`).
    pub tracks: usize,
    /// Divisions.
    pub divisions: usize,
    /// `s`, `min`, `h` or `frames`.
    pub time_unit: String,
    /// The rows of `growth.csv`.
    pub growth: Vec<GrowthPoint>,
    /// The doubling-time fit, when there is one.
    pub fit: Option<Doubling>,
    /// The fit in words, as the growth chart's caption gives it (two lines).
    pub fit_text: [String; 2],
    /// `summary.txt`.
    pub summary: String,
    /// Unix milliseconds when it was made.
    pub made_ms: u64,
}

/// A linking that failed: the frames it was tried on and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinkFailure {
    /// The frames, in frame order.
    pub frames: Vec<FrameRef>,
    /// The frame interval it was tried with.
    pub frame_interval: Option<String>,
    /// Why, in words for the user.
    pub error: String,
}

/// The record of a series (`series.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// The batch whose uploads are the frames.
    pub batch: String,
    /// The frame order.
    pub order: FrameOrder,
    /// The time between frames as given (`30min`); `None`: time in frames.
    pub frame_interval: Option<String>,
    /// Bumped each time a new result is in place, so clients can reload its files.
    pub revision: u32,
    /// The result in `result/`, if any.
    pub linked: Option<LinkedResult>,
    /// The last linking that failed, if it is newer than the result.
    pub failure: Option<LinkFailure>,
}

impl Series {
    /// A series without a result.
    pub fn new(batch: String, order: FrameOrder, frame_interval: Option<String>) -> Self {
        Self {
            batch,
            order,
            frame_interval,
            revision: 0,
            linked: None,
            failure: None,
        }
    }
}

/// Where a series stands (module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SeriesState {
    /// No frame yet.
    Empty,
    /// Frames are queued or being segmented.
    Waiting,
    /// The linker is making the result of the current frames.
    Linking,
    /// The result matches the current frames.
    Done,
    /// A frame failed, or linking failed.
    Failed,
}

/// The jobs of a batch (all of them, in queue order) in the frame order.
pub fn frames_in_order(mut jobs: Vec<Job>, order: FrameOrder) -> Vec<Job> {
    jobs.sort_by_key(|j| j.seq);
    if order == FrameOrder::Name {
        // a stable sort: upload order between equal names
        jobs.sort_by(|a, b| samcell_track::series::natural_cmp(&a.name, &b.name));
    }
    jobs
}

/// The frames `jobs` (in frame order) as a result would record them.
pub fn frame_refs(jobs: &[Job]) -> Vec<FrameRef> {
    jobs.iter()
        .map(|j| FrameRef {
            id: j.id.clone(),
            name: j.name.clone(),
            revision: j.revision,
        })
        .collect()
}

/// A frame that failed: its number, job, name and reason.
#[derive(Clone, Debug, Serialize)]
pub struct FailedFrame {
    /// Frame number in the series' order.
    pub frame: usize,
    /// The job id.
    pub id: String,
    /// The uploaded file's name.
    pub name: String,
    /// Why it failed.
    pub error: String,
}

/// The state of series `s` over its frames `jobs` (in frame order), the failed frames and the
/// message that goes with `failed` (module docs).
pub fn status(s: &Series, jobs: &[Job]) -> (SeriesState, Vec<FailedFrame>, Option<String>) {
    let failed: Vec<FailedFrame> = jobs
        .iter()
        .enumerate()
        .filter(|(_, j)| j.state == JobState::Failed)
        .map(|(t, j)| FailedFrame {
            frame: t,
            id: j.id.clone(),
            name: j.name.clone(),
            error: j.error.clone().unwrap_or_default(),
        })
        .collect();
    if !failed.is_empty() {
        let list: Vec<String> = failed
            .iter()
            .map(|f| format!("frame {} ({}): {}", f.frame, f.name, f.error))
            .collect();
        let msg = format!(
            "{} of {} frames failed, so the series is not linked: {}. Remove the failed frame(s) \
             or upload them again.",
            failed.len(),
            jobs.len(),
            list.join("; ")
        );
        return (SeriesState::Failed, failed, Some(msg));
    }
    if jobs.is_empty() {
        return (SeriesState::Empty, failed, None);
    }
    if jobs.iter().any(|j| !j.state.is_final()) {
        return (SeriesState::Waiting, failed, None);
    }
    let now = frame_refs(jobs);
    if let Some(l) = &s.linked {
        if l.frames == now && l.frame_interval == s.frame_interval {
            return (SeriesState::Done, failed, None);
        }
    }
    if let Some(f) = &s.failure {
        if f.frames == now && f.frame_interval == s.frame_interval {
            return (SeriesState::Failed, failed, Some(f.error.clone()));
        }
    }
    (SeriesState::Linking, failed, None)
}

/// `<work_dir>/series`.
pub fn series_root(work_dir: &Path) -> PathBuf {
    work_dir.join("series")
}

/// The record's file name in a series directory.
pub const RECORD: &str = "series.json";
/// The result folder's name in a series directory.
pub const RESULT: &str = "result";

/// Writes `series.json` atomically into `dir` (created if needed).
pub fn save(dir: &Path, s: &Series) -> Result<(), WebError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| WebError::Io(format!("cannot create {}: {e}", dir.display())))?;
    let text = serde_json::to_vec_pretty(s)
        .map_err(|e| WebError::Io(format!("series {}: {e}", s.batch)))?;
    samcell_io::write_atomic(&dir.join(RECORD), &text).map_err(|e| WebError::Io(e.full_message()))
}

/// Reads every `series/*/series.json`; a record that cannot be read is reported in the second
/// list (naming the file) and left out.
pub fn load_all(root: &Path) -> (Vec<Series>, Vec<String>) {
    let (mut out, mut problems) = (Vec::new(), Vec::new());
    let Ok(entries) = std::fs::read_dir(root) else {
        return (out, problems);
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if !crate::job::valid_batch(&name) {
            continue;
        }
        let path = e.path().join(RECORD);
        match std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice::<Series>(&b).map_err(|e| e.to_string()))
        {
            Ok(s) if s.batch == name => out.push(s),
            Ok(s) => problems.push(format!(
                "{}: batch {} does not match its directory; skipped",
                path.display(),
                s.batch
            )),
            Err(err) => problems.push(format!("{}: {err}; skipped", path.display())),
        }
    }
    out.sort_by(|a, b| a.batch.cmp(&b.batch));
    (out, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(name: &str, seq: u64, state: JobState) -> Job {
        Job {
            seq,
            state,
            ..Job::queued(crate::job::new_id(), "b".into(), name.into())
        }
    }

    #[test]
    fn name_order_is_natural_and_upload_order_breaks_ties() {
        let jobs = vec![
            job("t10.png", 0, JobState::Done),
            job("t2.png", 1, JobState::Done),
            job("t1.png", 2, JobState::Done),
            job("t2.png", 3, JobState::Done),
        ];
        let by_name = frames_in_order(jobs.clone(), FrameOrder::Name);
        let seqs: Vec<u64> = by_name.iter().map(|j| j.seq).collect();
        assert_eq!(seqs, [2, 1, 3, 0]);
        let by_upload = frames_in_order(jobs, FrameOrder::Upload);
        let seqs: Vec<u64> = by_upload.iter().map(|j| j.seq).collect();
        assert_eq!(seqs, [0, 1, 2, 3]);
    }

    #[test]
    fn states_follow_the_frames() {
        let mut s = Series::new("b".into(), FrameOrder::Upload, None);
        assert_eq!(status(&s, &[]).0, SeriesState::Empty);
        let mut jobs = vec![
            job("a.png", 0, JobState::Done),
            job("b.png", 1, JobState::Processing),
        ];
        assert_eq!(status(&s, &jobs).0, SeriesState::Waiting);
        jobs[1].state = JobState::Done;
        assert_eq!(status(&s, &jobs).0, SeriesState::Linking);
        s.failure = Some(LinkFailure {
            frames: frame_refs(&jobs),
            frame_interval: None,
            error: "frame 1 (b.png): sizes differ".into(),
        });
        let (st, _, msg) = status(&s, &jobs);
        assert_eq!(
            (st, msg.as_deref()),
            (SeriesState::Failed, Some("frame 1 (b.png): sizes differ"))
        );
        jobs[1].revision += 1; // re-thresholded: the failure is about other masks
        assert_eq!(status(&s, &jobs).0, SeriesState::Linking);
        jobs[0].state = JobState::Failed;
        jobs[0].error = Some("cannot read the image".into());
        let (st, failed, msg) = status(&s, &jobs);
        assert_eq!(st, SeriesState::Failed);
        assert_eq!(failed.len(), 1);
        assert!(
            msg.unwrap()
                .contains("frame 0 (a.png): cannot read the image"),
            "the reason is named"
        );
    }
}
