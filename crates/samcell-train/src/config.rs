//! The training configuration: one struct whose defaults are the paper's protocol
//! (SAMCell, PLoS One 2025, "Training protocol" and "Data augmentation").
//!
//! It is written into the run folder (`config.json`) and compared on `--resume`: a run only
//! continues with exactly the configuration it was started with.

use serde::{Deserialize, Serialize};

/// Augmentation ranges. Setting a probability to 0 or a range to its identity value turns
/// that augmentation off (the paper's protocol is the default).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AugmentConfig {
    /// Probability of a horizontal flip (paper: "random horizontal mirroring", 0.5).
    pub flip_p: f64,
    /// Rotation angle drawn from U(-max, max) degrees (paper: 180).
    pub rotate_max_deg: f64,
    /// Isotropic scale drawn from U(lo, hi) (paper: 0.8..1.2, aspect ratio preserved).
    pub scale: (f64, f64),
    /// Brightness factor drawn from U(lo, hi), applied to the image only (paper: 0.95..1.05).
    pub brightness: (f64, f64),
    /// Probability of inverting the image (255 - v), image only (paper: "randomly invert", 0.5).
    pub invert_p: f64,
}

impl Default for AugmentConfig {
    fn default() -> Self {
        Self {
            flip_p: 0.5,
            rotate_max_deg: 180.0,
            scale: (0.8, 1.2),
            brightness: (0.95, 1.05),
            invert_p: 0.5,
        }
    }
}

impl AugmentConfig {
    /// No augmentation at all (crops are still drawn at random positions).
    pub fn none() -> Self {
        Self {
            flip_p: 0.0,
            rotate_max_deg: 0.0,
            scale: (1.0, 1.0),
            brightness: (1.0, 1.0),
            invert_p: 0.0,
        }
    }
}

/// Everything that decides the numbers a run produces.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Peak learning rate (paper: 1e-4).
    pub lr: f64,
    /// AdamW decoupled weight decay (paper: 0.1).
    pub weight_decay: f64,
    /// AdamW betas (paper: 0.9, 0.999).
    pub betas: (f64, f64),
    /// AdamW epsilon (PyTorch default 1e-8).
    pub eps: f64,
    /// Linear warm-up iterations, then linear decay to 0 at `max_epochs` x batches per epoch
    /// (paper, after SAMed: 250).
    pub warmup: usize,
    /// Crops per optimiser step (paper: 8). The last batch of an epoch can be smaller.
    pub batch_size: usize,
    /// Side of the square training crop (paper: 256; SAMCell's inference crop).
    pub crop: usize,
    /// Early stopping: epochs without an improvement larger than `min_delta` (paper: 7).
    pub patience: usize,
    /// Early stopping: smallest decrease of the monitored loss that counts (paper: 1e-4).
    pub min_delta: f64,
    /// Never stop before this many epochs (paper: 35).
    pub min_epochs: usize,
    /// Never train more than this many epochs (paper: 100).
    pub max_epochs: usize,
    /// Fraction of the training set held out for validation when no validation set is given
    /// (split by a seeded shuffle of the sample ids; the ids are recorded in the run folder).
    pub val_fraction: f64,
    /// Validation crops per validation image: 0 = every crop of the pipeline's tiling; n = n
    /// evenly spaced crops of that tiling (a fixed subset, for quick runs).
    pub val_crops_per_image: usize,
    /// Seed of every random choice (split, shuffles, augmentation, crop positions, init).
    pub seed: u64,
    /// Augmentation ranges.
    pub augment: AugmentConfig,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            lr: 1e-4,
            weight_decay: 0.1,
            betas: (0.9, 0.999),
            eps: 1e-8,
            warmup: 250,
            batch_size: 8,
            crop: 256,
            patience: 7,
            min_delta: 1e-4,
            min_epochs: 35,
            max_epochs: 100,
            val_fraction: 0.1,
            val_crops_per_image: 0,
            seed: 0,
            augment: AugmentConfig::default(),
        }
    }
}

impl TrainConfig {
    /// Checks ranges; the message names the offending field.
    pub fn validate(&self) -> Result<(), String> {
        let a = &self.augment;
        let checks: [(bool, &str); 12] = [
            (self.lr > 0.0 && self.lr.is_finite(), "lr must be positive"),
            (self.weight_decay >= 0.0, "weight_decay must be >= 0"),
            (
                (0.0..1.0).contains(&self.betas.0) && (0.0..1.0).contains(&self.betas.1),
                "betas must be in [0, 1)",
            ),
            (self.batch_size > 0, "batch_size must be > 0"),
            (self.crop >= 16, "crop must be >= 16"),
            (self.max_epochs > 0, "max_epochs must be > 0"),
            (
                self.min_epochs <= self.max_epochs,
                "min_epochs must be <= max_epochs",
            ),
            (
                (0.0..1.0).contains(&self.val_fraction),
                "val_fraction must be in [0, 1)",
            ),
            (
                (0.0..=1.0).contains(&a.flip_p) && (0.0..=1.0).contains(&a.invert_p),
                "augment probabilities must be in [0, 1]",
            ),
            (
                a.scale.0 > 0.0 && a.scale.0 <= a.scale.1,
                "augment.scale must be 0 < lo <= hi",
            ),
            (
                a.brightness.0 >= 0.0 && a.brightness.0 <= a.brightness.1,
                "augment.brightness must be 0 <= lo <= hi",
            ),
            (
                a.rotate_max_deg >= 0.0 && a.rotate_max_deg <= 180.0,
                "augment.rotate_max_deg must be in [0, 180]",
            ),
        ];
        match checks.iter().find(|(ok, _)| !ok) {
            Some((_, msg)) => Err((*msg).to_string()),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_paper_protocol_and_round_trip() {
        let c = TrainConfig::default();
        assert_eq!(
            (c.lr, c.weight_decay, c.betas, c.warmup, c.batch_size),
            (1e-4, 0.1, (0.9, 0.999), 250, 8)
        );
        assert_eq!(
            (c.crop, c.patience, c.min_delta, c.min_epochs, c.max_epochs),
            (256, 7, 1e-4, 35, 100)
        );
        c.validate().unwrap();
        let back: TrainConfig = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
        let bad = TrainConfig {
            min_epochs: 200,
            ..c
        };
        assert!(bad.validate().unwrap_err().contains("min_epochs"));
    }
}
