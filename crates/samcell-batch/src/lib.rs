//! Batch runs of SAMCell segmentation, shared by every front end (the `samcell` command line, the
//! web server, bindings): what a run is to do, what it is called, whether it is already done,
//! and what is recorded about it.
//!
//! - [`mod@discover`]: the input images named by files, folders and glob patterns;
//! - [`naming`]: the one output naming rule (stems, folder prefixes, extensions, pages, uploads);
//! - [`outlines`]: the cells' outlines as GeoJSON (QuPath) and as an ImageJ ROI set (Fiji);
//! - [`plan`]: one job per image page, each with its output name;
//! - [`outputs`]: one image's output files and the resume rule (are they current for this model
//!   and these settings?);
//! - [`record`]: the per-image record, the run's settings and model identity, `run.json` and
//!   `<name>_run.json`;
//! - [`threads`]: one thread count for rayon's pool and candle's kernels;
//! - [`timings`]: the one timings type of an image and its written forms;
//! - [`results`]: the folder-wide `run.json` and `summary.csv`, merged with earlier runs';
//! - [`shard`]: sharded runs (`I/N`, Slurm arrays): which jobs a shard takes (balanced by
//!   pixels) and the names of its own results files;
//! - [`summarize`]: merging the shards' results files into `run.json` and `summary.csv`, with
//!   what is missing or failed and the command that redoes it;
//! - with feature `models`: `models` (the published model registry, the model cache, download
//!   URLs, samcell-lite resolution, loading a model with its identity) and `download` (fetching
//!   a model file atomically, with progress reported to the caller).
//!
//! Errors are [`BatchError`]; callers decide what they mean to their users (exit codes, HTTP
//! statuses).

#![forbid(unsafe_code)]

pub mod discover;
#[cfg(feature = "models")]
pub mod download;
mod error;
#[cfg(feature = "models")]
pub mod models;
pub mod naming;
pub mod outlines;
pub mod outputs;
pub mod plan;
pub mod record;
pub mod results;
pub mod shard;
pub mod summarize;
pub mod threads;
pub mod timings;

pub use discover::{discover, Discovery, Input, IMAGE_EXTENSIONS};
pub use error::BatchError;
pub use naming::{escape_os, escape_path, output_names, upload_names, Upload};
pub use outputs::{Optional, OutputSet};
pub use plan::Job;
pub use record::{ImageRecord, ModelInfo, ResultSettings, RunMeta, RunSettings, Status};
pub use results::Results;
pub use shard::{Shard, ShardError, ShardRecord};
pub use summarize::{summarize, SummarizeError, SummarizeReport};
pub use timings::Timings;

/// `e` and its sources, joined with `: ` (for log lines about errors that are not returned).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(s) = next {
        out.push_str(": ");
        out.push_str(&s.to_string());
        next = s.source();
    }
    out
}
