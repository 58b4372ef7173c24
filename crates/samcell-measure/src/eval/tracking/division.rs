//! Division (branching) counts and BC(i) (py-ctcmetrics 1.3.3 `metrics.biological.bc`).
//!
//! A division is a track that is the parent of two or more tracks; its time is the parent's last
//! frame. For each computed division (ascending label) and each reference division (ascending
//! label) whose times differ by at most i frames, the pair matches when:
//! - both have the same number of children;
//! - in the earlier of the two parents' last frames t, the reference parent is matched exactly
//!   once, by the computed parent, and that computed parent matches no other reference object;
//! - every reference child (track-file order) finds a computed child (track-file order) that
//!   begins at most i frames apart and, in the later of the two first frames, matches exactly one
//!   reference object, which is that reference child; the matched computed children, counted once
//!   each, must be as many as the reference children.
//!
//! TP = matching pairs (a division may count in several), FP = computed divisions - TP,
//! FN = reference divisions - TP; without reference divisions (0, computed, 0), without computed
//! divisions (0, 0, reference). BC(i) = 2 P R / max(P + R, 0.0001) with
//! P = TP / max(TP + FP, 1), R = TP / max(TP + FN, 1); undefined without reference divisions.

use super::matching::FrameMatch;
use super::TrackLine;
use serde::Serialize;

/// Division counts at one temporal tolerance.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DivisionCounts {
    /// The tolerance i, in frames.
    pub tolerance: u32,
    /// Correctly found divisions (`tp_div(i)`).
    pub tp: i64,
    /// False divisions (`fp_div(i)`).
    pub fp: i64,
    /// Missed divisions (`fn_div(i)`).
    pub fn_: i64,
    /// BC(i), the F1 score of the counts; `None` without reference divisions.
    pub bc: Option<f64>,
}

/// Parents of two or more tracks, ascending, with their last frame.
fn divisions(tracks: &[TrackLine], what: &str) -> Result<Vec<(i64, i64)>, String> {
    let mut parents: Vec<i64> = tracks.iter().map(|t| t.parent).filter(|&p| p > 0).collect();
    parents.sort_unstable();
    let mut out = Vec::new();
    let mut i = 0;
    while i < parents.len() {
        let j = parents[i..]
            .iter()
            .take_while(|&&p| p == parents[i])
            .count();
        if j > 1 {
            let end = tracks
                .iter()
                .find(|t| t.label == parents[i])
                .ok_or_else(|| format!("{what}: parent {} is not a track", parents[i]))?
                .end;
            out.push((parents[i], end));
        }
        i += j;
    }
    Ok(out)
}

/// Children of `parent` in track-file order, with their first frame.
fn children(tracks: &[TrackLine], parent: i64) -> Vec<(i64, i64)> {
    tracks
        .iter()
        .filter(|t| t.parent == parent)
        .map(|c| {
            let begin = tracks
                .iter()
                .find(|t| t.label == c.label)
                .map_or(c.begin, |t| t.begin);
            (c.label, begin)
        })
        .collect()
}

struct Division {
    label: i64,
    end: i64,
    children: Vec<(i64, i64)>,
}

fn frame(frames: &[FrameMatch], t: i64) -> Option<&FrameMatch> {
    usize::try_from(t).ok().and_then(|t| frames.get(t))
}

fn count(v: impl Iterator<Item = u32>, x: i64) -> usize {
    v.filter(|&l| i64::from(l) == x).count()
}

fn is_matching(comp: &Division, reference: &Division, frames: &[FrameMatch], i: i64) -> bool {
    if comp.children.len() != reference.children.len() || (reference.end - comp.end).abs() > i {
        return false;
    }
    let Some(f) = frame(frames, reference.end.min(comp.end)) else {
        return false;
    };
    if count(f.mapped_comp(), comp.label) < 1 || count(f.mapped_ref(), reference.label) != 1 {
        return false;
    }
    let Some(&(_, c, _)) = f.pairs.iter().find(|p| i64::from(p.0) == reference.label) else {
        return false;
    };
    if i64::from(c) != comp.label || count(f.mapped_comp(), i64::from(c)) != 1 {
        return false;
    }
    let mut matched: Vec<i64> = Vec::new();
    for &(rc, rt) in &reference.children {
        for &(cc, ct) in &comp.children {
            if (rt - ct).abs() > i {
                continue;
            }
            let Some(f) = frame(frames, rt.max(ct)) else {
                continue;
            };
            if count(f.mapped_comp(), cc) != 1 {
                continue;
            }
            if let Some(&(_, c, _)) = f.pairs.iter().find(|p| i64::from(p.0) == rc) {
                if i64::from(c) == cc {
                    if !matched.contains(&cc) {
                        matched.push(cc);
                    }
                    break;
                }
            }
        }
    }
    matched.len() == reference.children.len()
}

/// F1 of division counts, as py-ctcmetrics' `calculate_f1_score`.
fn f1(tp: i64, fp: i64, fn_: i64) -> f64 {
    let precision = tp as f64 / (tp + fp).max(1) as f64;
    let recall = tp as f64 / (tp + fn_).max(1) as f64;
    2.0 * (precision * recall) / (precision + recall).max(0.0001)
}

/// Division counts and BC(i) for each tolerance in `0..=max_i`.
pub fn division_counts(
    ref_tracks: &[TrackLine],
    comp_tracks: &[TrackLine],
    frames: &[FrameMatch],
    max_i: u32,
) -> Result<Vec<DivisionCounts>, String> {
    let load = |tracks: &[TrackLine], what: &str| -> Result<Vec<Division>, String> {
        Ok(divisions(tracks, what)?
            .into_iter()
            .map(|(label, end)| Division {
                label,
                end,
                children: children(tracks, label),
            })
            .collect())
    };
    let refs = load(ref_tracks, "ground truth (man_track.txt)")?;
    let comps = load(comp_tracks, "result (res_track.txt)")?;
    let (nr, nc) = (refs.len() as i64, comps.len() as i64);
    Ok((0..=max_i)
        .map(|tol| {
            let i = i64::from(tol);
            let (tp, fp, fn_) = if nr == 0 {
                (0, nc, 0)
            } else if nc == 0 {
                (0, 0, nr)
            } else {
                let mut tp = 0;
                for c in &comps {
                    for r in refs.iter().filter(|r| (r.end - c.end).abs() <= i) {
                        if is_matching(c, r, frames, i) {
                            tp += 1;
                        }
                    }
                }
                (tp, nc - tp, nr - tp)
            };
            DivisionCounts {
                tolerance: tol,
                tp,
                fp,
                fn_,
                bc: (tp + fn_ != 0).then(|| f1(tp, fp, fn_)),
            }
        })
        .collect())
}
