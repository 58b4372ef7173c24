//! `Segmenter::with_fallback`: an image the first predictor is unsure of (or whose background is
//! unlike its training images) is segmented again, whole, by the fallback predictor with the
//! fallback's own tiling; other images keep the first map and cost one pass.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use samcell_imaging::{GrayU8, MapF32};
use samcell_pipeline::{
    DistanceMapPredictor, DomainWarning, PredictError, SegmentConfig, Segmenter, TilingConfig,
};

/// A predictor answering a constant map; counts its crops and remembers their sizes.
struct Constant {
    value: f32,
    crop: usize,
    crops: AtomicUsize,
    sizes: Mutex<Vec<(usize, usize)>>,
}

impl Constant {
    fn new(value: f32, crop: usize) -> Arc<Self> {
        Arc::new(Self {
            value,
            crop,
            crops: AtomicUsize::new(0),
            sizes: Mutex::new(Vec::new()),
        })
    }
}

impl DistanceMapPredictor for Constant {
    fn describe(&self) -> String {
        format!("constant {}", self.value)
    }
    fn tiling(&self) -> TilingConfig {
        TilingConfig {
            crop: self.crop,
            overlap: 32,
        }
    }
    fn predict(&self, crops: &[GrayU8]) -> Result<Vec<MapF32>, PredictError> {
        self.crops.fetch_add(crops.len(), Ordering::SeqCst);
        let mut sizes = self.sizes.lock().expect("lock");
        Ok(crops
            .iter()
            .map(|c| {
                sizes.push((c.width(), c.height()));
                MapF32::filled(c.width(), c.height(), self.value)
            })
            .collect())
    }
}

/// A horizontal ramp 0..255: median grey in the middle of the range, like phase contrast.
fn mid_grey(w: usize, h: usize) -> GrayU8 {
    let data = (0..w * h)
        .map(|i| ((i % w) * 255 / (w - 1)) as u8)
        .collect();
    GrayU8::from_vec(w, h, data).expect("image")
}

/// A dark image with a few bright spots: median at the bottom of the range, like fluorescence.
fn dark(w: usize, h: usize) -> GrayU8 {
    let data = (0..w * h)
        .map(|i| if i % 37 == 0 { 250 } else { (i % 5) as u8 })
        .collect();
    GrayU8::from_vec(w, h, data).expect("image")
}

fn values(map: &MapF32) -> (f32, f32) {
    let lo = map.data().iter().copied().fold(f32::INFINITY, f32::min);
    let hi = map.data().iter().copied().fold(f32::NEG_INFINITY, f32::max);
    (lo, hi)
}

#[test]
fn a_confident_map_of_a_familiar_image_is_kept() {
    let (first, second) = (Constant::new(0.8, 256), Constant::new(0.3, 128));
    let seg = Segmenter::new(first.clone(), SegmentConfig::default()).with_fallback(second.clone());
    let out = seg.segment(&mid_grey(300, 200)).expect("segment");
    assert!(out.routed.is_empty(), "{:?}", out.routed);
    let (lo, hi) = values(&out.distance_map);
    assert!(
        (lo - 0.8).abs() < 1e-5 && (hi - 0.8).abs() < 1e-5,
        "{lo}..{hi}"
    );
    assert!(first.crops.load(Ordering::SeqCst) > 0);
    assert_eq!(second.crops.load(Ordering::SeqCst), 0, "no second pass");
}

#[test]
fn an_empty_map_sends_the_image_to_the_fallback_with_its_own_tiling() {
    let (first, second) = (Constant::new(0.0, 256), Constant::new(0.3, 128));
    let seg = Segmenter::new(first.clone(), SegmentConfig::default()).with_fallback(second.clone());
    let out = seg.segment(&mid_grey(300, 200)).expect("segment");
    assert_eq!(out.routed, vec![DomainWarning::EmptyMap]);
    let (lo, hi) = values(&out.distance_map);
    assert!(
        (lo - 0.3).abs() < 1e-5 && (hi - 0.3).abs() < 1e-5,
        "{lo}..{hi}"
    );
    // crops of at most the predictor's own size (the last row or column may be shorter)
    let sizes = second.sizes.lock().expect("lock");
    assert!(sizes.contains(&(128, 128)), "{sizes:?}");
    assert!(
        sizes.iter().all(|&(w, h)| w <= 128 && h <= 128),
        "{sizes:?}"
    );
    let first_sizes = first.sizes.lock().expect("lock");
    assert!(first_sizes.iter().all(|&(w, h)| w <= 256 && h <= 256));
    assert!(
        first_sizes.iter().any(|&(w, h)| w > 128 || h > 128),
        "{first_sizes:?}"
    );
    // the map alone is thresholded as configured: 0.3 is above fill, below peak, so no seeds
    assert_eq!(out.n_cells, 0);
}

#[test]
fn an_unfamiliar_background_sends_a_confident_map_to_the_fallback() {
    let (first, second) = (Constant::new(0.8, 256), Constant::new(0.6, 256));
    let seg = Segmenter::new(first, SegmentConfig::default()).with_fallback(second.clone());
    let out = seg.segment(&dark(200, 200)).expect("segment");
    assert!(
        matches!(out.routed.as_slice(), [DomainWarning::UnfamiliarBackground { level }] if *level < 0.25),
        "{:?}",
        out.routed
    );
    assert!(second.crops.load(Ordering::SeqCst) > 0);
    let routed = seg.distance_map_routed(&dark(200, 200)).expect("map");
    assert_eq!(routed.routed, out.routed);
    assert_eq!(routed.map.data(), out.distance_map.data());
}

#[test]
fn without_a_fallback_nothing_is_weighed() {
    let first = Constant::new(0.0, 256);
    let seg = Segmenter::new(first, SegmentConfig::default());
    let out = seg.segment(&dark(100, 100)).expect("segment");
    assert!(out.routed.is_empty());
    assert_eq!(values(&out.distance_map), (0.0, 0.0));
}
