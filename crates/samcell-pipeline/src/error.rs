//! The pipeline's error type.

use samcell_imaging::ImagingError;
use samcell_morphology::MorphologyError;

use crate::predictor::PredictError;

/// Everything that can go wrong between an input image and its labels. Errors that concern one
/// crop (or one batch of crops) name it, counting crops from 0 in the plan's raster order.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// A tiling or segmentation setting that cannot work (e.g. `crop <= 2 * overlap`).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// An image with no pixels.
    #[error("empty image ({width}x{height})")]
    EmptyImage {
        /// Width in pixels; it or `height` is 0.
        width: usize,
        /// Height in pixels; it or `width` is 0.
        height: usize,
    },
    /// The predictor failed on a batch of crops.
    #[error("{}: predictor failed: {source}", crop_span(.first, .count, .total))]
    Predict {
        /// Index of the first crop of the failing batch.
        first: usize,
        /// Number of crops in the batch.
        count: usize,
        /// Number of crops of the image.
        total: usize,
        #[source]
        source: PredictError,
    },
    /// The predictor returned a different number of maps than crops it was given.
    #[error("{}: predictor returned {got} maps for {count} crops", crop_span(.first, .count, .total))]
    PredictCount {
        /// Index of the first crop of the batch.
        first: usize,
        /// Number of crops in the batch.
        count: usize,
        /// Number of crops of the image.
        total: usize,
        /// Number of maps the predictor returned.
        got: usize,
    },
    /// A crop's distance map cannot be used (wrong size after resizing...).
    #[error("crop {index} of {total}: {reason}")]
    CropMap {
        /// Index of the crop.
        index: usize,
        /// Number of crops of the image.
        total: usize,
        /// What is wrong with the map.
        reason: String,
    },
    /// The predictor returned NaN or infinite values for a crop (a broken model or back-end):
    /// the image fails instead of giving an empty or partial result.
    #[error("crop {index} of {total}: the model produced {count} non-finite value(s) (NaN/inf) in its distance map")]
    NonFiniteMap {
        /// Index of the crop.
        index: usize,
        /// Number of crops of the image.
        total: usize,
        /// Number of NaN or infinite values in the crop's map.
        count: usize,
    },
    /// An image operation failed on a crop (`index` is `None` for whole-image operations).
    #[error("{}: {source}", crop_or_image(.index))]
    Imaging {
        /// Index of the crop; `None` for an operation on the whole image.
        index: Option<usize>,
        #[source]
        source: ImagingError,
    },
    /// Post-processing (seeds + watershed) failed.
    #[error("post-processing: {0}")]
    Morphology(#[from] MorphologyError),
    /// A caller-provided buffer or array of the wrong size.
    #[error("{0}")]
    Shape(String),
}

impl PipelineError {
    /// Wraps an imaging error that happened on crop `index`.
    pub(crate) fn imaging_on(index: usize) -> impl FnOnce(ImagingError) -> Self {
        move |source| Self::Imaging {
            index: Some(index),
            source,
        }
    }

    /// Wraps an imaging error of a whole-image operation.
    pub(crate) fn imaging(source: ImagingError) -> Self {
        Self::Imaging {
            index: None,
            source,
        }
    }
}

fn crop_span(first: &usize, count: &usize, total: &usize) -> String {
    if *count <= 1 {
        format!("crop {first} of {total}")
    } else {
        format!("crops {first}..={} of {total}", first + count - 1)
    }
}

fn crop_or_image(index: &Option<usize>) -> String {
    match index {
        Some(i) => format!("crop {i}"),
        None => "image".to_string(),
    }
}
