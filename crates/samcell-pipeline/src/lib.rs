//! SAMCell's sliding-window pipeline (reference: samcell 1.1.4 `SlidingWindowPipeline` and
//! `SlidingWindowHelper`), with the model behind the [`DistanceMapPredictor`] seam so that any
//! network or back-end can be plugged in and the whole pipeline can be tested without weights.
//!
//! Stages, each in its own module with the exact reference behaviour in its doc:
//! [`tiling`] (crops), [`enhance`] (CLAHE + min-max per crop), [`blend`] (cosine-weighted
//! blending; [`band`] does the same in row bands, the path [`Segmenter`] uses) and [`segment`]
//! (the [`Segmenter`] facade and post-processing). A model's own input encoding (SAM's:
//! `samcell_model::sam_input`) and the tiling it needs ([`DistanceMapPredictor::tiling`]) belong
//! to its predictor, not to the pipeline.

#![forbid(unsafe_code)]

pub mod band;
pub mod blend;
pub mod domain;
pub mod enhance;
mod error;
pub mod predictor;
pub mod segment;
pub mod short_f32;
pub mod size;
pub mod tiling;

pub use domain::{
    domain_message, domain_note, domain_warnings, route_message, series_model, DomainCheck,
    DomainWarning,
};
pub use error::PipelineError;
pub use predictor::{DistanceMapPredictor, PredictError};
pub use segment::{
    check_scale, check_threshold, check_thresholds, labels_from_distance_map, relabel_sequential,
    relabel_sequential_in_place, scaled_size, weigh_advice, ProgressFn, RoutedMap, SegmentConfig,
    Segmentation, Segmenter, StageTimings, ThresholdError, DEFAULT_FILL, DEFAULT_PEAK, MAX_SCALE,
    MIN_SCALE,
};
pub use size::SmallObjects;
pub use tiling::{extract_crops, Region, Tile, TilePlan, TilingConfig};
