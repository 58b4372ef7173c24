//! Signs that an image lies outside what a model was trained on, so that a poor result comes
//! with a word instead of silently (the log and the image's `warnings` in `run.json`).
//!
//! Two signs, both measured for the built-in samcell-lite model (MODEL_CARD.md, "When the
//! input looks out of domain"; `scripts/measure_domain_rule.py` repeats the measurement):
//!
//! - **An unsure map**: of the pixels above `fill` (where cells may grow), the share that also
//!   lies above `peak` (where seeds are). On phase-contrast images like its training set the
//!   lite model reaches the seed level on 13-47% of its foreground (median 27%, 45 Usiigaci
//!   images); on fluorescence nuclei it mostly does not (37 of 60 DSB 2018 images below 10%).
//!   Below [`DomainCheck::min_seed_share`] the map is called unsure; a map with no pixel above
//!   `fill` at all is called empty.
//! - **An unfamiliar background level**: where the median grey lies between the 1st and 99th
//!   percentiles of the image, `(p50 - p1) / (p99 - p1)`. Phase contrast has a mid-grey
//!   background (0.34-0.47 on the 45 Usiigaci images; the lite model also trained on their
//!   inversions, 0.53-0.66); fluorescence has a dark one (DSB 2018: most below 0.1) and
//!   bright-field/stained tissue a light one (up to 0.96). Outside
//!   [`DomainCheck::background`] the image is called unfamiliar (59 of the 60 DSB images, none
//!   of the Usiigaci ones).
//!
//! Percentiles are taken on the 8-bit grey image as segmented, as the lowest grey level whose
//! cumulative count reaches the share (numpy's `inverted_cdf`; the measurement used numpy's
//! default linear interpolation, which differs by less than one grey level). A constant image
//! (p99 = p1) gets no background verdict: it has its own warning.

use samcell_imaging::{GrayU8, MapF32};

/// The thresholds of the out-of-domain signs; defaults measured for the built-in lite model.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DomainCheck {
    /// Least share of the foreground (map > fill) that reaches the seed level (map > peak).
    pub min_seed_share: f64,
    /// Range of the background level `(p50 - p1) / (p99 - p1)` seen in training, with margin.
    pub background: (f64, f64),
}

impl Default for DomainCheck {
    fn default() -> Self {
        Self {
            min_seed_share: 0.10,
            background: (0.25, 0.75),
        }
    }
}

/// One sign that the image is unlike the model's training data.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DomainWarning {
    /// No pixel of the map above `fill`: nothing was found.
    EmptyMap,
    /// Few foreground pixels reach the seed level: the model is unsure where cells are.
    UnsureMap {
        /// Share of the pixels above `fill` that are above `peak`.
        seed_share: f64,
    },
    /// The median grey lies where training images never had it.
    UnfamiliarBackground {
        /// `(p50 - p1) / (p99 - p1)` of the image.
        level: f64,
    },
}

impl std::fmt::Display for DomainWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::EmptyMap => write!(
                f,
                "the predicted distance map is empty (no pixel above fill)"
            ),
            Self::UnsureMap { seed_share } => write!(
                f,
                "the model is unsure: only {:.1}% of the foreground reaches the seed level",
                seed_share * 100.0
            ),
            Self::UnfamiliarBackground { level } => write!(
                f,
                "the background level ({level:.2} of the grey range; phase-contrast training \
                 images: about 0.35-0.65) is unlike the training images, e.g. fluorescence or \
                 bright field"
            ),
        }
    }
}

/// The signs for `image` and its distance map `map` segmented with thresholds `peak` and
/// `fill`; empty when the image looks like the training data.
pub fn domain_warnings(
    image: &GrayU8,
    map: &MapF32,
    peak: f32,
    fill: f32,
    check: &DomainCheck,
) -> Vec<DomainWarning> {
    signs(Some(image), map, peak, fill, check)
}

/// [`domain_warnings`], with the background sign only when the image is given.
fn signs(
    image: Option<&GrayU8>,
    map: &MapF32,
    peak: f32,
    fill: f32,
    check: &DomainCheck,
) -> Vec<DomainWarning> {
    let mut out = Vec::new();
    let (mut fg, mut seeds) = (0u64, 0u64);
    for &v in map.data() {
        fg += u64::from(v > fill);
        seeds += u64::from(v > peak);
    }
    if !map.data().is_empty() {
        if fg == 0 {
            out.push(DomainWarning::EmptyMap);
        } else {
            let seed_share = seeds as f64 / fg as f64;
            if seed_share < check.min_seed_share {
                out.push(DomainWarning::UnsureMap { seed_share });
            }
        }
    }
    if let Some(level) = image.and_then(background_level) {
        if !(check.background.0..=check.background.1).contains(&level) {
            out.push(DomainWarning::UnfamiliarBackground { level });
        }
    }
    out
}

