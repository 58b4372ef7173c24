//! Sharded batches through the binary: `samcell segment --shard I/N` as independent concurrent
//! processes into one folder, `samcell summarize` merging them, an interrupted shard found and
//! completed, `--shard slurm` and bad `--shard` values.
//!
//! The model is the built-in samcell-lite (no `--model`); the images are synthetic PNGs and a
//! TIFF of different sizes written by the tests, except in the last test, which takes two frames
//! of the shared bacteria time-lapse (`SAMCELL_DATA/bacteria-timelapse`; skipped with a line
//! saying so when it is absent, a failure under `SAMCELL_REQUIRE_DATA=1`).

mod common;

use common::{json, run, samcell, write_test_png};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Image sides of the test batch: different sizes, so that balancing by pixels matters.
const SIDES: [u32; 7] = [40, 96, 56, 72, 48, 88, 64];

/// Writes the test batch into `dir/images` and returns that folder: PNGs of [`SIDES`] and one
/// TIFF.
fn images(dir: &Path) -> PathBuf {
    let folder = dir.join("images");
    for (i, side) in SIDES.iter().enumerate() {
        write_test_png(&folder.join(format!("img{i}.png")), *side, i as u32 + 1);
    }
    let png = folder.join("img0.png");
    let tif = folder.join("wide.tif");
    image::open(&png)
        .unwrap()
        .resize_exact(80, 36, image::imageops::FilterType::Nearest)
        .save(&tif)
        .unwrap();
    folder
}

/// `samcell segment INPUT --output OUT --threads 1` and `extra`.
fn segment(input: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut c = samcell();
    for k in [
        "SLURM_ARRAY_TASK_ID",
        "SLURM_ARRAY_TASK_MIN",
        "SLURM_ARRAY_TASK_COUNT",
    ] {
        c.env_remove(k);
    }
    c.arg("segment")
        .arg(input)
        .arg("--output")
        .arg(out)
        .args(["--threads", "1"])
        .args(extra);
    c
}

/// `samcell summarize OUT`: (exit code, stdout, stderr).
fn summarize(out: &Path) -> (i32, String, String) {
    run(samcell().arg("summarize").arg(out))
}

/// Runs shards `0/n`..`n-1/n` of `input` into `out` as concurrent processes; all must succeed.
fn run_shards(input: &Path, out: &Path, n: usize) -> Vec<String> {
    let children: Vec<_> = (0..n)
        .map(|i| {
            segment(input, out, &["--shard", &format!("{i}/{n}")])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn samcell")
        })
        .collect();
    children
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let o = c.wait_with_output().unwrap();
            let err = String::from_utf8_lossy(&o.stderr).into_owned();
            assert!(o.status.success(), "shard {i}:\n{err}");
            err
        })
        .collect()
}

/// The image records of a run record, without their times.
fn records(run_json: &Value) -> Vec<Value> {
    run_json["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.as_object_mut().unwrap().remove("seconds");
            r
        })
        .collect()
}

fn names(run_json: &Value, status: &str) -> Vec<String> {
    run_json["images"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == status)
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect()
}

/// Image `name`'s masks are the same bytes in folders `a` and `b`.
fn assert_same_masks(a: &Path, b: &Path, name: &str) {
    let file = format!("{name}_masks.tif");
    assert_eq!(
        std::fs::read(a.join(&file)).unwrap(),
        std::fs::read(b.join(&file)).unwrap(),
        "{file}"
    );
}

fn shard_record(out: &Path, i: usize, n: usize) -> Value {
    json(&out.join(format!("run-shard-{i}-of-{n}.json")))
}

