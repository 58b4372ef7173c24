//! Training for SAMCell (`samcell train`): the paper's fine-tuning protocol (SAMCell, PLoS One
//! 2025, "Training protocol") for any [`TrainableModel`].
//!
//! Modules: [`config`] (the protocol's settings), [`data`] (samples, split, validation crops),
//! [`augment`] (augmentation + random crop), [`batch`] (epoch order and per-crop
//! pre-processing, identical to inference's), [`trainer`] (the loop), [`stopping`] (early
//! stopping), [`run`] (the run folder, checkpoints and resume), [`plot`] (loss curve),
//! [`rng`] (seeded streams), [`optim`] (AdamW and the learning-rate schedule) and [`arch`]
//! (trainable architectures).

#![forbid(unsafe_code)]

pub mod arch;
pub mod augment;
pub mod batch;
pub mod config;
pub mod data;
mod error;
pub mod factory;
pub mod model;
pub mod optim;
pub mod plot;
pub mod rng;
pub mod run;
pub mod stopping;
pub mod trainer;

pub use candle_core::Device;
pub use config::{AugmentConfig, TrainConfig};
pub use error::TrainError;
pub use factory::device;
pub use model::TrainableModel;
pub use run::{EpochRecord, RunFolder, RunRecord, RunState};
pub use trainer::{train, Observer, RunOptions, Silent, StepInfo, Summary, TrainData};
