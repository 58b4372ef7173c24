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
    ConfigMismatch { dir: PathBuf, diff: String },
    /// A run folder or file that cannot be read or written; names the path.
    #[error("{path}: {reason}")]
    Io { path: PathBuf, reason: String },
    /// A tensor operation failed.
    #[error("tensor: {0}")]
    Tensor(#[from] candle_core::Error),
    /// Pre-processing (tiling, CLAHE) failed.
    #[error("pre-processing: {0}")]
    Pipeline(#[from] samcell_pipeline::PipelineError),
    /// A non-finite loss: training diverged.
    #[error(
        "loss is {loss} at iteration {iteration} (epoch {epoch}): training diverged; lower --lr"
    )]
    NonFinite {
        loss: f64,
        iteration: u64,
        epoch: usize,
    },
}

impl TrainError {
    /// An I/O error on `path`.
    pub fn io(path: &std::path::Path, e: impl std::fmt::Display) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }
    }
}
