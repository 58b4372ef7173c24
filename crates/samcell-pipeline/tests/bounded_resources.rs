//! Memory and work bounded by the image's area, whatever its shape, and model output that cannot
//! be used refused by name.
//!
//! Defects covered: a thin image (one side <= 64) was one crop as long as the image, blended with
//! a square mask as wide as its long side (100000x1: a 40 GB mask); a min side just above 64
//! gave a stride of a few pixels (65x65: 4,225 crops); NaN model output gave an empty result
//! without an error. Bounds are checked on the plan's crop count and the blender's buffer
//! sizes, not on wall-clock time.

use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use samcell_imaging::{GrayU8, MapF32};
use samcell_pipeline::band::BandBlender;
use samcell_pipeline::tiling::TilingMode;
use samcell_pipeline::{
    DistanceMapPredictor, PipelineError, PredictError, SegmentConfig, Segmenter, TilePlan,
    TilingConfig,
};

/// SAMCell's tiling and samcell-lite's.
const CONFIGS: [TilingConfig; 2] = [
    TilingConfig {
        crop: 256,
        overlap: 32,
    },
    TilingConfig {
        crop: 576,
        overlap: 32,
    },
];

/// Upper bound on the crops of a `w x h` image: `ceil(w / s) * ceil(h / s)` with the smallest
/// stride the tiling allows (`crop / 4`, at least `2 * overlap`).
fn crop_bound(w: usize, h: usize, cfg: &TilingConfig) -> usize {
    let s = samcell_pipeline::tiling::min_reduced_stride(cfg);
    w.div_ceil(s) * h.div_ceil(s)
}

/// Upper bound on the blender's buffers: a constant number of bytes per pixel (out map, two
/// band accumulators at most as tall as the image, bits, a row index) plus one crop-sized mask.
fn blend_bound(w: usize, h: usize, cfg: &TilingConfig) -> usize {
    24 * w * h + 4 * h + 4 * cfg.crop * cfg.crop + 64
}

/// Runs the band blender over the whole plan with constant maps of each crop's own size and
/// returns its peak buffer bytes.
fn blend_peak(plan: &TilePlan) -> usize {
    let mut b = BandBlender::new(plan).expect("blender");
    let mut maps: Vec<((usize, usize), MapF32)> = Vec::new();
    for (k, t) in plan.tiles.iter().enumerate() {
        let key = (t.width, t.height);
        if !maps.iter().any(|(s, _)| *s == key) {
            maps.push((key, MapF32::filled(t.width, t.height, 0.5)));
        }
        let map = &maps.iter().find(|(s, _)| *s == key).expect("map").1;
        b.add(k, map).expect("add");
    }
    let peak = b.peak_buffer_bytes();
    let out = b.finish().expect("finish");
    assert_eq!(
        (out.width(), out.height()),
        (plan.image_width, plan.image_height)
    );
    peak
}

#[test]
fn thin_images_blend_in_memory_proportional_to_their_area() {
    for cfg in &CONFIGS {
        for (w, h) in [(100_000, 1), (1, 100_000), (20_000, 64)] {
            let plan = TilePlan::new(w, h, cfg).expect("plan");
            assert_eq!(plan.mode, TilingMode::Padded, "{w}x{h}");
            assert!(
                plan.len() <= crop_bound(w, h, cfg),
                "{w}x{h}: {} crops",
                plan.len()
            );
            let peak = blend_peak(&plan);
            assert!(
                peak <= blend_bound(w, h, cfg),
                "{w}x{h} crop {}: blender peak {peak} bytes",
                cfg.crop
            );
        }
    }
}

#[test]
fn small_images_make_few_crops() {
    for cfg in &CONFIGS {
        for (w, h) in [(65, 65), (70, 70), (1000, 65), (65, 1000)] {
            let plan = TilePlan::new(w, h, cfg).expect("plan");
            // before: 4,225 / 1,089 / 60,000 crops with SAMCell's tiling
            assert!(
                plan.len() <= crop_bound(w, h, cfg),
                "{w}x{h}: {} crops",
                plan.len()
            );
            assert!(
                plan.len() <= 6,
                "{w}x{h} crop {}: {} crops",
                cfg.crop,
                plan.len()
            );
        }
    }
}

/// Returns a constant map, or NaN in one pixel of crop `bad`; counts the crops seen.
struct FakeModel {
    bad: Option<usize>,
    value: f32,
    seen: AtomicUsize,
}

