//! The linker: [`Tracker::push`] takes the frames in order and links each to the one before
//! (and, across gaps, to the few before that); [`Tracker::finish`] returns the tracks.
//!
//! Linking frame t-1 to frame t:
//! 1. The overlaps of each cell of t-1 with the cells of t are counted where the cells lie and,
//!    with [`TrackConfig::predict_motion`], after shifting the cell by its track's last
//!    displacement per frame (a daughter takes its parent's, a new cell none). Pairs whose IoU
//!    reaches [`TrackConfig::min_iou`] in either are candidates, weighted by the better IoU;
//!    the one-to-one assignment of largest total IoU is solved exactly (`assign`).
//! 2. [`TrackConfig::drift_passes`] times, each cell of t-1 is shifted by the median
//!    displacement (centroid to centroid) of the pairs linked by the last assignment within
//!    [`TrackConfig::drift_radius`] median cell diameters of it (its own pair included; no
//!    such pair: the shift it had), and the assignment is solved again on the new overlaps (a
//!    pass that moves no cell by a whole pixel ends the refinement: it would give the same
//!    assignment). This follows local motion that is larger than a cell, such as the outward
//!    push at the edge of a growing colony, as well as stage jitter.
//! 3. Division, with the shifted overlaps of step 2, for each cell of t-1 in turn: the cell is
//!    a parent when two cells of t that are unassigned or assigned to it, each lying at least
//!    [`TrackConfig::division_min_inside`] inside it, each covering at least
//!    [`TrackConfig::division_min_share`] of it and each overlapping no other cell of t-1 more,
//!    match it as a union better than its assigned cell alone (the best such pair); or, failing
//!    that, when its assigned cell has at most [`TrackConfig::division_max_shrink`] of its area
//!    and an unassigned cell away from the border makes up the rest (the two together 0.7 to
//!    1.5 times its area, their joint centroid within half its equivalent diameter of its
//!    shifted centroid; the closest such cell). A parent's track ends at t-1 and both daughters
//!    start tracks with it as parent.
//! 4. Gap closing: a track that ended 1 to [`TrackConfig::max_gap`] frames before t without
//!    dividing and away from the border is continued by a cell of t that is still unlinked and
//!    away from the border, when their IoU (the old cell shifted by its displacement per frame
//!    times the frames between) reaches `min_iou`; the assignment is solved as in step 1. The
//!    continuation is a new track with the old one as parent (the Cell Tracking Challenge's
//!    rule for gaps).
//! 5. Every cell of t still unlinked starts a track without parent (a cell entering the field
//!    of view at the border, or appearing).
//!
//! Tracks are numbered from 1 in the order they start: by frame, then within a frame first the
//! daughters (in order of their parent's cell), then continuations across gaps, then new cells,
//! each in raster order of the cell's first pixel. Nothing depends on the input's label
//! values, and the same frames give the same tracks.

use crate::assign::{assign, weight};
use crate::cells::FrameCells;
use crate::tracking::{Division, FrameRecord, Track, Tracking};
use crate::{TrackConfig, TrackError};
use rayon::prelude::*;
use samcell_imaging::Labels;
use std::collections::{HashMap, VecDeque};

/// A track while it is being built.
#[derive(Clone, Debug)]
struct Tracklet {
    parent: u32,
    start: usize,
    end: usize,
    /// Its cell (number in the frame) in frame `end`.
    last_cell: usize,
    /// Displacement per frame, px.
    velocity: (f64, f64),
    divided: bool,
    continued: bool,
    at_border: bool,
}

/// Links label images frame by frame (module docs). Keeps the pixels of the last
/// `max_gap + 1` frames only.
#[derive(Debug)]
pub struct Tracker {
    config: TrackConfig,
    size: Option<(usize, usize)>,
    window: VecDeque<(usize, FrameCells)>,
    tracklets: Vec<Tracklet>,
    frames: Vec<FrameRecord>,
    divisions: Vec<Division>,
}

impl Tracker {
    /// A tracker with `config`.
    pub fn new(config: TrackConfig) -> Self {
        Self {
            config,
            size: None,
            window: VecDeque::new(),
            tracklets: Vec::new(),
            frames: Vec::new(),
            divisions: Vec::new(),
        }
    }

