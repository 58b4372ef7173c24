//! `samcell segment` with samcell-lite: `--model lite:PATH`, a lite file given as a plain path,
//! the `SAMCELL_LITE_WEIGHTS` override (which also stands in for a built-in model, so the
//! default-model path is tested whether or not this build embeds one), and the errors.
//!
//! The weights are untrained (seeded, written by the test): these tests are about model
//! selection, the model's own tiling and the metadata, not about segmentation quality.

mod common;

use common::*;
use samcell_lite::LiteConfig;
use std::path::{Path, PathBuf};

/// A small lite network with an unusual tiling (96 + 16), so the run metadata shows whether
/// the model's tiling was used.
fn write_lite(dir: &Path) -> (PathBuf, String) {
    let config = LiteConfig {
        base_width: 4,
        levels: 2,
        norm_groups: 0,
        crop: 96,
        overlap: 16,
    };
    let bytes = samcell_lite::untrained_file_bytes(&config, 17).expect("weights");
    let path = dir.join("lite-test.safetensors");
    std::fs::write(&path, &bytes).unwrap();
    (path, samcell_lite::sha256_hex(&bytes))
}

fn segment(
    img: &Path,
    out: &Path,
    model: Option<&str>,
    env: Option<&Path>,
) -> (i32, String, serde_json::Value) {
    let mut c = samcell();
    c.env_remove("SAMCELL_LITE_WEIGHTS");
    if let Some(p) = env {
        c.env("SAMCELL_LITE_WEIGHTS", p);
    }
    c.arg("segment")
        .arg(img)
        .args(["--threads", "2", "--output"])
        .arg(out);
    if let Some(m) = model {
        c.args(["--model", m]);
    }
    let (code, _, err) = run(&mut c);
    let meta = if code == 0 {
        json(&out.join("run.json"))
    } else {
        serde_json::Value::Null
    };
    (code, err, meta)
}

fn check_lite_run(code: i32, err: &str, meta: &serde_json::Value, sha: &str) {
    assert_eq!(code, 0, "stderr:\n{err}");
    assert_eq!(meta["model"]["sha256"], sha, "{meta:#}");
    assert!(
        meta["model"]["variant"]
            .as_str()
            .unwrap()
            .contains("samcell-lite"),
        "{meta:#}"
    );
    assert!(
        meta["model"]["predictor"]
            .as_str()
            .unwrap()
            .contains("samcell-lite"),
        "{meta:#}"
    );
    assert_eq!(
        meta["settings"]["crop"], 96,
        "the model's own tiling: {meta:#}"
    );
    assert_eq!(
        meta["settings"]["overlap"], 16,
        "the model's own tiling: {meta:#}"
    );
    assert_eq!(meta["summary"]["ok"], 1, "{meta:#}");
}

#[test]
fn lite_by_path_by_env_and_as_default() {
    let tmp = tempfile::tempdir().unwrap();
    let (weights, sha) = write_lite(tmp.path());
    let img = tmp.path().join("a.png");
    write_test_png(&img, 256, 0);

    let spec = format!("lite:{}", weights.display());
    let (code, err, meta) = segment(&img, &tmp.path().join("o1"), Some(&spec), None);
    check_lite_run(code, &err, &meta, &sha);
    assert!(tmp.path().join("o1/a_masks.tif").is_file());

    // a lite file given as a plain path is recognised by its metadata
    let (code, err, meta) = segment(
        &img,
        &tmp.path().join("o2"),
        Some(weights.to_str().unwrap()),
        None,
    );
    check_lite_run(code, &err, &meta, &sha);

    // SAMCELL_LITE_WEIGHTS replaces the built-in model, for --model lite and for the default
    let (code, err, meta) = segment(&img, &tmp.path().join("o3"), Some("lite"), Some(&weights));
    check_lite_run(code, &err, &meta, &sha);
    let (code, err, meta) = segment(&img, &tmp.path().join("o4"), None, Some(&weights));
    check_lite_run(code, &err, &meta, &sha);
    assert!(
        err.contains("model: samcell-lite")
            && err.contains("use --model generalist for SAMCell ViT-B"),
        "the default model is announced; stderr:\n{err}"
    );
}

