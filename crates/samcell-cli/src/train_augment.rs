//! The augmentation options of `samcell train`: a preset (`--augment paper|wide|none`) and one flag
//! per range that overrides the preset's value (`--aug-scale`, `--aug-gamma`, `--aug-contrast`,
//! `--aug-blur`, `--aug-noise`), and `--aug-channel-grey`, in no preset. The ranges and their
//! meaning are `samcell_train::AugmentConfig`'s; every value is checked while the command line is
//! parsed, so a bad one is a usage error (exit 2) naming its flag.

use clap::{Args, ValueEnum};
use samcell_train::AugmentConfig;

/// Augmentation presets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Preset {
    /// The paper's: flip, rotation, scale 0.8-1.2, brightness 0.95-1.05, inversion.
    Paper,
    /// The paper's plus gamma 0.5-2, contrast 0.5-1.5, blur (p 0.3, sigma 0.5-2 px), noise
    /// (p 0.3, sigma 1-8 grey levels) and scale 0.5-2: for a model meant for other microscopes.
    Wide,
    /// None (random crop positions remain).
    None,
}

/// A `LO,HI` range.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Range(pub f64, pub f64);

/// A `P,LO,HI` probability and range.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Chance(pub f64, pub Range);

/// The augmentation options (flattened into `samcell train`).
#[derive(Debug, Args)]
pub struct AugmentArgs {
    /// Augmentation preset [default: paper]; the --aug-* flags override its ranges.
    #[arg(long, value_enum, value_name = "PRESET", conflicts_with = "no_augment")]
    pub augment: Option<Preset>,
    /// Turn all augmentations off (same as --augment none; random crop positions remain).
    #[arg(long)]
    pub no_augment: bool,
    /// Isotropic scale range [default: 0.8,1.2; wide: 0.5,2].
    #[arg(long, value_name = "LO,HI", value_parser = scale, allow_hyphen_values = true)]
    pub aug_scale: Option<Range>,
    /// Gamma exponent range, drawn log-uniformly, image only [default: 1,1 = off; wide: 0.5,2].
    #[arg(long, value_name = "LO,HI", value_parser = gamma, allow_hyphen_values = true)]
    pub aug_gamma: Option<Range>,
    /// Contrast factor range about the crop's mean, image only [default: 1,1 = off; wide:
    /// 0.5,1.5].
    #[arg(long, value_name = "LO,HI", value_parser = contrast, allow_hyphen_values = true)]
    pub aug_contrast: Option<Range>,
    /// Gaussian blur: probability and sigma range in px, image only [default: 0,0,0 = off;
    /// wide: 0.3,0.5,2].
    #[arg(long, value_name = "P,SIGMA_LO,SIGMA_HI", value_parser = blur, allow_hyphen_values = true)]
    pub aug_blur: Option<Chance>,
    /// Additive Gaussian noise: probability and sigma range in grey levels, image only
    /// [default: 0,0,0 = off; wide: 0.3,1,8].
    #[arg(long, value_name = "P,SIGMA_LO,SIGMA_HI", value_parser = noise, allow_hyphen_values = true)]
    pub aug_noise: Option<Chance>,
    /// Probability of making a colour sample's grey image from its channels with random
    /// weights (one channel alone, or a random mix) instead of the luma grey samcell segment
    /// uses; for samples that `samcell prepare` kept colour for [default: 0 = off, in every
    /// preset].
    #[arg(long, value_name = "P", value_parser = channel_grey)]
    pub aug_channel_grey: Option<f64>,
}

impl AugmentArgs {
    /// The preset's ranges with the individual flags' overrides.
    pub fn config(&self) -> AugmentConfig {
        let mut a = match (self.no_augment, self.augment.unwrap_or(Preset::Paper)) {
            (true, _) | (false, Preset::None) => AugmentConfig::none(),
            (false, Preset::Paper) => AugmentConfig::default(),
            (false, Preset::Wide) => AugmentConfig::wide(),
        };
        if let Some(Range(lo, hi)) = self.aug_scale {
            a.scale = (lo, hi);
        }
        if let Some(Range(lo, hi)) = self.aug_gamma {
            a.gamma = (lo, hi);
        }
        if let Some(Range(lo, hi)) = self.aug_contrast {
            a.contrast = (lo, hi);
        }
        if let Some(Chance(p, Range(lo, hi))) = self.aug_blur {
            (a.blur_p, a.blur_sigma) = (p, (lo, hi));
        }
        if let Some(Chance(p, Range(lo, hi))) = self.aug_noise {
            (a.noise_p, a.noise_sigma) = (p, (lo, hi));
        }
        if let Some(p) = self.aug_channel_grey {
            a.channel_grey_p = p;
        }
        a
    }
}

/// `n` comma-separated numbers.
fn numbers(s: &str, n: usize, form: &str) -> Result<Vec<f64>, String> {
    let v: Vec<f64> = s
        .split(',')
        .map(|t| t.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| format!("expected {form} (numbers separated by commas)"))?;
    if v.len() != n {
        return Err(format!("expected {form} ({n} numbers), got {}", v.len()));
    }
    Ok(v)
}

