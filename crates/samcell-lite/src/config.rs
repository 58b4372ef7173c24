//! [`LiteConfig`]: the shape of the network and the tiling it is run with.
//!
//! The configuration is stored as JSON in the weights file's safetensors metadata (key
//! [`crate::weights::META_CONFIG`]), so a file describes itself and `LiteModel::load` needs
//! nothing else.

use samcell_pipeline::TilingConfig;
use serde::{Deserialize, Serialize};

use crate::LiteError;

/// Default channels of the full-resolution level.
pub const DEFAULT_BASE_WIDTH: usize = 8;
/// Default number of 2x down-samplings.
pub const DEFAULT_LEVELS: usize = 4;
/// Default GroupNorm groups (0 = no normalisation).
pub const DEFAULT_NORM_GROUPS: usize = 4;
/// Default sliding-window crop side for this model.
pub const DEFAULT_CROP: usize = 576;
/// Default sliding-window overlap for this model.
pub const DEFAULT_OVERLAP: usize = 32;

/// Network shape and tiling of a samcell-lite model. `Default` is the shipped architecture.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiteConfig {
    /// Channels at full resolution; level `i` has `base_width * 2^i` channels.
    pub base_width: usize,
    /// Number of 2x down-samplings (the bottleneck runs at `1 / 2^levels` resolution).
    pub levels: usize,
    /// GroupNorm groups after every 3x3 convolution; 0 = no normalisation (identical behaviour
    /// in training and inference either way: GroupNorm has no running statistics).
    pub norm_groups: usize,
    /// Sliding-window crop side the model is run (and should be trained) with.
    pub crop: usize,
    /// Sliding-window overlap (padding and blending ramp).
    pub overlap: usize,
}

impl Default for LiteConfig {
    fn default() -> Self {
        Self {
            base_width: DEFAULT_BASE_WIDTH,
            levels: DEFAULT_LEVELS,
            norm_groups: DEFAULT_NORM_GROUPS,
            crop: DEFAULT_CROP,
            overlap: DEFAULT_OVERLAP,
        }
    }
}

impl LiteConfig {
    /// Channels of level `i` (`0..=levels`).
    pub fn width(&self, level: usize) -> usize {
        self.base_width << level
    }

    /// Spatial sizes are padded inside the model to a multiple of this.
    pub fn multiple(&self) -> usize {
        1 << self.levels
    }

    /// The pipeline tiling this model is run with.
    pub fn tiling(&self) -> TilingConfig {
        TilingConfig {
            crop: self.crop,
            overlap: self.overlap,
        }
    }

    /// Short identity for logs ("unet w16 l3").
    pub fn describe(&self) -> String {
        let norm = if self.norm_groups > 0 {
            format!(" gn{}", self.norm_groups)
        } else {
            String::new()
        };
        format!(
            "unet w{} l{}{norm}, tiles {}+{}",
            self.base_width, self.levels, self.crop, self.overlap
        )
    }

    /// Checks that the network can be built and the tiling is usable.
    pub fn validate(&self) -> Result<(), LiteError> {
        let bad = |m: String| Err(LiteError::Config(m));
        if self.base_width == 0 || self.base_width > 256 {
            return bad(format!("base_width {} must be in 1..=256", self.base_width));
        }
        if self.levels == 0 || self.levels > 6 {
            return bad(format!("levels {} must be in 1..=6", self.levels));
        }
        if self.norm_groups > 0 && !self.base_width.is_multiple_of(self.norm_groups) {
            return bad(format!(
                "norm_groups {} must divide base_width {}",
                self.norm_groups, self.base_width
            ));
        }
        self.tiling()
            .validate()
            .map_err(|e| LiteError::Config(e.to_string()))
    }

    /// JSON form (as stored in the weights' metadata).
    pub fn to_json(&self) -> String {
        // A struct of integers always serialises.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses and validates the JSON form.
    pub fn from_json(text: &str) -> Result<Self, LiteError> {
        let c: Self = serde_json::from_str(text)
            .map_err(|e| LiteError::Format(format!("bad lite config {text:?}: {e}")))?;
        c.validate()?;
        Ok(c)
    }

    /// Multiply-accumulates of one forward pass on an `h x w` crop (after padding to
    /// [`Self::multiple`]); FLOPs are twice this.
    pub fn macs(&self, h: usize, w: usize) -> u64 {
        let m = self.multiple();
        let (h, w) = (h.div_ceil(m) * m, w.div_ceil(m) * m);
        let mut total = 0u64;
        for spec in crate::net::param_specs(self) {
            if !spec.name.ends_with(".weight") || spec.shape.len() != 4 {
                continue;
            }
            let level = spec.level;
            let px = ((h >> level) * (w >> level)) as u64;
            let per_px: u64 = spec.shape.iter().map(|&d| d as u64).product();
            total += px * per_px;
        }
        total
    }
}
