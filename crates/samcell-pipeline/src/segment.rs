//! The [`Segmenter`] facade: image in, distance map and cell labels out.
//!
//! The order of operations is samcell 1.1.4 `SlidingWindowPipeline.run` /
//! `predict_on_full_img`: plan the crops ([`crate::tiling`], with the predictor's own tiling,
//! [`DistanceMapPredictor::tiling`], unless [`SegmentConfig::tiling`] overrides it), enhance each
//! crop ([`crate::enhance`]), predict a distance map per crop (the [`DistanceMapPredictor`], which
//! does its own input encoding, e.g. SAM's in `samcell_model::sam_input`), blend
//! ([`crate::blend`], with our fix for zero-weight pixels), then `cells_from_dist_map`
//! (`samcell_morphology::cells_from_distance_map`: `map > peak` seeds, watershed inside
//! `map > fill`, both strict f32 comparisons). Labels are then renumbered 1..N in raster order of
//! first occurrence (the reference keeps contour indices, with gaps); that is the only difference
//! in the labels.
//!
//! Crops go to the predictor in batches of `predictor.max_batch()`; the crops of a batch are cut
//! (a plain copy), then enhanced in parallel (rayon), predicted, and blended in row bands
//! ([`crate::band`], bit-identical to the whole-image [`crate::blend::Blender`]). A crop map
//! with NaN or infinite values fails the image ([`PipelineError::NonFiniteMap`], naming the
//! crop and the count) instead of blending into an empty result.
//!
//! Work and memory are bounded by the area whatever the image's shape: the tiling makes
//! O(area / stride^2) crops of at most `crop x crop` ([`crate::tiling`], including its departure
//! from the reference for degenerate small and thin images).
//!
//! Memory for a `W x H` image (N pixels; the model's own working memory comes on top): the u8
//! image (N bytes, the caller's), the distance map (4N), the blending bands (two f32 bands about
//! two crop heights tall) and a bit per pixel while blending; then post-processing
//! (`samcell_morphology::cells_from_distance_map`): 1 byte per pixel while tracing contours, at
//! most 12 bytes per pixel in the watershed, the labels (4N) renumbered in place. Peak: about
//! 17 bytes per pixel besides the model, 1.7 GB for 10,000 x 10,000. The labels are those of
//! the whole-image implementation (tests compare them exactly).
//!
//! ## A fallback model
//! [`Segmenter::with_fallback`] gives a second predictor for images outside the first one's
//! domain: after the first map, the out-of-domain signs ([`crate::domain_warnings`] at
//! [`DomainCheck::default`], with the configured `peak` and `fill`) are weighed, and when there
//! is any, the image is segmented again, whole, with the fallback predictor (with its own
//! tiling), whose map is the result; [`Segmentation::routed`] holds the signs that decided it.
//! The built-in `lite` model pairs the phase-contrast cell model with the nuclei model this way
//! (MODEL_CARD.md, "How lite picks its model"). An image of the first model's domain costs
//! nothing more; a routed one costs both passes.
//!
//! ## Object size: `scale`
//! [`SegmentConfig::scale`] resizes the image before a predictor sees it:
//! `pillow_bilinear_u8` to `round(W * scale) x round(H * scale)` (at least 1 x 1), the tiling
//! and prediction above run on that image, and the blended map is brought back to `W x H` with
//! `opencv_linear_f32`; the out-of-domain signs and the post-processing then work on the input
//! and that map, so labels, measurements and the map always have the input's size. It is
//! Cellpose's diameter rescaling for samcell; cost grows with `scale^2`. Unset (`None`), the
//! scale is 1: nothing is resized and every step above is unchanged. Then, when the predictor
//! that made the map states a small-object rule ([`DistanceMapPredictor::small_objects`],
//! [`crate::size::SmallObjects`]), the image's object diameter is estimated from its pixels
//! ([`crate::size`]) and, under the rule's size, [`Segmentation::small_objects`] suggests the
//! rule's scale: advice for the user, never applied on its own (MODEL_CARD.md, "Small objects",
//! says why).

use std::sync::Arc;
use std::time::{Duration, Instant};

use samcell_imaging::resize::{opencv_linear_f32, pillow_bilinear_u8};
use samcell_imaging::{GrayU8, Labels, MapF32};

use crate::band::BandBlender;
use crate::domain::{domain_warnings, DomainCheck, DomainWarning};
use crate::enhance;
use crate::predictor::DistanceMapPredictor;
use crate::tiling::{TilePlan, TilingConfig};
use crate::PipelineError;

