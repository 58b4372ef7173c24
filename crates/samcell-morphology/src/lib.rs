//! Post-processing morphology for SAMCell, hand-written because no crate reproduces the
//! reference semantics: OpenCV `findContours(RETR_EXTERNAL, CHAIN_APPROX_SIMPLE)`, OpenCV
//! polygon moments for seed placement, and scikit-image's seeded `watershed`.

pub mod contours;
pub mod watershed;

/// Errors from morphology operations.
#[derive(Debug, thiserror::Error)]
pub enum MorphologyError {
    #[error("{0}")]
    Shape(String),
}
