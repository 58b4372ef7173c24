//! samcell-lite: a small U-Net that predicts SAMCell's distance map, behind the same predictor
//! seam as SAM ([`samcell_pipeline::DistanceMapPredictor`]).
//!
//! Everything around the network is SAMCell's (samcell 1.1.4 `SlidingWindowPipeline`, as
//! reproduced by `samcell-pipeline`): the sliding-window crops, the per-crop CLAHE + min-max
//! enhancement, the target (the per-cell normalised distance map through a sigmoid), the
//! cosine blending and the post-processing (seeds `> 0.47`, watershed inside `> 0.09`). Only the
//! network and its input encoding differ:
//!
//! - **Input encoding** ([`encode`]): the enhanced u8 crop as one f32 channel, `value / 255`
//!   (0..1), shape `(B, 1, H, W)` at the crop's own resolution (no resizing, no ImageNet
//!   normalisation, no 1024 padding as for SAM).
//! - **Output**: logits `(B, H, W)` at the crop's resolution; `sigmoid(logits)` is the map.
//! - **Network** ([`net`]): a U-Net, see there; sizes that are not a multiple of `2^levels` are
//!   padded (edge replication) and cropped back inside the model.
//!
//! ## Tile size and overlap: 576 + 32
//! SAM's 256 + 32 tiling spends most of its work on overlap: a 1024x1024 image needs 6x6 = 36
//! crops (2.25x the image's pixels). A CNN's cost is proportional to the pixels it sees and it
//! has no fixed input size, so larger tiles are cheaper: with 576 + 32 the stride is 512 and a
//! 1024x1024 (or usiigaci's 1022x1024) image is exactly 2x2 = 4 crops (1.27x the pixels), and
//! large images stay near 1.27x. 576 is a multiple of 64, so no padding is needed for up to 6
//! levels. The overlap stays at 32 (the blending ramp and the border reflection, as SAMCell);
//! the network's receptive field near a crop edge sees zero padding, which the 32-pixel cosine
//! ramp down-weights. The per-crop CLAHE (8x8 tiles) depends on the crop size, so the model must
//! be trained on crops of the same size ([`LiteConfig::crop`], stored in the weights file).
//!
//! ## Size and speed (default [`LiteConfig`]: base width 8, 4 levels, GroupNorm 4 groups)
//! 454,505 parameters (1.8 MB of f32); 3.70 G multiply-accumulates = 7.40 GFLOP per 576x576
//! crop, 29.6 GFLOP per 1024x1024 image (4 crops). GroupNorm is part of the default because the
//! plain U-Net, trained from scratch with SAMCell's loss (MSE on the sigmoid), saturated its
//! output at 0 within a few epochs and stopped learning; with GroupNorm it trains.
//! On the CPU the network runs on this crate's own kernels ([`conv`]): a register-blocked
//! AVX2 + FMA convolution with bias and ReLU fused, GroupNorm + ReLU, pooling and up-sampling, all
//! parallel and with their own backward passes (candle's im2col `conv2d` reached ~4.5 GFLOP per
//! CPU-second on these thin layers). Measure with `cargo run --release -p samcell-bench --
//! --only lite` (samcell-lite against ViT-B on the same 1024x1024 image in one run) or
//! `cargo run --release -p samcell-lite --example bench_lite`; figures are in the README.
//!
//! ## Weights
//! [`LiteModel::load`] / [`LiteModel::from_bytes`] read a self-describing safetensors file
//! ([`weights`]); [`LiteModel::builtin`] the model embedded at build time ([`embedded`]).

pub mod config;
pub mod conv;
pub mod embedded;
pub mod net;
pub mod predictor;
pub mod weights;

use std::path::PathBuf;

use candle_core::{Device, Tensor};
use samcell_imaging::GrayU8;

pub use config::LiteConfig;
pub use embedded::{
    builtin_nuclei_weights, builtin_weights, BUILTIN_NAME, BUILTIN_SHA256, NUCLEI_NAME,
    NUCLEI_SHA256, NUCLEI_SMALL_OBJECTS,
};
pub use net::{init_params, param_count, param_specs, LiteNet};
pub use predictor::LitePredictor;
pub use weights::{
    is_lite_file, save_safetensors, sha256_hex, to_safetensors_bytes, untrained_file_bytes,
    LiteModel,
};

/// Errors of loading, saving and configuring a lite model.
#[derive(Debug, thiserror::Error)]
pub enum LiteError {
    /// A [`LiteConfig`] value out of range or inconsistent (the message says which).
    #[error("invalid lite configuration: {0}")]
    Config(String),
    /// Weights that are not a usable samcell-lite file: bad metadata, missing, unexpected or
    /// mis-shaped tensors.
    #[error("bad samcell-lite weights: {0}")]
    Format(String),
    /// A weights file that cannot be read or written; the system's error is the source.
    #[error("cannot access {}", path.display())]
    Io {
        /// The weights file.
        path: PathBuf,
        /// The system's error.
        source: std::io::Error,
    },
    /// The built-in cell model was asked for in a build that embedded none.
    #[error("this build has no lite model (models/samcell-lite.safetensors was not present at build time)")]
    NoBuiltin,
    /// The built-in nuclei model was asked for in a build that embedded none.
    #[error("this build has no lite nuclei model (models/samcell-lite-nuclei.safetensors was not present at build time)")]
    NoBuiltinNuclei,
    /// A tensor operation failed (candle's error, returned as is).
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// The model input of equally sized enhanced crops: `(B, 1, H, W)` f32, `value / 255`.
pub fn encode(crops: &[GrayU8], device: &Device) -> candle_core::Result<Tensor> {
    let refs: Vec<&GrayU8> = crops.iter().collect();
    encode_refs(&refs, device)
}

/// [`encode`] on borrowed crops.
pub fn encode_refs(crops: &[&GrayU8], device: &Device) -> candle_core::Result<Tensor> {
    let Some(first) = crops.first() else {
        candle_core::bail!("no crops to encode");
    };
    let (h, w) = (first.height(), first.width());
    let mut data = Vec::with_capacity(crops.len() * h * w);
    for c in crops {
        if (c.height(), c.width()) != (h, w) {
            candle_core::bail!(
                "crops of one batch must have one size: {}x{} and {w}x{h}",
                c.width(),
                c.height()
            );
        }
        data.extend(c.data().iter().map(|&v| f32::from(v) / 255.0));
    }
    Tensor::from_vec(data, (crops.len(), 1, h, w), device)
}
