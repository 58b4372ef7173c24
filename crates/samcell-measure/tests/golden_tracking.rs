//! Golden tests of the CTC tracking evaluation against py-ctcmetrics 1.3.3
//! (`reference/gen_tracking_eval_fixtures.py`, scores in tests/fixtures/tracking/tracking_cases.json).
//!
//! Each case perturbs a ground truth by a recipe (swapped ids, broken links, missed and false
//! divisions, gaps, dropped and spurious cells, merges, erosion, invalid results), rebuilt here with
//! the same operations (checked by the SHA-256 of the masks and of res_track.txt), and compares:
//! - validity exactly;
//! - TRA, DET, LNK, SEG, OP_CTB, OP_CSB, BC(0..3), CT, TF, CCA and BIO(0..3) to 1e-9 (absolute);
//! - AOGM, AOGM_0 and the counts NS, FN, FP, ED, EA, EC, the division counts tp/fp/fn_div(i) and
//!   gt_divisions exactly.
//!
//! The synthetic ground truth is committed; the real one is the shared bacteria time-lapse
//! (skipped with one line without the shared data, see samcell-testdata).

use samcell_imaging::Labels;
use samcell_measure::eval::tracking::{
    evaluate_tracking, files, validate_result, TrackLine, TrackingReport,
};
use samcell_measure::read_labels;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

const TOL: f64 = 1e-9;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tracking")
}

fn cases() -> Value {
    let text = std::fs::read_to_string(fixtures().join("tracking_cases.json"))
        .expect("tracking_cases.json (run reference/gen_tracking_eval_fixtures.py)");
    serde_json::from_str(&text).expect("fixture JSON")
}

struct Gt {
    masks: Vec<Labels>,
    tracks: Vec<TrackLine>,
    seg: Vec<(usize, Labels)>,
}

fn load_gt(gt_dir: &Path, seg_frames: &Value) -> Gt {
    let tra = gt_dir.join("TRA");
    let paths = files::frame_files(&tra, "man_track").expect("TRA masks");
    let masks = files::read_masks(&paths).expect("read TRA masks");
    let tracks = files::read_tracks(&tra.join("man_track.txt")).expect("man_track.txt");
    let seg = seg_frames
        .as_array()
        .expect("seg_frames")
        .iter()
        .map(|t| {
            let t = t.as_u64().expect("frame") as usize;
            (t, masks[t].clone())
        })
        .collect();
    Gt { masks, tracks, seg }
}

