//! `samcell train` end to end with the built binary and the reference harness's tiny SAM
//! (`sam_tiny_scaled.safetensors`, `config_tiny.json`) on real Usiigaci phase-contrast images
//! (SAMCELL_DATA/usiigaci-phc), prepared into the training-set format with `samcell_data`.
//! Without them these tests skip with a line saying what is missing (see samcell-testdata);
//! the augmentation options are tested on a small synthetic set that needs nothing.

use samcell_data::{
    discover, ImportFormat, ImportOptions, TargetMethod, TrainSetWriter, WriteOptions,
};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A training set of the first `n` Usiigaci images (by name).
fn prepare(out: &Path, n: usize) -> PathBuf {
    let src = samcell_testdata::data_dir().join("usiigaci-phc/train");
    let images = src.join("images");
    let masks = src.join("masks");
    assert!(
        images.is_dir() && masks.is_dir(),
        "{} must hold images/ and masks/",
        src.display()
    );
    write_set(images, masks, out, n)
}

/// A training set (`out/set`) of the first `n` image/mask pairs (by name) of two folders.
fn write_set(images: PathBuf, masks: PathBuf, out: &Path, n: usize) -> PathBuf {
    let opts = ImportOptions {
        images: Some(images),
        masks: Some(masks),
        ..Default::default()
    };
    let mut found = discover(ImportFormat::Folders, &opts).expect("discover usiigaci pairs");
    found.pairs.sort_by(|a, b| a.id.cmp(&b.id));
    assert!(
        found.pairs.len() >= n,
        "only {} pairs found",
        found.pairs.len()
    );
    let set = out.join("set");
    let wopts = WriteOptions {
        target: TargetMethod::Chamfer3,
        overwrite: false,
        created_by: "train_cli test".into(),
    };
    let mut w = TrainSetWriter::create(&set, wopts).unwrap();
    for p in &found.pairs[..n] {
        w.add(p).unwrap().expect("pair accepted");
    }
    w.finish().unwrap();
    set
}

fn samcell() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_samcell"));
    c.env("RAYON_NUM_THREADS", "2").env_remove("RUST_LOG");
    c
}

/// The common arguments of a tiny-SAM run.
fn tiny_args(set: &Path, out: &Path, extra: &[&str]) -> Vec<String> {
    let w = samcell_testdata::reference_file("sam_tiny_scaled.safetensors");
    let cfg = samcell_testdata::reference_file("config_tiny.json");
    let mut a: Vec<String> = vec![
        "train".into(),
        "--data".into(),
        set.display().to_string(),
        "--init".into(),
        w.display().to_string(),
        "--init-config".into(),
        cfg.display().to_string(),
        "--out".into(),
        out.display().to_string(),
    ];
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

fn run_ok(args: &[String]) -> String {
    let o = samcell().args(args).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "samcell {args:?} failed: {err}");
    err
}

/// `log.csv` without the wall-clock column.
fn log_without_seconds(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("log.csv"))
        .unwrap()
        .lines()
        .map(|l| l.rsplit_once(',').unwrap().0.to_string())
        .collect()
}

