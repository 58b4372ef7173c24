use super::*;
use crate::shard::Shard;
use serde_json::json;

/// The summary table's header line.
fn header() -> String {
    format!("{}\n", samcell_measure::csv::SUMMARY_COLUMNS.join(","))
}

/// A folder with inputs `a.png`, `b.png`, `c.png` and an output folder `out`.
fn batch() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    for f in ["a.png", "b.png", "c.png"] {
        std::fs::write(tmp.path().join(f), b"x").unwrap();
    }
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    (tmp, out)
}

fn complete(out: &Path, name: &str) {
    for f in OutputSet::new(out, name, false).in_write_order() {
        std::fs::write(f, b"x").unwrap();
    }
}

fn record(name: &str, status: &str) -> Value {
    json!({"input": format!("{name}.png"), "name": name, "page": 0, "status": status,
           "error": if status == "failed" { json!("cannot read the image") } else { Value::Null }})
}

fn row(name: &str) -> String {
    format!("{name},1,1,0,NaN,NaN,0,NaN,NaN,5,\n")
}

/// Writes shard `index` of `count`'s record (images `images`, started at `started`) and its
/// summary rows.
fn shard(tmp: &Path, out: &Path, index: usize, count: usize, started: u64, images: &[Value]) {
    let s = Shard { index, count };
    let rec = json!({
        "samcell_version": "0", "command_line": ["samcell"], "started_unix": started,
        "finished_unix": started + 1, "output_dir": "out",
        "settings": {"peak": 0.47, "save_distmap": false}, "model": {"sha256": "m"},
        "shard": {"index": index, "count": count, "inputs": ["a.png", "b.png", "c.png"],
                  "working_dir": tmp.display().to_string(), "recursive": false, "page": null,
                  "all_pages": false, "channel": null, "settings_args": ["--peak", "0.47"],
                  "batch_images": 3, "shard_images": images.len(), "shard_megapixels": 0.0},
        "summary": {}, "images": images, "earlier_images": []
    });
    record::write_json(&out.join(s.run_json()), &rec).unwrap();
    let mut csv = header();
    for r in images.iter().filter(|r| r["status"] != "failed") {
        csv.push_str(&row(r["name"].as_str().unwrap()));
    }
    std::fs::write(out.join(s.summary_csv()), csv).unwrap();
}