#[test]
fn three_concurrent_shards_equal_an_unsharded_run() {
    let tmp = tempfile::tempdir().unwrap();
    let input = images(tmp.path());
    let (whole, sharded) = (tmp.path().join("whole"), tmp.path().join("sharded"));
    let (code, _, err) = run(&mut segment(&input, &whole, &[]));
    assert_eq!(code, 0, "{err}");
    let logs = run_shards(&input, &sharded, 3);
    assert!(logs[1].contains("shard 1 of 3: "), "{}", logs[1]);
    assert!(logs[1].contains(" megapixels) of 8"), "{}", logs[1]);
    assert!(!sharded.join("run.json").exists() && !sharded.join("summary.csv").exists());

    // every image segmented by exactly one shard
    let expected = json(&whole.join("run.json"));
    let all: Vec<String> = names(&expected, "ok");
    assert_eq!(all.len(), 8);
    let mut seen = BTreeSet::new();
    for i in 0..3 {
        let rec = shard_record(&sharded, i, 3);
        assert_eq!(rec["shard"]["index"], i);
        assert!(names(&rec, "skipped").is_empty() && names(&rec, "failed").is_empty());
        for n in names(&rec, "ok") {
            assert!(seen.insert(n.clone()), "{n} segmented twice");
        }
        assert!(sharded
            .join(format!("summary-shard-{i}-of-3.csv"))
            .is_file());
    }
    assert_eq!(seen, all.iter().cloned().collect::<BTreeSet<_>>());
    // the shards' shares are balanced by pixels, not by file count
    let shares: Vec<u64> = (0..3)
        .map(|i| {
            shard_record(&sharded, i, 3)["shard"]["shard_images"]
                .as_u64()
                .unwrap()
        })
        .collect();
    // pixels 9216 (img1), 7744, 5184, 4096, 3136, 2880 (wide), 2304, 1600: the heaviest
    // first to the least loaded shard; by file count it would be 3, 3, 2
    assert_eq!(shares, [2, 3, 3]);
    let first: BTreeSet<String> = names(&shard_record(&sharded, 0, 3), "ok")
        .into_iter()
        .collect();
    assert_eq!(first, ["img1".to_string(), "wide".to_string()].into());

    for name in &all {
        assert_same_masks(&whole, &sharded, name);
    }

    let (code, out, err) = summarize(&sharded);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(!out.contains("missing") && !out.contains("rerun"), "{out}");
    let merged = std::fs::read(sharded.join("run.json")).unwrap();
    let rows = std::fs::read_to_string(sharded.join("summary.csv")).unwrap();
    assert_eq!(
        rows,
        std::fs::read_to_string(whole.join("summary.csv")).unwrap()
    );
    let merged_json: Value = serde_json::from_slice(&merged).unwrap();
    assert_eq!(records(&merged_json), records(&expected));
    assert_eq!(merged_json["summary"]["ok"], 8);
    // idempotent, byte for byte
    assert_eq!(summarize(&sharded).0, 0);
    assert_eq!(std::fs::read(sharded.join("run.json")).unwrap(), merged);
    assert_eq!(
        std::fs::read_to_string(sharded.join("summary.csv")).unwrap(),
        rows
    );
}

/// Removes image `name`'s outputs, its record in shard `i` of `n`, and its summary row: what a
/// shard killed before the image leaves.
fn interrupt(out: &Path, i: usize, n: usize, name: &str) {
    for entry in std::fs::read_dir(out).unwrap() {
        let file = entry.unwrap().file_name().into_string().unwrap();
        if file.starts_with(&format!("{name}_")) {
            std::fs::remove_file(out.join(file)).unwrap();
        }
    }
    let path = out.join(format!("run-shard-{i}-of-{n}.json"));
    let mut rec = json(&path);
    rec["images"]
        .as_array_mut()
        .unwrap()
        .retain(|r| r["name"] != name);
    std::fs::write(&path, serde_json::to_vec_pretty(&rec).unwrap()).unwrap();
    let csv = out.join(format!("summary-shard-{i}-of-{n}.csv"));
    let text = std::fs::read_to_string(&csv).unwrap();
    let kept: String = text
        .lines()
        .filter(|l| !l.starts_with(&format!("{name},")))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&csv, kept).unwrap();
}