/// samcell's `cells_max` threshold: seeds where `map > 0.47`.
pub const DEFAULT_PEAK: f32 = 0.47;
/// samcell's `cell_fill` threshold: cells grow where `map > 0.09`.
pub const DEFAULT_FILL: f32 = 0.09;

/// A post-processing threshold that cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
pub enum ThresholdError {
    /// A threshold outside 0..=1 (or NaN).
    #[error("{0} is outside 0..1 (the distance map is in 0..1)")]
    OutOfRange(f32),
    /// `fill` above `peak`.
    #[error(
        "--fill {fill} is above --peak {peak}: cells grow from seeds (distance map > peak) \
         into the region where the map is > fill, so fill must not exceed peak"
    )]
    FillAbovePeak {
        /// The seed threshold.
        peak: f32,
        /// The cell extent threshold.
        fill: f32,
    },
}

/// A threshold (`peak` or `fill`) must be a number in 0..=1, the distance map's range.
pub fn check_threshold(value: f32) -> Result<f32, ThresholdError> {
    if value.is_finite() && (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(ThresholdError::OutOfRange(value))
    }
}

/// Both thresholds in 0..=1 ([`check_threshold`]) and `fill <= peak`: cells grow from seeds
/// (`map > peak`) into `map > fill`.
pub fn check_thresholds(peak: f32, fill: f32) -> Result<(), ThresholdError> {
    check_threshold(peak)?;
    check_threshold(fill)?;
    if fill > peak {
        return Err(ThresholdError::FillAbovePeak { peak, fill });
    }
    Ok(())
}

/// Settings of a segmentation run; `Default` is samcell's.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SegmentConfig {
    /// Crop size and overlap; `None` (the default): the predictor's own
    /// ([`DistanceMapPredictor::tiling`]). An explicit value overrides it (tests, tuning).
    pub tiling: Option<TilingConfig>,
    /// Seed threshold (strict `>`).
    pub peak: f32,
    /// Cell extent threshold (strict `>`).
    pub fill: f32,
    /// Image resize factor before the model, in [`MIN_SCALE`]..=[`MAX_SCALE`] (module doc,
    /// "Object size"); `None` (the default): 1, with the predictor's small-object advice.
    #[serde(default)]
    pub scale: Option<f32>,
}

/// The smallest [`SegmentConfig::scale`].
pub const MIN_SCALE: f32 = 0.25;
/// The largest [`SegmentConfig::scale`] (16x the pixels).
pub const MAX_SCALE: f32 = 4.0;

/// A [`SegmentConfig::scale`] must be a number in [`MIN_SCALE`]..=[`MAX_SCALE`].
pub fn check_scale(scale: f32) -> Result<f32, PipelineError> {
    if scale.is_finite() && (MIN_SCALE..=MAX_SCALE).contains(&scale) {
        Ok(scale)
    } else {
        Err(PipelineError::Config(format!(
            "scale {scale} is outside {MIN_SCALE}..{MAX_SCALE}"
        )))
    }
}

/// The size an image of `width x height` is resized to at `scale` (each side rounded, at
/// least 1).
pub fn scaled_size(width: usize, height: usize, scale: f32) -> (usize, usize) {
    let side = |n: usize| ((n as f64 * f64::from(scale)).round() as usize).max(1);
    (side(width), side(height))
}

impl Default for SegmentConfig {
    fn default() -> Self {
        Self {
            tiling: None,
            peak: DEFAULT_PEAK,
            fill: DEFAULT_FILL,
            scale: None,
        }
    }
}

/// Wall-clock time spent in each stage of one image.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct StageTimings {
    /// Planning and cutting the crops.
    pub tiling: Duration,
    /// CLAHE + min-max of the crops.
    pub enhance: Duration,
    /// The predictor's calls.
    pub predict: Duration,
    /// Accumulation, normalisation and the zero-weight fill.
    pub blend: Duration,
    /// Seeds, watershed and relabelling.
    pub postprocess: Duration,
}

impl StageTimings {
    /// Sum of the stages.
    pub fn total(&self) -> Duration {
        self.tiling + self.enhance + self.predict + self.blend + self.postprocess
    }
}