/// A value is accepted when the configuration it makes passes `AugmentConfig::validate`.
fn checked<T>(value: T, set: impl FnOnce(&mut AugmentConfig, &T)) -> Result<T, String> {
    let mut a = AugmentConfig::none();
    set(&mut a, &value);
    a.validate().map(|()| value)
}

fn range(s: &str, set: fn(&mut AugmentConfig, (f64, f64))) -> Result<Range, String> {
    let v = numbers(s, 2, "LO,HI")?;
    checked(Range(v[0], v[1]), |a, r| set(a, (r.0, r.1)))
}

fn chance(s: &str, set: fn(&mut AugmentConfig, f64, (f64, f64))) -> Result<Chance, String> {
    let v = numbers(s, 3, "P,SIGMA_LO,SIGMA_HI")?;
    checked(Chance(v[0], Range(v[1], v[2])), |a, c| {
        set(a, c.0, (c.1 .0, c.1 .1))
    })
}

fn scale(s: &str) -> Result<Range, String> {
    range(s, |a, r| a.scale = r)
}

fn gamma(s: &str) -> Result<Range, String> {
    range(s, |a, r| a.gamma = r)
}

fn contrast(s: &str) -> Result<Range, String> {
    range(s, |a, r| a.contrast = r)
}

fn blur(s: &str) -> Result<Chance, String> {
    chance(s, |a, p, r| (a.blur_p, a.blur_sigma) = (p, r))
}

fn noise(s: &str) -> Result<Chance, String> {
    chance(s, |a, p, r| (a.noise_p, a.noise_sigma) = (p, r))
}

fn channel_grey(s: &str) -> Result<f64, String> {
    let v = numbers(s, 1, "P")?;
    checked(v[0], |a, p| a.channel_grey_p = *p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        aug: AugmentArgs,
    }

    fn parse(args: &[&str]) -> Result<AugmentConfig, String> {
        Wrap::try_parse_from(std::iter::once("train").chain(args.iter().copied()))
            .map(|w| w.aug.config())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn presets_and_overrides() {
        assert_eq!(parse(&[]).unwrap(), AugmentConfig::default());
        assert_eq!(
            parse(&["--augment", "paper"]).unwrap(),
            AugmentConfig::default()
        );
        assert_eq!(parse(&["--no-augment"]).unwrap(), AugmentConfig::none());
        assert_eq!(
            parse(&["--augment", "none"]).unwrap(),
            AugmentConfig::none()
        );
        assert_eq!(
            parse(&["--augment", "wide"]).unwrap(),
            AugmentConfig::wide()
        );
        let a = parse(&[
            "--augment",
            "wide",
            "--aug-gamma",
            "0.7,1.5",
            "--aug-noise",
            "1,2,3",
            "--aug-scale",
            "0.9,1.1",
        ])
        .unwrap();
        assert_eq!(
            (a.gamma, a.noise_p, a.noise_sigma),
            ((0.7, 1.5), 1.0, (2.0, 3.0))
        );
        assert_eq!((a.scale, a.contrast), ((0.9, 1.1), (0.5, 1.5)));
        let a = parse(&["--aug-contrast", "0.8,1.2", "--aug-blur", "0.5,1,1"]).unwrap();
        assert_eq!(
            (a.contrast, a.blur_p, a.blur_sigma, a.gamma),
            ((0.8, 1.2), 0.5, (1.0, 1.0), (1.0, 1.0))
        );
        assert_eq!(a.flip_p, AugmentConfig::default().flip_p);
        assert_eq!(a.channel_grey_p, 0.0, "in no preset");
        assert_eq!(AugmentConfig::wide().channel_grey_p, 0.0);
        let a = parse(&["--augment", "wide", "--aug-channel-grey", "0.5"]).unwrap();
        assert_eq!(
            a,
            AugmentConfig {
                channel_grey_p: 0.5,
                ..AugmentConfig::wide()
            }
        );
    }

    #[test]
    fn bad_values_name_their_flag() {
        for (args, flag, why) in [
            (&["--aug-gamma", "2,1"][..], "--aug-gamma", "gamma"),
            (&["--aug-gamma", "0,1"], "--aug-gamma", "gamma"),
            (&["--aug-contrast", "1"], "--aug-contrast", "2 numbers"),
            (&["--aug-blur", "0.3,1"], "--aug-blur", "3 numbers"),
            (&["--aug-blur", "1.5,1,2"], "--aug-blur", "blur_p"),
            (&["--aug-noise", "0.3,x,2"], "--aug-noise", "numbers"),
            (&["--aug-noise", "0.3,4,2"], "--aug-noise", "noise_sigma"),
            (&["--aug-scale", "0,2"], "--aug-scale", "scale"),
            (
                &["--aug-channel-grey", "1.5"],
                "--aug-channel-grey",
                "channel_grey_p",
            ),
            (&["--aug-channel-grey", "x"], "--aug-channel-grey", "P"),
            (
                &["--augment", "wide", "--no-augment"],
                "--no-augment",
                "cannot be used",
            ),
        ] {
            let err = parse(args).unwrap_err();
            assert!(err.contains(flag) && err.contains(why), "{args:?}: {err}");
        }
    }
}
