//! Image handling for SAMCell, with no machine-learning dependency.
//!
//! Each module states the reference behaviour it reproduces (OpenCV 4.12, Pillow 11.3,
//! scikit-image 0.25 as used by samcell 1.1.4) and is golden-tested against arrays the
//! Python reference produced (`reference/` in the repository root regenerates them).

#![forbid(unsafe_code)]

pub mod buffer;

pub use buffer::{GrayU8, Image, Labels, MapF32};

/// Errors from image operations (reading and writing files is samcell-io's).
#[derive(Debug, thiserror::Error)]
pub enum ImagingError {
    /// Dimensions or buffer sizes that do not fit together.
    #[error("{0}")]
    Shape(String),
    /// An argument outside the supported range.
    #[error("{0}")]
    Invalid(String),
}

pub mod clahe;
pub mod normalize;
pub mod resize;

pub use clahe::ClaheConfig;
