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
    Read { path: PathBuf, reason: String },
    /// A file or folder that cannot be written.
    #[error("{path}: {reason}")]
    Write { path: PathBuf, reason: String },
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

impl DataError {
    pub(crate) fn read(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        DataError::Read {
            path: path.into(),
            reason: reason.into(),
        }
    }
    pub(crate) fn write(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        DataError::Write {
            path: path.into(),
            reason: reason.into(),
        }
    }
}
