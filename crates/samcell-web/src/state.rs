//! [`AppState`]: the job table, its persistence and the worker thread that runs the model.
//!
//! Crash rule: a job is saved as `processing` with `attempts` incremented before the model runs.
//! At start-up a job still `processing` was cut short by the process dying (out of memory,
//! killed): it is queued again while `attempts` < [`job::MAX_ATTEMPTS`] (one more try), else
//! marked failed with the reason, so that one image cannot keep the server in a crash loop. A
//! clean stop hands the interrupted run back ([`AppState::release_interrupted`]). A record that
//! cannot be read becomes a failed job (logged with its path); a done job whose result files are
//! gone becomes failed naming the file (at start-up and when a request finds out).
//!
//! One worker thread takes job ids from a channel in upload order and runs the shared
//! [`Segmenter`] (a blocking, CPU-bound call) on each; HTTP handlers never run the model. The
//! worker holds only a weak reference, so it ends when the last `AppState` is dropped. A job of a
//! time series that finishes, is re-thresholded or removed is sent to the series linker
//! (`crate::series`), which runs on a thread of its own.

use std::collections::{BTreeMap, HashMap};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use samcell_batch::Timings;
use samcell_imaging::{GrayU8, MapF32};
use samcell_io::Calibration;
use samcell_pipeline::Segmenter;

use crate::config::ServeConfig;
use crate::job::{self, files, now_ms, ForcedModel, Job, JobState, Progress};
use crate::outputs;
use crate::WebError;

mod forced;
mod rethreshold;

use rethreshold::Inputs;

/// What the out-of-domain note suggests: a server runs one model, chosen at its start.
const DOMAIN_REMEDY: &str = "if cells are missed or wrong, start the server with another model \
     (e.g. samcell serve --model generalist) and upload the image again";

/// Shared server state (cheap to clone).
#[derive(Clone)]
pub struct AppState(pub(crate) Arc<Shared>);

pub(crate) struct Shared {
    pub cfg: ServeConfig,
    pub segmenter: Arc<Segmenter>,
    pub model: String,
    /// `<work_dir>/jobs`
    pub root: PathBuf,
    /// `<work_dir>/tmp`: uploads in flight.
    pub tmp: PathBuf,
    jobs: Mutex<BTreeMap<String, Job>>,
    next_seq: AtomicU64,
    queue: Mutex<mpsc::Sender<String>>,
    /// Serialises re-thresholding per job.
    job_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// The time series and the linker's queue (`crate::series`).
    pub series: crate::series::Linker,
    /// What re-thresholding reads, for the jobs re-thresholded last (a slider drag hits the same
    /// job many times): (job id, its inputs).
    cache: Mutex<Vec<(String, Arc<Inputs>)>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // a panic while holding the lock leaves consistent data here (whole-value updates only)
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl AppState {
    /// Opens (or creates) the work directory, reloads the jobs found there, queues again those
    /// that were not finished, and starts the worker.
    pub fn open(cfg: ServeConfig, segmenter: Arc<Segmenter>) -> Result<Self, WebError> {
        cfg.validate().map_err(WebError::Config)?;
        let work_dir = &cfg.work_dir;
        let wd_err = |dir: &std::path::Path| {
            // the message names the work directory already: the folder relative to it
            let reason = format!(
                "cannot create {}",
                dir.strip_prefix(work_dir).unwrap_or(dir).display()
            );
            move |source| WebError::WorkDir {
                path: work_dir.clone(),
                reason,
                source,
            }
        };
        let root = job::jobs_root(&cfg.work_dir);
        let tmp = cfg.work_dir.join("tmp");
        std::fs::create_dir_all(&root).map_err(wd_err(&root))?;
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).map_err(wd_err(&tmp))?;
        let (loaded, problems) = job::load_all(&root);
        for p in problems {
            tracing::warn!("unreadable job record: {p}");
        }
        let model = segmenter.predictor().describe();
        let (tx, rx) = mpsc::channel::<String>();
        let next_seq = loaded.iter().map(|j| j.seq + 1).max().unwrap_or(0);
        let mut table = BTreeMap::new();
        let mut requeue = Vec::new();
        for mut j in loaded {
            let dir = root.join(&j.id);
            let before = j.clone();
            match j.state {
                JobState::Queued => requeue.push(j.id.clone()),
                JobState::Processing => {
                    // started and never finished: the process died while running it
                    j.attempts = j.attempts.max(1);
                    if j.attempts >= job::MAX_ATTEMPTS {
                        crashed(&mut j);
                        tracing::warn!("{}: {}", j.name, j.error.as_deref().unwrap_or(""));
                    } else {
                        tracing::warn!(
                            "{} was being processed when the server stopped; it is tried once more",
                            j.name
                        );
                        j.state = JobState::Queued;
                        j.progress = Progress::default();
                        j.started_ms = None;
                        requeue.push(j.id.clone());
                    }
                }
                JobState::Done => {
                    if let Some(f) = missing_result(&dir) {
                        mark_missing(&mut j, f);
                        tracing::warn!("{}: {}", j.name, j.error.as_deref().unwrap_or(""));
                    }
                }
                JobState::Failed => {}
            }
            if j != before {
                job::save(&dir, &j)?;
            }
            table.insert(j.id.clone(), j);
        }
        let (series, series_rx) =
            crate::series::Linker::open(crate::series::series_root(&cfg.work_dir))?;
        let shared = Arc::new(Shared {
            cfg,
            segmenter,
            model,
            root,
            tmp,
            jobs: Mutex::new(table),
            next_seq: AtomicU64::new(next_seq),
            queue: Mutex::new(tx.clone()),
            job_locks: Mutex::new(HashMap::new()),
            series,
            cache: Mutex::new(Vec::new()),
        });
        if !requeue.is_empty() {
            tracing::info!(
                "{} unfinished image(s) from the last run are queued again",
                requeue.len()
            );
        }
        for id in requeue {
            let _ = tx.send(id);
        }
        crate::series::start_linker(&shared, series_rx)?;
        let weak = Arc::downgrade(&shared);
        std::thread::Builder::new()
            .name("samcell-worker".into())
            .spawn(move || worker(weak, rx))
            .map_err(|e| WebError::Io(format!("cannot start the worker thread: {e}")))?;
        Ok(Self(shared))
    }