#[test]
fn lite_without_a_model_and_bad_lite_arguments() {
    let tmp = tempfile::tempdir().unwrap();
    let (weights, _) = write_lite(tmp.path());
    let img = tmp.path().join("a.png");
    write_test_png(&img, 64, 0);

    let (code, err, meta) = segment(&img, &tmp.path().join("o1"), Some("lite"), None);
    let (dcode, derr, dmeta) = segment(&img, &tmp.path().join("o2"), None, None);
    match samcell_lite::builtin_weights() {
        None => {
            assert_eq!(code, 2, "stderr:\n{err}");
            assert!(
                err.contains("this build has no lite model"),
                "stderr:\n{err}"
            );
            assert_eq!(dcode, 2, "stderr:\n{derr}");
            assert!(derr.contains("no model given"), "stderr:\n{derr}");
        }
        Some(bytes) => {
            let sha = samcell_lite::sha256_hex(bytes);
            assert_eq!(code, 0, "stderr:\n{err}");
            assert_eq!(meta["model"]["sha256"], sha.as_str());
            assert_eq!(dcode, 0, "stderr:\n{derr}");
            assert_eq!(dmeta["model"]["path"], samcell_lite::BUILTIN_NAME);
            let said = if samcell_lite::builtin_nuclei_weights().is_some() {
                "model: samcell-lite (built-in), with samcell-lite-nuclei (built-in) for images \
                 unlike phase-contrast cells — use --model generalist for SAMCell ViT-B"
            } else {
                "model: samcell-lite (built-in) — use --model generalist for SAMCell ViT-B"
            };
            assert!(derr.contains(said), "stderr:\n{derr}");
        }
    }

    let missing = format!("lite:{}", tmp.path().join("nope.safetensors").display());
    let (code, err, _) = segment(&img, &tmp.path().join("o3"), Some(&missing), None);
    assert_eq!(code, 2, "stderr:\n{err}");
    assert!(
        err.contains("nope.safetensors") && err.contains("not found"),
        "stderr:\n{err}"
    );

    // a file that is not lite weights, named as lite
    let junk = tmp.path().join("junk.safetensors");
    std::fs::write(&junk, b"junk").unwrap();
    let (code, err, _) = segment(
        &img,
        &tmp.path().join("o4"),
        Some(&format!("lite:{}", junk.display())),
        None,
    );
    assert_eq!(
        code, 1,
        "a bad model file is a failure, not a usage error; stderr:\n{err}"
    );
    assert!(err.contains("samcell-lite"), "stderr:\n{err}");

    let mut c = samcell();
    c.env_remove("SAMCELL_LITE_WEIGHTS");
    c.arg("segment")
        .arg(&img)
        .arg("--output")
        .arg(tmp.path().join("o5"));
    c.args([
        "--model",
        &format!("lite:{}", weights.display()),
        "--model-config",
    ])
    .arg(&junk);
    let (code, _, err) = run(&mut c);
    assert_eq!(code, 2, "stderr:\n{err}");
    assert!(err.contains("--model-config"), "stderr:\n{err}");
}

/// `images/`, `gt/` (both created) and `out/` under `dir`: a test split and its results.
fn split_dirs(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let (images, gt) = (dir.join("images"), dir.join("gt"));
    std::fs::create_dir_all(&images).unwrap();
    std::fs::create_dir_all(&gt).unwrap();
    (images, gt, dir.join("out"))
}

/// `samcell segment IMAGES` with the default model (no `--model`, no `SAMCELL_LITE_WEIGHTS`)
/// into `out`, 2 threads, plus `extra`; must succeed; returns its stderr.
fn segment_default(images: &Path, out: &Path, extra: &[&str]) -> String {
    let mut c = samcell();
    c.env_remove("SAMCELL_LITE_WEIGHTS");
    c.arg("segment")
        .arg(images)
        .args(["--threads", "2"])
        .args(extra)
        .arg("--output")
        .arg(out);
    let (code, _, err) = run(&mut c);
    assert_eq!(code, 0, "stderr:\n{err}");
    err
}

/// `samcell eval` of `pred` against `gt`, written into `dir`; its pooled figures.
fn eval_pooled(pred: &Path, gt: &Path, dir: &Path) -> serde_json::Value {
    let mut c = samcell();
    c.arg("eval")
        .arg("--pred")
        .arg(pred)
        .arg("--gt")
        .arg(gt)
        .arg("--output")
        .arg(dir);
    let (code, _, err) = run(&mut c);
    assert_eq!(code, 0, "stderr:\n{err}");
    json(&dir.join("eval.json"))["pooled"].clone()
}

