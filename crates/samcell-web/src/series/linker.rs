//! The series records in memory ([`Linker`]) and the linker thread: it takes batch names from a
//! channel (sent when a frame of a series finishes, is re-thresholded or removed, when a series
//! is marked or its settings change, and for every series at start-up), waits
//! [`SETTLE`] for more to arrive (a batch re-threshold touches every frame), and links each
//! series whose state is `linking` (`super::status`): all frames done, no result for them yet.
//! HTTP handlers never link.
//!
//! **One model per series.** On a server with a fallback model (the default built-in pair),
//! each frame goes to the model its own image suits, so a time-lapse could switch models
//! between frames and its cells change shape and number with the model, not with time. Before
//! linking, when the frames went both ways, the frames that went the other way than most (a tie:
//! the main model) are queued again with the model most went to ([`crate::job::ForcedModel`],
//! said in their note), and the series is linked once they are done, as `samcell track` does.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use samcell_track::series::FrameFiles;
use samcell_track::{growth, FrameInterval, Timeline, TrackConfig};

use super::{
    frame_refs, frames_in_order, status, Doubling, FrameOrder, GrowthPoint, LinkFailure,
    LinkedResult, Series, SeriesState, RESULT,
};
use crate::job::{files, now_ms, ForcedModel, Job};
use crate::state::Shared;
use crate::WebError;

/// How long the linker waits after a change for more changes before it links.
pub const SETTLE: Duration = Duration::from_millis(150);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The series records, their directory and the linker's queue.
pub(crate) struct Linker {
    /// `<work_dir>/series`.
    pub root: PathBuf,
    records: Mutex<BTreeMap<String, Series>>,
    queue: Mutex<mpsc::Sender<String>>,
    /// Held while a result folder is swapped in or read for a download.
    pub results: Mutex<()>,
}

impl Linker {
    /// Loads the records under `root` (created if needed); returns the linker and the receiving
    /// end of its queue, on which every series is already sent once.
    pub fn open(root: PathBuf) -> Result<(Self, mpsc::Receiver<String>), WebError> {
        std::fs::create_dir_all(&root)
            .map_err(|e| WebError::Io(format!("cannot create {}: {e}", root.display())))?;
        let (loaded, problems) = super::load_all(&root);
        for p in problems {
            tracing::warn!("unreadable series record: {p}");
        }
        let (tx, rx) = mpsc::channel();
        let mut records = BTreeMap::new();
        for s in loaded {
            let _ = tx.send(s.batch.clone());
            records.insert(s.batch.clone(), s);
        }
        Ok((
            Self {
                root,
                records: Mutex::new(records),
                queue: Mutex::new(tx),
                results: Mutex::new(()),
            },
            rx,
        ))
    }

    /// The directory of series `batch`.
    pub fn dir(&self, batch: &str) -> PathBuf {
        self.root.join(batch)
    }

    /// The record of series `batch`.
    pub fn get(&self, batch: &str) -> Option<Series> {
        lock(&self.records).get(batch).cloned()
    }

    fn queue(&self, batch: &str) {
        let _ = lock(&self.queue).send(batch.to_string());
    }

    /// Queues `batch` for the linker when it is a series.
    pub fn touched(&self, batch: &str) {
        if lock(&self.records).contains_key(batch) {
            self.queue(batch);
        }
    }

    /// Marks `batch` as a series, or changes its settings (its result stays until the next
    /// linking replaces it); a linking that failed is tried again.
    pub fn put(
        &self,
        batch: &str,
        order: FrameOrder,
        frame_interval: Option<String>,
    ) -> Result<Series, WebError> {
        let mut records = lock(&self.records);
        let mut s = records
            .get(batch)
            .cloned()
            .unwrap_or_else(|| Series::new(batch.to_string(), order, frame_interval.clone()));
        // a failed linking is tried again (the result stays: it is still current when the frames
        // come out in the same order)
        s.failure = None;
        s.order = order;
        s.frame_interval = frame_interval;
        super::save(&self.dir(batch), &s)?;
        records.insert(batch.to_string(), s.clone());
        drop(records);
        self.queue(batch);
        Ok(s)
    }

