//! Segment Anything in the Hugging Face `SamModel` layout (transformers 4.57), as SAMCell uses
//! it: an image in, no prompt, the first multimask output (mask token 1) through a sigmoid as
//! the distance map.
//!
//! Back-end: candle in f32, on the CPU by default (see `docs/backend.md` in the repository for the
//! measured choice) or any candle device through [`SamModel::load_on`]; [`device`] opens the one a
//! run asks for (the CPU, or the first CUDA GPU in builds with the `cuda` feature).
//! [`SamModel::from_tensors`] with [`Mode::Train`] builds a differentiable model from trainable
//! variables. The pipeline sees the model only through
//! [`samcell_pipeline::DistanceMapPredictor`], implemented by [`SamPredictor`], so other
//! back-ends or precisions plug in without touching the pipeline. SAM's own input encoding
//! (transformers' `SamImageProcessor`: resize to 1024, ImageNet normalisation, padding) and the
//! way from its 256x256 output back to the crop's size live here too, in [`sam_input`].

mod attention_cpu;
pub mod bf16_gemm;
pub mod checkpoint;
pub mod config;
pub mod cpu_matmul;
pub mod cpu_path;
mod decoder;
mod kernels;
mod layers;
pub mod predictor;
pub mod sam;
pub mod sam_input;
pub mod train_ops;
mod vision;

pub use checkpoint::{Checkpoint, Format};
pub use config::{HeadOverrides, SamConfig, Variant};
pub use layers::Mode;
pub use predictor::SamPredictor;
pub use sam::{read_checkpoint, SamModel, SamOutput};

use std::path::PathBuf;

/// Errors from loading or running a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A checkpoint that cannot be used; says which file and what is wrong with it.
    #[error("{path}: {reason}")]
    Checkpoint {
        /// The checkpoint file as given.
        path: PathBuf,
        /// What is wrong with it, for the message.
        reason: String,
        /// The system's error, when the file itself could not be read (not in `reason`).
        #[source]
        source: Option<std::io::Error>,
    },
    /// The checkpoint lacks tensors the architecture needs (Hugging Face key names; a trailing
    /// `.*` stands for a whole group).
    #[error("checkpoint is missing keys: {0:?}")]
    MissingKeys(Vec<String>),
    /// A tensor or buffer has a shape the architecture or the caller's request does not allow;
    /// the message names it, its shape and the expected one.
    #[error("{0}")]
    Shape(String),
    /// The hyper-parameters are inconsistent or unsupported: an unreadable `config.json`, head
    /// counts that do not divide the widths, an unsupported dtype.
    #[error("{0}")]
    Config(String),
    /// A tensor operation failed; candle's error is written into the message, not returned as a
    /// separate cause, so a printed chain says it once.
    #[error("tensor computation failed: {0}")]
    Compute(candle_core::Error),
    /// A crop with no pixels given to SAM's input encoding.
    #[error("empty crop ({width}x{height})")]
    EmptyCrop {
        /// Width of the crop in pixels.
        width: usize,
        /// Height of the crop in pixels.
        height: usize,
    },
    /// A resize of SAM's input encoding or of its output map failed; the image operation's error
    /// is written into the message.
    #[error("SAM input/output resize: {0}")]
    Imaging(samcell_imaging::ImagingError),
    /// The first CUDA GPU cannot be opened.
    #[error("cannot open CUDA device 0: {0}")]
    Cuda(candle_core::Error),
    /// A CUDA device was asked for in a build without the `cuda` feature.
    #[error("this samcell was built without CUDA support (rebuild with `--features cuda`)")]
    NoCuda,
}

impl From<candle_core::Error> for ModelError {
    fn from(e: candle_core::Error) -> Self {
        Self::Compute(e)
    }
}

/// The device models run on: the CPU, or the first CUDA GPU when `cuda` (builds with the `cuda`
/// feature; otherwise [`ModelError::NoCuda`]).
pub fn device(cuda: bool) -> Result<candle_core::Device, ModelError> {
    if !cuda {
        return Ok(candle_core::Device::Cpu);
    }
    #[cfg(feature = "cuda")]
    {
        candle_core::Device::new_cuda(0).map_err(ModelError::Cuda)
    }
    #[cfg(not(feature = "cuda"))]
    {
        Err(ModelError::NoCuda)
    }
}