/// The signs as one sentence for the user: what the image looks like, the signs joined by `; `,
/// then `remedy` (what this front end offers instead, e.g. `if cells are missed or wrong, try
/// --model generalist`); `None` without signs.
pub fn domain_message(signs: &[DomainWarning], remedy: &str) -> Option<String> {
    if signs.is_empty() {
        return None;
    }
    let what: Vec<String> = signs.iter().map(ToString::to_string).collect();
    Some(format!(
        "the image looks unlike the built-in model's training data (phase-contrast cells): {}; \
         {remedy}",
        what.join("; ")
    ))
}

/// For a series of images (a time-lapse) of which those marked `true` went to the fallback
/// model: the model the whole series should be segmented with, so that its objects do not
/// change with the model between frames — `Some(true)` the fallback, `Some(false)` the first
/// model — when the images went both ways: the one most went to, the first on a tie. `None`
/// when they all went one way (nothing to redo).
pub fn series_model(routed: &[bool]) -> Option<bool> {
    let n = routed.iter().filter(|&&r| r).count();
    (n > 0 && n < routed.len()).then_some(2 * n > routed.len())
}

/// The note on an image that a segmenter with a fallback model
/// ([`crate::Segmenter::with_fallback`]) sent to the fallback because of `signs`: the signs as
/// in [`domain_message`], then that `fallback` (its name) segmented it instead, then `remedy`;
/// `None` without signs (the first model's result).
pub fn route_message(signs: &[DomainWarning], fallback: &str, remedy: &str) -> Option<String> {
    domain_message(
        signs,
        &format!("it was segmented with {fallback} instead; {remedy}"),
    )
}

/// The note every front end gives on a result of the built-in model: the signs of
/// [`domain_warnings`] at the default thresholds ([`DomainCheck::default`]) as
/// [`domain_message`] with the front end's `remedy`. Without the image (`None`: a map
/// re-thresholded on its own) only the map's signs are weighed.
pub fn domain_note(
    image: Option<&GrayU8>,
    map: &MapF32,
    peak: f32,
    fill: f32,
    remedy: &str,
) -> Option<String> {
    domain_message(
        &signs(image, map, peak, fill, &DomainCheck::default()),
        remedy,
    )
}

/// The number of pixels at each grey level.
pub fn grey_histogram(image: &GrayU8) -> [u64; 256] {
    let mut hist = [0u64; 256];
    for &v in image.data() {
        hist[usize::from(v)] += 1;
    }
    hist
}

/// `(p50 - p1) / (p99 - p1)` of the grey levels; `None` for an empty or constant image.
pub fn background_level(image: &GrayU8) -> Option<f64> {
    let hist = grey_histogram(image);
    let n = image.data().len() as u64;
    let p1 = percentile(&hist, n, 0.01)?;
    let p50 = percentile(&hist, n, 0.50)?;
    let p99 = percentile(&hist, n, 0.99)?;
    (p99 > p1).then(|| f64::from(p50 - p1) / f64::from(p99 - p1))
}

