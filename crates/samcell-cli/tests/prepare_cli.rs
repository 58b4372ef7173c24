//! `samcell prepare`: every format from tiny fixtures written here, bad pairs reported and
//! recorded, exit codes, and a real run over three Usiigaci images (SAMCELL_DATA; skipped with a
//! line without them).

mod common;

use common::{data, have, run, samcell, USIIGACI};
use samcell_data::{distance_target, TargetMethod, TrainSet};
use std::path::Path;

fn gray_png(path: &Path, w: u32, h: u32) {
    image::GrayImage::from_fn(w, h, |x, y| image::Luma([(x * 9 + y * 5) as u8]))
        .save(path)
        .unwrap();
}

/// u16 grey PNG labels with `n` 4x4 squares.
fn mask_png(path: &Path, w: u32, h: u32, n: u32) {
    let mut v = vec![0u16; (w * h) as usize];
    for k in 0..n {
        for y in 1..5 {
            for x in 1 + 5 * k..5 + 5 * k {
                v[(y * w + x) as usize] = (k + 1) as u16;
            }
        }
    }
    image::ImageBuffer::<image::Luma<u16>, Vec<u16>>::from_raw(w, h, v)
        .unwrap()
        .save(path)
        .unwrap();
}

fn tiff_u16(path: &Path, w: u32, h: u32, v: &[u16]) {
    let f = std::fs::File::create(path).unwrap();
    tiff::encoder::TiffEncoder::new(f)
        .unwrap()
        .write_image::<tiff::encoder::colortype::Gray16>(w, h, v)
        .unwrap();
}

