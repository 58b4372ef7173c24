//! Reading microscopy images and writing SAMCell outputs.

pub mod read;
pub mod write;

use std::path::PathBuf;

/// Errors from reading or writing files; every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    #[error("{path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("{path}: {reason}")]
    Write { path: PathBuf, reason: String },
}
