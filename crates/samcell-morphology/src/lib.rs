//! Post-processing morphology for SAMCell, hand-written because no crate reproduces the
//! reference semantics: OpenCV `findContours(RETR_EXTERNAL, CHAIN_APPROX_SIMPLE)`, OpenCV
//! polygon moments for seed placement, and scikit-image's seeded `watershed`; plus
//! [`label_polygons`], the pixel-edge outlines of labelled cells for GeoJSON export.
//!
//! [`cells_from_distance_map`] is samcell 1.1.4 `SlidingWindowPipeline.cells_from_dist_map`
//! (OpenCV 4.12, scikit-image 0.25.2) end to end; each module states the behaviour it matches.

#![forbid(unsafe_code)]

pub mod contours;
#[doc(hidden)]
pub mod naive;
pub mod polygons;
mod postprocess;
mod queue;
mod ranked;
pub mod watershed;

pub use contours::{
    contour_seed, external_contours, external_contours_where, polygon_moments, Contour,
};
pub use polygons::{label_polygons, LabelPolygons};
pub use postprocess::{
    cells_from_distance_map, seed_list_from_peaks, seeds_from_peaks, DEFAULT_FILL_THRESHOLD,
    DEFAULT_PEAK_THRESHOLD,
};
pub use watershed::watershed;

/// Errors from morphology operations.
#[derive(Debug, thiserror::Error)]
pub enum MorphologyError {
    /// Inputs whose shapes do not fit together, or an image too large to process.
    #[error("{0}")]
    Shape(String),
}