    /// The settings in use.
    pub fn config(&self) -> &ServeConfig {
        &self.0.cfg
    }

    /// The predictor's description (e.g. "SAM ViT-B (candle, CPU, f32)").
    pub fn model_description(&self) -> &str {
        &self.0.model
    }

    /// A snapshot of every job, in queue order.
    pub fn jobs(&self) -> Vec<Job> {
        self.0.all()
    }

    /// A snapshot of one job.
    pub fn job(&self, id: &str) -> Option<Job> {
        self.0.get(id)
    }

    /// Call after a clean stop (Ctrl+C), before the process exits: the image being processed
    /// was interrupted, not a crash, so its record goes back to queued without counting the run
    /// (it resumes at the next start). If the worker finishes it meanwhile, its outcome wins.
    pub fn release_interrupted(&self) {
        self.0.release_interrupted()
    }
}

impl Shared {
    pub fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    pub fn get(&self, id: &str) -> Option<Job> {
        lock(&self.jobs).get(id).cloned()
    }

    pub fn all(&self) -> Vec<Job> {
        let mut v: Vec<Job> = lock(&self.jobs).values().cloned().collect();
        v.sort_by_key(|j| j.seq);
        v
    }

    /// Registers a job whose `input.*` is in place and queues it (queue order = `seq` order).
    pub fn enqueue(&self, mut j: Job) -> Result<Job, WebError> {
        let mut jobs = lock(&self.jobs);
        j.seq = self.next_seq.fetch_add(1, Ordering::SeqCst);
        job::save(&self.dir(&j.id), &j)?;
        jobs.insert(j.id.clone(), j.clone());
        lock(&self.queue)
            .send(j.id.clone())
            .map_err(|_| WebError::Io("the worker has stopped; restart the server".into()))?;
        Ok(j)
    }