    /// Frames pushed so far.
    pub fn frames(&self) -> usize {
        self.frames.len()
    }

    /// Adds the next frame and links it to the earlier ones. Error: a frame whose size differs
    /// from the first frame's (nothing is added then).
    pub fn push(&mut self, labels: &Labels) -> Result<(), TrackError> {
        let t = self.frames.len();
        let found = (labels.width(), labels.height());
        match self.size {
            Some(expected) if expected != found => {
                return Err(TrackError::FrameSize {
                    frame: t,
                    expected,
                    found,
                })
            }
            _ => self.size = Some(found),
        }
        let cur = FrameCells::new(labels, self.config.border_margin);
        let mut track = vec![0u32; cur.cells.len()];
        let window = std::mem::take(&mut self.window);
        if let Some((pt, prev)) = window.back() {
            if *pt + 1 == t {
                self.link(prev, &cur, t, &mut track);
                self.close_gaps(&window, &cur, t, &mut track);
            }
        }
        self.window = window;
        for (k, id) in track.iter_mut().enumerate() {
            if *id == 0 {
                *id = self.start_track(0, t, (0.0, 0.0));
            }
            let tr = &mut self.tracklets[*id as usize - 1];
            tr.end = t;
            tr.last_cell = k;
            tr.at_border = cur.cells[k].touches_border;
        }
        self.frames.push(FrameRecord {
            labels: cur.cells.iter().map(|c| c.label).collect(),
            tracks: track,
        });
        self.window.push_back((t, cur));
        while self.window.len() > self.config.max_gap + 1 {
            self.window.pop_front();
        }
        Ok(())
    }

    /// The tracks of all frames pushed.
    pub fn finish(self) -> Tracking {
        let tracks = self
            .tracklets
            .iter()
            .enumerate()
            .map(|(i, t)| Track {
                id: i as u32 + 1,
                start: t.start,
                end: t.end,
                parent: t.parent,
            })
            .collect();
        let size = self.size.unwrap_or((0, 0));
        let at_border = self.tracklets.iter().map(|t| t.at_border).collect();
        Tracking::new(size, tracks, self.divisions, self.frames, at_border)
    }

    fn start_track(&mut self, parent: u32, t: usize, velocity: (f64, f64)) -> u32 {
        self.tracklets.push(Tracklet {
            parent,
            start: t,
            end: t,
            last_cell: 0,
            velocity,
            divided: false,
            continued: false,
            at_border: false,
        });
        self.tracklets.len() as u32
    }

