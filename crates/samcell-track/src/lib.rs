//! Cell tracking for time-lapse label images: each frame's cells (a label image, from
//! `samcell segment` or anywhere else) are linked to the next frame's, with divisions, gaps of
//! a few frames and cells entering and leaving at the image border; the result is written as
//! a Cell Tracking Challenge result and as tables and a growth curve.
//!
//! - [`config`]: the linker's settings ([`TrackConfig`]) and their defaults.
//! - [`link`]: the linker ([`Tracker`]): overlap of motion-shifted cells, optimal one-to-one
//!   assignment (Kuhn–Munkres per connected group of candidate pairs), divisions, gap closing;
//!   the module docs give the exact rules.
//! - [`tracking`]: its result ([`Tracking`]): tracks `L B E P`, divisions, relabelling of
//!   frames by track id.
//! - [`ctc`]: `maskTTT.tif` and `res_track.txt`, and the validity rules of a result.
//! - [`tables`]: `tracks.csv` (one row per cell per frame with samcell-measure's per-cell
//!   measurements), `lineage.csv` (one row per track) and `growth.csv` (one row per frame).
//! - [`growth`]: the doubling time fitted on the exponential phase, and `growth.png`.
//! - [`output`]: a whole result folder, frame by frame.
//! - [`series`]: a series of label files linked and written as `samcell track --labels` and
//!   the web GUI do it, and the natural order of frame names.
//! - [`interval`]: the time between frames (`30min`, `90s`, `1.5h`).
//!
//! The linker only sees label images: it does not depend on how they were made, nor on their
//! label values (cells are numbered by position), and the same frames always give the same
//! tracks.

#![forbid(unsafe_code)]

mod assign;
mod cells;
pub mod config;
pub mod ctc;
pub mod growth;
pub mod interval;
pub mod link;
pub mod output;
pub mod series;
pub mod tables;
pub mod tracking;

pub use config::TrackConfig;
pub use growth::{fit_doubling, DoublingFit};
pub use interval::{FrameInterval, Timeline};
pub use link::Tracker;
pub use tracking::{Division, Track, Tracking};

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum TrackError {
    /// A frame whose size differs from the first frame's.
    #[error("frame {frame} is {}x{} but frame 0 is {}x{}; all frames must have one size", found.0, found.1, expected.0, expected.1)]
    FrameSize {
        /// The frame (from 0).
        frame: usize,
        /// The first frame's width and height.
        expected: (usize, usize),
        /// This frame's width and height.
        found: (usize, usize),
    },
    /// A label image given for relabelling that has a label the frame did not have when linked.
    #[error("frame {frame}: label {label} was not in the frame when it was linked")]
    UnknownLabel {
        /// The frame.
        frame: usize,
        /// The label.
        label: u32,
    },
    /// An error about one frame's file, naming it.
    #[error("{}: {source}", path.display())]
    InFile {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        source: Box<TrackError>,
    },
    /// A [`TrackConfig::min_iou`] outside (0, 1] ([`TrackConfig::check_min_iou`]).
    #[error("{0} is outside (0, 1]")]
    MinIou(f64),
    /// Anything else that is not as expected (the message says what).
    #[error("{0}")]
    Invalid(String),
    /// Reading or writing a file.
    #[error(transparent)]
    Io(#[from] samcell_io::IoError),
    /// Measuring the cells.
    #[error(transparent)]
    Measure(#[from] samcell_measure::MeasureError),
    /// Drawing a chart.
    #[error(transparent)]
    Plot(#[from] samcell_io::plot::PlotError),
}
