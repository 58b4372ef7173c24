//! `SegmentConfig::scale`: the model sees the image resized by the factor, and the map, the
//! labels and everything after keep the input's size (Cellpose-style object-size rescaling).

use std::sync::{Arc, Mutex};

use samcell_imaging::resize::{opencv_linear_f32, pillow_bilinear_u8};
use samcell_imaging::{GrayU8, MapF32};
use samcell_pipeline::{
    check_scale, scaled_size, DistanceMapPredictor, PipelineError, PredictError, SegmentConfig,
    Segmenter, TilePlan, TilingConfig,
};

/// A predictor whose map is a bright-spot detector: 0.9 where the enhanced crop is above 128,
/// else 0. Remembers the crops it was given.
struct Spots {
    crops: Mutex<Vec<GrayU8>>,
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
    })
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

fn segmenter(predictor: Arc<Spots>, scale: f32) -> Segmenter {
    Segmenter::new(
        predictor,
        SegmentConfig {
            scale,
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
    let plain = Segmenter::new(spots(), SegmentConfig::default())
        .segment(&image)
        .expect("segment");
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