#[test]
fn shards_merge_in_batch_order_with_missing_and_failed_named() {
    let (tmp, out) = batch();
    complete(&out, "a");
    complete(&out, "c");
    shard(tmp.path(), &out, 0, 2, 100, &[record("c", "ok")]);
    shard(tmp.path(), &out, 1, 2, 100, &[record("a", "ok")]);
    // an unsharded run's earlier record of another image, and its row
    let old = json!({"started_unix": 50, "images": [record("z", "ok")], "earlier_images": []});
    record::write_json(&out.join("run.json"), &old).unwrap();
    std::fs::write(out.join("summary.csv"), format!("{}{}", header(), row("z"))).unwrap();

    let r = summarize(&out).unwrap();
    assert_eq!((r.shards, r.planned, r.done), (2, 3, 2));
    assert_eq!(r.missing.len(), 1);
    assert_eq!(
        (r.missing[0].name.as_str(), r.missing[0].reason.as_str()),
        ("b", "no record")
    );
    assert!(r.failed.is_empty() && !r.complete());
    assert!(!r.rerun_whole_batch);
    let b = tmp.path().join("b.png").display().to_string();
    assert_eq!(
        r.rerun,
        [
            "samcell",
            "segment",
            &b,
            "--output",
            &out.display().to_string(),
            "--peak",
            "0.47"
        ]
    );
    let run = std::fs::read(out.join("run.json")).unwrap();
    let csv = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    assert_eq!(
        csv,
        format!("{}{}{}{}", header(), row("z"), row("a"), row("c"))
    );
    let v: Value = serde_json::from_slice(&run).unwrap();
    let names: Vec<&str> = v["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a", "c"]);
    assert_eq!(v["earlier_images"][0]["name"], "z");
    assert_eq!(v["earlier_images"][0]["run_started_unix"], 50);
    assert_eq!(v["summary"]["ok"], 2);

    // twice: the same bytes
    summarize(&out).unwrap();
    assert_eq!(std::fs::read(out.join("run.json")).unwrap(), run);
    assert_eq!(
        std::fs::read_to_string(out.join("summary.csv")).unwrap(),
        csv
    );

    // b failed in a later run of shard 0: no row, named with its error; a later record wins
    complete(&out, "b");
    shard(
        tmp.path(),
        &out,
        0,
        2,
        200,
        &[record("c", "skipped"), record("b", "failed")],
    );
    let r = summarize(&out).unwrap();
    assert!(r.missing.is_empty());
    assert_eq!(r.failed[0].reason, "cannot read the image");
    let csv = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    assert_eq!(
        csv,
        format!("{}{}{}{}", header(), row("z"), row("a"), row("c"))
    );
    let v: Value = serde_json::from_slice(&std::fs::read(out.join("run.json")).unwrap()).unwrap();
    assert_eq!(v["images"][1]["status"], "failed");
    assert_eq!(v["images"][2]["status"], "skipped");

    // an unsharded re-run redoes b later: its record wins, and the batch is complete
    let earlier = |name: &str, status: &str, t: u64| {
        let mut r = record(name, status);
        r["run_started_unix"] = t.into();
        r
    };
    let rerun = json!({"started_unix": 300, "images": [record("b", "ok")],
                       "earlier_images": [earlier("z", "ok", 50), earlier("a", "ok", 100),
                                          earlier("c", "skipped", 100)]});
    record::write_json(&out.join("run.json"), &rerun).unwrap();
    let rows = format!(
        "{}{}{}{}{}",
        header(),
        row("z"),
        row("a"),
        row("c"),
        row("b")
    );
    std::fs::write(out.join("summary.csv"), rows).unwrap();
    let r = summarize(&out).unwrap();
    assert!(r.complete() && r.rerun.is_empty(), "{r:?}");
    let csv = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    assert_eq!(
        csv,
        format!(
            "{}{}{}{}{}",
            header(),
            row("z"),
            row("a"),
            row("b"),
            row("c")
        )
    );
}

#[test]
fn shard_counts_must_agree_and_records_must_exist() {
    let (tmp, out) = batch();
    assert!(matches!(summarize(&out), Err(SummarizeError::NoRecords(_))));
    assert!(summarize(&out).unwrap_err().is_usage());
    shard(tmp.path(), &out, 0, 2, 100, &[]);
    shard(tmp.path(), &out, 1, 3, 100, &[]);
    let e = summarize(&out).unwrap_err();
    assert!(matches!(e, SummarizeError::ShardCounts { .. }), "{e}");
    let text = e.to_string();
    assert!(text.contains("run-shard-0-of-2.json") && text.contains("run-shard-1-of-3.json"));
    assert!(!out.join("run.json").exists());
}

#[test]
fn colliding_names_redo_the_whole_batch() {
    let tmp = tempfile::tempdir().unwrap();
    for d in ["x", "y"] {
        std::fs::create_dir(tmp.path().join(d)).unwrap();
        std::fs::write(tmp.path().join(d).join("a.png"), b"x").unwrap();
    }
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let s = Shard { index: 0, count: 1 };
    complete(&out, "y__a");
    let rec = json!({
        "started_unix": 1, "images": [record("y__a", "ok")], "settings": {},
        "shard": {"index": 0, "count": 1,
        "inputs": ["x", "y"], "working_dir": tmp.path().display().to_string(),
        "recursive": false, "page": null, "all_pages": false, "channel": null,
        "settings_args": [], "batch_images": 2, "shard_images": 2, "shard_megapixels": 0.0}
    });
    record::write_json(&out.join(s.run_json()), &rec).unwrap();
    let r = summarize(&out).unwrap();
    // x/a.png alone would be named a, not x__a
    assert_eq!(r.missing.len(), 1);
    assert_eq!(r.missing[0].name, "x__a");
    assert!(r.rerun_whole_batch);
    assert_eq!(r.rerun[2], tmp.path().join("x").display().to_string());
    assert_eq!(r.shards_to_redo, [0]);
}
