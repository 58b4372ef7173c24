//! `SegmentConfig::scale`: the model sees the image resized by the factor, and the map, the
//! labels and everything after keep the input's size (Cellpose-style object-size rescaling).

use std::sync::{Arc, Mutex};

use samcell_imaging::resize::{opencv_linear_f32, pillow_bilinear_u8};
use samcell_imaging::{GrayU8, MapF32};
use samcell_pipeline::size::estimate_object_diameter;
use samcell_pipeline::{
    check_scale, scaled_size, DistanceMapPredictor, PipelineError, PredictError, SegmentConfig,
    Segmenter, SmallObjects, TilePlan, TilingConfig,
};

/// A predictor whose map is a bright-spot detector: 0.9 where the enhanced crop is above 128,
/// else 0. Remembers the crops it was given; may state a small-object rule.
struct Spots {
    crops: Mutex<Vec<GrayU8>>,
    rule: Option<SmallObjects>,
}

impl DistanceMapPredictor for Spots {
    fn describe(&self) -> String {
        "spots".into()
    }
    fn tiling(&self) -> TilingConfig {
        TilingConfig {
            crop: 128,
            overlap: 32,
        }
    }
    fn small_objects(&self) -> Option<SmallObjects> {
        self.rule
    }
    fn predict(&self, crops: &[GrayU8]) -> Result<Vec<MapF32>, PredictError> {
        self.crops
            .lock()
            .expect("lock")
            .extend(crops.iter().cloned());
        Ok(crops
            .iter()
            .map(|c| {
                let data = c
                    .data()
                    .iter()
                    .map(|&v| if v > 128 { 0.9 } else { 0.0 })
                    .collect();
                MapF32::from_vec(c.width(), c.height(), data).expect("map")
            })
            .collect())
    }
}

fn spots() -> Arc<Spots> {
    Arc::new(Spots {
        crops: Mutex::new(Vec::new()),
        rule: None,
    })
}

/// Advises 2x below 12 px.
const RULE: SmallObjects = SmallObjects {
    below_px: 12.0,
    factor: 2.0,
};

fn spots_with_rule() -> Arc<Spots> {
    Arc::new(Spots {
        crops: Mutex::new(Vec::new()),
        rule: Some(RULE),
    })
}

/// The pixels the predictor was shown in all.
fn area_seen(p: &Spots) -> usize {
    let crops = p.crops.lock().expect("lock");
    crops.iter().map(|c| c.width() * c.height()).sum()
}

/// Bright squares of `side` px on a dark background, on a grid of `3 * side`.
fn squares(w: usize, h: usize, side: usize) -> GrayU8 {
    let data = (0..w * h)
        .map(|i| {
            let (x, y) = (i % w, i / w);
            if x % (3 * side) < side && y % (3 * side) < side {
                220
            } else {
                10
            }
        })
        .collect();
    GrayU8::from_vec(w, h, data).expect("image")
}

/// Dark background with bright 4 x 4 squares on a 20-pixel grid.
fn small_objects(w: usize, h: usize) -> GrayU8 {
    let data = (0..w * h)
        .map(|i| {
            let (x, y) = (i % w, i / w);
            if x % 20 < 4 && y % 20 < 4 {
                220
            } else {
                10
            }
        })
        .collect();
    GrayU8::from_vec(w, h, data).expect("image")
}

/// A segmenter at `scale` (`None`: automatic).
fn segmenter(predictor: Arc<Spots>, scale: impl Into<Option<f32>>) -> Segmenter {
    Segmenter::new(
        predictor,
        SegmentConfig {
            scale: scale.into(),
            ..SegmentConfig::default()
        },
    )
}

#[test]
fn the_model_sees_the_scaled_image_and_the_results_keep_the_input_size() {
    let image = small_objects(150, 90);
    let seen = spots();
    let out = segmenter(seen.clone(), 2.0)
        .segment(&image)
        .expect("segment");
    // the crops are those of the 300 x 180 image
    let plan = TilePlan::new(
        300,
        180,
        &TilingConfig {
            crop: 128,
            overlap: 32,
        },
    )
    .expect("plan");
    assert_eq!(seen.crops.lock().expect("lock").len(), plan.len());
    assert_eq!(
        (out.distance_map.width(), out.distance_map.height()),
        (150, 90)
    );
    assert_eq!((out.labels.width(), out.labels.height()), (150, 90));
    // the map at the input's size is the scaled image's map brought back with the OpenCV resize
    let at_2x = segmenter(spots(), 1.0)
        .distance_map(&pillow_bilinear_u8(&image, 300, 180).expect("resize"))
        .expect("map");
    let back = opencv_linear_f32(&at_2x, 150, 90).expect("resize");
    assert_eq!(out.distance_map.data(), back.data());
    // every 4 x 4 square (8 x 4 grid squares, the last column cut at x = 140..144) is one cell
    assert_eq!(out.n_cells, 8 * 5);
}

