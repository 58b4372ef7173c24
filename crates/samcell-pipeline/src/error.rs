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
    #[error("{}: predictor failed: {error}", crop_span(.first, .count, .total))]
    Predict {
        /// Index of the first crop of the failing batch.
        first: usize,
        /// Number of crops in the batch.
        count: usize,
        /// Number of crops of the image.
        total: usize,
        /// The predictor's error, written into this one's message (not a separate cause).
        error: PredictError,
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
    #[error("{}: {error}", crop_or_image(.index))]
    Imaging {
        /// Index of the crop; `None` for an operation on the whole image.
        index: Option<usize>,
        /// The image operation's error, written into this one's message.
        error: ImagingError,
    },
    /// Post-processing (seeds + watershed) failed.
    #[error("post-processing: {0}")]
    Morphology(MorphologyError),
    /// A caller-provided buffer or array of the wrong size.
    #[error("{0}")]
    Shape(String),
}

impl PipelineError {
    /// Wraps an imaging error that happened on crop `index`.
    pub(crate) fn imaging_on(index: usize) -> impl FnOnce(ImagingError) -> Self {
        move |error| Self::Imaging {
            index: Some(index),
            error,
        }
    }

    /// Wraps an imaging error of a whole-image operation.
    pub(crate) fn imaging(error: ImagingError) -> Self {
        Self::Imaging { index: None, error }
    }
}

/// The morphology error is written into the message ("post-processing: ..."), so it is not
/// also returned as the source: a printed chain says it once.
impl From<MorphologyError> for PipelineError {
    fn from(e: MorphologyError) -> Self {
        Self::Morphology(e)
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error;

    /// Each variant writes its cause into its message and does not return it again as the
    /// source, so a printed chain says it once.
    #[test]
    fn causes_are_said_once() {
        let e = PipelineError::Predict {
            first: 0,
            count: 1,
            total: 2,
            error: PredictError("out of memory".into()),
        };
        assert_eq!(
            e.to_string(),
            "crop 0 of 2: predictor failed: out of memory"
        );
        assert!(e.source().is_none());
        let e = PipelineError::from(MorphologyError::Shape("2x2 labels for a 3x3 map".into()));
        assert_eq!(e.to_string(), "post-processing: 2x2 labels for a 3x3 map");
        assert!(e.source().is_none());
        let e = PipelineError::imaging_on(4)(ImagingError::Invalid("clip limit -1".into()));
        assert_eq!(e.to_string(), "crop 4: clip limit -1");
        assert!(e.source().is_none());
    }
}