    /// Steps 1-3 of the module docs: links and divisions from frame t-1 (`prev`) to t.
    fn link(&mut self, prev: &FrameCells, cur: &FrameCells, t: usize, track: &mut [u32]) {
        let prev_tracks = self.frames[t - 1].tracks.clone();
        let min_iou = self.config.min_iou;
        // first assignment: each pair scored at the better of the unshifted overlap and, with
        // motion prediction, the overlap after the track's last displacement
        let mut shifts = vec![(0.0, 0.0); prev.cells.len()];
        let mut ov = all_overlaps(prev, &shifts, cur, None);
        let mut cand = candidates(prev, cur, &ov, min_iou);
        if self.config.predict_motion {
            let moved: Vec<(f64, f64)> = prev_tracks
                .iter()
                .map(|&id| self.tracklets[id as usize - 1].velocity)
                .collect();
            ov = all_overlaps(prev, &moved, cur, Some((&shifts, &ov)));
            shifts = moved;
            cand.extend(candidates(prev, cur, &ov, min_iou));
            cand.sort_unstable_by(|x, y| (x.0, x.1, y.2).cmp(&(y.0, y.1, x.2)));
            cand.dedup_by_key(|x| (x.0, x.1));
        }
        let n = (prev.cells.len(), cur.cells.len());
        let mut m = assign(n.0, n.1, &cand);
        let radius = (self.config.drift_radius * prev.median_diameter()).max(1.0);
        for _ in 0..self.config.drift_passes {
            if m.iter().all(Option::is_none) {
                break;
            }
            let next = local_drift(prev, cur, &m, &shifts, radius);
            // the same whole-pixel shifts would give the same assignment
            if next
                .iter()
                .zip(&shifts)
                .all(|(a, b)| round(*a) == round(*b))
            {
                break;
            }
            ov = all_overlaps(prev, &next, cur, Some((&shifts, &ov)));
            shifts = next;
            m = assign(n.0, n.1, &candidates(prev, cur, &ov, min_iou));
        }
        let mut owner: Vec<Option<usize>> = vec![None; cur.cells.len()];
        for (a, b) in m.iter().enumerate() {
            if let Some(b) = b {
                owner[*b] = Some(a);
            }
        }
        // the cell of t-1 each cell of t overlaps most (ties: the first)
        let mut best_prev: Vec<(u64, usize)> = vec![(0, usize::MAX); cur.cells.len()];
        for (a, list) in ov.iter().enumerate() {
            for &(b, o) in list {
                if o > best_prev[b as usize].0 {
                    best_prev[b as usize] = (o, a);
                }
            }
        }
        let mut daughter = vec![false; cur.cells.len()];
        for a in 0..prev.cells.len() {
            let found = self
                .division(a, prev, cur, &ov[a], m[a], &owner, &daughter, &best_prev)
                .map(|x| x.0)
                .or_else(|| self.halving(a, prev, cur, shifts[a], m[a], &owner, &daughter));
            let Some(d) = found else {
                continue;
            };
            let pid = prev_tracks[a];
            self.tracklets[pid as usize - 1].divided = true;
            m[a] = None;
            let mut ids = [0u32; 2];
            for (i, &b) in d.iter().enumerate() {
                ids[i] = self.start_track(pid, t, shifts[a]);
                track[b] = ids[i];
                daughter[b] = true;
                owner[b] = None;
            }
            self.divisions.push(Division {
                frame: t,
                parent: pid,
                daughters: ids,
            });
        }
        for (a, b) in m.iter().enumerate() {
            if let Some(b) = *b {
                let id = prev_tracks[a];
                track[b] = id;
                let (p, c) = (&prev.cells[a], &cur.cells[b]);
                self.tracklets[id as usize - 1].velocity = (c.cx - p.cx, c.cy - p.cy);
            }
        }
    }

    /// Step 3 of the module docs: the two daughters of cell `a` of t-1 (in raster order), with
    /// the IoU of `a` and their union, when `a` divides. `ov` are `a`'s overlaps, `matched` its
    /// cell in the assignment.
    #[allow(clippy::too_many_arguments)]
    fn division(
        &self,
        a: usize,
        prev: &FrameCells,
        cur: &FrameCells,
        ov: &[(u32, u64)],
        matched: Option<usize>,
        owner: &[Option<usize>],
        daughter: &[bool],
        best_prev: &[(u64, usize)],
    ) -> Option<([usize; 2], f64)> {
        let area = prev.cells[a].area as f64;
        let (inside, share) = (
            self.config.division_min_inside,
            self.config.division_min_share,
        );
        let overlap = |b: usize| ov.iter().find(|x| x.0 as usize == b).map_or(0, |x| x.1) as f64;
        let fits = |b: usize| {
            let o = overlap(b);
            o >= inside * cur.cells[b].area as f64 && o >= share * area
        };
        // unassigned cells of t that overlap `a` more than any other cell of t-1
        let free: Vec<usize> = ov
            .iter()
            .map(|x| x.0 as usize)
            .filter(|&b| owner[b].is_none() && !daughter[b] && best_prev[b].1 == a && fits(b))
            .collect();
        let union_iou = |b1: usize, b2: usize| {
            let o = overlap(b1) + overlap(b2);
            o / (area + cur.cells[b1].area as f64 + cur.cells[b2].area as f64 - o)
        };
        let mut best: Option<([usize; 2], f64)> = None;
        let mut consider = |b1: usize, b2: usize| {
            let u = union_iou(b1, b2);
            if best.is_none_or(|(_, x)| u > x) {
                best = Some(([b1.min(b2), b1.max(b2)], u));
            }
        };
        match matched {
            Some(b1) if fits(b1) => free.iter().for_each(|&b2| consider(b1, b2)),
            Some(_) => return None,
            None => {
                for (i, &b1) in free.iter().enumerate() {
                    free[i + 1..].iter().for_each(|&b2| consider(b1, b2));
                }
            }
        }
        let (d, u) = best?;
        let alone = matched.map_or(0.0, |b1| {
            let o = overlap(b1);
            o / (area + cur.cells[b1].area as f64 - o)
        });
        (u >= self.config.min_iou && u > alone).then_some((d, u))
    }

