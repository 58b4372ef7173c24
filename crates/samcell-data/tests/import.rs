//! Importers on small fixtures written into temporary folders, and COCO polygon/RLE rasterising
//! against pycocotools 2.0.11 (`tests/fixtures/coco_polygons.json`, exact).

mod common;

use common::*;
use samcell_data::import::coco::{
    rasterize_image, Annotation, CocoImage, CocoSet, Counts, Segmentation,
};
use samcell_data::{discover, ImportFormat, ImportOptions, LabelSource};
use std::path::{Path, PathBuf};

fn opts(inputs: &[&Path]) -> ImportOptions {
    ImportOptions {
        inputs: inputs.iter().map(|p| p.to_path_buf()).collect(),
        ..Default::default()
    }
}

fn label_file(l: &LabelSource) -> PathBuf {
    match l {
        LabelSource::File(p) => p.clone(),
        other => panic!("expected a file, got {other:?}"),
    }
}

#[test]
fn cellpose_pairs_and_unpaired_files_are_reported() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    gray_png(&d.join("000_img.png"), 20, 12);
    labels_png16(&d.join("000_masks.png"), 20, 12, &squares(20, 12, 3, 1));
    gray_png(&d.join("001_img.png"), 20, 12);
    labels_png16(&d.join("002_masks.png"), 20, 12, &squares(20, 12, 3, 1));
    std::fs::write(d.join("notes.txt"), "x").unwrap();
    let found = discover(ImportFormat::Cellpose, &opts(&[d])).unwrap();
    assert_eq!(found.pairs.len(), 1);
    assert_eq!(found.pairs[0].id, "000");
    assert_eq!(found.pairs[0].image, d.join("000_img.png"));
    assert_eq!(label_file(&found.pairs[0].labels), d.join("000_masks.png"));
    assert_eq!(found.skipped.len(), 2, "{:?}", found.skipped);
    assert!(
        found.skipped[0].source.ends_with("001_img.png")
            && found.skipped[0].reason.contains("no mask")
    );
    assert!(
        found.skipped[1].source.ends_with("002_masks.png")
            && found.skipped[1].reason.contains("no image")
    );
    let labels = found.pairs[0].load_labels().unwrap();
    assert_eq!(labels.data().iter().max(), Some(&3));
}

#[test]
fn folders_match_by_stem_and_mask_suffix() {
    let t = tempfile::tempdir().unwrap();
    let (im, ma) = (t.path().join("img"), t.path().join("gt"));
    std::fs::create_dir_all(&im).unwrap();
    std::fs::create_dir_all(&ma).unwrap();
    gray_png(&im.join("x.png"), 16, 10);
    gray16_tiff(&im.join("y.tif"), 16, 10);
    gray_png(&im.join("z.png"), 16, 10);
    labels_tiff16(&ma.join("x_masks.tif"), 16, 10, &squares(16, 10, 2, 1));
    labels_png8(&ma.join("y.png"), 16, 10, &squares(16, 10, 2, 1));
    labels_png8(&ma.join("w_label.png"), 16, 10, &squares(16, 10, 2, 1));
    let o = ImportOptions {
        images: Some(im.clone()),
        masks: Some(ma.clone()),
        ..Default::default()
    };
    let found = discover(ImportFormat::Folders, &o).unwrap();
    let ids: Vec<&str> = found.pairs.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["x", "y"]);
    assert_eq!(label_file(&found.pairs[0].labels), ma.join("x_masks.tif"));
    let reasons: Vec<String> = found
        .skipped
        .iter()
        .map(|s| format!("{} {}", s.source, s.reason))
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(
        reasons[0].contains("z.png") && reasons[0].contains("no mask"),
        "{reasons:?}"
    );
    assert!(
        reasons[1].contains("w_label.png") && reasons[1].contains("no image"),
        "{reasons:?}"
    );

    // Custom suffix, and images + masks in one folder.
    let one = t.path().join("one");
    std::fs::create_dir_all(&one).unwrap();
    gray_png(&one.join("a.png"), 16, 10);
    labels_png8(&one.join("a_gt.png"), 16, 10, &squares(16, 10, 2, 1));
    let o = ImportOptions {
        images: Some(one.clone()),
        masks: Some(one.clone()),
        mask_suffix: Some("_gt".into()),
        ..Default::default()
    };
    let found = discover(ImportFormat::Folders, &o).unwrap();
    assert_eq!(found.pairs.len(), 1, "{:?}", found);
    assert_eq!(found.pairs[0].image, one.join("a.png"));
    assert!(found.skipped.is_empty());
    // Missing folders are a usage problem, not a skip.
    let o = ImportOptions {
        images: Some(t.path().join("nope")),
        masks: Some(ma),
        ..Default::default()
    };
    assert!(discover(ImportFormat::Folders, &o).is_err());
}