fn sha_frames(frames: &[Labels]) -> String {
    let mut h = Sha256::new();
    for f in frames {
        for v in f.data() {
            h.update(v.to_le_bytes());
        }
    }
    hex(&h.finalize())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

fn u(op: &Value, k: &str) -> u64 {
    op[k]
        .as_u64()
        .unwrap_or_else(|| panic!("op field {k}: {op}"))
}

/// The recipe operations of the generator, in order; then res_track.txt derived from the masks.
fn apply_recipe(gt: &Gt, ops: &Value) -> (Vec<Labels>, Vec<TrackLine>, String) {
    let mut frames: Vec<Vec<u32>> = gt.masks.iter().map(|m| m.data().to_vec()).collect();
    let (w, h) = (gt.masks[0].width(), gt.masks[0].height());
    let mut parents: HashMap<u32, u32> = gt
        .tracks
        .iter()
        .map(|t| (t.label as u32, t.parent as u32))
        .collect();
    let mut dropped = BTreeSet::new();
    for op in ops.as_array().expect("ops") {
        let range = || u(op, "first") as usize..=u(op, "last") as usize;
        match op["op"].as_str().expect("op") {
            "relabel" => {
                let (from, to) = (u(op, "from") as u32, u(op, "to") as u32);
                for f in &mut frames[range()] {
                    f.iter_mut().filter(|v| **v == from).for_each(|v| *v = to);
                }
            }
            "swap" => {
                let (a, b) = (u(op, "a") as u32, u(op, "b") as u32);
                for f in &mut frames[range()] {
                    for v in f.iter_mut() {
                        if *v == a {
                            *v = b;
                        } else if *v == b {
                            *v = a;
                        }
                    }
                }
            }
            "box" => {
                let l = u(op, "label") as u32;
                let (x0, y0) = (u(op, "x") as usize, u(op, "y") as usize);
                let (x1, y1) = (
                    (x0 + u(op, "w") as usize).min(w),
                    (y0 + u(op, "h") as usize).min(h),
                );
                for f in &mut frames[range()] {
                    for y in y0..y1 {
                        for v in &mut f[y * w + x0..y * w + x1] {
                            if *v == 0 {
                                *v = l;
                            }
                        }
                    }
                }
            }
            "erode" => {
                for f in &mut frames {
                    let src = f.clone();
                    for y in 0..h {
                        for x in 0..w {
                            let c = src[y * w + x];
                            let keep = x > 0
                                && y > 0
                                && x + 1 < w
                                && y + 1 < h
                                && src[y * w + x - 1] == c
                                && src[y * w + x + 1] == c
                                && src[(y - 1) * w + x] == c
                                && src[(y + 1) * w + x] == c;
                            if !keep {
                                f[y * w + x] = 0;
                            }
                        }
                    }
                }
            }
            "parent" => {
                parents.insert(u(op, "label") as u32, u(op, "parent") as u32);
            }
            "drop_line" => {
                dropped.insert(u(op, "label") as u32);
            }
            other => panic!("unknown op {other}"),
        }
    }
    let mut present: BTreeMap<u32, (usize, usize)> = BTreeMap::new();
    for (t, f) in frames.iter().enumerate() {
        let labels: BTreeSet<u32> = f.iter().copied().filter(|&v| v != 0).collect();
        for l in labels {
            let e = present.entry(l).or_insert((t, t));
            e.1 = t;
        }
    }
    let mut tracks = Vec::new();
    let mut text = String::new();
    for (&l, &(b, e)) in &present {
        if dropped.contains(&l) {
            continue;
        }
        let p = parents.get(&l).copied().unwrap_or(0);
        let p = if present.contains_key(&p) { p } else { 0 };
        text.push_str(&format!("{l} {b} {e} {p}\n"));
        tracks.push(TrackLine {
            label: i64::from(l),
            begin: b as i64,
            end: e as i64,
            parent: i64::from(p),
        });
    }
    let masks = frames
        .into_iter()
        .map(|d| Labels::from_vec(w, h, d).expect("labels"))
        .collect();
    (masks, tracks, text)
}

/// Largest absolute difference per measure, over the cases checked.
type MaxDiff = BTreeMap<String, f64>;

fn check_case(name: &str, r: &TrackingReport, want: &Value, diffs: &mut MaxDiff) {
    let valid = want["Valid"].as_u64().expect("Valid") == 1;
    assert_eq!(
        r.validation.valid, valid,
        "{name}: validity ({:?})",
        r.validation.problems
    );
    if !valid {
        assert!(
            r.measures.is_none(),
            "{name}: an invalid result has no measures"
        );
        return;
    }
    let m = r.measures.as_ref().expect("measures");
    let floats = [
        ("TRA", Some(m.tra)),
        ("DET", Some(m.det)),
        ("LNK", Some(m.lnk)),
        ("SEG", m.seg),
        ("OP_CTB", m.op_ctb),
        ("OP_CSB", m.op_csb),
    ];
    let bcs: Vec<(String, Option<f64>)> = m
        .divisions
        .iter()
        .map(|d| (format!("BC({})", d.tolerance), d.bc))
        .chain(
            m.bio
                .iter()
                .enumerate()
                .map(|(i, b)| (format!("BIO({i})"), Some(*b))),
        )
        .chain([
            ("CT".to_string(), Some(m.ct)),
            ("TF".to_string(), Some(m.tf)),
            ("CCA".to_string(), m.cca),
        ])
        .collect();
    for (k, got) in floats.iter().map(|(k, v)| (k.to_string(), *v)).chain(bcs) {
        match (got, want[&k].as_f64()) {
            (Some(g), Some(w)) => {
                let d = (g - w).abs();
                assert!(
                    d <= TOL,
                    "{name}: {k} = {g}, py-ctcmetrics {w} (tolerance {TOL})"
                );
                let e = diffs.entry(k).or_insert(0.0);
                *e = e.max(d);
            }
            (None, None) => {}
            (g, w) => panic!("{name}: {k} = {g:?}, py-ctcmetrics {w:?}"),
        }
    }
    let c = &m.counts;
    let exact = [
        ("AOGM", m.aogm),
        ("AOGM_0", m.aogm_0),
        ("AOGM_NS", c.ns as f64),
        ("AOGM_FN", c.fn_ as f64),
        ("AOGM_FP", c.fp as f64),
        ("AOGM_ED", c.ed as f64),
        ("AOGM_EA", c.ea as f64),
        ("AOGM_EC", c.ec as f64),
        ("gt_divisions", m.gt_divisions as f64),
    ];
    for (k, got) in exact {
        assert_eq!(Some(got), want[k].as_f64(), "{name}: {k}, exact");
    }
    for d in &m.divisions {
        let i = d.tolerance;
        for (k, got) in [("tp", d.tp), ("fp", d.fp), ("fn", d.fn_)] {
            let key = format!("{k}_div({i})");
            assert_eq!(Some(got), want[&key].as_i64(), "{name}: {key}, exact");
        }
    }
}

fn run_cases(set: &str, gt: &Gt, block: &Value) -> (usize, MaxDiff) {
    assert_eq!(
        sha_frames(&gt.masks),
        block["gt_masks_sha256"].as_str().expect("sha"),
        "{set}: ground truth differs from the fixtures' one"
    );
    let mut diffs = MaxDiff::new();
    let mut n = 0;
    for v in block["variants"].as_array().expect("variants") {
        let name = format!("{set} [{}]", v["name"].as_str().expect("name"));
        let (masks, tracks, text) = apply_recipe(gt, &v["ops"]);
        assert_eq!(
            sha_frames(&masks),
            v["masks_sha256"].as_str().expect("sha"),
            "{name}: masks not reproduced"
        );
        assert_eq!(
            hex(&Sha256::digest(text.as_bytes())),
            v["tracks_sha256"].as_str().expect("sha"),
            "{name}: res_track.txt not reproduced"
        );
        let r = evaluate_tracking(&gt.masks, &gt.tracks, Some(&gt.seg), &masks, &tracks)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        check_case(&name, &r, &v["scores"], &mut diffs);
        assert_eq!(
            validate_result(&tracks, &masks),
            r.validation,
            "{name}: validate_result"
        );
        n += 1;
    }
    eprintln!("{set}: {n} cases; largest |difference| to py-ctcmetrics per measure: {diffs:?}");
    (n, diffs)
}

#[test]
fn synthetic_sequences_match_py_ctcmetrics() {
    let c = cases();
    let block = &c["synthetic"];
    let gt = load_gt(&fixtures().join("synthetic_GT"), &block["seg_frames"]);
    let (n, _) = run_cases("synthetic", &gt, block);
    assert!(n >= 15, "all synthetic cases ran");
}

#[test]
fn real_sequence_matches_py_ctcmetrics() {
    let Some(set) = samcell_testdata::require_data("bacteria-timelapse") else {
        return;
    };
    let c = cases();
    let block = &c["real"];
    assert!(
        block.is_object(),
        "tracking_cases.json has no real-sequence cases"
    );
    let gt = load_gt(&set.join("01_GT"), &block["seg_frames"]);
    let (n, _) = run_cases("bacteria-timelapse", &gt, block);
    assert!(n >= 12, "all real-sequence cases ran");
}

#[test]
fn the_ground_truth_scores_one_against_itself() {
    let gt_dir = fixtures().join("synthetic_GT");
    let tra = gt_dir.join("TRA");
    let masks =
        files::read_masks(&files::frame_files(&tra, "man_track").expect("masks")).expect("read");
    let tracks = files::read_tracks(&tra.join("man_track.txt")).expect("tracks");
    let seg: Vec<(usize, Labels)> = [0usize, 3, 5]
        .iter()
        .map(|&t| {
            (
                t,
                read_labels(&gt_dir.join(format!("SEG/man_seg{t:03}.tif"))).expect("seg"),
            )
        })
        .collect();
    let r = evaluate_tracking(&masks, &tracks, Some(&seg), &masks, &tracks).expect("evaluate");
    let m = r.measures.expect("valid");
    for (k, v) in [
        ("TRA", m.tra),
        ("DET", m.det),
        ("LNK", m.lnk),
        ("SEG", m.seg.unwrap_or(0.0)),
    ] {
        assert_eq!(v, 1.0, "{k}");
    }
    assert_eq!(
        (m.gt_divisions, m.divisions[0].tp, m.divisions[0].fp),
        (1, 1, 0)
    );
}

#[test]
fn folders_are_validated_and_scored_like_the_in_memory_sequences() {
    let f = fixtures();
    let v = samcell_measure::eval::tracking::validate_result_dir(&f.join("RES_false_division"))
        .expect("validate");
    assert!(v.valid, "{:?}", v.problems);
    let v = samcell_measure::eval::tracking::validate_result_dir(&f.join("RES_missing_line"))
        .expect("validate");
    assert!(!v.valid);
    assert!(
        v.problems
            .iter()
            .all(|p| p.contains("label(s) 7 in the mask but not in res_track.txt")),
        "{:?}",
        v.problems
    );
    // the folder evaluation equals py-ctcmetrics' scores of the same variant
    let r = samcell_measure::eval::tracking::evaluate_tracking_dirs(
        &f.join("RES_false_division"),
        &f.join("synthetic_GT"),
    )
    .expect("evaluate");
    let c = cases();
    let want = c["synthetic"]["variants"]
        .as_array()
        .expect("variants")
        .iter()
        .find(|v| v["name"] == "false_division")
        .expect("false_division");
    check_case(
        "RES_false_division",
        &r,
        &want["scores"],
        &mut MaxDiff::new(),
    );
    assert_eq!(r.seg_frames, 3);
    // a ground truth with fewer frames than the result is an error naming both folders
    let tmp = tempfile::tempdir().expect("tempdir");
    let tra = tmp.path().join("TRA");
    std::fs::create_dir(&tra).expect("mkdir");
    let src = f.join("synthetic_GT/TRA");
    for name in ["man_track.txt", "man_track000.tif", "man_track001.tif"] {
        std::fs::copy(src.join(name), tra.join(name)).expect("copy");
    }
    let e = samcell_measure::eval::tracking::evaluate_tracking_dirs(
        &f.join("RES_false_division"),
        tmp.path(),
    )
    .expect_err("frames do not pair");
    let msg = e.to_string();
    assert!(
        msg.contains("holds 7 masks") && msg.contains("holds 2"),
        "{msg}"
    );
}

#[test]
fn an_inconsistent_ground_truth_is_an_error_naming_its_track_file() {
    let tra = fixtures().join("synthetic_GT/TRA");
    let masks =
        files::read_masks(&files::frame_files(&tra, "man_track").expect("masks")).expect("read");
    let mut tracks = files::read_tracks(&tra.join("man_track.txt")).expect("tracks");
    let res_tracks = tracks.clone();
    tracks
        .iter_mut()
        .find(|t| t.label == 3)
        .expect("track 3")
        .parent = 99;
    let e =
        evaluate_tracking(&masks, &tracks, None, &masks, &res_tracks).expect_err("no parent 99");
    let msg = e.to_string();
    assert!(
        msg.contains("man_track.txt") && msg.contains("parent 99"),
        "{msg}"
    );
}
