//! The training configuration: one struct whose defaults are the paper's protocol
//! (SAMCell, PLoS One 2025, "Training protocol" and "Data augmentation").
//!
//! It is written into the run folder (`config.json`) and compared on `--resume`: a run only
//! continues with exactly the configuration it was started with.

use serde::{Deserialize, Serialize};

/// Augmentation ranges. Setting a probability to 0 or a range to its identity value turns
/// that augmentation off (the paper's protocol is the default).
///
/// The photometric augmentations beyond the paper (gamma, contrast, blur, noise) are off by
/// default and `#[serde(default)]`: a `config.json` written before they existed loads as the
/// same configuration. [`AugmentConfig::wide`] turns them on for training across microscopes.
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
    /// Gamma exponent drawn log-uniformly from (lo, hi), image only: `255 (v / 255)^gamma`
    /// (off: (1, 1)).
    #[serde(default = "unit_range")]
    pub gamma: (f64, f64),
    /// Contrast factor drawn from U(lo, hi), image only: `mean + c (v - mean)` about the crop's
    /// mean (off: (1, 1)).
    #[serde(default = "unit_range")]
    pub contrast: (f64, f64),
    /// Probability of a Gaussian blur of the image (off: 0).
    #[serde(default)]
    pub blur_p: f64,
    /// Blur sigma drawn from U(lo, hi), px of the crop.
    #[serde(default)]
    pub blur_sigma: (f64, f64),
    /// Probability of additive Gaussian noise on the image (off: 0).
    #[serde(default)]
    pub noise_p: f64,
    /// Noise standard deviation drawn from U(lo, hi), grey levels.
    #[serde(default)]
    pub noise_sigma: (f64, f64),
    /// Probability of making the grey image anew from the sample's colour channels with drawn
    /// weights (channel-to-grey), for samples that kept their colour (`samcell prepare` of a
    /// colour source); other samples are unaffected (off: 0; in no preset, so that recorded
    /// commands keep their numbers).
    #[serde(default)]
    pub channel_grey_p: f64,
}

fn unit_range() -> (f64, f64) {
    (1.0, 1.0)
}

/// Largest blur sigma accepted (px; the kernel radius is ceil(3 sigma)).
pub const MAX_BLUR_SIGMA: f64 = 20.0;

impl Default for AugmentConfig {
    fn default() -> Self {
        Self {
            flip_p: 0.5,
            rotate_max_deg: 180.0,
            scale: (0.8, 1.2),
            brightness: (0.95, 1.05),
            invert_p: 0.5,
            ..Self::none()
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
            gamma: unit_range(),
            contrast: unit_range(),
            blur_p: 0.0,
            blur_sigma: (0.0, 0.0),
            noise_p: 0.0,
            noise_sigma: (0.0, 0.0),
            channel_grey_p: 0.0,
        }
    }

    /// The `wide` preset, for a model meant to work beyond one microscope: the paper's
    /// augmentations plus gamma 0.5..2, contrast 0.5..1.5, blur (p 0.3, sigma 0.5..2 px), noise
    /// (p 0.3, sigma 1..8 grey levels) and scale 0.5..2 (other magnifications).
    pub fn wide() -> Self {
        Self {
            scale: (0.5, 2.0),
            gamma: (0.5, 2.0),
            contrast: (0.5, 1.5),
            blur_p: 0.3,
            blur_sigma: (0.5, 2.0),
            noise_p: 0.3,
            noise_sigma: (1.0, 8.0),
            ..Self::default()
        }
    }