#[test]
fn an_interrupted_shard_is_listed_and_redone() {
    let tmp = tempfile::tempdir().unwrap();
    let input = images(tmp.path());
    let out = tmp.path().join("out");
    run_shards(&input, &out, 3);
    let done = names(&shard_record(&out, 1, 3), "ok");
    assert!(done.len() >= 2, "{done:?}");

    // shard 1 stopped before its first image: summarize names it, exit 1
    interrupt(&out, 1, 3, &done[0]);
    let (code, stdout, err) = summarize(&out);
    assert_eq!(code, 1, "{stdout}\n{err}");
    let missing = format!("\t{}\tno record", done[0]);
    assert!(stdout.contains(&missing), "{stdout}");
    assert!(stdout.contains("shards\t1/3\n"), "{stdout}");
    let rerun = stdout
        .lines()
        .find_map(|l| l.strip_prefix("rerun\t"))
        .unwrap_or_else(|| panic!("{stdout}"));
    let args: Vec<&str> = rerun.split(' ').collect();
    assert_eq!(args[..2], ["samcell", "segment"]);
    assert_eq!(
        args.len(),
        2 + 1 + 2 + 4,
        "one file, --output, the settings: {rerun}"
    );
    assert!(
        args[2].ends_with(".png") || args[2].ends_with(".tif"),
        "{rerun}"
    );
    assert!(!out.join(format!("{}_masks.tif", done[0])).exists());
    // what is there is merged all the same
    let merged = json(&out.join("run.json"));
    assert_eq!(merged["images"].as_array().unwrap().len(), 7);

    // the printed command redoes only that image
    let (code, _, err) = run(samcell().args(&args[1..]).args(["--threads", "1"]));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("1 ok, 0 skipped"), "{err}");
    let (code, stdout, err) = summarize(&out);
    assert_eq!(code, 0, "{stdout}\n{err}");
    let merged = json(&out.join("run.json"));
    assert_eq!(names(&merged, "ok").len(), 8);

    // shard 1 stopped before its last image, re-submitted as a Slurm array task: it does the
    // missing image, skips the finished ones and keeps their rows
    let last = done.last().unwrap();
    interrupt(&out, 1, 3, last);
    assert_eq!(summarize(&out).0, 1);
    let (code, _, err) = run(segment(&input, &out, &["--shard", "slurm"])
        .env("SLURM_ARRAY_TASK_ID", "11")
        .env("SLURM_ARRAY_TASK_MIN", "10")
        .env("SLURM_ARRAY_TASK_COUNT", "3"));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("shard 1 of 3"), "{err}");
    let rec = shard_record(&out, 1, 3);
    assert_eq!(names(&rec, "ok"), std::slice::from_ref(last));
    assert_eq!(names(&rec, "skipped").len(), done.len() - 1);
    let rows = std::fs::read_to_string(out.join("summary-shard-1-of-3.csv")).unwrap();
    assert_eq!(rows.lines().count(), 1 + done.len(), "{rows}");
    let (code, stdout, err) = summarize(&out);
    assert_eq!(code, 0, "{stdout}\n{err}");
    let rows = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    assert_eq!(rows.lines().count(), 1 + 8, "{rows}");
}

