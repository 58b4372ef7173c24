//! SAMCell's sliding-window pipeline (reference: samcell 1.1.4 `SlidingWindowPipeline` and
//! `SlidingWindowHelper`), with the model behind the [`DistanceMapPredictor`] seam so that any
//! network or back-end can be plugged in and the whole pipeline can be tested without weights.

pub mod predictor;

pub use predictor::{DistanceMapPredictor, PredictError};
