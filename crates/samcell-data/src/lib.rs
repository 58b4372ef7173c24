//! Training data for SAMCell.
//!
//! - [`target`]: the per-cell distance-map target (OpenCV 3x3 chamfer as in the paper, or exact
//!   Euclidean), what the model learns to predict.
//! - [`labels`]: reading instance-label images (u8/u16/u32 PNG/TIFF) with their values kept.
//! - [`import`]: finding image/label pairs in LIVECell COCO JSON, Cellpose, Cell Tracking
//!   Challenge and plain-folder layouts.
//! - [`trainset`]: the training-set folder `samcell prepare` writes and `samcell train` reads
//!   (manifest with counts and sha256 checksums).

#![forbid(unsafe_code)]

pub mod import;
pub mod labels;
pub mod target;
pub mod trainset;

pub use import::{
    discover, Discovery, ImportFormat, ImportOptions, LabelSource, PairSource, Skipped,
};
pub use labels::read_labels;
pub use target::{distance_target, TargetMethod};
pub use trainset::{Manifest, Sample, SampleEntry, TrainSet, TrainSetWriter, WriteOptions};

use std::path::PathBuf;

/// Errors of this crate; every file error names the file.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file that cannot be read or decoded.
    #[error("{path}: {reason}")]
    Read {
        /// The file or folder.
        path: PathBuf,
        /// What is wrong with it, or what could not be done.
        reason: String,
        /// The system's error, when there is one (not in `reason`).
        #[source]
        source: Option<std::io::Error>,
    },
    /// A file or folder that cannot be written.
    #[error("{path}: {reason}")]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// What could not be done.
        reason: String,
        /// The system's error, when there is one (not in `reason`).
        #[source]
        source: Option<std::io::Error>,
    },
    /// An input that does not have the expected layout or content.
    #[error("{0}")]
    Invalid(String),
    /// A training set whose manifest or files do not agree.
    #[error("training set {path}: {reason}")]
    TrainSet {
        /// The set's folder.
        path: PathBuf,
        /// What does not agree (manifest field, missing file, checksum, size).
        reason: String,
    },
    /// An image, label or target file of samcell-io's that cannot be read or written.
    #[error(transparent)]
    Io(#[from] samcell_io::IoError),
}

/// `e` with its causes ("message: cause: ..."), for errors kept as text: a system error is the
/// source of samcell-io's and this crate's errors, not part of their message.
pub(crate) fn error_text(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text = format!("{text}: {c}");
        cause = c.source();
    }
    text
}

impl DataError {
    pub(crate) fn read(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        DataError::Read {
            path: path.into(),
            reason: reason.into(),
            source: None,
        }
    }
    /// A read error caused by the system's `source` (`reason` says what was being done).
    pub(crate) fn read_io(path: impl Into<PathBuf>, reason: &str, source: std::io::Error) -> Self {
        DataError::Read {
            path: path.into(),
            reason: reason.to_string(),
            source: Some(source),
        }
    }
    pub(crate) fn write(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        DataError::Write {
            path: path.into(),
            reason: reason.into(),
            source: None,
        }
    }
    /// A write error caused by the system's `source` (`reason` says what was being done).
    pub(crate) fn write_io(path: impl Into<PathBuf>, reason: &str, source: std::io::Error) -> Self {
        DataError::Write {
            path: path.into(),
            reason: reason.to_string(),
            source: Some(source),
        }
    }
}
