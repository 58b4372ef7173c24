//! Helpers of the linker tests: synthetic sequences and their scoring against known lineage.

#![allow(dead_code)]

pub mod synth;

use samcell_imaging::Labels;
use samcell_track::{ctc, TrackConfig, Tracker, Tracking};
use std::collections::{BTreeSet, HashMap};

/// A frame of `w` x `h` with the given cells as rectangles `(label, x0, y0, x1, y1)` (x1, y1
/// excluded).
pub fn frame(w: usize, h: usize, cells: &[(u32, usize, usize, usize, usize)]) -> Labels {
    let mut v = vec![0u32; w * h];
    for &(l, x0, y0, x1, y1) in cells {
        for y in y0..y1 {
            for x in x0..x1 {
                v[y * w + x] = l;
            }
        }
    }
    Labels::from_vec(w, h, v).unwrap()
}

/// Links `frames` with `config`.
pub fn track(frames: &[Labels], config: TrackConfig) -> Tracking {
    let mut t = Tracker::new(config);
    for f in frames {
        t.push(f).unwrap();
    }
    t.finish()
}

/// The result masks of `tracking`, and the problems [`ctc::validate`] finds in them.
pub fn validate(frames: &[Labels], tracking: &Tracking) -> Vec<String> {
    let masks: Vec<Labels> = frames
        .iter()
        .enumerate()
        .map(|(t, f)| tracking.relabel(t, f).unwrap())
        .collect();
    ctc::validate(&masks, &tracking.tracks)
}

/// Frame-to-frame links in the input's labels: `(t, label in t, label in t + 1)` for the same
/// cell or a parent and its daughter.
pub fn links_of(frames: &[Labels], tracking: &Tracking) -> BTreeSet<(usize, u32, u32)> {
    let mut out = BTreeSet::new();
    for t in 0..frames.len().saturating_sub(1) {
        let before: HashMap<u32, u32> = tracking.cells(t).map(|(l, k)| (k, l)).collect();
        for (l, k) in tracking.cells(t + 1) {
            if let Some(&a) = before.get(&k) {
                out.insert((t, a, l));
            } else {
                let tr = tracking.track(k).unwrap();
                if let Some(&a) = before.get(&tr.parent) {
                    out.insert((t, a, l));
                }
            }
        }
    }
    out
}

/// The same links from ground truth (labels are track ids, `tracks` their `(id, first, last,
/// parent)`).
pub fn links_gt(
    frames: &[Labels],
    tracks: &[(u32, usize, usize, u32)],
) -> BTreeSet<(usize, u32, u32)> {
    let parent: HashMap<u32, u32> = tracks.iter().map(|t| (t.0, t.3)).collect();
    let mut out = BTreeSet::new();
    for t in 0..frames.len().saturating_sub(1) {
        let here: BTreeSet<u32> = frames[t]
            .data()
            .iter()
            .copied()
            .filter(|&l| l > 0)
            .collect();
        let next: BTreeSet<u32> = frames[t + 1]
            .data()
            .iter()
            .copied()
            .filter(|&l| l > 0)
            .collect();
        for &l in &next {
            if here.contains(&l) {
                out.insert((t, l, l));
            } else if let Some(&p) = parent.get(&l) {
                if here.contains(&p) {
                    out.insert((t, p, l));
                }
            }
        }
    }
    out
}