    /// Step 3's second rule: cell `a` of t-1, assigned to a cell of t of at most
    /// [`TrackConfig::division_max_shrink`] of its area, divided when an unassigned cell of t
    /// away from the border completes it: the union of the two has 0.7 to 1.5 times `a`'s area
    /// and its centroid lies within half `a`'s equivalent diameter of `a`'s shifted centroid
    /// (the closest such cell).
    #[allow(clippy::too_many_arguments)]
    fn halving(
        &self,
        a: usize,
        prev: &FrameCells,
        cur: &FrameCells,
        shift: (f64, f64),
        matched: Option<usize>,
        owner: &[Option<usize>],
        daughter: &[bool],
    ) -> Option<[usize; 2]> {
        let b1 = matched?;
        let pa = &prev.cells[a];
        let c1 = &cur.cells[b1];
        let area = pa.area as f64;
        if c1.area as f64 > self.config.division_max_shrink * area {
            return None;
        }
        let (px, py) = (pa.cx + shift.0, pa.cy + shift.1);
        let reach = 0.5 * (4.0 * area / std::f64::consts::PI).sqrt();
        let mut best: Option<(f64, usize)> = None;
        for (b2, c2) in cur.cells.iter().enumerate() {
            if b2 == b1 || owner[b2].is_some() || daughter[b2] || c2.touches_border {
                continue;
            }
            let both = (c1.area + c2.area) as f64;
            if !(0.7 * area..=1.5 * area).contains(&both) {
                continue;
            }
            let ux = (c1.cx * c1.area as f64 + c2.cx * c2.area as f64) / both;
            let uy = (c1.cy * c1.area as f64 + c2.cy * c2.area as f64) / both;
            let d = ((ux - px).powi(2) + (uy - py).powi(2)).sqrt();
            if d <= reach && best.is_none_or(|(x, _)| d < x) {
                best = Some((d, b2));
            }
        }
        best.map(|(_, b2)| [b1.min(b2), b1.max(b2)])
    }

    /// Step 4 of the module docs: tracks that ended 1..=max_gap frames before t continued by
    /// unlinked cells of t.
    fn close_gaps(
        &mut self,
        window: &VecDeque<(usize, FrameCells)>,
        cur: &FrameCells,
        t: usize,
        track: &mut [u32],
    ) {
        let starters: Vec<usize> = (0..cur.cells.len())
            .filter(|&k| track[k] == 0 && !cur.cells[k].touches_border)
            .collect();
        if starters.is_empty() || self.config.max_gap == 0 {
            return;
        }
        let column: HashMap<usize, usize> =
            starters.iter().enumerate().map(|(i, &k)| (k, i)).collect();
        // (track id, its frame, the cells of that frame)
        let mut ended: Vec<(u32, usize, &FrameCells)> = Vec::new();
        for (e, frame) in window {
            if *e + 2 > t || *e + 1 + self.config.max_gap < t {
                continue;
            }
            for &id in &self.frames[*e].tracks {
                let tr = &self.tracklets[id as usize - 1];
                if tr.end == *e && !tr.divided && !tr.continued && !tr.at_border {
                    ended.push((id, *e, frame));
                }
            }
        }
        let mut cand = Vec::new();
        for (r, &(id, e, frame)) in ended.iter().enumerate() {
            let tr = &self.tracklets[id as usize - 1];
            let steps = (t - e) as f64;
            let shift = (tr.velocity.0 * steps, tr.velocity.1 * steps);
            let a = frame.cells[tr.last_cell].area;
            for (b, o) in frame.overlaps(tr.last_cell, round(shift), cur) {
                if let Some(&c) = column.get(&(b as usize)) {
                    let iou = o as f64 / (a + cur.cells[b as usize].area - o) as f64;
                    if iou >= self.config.min_iou {
                        cand.push((r, c, weight(iou)));
                    }
                }
            }
        }
        let m = assign(ended.len(), starters.len(), &cand);
        for (r, c) in m.iter().enumerate() {
            if let Some(c) = *c {
                let (old, e, frame) = ended[r];
                let (p, k) = (
                    &frame.cells[self.tracklets[old as usize - 1].last_cell],
                    starters[c],
                );
                let steps = (t - e) as f64;
                let v = (
                    (cur.cells[k].cx - p.cx) / steps,
                    (cur.cells[k].cy - p.cy) / steps,
                );
                self.tracklets[old as usize - 1].continued = true;
                track[k] = self.start_track(old, t, v);
            }
        }
    }
}

