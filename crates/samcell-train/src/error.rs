//! The crate's error type.

use std::path::PathBuf;

/// Errors of training.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A bad setting or an inconsistent call (the message says which).
    #[error("{0}")]
    Config(String),
    /// The training set cannot be read.
    #[error("{0}")]
    Data(String),
    /// `--resume` with a configuration that differs from the run folder's.
    #[error("cannot resume {dir}: the run was started with a different configuration ({diff}); start a new run folder or use the same settings")]
    ConfigMismatch {
        /// The run folder.
        dir: PathBuf,
        /// The fields that differ, in words.
        diff: String,
    },
    /// A run folder or file that cannot be read or written; names the path.
    #[error("{path}: {reason}")]
    Io {
        /// The folder or file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A run folder or file the system refused; the system's error is the source.
    #[error("{path}")]
    System {
        /// The folder or file.
        path: PathBuf,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// A file samcell-io cannot read or write (its message names the file).
    #[error(transparent)]
    File(#[from] samcell_io::IoError),
    /// A tensor operation failed (candle's error is in the message, not returned as the source).
    #[error("tensor: {0}")]
    Tensor(candle_core::Error),
    /// Pre-processing (tiling, CLAHE) failed (the pipeline's error is in the message).
    #[error("pre-processing: {0}")]
    Pipeline(samcell_pipeline::PipelineError),
    /// A non-finite loss: training diverged.
    #[error(
        "loss is {loss} at iteration {iteration} (epoch {epoch}): training diverged; lower --lr"
    )]
    NonFinite {
        /// The loss of the step (NaN or infinite).
        loss: f64,
        /// Optimiser steps completed before this one.
        iteration: u64,
        /// The epoch, counted from 1.
        epoch: usize,
    },
}

// Each variant writes its cause into its own message, so none also returns it as the source:
// a printed chain says every cause once.
impl From<candle_core::Error> for TrainError {
    fn from(e: candle_core::Error) -> Self {
        Self::Tensor(e)
    }
}

impl From<samcell_pipeline::PipelineError> for TrainError {
    fn from(e: samcell_pipeline::PipelineError) -> Self {
        Self::Pipeline(e)
    }
}

impl TrainError {
    /// The system's error `source` on `path`.
    pub fn system(path: &std::path::Path, source: std::io::Error) -> Self {
        Self::System {
            path: path.to_path_buf(),
            source,
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: &std::path::Path, e: impl std::fmt::Display) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }
    }
}

/// `e` with its causes, as "message: cause: ...", for errors kept as text.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text = format!("{text}: {c}");
        cause = c.source();
    }
    text
}

/// [`chain`] of an error about the file `path`, naming the file once: prefixed with the path
/// unless the message names it already.
pub(crate) fn about_file(path: &std::path::Path, e: &dyn std::error::Error) -> String {
    let text = chain(e);
    let name = path.display().to_string();
    if text.contains(&name) {
        text
    } else {
        format!("{name}: {text}")
    }
}
