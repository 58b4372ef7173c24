//! Trainable architectures implementing [`crate::model::TrainableModel`].

pub mod lite;
pub mod sam;