/// Result of [`Segmenter::segment`].
#[derive(Clone, Debug)]
pub struct Segmentation {
    /// The blended distance map (image size, values of the predictor's range).
    pub distance_map: MapF32,
    /// Cell labels 1..=n_cells (0 background), numbered in raster order of first pixel.
    pub labels: Labels,
    /// Number of cells.
    pub n_cells: usize,
    /// Time per stage (of both passes when routed).
    pub timings: StageTimings,
    /// The out-of-domain signs that sent the image to the fallback predictor; empty when the
    /// first predictor's map is the result ([`Segmenter::with_fallback`]).
    pub routed: Vec<DomainWarning>,
    /// The scale the map's model saw the image at (module doc, "Object size").
    pub scale: f32,
    /// The image's object diameter estimate in pixels, when a small-object rule needed it.
    pub object_px: Option<f32>,
    /// The rule of the map's predictor when the image's objects measure under its size: the
    /// image is likely better segmented at the rule's scale (module doc, "Object size").
    pub small_objects: Option<crate::size::SmallObjects>,
}

/// Result of [`Segmenter::distance_map_routed`].
#[derive(Clone, Debug)]
pub struct RoutedMap {
    /// The blended distance map.
    pub map: MapF32,
    /// Time per stage (of both passes when routed).
    pub timings: StageTimings,
    /// The signs that sent the image to the fallback predictor; empty: the first one's map.
    pub routed: Vec<DomainWarning>,
    /// The scale the map's model saw the image at (module doc, "Object size").
    pub scale: f32,
    /// The small-object rule of the predictor that made the map, when the scale was left
    /// unset; [`Segmenter::segment`] weighs it (a map alone needs no size estimate).
    pub advice: Option<crate::size::SmallObjects>,
}

/// The object size estimate of `image` when a small-object rule asks for it, and the rule when
/// the objects measure under its size ([`Segmentation::object_px`],
/// [`Segmentation::small_objects`]).
pub fn weigh_advice(
    advice: Option<crate::size::SmallObjects>,
    image: &GrayU8,
) -> (Option<f32>, Option<crate::size::SmallObjects>) {
    let object_px = advice.and_then(|_| crate::size::estimate_object_diameter(image));
    let small = advice.filter(|r| object_px.is_some_and(|d| d < r.below_px));
    (object_px, small)
}

/// Called after each batch with (crops done, crops in total).
pub type ProgressFn = dyn Fn(usize, usize) + Send + Sync;

/// The whole pipeline around one predictor.
#[derive(Clone)]
pub struct Segmenter {
    predictor: Arc<dyn DistanceMapPredictor>,
    fallback: Option<Arc<dyn DistanceMapPredictor>>,
    config: SegmentConfig,
    progress: Option<Arc<ProgressFn>>,
}

impl std::fmt::Debug for Segmenter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Segmenter")
            .field("predictor", &self.predictor.describe())
            .field("fallback", &self.fallback.as_ref().map(|p| p.describe()))
            .field("config", &self.config)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

impl Segmenter {
    /// A segmenter; the configuration is checked when an image is segmented.
    pub fn new(predictor: Arc<dyn DistanceMapPredictor>, config: SegmentConfig) -> Self {
        Self {
            predictor,
            fallback: None,
            config,
            progress: None,
        }
    }

    /// Sets the predictor for images that look unlike the first one's training data (see the
    /// module doc, "A fallback model").
    pub fn with_fallback(mut self, fallback: Arc<dyn DistanceMapPredictor>) -> Self {
        self.fallback = Some(fallback);
        self
    }

    /// The fallback predictor, if any.
    pub fn fallback(&self) -> Option<&Arc<dyn DistanceMapPredictor>> {
        self.fallback.as_ref()
    }

    /// Sets the image resize factor ([`SegmentConfig::scale`]; checked when an image is
    /// segmented).
    pub fn with_scale(mut self, scale: Option<f32>) -> Self {
        self.config.scale = scale;
        self
    }

    /// Sets the progress hook, called with (crops done, total) after each predictor batch.
    pub fn with_progress(mut self, progress: Arc<ProgressFn>) -> Self {
        self.progress = Some(progress);
        self
    }

    /// The settings in use.
    pub fn config(&self) -> &SegmentConfig {
        &self.config
    }

    /// The tiling images are cut with: the configured override, else the predictor's own.
    pub fn tiling(&self) -> TilingConfig {
        self.config
            .tiling
            .unwrap_or_else(|| self.predictor.tiling())
    }

    /// The tiling of the fallback predictor's pass (the configured override, else its own);
    /// `None` without a fallback.
    pub fn fallback_tiling(&self) -> Option<TilingConfig> {
        let fallback = self.fallback.as_ref()?;
        Some(self.config.tiling.unwrap_or_else(|| fallback.tiling()))
    }