fn round((x, y): (f64, f64)) -> (i64, i64) {
    (x.round() as i64, y.round() as i64)
}

/// Overlaps of every cell of `prev` shifted by its shift with the cells of `cur`, cells in
/// parallel (rayon); a cell whose whole-pixel shift is the one in `reuse` keeps the overlaps
/// computed there.
type Overlaps = Vec<Vec<(u32, u64)>>;

fn all_overlaps(
    prev: &FrameCells,
    shifts: &[(f64, f64)],
    cur: &FrameCells,
    reuse: Option<(&[(f64, f64)], &Overlaps)>,
) -> Overlaps {
    (0..prev.cells.len())
        .into_par_iter()
        .map(|a| {
            let s = round(shifts[a]);
            match reuse {
                Some((old, ov)) if round(old[a]) == s => ov[a].clone(),
                _ => prev.overlaps(a, s, cur),
            }
        })
        .collect()
}

/// Candidate pairs (IoU >= `min_iou`) with their weights.
fn candidates(
    prev: &FrameCells,
    cur: &FrameCells,
    ov: &[Vec<(u32, u64)>],
    min_iou: f64,
) -> Vec<(usize, usize, i64)> {
    let mut out = Vec::new();
    for (a, list) in ov.iter().enumerate() {
        for &(b, o) in list {
            let union = prev.cells[a].area + cur.cells[b as usize].area - o;
            let iou = o as f64 / union as f64;
            if iou >= min_iou {
                out.push((a, b as usize, weight(iou)));
            }
        }
    }
    out
}

/// Median of `v` (mean of the two middle values for an even count); `v` is not empty.
fn median(v: &mut [f64]) -> f64 {
    v.sort_unstable_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Step 2 of the module docs: per cell of `prev`, the median displacement of the linked pairs
/// whose `prev` cell lies within `radius` px; `fallback` where there is none.
fn local_drift(
    prev: &FrameCells,
    cur: &FrameCells,
    m: &[Option<usize>],
    fallback: &[(f64, f64)],
    radius: f64,
) -> Vec<(f64, f64)> {
    let key = |x: f64, y: f64| ((x / radius).floor() as i64, (y / radius).floor() as i64);
    // grid square -> (x, y, dx, dy) of the linked cells in it
    type Moves = Vec<(f64, f64, f64, f64)>;
    let mut grid: HashMap<(i64, i64), Moves> = HashMap::new();
    for (a, b) in m.iter().enumerate() {
        if let Some(b) = *b {
            let (p, c) = (&prev.cells[a], &cur.cells[b]);
            grid.entry(key(p.cx, p.cy))
                .or_default()
                .push((p.cx, p.cy, c.cx - p.cx, c.cy - p.cy));
        }
    }
    let (mut dx, mut dy) = (Vec::new(), Vec::new());
    prev.cells
        .iter()
        .enumerate()
        .map(|(a, p)| {
            dx.clear();
            dy.clear();
            let (gx, gy) = key(p.cx, p.cy);
            for i in gx - 1..=gx + 1 {
                for j in gy - 1..=gy + 1 {
                    for &(x, y, u, v) in grid.get(&(i, j)).map_or(&[][..], |v| &v[..]) {
                        if (x - p.cx).powi(2) + (y - p.cy).powi(2) <= radius * radius {
                            dx.push(u);
                            dy.push(v);
                        }
                    }
                }
            }
            if dx.is_empty() {
                fallback[a]
            } else {
                (median(&mut dx), median(&mut dy))
            }
        })
        .collect()
}