#[test]
fn ctc_frames_with_seg_only_and_3d_slices_reported() {
    let t = tempfile::tempdir().unwrap();
    let ds = t.path().join("Fluo-X");
    let seq = ds.join("01");
    let seg = ds.join("01_GT").join("SEG");
    std::fs::create_dir_all(&seq).unwrap();
    std::fs::create_dir_all(&seg).unwrap();
    std::fs::create_dir_all(ds.join("01_GT").join("TRA")).unwrap();
    for f in ["t000.tif", "t001.tif", "t002.tif"] {
        gray16_tiff(&seq.join(f), 24, 16);
    }
    labels_tiff16(&seg.join("man_seg000.tif"), 24, 16, &squares(24, 16, 4, 1));
    labels_tiff16(&seg.join("man_seg002.tif"), 24, 16, &squares(24, 16, 4, 1));
    labels_tiff16(
        &seg.join("man_seg_001_005.tif"),
        24,
        16,
        &squares(24, 16, 4, 1),
    );
    labels_tiff16(&seg.join("man_seg007.tif"), 24, 16, &squares(24, 16, 4, 1));
    for input in [&ds, &seq] {
        let found = discover(ImportFormat::Ctc, &opts(&[input])).unwrap();
        let ids: Vec<&str> = found.pairs.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(
            ids,
            ["Fluo-X_01_t000", "Fluo-X_01_t002"],
            "input {}",
            input.display()
        );
        assert_eq!(found.pairs[1].image, seq.join("t002.tif"));
        assert_eq!(found.skipped.len(), 2, "{:?}", found.skipped);
        assert!(found
            .skipped
            .iter()
            .any(|s| s.source.ends_with("man_seg_001_005.tif") && s.reason.contains("3-D")));
        assert!(found
            .skipped
            .iter()
            .any(|s| s.source.ends_with("man_seg007.tif") && s.reason.contains("no frame")));
    }
    assert!(
        discover(ImportFormat::Ctc, &opts(&[t.path()])).is_err(),
        "no sequence below"
    );
}

fn img(w: usize, h: usize, anns: Vec<(u64, Segmentation)>) -> CocoImage {
    CocoImage {
        id: 1,
        file_name: "a.png".into(),
        width: w,
        height: h,
        annotations: anns
            .into_iter()
            .map(|(id, segmentation)| Annotation { id, segmentation })
            .collect(),
    }
}

/// Column-major RLE counts of a row-major mask.
fn counts_of(mask: &[bool], w: usize, h: usize) -> Vec<u64> {
    let mut counts = Vec::new();
    let (mut cur, mut run) = (false, 0u64);
    for x in 0..w {
        for y in 0..h {
            let v = mask[y * w + x];
            if v != cur {
                counts.push(run);
                cur = v;
                run = 0;
            }
            run += 1;
        }
    }
    counts.push(run);
    counts
}