    /// Applies `f` to the stored job and persists it; returns the new value.
    ///
    /// The record is written while the table is locked: no client sees a state (e.g. "done")
    /// before it is on disk, and concurrent updates reach the disk in the order they were made.
    pub fn update(&self, id: &str, f: impl FnOnce(&mut Job)) -> Option<Job> {
        let mut jobs = lock(&self.jobs);
        let j = jobs.get_mut(id)?;
        f(j);
        let snapshot = j.clone();
        if let Err(e) = job::save(&self.dir(id), &snapshot) {
            tracing::error!("cannot save job {id}: {e}");
        }
        drop(jobs);
        Some(snapshot)
    }

    /// See [`AppState::release_interrupted`].
    pub fn release_interrupted(&self) {
        let ids: Vec<String> = lock(&self.jobs)
            .values()
            .filter(|j| j.state == JobState::Processing)
            .map(|j| j.id.clone())
            .collect();
        for id in ids {
            self.update(&id, |j| {
                if j.state == JobState::Processing {
                    j.state = JobState::Queued;
                    j.attempts = j.attempts.saturating_sub(1);
                    j.progress = Progress::default();
                    j.started_ms = None;
                }
            });
        }
    }

    /// A done job whose result `file` is gone becomes failed with the reason; returns the answer
    /// for the request that found out (409, as for any failed job).
    pub fn result_missing(&self, id: &str, file: &str) -> (u16, String) {
        let j = self.update(id, |j| {
            if j.state == JobState::Done {
                mark_missing(j, file);
            }
        });
        tracing::warn!("job {id}: its result file {file} is missing; marked failed");
        let why = j
            .and_then(|j| j.error.map(|e| format!("{} failed: {e}", j.name)))
            .unwrap_or_else(|| format!("job {id} has no {file}"));
        (409, why)
    }

    /// The jobs of `jobs` whose result files are all there; the others are marked failed
    /// ([`Shared::result_missing`]).
    pub fn with_results(&self, jobs: Vec<Job>) -> Vec<Job> {
        jobs.into_iter()
            .filter(|j| match missing_result(&self.dir(&j.id)) {
                Some(f) => {
                    self.result_missing(&j.id, f);
                    false
                }
                None => true,
            })
            .collect()
    }

    /// Removes a job that is not being processed; `Err` says why not.
    pub fn remove(&self, id: &str) -> Result<(), (u16, String)> {
        let mut jobs = lock(&self.jobs);
        match jobs.get(id) {
            None => return Err((404, format!("no job {id}"))),
            Some(j) if j.state == JobState::Processing => {
                return Err((
                    409,
                    format!("{} is being processed; remove it when it is done", j.name),
                ))
            }
            Some(_) => {}
        }
        let batch = jobs.remove(id).map(|j| j.batch);
        drop(jobs);
        lock(&self.cache).retain(|(k, _)| k != id);
        let removed = std::fs::remove_dir_all(self.dir(id))
            .map_err(|e| (500, format!("cannot delete the files of {id}: {e}")));
        if let Some(b) = batch {
            self.series.touched(&b);
        }
        removed
    }

    /// What the threshold-dependent outputs of an image with the calibration `file` (its own)
    /// are made with: the thresholds, the server's neighbour distance and the pixel size
    /// (`--pixel-size`, else the file's; `samcell_batch::record::output_calibration`).
    fn post(&self, peak: f32, fill: f32, file: Option<Calibration>) -> outputs::PostSettings {
        outputs::PostSettings {
            peak,
            fill,
            neighbor_distance: self.cfg.neighbor_distance,
            pixel_size: samcell_batch::record::output_calibration(self.cfg.pixel_size, file),
        }
    }

    /// With the built-in model ([`ServeConfig::builtin_model`]): the signs that `gray` looks
    /// unlike its training data, given its map and the thresholds, as one sentence with what
    /// the user of this server can do ([`Job::domain_warning`]); `None` otherwise.
    fn domain_warning(&self, gray: &GrayU8, map: &MapF32, peak: f32, fill: f32) -> Option<String> {
        if !self.cfg.builtin_model {
            return None;
        }
        samcell_pipeline::domain_note(Some(gray), map, peak, fill, DOMAIN_REMEDY)
    }

    pub fn job_lock(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        lock(&self.job_locks)
            .entry(id.to_string())
            .or_default()
            .clone()
    }