/// `--dry-run` lines of `extra`'s run over `input`.
fn dry_run(
    input: &Path,
    out: &Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (i32, String, String) {
    let mut c = segment(input, out, extra);
    c.arg("--dry-run");
    for (k, v) in env {
        c.env(k, v);
    }
    run(&mut c)
}

#[test]
fn shard_values_slurm_variables_and_dry_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let input = images(tmp.path());
    let out = tmp.path().join("out");
    let (code, whole, err) = dry_run(&input, &out, &[], &[]);
    assert_eq!(code, 0, "{err}");
    let whole: Vec<&str> = whole.lines().collect();
    assert_eq!(whole.len(), 8);

    // the shards' dry runs: disjoint, together the batch, each in the batch's order
    let mut union = BTreeSet::new();
    for i in 0..3 {
        let (code, lines, err) = dry_run(&input, &out, &["--shard", &format!("{i}/3")], &[]);
        assert_eq!(code, 0, "{err}");
        assert!(err.contains(&format!("shard {i} of 3: ")), "{err}");
        let lines: Vec<&str> = lines.lines().collect();
        let positions: Vec<usize> = lines
            .iter()
            .map(|l| whole.iter().position(|w| w == l).unwrap())
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{lines:?}");
        for l in lines {
            assert!(union.insert(l.to_string()), "{l} in two shards");
        }
    }
    assert_eq!(union.len(), 8);

    // --shard slurm: task 6 of an array 5..=7 is shard 1 of 3
    let slurm = [
        ("SLURM_ARRAY_TASK_ID", "6"),
        ("SLURM_ARRAY_TASK_MIN", "5"),
        ("SLURM_ARRAY_TASK_COUNT", "3"),
    ];
    let by_env = dry_run(&input, &out, &["--shard", "slurm"], &slurm);
    let given = dry_run(&input, &out, &["--shard", "1/3"], &[]);
    assert_eq!(by_env.0, 0, "{}", by_env.2);
    assert_eq!(by_env.1, given.1);
    for (k, bad) in [
        ("SLURM_ARRAY_TASK_ID", None),
        ("SLURM_ARRAY_TASK_COUNT", Some("three")),
        ("SLURM_ARRAY_TASK_MIN", None),
    ] {
        let env: Vec<(&str, &str)> = slurm
            .iter()
            .filter(|(n, _)| *n != k)
            .copied()
            .chain(bad.map(|v| (k, v)))
            .collect();
        let (code, _, err) = dry_run(&input, &out, &["--shard", "slurm"], &env);
        assert_eq!(code, 2, "{k}: {err}");
        assert!(err.contains(k), "{k}: {err}");
    }
    // the same errors in a real run, before the model is loaded
    let (code, _, err) = run(&mut segment(&input, &out, &["--shard", "slurm"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("SLURM_ARRAY_TASK_ID is not set"), "{err}");

    for (bad, why) in [
        ("3/3", "not below the shard count 3"),
        ("0/0", "at least 1"),
        ("a/2", "expected I/N"),
        ("2", "expected I/N"),
        ("-1/2", "expected I/N"),
    ] {
        let (code, _, err) = run(&mut segment(&input, &out, &[&format!("--shard={bad}")]));
        assert_eq!(code, 2, "{bad}: {err}");
        assert!(err.contains(why), "{bad}: {err}");
    }
    assert!(!out.exists(), "nothing written");

    // more shards than images: a shard without images still leaves its (empty) records
    let one = tmp.path().join("one");
    write_test_png(&one.join("a.png"), 32, 1);
    let (code, _, err) = run(&mut segment(&one, &out, &["--shard", "1/2"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("shard 1 of 2: 0 images (0.0 megapixels) of 1"),
        "{err}"
    );
    assert_eq!(shard_record(&out, 1, 2)["images"], serde_json::json!([]));
    let rows = std::fs::read_to_string(out.join("summary-shard-1-of-2.csv")).unwrap();
    assert_eq!(rows.lines().count(), 1, "{rows}");
    let (code, stdout, _) = summarize(&out);
    assert_eq!(code, 1, "shard 0 has not run: {stdout}");
    assert!(stdout.contains("shards\t0/2\n"), "{stdout}");
    std::fs::remove_dir_all(&out).unwrap();

    // summarize: a folder without shard records is a usage error
    std::fs::create_dir(&out).unwrap();
    let (code, _, err) = summarize(&out);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no shard records"), "{err}");
}

/// Two frames of the shared bacteria time-lapse (ZSTD TIFFs, 1009x1305) in two concurrent
/// shards: one frame each, the unsharded masks and rows.
#[test]
fn real_frames_in_two_shards_equal_an_unsharded_run() {
    let Some(set) = samcell_testdata::require_data("bacteria-timelapse") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("frames");
    std::fs::create_dir(&input).unwrap();
    for f in ["t000.tif", "t001.tif"] {
        std::fs::copy(set.join("01").join(f), input.join(f)).unwrap();
    }
    let (whole, sharded) = (tmp.path().join("whole"), tmp.path().join("sharded"));
    let (code, _, err) = run(&mut segment(&input, &whole, &[]));
    assert_eq!(code, 0, "{err}");
    let logs = run_shards(&input, &sharded, 2);
    assert!(
        logs[0].contains("shard 0 of 2: 1 images (1.3 megapixels) of 2"),
        "{}",
        logs[0]
    );
    for (i, name) in ["t000", "t001"].iter().enumerate() {
        assert_eq!(
            names(&shard_record(&sharded, i, 2), "ok"),
            [name.to_string()]
        );
        assert_same_masks(&whole, &sharded, name);
    }
    let (code, out, err) = summarize(&sharded);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(
        std::fs::read_to_string(sharded.join("summary.csv")).unwrap(),
        std::fs::read_to_string(whole.join("summary.csv")).unwrap()
    );
    assert_eq!(
        records(&json(&sharded.join("run.json"))),
        records(&json(&whole.join("run.json")))
    );
}

/// A shard killed (SIGKILL) while it works, as a node failure or a time limit leaves it:
/// `summarize` lists its unfinished images (exit 1), the finished ones keep their outputs and
/// rows, no output is left half-written under its final name, and re-submitting the same shard
/// completes the set without redoing what was done.
#[test]
fn a_killed_shard_is_listed_and_completed_by_resubmission() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("images");
    for i in 0..12u32 {
        write_test_png(&input.join(format!("k{i:02}.png")), 128, 40 + i);
    }
    let out = tmp.path().join("out");
    let (code, _, err) = run(&mut segment(&input, &out, &["--shard", "0/2"]));
    assert_eq!(code, 0, "{err}");
    let (code, listing, err) = dry_run(&input, &out, &["--shard", "1/2"], &[]);
    assert_eq!(code, 0, "{err}");
    // one line per image: input, masks, action; the shard works in this order
    let planned: Vec<String> = listing
        .lines()
        .map(|l| Path::new(l.split('\t').next().unwrap()))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(planned.len() >= 4, "{planned:?}");

    let mut child = segment(&input, &out, &["--shard", "1/2"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn samcell");
    let first = out.join(format!("{}_masks.tif", planned[0]));
    let start = std::time::Instant::now();
    while !first.exists() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "shard 1 ended before its first image"
        );
        assert!(start.elapsed().as_secs() < 120, "no first image");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let finished: Vec<&String> = planned
        .iter()
        .filter(|n| out.join(format!("{n}_masks.tif")).exists())
        .collect();
    assert!(
        finished.len() < planned.len(),
        "shard 1 finished all {} images before it was killed",
        planned.len()
    );
    // every mask under its final name is whole
    for n in &finished {
        let (w, h, _) = common::read_labels(&out.join(format!("{n}_masks.tif")));
        assert_eq!((w, h), (128, 128));
    }

    let (code, stdout, err) = summarize(&out);
    assert_eq!(code, 1, "{stdout}\n{err}");
    // Every image without its masks is listed; those with their masks are not, except that the
    // kill may fall between an image's masks (written last of its files) and the shard's record
    // of it: that one image is then listed as having no record (its row is in no shard's
    // summary yet), and the re-submission skips it as complete.
    let mut cut_off = Vec::new();
    for n in &planned {
        let listed = stdout.contains(&format!("\t{n}\t"));
        let done = finished.contains(&n);
        if done && listed {
            assert!(
                stdout.contains(&format!("\t{n}\tno record")),
                "{n} (finished):\n{stdout}"
            );
            cut_off.push(n);
        } else {
            assert_eq!(listed, !done, "{n} (finished: {done}):\n{stdout}");
        }
    }
    assert!(cut_off.len() <= 1, "{cut_off:?}:\n{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("rerun\t")), "{stdout}");

    let (code, _, err) = run(&mut segment(&input, &out, &["--shard", "1/2"]));
    assert_eq!(code, 0, "{err}");
    let skipped = names(&shard_record(&out, 1, 2), "skipped").len();
    assert!(
        skipped + 1 >= finished.len(),
        "{skipped} skipped of {finished:?}"
    );
    let (code, stdout, err) = summarize(&out);
    assert_eq!(code, 0, "{stdout}\n{err}");
    // images done before the kill are "skipped" by the re-submission, as after any re-run
    let merged = json(&out.join("run.json"));
    let (ok, skipped) = (names(&merged, "ok").len(), names(&merged, "skipped").len());
    assert_eq!(
        (ok + skipped, names(&merged, "failed").len()),
        (12, 0),
        "{merged:#}"
    );
    let rows = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    assert_eq!(rows.lines().count(), 1 + 12, "{rows}");
}
