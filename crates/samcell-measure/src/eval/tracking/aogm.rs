//! AOGM graph-correction counts (py-ctcmetrics 1.3.3
//! `utils.representations.count_acyclic_graph_correction_operations`).
//!
//! Vertices are the (frame, label) objects of the masks, numbered frame by frame in ascending
//! label order. The detection test pairs each reference vertex with the computed vertex matching
//! it in its frame ([`super::matching`]). A reference vertex is a true positive when matched,
//! otherwise a false negative (FN); a computed vertex matching no reference vertex is a false
//! positive (FP); one matching k >= 2 reference vertices needs k - 1 splits (NS).
//!
//! Edges of either graph: a track link (semantic 0) joins every label present in two consecutive
//! frames t and t + 1 (from the masks, not from the track file); a parent link (semantic 1) joins
//! the parent's vertex in its last frame to the child's vertex in its first frame, for every track
//! with a parent. Computed edges are kept only when both ends match exactly one reference vertex,
//! and are then mapped onto the reference vertices. ED = mapped computed edges that are not
//! reference edges; EA = reference edges no mapped computed edge equals (including every reference
//! edge at an unmatched vertex); EC = equal edges of different semantics.

use super::matching::FrameMatch;
use super::TrackLine;
use serde::Serialize;
use std::collections::HashMap;

/// The AOGM operation counts and graph sizes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AogmCounts {
    /// Split operations needed: Σ over computed vertices matching k >= 2 reference vertices of k - 1.
    pub ns: u64,
    /// Reference vertices without a match.
    pub fn_: u64,
    /// Computed vertices matching no reference vertex.
    pub fp: u64,
    /// Computed edges to delete.
    pub ed: u64,
    /// Reference edges to add.
    pub ea: u64,
    /// Edges whose semantics (track link / parent link) must change.
    pub ec: u64,
    /// Reference vertices (objects over all frames).
    pub num_vertices: u64,
    /// Reference edges.
    pub num_edges: u64,
}

/// One graph's vertex numbering: `offsets[t]` + position of the label in `labels[t]`.
struct Graph<'a> {
    labels: Vec<&'a [u32]>,
    offsets: Vec<usize>,
}

impl<'a> Graph<'a> {
    fn new(labels: Vec<&'a [u32]>) -> Self {
        let mut offsets = Vec::with_capacity(labels.len() + 1);
        let mut n = 0;
        for l in &labels {
            offsets.push(n);
            n += l.len();
        }
        offsets.push(n);
        Self { labels, offsets }
    }

    fn vertex(&self, frame: i64, label: i64) -> Option<usize> {
        let t = usize::try_from(frame).ok()?;
        let l = u32::try_from(label).ok()?;
        let pos = self.labels.get(t)?.binary_search(&l).ok()?;
        Some(self.offsets[t] + pos)
    }

    fn len(&self) -> usize {
        self.offsets[self.labels.len()]
    }

    /// `(from, to, semantic)`: track links frame by frame, then parent links in track order.
    fn edges(&self, tracks: &[TrackLine], what: &str) -> Result<Vec<(usize, usize, u8)>, String> {
        let mut e = Vec::new();
        for t in 0..self.labels.len().saturating_sub(1) {
            let (a, b) = (self.labels[t], self.labels[t + 1]);
            let (mut i, mut j) = (0, 0);
            while i < a.len() && j < b.len() {
                match a[i].cmp(&b[j]) {
                    std::cmp::Ordering::Less => i += 1,
                    std::cmp::Ordering::Greater => j += 1,
                    std::cmp::Ordering::Equal => {
                        e.push((self.offsets[t] + i, self.offsets[t + 1] + j, 0));
                        i += 1;
                        j += 1;
                    }
                }
            }
        }
        for child in tracks.iter().filter(|t| t.parent != 0) {
            let parent = tracks
                .iter()
                .find(|t| t.label == child.parent)
                .ok_or_else(|| {
                    format!(
                        "{what}: parent {} of track {child} is not a track",
                        child.parent
                    )
                })?;
            let from = self.vertex(parent.end, parent.label).ok_or_else(|| {
                format!(
                    "{what}: track {parent} has no object in its last frame {}",
                    parent.end
                )
            })?;
            let to = self.vertex(child.begin, child.label).ok_or_else(|| {
                format!(
                    "{what}: track {child} has no object in its first frame {}",
                    child.begin
                )
            })?;
            e.push((from, to, 1));
        }
        Ok(e)
    }
}

/// Counts the AOGM operations that turn the computed graph into the reference graph.
/// `frames[t]` holds frame t's labels and matches. Errors name a track whose parent link has no
/// vertex (`"ground truth (man_track.txt)"` or `"result (res_track.txt)"` first).
pub fn count_operations(
    ref_tracks: &[TrackLine],
    comp_tracks: &[TrackLine],
    frames: &[FrameMatch],
) -> Result<AogmCounts, String> {
    let gr = Graph::new(frames.iter().map(|f| f.ref_labels.as_slice()).collect());
    let gc = Graph::new(frames.iter().map(|f| f.comp_labels.as_slice()).collect());
    // detection test
    let mut ref_matched = vec![false; gr.len()];
    let mut comp_count = vec![0u32; gc.len()];
    let mut comp_ref = vec![usize::MAX; gc.len()];
    let mut tp = 0u64;
    for (t, f) in frames.iter().enumerate() {
        for &(r, c, _) in &f.pairs {
            let vr = gr.offsets[t] + f.ref_labels.binary_search(&r).expect("matched label");
            let vc = gc.offsets[t] + f.comp_labels.binary_search(&c).expect("matched label");
            ref_matched[vr] = true;
            comp_count[vc] += 1;
            comp_ref[vc] = vr;
            tp += 1;
        }
    }
    let fn_ = ref_matched.iter().filter(|&&m| !m).count() as u64;
    let fp = comp_count.iter().filter(|&&k| k == 0).count() as u64;
    let ns: u64 = comp_count
        .iter()
        .filter(|&&k| k >= 2)
        .map(|&k| u64::from(k) - 1)
        .sum();
    debug_assert_eq!(
        ns,
        tp - comp_count.iter().filter(|&&k| k >= 1).count() as u64
    );
    let er = gr.edges(ref_tracks, "ground truth (man_track.txt)")?;
    let ec_all = gc.edges(comp_tracks, "result (res_track.txt)")?;
    let ref_edges: HashMap<(usize, usize), u8> = er.iter().map(|&(a, b, s)| ((a, b), s)).collect();
    let (mut ed, mut found, mut ec) = (0u64, 0u64, 0u64);
    for &(a, b, s) in &ec_all {
        if comp_count[a] != 1 || comp_count[b] != 1 {
            continue;
        }
        match ref_edges.get(&(comp_ref[a], comp_ref[b])) {
            None => ed += 1,
            Some(&rs) => {
                found += 1;
                if rs != s {
                    ec += 1;
                }
            }
        }
    }
    Ok(AogmCounts {
        ns,
        fn_,
        fp,
        ed,
        ea: er.len() as u64 - found,
        ec,
        num_vertices: gr.len() as u64,
        num_edges: er.len() as u64,
    })
}
