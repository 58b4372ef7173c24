//! Per-cell measurements, segmentation evaluation and threshold tuning for SAMCell label images.
//!
//! - [`measure`]: CellProfiler 4 `MeasureObjectSizeShape` features with scikit-image 0.25.2
//!   `skimage.measure.regionprops` definitions (what CellProfiler computes them with),
//!   `MeasureObjectNeighbors` neighbour counts, per-cell intensity statistics and the per-image
//!   summary (count, mean/median area, confluency, mean neighbours). One pass over the pixels
//!   fills every per-label accumulator; hulls and Feret diameters come from per-label row extremes.
//! - [`csv`]: `<stem>_cells.csv` (one row per cell) and `summary.csv` (one row per image).
//! - [`eval`]: Cell Tracking Challenge SEG, DET and OP_CSB exactly as py-ctcmetrics 1.3.3
//!   computes them (per image and pooled over images), AP at IoU 0.50:0.05:0.95 and F1@0.5
//!   (Cellpose/StarDist convention), split/merge counts, pairing of prediction and ground-truth
//!   files by stem, and table/JSON/CSV reports; [`eval::tracking`]: CTC tracking evaluation of a
//!   result folder against a `XX_GT` folder (validation, TRA, DET, LNK, SEG, OP_CTB, divisions and
//!   BC(i), CT, TF, CCA, BIO(i)) exactly as py-ctcmetrics 1.3.3.
//! - [`mod@tune`]: `start:stop:step` grids over the post-processing thresholds, OP_CSB/SEG/DET on every
//!   grid point (rayon), and a heat-map PNG.
//! - [`read`]: label images (TIFF 8-64 bit integer, integral float; PNG 8/16-bit grey) read with
//!   their integer values kept.
//!
//! Undefined values are NaN (written `NaN` in CSV, `null` in JSON), never 0.

#![forbid(unsafe_code)]

pub mod csv;
mod dense;
pub mod eval;
pub mod heatmap;
mod hull;
pub mod measure;
mod neighbors;
pub mod read;
mod shape;
pub mod tune;

pub use csv::{write_cells_csv, write_cells_csv_calibrated, write_summary_csv};
pub use eval::{
    evaluate_dirs, evaluate_files, evaluate_labels, pair_by_stem, EvalCounts, EvalReport,
    ImageEval, LabelPair, Scores, AP_THRESHOLDS_PERCENT,
};
pub use heatmap::{render_heatmap, write_heatmap_png};
pub use measure::{
    measure_labels, CellMeasurement, ImageSummary, Intensity, IntensityStats, MeasureConfig,
    Measurements,
};
pub use read::read_labels;
pub use tune::{grid, tune, tune_samcell, GridRange, TuneGrid, TunePoint};

use std::path::PathBuf;

/// Errors of this crate; the ones about files name the file(s).
#[derive(Debug, thiserror::Error)]
pub enum MeasureError {
    /// A label image that cannot be read or is not a label image.
    #[error("{path}: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
        /// The system's error when the file itself could not be read (not in `reason`).
        #[source]
        source: Option<std::io::Error>,
    },
    /// Writing an output failed.
    #[error(transparent)]
    Write(#[from] samcell_io::IoError),
    /// Images that must have the same size do not.
    #[error("{0}")]
    Shape(String),
    /// An argument or setting outside its valid range.
    #[error("{0}")]
    Invalid(String),
    /// Prediction and ground-truth files that cannot be paired.
    #[error("{0}")]
    Pairing(String),
    /// The post-processing function given to [`fn@tune`] failed.
    #[error("post-processing at peak {peak}, fill {fill}, image {image}: {reason}")]
    PostProcess {
        /// The grid point's peak threshold.
        peak: f32,
        /// The grid point's fill threshold.
        fill: f32,
        /// Index of the distance map, in the order given (from 0).
        image: usize,
        /// The function's error message.
        reason: String,
    },
}
