//! Validation of a CTC tracking result (py-ctcmetrics 1.3.3 `metrics.validation.valid`).
//!
//! A result is valid iff all of these hold (each failure is one problem line):
//! - `res_track.txt` holds at least one track;
//! - every parent is >= 0;
//! - labels are unique;
//! - a parent ends before its child begins (`parent end < child begin`);
//! - no track ends before it begins;
//! - in every frame that has a mask, each label of the mask has a track covering that frame, and
//!   each track covering the frame has its label in the mask.
//!
//! Frames without any track are reported as warnings, not problems (py-ctcmetrics warns too).
//!
//! Differences, on purpose (cases where py-ctcmetrics stops with an exception or passes a result
//! its own measures then cannot use): a parent label that is not a track, a negative label or
//! begin, and a track reaching past the last mask are problems here.

use super::TrackLine;
use std::collections::{BTreeSet, HashMap};

/// The outcome of a validation.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Validation {
    /// Whether the result is valid (no problems).
    pub valid: bool,
    /// What makes the result invalid, one line each.
    pub problems: Vec<String>,
    /// Conditions that do not make it invalid (frames without tracks).
    pub warnings: Vec<String>,
}

/// Validates the tracks of a result against the labels present in each of its masks (ascending,
/// 0 excluded; `masks[t]` is frame `t`). `mask_names[t]` names frame `t`'s file in messages.
pub fn validate_tracks(
    tracks: &[TrackLine],
    masks: &[Vec<u32>],
    mask_names: &[String],
) -> Validation {
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    if tracks.is_empty() {
        problems.push("no tracks in the result".to_string());
    }
    let mut by_label: HashMap<i64, Vec<&TrackLine>> = HashMap::new();
    for t in tracks {
        by_label.entry(t.label).or_default().push(t);
    }
    for t in tracks {
        if t.parent < 0 {
            problems.push(format!("track {t}: negative parent"));
        }
        if t.label <= 0 || t.label > i64::from(u32::MAX) {
            problems.push(format!("track {t}: label outside 1..=4294967295"));
        }
        if t.begin < 0 {
            problems.push(format!("track {t}: begins before frame 0"));
        }
        if t.end < t.begin {
            problems.push(format!("track {t}: ends before it begins"));
        }
        if t.end >= masks.len() as i64 {
            problems.push(format!(
                "track {t}: reaches frame {} but the last mask is frame {}",
                t.end,
                masks.len() as i64 - 1
            ));
        }
        if t.parent > 0 {
            match by_label.get(&t.parent).map(Vec::as_slice) {
                Some([p]) => {
                    if p.end >= t.begin {
                        problems.push(format!(
                            "track {t}: parent {p} ends at or after the child's begin"
                        ));
                    }
                }
                Some(_) => {} // reported as a duplicate label below
                None => problems.push(format!("track {t}: parent {} is not a track", t.parent)),
            }
        }
    }
    let mut dups: Vec<i64> = by_label
        .iter()
        .filter(|(_, v)| v.len() > 1)
        .map(|(&k, _)| k)
        .collect();
    dups.sort_unstable();
    if !dups.is_empty() {
        let list: Vec<String> = dups.iter().map(i64::to_string).collect();
        problems.push(format!("labels not unique: {}", list.join(", ")));
    }
    // labels per frame from the tracks
    let mut expected: Vec<BTreeSet<u32>> = vec![BTreeSet::new(); masks.len()];
    for t in tracks {
        let Ok(label) = u32::try_from(t.label) else {
            continue;
        };
        let (b, e) = (t.begin.max(0), t.end.min(masks.len() as i64 - 1));
        for f in b..=e {
            expected[f as usize].insert(label);
        }
    }
    for (t, (have, want)) in masks.iter().zip(&expected).enumerate() {
        let name = mask_names
            .get(t)
            .cloned()
            .unwrap_or_else(|| format!("frame {t}"));
        let extra: Vec<String> = have
            .iter()
            .filter(|l| !want.contains(l))
            .map(u32::to_string)
            .collect();
        if !extra.is_empty() {
            problems.push(format!(
                "{name}: label(s) {} in the mask but not in res_track.txt at frame {t}",
                extra.join(", ")
            ));
        }
        let missing: Vec<String> = want
            .iter()
            .filter(|l| have.binary_search(l).is_err())
            .map(u32::to_string)
            .collect();
        if !missing.is_empty() {
            problems.push(format!(
                "{name}: label(s) {} in res_track.txt at frame {t} but not in the mask",
                missing.join(", ")
            ));
        }
        if want.is_empty() {
            warnings.push(format!("frame {t} has no tracks"));
        }
    }
    Validation {
        valid: problems.is_empty(),
        problems,
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(label: i64, begin: i64, end: i64, parent: i64) -> TrackLine {
        TrackLine {
            label,
            begin,
            end,
            parent,
        }
    }

    #[test]
    fn each_rule_is_a_problem() {
        let masks = vec![vec![1], vec![1], vec![2, 3], vec![2, 3]];
        let names: Vec<String> = (0..4).map(|i| format!("mask{i:03}.tif")).collect();
        let ok = [t(1, 0, 1, 0), t(2, 2, 3, 1), t(3, 2, 3, 1)];
        let v = validate_tracks(&ok, &masks, &names);
        assert!(v.valid, "{:?}", v.problems);
        let cases: Vec<(Vec<TrackLine>, &str)> = vec![
            (vec![], "no tracks"),
            (
                vec![t(1, 0, 1, 0), t(2, 2, 3, -1), t(3, 2, 3, 1)],
                "negative parent",
            ),
            (
                vec![t(1, 0, 2, 0), t(2, 2, 3, 1), t(3, 2, 3, 1)],
                "ends at or after",
            ),
            (
                vec![t(1, 0, 1, 0), t(2, 2, 3, 9), t(3, 2, 3, 1)],
                "not a track",
            ),
            (
                vec![t(1, 0, 1, 0), t(2, 2, 3, 1), t(3, 3, 2, 1)],
                "ends before it begins",
            ),
            (
                vec![t(1, 0, 1, 0), t(2, 2, 3, 1), t(2, 2, 3, 1), t(3, 2, 3, 1)],
                "not unique",
            ),
            (
                vec![t(1, 0, 1, 0), t(2, 2, 3, 1)],
                "in the mask but not in res_track",
            ),
            (
                vec![t(1, 0, 2, 0), t(2, 3, 3, 1), t(3, 3, 3, 1)],
                "but not in the mask",
            ),
            (
                vec![t(1, 0, 1, 0), t(2, 2, 4, 1), t(3, 2, 3, 1)],
                "last mask",
            ),
        ];
        for (tracks, want) in cases {
            let v = validate_tracks(&tracks, &masks, &names);
            assert!(!v.valid, "{want}: {tracks:?}");
            assert!(
                v.problems.iter().any(|p| p.contains(want)),
                "{want}: {:?}",
                v.problems
            );
        }
    }
}
