//! Writing and reading the training-set format: bad pairs are skipped with reasons, checksums,
//! atomic creation, round trip through `TrainSet::open` + `load`.

mod common;

use common::*;
use samcell_data::{
    discover, distance_target, ImportFormat, ImportOptions, TargetMethod, TrainSet, TrainSetWriter,
    WriteOptions,
};
use std::path::Path;

fn wopts(target: TargetMethod, overwrite: bool) -> WriteOptions {
    WriteOptions {
        target,
        overwrite,
        created_by: "samcell test".into(),
    }
}

/// Folder pairs: good ones (`good1` u16 PNG labels, `good2` u32 TIFF labels > 65535 on a u16
/// TIFF image) and one of each bad kind.
fn make_folders(root: &Path) -> ImportOptions {
    let (im, ma) = (root.join("images"), root.join("masks"));
    std::fs::create_dir_all(&im).unwrap();
    std::fs::create_dir_all(&ma).unwrap();
    gray_png(&im.join("good1.png"), 24, 12);
    labels_png16(&ma.join("good1_masks.png"), 24, 12, &squares(24, 12, 4, 1));
    gray16_tiff(&im.join("good2.tif"), 24, 12);
    labels_tiff32(&ma.join("good2.tif"), 24, 12, &squares(24, 12, 3, 70_000));
    gray_png(&im.join("size.png"), 20, 12);
    labels_png16(&ma.join("size.png"), 24, 12, &squares(24, 12, 2, 1));
    gray_png(&im.join("empty.png"), 24, 12);
    labels_png16(&ma.join("empty.png"), 24, 12, &[0; 24 * 12]);
    gray_png(&im.join("rgb.png"), 24, 12);
    rgb_png(&ma.join("rgb.png"), 24, 12);
    std::fs::write(im.join("broken.png"), b"not an image at all").unwrap();
    labels_png16(&ma.join("broken.png"), 24, 12, &squares(24, 12, 2, 1));
    gray_png(&im.join("good1.bmp.png"), 24, 12); // id "good1.bmp" is distinct: fine
    labels_png16(&ma.join("good1.bmp.png"), 24, 12, &squares(24, 12, 1, 1));
    gray_png(&im.join("good1.tiff"), 24, 12); // same stem as good1.png: duplicate id
    ImportOptions {
        images: Some(im),
        masks: Some(ma),
        ..Default::default()
    }
}

#[test]
fn writes_a_set_skips_bad_pairs_and_round_trips() {
    let t = tempfile::tempdir().unwrap();
    let found = discover(ImportFormat::Folders, &make_folders(t.path())).unwrap();
    assert!(found.skipped.is_empty(), "{:?}", found.skipped);
    let out = t.path().join("set");
    let mut w = TrainSetWriter::create(&out, wopts(TargetMethod::Chamfer3, false)).unwrap();
    assert!(
        t.path().join("set.partial").is_dir(),
        "built in <out>.partial"
    );
    assert!(!out.exists());
    for p in &found.pairs {
        let _ = w.add(p).unwrap();
    }
    let m = w.finish().unwrap();
    assert!(!t.path().join("set.partial").exists());
    let ids: Vec<&str> = m.samples.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["good1.bmp", "good1", "good2"]);
    assert_eq!(
        (m.counts.samples, m.counts.cells, m.counts.skipped),
        (3, 8, 5)
    );
    let reason = |stem: &str| {
        m.skipped
            .iter()
            .find(|s| Path::new(&s.source).file_name().unwrap().to_string_lossy() == stem)
            .unwrap_or_else(|| panic!("{stem} not skipped: {:?}", m.skipped))
            .reason
            .clone()
    };
    assert!(reason("size.png").contains("size mismatch"));
    assert!(reason("empty.png").contains("empty mask"));
    assert!(reason("rgb.png").contains("unreadable labels"));
    assert!(reason("broken.png").contains("unreadable image"));
    assert!(reason("good1.tiff").contains("duplicate id"));

    let set = TrainSet::open(&out).unwrap();
    set.verify_checksums().unwrap();
    assert_eq!(set.len(), 3);
    assert_eq!(set.target_method(), TargetMethod::Chamfer3);
    let on_disk: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(on_disk["format"], "samcell-trainset");
    assert_eq!(on_disk["version"], 1);
    assert_eq!(on_disk["samples"][1]["image"], "images/good1.tif");
    assert_eq!(
        on_disk["samples"][0]["sha256"]["target"]
            .as_str()
            .unwrap()
            .len(),
        64
    );
    for (i, e) in set.samples().iter().enumerate() {
        let s = set.load(i).unwrap();
        let src = samcell_io::read_gray(Path::new(&e.source), &Default::default()).unwrap();
        assert_eq!(
            s.image.data(),
            src.data(),
            "{}: pixels as samcell segment reads them",
            e.id
        );
        let lab = samcell_data::read_labels(Path::new(&e.source_labels)).unwrap();
        assert_eq!(s.labels.data(), lab.data(), "{}: labels unchanged", e.id);
        assert_eq!(
            s.target.data(),
            distance_target(&lab, TargetMethod::Chamfer3).data()
        );
        assert!(s.target.data().contains(&1.0));
    }
    assert!(set.load(3).is_err());

    // A corrupted file fails the checksum; a missing one fails open.
    std::fs::write(out.join("targets/good2.tif"), b"x").unwrap();
    assert!(set
        .verify_checksums()
        .unwrap_err()
        .to_string()
        .contains("good2"));
    std::fs::remove_file(out.join("labels/good1.tif")).unwrap();
    assert!(TrainSet::open(&out)
        .unwrap_err()
        .to_string()
        .contains("missing"));
}