impl DistanceMapPredictor for FakeModel {
    fn describe(&self) -> String {
        "fake".into()
    }

    fn tiling(&self) -> TilingConfig {
        TilingConfig::default()
    }

    fn predict(&self, crops: &[GrayU8]) -> Result<Vec<MapF32>, PredictError> {
        Ok(crops
            .iter()
            .map(|c| {
                let k = self.seen.fetch_add(1, Ordering::SeqCst);
                let mut m = MapF32::filled(c.width(), c.height(), self.value);
                if self.bad == Some(k) {
                    m.data_mut()[3] = f32::NAN;
                    m.data_mut()[5] = f32::INFINITY;
                }
                m
            })
            .collect())
    }

    fn max_batch(&self) -> usize {
        3
    }
}

fn fake(bad: Option<usize>, value: f32) -> std::sync::Arc<FakeModel> {
    std::sync::Arc::new(FakeModel {
        bad,
        value,
        seen: AtomicUsize::new(0),
    })
}

#[test]
fn non_finite_model_output_fails_the_image_by_name() {
    let img = GrayU8::filled(600, 500, 100);
    let seg = Segmenter::new(fake(Some(4), 0.8), SegmentConfig::default());
    match seg.segment(&img) {
        Err(
            e @ PipelineError::NonFiniteMap {
                index: 4, count: 2, ..
            },
        ) => {
            let msg = e.to_string();
            assert!(
                msg.contains("crop 4") && msg.contains("2 non-finite") && msg.contains("NaN"),
                "{msg}"
            );
        }
        other => panic!("expected NonFiniteMap for crop 4, got {other:?}"),
    }
    // the same model without the NaN segments the image
    let ok = Segmenter::new(fake(None, 0.8), SegmentConfig::default())
        .segment(&img)
        .expect("segment");
    assert!(ok.n_cells > 0);
}

#[test]
fn thin_image_segments_end_to_end() {
    for (w, h) in [(100_000, 1), (1, 3000), (3000, 64), (65, 65)] {
        let img =
            GrayU8::from_vec(w, h, (0..w * h).map(|i| (i % 251) as u8).collect()).expect("img");
        let model = fake(None, 0.8);
        let seg = Segmenter::new(model.clone(), SegmentConfig::default())
            .segment(&img)
            .expect("segment");
        assert_eq!((seg.labels.width(), seg.labels.height()), (w, h));
        // a constant 0.8 map is one cell wherever the map is defined: every pixel is covered
        assert!(
            seg.distance_map
                .data()
                .iter()
                .all(|&v| (v - 0.8).abs() < 1e-5),
            "{w}x{h}: blended map not 0.8 everywhere"
        );
        let plan = TilePlan::new(w, h, &TilingConfig::default()).expect("plan");
        assert_eq!(model.seen.load(Ordering::SeqCst), plan.len());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any shape 1..5000 per side: the crop count is O(area / stride^2) and no crop is larger
    /// than the configured crop (so the mask and every per-crop buffer are bounded).
    #[test]
    fn crop_count_is_bounded_by_area(w in 1usize..5000, h in 1usize..5000, lite in any::<bool>()) {
        let cfg = CONFIGS[usize::from(lite)];
        let plan = TilePlan::new(w, h, &cfg).expect("plan");
        prop_assert!(plan.len() <= crop_bound(w, h, &cfg), "{}x{}: {} crops, bound {}", w, h, plan.len(), crop_bound(w, h, &cfg));
        for t in &plan.tiles {
            prop_assert!(t.width <= cfg.crop && t.height <= cfg.crop);
            prop_assert!(t.map_x + t.region.w <= t.width && t.map_y + t.region.h <= t.height);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// The blender's peak buffers stay within a constant number of bytes per pixel plus one
    /// crop-sized mask (one side up to 5000, the other kept small enough to run quickly).
    #[test]
    fn blend_buffers_are_bounded_by_area(long in 1usize..5000, short in 1usize..300, tall in any::<bool>(), lite in any::<bool>()) {
        let cfg = CONFIGS[usize::from(lite)];
        let (w, h) = if tall { (short, long) } else { (long, short) };
        let plan = TilePlan::new(w, h, &cfg).expect("plan");
        let peak = blend_peak(&plan);
        prop_assert!(peak <= blend_bound(w, h, &cfg), "{}x{}: peak {} bytes", w, h, peak);
    }
}