    /// Runs the model on one queued job and stores the outcome.
    fn process(self: &Arc<Self>, id: &str) {
        let Some(j) = self.update(id, |j| {
            if j.state == JobState::Queued {
                j.state = JobState::Processing;
                j.attempts += 1; // saved before the model runs: see `AppState::open`
                j.started_ms = Some(now_ms());
                j.finished_ms = None;
                j.progress = Progress::default();
                j.error = None;
                j.warning = None;
                j.domain_warning = None;
                j.routed = false;
            }
        }) else {
            return; // removed while queued
        };
        if j.state != JobState::Processing {
            return;
        }
        let outcome =
            std::panic::catch_unwind(AssertUnwindSafe(|| self.run(&j))).unwrap_or_else(|p| {
                let what = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "unknown".into());
                Err(format!(
                    "internal error while processing (please report): {what}"
                ))
            });
        self.update(id, |j| {
            j.finished_ms = Some(now_ms());
            match outcome {
                Ok(()) => j.state = JobState::Done,
                Err(e) => {
                    j.state = JobState::Failed;
                    j.error = Some(e);
                }
            }
        });
        self.series.touched(&j.batch);
    }

    fn run(self: &Arc<Self>, j: &Job) -> Result<(), String> {
        let dir = self.dir(&j.id);
        let input =
            find_input(&dir).ok_or("the uploaded file is missing from the work directory")?;
        let check_size = |w: u64, h: u64| {
            let px = w.saturating_mul(h);
            if px > self.cfg.max_pixels {
                return Err(format!(
                    "image is {w}x{h} = {:.0} megapixels; this server accepts up to {:.0} megapixels",
                    px as f64 / 1e6,
                    self.cfg.max_pixels as f64 / 1e6
                ));
            }
            Ok(())
        };
        let t = Instant::now();
        // the header alone, so that an oversized image is refused before it is decoded; a header
        // the `image` crate cannot read is left to samcell-io's decoder (checked again below)
        if let Ok((w, h)) = image::ImageReader::open(&input)
            .and_then(|r| r.with_guessed_format())
            .map_err(|e| e.to_string())
            .and_then(|r| r.into_dimensions().map_err(|e| e.to_string()))
        {
            check_size(w.into(), h.into())?;
        }
        // the 8-bit image for the model and the viewer, and the file's own values for the
        // intensity measurements (as `samcell segment` measures them)
        let (gray, raw, info) = samcell_io::read_gray_raw(&input, &read_options(j.page))
            .map_err(|e| format!("cannot read the image: {}", e.detail()))?;
        let read_time = t.elapsed();
        check_size(gray.width() as u64, gray.height() as u64)?;
        outputs::save_gray(&dir, &gray).map_err(|e| e.to_string())?;
        let warning = source_warning(&info);
        let post = self.post(j.peak, j.fill, info.calibration);
        self.update(&j.id, |j| {
            j.set_calibration(post.pixel_size.as_ref());
            j.width = Some(gray.width());
            j.height = Some(gray.height());
            j.source = Some(info.to_string());
            j.pages = Some(info.pages);
            j.warning = warning;
        });
        let me = Arc::downgrade(self);
        let id = j.id.clone();
        let base = match j.forced_model {
            None => (*self.segmenter).clone(),
            Some(f) => self.forced_segmenter(f),
        };
        let seg = base
            .with_scale(j.scale)
            .with_progress(Arc::new(move |done, total| {
                if let Some(s) = me.upgrade() {
                    if let Some(job) = lock(&s.jobs).get_mut(&id) {
                        job.progress = Progress { done, total };
                    }
                }
            }));
        let samcell_pipeline::RoutedMap {
            map,
            timings: stages,
            routed,
            advice,
            ..
        } = seg
            .distance_map_routed(&gray)
            .map_err(|e| format!("segmentation failed: {e}"))?;
        // the small-object advice, as `samcell segment` gives it (with this API's name)
        let size_advice = match samcell_pipeline::weigh_advice(advice, &gray) {
            (Some(px), Some(rule)) => Some(samcell_pipeline::size::small_objects_message(
                px, &rule, "scale ",
            )),
            _ => None,
        };
        let domain_warning = if let Some(f) = j.forced_model {
            Some(self.forced_note(f))
        } else if routed.is_empty() {
            self.domain_warning(&gray, &map, post.peak, post.fill)
        } else {
            let fallback = self
                .cfg
                .fallback_model
                .as_deref()
                .unwrap_or("the fallback model");
            samcell_pipeline::route_message(&routed, fallback, DOMAIN_REMEDY)
        };
        outputs::save_map_outputs(&dir, &map, post.pixel_size.as_ref())
            .map_err(|e| e.to_string())?;
        let r = outputs::write_threshold_outputs(&dir, &j.stem(), &gray, &raw, &map, post)
            .map_err(|e| e.to_string())?;
        self.update(&j.id, |j| {
            j.metrics = Some(r.metrics);
            j.domain_warning = domain_warning;
            if let Some(a) = size_advice {
                j.warning = Some(match j.warning.take() {
                    Some(w) => format!("{w}; {a}"),
                    None => a,
                });
            }
            j.routed = match j.forced_model {
                Some(f) => f == ForcedModel::Fallback,
                None => !routed.is_empty(),
            };
            let mut t = Timings {
                read: read_time,
                stages,
                write: Duration::from_millis(r.outputs_ms),
                total: Duration::ZERO,
            };
            t.stages.postprocess = Duration::from_millis(r.postprocess_ms);
            t.total = t.read + t.model() + t.stages.postprocess + t.write;
            j.timings_ms = Some(t);
        });
        Ok(())
    }
}