/// The lowest grey level whose cumulative count reaches `q * n` (at least one pixel).
fn percentile(hist: &[u64; 256], n: u64, q: f64) -> Option<u8> {
    if n == 0 {
        return None;
    }
    let want = ((q * n as f64).ceil() as u64).max(1);
    let mut seen = 0;
    for (level, &c) in hist.iter().enumerate() {
        seen += c;
        if seen >= want {
            return u8::try_from(level).ok();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_series_goes_to_the_model_most_frames_went_to() {
        assert_eq!(series_model(&[]), None);
        assert_eq!(series_model(&[true, true]), None, "all one way");
        assert_eq!(series_model(&[false, false, false]), None);
        assert_eq!(series_model(&[true, false, true]), Some(true));
        assert_eq!(series_model(&[false, true, false]), Some(false));
        assert_eq!(
            series_model(&[true, false]),
            Some(false),
            "a tie: the first model"
        );
    }

    fn image(w: usize, h: usize, f: impl Fn(usize, usize) -> u8) -> GrayU8 {
        let data = (0..w * h).map(|i| f(i % w, i / w)).collect();
        GrayU8::from_vec(w, h, data).unwrap()
    }

    fn map(values: &[f32]) -> MapF32 {
        MapF32::from_vec(values.len(), 1, values.to_vec()).unwrap()
    }

    /// Sorts the pixels and picks the `inverted_cdf` element: the reference for the histogram.
    fn naive_percentile(values: &[u8], q: f64) -> u8 {
        let mut v = values.to_vec();
        v.sort_unstable();
        let k = ((q * v.len() as f64).ceil() as usize).max(1);
        v[k - 1]
    }

    #[test]
    fn a_confident_map_on_a_mid_grey_image_gives_no_warning() {
        let img = image(100, 100, |x, y| 90 + ((x * 7 + y * 3) % 80) as u8);
        let m = map(&[0.0, 0.2, 0.5, 0.6, 0.3, 0.0]);
        assert!(domain_warnings(&img, &m, 0.47, 0.09, &DomainCheck::default()).is_empty());
    }

    #[test]
    fn empty_and_unsure_maps_are_named() {
        let img = image(10, 10, |x, _| 100 + x as u8 * 5);
        let check = DomainCheck::default();
        let empty = domain_warnings(&img, &map(&[0.0, 0.05, 0.09]), 0.47, 0.09, &check);
        assert_eq!(empty, vec![DomainWarning::EmptyMap]);
        // 1 of 20 foreground pixels reaches the seed level: 5% < 10%
        let mut v = vec![0.2_f32; 19];
        v.push(0.9);
        let unsure = domain_warnings(&img, &map(&v), 0.47, 0.09, &check);
        assert_eq!(unsure, vec![DomainWarning::UnsureMap { seed_share: 0.05 }]);
        assert!(unsure[0].to_string().contains("5.0%"));
    }

    #[test]
    fn dark_and_light_backgrounds_are_unfamiliar() {
        let check = DomainCheck::default();
        let m = map(&[0.6, 0.3]);
        // fluorescence-like: 95% dark background, a few bright spots
        let dark = image(100, 100, |x, y| {
            if (x + y) % 20 == 0 {
                220
            } else {
                10 + (x % 3) as u8
            }
        });
        let w = domain_warnings(&dark, &m, 0.47, 0.09, &check);
        assert!(matches!(w[..], [DomainWarning::UnfamiliarBackground { level }] if level < 0.25));
        let light = image(100, 100, |x, y| {
            if (x + y) % 20 == 0 {
                20
            } else {
                240 + (x % 3) as u8
            }
        });
        let w = domain_warnings(&light, &m, 0.47, 0.09, &check);
        assert!(matches!(w[..], [DomainWarning::UnfamiliarBackground { level }] if level > 0.75));
    }

    #[test]
    fn a_constant_image_has_no_background_level() {
        assert_eq!(background_level(&image(5, 5, |_, _| 7)), None);
        assert_eq!(background_level(&GrayU8::filled(0, 0, 0)), None);
    }

    #[test]
    fn the_message_joins_the_signs_and_ends_with_the_remedy() {
        assert_eq!(domain_message(&[], "try X"), None);
        let signs = [
            DomainWarning::EmptyMap,
            DomainWarning::UnfamiliarBackground { level: 0.05 },
        ];
        let m = domain_message(&signs, "try X").unwrap();
        assert!(
            m.starts_with("the image looks unlike the built-in model's training data"),
            "{m}"
        );
        assert!(
            m.contains(&format!(
                "(phase-contrast cells): {}; {}; try X",
                signs[0], signs[1]
            )),
            "{m}"
        );
    }

    #[test]
    fn the_note_without_the_image_weighs_the_map_alone() {
        // a dark image (background sign) and a map with no pixel above fill (empty-map sign)
        let dark: Vec<u8> = (0..64).map(|i| if i < 48 { 10 } else { 200 }).collect();
        let image = GrayU8::from_vec(8, 8, dark).unwrap();
        let map = MapF32::filled(8, 8, 0.0);
        let with = domain_note(Some(&image), &map, 0.47, 0.09, "R").unwrap();
        let without = domain_note(None, &map, 0.47, 0.09, "R").unwrap();
        assert!(with.contains("background level"), "{with}");
        assert!(!without.contains("background level"), "{without}");
        assert!(without.contains("empty"), "{without}");
        let unsure = MapF32::filled(8, 8, 0.5);
        assert_eq!(domain_note(None, &unsure, 0.47, 0.09, "R"), None);
    }

    proptest! {
        #[test]
        fn histogram_percentiles_equal_sorting(
            values in prop::collection::vec(any::<u8>(), 1..400),
            q in 0.0f64..=1.0,
        ) {
            let img = GrayU8::from_vec(values.len(), 1, values.clone()).unwrap();
            let hist = grey_histogram(&img);
            let got = percentile(&hist, values.len() as u64, q);
            prop_assert_eq!(got, Some(naive_percentile(&values, q)));
        }
    }
}