    /// Unmarks `batch` (its jobs stay) and deletes its result; `false` when it was no series.
    pub fn remove(&self, batch: &str) -> Result<bool, WebError> {
        let _g = lock(&self.results);
        if lock(&self.records).remove(batch).is_none() {
            return Ok(false);
        }
        let dir = self.dir(batch);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
            Err(e) => Err(WebError::Io(format!(
                "cannot delete the result of series {batch}: {e}"
            ))),
        }
    }

    /// Applies `f` to the record of `batch` and saves it; `None` when it is no series (any
    /// more).
    fn update(&self, batch: &str, f: impl FnOnce(&mut Series)) -> Option<Series> {
        let mut records = lock(&self.records);
        let s = records.get_mut(batch)?;
        f(s);
        if let Err(e) = super::save(&self.dir(batch), s) {
            tracing::error!("cannot save series {batch}: {e}");
        }
        Some(s.clone())
    }
}

impl Shared {
    /// The frames of series `s`: its batch's jobs in its frame order.
    pub fn series_frames(&self, s: &Series) -> Vec<Job> {
        let jobs = self
            .all()
            .into_iter()
            .filter(|j| j.batch == s.batch)
            .collect();
        frames_in_order(jobs, s.order)
    }

    /// When the frames of a series went to both of the server's models, queues the minority
    /// again with the majority's model and returns true (module docs, "One model per series").
    fn unify_models(&self, batch: &str, frames: &[Job]) -> bool {
        if self.segmenter.fallback().is_none() {
            return false;
        }
        let routed: Vec<bool> = frames.iter().map(|j| j.routed).collect();
        let Some(to_fallback) = samcell_pipeline::series_model(&routed) else {
            return false;
        };
        let n = routed.iter().filter(|&&r| r).count();
        let forced = if to_fallback {
            ForcedModel::Fallback
        } else {
            ForcedModel::First
        };
        let minority: Vec<&Job> = frames.iter().filter(|j| j.routed != to_fallback).collect();
        tracing::info!(
            "series {batch}: {n} of {} frames went to the fallback model; segmenting {} again \
             with the {} model so that one model segments the whole series",
            frames.len(),
            minority.len(),
            if to_fallback { "fallback" } else { "main" }
        );
        for j in minority {
            self.requeue_with(&j.id, forced);
        }
        true
    }