#[test]
fn coco_polygons_and_rle_match_pycocotools() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/coco_polygons.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run reference/gen_target_fixtures.py)",
            path.display()
        )
    });
    let cases: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    assert!(cases.len() >= 15);
    for (k, c) in cases.iter().enumerate() {
        let (h, w) = (
            c["height"].as_u64().unwrap() as usize,
            c["width"].as_u64().unwrap() as usize,
        );
        let poly: Vec<f64> = c["polygon"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let counts: Vec<u64> = c["counts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        let compressed = c["compressed"].as_str().unwrap().to_string();
        // Polygon rasterising: exact.
        let l = rasterize_image(&img(w, h, vec![(5, Segmentation::Polygons(vec![poly]))])).unwrap();
        let mask: Vec<bool> = l.data().iter().map(|&v| v != 0).collect();
        assert_eq!(
            counts_of(&mask, w, h),
            counts,
            "case {k}: polygon mask differs from pycocotools"
        );
        assert_eq!(
            mask.iter().filter(|&&m| m).count() as u64,
            c["area"].as_u64().unwrap()
        );
        // Compressed and list RLE decode to the same mask.
        for cnt in [Counts::Compressed(compressed), Counts::List(counts.clone())] {
            let l2 = rasterize_image(&img(
                w,
                h,
                vec![(
                    5,
                    Segmentation::Rle {
                        size: [h, w],
                        counts: cnt,
                    },
                )],
            ))
            .unwrap();
            assert_eq!(l2.data(), l.data(), "case {k}: RLE");
        }
    }
}

#[test]
fn coco_overlaps_go_to_the_smaller_annotation_and_labels_follow_ids() {
    // 10x8 image. Annotation 30: big box (x 0..8, y 0..6); 20: small box inside it (x 2..4,
    // y 2..4) as uncompressed RLE; 10: a box overlapping the big one only (x 7..10, y 5..8).
    let (w, h) = (10usize, 8usize);
    let mut small = vec![false; w * h];
    for y in 2..4 {
        for x in 2..4 {
            small[y * w + x] = true;
        }
    }
    let poly = |x0: f64, y0: f64, x1: f64, y1: f64| {
        Segmentation::Polygons(vec![vec![x0, y0, x1, y0, x1, y1, x0, y1]])
    };
    let im = img(
        w,
        h,
        vec![
            (10, poly(7.0, 5.0, 9.0, 7.0)),
            (
                20,
                Segmentation::Rle {
                    size: [h, w],
                    counts: Counts::List(counts_of(&small, w, h)),
                },
            ),
            (30, poly(0.0, 0.0, 7.0, 5.0)),
        ],
    );
    let l = rasterize_image(&im).unwrap();
    let at = |x: usize, y: usize| l.data()[y * w + x];
    // Labels by id order: 10 -> 1, 20 -> 2, 30 -> 3.
    assert_eq!(at(2, 2), 2, "the small annotation wins inside the big one");
    assert_eq!(at(0, 0), 3);
    assert_eq!(
        at(7, 5),
        1,
        "the corner shared by 10 and 30 goes to the smaller (10)"
    );
    assert_eq!(at(9, 0), 0);
    // Equal areas: the larger id wins.
    let im = img(
        w,
        h,
        vec![(1, poly(0.0, 0.0, 3.0, 3.0)), (2, poly(1.0, 1.0, 4.0, 4.0))],
    );
    let l = rasterize_image(&im).unwrap();
    assert_eq!(l.data()[2 * w + 2], 2);
    // A size mismatch of an RLE is an error naming the annotation.
    let im = img(
        w,
        h,
        vec![(
            9,
            Segmentation::Rle {
                size: [h + 1, w],
                counts: Counts::List(vec![88]),
            },
        )],
    );
    assert!(rasterize_image(&im).unwrap_err().contains("annotation 9"));
}

/// Defect: a COCO JSON claiming a 65500x65500 image allocated its 17 GB label image; the
/// image readers' pixel limit now applies to the size the JSON declares.
#[test]
fn coco_image_size_over_the_pixel_limit_is_refused_before_allocating() {
    let e = rasterize_image(&img(65500, 65500, vec![])).expect_err("over the pixel limit");
    assert!(
        e.contains("65500x65500") && e.contains("pixel limit"),
        "{e}"
    );
}

#[test]
fn livecell_json_with_annotation_dict_and_image_lookup() {
    let t = tempfile::tempdir().unwrap();
    let imgs = t.path().join("images").join("A172");
    std::fs::create_dir_all(&imgs).unwrap();
    gray_png(&imgs.join("A172_1.png"), 12, 10);
    let json = t.path().join("train.json");
    // LIVECell stores annotations as an object keyed by id; crowd annotations are ignored.
    std::fs::write(
        &json,
        r#"{"images": [{"id": 7, "file_name": "A172_1.png", "width": 12, "height": 10},
                       {"id": 8, "file_name": "missing.png", "width": 12, "height": 10}],
            "annotations": {
              "101": {"id": 101, "image_id": 7, "segmentation": [[1, 1, 5, 1, 5, 5, 1, 5]], "iscrowd": 0},
              "102": {"id": 102, "image_id": 7, "segmentation": {"size": [10, 12], "counts": "V237000d0"}},
              "103": {"id": 103, "image_id": 7, "segmentation": [[6, 6, 9, 6, 9, 9]], "iscrowd": 1}
            },
            "categories": [{"id": 1, "name": "cell"}]}"#,
    )
    .unwrap();
    let o = ImportOptions {
        inputs: vec![json.clone()],
        images: Some(t.path().join("images")),
        ..Default::default()
    };
    let found = discover(ImportFormat::Livecell, &o).unwrap();
    assert_eq!(found.pairs.len(), 1);
    assert_eq!(found.pairs[0].id, "A172_1");
    assert_eq!(
        found.pairs[0].image,
        imgs.join("A172_1.png"),
        "found below --images by name"
    );
    assert!(found.pairs[0]
        .labels_description()
        .ends_with("train.json#image_id=7"));
    assert_eq!(found.skipped.len(), 1);
    assert!(found.skipped[0].reason.contains("missing.png"));
    let l = found.pairs[0].load_labels().unwrap();
    let mut vals: Vec<u32> = l.data().to_vec();
    vals.sort();
    vals.dedup();
    assert_eq!(vals, [0, 1, 2], "two non-crowd annotations");
    let set = CocoSet::load(&json).unwrap();
    assert_eq!(set.images[0].annotations.len(), 2);
    // Unparsable JSON is an error naming the file.
    std::fs::write(&json, "{").unwrap();
    let e = discover(ImportFormat::Livecell, &o)
        .unwrap_err()
        .to_string();
    assert!(e.contains("train.json"), "{e}");
}