    /// Checks ranges; the message names the offending field.
    pub fn validate(&self) -> Result<(), String> {
        let range = |r: (f64, f64), lo: f64, hi: f64| lo <= r.0 && r.0 <= r.1 && r.1 <= hi;
        let prob = |p: f64| (0.0..=1.0).contains(&p);
        let checks: [(bool, &str); 11] = [
            (
                prob(self.flip_p) && prob(self.invert_p),
                "augment probabilities must be in [0, 1]",
            ),
            (
                self.scale.0 > 0.0 && range(self.scale, 0.0, f64::INFINITY),
                "augment.scale must be 0 < lo <= hi",
            ),
            (
                range(self.brightness, 0.0, f64::INFINITY),
                "augment.brightness must be 0 <= lo <= hi",
            ),
            (
                range((0.0, self.rotate_max_deg), 0.0, 180.0),
                "augment.rotate_max_deg must be in [0, 180]",
            ),
            (
                self.gamma.0 > 0.0 && range(self.gamma, 0.0, 100.0),
                "augment.gamma must be 0 < lo <= hi <= 100",
            ),
            (
                range(self.contrast, 0.0, 100.0),
                "augment.contrast must be 0 <= lo <= hi <= 100",
            ),
            (prob(self.blur_p), "augment.blur_p must be in [0, 1]"),
            (
                range(self.blur_sigma, 0.0, MAX_BLUR_SIGMA),
                "augment.blur_sigma must be 0 <= lo <= hi <= 20",
            ),
            (prob(self.noise_p), "augment.noise_p must be in [0, 1]"),
            (
                prob(self.channel_grey_p),
                "augment.channel_grey_p must be in [0, 1]",
            ),
            (
                range(self.noise_sigma, 0.0, 255.0),
                "augment.noise_sigma must be 0 <= lo <= hi <= 255",
            ),
        ];
        match checks.iter().find(|(ok, _)| !ok) {
            Some((_, msg)) => Err((*msg).to_string()),
            None => Ok(()),
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
        let checks: [(bool, &str); 8] = [
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
        ];
        match checks.iter().find(|(ok, _)| !ok) {
            Some((_, msg)) => Err((*msg).to_string()),
            None => self.augment.validate(),
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

    /// A config.json written before the photometric augmentations existed (exactly the fields
    /// of that version) loads, and equals today's default, so `--resume` accepts its run.
    #[test]
    fn old_config_without_the_new_augmentations_loads_as_the_default() {
        let old = r#"{"lr":0.0001,"weight_decay":0.1,"betas":[0.9,0.999],"eps":1e-8,
            "warmup":250,"batch_size":8,"crop":256,"patience":7,"min_delta":0.0001,
            "min_epochs":35,"max_epochs":100,"val_fraction":0.1,"val_crops_per_image":0,
            "seed":0,"augment":{"flip_p":0.5,"rotate_max_deg":180.0,"scale":[0.8,1.2],
            "brightness":[0.95,1.05],"invert_p":0.5}}"#;
        let c: TrainConfig = serde_json::from_str(old).unwrap();
        assert_eq!(c, TrainConfig::default());
        let none = r#"{"flip_p":0.0,"rotate_max_deg":0.0,"scale":[1.0,1.0],
            "brightness":[1.0,1.0],"invert_p":0.0}"#;
        assert_eq!(
            serde_json::from_str::<AugmentConfig>(none).unwrap(),
            AugmentConfig::none()
        );
        // Unknown fields are still refused.
        assert!(serde_json::from_str::<AugmentConfig>(r#"{"flip_p":0.5,"gama":[1,2]}"#).is_err());
    }

    #[test]
    fn wide_preset_is_valid_and_bad_ranges_name_their_field() {
        let w = AugmentConfig::wide();
        w.validate().unwrap();
        assert_eq!(
            (w.scale, w.gamma, w.contrast),
            ((0.5, 2.0), (0.5, 2.0), (0.5, 1.5))
        );
        assert_eq!((w.blur_p, w.blur_sigma), (0.3, (0.5, 2.0)));
        assert_eq!((w.noise_p, w.noise_sigma), (0.3, (1.0, 8.0)));
        let back: AugmentConfig =
            serde_json::from_str(&serde_json::to_string(&w).unwrap()).unwrap();
        assert_eq!(back, w);
        let bad = |a: AugmentConfig| {
            TrainConfig {
                augment: a,
                ..TrainConfig::default()
            }
            .validate()
            .unwrap_err()
        };
        let d = AugmentConfig::default;
        for (a, field) in [
            (
                AugmentConfig {
                    gamma: (0.0, 2.0),
                    ..d()
                },
                "gamma",
            ),
            (
                AugmentConfig {
                    gamma: (2.0, 1.0),
                    ..d()
                },
                "gamma",
            ),
            (
                AugmentConfig {
                    contrast: (-0.1, 1.0),
                    ..d()
                },
                "contrast",
            ),
            (AugmentConfig { blur_p: 1.5, ..d() }, "blur_p"),
            (
                AugmentConfig {
                    blur_sigma: (1.0, 30.0),
                    ..d()
                },
                "blur_sigma",
            ),
            (
                AugmentConfig {
                    noise_p: f64::NAN,
                    ..d()
                },
                "noise_p",
            ),
            (
                AugmentConfig {
                    noise_sigma: (3.0, 2.0),
                    ..d()
                },
                "noise_sigma",
            ),
            (
                AugmentConfig {
                    scale: (0.0, 2.0),
                    ..d()
                },
                "scale",
            ),
        ] {
            let msg = bad(a);
            assert!(msg.contains(field), "{field}: {msg}");
        }
    }
}