    /// Links series `batch` when its state is `linking` (module docs).
    fn link_series(&self, batch: &str) {
        let Some(s) = self.series.get(batch) else {
            return;
        };
        let frames = self.series_frames(&s);
        if status(&s, &frames).0 != SeriesState::Linking {
            return;
        }
        // frames whose result files are gone become failed jobs (and so a failed series)
        let done = self.with_results(frames.clone());
        if done.len() != frames.len() {
            return;
        }
        if self.unify_models(batch, &frames) {
            return;
        }
        let refs = frame_refs(&frames);
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| self.make_result(&s, &frames)))
            .unwrap_or_else(|_| Err("internal error while linking (please report)".into()));
        match outcome {
            Ok(mut linked) => {
                linked.frames = refs;
                let _g = lock(&self.series.results);
                let dir = self.series.dir(batch);
                if self.series.get(batch).is_none() {
                    let _ = std::fs::remove_dir_all(&dir);
                    return;
                }
                if let Err(e) = swap_in(&dir) {
                    tracing::error!("series {batch}: {e}");
                    self.series.update(batch, |s| {
                        s.failure = Some(LinkFailure {
                            frames: linked.frames.clone(),
                            frame_interval: linked.frame_interval.clone(),
                            error: e,
                        });
                    });
                    return;
                }
                tracing::info!(
                    "series {batch}: {} frames linked, {} tracks, {} divisions",
                    linked.frames.len(),
                    linked.tracks,
                    linked.divisions
                );
                self.series.update(batch, |s| {
                    s.linked = Some(linked);
                    s.failure = None;
                    s.revision += 1;
                });
            }
            Err(error) => {
                tracing::warn!("series {batch}: linking failed: {error}");
                let _ = std::fs::remove_dir_all(self.series.dir(batch).join(NEW));
                self.series.update(batch, |rec| {
                    rec.failure = Some(LinkFailure {
                        frames: refs,
                        frame_interval: s.frame_interval.clone(),
                        error,
                    });
                });
            }
        }
    }

    /// Links `frames` of series `s` into `<series dir>/result.new` (module docs of the parent);
    /// the error names frames by number and file name.
    fn make_result(&self, s: &Series, frames: &[Job]) -> Result<LinkedResult, String> {
        let interval = s
            .frame_interval
            .as_deref()
            .map(FrameInterval::parse)
            .transpose()?;
        let timeline = Timeline(interval);
        let files: Vec<FrameFiles> = frames
            .iter()
            .map(|j| {
                let dir = self.dir(&j.id);
                FrameFiles {
                    labels: dir.join(files::MASKS),
                    grey: Some((dir.join(files::GRAY), 0)),
                }
            })
            .collect();
        let out = self.series.dir(&s.batch).join(NEW);
        if out.exists() {
            std::fs::remove_dir_all(&out)
                .map_err(|e| format!("cannot clear {}: {e}", out.display()))?;
        }
        let (tracking, summary) = samcell_track::series::track_files(
            &out,
            &files,
            &TrackConfig::default(),
            &timeline,
            false,
        )
        .map_err(|e| self.frame_message(&e.to_string(), frames))?;
        let growth = summary
            .growth
            .iter()
            .map(|r| GrowthPoint {
                frame: r.frame,
                time: r.time,
                count: r.count,
                confluency: r.confluency,
                mean_area_px: r.mean_area.is_finite().then_some(r.mean_area),
                divisions: r.divisions,
            })
            .collect();
        Ok(LinkedResult {
            frames: Vec::new(),
            frame_interval: s.frame_interval.clone(),
            tracks: tracking.tracks.len(),
            divisions: tracking.divisions.len(),
            time_unit: timeline.unit().to_string(),
            growth,
            fit: summary.fit.map(|f| Doubling {
                first: f.first,
                last: f.last,
                rate: f.rate,
                doubling: f.doubling,
                r2: f.r2,
            }),
            fit_text: growth::caption(summary.fit.as_ref(), &timeline),
            summary: summary.text,
            made_ms: now_ms(),
        })
    }

    /// `message` with the work directory's paths of each frame's files replaced by the frame's
    /// number and file name.
    fn frame_message(&self, message: &str, frames: &[Job]) -> String {
        let mut m = message.to_string();
        for (t, j) in frames.iter().enumerate() {
            let dir = self.dir(&j.id);
            for (file, what) in [(files::MASKS, "the masks"), (files::GRAY, "the image")] {
                let p = dir.join(file).display().to_string();
                m = m.replace(&p, &format!("{what} of frame {t} ({})", j.name));
            }
        }
        m
    }
}

/// The folder a new result is written into, beside [`RESULT`].
const NEW: &str = "result.new";
/// Where the previous result goes while the new one is moved in.
const OLD: &str = "result.old";

/// Replaces `dir/result` by `dir/result.new`.
fn swap_in(dir: &Path) -> Result<(), String> {
    let (cur, new, old) = (dir.join(RESULT), dir.join(NEW), dir.join(OLD));
    let _ = std::fs::remove_dir_all(&old);
    if cur.exists() {
        std::fs::rename(&cur, &old).map_err(|e| format!("cannot replace the result: {e}"))?;
    }
    std::fs::rename(&new, &cur).map_err(|e| format!("cannot put the result in place: {e}"))?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}

/// The linker thread (module docs); ends when the last `AppState` is dropped.
pub(crate) fn run(shared: Weak<Shared>, rx: mpsc::Receiver<String>) {
    while let Ok(first) = rx.recv() {
        std::thread::sleep(SETTLE);
        let mut batches = BTreeSet::from([first]);
        while let Ok(b) = rx.try_recv() {
            batches.insert(b);
        }
        let Some(s) = shared.upgrade() else { break };
        for b in batches {
            s.link_series(&b);
        }
    }
}

/// Starts the linker thread.
pub(crate) fn start(shared: &Arc<Shared>, rx: mpsc::Receiver<String>) -> Result<(), WebError> {
    let weak = Arc::downgrade(shared);
    std::thread::Builder::new()
        .name("samcell-linker".into())
        .spawn(move || run(weak, rx))
        .map(|_| ())
        .map_err(|e| WebError::Io(format!("cannot start the linker thread: {e}")))
}
