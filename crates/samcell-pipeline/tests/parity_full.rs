//! Full-array parity with the reference harness's outputs (too big to commit). Ignored by
//! default; run with
//!   SAMCELL_PIPELINE_REF_OUT=<dir> python reference/gen_pipeline_fixtures.py
//!   SAMCELL_PIPELINE_REF_OUT=<dir> cargo test -p samcell-pipeline --test parity_full -- --ignored
//! Tolerances: crops, enhanced crops, weight map: 0; accumulator, blended map (outside
//! zero-weight pixels): 1e-6 abs; labels: exact up to relabelling. SAM's `pixel_values` of the
//! same outputs are checked with SAM, in samcell-model's `golden_sam_input` test.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::*;
use samcell_imaging::{GrayU8, Labels, MapF32};
use samcell_pipeline::blend::Blender;
use samcell_pipeline::{
    enhance, extract_crops, labels_from_distance_map, SegmentConfig, Segmenter, TilePlan,
    TilingConfig,
};

fn ref_dir() -> PathBuf {
    let d = std::env::var("SAMCELL_PIPELINE_REF_OUT").unwrap_or_else(|_| {
        panic!("set SAMCELL_PIPELINE_REF_OUT to a directory filled by reference/gen_pipeline_fixtures.py --keep")
    });
    let d = PathBuf::from(d);
    assert!(
        d.join("out_704x520").is_dir(),
        "{}: no harness outputs (run the generator with --keep)",
        d.display()
    );
    d
}

fn int32_labels(path: &Path) -> Labels {
    let (shape, data) = npy::<i32>(path);
    Labels::from_vec(
        shape[1],
        shape[0],
        data.into_iter().map(|v| v as u32).collect(),
    )
    .expect("labels")
}

#[test]
#[ignore = "needs the full harness outputs (SAMCELL_PIPELINE_REF_OUT)"]
fn full_parity_with_harness() {
    let root = ref_dir();
    for size in SIZES {
        let dir = root.join(format!("out_{size}"));
        let img: GrayU8 = npy_image::<u8>(&dir.join("input.npy"));
        let plan =
            TilePlan::new(img.width(), img.height(), &TilingConfig::default()).expect("plan");
        let crops = extract_crops(&img, &plan).expect("crops");
        if dir.join("crops_u8.npy").exists() {
            let (shape, data) = npy::<u8>(&dir.join("crops_u8.npy"));
            assert_eq!(shape[0], crops.len(), "{size}: number of crops");
            let n = shape[1] * shape[2];
            for (k, c) in crops.iter().enumerate() {
                assert_eq!(
                    c.data(),
                    &data[k * n..(k + 1) * n],
                    "{size}: crop {k} (exact)"
                );
            }
        }
        let enhanced = enhance::enhance_all(&crops, 0).expect("enhance");

        // Blending of the reference's per-crop 256x256 maps.
        let (shape, data) = npy::<f32>(&dir.join("crops_dist_maps.npy"));
        let n = shape[1] * shape[2];
        let maps: Vec<MapF32> = (0..shape[0])
            .map(|k| {
                MapF32::from_vec(shape[2], shape[1], data[k * n..(k + 1) * n].to_vec())
                    .expect("map")
            })
            .collect();
        let mut b = Blender::new(&plan).expect("blender");
        for (k, m) in maps.iter().enumerate() {
            b.add(k, m).expect("add");
        }
        let want_w = npy_image::<f32>(&dir.join("combine_weight_map.npy"));
        let want_a = npy_image::<f32>(&dir.join("combine_accum.npy"));
        let (dw, _) = max_abs_diff(b.weight(), &want_w, None);
        let (da, _) = max_abs_diff(b.accum(), &want_a, None);
        assert!(
            dw == 0.0 || (size == "48x40" && dw <= 1e-6),
            "{size}: weight map differs by {dw}"
        );
        assert!(
            da <= 1e-6,
            "{size}: accumulator differs by {da} (tolerance 1e-6)"
        );
        let valid = b.valid();

        // End to end through the Segmenter with those maps replayed.
        let sha = enhanced.iter().map(|e| sha_u8(e.data())).collect();
        let pred = Arc::new(ReplayPredictor::new(maps, sha, true, 3));
        let out = Segmenter::new(pred, SegmentConfig::default())
            .segment(&img)
            .expect("segment");
        let want_d = npy_image::<f32>(&dir.join("dist_map.npy"));
        let (dd, npx) = max_abs_diff(&out.distance_map, &want_d, Some(&valid));
        assert!(
            dd <= 1e-6,
            "{size}: map differs by {dd} on {npx} pixels (tolerance 1e-6)"
        );
        let want = npy_labels(&dir.join("labels_fixed_p0.47_f0.09.npy"));
        assert!(
            same_partition(&out.labels, &want),
            "{size}: labels differ on {} px",
            partition_mismatch(&want, &out.labels)
        );

        // Post-processing of the reference's own map.
        let (got, _) = labels_from_distance_map(&want_d, 0.47, 0.09).expect("labels");
        let want = int32_labels(&dir.join("labels.npy"));
        assert!(
            same_partition(&got, &want),
            "{size}: post-processing differs on {} px",
            partition_mismatch(&want, &got)
        );
        for tag in ["ref", "fixed"] {
            let map = if tag == "ref" {
                &want_d
            } else {
                &out.distance_map
            };
            let (got, n) = labels_from_distance_map(map, 0.53, 0.51).expect("labels");
            let want = npy_labels(&dir.join(format!("labels_{tag}_p0.53_f0.51.npy")));
            assert!(
                same_partition(&got, &want),
                "{size} {tag} (0.53, 0.51): {} px differ ({n} cells)",
                partition_mismatch(&want, &got)
            );
        }
        eprintln!(
            "{size}: ok ({} crops, {} cells at (0.47, 0.09), max map diff {dd})",
            plan.len(),
            out.n_cells
        );
    }
}