    /// The predictor in use.
    pub fn predictor(&self) -> &Arc<dyn DistanceMapPredictor> {
        &self.predictor
    }

    /// Distance map and labels of one u8 grey image.
    pub fn segment(&self, image: &GrayU8) -> Result<Segmentation, PipelineError> {
        let RoutedMap {
            map: distance_map,
            mut timings,
            routed,
            scale,
            advice,
        } = self.distance_map_routed(image)?;
        let t = Instant::now();
        let (object_px, small_objects) = weigh_advice(advice, image);
        let (labels, n_cells) =
            labels_from_distance_map(&distance_map, self.config.peak, self.config.fill)?;
        timings.postprocess += t.elapsed();
        tracing::debug!(
            width = image.width(),
            height = image.height(),
            n_cells,
            ?timings,
            predictor = %self.predictor.describe(),
            routed = !routed.is_empty(),
            scale,
            "segmented"
        );
        Ok(Segmentation {
            distance_map,
            labels,
            n_cells,
            timings,
            routed,
            scale,
            object_px,
            small_objects,
        })
    }

    /// Only the blended distance map (for re-thresholding later without the model).
    pub fn distance_map(&self, image: &GrayU8) -> Result<MapF32, PipelineError> {
        self.distance_map_timed(image).map(|(m, _)| m)
    }

    /// [`Self::distance_map`] with the time of each stage (post-processing: none, zero).
    pub fn distance_map_timed(
        &self,
        image: &GrayU8,
    ) -> Result<(MapF32, StageTimings), PipelineError> {
        self.distance_map_routed(image).map(|r| (r.map, r.timings))
    }

    /// The distance map, with the time of each stage and whether the fallback predictor made it
    /// (module doc, "A fallback model").
    pub fn distance_map_routed(&self, image: &GrayU8) -> Result<RoutedMap, PipelineError> {
        let scale = match self.config.scale {
            Some(s) => check_scale(s)?,
            None => 1.0,
        };
        if image.width() == 0 || image.height() == 0 {
            return Err(PipelineError::EmptyImage {
                width: image.width(),
                height: image.height(),
            });
        }
        let mut timings = StageTimings::default();
        let map = self.pass(&self.predictor, self.tiling(), image, scale, &mut timings)?;
        let (predictor, map, routed) = match &self.fallback {
            None => (&self.predictor, map, Vec::new()),
            Some(fallback) => {
                let (peak, fill) = (self.config.peak, self.config.fill);
                let signs = domain_warnings(image, &map, peak, fill, &DomainCheck::default());
                if signs.is_empty() {
                    (&self.predictor, map, signs)
                } else {
                    drop(map);
                    let tiling = self.fallback_tiling().expect("a fallback");
                    let map = self.pass(fallback, tiling, image, scale, &mut timings)?;
                    (fallback, map, signs)
                }
            }
        };
        // the small-object advice of the predictor that made the map, at an unset scale
        let advice = predictor
            .small_objects()
            .filter(|_| self.config.scale.is_none());
        Ok(RoutedMap {
            map,
            timings,
            routed,
            scale,
            advice,
        })
    }

    /// One pass of `predictor` over `image` seen at `scale`, the map brought back to the
    /// image's size.
    fn pass(
        &self,
        predictor: &Arc<dyn DistanceMapPredictor>,
        tiling: TilingConfig,
        image: &GrayU8,
        scale: f32,
        timings: &mut StageTimings,
    ) -> Result<MapF32, PipelineError> {
        if scale == 1.0 {
            return self.map_with(predictor, tiling, image, timings);
        }
        let (w, h) = (image.width(), image.height());
        let t = Instant::now();
        let (sw, sh) = scaled_size(w, h, scale);
        let scaled = pillow_bilinear_u8(image, sw, sh).map_err(PipelineError::imaging)?;
        // resizing in counts as cutting the crops, resizing back as blending
        timings.tiling += t.elapsed();
        let map = self.map_with(predictor, tiling, &scaled, timings)?;
        drop(scaled);
        let t = Instant::now();
        let map = opencv_linear_f32(&map, w, h).map_err(PipelineError::imaging)?;
        timings.blend += t.elapsed();
        Ok(map)
    }

