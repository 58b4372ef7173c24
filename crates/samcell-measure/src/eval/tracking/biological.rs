//! The biological measures CT, TF, CCA and BIO(i) (py-ctcmetrics 1.3.3 `metrics.biological`:
//! `ct`, `tf`, `cca`, `bio`; Ulman et al., Nature Methods 2017).
//!
//! Per reference label k and frame t the assignment is: absent (k not in frame t), 0 (k
//! unmatched, or matched by a computed object that matches other reference objects too) or the
//! matching computed label.
//! - CT = 2 T_rc / (T_r + T_c): T_r, T_c the lines of the two track files; T_rc the reference
//!   labels assigned one and the same non-zero computed label wherever present, whose reference
//!   and computed tracks begin and end in the same frames.
//! - TF: for each reference track (frames B..=E of its track line) and computed label m, the
//!   longest run of consecutive frames assigned m, over E - B + 1. Per reference track the best
//!   fraction is taken, visiting computed labels ascending and, in each, reference labels
//!   ascending, where a fraction of exactly 1 ends the visit of that computed label (as
//!   py-ctcmetrics, which keeps this quirk of the original CTC code). TF = mean of the non-zero
//!   best fractions, 0 without any.
//! - CCA: tracks that begin and end with a division (their parent and they themselves have two or
//!   more children); lengths E - B; 1 - the largest difference of the two cumulative length
//!   histograms. Undefined without such reference tracks, 0 without such computed tracks.
//! - BIO(i) = mean of CT, TF, BC(i) and CCA over those defined.

use super::matching::FrameMatch;
use super::TrackLine;
use std::collections::BTreeMap;

/// Per reference label, per frame: `None` absent, `Some(0)` unassigned, `Some(m)` computed label m.
fn assignments(frames: &[FrameMatch]) -> BTreeMap<u32, Vec<Option<u32>>> {
    let mut out: BTreeMap<u32, Vec<Option<u32>>> = BTreeMap::new();
    for (t, f) in frames.iter().enumerate() {
        for &r in &f.ref_labels {
            let a = match f.pairs.iter().find(|p| p.0 == r) {
                Some(&(_, m, _)) if f.pairs.iter().filter(|p| p.1 == m).count() == 1 => m,
                _ => 0,
            };
            out.entry(r).or_insert_with(|| vec![None; frames.len()])[t] = Some(a);
        }
    }
    out
}

fn track(tracks: &[TrackLine], label: i64, what: &str) -> Result<TrackLine, String> {
    tracks
        .iter()
        .find(|t| t.label == label)
        .copied()
        .ok_or_else(|| format!("{what}: label {label} of the masks has no track"))
}

/// CT.
pub fn ct(
    ref_tracks: &[TrackLine],
    comp_tracks: &[TrackLine],
    frames: &[FrameMatch],
) -> Result<f64, String> {
    let mut correct = 0u64;
    for (k, v) in assignments(frames) {
        let r = track(ref_tracks, i64::from(k), "ground truth (man_track.txt)")?;
        let mut assigned: Vec<u32> = v.iter().flatten().copied().collect();
        assigned.sort_unstable();
        assigned.dedup();
        if assigned.len() != 1 || assigned[0] == 0 {
            continue;
        }
        let c = track(
            comp_tracks,
            i64::from(assigned[0]),
            "result (res_track.txt)",
        )?;
        if r.begin == c.begin && r.end == c.end {
            correct += 1;
        }
    }
    Ok(2.0 * correct as f64 / (comp_tracks.len() + ref_tracks.len()) as f64)
}

/// TF.
pub fn tf(ref_tracks: &[TrackLine], frames: &[FrameMatch]) -> Result<f64, String> {
    // computed label -> reference label -> best run fraction
    let mut fractions: BTreeMap<u32, BTreeMap<u32, f64>> = BTreeMap::new();
    for (k, v) in assignments(frames) {
        let r = track(ref_tracks, i64::from(k), "ground truth (man_track.txt)")?;
        let length = (r.end - r.begin + 1) as f64;
        let lo = usize::try_from(r.begin).unwrap_or(0).min(v.len());
        let hi = usize::try_from(r.end + 1).unwrap_or(0).clamp(lo, v.len());
        let (mut run, mut last) = (0u64, Some(0u32));
        for &a in &v[lo..hi] {
            if last.is_none() || last != a || a == Some(0) {
                run = 0;
            }
            if let Some(m) = a.filter(|&m| m > 0) {
                run += 1;
                let e = fractions.entry(m).or_default().entry(k).or_insert(0.0);
                *e = e.max(run as f64 / length);
            }
            last = a;
        }
    }
    let mut best: Vec<(i64, f64)> = Vec::new();
    for t in ref_tracks {
        if !best.iter().any(|b| b.0 == t.label) {
            best.push((t.label, 0.0));
        }
    }
    for per_ref in fractions.values() {
        for (&k, &f) in per_ref {
            let b = best
                .iter_mut()
                .find(|b| b.0 == i64::from(k))
                .ok_or_else(|| {
                    format!("ground truth (man_track.txt): label {k} of the masks has no track")
                })?;
            if b.1 == 1.0 {
                continue;
            }
            if f > b.1 {
                b.1 = f;
            }
            if f == 1.0 {
                break;
            }
        }
    }
    let kept: Vec<f64> = best.iter().map(|b| b.1).filter(|&f| f > 0.0).collect();
    Ok(if kept.is_empty() {
        0.0
    } else {
        kept.iter().sum::<f64>() / kept.len() as f64
    })
}

/// Lengths E - B of the tracks that begin and end with a division.
fn cycle_lengths(tracks: &[TrackLine]) -> Vec<i64> {
    let mut parents: Vec<i64> = tracks.iter().map(|t| t.parent).filter(|&p| p > 0).collect();
    parents.sort_unstable();
    let divides = |l: i64| parents.iter().filter(|&&p| p == l).count() > 1;
    tracks
        .iter()
        .filter(|t| divides(t.label) && divides(t.parent))
        .map(|t| t.end - t.begin)
        .collect()
}

fn cumulative(lengths: &[i64], bins: usize) -> Vec<f64> {
    let mut h = vec![0.0f64; bins];
    for &l in lengths {
        h[usize::try_from(l).unwrap_or(0)] += 1.0;
    }
    let total: f64 = h.iter().sum();
    let mut acc = 0.0;
    h.iter()
        .map(|&c| {
            acc += c / total;
            acc
        })
        .collect()
}

/// CCA; `None` without reference tracks that begin and end with a division.
pub fn cca(ref_tracks: &[TrackLine], comp_tracks: &[TrackLine]) -> Option<f64> {
    let r = cycle_lengths(ref_tracks);
    if r.is_empty() {
        return None;
    }
    let c = cycle_lengths(comp_tracks);
    if c.is_empty() {
        return Some(0.0);
    }
    let max = r.iter().chain(&c).copied().max().unwrap_or(0).max(0) as usize;
    let (hr, hc) = (cumulative(&r, max + 1), cumulative(&c, max + 1));
    let d = hr
        .iter()
        .zip(&hc)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f64, f64::max);
    Some(1.0 - d)
}

/// BIO: the mean of the defined measures among CT, TF, BC(i), CCA.
pub fn bio(ct: f64, tf: f64, bc: Option<f64>, cca: Option<f64>) -> f64 {
    let n = 2 + usize::from(bc.is_some()) + usize::from(cca.is_some());
    (ct + tf + bc.unwrap_or(0.0) + cca.unwrap_or(0.0)) / n as f64
}
