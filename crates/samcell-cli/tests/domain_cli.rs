//! `samcell segment` with the built-in model warns when an image looks unlike its training data
//! (`samcell_pipeline::domain`): fluorescence-like images get the warning in the log and in
//! `run.json`, with the remedy; phase-contrast images like the training set do not.
//!
//! Skipped, with a line saying so, in builds without a built-in model; the real-image test also
//! needs the DSB 2018 and Usiigaci images (a failure under `SAMCELL_REQUIRE_DATA=1`).

mod common;

use common::*;
use std::path::Path;

const REMEDY: &str = "try --model generalist";

fn builtin_present() -> bool {
    if samcell_lite::builtin_weights().is_none() {
        samcell_testdata::skip(
            "this build has no built-in samcell-lite model (models/samcell-lite.safetensors)",
        );
        return false;
    }
    true
}

/// Segments `inputs` with the default (built-in) model; the warnings of each image by name.
fn warnings(inputs: &Path, out: &Path) -> (String, Vec<(String, Vec<String>)>) {
    let mut c = samcell();
    c.env_remove("SAMCELL_LITE_WEIGHTS");
    c.arg("segment")
        .arg(inputs)
        .args(["--threads", "2", "--output"])
        .arg(out);
    let (code, _, err) = run(&mut c);
    assert_eq!(code, 0, "stderr:\n{err}");
    let meta = json(&out.join("run.json"));
    let images = meta["images"].as_array().expect("images").iter();
    let by_name = images
        .map(|im| {
            let w = im["warnings"].as_array().cloned().unwrap_or_default();
            let w = w.iter().filter_map(|s| s.as_str().map(String::from));
            (im["name"].as_str().unwrap().to_string(), w.collect())
        })
        .collect();
    (err, by_name)
}

/// A fluorescence-like image: dark background, bright blurred round nuclei.
fn write_fluorescence_png(path: &Path) {
    let (w, h) = (256u32, 256u32);
    let centres = [
        (60.0, 60.0),
        (150.0, 80.0),
        (90.0, 170.0),
        (200.0, 200.0),
        (190.0, 40.0),
    ];
    let img = image::GrayImage::from_fn(w, h, |x, y| {
        let v = centres.iter().fold(8.0f64, |acc, &(cx, cy)| {
            let d2 = (f64::from(x) - cx).powi(2) + (f64::from(y) - cy).powi(2);
            acc + 220.0 * (-d2 / (2.0 * 9.0f64.powi(2))).exp()
        });
        image::Luma([v.min(255.0) as u8 + ((x * 7 + y * 13) % 5) as u8])
    });
    img.save(path).unwrap();
}

#[test]
fn a_fluorescence_like_image_is_called_out_of_domain_with_the_remedy() {
    if !builtin_present() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    write_fluorescence_png(&input.join("nuclei.png"));
    let (err, images) = warnings(&input, &tmp.path().join("out"));
    let w = &images[0].1;
    assert!(
        w.iter()
            .any(|s| s.contains("background level") && s.contains(REMEDY)),
        "{w:?}"
    );
    assert!(err.contains(REMEDY), "the log says it too:\n{err}");
}

/// Two DSB 2018 fluorescence images and two Usiigaci phase-contrast images in one run: the
/// measurement behind the thresholds (MODEL_CARD.md) flags the first kind and not the second.
#[test]
fn real_fluorescence_is_flagged_and_real_phase_contrast_is_not() {
    if !builtin_present() || !have(&[], &[DSB, USIIGACI]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    copy_dsb(0, &input.join("dsb0.png"));
    copy_dsb(1, &input.join("dsb1.png"));
    for n in [1, 2] {
        let src = data().join(format!("usiigaci-phc/train/images/set{n}.tif"));
        std::fs::copy(&src, input.join(format!("phc{n}.tif"))).unwrap();
    }
    let (_, images) = warnings(&input, &tmp.path().join("out"));
    assert_eq!(images.len(), 4);
    for (name, w) in &images {
        let flagged = w.iter().any(|s| s.contains(REMEDY));
        assert_eq!(flagged, name.starts_with("dsb"), "{name}: {w:?}");
    }
}