    /// One pass of `predictor` over `image` cut with `tiling`; times added to `timings`.
    fn map_with(
        &self,
        predictor: &Arc<dyn DistanceMapPredictor>,
        tiling: TilingConfig,
        image: &GrayU8,
        timings: &mut StageTimings,
    ) -> Result<MapF32, PipelineError> {
        let t = Instant::now();
        let plan = TilePlan::new(image.width(), image.height(), &tiling)?;
        timings.tiling += t.elapsed();
        let mut blender = BandBlender::new(&plan)?;
        let total = plan.len();
        let batch = predictor.max_batch().max(1);
        let mut done = 0;
        while done < total {
            let count = batch.min(total - done);
            let t = Instant::now();
            let crops: Vec<GrayU8> = (done..done + count)
                .map(|k| plan.extract(image, k))
                .collect::<Result<_, _>>()?;
            timings.tiling += t.elapsed();
            let t = Instant::now();
            let enhanced = enhance::enhance_all(&crops, done)?;
            timings.enhance += t.elapsed();
            let t = Instant::now();
            let maps = predictor
                .predict(&enhanced)
                .map_err(|source| PipelineError::Predict {
                    first: done,
                    count,
                    total,
                    error: source,
                })?;
            timings.predict += t.elapsed();
            if maps.len() != count {
                return Err(PipelineError::PredictCount {
                    first: done,
                    count,
                    total,
                    got: maps.len(),
                });
            }
            let t = Instant::now();
            for (i, m) in maps.iter().enumerate() {
                blender.add(done + i, m)?;
            }
            timings.blend += t.elapsed();
            done += count;
            if let Some(p) = &self.progress {
                p(done, total);
            }
        }
        let t = Instant::now();
        let map = blender.finish()?;
        timings.blend += t.elapsed();
        Ok(map)
    }
}

/// samcell's post-processing on a distance map (seeds `> peak`, watershed inside `> fill`),
/// labels renumbered 1..N in raster order; returns the labels and N.
pub fn labels_from_distance_map(
    map: &MapF32,
    peak: f32,
    fill: f32,
) -> Result<(Labels, usize), PipelineError> {
    let mut labels = samcell_morphology::cells_from_distance_map(map, peak, fill)?;
    let n = relabel_sequential_in_place(&mut labels);
    Ok((labels, n))
}

/// Renumbers non-zero labels 1..N in raster order of their first pixel; 0 stays 0.
pub fn relabel_sequential(labels: &Labels) -> (Labels, usize) {
    let mut out = labels.clone();
    let n = relabel_sequential_in_place(&mut out);
    (out, n)
}

/// [`relabel_sequential`] without a copy of the labels; returns N.
pub fn relabel_sequential_in_place(labels: &mut Labels) -> usize {
    let max = labels.data().iter().copied().max().unwrap_or(0) as usize;
    let mut n = 0u32;
    if max <= labels.data().len().max(1024) {
        let mut map = vec![0u32; max + 1];
        for v in labels.data_mut() {
            if *v != 0 {
                let slot = &mut map[*v as usize];
                if *slot == 0 {
                    n += 1;
                    *slot = n;
                }
                *v = *slot;
            }
        }
    } else {
        let mut map = std::collections::HashMap::new();
        for v in labels.data_mut() {
            if *v != 0 {
                *v = *map.entry(*v).or_insert_with(|| {
                    n += 1;
                    n
                });
            }
        }
    }
    n as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_checked() {
        assert_eq!(check_thresholds(DEFAULT_PEAK, DEFAULT_FILL), Ok(()));
        assert_eq!(check_thresholds(0.5, 0.5), Ok(()));
        assert_eq!(
            check_thresholds(0.3, 0.6),
            Err(ThresholdError::FillAbovePeak {
                peak: 0.3,
                fill: 0.6
            })
        );
        assert!(check_threshold(f32::NAN).is_err());
        assert_eq!(check_threshold(1.5), Err(ThresholdError::OutOfRange(1.5)));
    }

    #[test]
    fn relabel_is_raster_first_occurrence() {
        let l = Labels::from_vec(4, 2, vec![0, 7, 7, 3, 9, 0, 3, 7]).expect("labels");
        let (r, n) = relabel_sequential(&l);
        assert_eq!(n, 3);
        assert_eq!(r.data(), &[0, 1, 1, 2, 3, 0, 2, 1]);
        let big = Labels::from_vec(3, 1, vec![u32::MAX, 0, 5]).expect("labels");
        let (r, n) = relabel_sequential(&big);
        assert_eq!((r.data(), n), (&[1, 0, 2][..], 2));
    }
}