#[test]
fn scale_one_is_the_unscaled_pipeline() {
    let image = small_objects(150, 90);
    let plain = segmenter(spots(), None).segment(&image).expect("segment");
    let one = segmenter(spots(), 1.0).segment(&image).expect("segment");
    assert_eq!(plain.distance_map.data(), one.distance_map.data());
    assert_eq!(plain.labels.data(), one.labels.data());
}

#[test]
fn shrinking_keeps_the_input_size_too() {
    let image = small_objects(150, 90);
    let out = segmenter(spots(), 0.5).segment(&image).expect("segment");
    assert_eq!((out.labels.width(), out.labels.height()), (150, 90));
    assert_eq!(scaled_size(150, 90, 0.5), (75, 45));
    assert_eq!(scaled_size(3, 1, 0.25), (1, 1));
}

#[test]
fn a_scale_out_of_range_is_refused_before_the_model_runs() {
    for bad in [0.0, 0.2, 4.5, f32::NAN, f32::INFINITY, -1.0] {
        let seen = spots();
        let err = segmenter(seen.clone(), bad)
            .segment(&small_objects(40, 40))
            .expect_err("refused");
        assert!(
            matches!(&err, PipelineError::Config(m) if m.contains("scale")),
            "{bad}: {err}"
        );
        assert!(check_scale(bad).is_err());
        assert!(seen.crops.lock().expect("lock").is_empty());
    }
    assert_eq!(check_scale(0.25).ok(), Some(0.25));
    assert_eq!(check_scale(4.0).ok(), Some(4.0));
}

#[test]
fn a_small_object_rule_advises_on_images_of_small_objects_only() {
    let (small, large) = (squares(192, 192, 4), squares(192, 192, 16));
    assert!(estimate_object_diameter(&small).expect("size") < RULE.below_px);
    assert!(estimate_object_diameter(&large).expect("size") > RULE.below_px);

    // advice only: the model sees the image at its own size, the results are those without
    // the rule
    let seen = spots_with_rule();
    let out = segmenter(seen.clone(), None)
        .segment(&small)
        .expect("segment");
    assert_eq!(out.small_objects, Some(RULE));
    assert!(out.object_px.expect("estimated") < RULE.below_px);
    assert_eq!(out.scale, 1.0);
    let plain = spots();
    let without = segmenter(plain.clone(), None)
        .segment(&small)
        .expect("segment");
    assert_eq!(area_seen(&seen), area_seen(&plain));
    assert_eq!(out.labels.data(), without.labels.data());
    assert_eq!((without.small_objects, without.object_px), (None, None));

    let out = segmenter(spots_with_rule(), None)
        .segment(&large)
        .expect("segment");
    assert_eq!(out.small_objects, None);
    assert!(out.object_px.expect("estimated") > RULE.below_px);

    // a scale given: no advice, no estimate
    for scale in [1.0, 2.0] {
        let out = segmenter(spots_with_rule(), scale)
            .segment(&small)
            .expect("segment");
        assert_eq!(
            (out.scale, out.small_objects, out.object_px),
            (scale, None, None)
        );
    }
}

#[test]
fn the_advice_is_that_of_the_model_that_made_the_map() {
    // a dark image with small bright squares: an unfamiliar background for the first model,
    // which has a rule; the fallback, which made the map, has none
    let image = squares(192, 192, 4);
    let out = segmenter(spots_with_rule(), None)
        .with_fallback(spots())
        .segment(&image)
        .expect("segment");
    assert!(!out.routed.is_empty(), "routed to the fallback");
    assert_eq!((out.small_objects, out.object_px), (None, None));
    // and the other way round
    let out = segmenter(spots(), None)
        .with_fallback(spots_with_rule())
        .segment(&image)
        .expect("segment");
    assert!(!out.routed.is_empty(), "routed to the fallback");
    assert_eq!(out.small_objects, Some(RULE));
}
