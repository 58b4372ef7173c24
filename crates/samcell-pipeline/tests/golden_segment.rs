//! The Segmenter end to end with the reference's per-crop maps replayed, and the
//! post-processing against samcell 1.1.4 `cells_from_dist_map`.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::*;
use samcell_imaging::{GrayU8, MapF32};
use samcell_pipeline::{
    labels_from_distance_map, DistanceMapPredictor, PipelineError, PredictError, SegmentConfig,
    Segmenter, TilePlan, TilingConfig,
};

const THRESHOLDS: [(f32, &str); 2] = [(0.47, "p0.47_f0.09"), (0.53, "p0.53_f0.51")];

fn fill_of(peak: f32) -> f32 {
    if peak == 0.47 {
        0.09
    } else {
        0.51
    }
}

fn replay(size: &str, batch: usize) -> (GrayU8, Arc<ReplayPredictor>) {
    let img = npy_image::<u8>(&fixture_dir(size).join("input.npy"));
    let plan = TilePlan::new(img.width(), img.height(), &TilingConfig::default()).expect("plan");
    let (maps, to_crop) = match size {
        "48x40" => (maps_48x40(), true),
        "200x150" => (maps_200x150(&plan), false),
        _ => unreachable!(),
    };
    let sha = strings(&checks(size)["enhanced_sha256"]);
    (
        img,
        Arc::new(ReplayPredictor::new(maps, sha, to_crop, batch)),
    )
}

/// Post-processing of the reference's own distance map gives the reference's labels, up to
/// relabelling (exact partition equality), at samcell's thresholds and at (0.53, 0.51), which
/// gives many cells with these weights.
#[test]
fn labels_from_reference_map_match() {
    for size in ["200x150", "48x40"] {
        let dir = fixture_dir(size);
        let map = npy_image::<f32>(&dir.join("dist_map.npy"));
        for (peak, tag) in THRESHOLDS {
            let want = npy_labels(&dir.join(format!("labels_ref_{tag}.npy")));
            let (got, n) = labels_from_distance_map(&map, peak, fill_of(peak)).expect("labels");
            let n_ref = want.data().iter().copied().max().unwrap_or(0) as usize;
            assert_eq!(n, n_ref, "{size} {tag}: number of cells");
            assert!(
                same_partition(&got, &want),
                "{size} {tag}: labels differ from samcell's on {} pixels (exact up to relabelling)",
                partition_mismatch(&want, &got)
            );
            // Relabelled 1..N in raster order of first occurrence.
            let mut seen = 0;
            for &v in got.data() {
                if v as usize > seen {
                    assert_eq!(v as usize, seen + 1, "labels not in raster order");
                    seen += 1;
                }
            }
        }
    }
}

/// Whole pipeline with the replayed maps (each crop the predictor receives is checked against
/// the reference's enhanced crop): distance map within 1e-6 abs of the reference outside the
/// zero-weight pixels, and labels equal (up to relabelling) to samcell's post-processing of the
/// reference map with our zero-weight fix applied — for several batch sizes.
#[test]
fn segment_replay_matches_reference() {
    for size in ["200x150", "48x40"] {
        let dir = fixture_dir(size);
        let want_map = npy_image::<f32>(&dir.join("dist_map.npy"));
        let mut first: Option<MapF32> = None;
        for batch in [1, 4, 7] {
            let (img, pred) = replay(size, batch);
            let progress = Arc::new(Mutex::new(Vec::new()));
            let p2 = progress.clone();
            let seg = Segmenter::new(pred.clone(), SegmentConfig::default()).with_progress(
                Arc::new(move |done, total| p2.lock().expect("lock").push((done, total))),
            );
            let out = seg.segment(&img).expect("segment");
            let n_crops = pred.maps.len();
            let calls = pred.calls.lock().expect("lock").clone();
            assert!(
                calls.iter().all(|&c| c <= batch) && calls.iter().sum::<usize>() == n_crops,
                "batches {calls:?}"
            );
            assert_eq!(
                progress.lock().expect("lock").last(),
                Some(&(n_crops, n_crops))
            );

            let plan =
                TilePlan::new(img.width(), img.height(), &TilingConfig::default()).expect("plan");
            let mut weight = samcell_pipeline::blend::Blender::new(&plan).expect("blender");
            for (k, t) in plan.tiles.iter().enumerate() {
                weight
                    .add(k, &MapF32::filled(t.width, t.height, 0.0))
                    .expect("add");
            }
            let valid = weight.valid();
            let (d, n) = max_abs_diff(&out.distance_map, &want_map, Some(&valid));
            assert!(
                d <= 1e-6,
                "{size} batch {batch}: map differs by {d} on {n} pixels (tolerance 1e-6)"
            );
            if let Some(f) = &first {
                assert_eq!(f, &out.distance_map, "{size}: batch size changed the map");
            }
            first = Some(out.distance_map.clone());

            let want = npy_labels(&dir.join("labels_fixed_p0.47_f0.09.npy"));
            assert!(
                same_partition(&out.labels, &want),
                "{size}: labels differ on {} px",
                partition_mismatch(&want, &out.labels)
            );
            assert_eq!(
                out.n_cells,
                want.data().iter().copied().max().unwrap_or(0) as usize
            );
            // Re-thresholding without the model.
            let want = npy_labels(&dir.join("labels_fixed_p0.53_f0.51.npy"));
            let (got, _) = labels_from_distance_map(&out.distance_map, 0.53, 0.51).expect("labels");
            assert!(
                same_partition(&got, &want),
                "{size} (0.53, 0.51): labels differ on {} px",
                partition_mismatch(&want, &got)
            );
        }
    }
}