#[test]
fn killed_run_resumes_to_the_same_weights() {
    if samcell_testdata::require(
        &["sam_tiny_scaled.safetensors", "config_tiny.json"],
        &["usiigaci-phc"],
    )
    .is_none()
    {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let set = prepare(tmp.path(), 3);
    // 3 images: 1 validation, 2 training; batch 1: 2 steps per epoch, 2 epochs; a resume point
    // after every step.
    let extra = [
        "--epochs",
        "2",
        "--batch-size",
        "1",
        "--warmup",
        "1",
        "--lr",
        "1e-3",
        "--val-crops",
        "1",
        "--checkpoint-every",
        "1",
        "--seed",
        "3",
    ];
    let a = tmp.path().join("a");
    run_ok(&tiny_args(&set, &a, &extra));

    let b = tmp.path().join("b");
    let args = tiny_args(&set, &b, &extra);
    let mut child = samcell()
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let latest = b.join("state/latest");
    let t0 = Instant::now();
    loop {
        if std::fs::read_to_string(&latest)
            .map(|s| s.trim() == "ckpt-0000000001")
            .unwrap_or(false)
        {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "training ended before the first resume point was seen"
        );
        assert!(
            t0.elapsed() < Duration::from_secs(600),
            "no resume point after 600 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // Mid-epoch 1 of 2: step 1 of 4 done. SIGKILL.
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run must still be going when killed"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let state_at_kill = std::fs::read_to_string(&latest).unwrap();
    assert_ne!(
        state_at_kill.trim(),
        "ckpt-0000000004",
        "killed before the end"
    );

    let mut resume = args.clone();
    resume.push("--resume".into());
    run_ok(&resume);
    for f in ["best.safetensors", "last.safetensors"] {
        let (x, y) = (
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
        );
        assert!(
            x == y,
            "{f}: the resumed run's weights must be bit-identical to the uninterrupted run's"
        );
    }
    assert_eq!(
        log_without_seconds(&a),
        log_without_seconds(&b),
        "same losses and learning rates per epoch"
    );

    // Resuming with another setting is refused (usage error, exit 2).
    let mut other = tiny_args(&set, &b, &extra);
    other.extend(["--resume".into(), "--weight-decay".into(), "0.2".into()]);
    let o = samcell().args(&other).output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("weight_decay"));
    // Starting over an existing run without --resume is refused too.
    let o = samcell()
        .args(tiny_args(&set, &b, &extra))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn short_real_run_lowers_the_validation_loss() {
    if samcell_testdata::require(
        &["sam_tiny_scaled.safetensors", "config_tiny.json"],
        &["usiigaci-phc"],
    )
    .is_none()
    {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let set = prepare(tmp.path(), 4);
    let out = tmp.path().join("run");
    let extra = [
        "--epochs",
        "3",
        "--batch-size",
        "2",
        "--warmup",
        "0",
        "--lr",
        "2e-3",
        "--val-crops",
        "2",
        "--checkpoint-every",
        "0",
        "--seed",
        "1",
    ];
    let t0 = Instant::now();
    run_ok(&tiny_args(&set, &out, &extra));
    eprintln!(
        "3 epochs of 3 images + validation: {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    let log = std::fs::read_to_string(out.join("log.csv")).unwrap();
    eprintln!("{log}");
    let val: Vec<f64> = log
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(4).unwrap().parse().unwrap())
        .collect();
    assert_eq!(val.len(), 3, "{log}");
    let best = val.iter().cloned().fold(f64::INFINITY, f64::min);
    assert!(
        best < val[0],
        "validation loss must fall below the first epoch's: {val:?}"
    );
    let png = std::fs::read(out.join("loss.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(cfg["config"]["batch_size"], 2);
    assert_eq!(cfg["val_ids"].as_array().unwrap().len(), 1);
}

#[test]
fn cuda_without_the_feature_and_missing_model_are_usage_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let o = samcell()
        .args(["train", "--data", "nowhere", "--out"])
        .arg(tmp.path().join("r"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "no --init / --from-scratch");
    let o = samcell()
        .args([
            "train",
            "--data",
            "nowhere",
            "--from-scratch",
            "--arch-config",
            "tiny",
            "--device",
            "cuda",
            "--out",
        ])
        .arg(tmp.path().join("r"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    if !cfg!(feature = "cuda") {
        assert!(err.contains("without CUDA"), "{err}");
    }
}

/// `--arch lite`: a small samcell-lite shape trains from scratch on its own crop size (recorded
/// in config.json), its validation loss falls, a rerun on another thread count gives identical
/// weights, and `samcell segment --model lite:PATH` runs the result; a bad lite shape is a
/// usage error.
#[test]
fn lite_architecture_trains_and_its_weights_segment() {
    if samcell_testdata::require(&[], &["usiigaci-phc"]).is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let set = prepare(tmp.path(), 3);
    let out = tmp.path().join("lite");
    let shape = r#"{"base_width":4,"levels":2,"norm_groups":2,"crop":96,"overlap":16}"#;
    let mut args: Vec<String> = [
        "train",
        "--arch",
        "lite",
        "--from-scratch",
        "--arch-config",
        shape,
        "--data",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(set.display().to_string());
    args.push("--out".into());
    args.push(out.display().to_string());
    for a in [
        "--epochs",
        "4",
        "--batch-size",
        "1",
        "--warmup",
        "0",
        "--lr",
        "3e-3",
        "--val-crops",
        "6",
        "--seed",
        "3",
    ] {
        args.push(a.into());
    }
    run_ok(&args);
    // The same command on one thread instead of two gives the same run, bit for bit (the
    // lite kernels compute every value in a fixed order): retraining reproduces the model.
    let out1 = tmp.path().join("lite-1thread");
    let args1: Vec<String> = args
        .iter()
        .map(|a| {
            if *a == out.display().to_string() {
                out1.display().to_string()
            } else {
                a.clone()
            }
        })
        .collect();
    let o = samcell()
        .env("RAYON_NUM_THREADS", "1")
        .args(&args1)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(log_without_seconds(&out), log_without_seconds(&out1));
    assert_eq!(
        std::fs::read(out.join("best.safetensors")).unwrap(),
        std::fs::read(out1.join("best.safetensors")).unwrap(),
        "same seed, same weights"
    );
    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(
        cfg["config"]["crop"], 96,
        "lite trains on its own tile size"
    );
    assert_eq!(cfg["model"]["arch"], "lite");
    let log = std::fs::read_to_string(out.join("log.csv")).unwrap();
    let val: Vec<f64> = log
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(4).unwrap().parse().unwrap())
        .collect();
    assert_eq!(val.len(), 4, "{log}");
    assert!(
        val.iter().cloned().fold(f64::INFINITY, f64::min) < val[0],
        "validation loss must fall: {log}"
    );

    let image = samcell_testdata::data_dir().join("usiigaci-phc/train/images/set1.tif");
    let seg_out = tmp.path().join("seg");
    let model = format!("lite:{}", out.join("best.safetensors").display());
    let o = samcell()
        .args(["segment", "--model", &model, "--output"])
        .arg(&seg_out)
        .arg(&image)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("samcell-lite"), "{err}");
    assert!(seg_out.join("set1_masks.tif").is_file(), "{err}");

    let o = samcell()
        .args([
            "train",
            "--arch",
            "lite",
            "--from-scratch",
            "--arch-config",
            r#"{"base_width":0}"#,
            "--data",
        ])
        .arg(&set)
        .arg("--out")
        .arg(tmp.path().join("bad"))
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // --init-config describes SAM checkpoints only: refused rather than ignored
    let o = samcell()
        .args(["train", "--arch", "lite", "--init"])
        .arg(out.join("best.safetensors"))
        .args(["--init-config"])
        .arg(out.join("config.json"))
        .arg("--data")
        .arg(&set)
        .arg("--out")
        .arg(tmp.path().join("bad2"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--init-config"), "{err}");
}

/// A training set of `n` synthetic 120 x 100 images (bright discs on a darker textured
/// background, labels as u16 PNG), for runs that need no real data.
fn synthetic_set(out: &Path, n: usize) -> PathBuf {
    let (images, masks) = synthetic_pairs(out, n, false);
    write_set(images, masks, out, n)
}

/// `n` synthetic image/mask pairs (grey, or with the cells in the blue channel only) in
/// `out/syn_images` and `out/syn_masks`.
fn synthetic_pairs(out: &Path, n: usize, colour: bool) -> (PathBuf, PathBuf) {
    let (images, masks) = (out.join("syn_images"), out.join("syn_masks"));
    std::fs::create_dir_all(&images).unwrap();
    std::fs::create_dir_all(&masks).unwrap();
    let (w, h) = (120u32, 100u32);
    for k in 0..n as u32 {
        let centres = [(30 + 5 * k, 30), (80, 40 + 4 * k), (50, 75)];
        let cell = |x: u32, y: u32| {
            centres.iter().position(|&(cx, cy)| {
                let (dx, dy) = (x as i64 - cx as i64, y as i64 - cy as i64);
                dx * dx + dy * dy <= 12 * 12
            })
        };
        let grey = |x: u32, y: u32| {
            let bg = 60 + ((x * 7 + y * 3 + k * 11) % 23) as u8;
            if cell(x, y).is_some() {
                190
            } else {
                bg
            }
        };
        let path = images.join(format!("s{k}.png"));
        if colour {
            image::RgbImage::from_fn(w, h, |x, y| image::Rgb([20, 30, grey(x, y)]))
                .save(path)
                .unwrap();
        } else {
            image::GrayImage::from_fn(w, h, |x, y| image::Luma([grey(x, y)]))
                .save(path)
                .unwrap();
        }
        let labels: Vec<u16> = (0..w * h)
            .map(|i| cell(i % w, i / w).map_or(0, |c| c as u16 + 1))
            .collect();
        image::ImageBuffer::<image::Luma<u16>, Vec<u16>>::from_raw(w, h, labels)
            .unwrap()
            .save(masks.join(format!("s{k}_mask.png")))
            .unwrap();
    }
    (images, masks)
}

/// `samcell train` arguments for one epoch of a tiny samcell-lite from scratch on `set` into
/// `out` (batch 1, one validation crop, seed 2).
fn tiny_lite_run(set: &Path, out: &Path) -> Vec<String> {
    [
        "train",
        "--arch",
        "lite",
        "--from-scratch",
        "--arch-config",
        r#"{"base_width":4,"levels":2,"norm_groups":2,"crop":96,"overlap":16}"#,
        "--data",
        &set.display().to_string(),
        "--out",
        &out.display().to_string(),
        "--epochs",
        "1",
        "--batch-size",
        "1",
        "--warmup",
        "0",
        "--val-crops",
        "1",
        "--seed",
        "2",
    ]
    .map(String::from)
    .to_vec()
}

/// `--augment wide` with an override trains a tiny samcell-lite for one epoch on synthetic data
/// and records the ranges in config.json; bad augmentation values are usage errors naming
/// their flag.
#[test]
fn wide_augmentation_trains_and_is_recorded() {
    let tmp = tempfile::tempdir().unwrap();
    let set = synthetic_set(tmp.path(), 3);
    let out = tmp.path().join("wide");
    let base = |out: &Path| tiny_lite_run(&set, out);
    let mut args = base(&out);
    args.extend(["--augment", "wide", "--aug-noise", "1,2,3"].map(String::from));
    run_ok(&args);
    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("config.json")).unwrap()).unwrap();
    let a = &cfg["config"]["augment"];
    let pair = |k: &str| (a[k][0].as_f64().unwrap(), a[k][1].as_f64().unwrap());
    assert_eq!(pair("scale"), (0.5, 2.0), "{a}");
    assert_eq!(pair("gamma"), (0.5, 2.0), "{a}");
    assert_eq!(pair("contrast"), (0.5, 1.5), "{a}");
    assert_eq!(
        (a["blur_p"].as_f64(), pair("blur_sigma")),
        (Some(0.3), (0.5, 2.0))
    );
    assert_eq!(
        (a["noise_p"].as_f64(), pair("noise_sigma")),
        (Some(1.0), (2.0, 3.0))
    );
    assert_eq!(
        a["flip_p"].as_f64(),
        Some(0.5),
        "the paper's augmentations stay on"
    );
    assert_eq!(log_without_seconds(&out).len(), 2, "header and one epoch");
    // Resuming with other augmentation ranges is refused.
    let mut other = base(&out);
    other.extend(["--augment", "wide", "--resume"].map(String::from));
    let o = samcell().args(&other).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");

    for (extra, flag) in [
        (&["--aug-gamma", "2,0.5"][..], "--aug-gamma"),
        (&["--aug-blur", "0.3,1"], "--aug-blur"),
        (&["--aug-noise", "-1,1,2"], "--aug-noise"),
        (&["--augment", "sharp"], "--augment"),
    ] {
        let mut args = base(&tmp.path().join("bad"));
        args.extend(extra.iter().map(|s| s.to_string()));
        let o = samcell().args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains(flag), "{extra:?}: {err}");
    }
    assert!(!tmp.path().join("bad").exists(), "nothing started");
}

/// `samcell prepare` keeps the channels of colour images; `--aug-channel-grey` is recorded and
/// says how many training samples it acts on, and warns when none of them has colour.
#[test]
fn channel_to_grey_augmentation_uses_the_kept_colour() {
    let tmp = tempfile::tempdir().unwrap();
    let (images, masks) = synthetic_pairs(tmp.path(), 3, true);
    let set = tmp.path().join("colour_set");
    run_ok(
        &[
            "prepare",
            "--format",
            "folders",
            "--images",
            &images.display().to_string(),
            "--masks",
            &masks.display().to_string(),
            "--out",
            &set.display().to_string(),
        ]
        .map(String::from),
    );
    for k in 0..3 {
        assert!(set.join(format!("colour/s{k}.tif")).is_file());
    }
    let grey_dir = tempfile::tempdir().unwrap();
    let grey_set = synthetic_set(grey_dir.path(), 3);
    assert!(!grey_set.join("colour").exists());
    let train = |set: &Path, out: &Path| -> String {
        let mut args = tiny_lite_run(set, out);
        args.extend(["--aug-channel-grey", "1"].map(String::from));
        run_ok(&args)
    };
    let out = tmp.path().join("run");
    let err = train(&set, &out);
    assert!(
        err.contains("channel-to-grey augmentation (p 1) on the 2 of 2 training samples"),
        "{err}"
    );
    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(
        cfg["config"]["augment"]["channel_grey_p"].as_f64(),
        Some(1.0)
    );
    let err = train(&grey_set, &tmp.path().join("grey_run"));
    assert!(
        err.contains("channel-to-grey augmentation (p 1) changes nothing: none of the 2 training samples kept colour channels"),
        "{err}"
    );
}