#[test]
fn existing_output_needs_overwrite_and_empty_runs_create_nothing() {
    let t = tempfile::tempdir().unwrap();
    let found = discover(ImportFormat::Folders, &make_folders(t.path())).unwrap();
    let out = t.path().join("set");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("keep"), "old").unwrap();
    assert!(TrainSetWriter::create(&out, wopts(TargetMethod::Edt, false)).is_err());
    // Nothing importable: error, the old set stays, no partial left.
    let mut w = TrainSetWriter::create(&out, wopts(TargetMethod::Edt, true)).unwrap();
    let bad: Vec<_> = found
        .pairs
        .iter()
        .filter(|p| p.id == "empty" || p.id == "size")
        .collect();
    for p in bad {
        assert!(w.add(p).unwrap().is_err());
    }
    assert!(w.finish().is_err());
    assert!(out.join("keep").is_file());
    assert!(!t.path().join("set.partial").exists());
    // With --overwrite a good run replaces it.
    let mut w = TrainSetWriter::create(&out, wopts(TargetMethod::Edt, true)).unwrap();
    for p in &found.pairs {
        let _ = w.add(p).unwrap();
    }
    let m = w.finish().unwrap();
    assert_eq!(m.target, "edt");
    assert!(!out.join("keep").exists());
    assert!(!t.path().join("set.old").exists());
    let set = TrainSet::open(&out).unwrap();
    assert_eq!(set.target_method(), TargetMethod::Edt);
    set.verify_checksums().unwrap();
}

#[test]
fn every_format_writes_a_loadable_set() {
    let t = tempfile::tempdir().unwrap();
    // Cellpose.
    let cp = t.path().join("cp");
    std::fs::create_dir_all(&cp).unwrap();
    gray_png(&cp.join("a_img.png"), 20, 10);
    labels_png16(&cp.join("a_masks.png"), 20, 10, &squares(20, 10, 3, 1));
    // CTC.
    let seq = t.path().join("DS").join("02");
    let seg = t.path().join("DS").join("02_GT").join("SEG");
    std::fs::create_dir_all(&seq).unwrap();
    std::fs::create_dir_all(&seg).unwrap();
    gray16_tiff(&seq.join("t0005.tif"), 20, 10);
    labels_tiff16(&seg.join("man_seg0005.tif"), 20, 10, &squares(20, 10, 2, 1));
    // LIVECell.
    gray_png(&t.path().join("lc.png"), 20, 10);
    let json = t.path().join("lc.json");
    std::fs::write(
        &json,
        r#"{"images":[{"id":1,"file_name":"lc.png","width":20,"height":10}],
        "annotations":[{"id":1,"image_id":1,"segmentation":[[2,2,8,2,8,8,2,8]]}]}"#,
    )
    .unwrap();
    let cases = [
        (ImportFormat::Cellpose, cp.clone(), "a", 3),
        (ImportFormat::Ctc, seq.clone(), "DS_02_t0005", 2),
        (ImportFormat::Livecell, json.clone(), "lc", 1),
    ];
    for (fmt, input, id, cells) in cases {
        let found = discover(
            fmt,
            &ImportOptions {
                inputs: vec![input],
                ..Default::default()
            },
        )
        .unwrap();
        let out = t.path().join(format!("out_{}", fmt.name()));
        let mut w = TrainSetWriter::create(&out, wopts(TargetMethod::Chamfer3, false)).unwrap();
        for p in &found.pairs {
            assert!(w.add(p).unwrap().is_ok(), "{}", fmt.name());
        }
        let m = w.finish().unwrap();
        assert_eq!(m.samples[0].id, id);
        assert_eq!(m.samples[0].cells, cells, "{}", fmt.name());
        let s = TrainSet::open(&out).unwrap().load(0).unwrap();
        assert_eq!((s.image.width(), s.image.height()), (20, 10));
    }
}

