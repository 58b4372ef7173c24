//! `samcell segment` with the built-in model warns when an image looks unlike its training data
//! (`samcell_pipeline::domain`): fluorescence-like images get the warning in the log and in
//! `run.json`, with the remedy; phase-contrast images like the training set do not. With the
//! default `lite`, such an image is segmented by the built-in nuclei model instead, and the
//! warning says so; `lite-cells` and `lite-nuclei` are either model alone.
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

const ROUTED: &str = "it was segmented with samcell-lite-nuclei (built-in) instead";

/// Segments `inputs` with the default (built-in) model; the warnings of each image by name.
fn warnings(inputs: &Path, out: &Path) -> (String, Vec<(String, Vec<String>)>) {
    warnings_with(inputs, out, &[])
}

/// [`warnings`] with more arguments (e.g. `--model lite-cells`).
fn warnings_with(
    inputs: &Path,
    out: &Path,
    extra: &[&str],
) -> (String, Vec<(String, Vec<String>)>) {
    let mut c = samcell();
    c.env_remove("SAMCELL_LITE_WEIGHTS");
    c.arg("segment")
        .arg(inputs)
        .args(["--threads", "2", "--output"])
        .arg(out)
        .args(extra);
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

/// A folder `in/` under `dir` holding one fluorescence-like image, `nuclei.png`.
fn fluorescence_input(dir: &Path) -> std::path::PathBuf {
    let input = dir.join("in");
    std::fs::create_dir_all(&input).unwrap();
    write_fluorescence_png(&input.join("nuclei.png"));
    input
}

#[test]
fn a_fluorescence_like_image_is_called_out_of_domain_with_the_remedy() {
    if !builtin_present() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let input = fluorescence_input(tmp.path());
    let (err, images) = warnings(&input, &tmp.path().join("out"));
    let w = &images[0].1;
    assert!(
        w.iter()
            .any(|s| s.contains("background level") && s.contains(REMEDY)),
        "{w:?}"
    );
    assert!(err.contains(REMEDY), "the log says it too:\n{err}");
    let routed = w.iter().any(|s| s.contains(ROUTED));
    assert_eq!(
        routed,
        samcell_lite::builtin_nuclei_weights().is_some(),
        "with the nuclei model built in, the image went to it: {w:?}"
    );
}

/// `lite-cells` is the cell model alone (the warning, no second model); `lite-nuclei` the
/// nuclei model alone (no check: its thresholds were measured for the cell model). The default
/// `lite` records its fallback in run.json.
#[test]
fn lite_cells_and_lite_nuclei_are_either_model_alone() {
    if !builtin_pair_present() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let input = fluorescence_input(tmp.path());

    let out = tmp.path().join("cells");
    let (_, images) = warnings_with(&input, &out, &["--model", "lite-cells"]);
    let w = &images[0].1;
    assert!(w.iter().any(|s| s.contains(REMEDY)), "{w:?}");
    assert!(!w.iter().any(|s| s.contains(ROUTED)), "{w:?}");
    let meta = json(&out.join("run.json"));
    let model = &meta["model"];
    assert_eq!(model["path"], samcell_lite::BUILTIN_NAME);
    assert_eq!(model["name"], "lite-cells");
    assert!(model.get("fallback").is_none(), "{model}");
    let image = &meta["images"][0];
    assert!(image.get("segmented_with").is_none(), "{image}");

    let out = tmp.path().join("nuclei");
    let (_, images) = warnings_with(&input, &out, &["--model", "lite-nuclei"]);
    assert!(images[0].1.is_empty(), "{:?}", images[0].1);
    let meta = json(&out.join("run.json"));
    assert_eq!(meta["model"]["path"], samcell_lite::NUCLEI_NAME);
    assert_eq!(
        meta["model"]["sha256"],
        samcell_lite::NUCLEI_SHA256.unwrap()
    );

    let out = tmp.path().join("auto");
    let (_, images) = warnings(&input, &out);
    assert!(images[0].1.iter().any(|s| s.contains(ROUTED)));
    let meta = json(&out.join("run.json"));
    assert_eq!(meta["model"]["path"], samcell_lite::BUILTIN_NAME);
    assert_eq!(meta["model"]["fallback"]["path"], samcell_lite::NUCLEI_NAME);
    assert_eq!(
        meta["images"][0]["segmented_with"],
        samcell_lite::NUCLEI_NAME
    );
    // the nuclei model finds the blurred nuclei the cell model is unsure of
    assert!(
        meta["images"][0]["n_cells"].as_u64().unwrap() >= 3,
        "{meta}"
    );
}

/// Results of the cell model alone are not those of the default pair: a run of the default
/// into a folder that `--model lite-cells` filled redoes the image (same weights, but no
/// fallback then), where a second run of the default skips it.
#[test]
fn results_of_the_cell_model_alone_are_redone_by_the_default() {
    if !builtin_pair_present() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let input = fluorescence_input(tmp.path());
    let out = tmp.path().join("out");
    warnings_with(&input, &out, &["--model", "lite-cells"]);
    let (err, images) = warnings(&input, &out);
    assert!(err.contains("made with a different model"), "{err}");
    assert!(images[0].1.iter().any(|s| s.contains(ROUTED)), "{images:?}");
    let (err, _) = warnings(&input, &out);
    assert!(err.contains("skipped, outputs exist"), "{err}");
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
        if samcell_lite::builtin_nuclei_weights().is_some() {
            let routed = w.iter().any(|s| s.contains(ROUTED));
            assert_eq!(routed, name.starts_with("dsb"), "{name}: {w:?}");
        }
    }
}

/// Nuclei a few pixels across: the built-in nuclei model (alone or behind the default) says
/// they measure under the size it segments well and suggests `--scale 2`; with `--scale`
/// given, nothing is suggested.
#[test]
fn small_nuclei_get_the_scale_advice() {
    if !builtin_pair_present() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    // bright blurred dots about 6 px across, 14 px apart, on a dark background
    let img = image::GrayImage::from_fn(256, 256, |x, y| {
        let (dx, dy) = (f64::from(x % 14) - 7.0, f64::from(y % 14) - 7.0);
        let v = 10.0 + 220.0 * (-(dx * dx + dy * dy) / (2.0 * 2.5f64.powi(2))).exp();
        image::Luma([v as u8])
    });
    img.save(input.join("dots.png")).unwrap();
    let advice = "try --scale 2";
    for extra in [&["--model", "lite-nuclei"][..], &[]] {
        let out = tmp.path().join(format!("out{}", extra.len()));
        let (err, images) = warnings_with(&input, &out, extra);
        let w = &images[0].1;
        assert!(
            w.iter()
                .any(|s| s.contains("px across") && s.contains(advice)),
            "{extra:?}: {w:?}"
        );
        assert!(err.contains(advice), "the log says it too:\n{err}");
        let px = json(&out.join("run.json"))["images"][0]["object_diameter_px"]
            .as_f64()
            .expect("estimate recorded");
        assert!(px < 14.0, "{px}");
        // the nuclei model's 4 crops (256+32); behind the default, also the 4 crops of the cell
        // model (576+32 tiling) whose map decided the route
        let crops = json(&out.join("run.json"))["images"][0]["n_crops"].clone();
        assert_eq!(crops, if extra.is_empty() { 8 } else { 4 }, "{extra:?}");
    }
    let out = tmp.path().join("given");
    let (_, images) = warnings_with(&input, &out, &["--model", "lite-nuclei", "--scale", "1"]);
    assert!(images[0].1.is_empty(), "{:?}", images[0].1);
}