/// Fails on the call whose first crop is `fail_at`.
struct FailingPredictor {
    fail_at: usize,
    batch: usize,
    seen: AtomicUsize,
}

impl DistanceMapPredictor for FailingPredictor {
    fn describe(&self) -> String {
        "fails on purpose".into()
    }
    fn tiling(&self) -> TilingConfig {
        TilingConfig::default()
    }
    fn predict(&self, crops: &[GrayU8]) -> Result<Vec<MapF32>, PredictError> {
        let first = self.seen.fetch_add(crops.len(), Ordering::SeqCst);
        if (first..first + crops.len()).contains(&self.fail_at) {
            return Err(PredictError("out of memory".into()));
        }
        Ok(crops
            .iter()
            .map(|c| MapF32::filled(c.width(), c.height(), 0.5))
            .collect())
    }
    fn max_batch(&self) -> usize {
        self.batch
    }
}

/// A predictor error stops the run and names the crop (or the batch's crops) it happened on.
#[test]
fn predictor_errors_name_the_crop() {
    let img = npy_image::<u8>(&fixture_dir("200x150").join("input.npy"));
    let seg = Segmenter::new(
        Arc::new(FailingPredictor {
            fail_at: 3,
            batch: 1,
            seen: 0.into(),
        }),
        SegmentConfig::default(),
    );
    let err = seg.segment(&img).expect_err("must fail");
    assert!(
        matches!(
            err,
            PipelineError::Predict {
                first: 3,
                count: 1,
                total: 6,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "crop 3 of 6: predictor failed: out of memory"
    );

    let seg = Segmenter::new(
        Arc::new(FailingPredictor {
            fail_at: 3,
            batch: 4,
            seen: 0.into(),
        }),
        SegmentConfig::default(),
    );
    let err = seg.distance_map(&img).expect_err("must fail");
    assert_eq!(
        err.to_string(),
        "crops 0..=3 of 6: predictor failed: out of memory"
    );

    struct Short;
    impl DistanceMapPredictor for Short {
        fn describe(&self) -> String {
            "drops a map".into()
        }
        fn tiling(&self) -> TilingConfig {
            TilingConfig::default()
        }
        fn predict(&self, crops: &[GrayU8]) -> Result<Vec<MapF32>, PredictError> {
            Ok(crops
                .iter()
                .skip(1)
                .map(|c| MapF32::filled(c.width(), c.height(), 0.5))
                .collect())
        }
        fn max_batch(&self) -> usize {
            2
        }
    }
    let err = Segmenter::new(Arc::new(Short), SegmentConfig::default())
        .segment(&img)
        .expect_err("must fail");
    assert!(
        matches!(
            err,
            PipelineError::PredictCount {
                first: 0,
                count: 2,
                got: 1,
                ..
            }
        ),
        "{err:?}"
    );
}

/// The image is cut with the predictor's own tiling, unless the configuration overrides it.
#[test]
fn crops_follow_the_predictor_tiling() {
    struct Sized {
        tiling: TilingConfig,
        seen: AtomicUsize,
    }
    impl DistanceMapPredictor for Sized {
        fn describe(&self) -> String {
            "constant, own tiling".into()
        }
        fn tiling(&self) -> TilingConfig {
            self.tiling
        }
        fn predict(&self, crops: &[GrayU8]) -> Result<Vec<MapF32>, PredictError> {
            self.seen.fetch_add(crops.len(), Ordering::SeqCst);
            Ok(crops
                .iter()
                .map(|c| MapF32::filled(c.width(), c.height(), 0.5))
                .collect())
        }
    }
    let img = GrayU8::filled(700, 500, 90);
    let own = TilingConfig {
        crop: 128,
        overlap: 16,
    };
    let count = |t: &TilingConfig| TilePlan::new(700, 500, t).expect("plan").len();
    assert_ne!(count(&own), count(&TilingConfig::default()));

    let p = Arc::new(Sized {
        tiling: own,
        seen: 0.into(),
    });
    let seg = Segmenter::new(p.clone(), SegmentConfig::default());
    assert_eq!(seg.tiling(), own);
    seg.distance_map(&img).expect("map");
    assert_eq!(p.seen.load(Ordering::SeqCst), count(&own));

    let p = Arc::new(Sized {
        tiling: own,
        seen: 0.into(),
    });
    let forced = SegmentConfig {
        tiling: Some(TilingConfig::default()),
        ..SegmentConfig::default()
    };
    let seg = Segmenter::new(p.clone(), forced);
    assert_eq!(seg.tiling(), TilingConfig::default());
    seg.distance_map(&img).expect("map");
    assert_eq!(
        p.seen.load(Ordering::SeqCst),
        count(&TilingConfig::default())
    );
}