/// A colour source keeps its three channels in `colour/<id>.tif` beside the grey image that
/// `samcell segment` reads; grey stored as RGB and grey sources get no colour file.
#[test]
fn colour_sources_keep_their_channels() {
    let t = tempfile::tempdir().unwrap();
    let (im, ma) = (t.path().join("images"), t.path().join("masks"));
    std::fs::create_dir_all(&im).unwrap();
    std::fs::create_dir_all(&ma).unwrap();
    let (w, h) = (24u32, 12u32);
    let pixel = |x: u32, y: u32| image::Rgba([(x * 10) as u8, (y * 20) as u8, (x + y) as u8, 200]);
    image::RgbaImage::from_fn(w, h, pixel)
        .save(im.join("colour.png"))
        .unwrap();
    image::RgbImage::from_fn(w, h, |x, _| image::Rgb([x as u8; 3]))
        .save(im.join("greyrgb.png"))
        .unwrap();
    gray_png(&im.join("grey.png"), w, h);
    for stem in ["colour", "greyrgb", "grey"] {
        labels_png16(&ma.join(format!("{stem}.png")), w, h, &squares(w, h, 2, 1));
    }
    let opts = ImportOptions {
        images: Some(im.clone()),
        masks: Some(ma),
        ..Default::default()
    };
    let found = discover(ImportFormat::Folders, &opts).unwrap();
    let out = t.path().join("set");
    let mut wr = TrainSetWriter::create(&out, wopts(TargetMethod::default(), false)).unwrap();
    for p in &found.pairs {
        wr.add(p).unwrap().unwrap();
    }
    let m = wr.finish().unwrap();
    let entry = |id: &str| m.samples.iter().find(|s| s.id == id).unwrap().clone();
    assert_eq!(entry("colour").colour.as_deref(), Some("colour/colour.tif"));
    assert_eq!(
        entry("greyrgb").colour,
        None,
        "equal channels: nothing to mix"
    );
    assert_eq!(entry("grey").colour, None);
    let on_disk: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let grey_entry = on_disk["samples"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "grey")
        .unwrap();
    assert!(
        grey_entry.get("colour").is_none() && grey_entry["sha256"].get("colour").is_none(),
        "grey samples are written as before colour existed: {grey_entry}"
    );

    let set = TrainSet::open(&out).unwrap();
    set.verify_checksums().unwrap();
    assert_eq!(set.colour_samples(), 1);
    let i = set.samples().iter().position(|s| s.id == "colour").unwrap();
    let planes = set.load_colour(i).unwrap().expect("colour planes");
    for (c, plane) in planes.iter().enumerate() {
        assert_eq!((plane.width(), plane.height()), (w as usize, h as usize));
        for y in 0..h {
            for x in 0..w {
                assert_eq!(
                    plane.data()[(y * w + x) as usize],
                    pixel(x, y).0[c],
                    "channel {c}"
                );
            }
        }
    }
    let grey = samcell_io::read_gray(&im.join("colour.png"), &Default::default()).unwrap();
    assert_eq!(
        set.load(i).unwrap().image.data(),
        grey.data(),
        "the grey image is still the one samcell segment reads"
    );
    let g = set.samples().iter().position(|s| s.id == "grey").unwrap();
    assert!(set.load_colour(g).unwrap().is_none());

    // The colour file is checked like the others.
    std::fs::write(out.join("colour/colour.tif"), b"x").unwrap();
    let e = set.load_colour(i).unwrap_err().to_string();
    assert!(e.contains("colour/colour.tif") && e.contains("TIFF"), "{e}");
    assert!(set
        .verify_checksums()
        .unwrap_err()
        .to_string()
        .contains("colour/colour.tif"));
    std::fs::remove_file(out.join("colour/colour.tif")).unwrap();
    assert!(TrainSet::open(&out)
        .unwrap_err()
        .to_string()
        .contains("colour/colour.tif is missing"));
}
