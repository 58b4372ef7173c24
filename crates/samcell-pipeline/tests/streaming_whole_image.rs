//! The memory-lean `Segmenter` path (band blending, sparse seeds, in-place relabelling) against
//! the whole-image path it replaced (`Blender` with image-sized accumulators, the marker image
//! of `seeds_from_peaks`, `watershed` with a materialised mask, `relabel_sequential` on a copy),
//! on a 3000 x 2000 image of touching cells spread over every crop boundary. Tolerance: none
//! (distance maps equal bit for bit, labels pixel for pixel).

use std::sync::{Arc, Mutex};

use samcell_imaging::{GrayU8, MapF32};
use samcell_pipeline::blend::Blender;
use samcell_pipeline::{
    relabel_sequential, DistanceMapPredictor, PredictError, SegmentConfig, Segmenter, TilePlan,
    TilingConfig,
};

/// Cone-shaped bright cells (radius 6..30 px) on a dim, slightly noisy background; many
/// touch each other and the image border, and crops cut through many of them.
fn cells_image(w: usize, h: usize, n: usize) -> GrayU8 {
    let mut v = vec![0f32; w * h];
    let mut s = 11u64;
    let mut rnd = |m: usize| {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 33) as usize % m
    };
    for _ in 0..n {
        let (cx, cy, r) = (rnd(w), rnd(h), 6 + rnd(25));
        let (x0, x1) = (cx.saturating_sub(r), (cx + r + 1).min(w));
        let (y0, y1) = (cy.saturating_sub(r), (cy + r + 1).min(h));
        for y in y0..y1 {
            for x in x0..x1 {
                let d = (((x as f32 - cx as f32).powi(2) + (y as f32 - cy as f32).powi(2)).sqrt())
                    / r as f32;
                let p = &mut v[y * w + x];
                *p = p.max(1.0 - d);
            }
        }
    }
    let data = v
        .iter()
        .map(|&c| (30.0 + 200.0 * c) as u8 + (rnd(7) as u8))
        .collect();
    GrayU8::from_vec(w, h, data).expect("image")
}

/// A stand-in for the network: the enhanced crop, 5x5 box-blurred, scaled to 0..1 (smooth
/// bumps over the cells, ties where the crop saturates). Keeps every map it returns.
struct BlurPredictor {
    maps: Mutex<Vec<MapF32>>,
}

impl DistanceMapPredictor for BlurPredictor {
    fn describe(&self) -> String {
        "5x5 box blur of the enhanced crop".into()
    }

    fn tiling(&self) -> TilingConfig {
        TilingConfig::default()
    }

    fn predict(&self, crops: &[GrayU8]) -> Result<Vec<MapF32>, PredictError> {
        let out: Vec<MapF32> = crops
            .iter()
            .map(|c| {
                let (w, h) = (c.width(), c.height());
                let data = (0..w * h)
                    .map(|i| {
                        let (x, y) = ((i % w) as isize, (i / w) as isize);
                        let mut sum = 0u32;
                        for dy in -2..=2isize {
                            for dx in -2..=2isize {
                                let xx = (x + dx).clamp(0, w as isize - 1) as usize;
                                let yy = (y + dy).clamp(0, h as isize - 1) as usize;
                                sum += u32::from(c.get(xx, yy));
                            }
                        }
                        (sum as f32 / 25.0 / 255.0 * 16.0).round() / 16.0
                    })
                    .collect();
                MapF32::from_vec(w, h, data).map_err(|e| PredictError(e.to_string()))
            })
            .collect::<Result<_, _>>()?;
        self.maps
            .lock()
            .map_err(|e| PredictError(e.to_string()))?
            .extend(out.iter().cloned());
        Ok(out)
    }

    fn max_batch(&self) -> usize {
        8
    }
}

#[test]
fn streaming_path_equals_whole_image_path_3000x2000() {
    let (w, h) = (3000, 2000);
    let img = cells_image(w, h, 9000);
    let predictor = Arc::new(BlurPredictor {
        maps: Mutex::new(Vec::new()),
    });
    let config = SegmentConfig::default();
    let seg = Segmenter::new(predictor.clone(), config)
        .segment(&img)
        .expect("segment");

    // The whole-image path on the same per-crop maps.
    let plan = TilePlan::new(w, h, &TilingConfig::default()).expect("plan");
    let maps = predictor.maps.lock().expect("maps");
    assert_eq!(maps.len(), plan.len());
    let mut blender = Blender::new(&plan).expect("blender");
    for (k, m) in maps.iter().enumerate() {
        blender.add(k, m).expect("add");
    }
    let whole_map = blender.finish();
    let same_bits = whole_map
        .data()
        .iter()
        .zip(seg.distance_map.data())
        .all(|(a, b)| a.to_bits() == b.to_bits());
    assert!(
        same_bits,
        "band-blended map differs from the whole-image blend (tolerance 0)"
    );

    let markers =
        samcell_morphology::seeds_from_peaks(&whole_map.map(|v| u8::from(v > config.peak)));
    let raw = samcell_morphology::watershed(
        &whole_map.map(|v| -v),
        &markers,
        &whole_map.map(|v| v > config.fill),
    )
    .expect("watershed");
    let (want, n) = relabel_sequential(&raw);
    assert!(
        n > 1000,
        "only {n} cells: the test image should have thousands"
    );
    assert_eq!(seg.n_cells, n, "number of cells");
    assert!(
        seg.labels.data() == want.data(),
        "labels differ from the whole-image path (tolerance 0)"
    );

    // Cells cut by crop boundaries exist (a label on both sides of a crop's region edge).
    let edge_x = plan.tiles[1].region.x;
    let straddling = (0..h).filter(|&y| {
        let (a, b) = (seg.labels.get(edge_x - 1, y), seg.labels.get(edge_x, y));
        a != 0 && a == b
    });
    assert!(
        straddling.count() > 50,
        "no cells straddle the crop boundary at x = {edge_x}"
    );
}