/// How a job's upload is read: its page, otherwise as `samcell segment` reads (the same at
/// processing and when re-thresholding reads it again).
pub(crate) fn read_options(page: usize) -> samcell_io::ReadOptions {
    samcell_io::ReadOptions {
        page,
        ..Default::default()
    }
}

/// What the user should know about what was read: the pages of a stack that were not segmented,
/// channels that were not used. `None` for a plain one-page image.
fn source_warning(info: &samcell_io::SourceInfo) -> Option<String> {
    let mut notes = Vec::new();
    if info.pages > 1 {
        let layout = info
            .stack
            .as_ref()
            .map(|s| {
                format!(
                    " ({} channel(s) x {} slice(s) x {} frame(s))",
                    s.channels, s.slices, s.frames
                )
            })
            .unwrap_or_default();
        notes.push(format!(
            "this TIFF has {} pages{layout}; only page {} (counted from 0) was segmented. Upload \
             it again with ?page=N to segment another page.",
            info.pages, info.page
        ));
    }
    if info.channel_use == samcell_io::ChannelUse::FirstSample {
        notes.push(format!(
            "only the first of its {} samples per pixel was used.",
            info.channels
        ));
    }
    (!notes.is_empty()).then(|| notes.join(" "))
}

/// Marks a job whose processing was cut short twice by the process dying as failed.
fn crashed(j: &mut Job) {
    let size = match (j.width, j.height) {
        (Some(w), Some(h)) => format!(" ({w}x{h} pixels)"),
        _ => String::new(),
    };
    j.state = JobState::Failed;
    j.progress = Progress::default();
    j.finished_ms = Some(now_ms());
    j.error = Some(format!(
        "the server stopped {} times while processing this image{size}, probably because it ran \
         out of memory; it is not tried again. Upload it again to retry (e.g. after starting the \
         server with a lower --max-pixels or on a computer with more memory).",
        j.attempts
    ));
}

/// Result files a done job must have: those its downloads and re-thresholding read.
const RESULTS: [&str; 6] = [
    files::MASKS,
    files::OVERLAY,
    files::CELLS,
    files::SUMMARY,
    files::DISTMAP_TIFF,
    files::GRAY,
];

/// The first result file missing from a done job's directory.
fn missing_result(dir: &Path) -> Option<&'static str> {
    RESULTS.into_iter().find(|f| !dir.join(f).is_file())
}

fn mark_missing(j: &mut Job, file: &str) {
    j.state = JobState::Failed;
    j.error = Some(format!(
        "its file {file} is missing from the work directory (deleted or moved?); upload the \
         image again"
    ));
}

/// The job's `input.<ext>` file.
pub(crate) fn find_input(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_stem().is_some_and(|s| s == "input") && p.is_file())
}

fn worker(shared: Weak<Shared>, rx: mpsc::Receiver<String>) {
    while let Ok(id) = rx.recv() {
        let Some(s) = shared.upgrade() else { break };
        s.process(&id);
    }
}