/// The built-in model on its held-out validation split (Usiigaci set5, set10, ..., set45; see
/// MODEL_CARD.md): `samcell segment` with no `--model`, then `samcell eval`, must give the card's
/// figures. Card: OP_CSB 0.7519; asserted: >= 0.745 (room for the portable kernel path,
/// whose rounding differs from the AVX2 + FMA path the card was measured on). Skipped, with a
/// line saying so, in builds without a built-in model (no `models/samcell-lite.safetensors`)
/// and without the Usiigaci images; with `SAMCELL_REQUIRE_DATA=1` either fails the test.
#[test]
fn builtin_model_reaches_its_card_figures_on_the_held_out_split() {
    if samcell_lite::builtin_weights().is_none() {
        samcell_testdata::skip(
            "this build has no built-in samcell-lite model (models/samcell-lite.safetensors)",
        );
        return;
    }
    if !have(&[], &[USIIGACI]) {
        return;
    }
    let src = data().join("usiigaci-phc/train");
    let tmp = tempfile::tempdir().unwrap();
    let (images, gt, out) = split_dirs(tmp.path());
    for n in (5..=45).step_by(5) {
        std::fs::copy(
            src.join(format!("images/set{n}.tif")),
            images.join(format!("set{n}.tif")),
        )
        .unwrap();
        std::fs::copy(
            src.join(format!("masks/set{n}.png")),
            gt.join(format!("set{n}.png")),
        )
        .unwrap();
    }
    let err = segment_default(&images, &out, &[]);
    assert!(err.contains(samcell_lite::BUILTIN_NAME), "stderr:\n{err}");
    let pooled = &eval_pooled(&out, &gt, tmp.path());
    let op_csb = pooled["op_csb"].as_f64().unwrap();
    eprintln!(
        "held-out split: OP_CSB {op_csb:.4}, SEG {}, DET {}",
        pooled["seg"], pooled["det"]
    );
    assert!(
        op_csb >= 0.745,
        "OP_CSB {op_csb:.4} on the held-out split (card: 0.7519)"
    );
}

/// The default model on the DSB 2018 test split of MODEL_CARD.md (the images whose id's SHA-256
/// starts with a byte that is 0, 1 or 2 modulo 20: 107 images, 4,489 nuclei; never used for
/// training or for any choice): `samcell segment` without `--model` sends the fluorescence and
/// bright-field images to the built-in nuclei model, then `samcell eval` must give the card's
/// figure. Card: OP_CSB 0.7000; asserted: >= 0.69 (room for the portable kernel path). Skipped,
/// with a line saying so, in builds without both built-in models and without the DSB images;
/// with `SAMCELL_REQUIRE_DATA=1` the missing images fail the test.
#[test]
fn default_model_reaches_its_card_figure_on_the_dsb_test_split() {
    use sha2::{Digest, Sha256};
    if !builtin_pair_present() {
        return;
    }
    if !have(&[], &[DSB]) {
        return;
    }
    let src = data().join("dsb2018-train");
    let tmp = tempfile::tempdir().unwrap();
    let (images, gt, out) = split_dirs(tmp.path());
    let mut n = 0;
    for entry in std::fs::read_dir(src.join("images")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let Some(id) = name.strip_suffix(".png") else {
            continue;
        };
        if Sha256::digest(id.as_bytes())[0] % 20 >= 3 {
            continue;
        }
        std::fs::copy(src.join("images").join(&name), images.join(&name)).unwrap();
        std::fs::copy(src.join("labels").join(&name), gt.join(&name)).unwrap();
        n += 1;
    }
    assert_eq!(n, 107, "the DSB 2018 test split of MODEL_CARD.md");
    segment_default(&images, &out, &["-q"]);
    let meta = json(&out.join("run.json"));
    let routed = meta["images"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|im| im["segmented_with"] == samcell_lite::NUCLEI_NAME)
        .count();
    let pooled = &eval_pooled(&out, &gt, tmp.path());
    let op_csb = pooled["op_csb"].as_f64().unwrap();
    eprintln!(
        "DSB 2018 test split: OP_CSB {op_csb:.4}, SEG {}, DET {}; {routed} of {n} images sent to \
         the nuclei model",
        pooled["seg"], pooled["det"]
    );
    // card: 105 of 107 routed
    assert!(routed >= 100, "{routed} of {n} images routed");
    assert!(op_csb >= 0.69, "OP_CSB {op_csb:.4} (card: 0.7000)");
}
