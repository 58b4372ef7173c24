//! The model a frame of a time series is made to use ([`ForcedModel`]): the segmenter with that
//! model alone, the note on such a frame, and queueing a finished frame again with it (the
//! series linker decides which frames, `crate::series::linker`, "One model per series").

use samcell_pipeline::Segmenter;

use super::{lock, Shared};
use crate::job::{ForcedModel, JobState, Progress};

impl Shared {
    /// A segmenter of the server's settings with only the model `f` (no routing).
    pub(super) fn forced_segmenter(&self, f: ForcedModel) -> Segmenter {
        let predictor = match (f, self.segmenter.fallback()) {
            (ForcedModel::Fallback, Some(fallback)) => fallback.clone(),
            _ => self.segmenter.predictor().clone(),
        };
        Segmenter::new(predictor, *self.segmenter.config())
    }

    /// The note on a time-series frame segmented with the model most of its frames went to.
    pub(super) fn forced_note(&self, f: ForcedModel) -> String {
        let fallback = self
            .cfg
            .fallback_model
            .as_deref()
            .unwrap_or("the fallback model");
        let model = match f {
            ForcedModel::Fallback => fallback.to_string(),
            ForcedModel::First => format!("the server's main model (not {fallback})"),
        };
        format!(
            "segmented again with {model}, the model most frames of its time series went to, so \
             that one model segments the whole series"
        )
    }

    /// Queues job `id` again, to be segmented with model `f` only (a minority frame of a time
    /// series; `crate::series::linker`), if it is still done. Holds the job's lock, so a
    /// re-threshold or removal in flight finishes first (and a later one finds it queued).
    /// Blocking: call it from the linker's thread, not from async code.
    pub(crate) fn requeue_with(&self, id: &str, f: ForcedModel) {
        let job_lock = self.job_lock(id);
        let _guard = job_lock.blocking_lock();
        lock(&self.cache).retain(|(k, _)| k != id);
        let mut queued = false;
        self.update(id, |j| {
            if j.state == JobState::Done {
                j.state = JobState::Queued;
                j.forced_model = Some(f);
                j.attempts = 0;
                j.progress = Progress::default();
                j.revision += 1;
                queued = true;
            }
        });
        if queued {
            let _ = lock(&self.queue).send(id.to_string());
        }
    }
}