fn prepare(args: &[&str]) -> (i32, String, String) {
    run(samcell().arg("prepare").args(args))
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn cellpose_with_a_bad_pair_is_prepared_and_the_pair_reported() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("cp");
    std::fs::create_dir_all(&d).unwrap();
    gray_png(&d.join("a_img.png"), 24, 8);
    mask_png(&d.join("a_masks.png"), 24, 8, 3);
    gray_png(&d.join("b_img.png"), 20, 8); // size mismatch
    mask_png(&d.join("b_masks.png"), 24, 8, 2);
    let out = t.path().join("set");
    let (code, stdout, stderr) = prepare(&["--format", "cellpose", p(&d), "--out", p(&out)]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("b_img.png") && stderr.contains("size mismatch"),
        "{stderr}"
    );
    assert!(
        stdout.contains("1 sample(s), 3 cell(s), 1 skipped"),
        "{stdout}"
    );
    let set = TrainSet::open(&out).unwrap();
    set.verify_checksums().unwrap();
    assert_eq!(set.manifest().skipped.len(), 1);
    assert!(set.manifest().skipped[0].reason.contains("size mismatch"));
    assert_eq!(set.samples()[0].id, "a");
    // The output exists now: a second run needs --overwrite (usage error 2).
    let (code, _, stderr) = prepare(&["--format", "cellpose", p(&d), "--out", p(&out)]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--overwrite"), "{stderr}");
    let (code, _, stderr) = prepare(&[
        "--format",
        "cellpose",
        p(&d),
        "--out",
        p(&out),
        "--overwrite",
        "--target",
        "edt",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        TrainSet::open(&out).unwrap().target_method(),
        TargetMethod::Edt
    );
}

#[test]
fn ctc_livecell_and_folders_are_prepared() {
    let t = tempfile::tempdir().unwrap();
    // CTC
    let seq = t.path().join("DS").join("01");
    let seg = t.path().join("DS").join("01_GT").join("SEG");
    std::fs::create_dir_all(&seq).unwrap();
    std::fs::create_dir_all(&seg).unwrap();
    let img: Vec<u16> = (0..24 * 8).map(|i| (i * 13) as u16).collect();
    let mut lab = vec![0u16; 24 * 8];
    lab[30..34].copy_from_slice(&[5, 5, 5, 5]);
    tiff_u16(&seq.join("t000.tif"), 24, 8, &img);
    tiff_u16(&seq.join("t001.tif"), 24, 8, &img);
    tiff_u16(&seg.join("man_seg001.tif"), 24, 8, &lab);
    let out = t.path().join("ctc_set");
    let (code, stdout, stderr) =
        prepare(&["--format", "ctc", p(&t.path().join("DS")), "--out", p(&out)]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("1 sample(s), 1 cell(s), 0 skipped"),
        "{stdout}"
    );
    assert_eq!(TrainSet::open(&out).unwrap().samples()[0].id, "DS_01_t001");

    // LIVECell (COCO JSON, image found below --images)
    let imgs = t.path().join("lc_images").join("A172");
    std::fs::create_dir_all(&imgs).unwrap();
    gray_png(&imgs.join("A172_x.png"), 16, 12);
    let json = t.path().join("lc.json");
    std::fs::write(
        &json,
        r#"{"images":[{"id":3,"file_name":"A172_x.png","width":16,"height":12}],
            "annotations":[{"id":1,"image_id":3,"segmentation":[[1,1,9,1,9,9,1,9]]},
                           {"id":2,"image_id":3,"segmentation":[[3,3,6,3,6,6,3,6]]}]}"#,
    )
    .unwrap();
    let out = t.path().join("lc_set");
    let lc_images = t.path().join("lc_images");
    let (code, stdout, stderr) = prepare(&[
        "--format",
        "livecell",
        p(&json),
        "--images",
        p(&lc_images),
        "--out",
        p(&out),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("1 sample(s), 2 cell(s)"), "{stdout}");
    let s = TrainSet::open(&out).unwrap().load(0).unwrap();
    assert_eq!(
        s.labels.get(4, 4),
        2,
        "the smaller annotation wins the overlap"
    );

    // Folders
    let (im, ma) = (t.path().join("im"), t.path().join("ma"));
    std::fs::create_dir_all(&im).unwrap();
    std::fs::create_dir_all(&ma).unwrap();
    gray_png(&im.join("x.png"), 24, 8);
    mask_png(&ma.join("x_mask.png"), 24, 8, 4);
    let out = t.path().join("f_set");
    let (code, stdout, stderr) = prepare(&[
        "--format",
        "folders",
        "--images",
        p(&im),
        "--masks",
        p(&ma),
        "--out",
        p(&out),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("1 sample(s), 4 cell(s), 0 skipped"),
        "{stdout}"
    );
}

#[test]
fn nothing_importable_exits_1_and_usage_errors_exit_2() {
    let t = tempfile::tempdir().unwrap();
    let (im, ma) = (t.path().join("im"), t.path().join("ma"));
    std::fs::create_dir_all(&im).unwrap();
    std::fs::create_dir_all(&ma).unwrap();
    gray_png(&im.join("x.png"), 24, 8);
    mask_png(&ma.join("x.png"), 24, 8, 0); // empty mask
    std::fs::write(im.join("y.png"), b"garbage").unwrap(); // unreadable
    mask_png(&ma.join("y.png"), 24, 8, 1);
    let out = t.path().join("set");
    let (code, _, stderr) = prepare(&[
        "--format",
        "folders",
        "--images",
        p(&im),
        "--masks",
        p(&ma),
        "--out",
        p(&out),
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("x.png") && stderr.contains("empty mask"),
        "{stderr}"
    );
    assert!(
        stderr.contains("y.png") && stderr.contains("unreadable image"),
        "{stderr}"
    );
    assert!(!out.exists() && !t.path().join("set.partial").exists());

    for args in [
        vec!["--format", "folders", "--images", p(&im), "--out", p(&out)],
        vec!["--format", "cellpose", "--out", p(&out)],
        vec![
            "--format",
            "cellpose",
            "/definitely/not/here",
            "--out",
            p(&out),
        ],
        vec!["--format", "ctc", p(&im), "--out", p(&out)],
        vec![
            "--format",
            "cellpose",
            p(&im),
            "--masks",
            p(&ma),
            "--out",
            p(&out),
        ],
        vec!["--format", "nope", p(&im), "--out", p(&out)],
    ] {
        let (code, _, stderr) = prepare(&args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
    }
}

#[test]
fn real_usiigaci_images_are_prepared() {
    if !have(&[], &[USIIGACI]) {
        return;
    }
    let src = data().join("usiigaci-phc/train");
    let t = tempfile::tempdir().unwrap();
    let (im, ma) = (t.path().join("images"), t.path().join("masks"));
    std::fs::create_dir_all(&im).unwrap();
    std::fs::create_dir_all(&ma).unwrap();
    for n in ["set1", "set2", "set3"] {
        let (i, m) = (
            src.join(format!("images/{n}.tif")),
            src.join(format!("masks/{n}.png")),
        );
        assert!(
            i.is_file() && m.is_file(),
            "{} / {} missing (SAMCELL_DATA)",
            i.display(),
            m.display()
        );
        std::os::unix::fs::symlink(&i, im.join(format!("{n}.tif"))).unwrap();
        std::os::unix::fs::symlink(&m, ma.join(format!("{n}.png"))).unwrap();
    }
    let out = t.path().join("set");
    let (code, stdout, stderr) = prepare(&[
        "--format",
        "folders",
        "--images",
        p(&im),
        "--masks",
        p(&ma),
        "--out",
        p(&out),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("3 sample(s)"), "{stdout}");
    let set = TrainSet::open(&out).unwrap();
    set.verify_checksums().unwrap();
    let m = set.manifest();
    assert_eq!(m.counts.samples, 3);
    assert!(
        m.counts.cells > 3 * 30,
        "Usiigaci has 38..114 cells per image: {}",
        m.counts.cells
    );
    for (i, e) in set.samples().iter().enumerate() {
        assert_eq!((e.width, e.height), (1024, 1022));
        let s = set.load(i).unwrap();
        let gray = samcell_io::read_gray(Path::new(&e.source), &Default::default()).unwrap();
        assert_eq!(
            s.image.data(),
            gray.data(),
            "{}: same pixels as samcell segment reads",
            e.id
        );
        let lab = samcell_data::read_labels(Path::new(&e.source_labels)).unwrap();
        assert_eq!(s.labels.data(), lab.data());
        assert_eq!(
            s.target.data(),
            distance_target(&lab, TargetMethod::Chamfer3).data()
        );
    }
}
