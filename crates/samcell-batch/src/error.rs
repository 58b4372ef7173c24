//! The errors of this crate: one enum, so that callers (the `samcell` binary, the web server)
//! can tell a usage problem ([`BatchError::is_usage`]) from a failure of the run.

use std::path::PathBuf;

/// What went wrong in discovery, naming, resume or the run records.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// A named input does not exist and is not a pattern.
    #[error("input not found: {}", .0.display())]
    InputNotFound(PathBuf),
    /// A named input exists but is neither a file nor a folder.
    #[error("input {} is neither a file nor a folder", .0.display())]
    NotFileOrFolder(PathBuf),
    /// A named input is a symbolic link whose target is missing.
    #[error("input {} is a symbolic link to nothing (its target is missing)", .0.display())]
    DanglingInput(PathBuf),
    /// A glob pattern that cannot be parsed.
    #[error("invalid glob pattern {pattern:?}")]
    Pattern {
        /// The pattern as given.
        pattern: String,
        /// The parser's complaint.
        #[source]
        source: glob::PatternError,
    },
    /// A found input whose canonical path cannot be had.
    #[error("cannot resolve {}", path.display())]
    Resolve {
        /// The input.
        path: PathBuf,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// An output file name longer than file systems accept.
    #[error(
        "the output file name {name} is too long ({len} bytes; file systems allow {max}): \
         shorten the input's name"
    )]
    NameTooLong {
        /// The file name (non-UTF-8 bytes as `%XX`).
        name: String,
        /// Its length in bytes.
        len: usize,
        /// The longest accepted.
        max: usize,
    },
    /// An old masks file that cannot be looked at.
    #[error("cannot look for an old {} in the output folder", path.display())]
    LookForOld {
        /// The masks file.
        path: PathBuf,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// An old masks file that cannot be removed.
    #[error("cannot remove the old {}", path.display())]
    RemoveOld {
        /// The masks file.
        path: PathBuf,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// A file that cannot be opened.
    #[error("cannot open {}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// A file that cannot be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// Run metadata that cannot be serialised.
    #[error("cannot serialise run metadata")]
    Serialize(#[source] serde_json::Error),
    /// A results file (`run.json`, `summary.csv`) that cannot be written.
    #[error("cannot write {}", path.display())]
    WriteResults {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<BatchError>,
    },
    /// An earlier results file that cannot be read.
    #[error("cannot read it")]
    OldUnreadable(#[source] std::io::Error),
    /// An earlier `run.json` that is not JSON.
    #[error("not JSON")]
    OldNotJson(#[source] serde_json::Error),
    /// An earlier `run.json` that is JSON but not samcell's.
    #[error("not a samcell run.json (no images or started_unix)")]
    NotRunJson,
    /// An earlier `summary.csv` with other columns.
    #[error("its columns are not those of samcell's summary.csv")]
    ForeignSummary,
    /// Cells whose outlines cannot be traced (an image too large for the tracer).
    #[error("cannot outline the cells")]
    Outline(#[source] samcell_morphology::MorphologyError),
    /// Outlines that an ImageJ ROI cannot hold (too many vertices, too far out).
    #[error("cannot make the ImageJ ROI set")]
    Roi(#[source] samcell_io::imagej_roi::RoiError),
    /// Reading or writing an image or a file (samcell-io's error names the file).
    #[error(transparent)]
    Io(#[from] samcell_io::IoError),
}

impl BatchError {
    /// Whether the error is about how the inputs were named (the caller's usage), rather than
    /// a failure while running.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            BatchError::InputNotFound(_)
                | BatchError::NotFileOrFolder(_)
                | BatchError::DanglingInput(_)
                | BatchError::Pattern { .. }
                | BatchError::Resolve { .. }
        )
    }
}
