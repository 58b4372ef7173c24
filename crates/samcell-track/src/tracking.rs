//! The result of linking ([`Tracking`]): tracks in the Cell Tracking Challenge's sense (one
//! label per track, `L B E P` lines), the divisions, and per frame which track each input
//! label became.

use crate::TrackError;
use samcell_imaging::Labels;
use std::collections::HashMap;

/// One track: a cell followed from frame `start` to frame `end` (both included) without gaps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Track {
    /// Its label in the result masks, from 1.
    pub id: u32,
    /// First frame.
    pub start: usize,
    /// Last frame.
    pub end: usize,
    /// The track it came from (divided from, or continued across a gap); 0 for none.
    pub parent: u32,
}

/// One division: `parent`'s track ends at `frame - 1`, its two `daughters` start at `frame`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Division {
    /// The daughters' first frame.
    pub frame: usize,
    /// The parent's track.
    pub parent: u32,
    /// The daughters' tracks.
    pub daughters: [u32; 2],
}

/// Per frame: the input labels of its cells and the track each became (same order).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct FrameRecord {
    pub(crate) labels: Vec<u32>,
    pub(crate) tracks: Vec<u32>,
}

/// All tracks of a sequence ([`crate::Tracker::finish`]).
#[derive(Clone, Debug)]
pub struct Tracking {
    /// Frame width and height, px.
    pub size: (usize, usize),
    /// The tracks, in id order (`tracks[i].id == i + 1`).
    pub tracks: Vec<Track>,
    /// The divisions, by frame.
    pub divisions: Vec<Division>,
    frames: Vec<FrameRecord>,
    /// Per track (index `id - 1`): its last cell touched the border.
    at_border: Vec<bool>,
}

impl Tracking {
    pub(crate) fn new(
        size: (usize, usize),
        tracks: Vec<Track>,
        divisions: Vec<Division>,
        frames: Vec<FrameRecord>,
        at_border: Vec<bool>,
    ) -> Self {
        Self {
            size,
            tracks,
            divisions,
            frames,
            at_border,
        }
    }

    /// Whether track `id`'s last cell touched the image border
    /// ([`crate::TrackConfig::border_margin`]).
    pub fn ended_at_border(&self, id: u32) -> bool {
        id.checked_sub(1)
            .and_then(|i| self.at_border.get(i as usize))
            .copied()
            .unwrap_or(false)
    }

    /// Number of frames.
    pub fn frames(&self) -> usize {
        self.frames.len()
    }

    /// `(input label, track id)` of every cell of `frame`, in raster order of the cells.
    pub fn cells(&self, frame: usize) -> impl Iterator<Item = (u32, u32)> + '_ {
        let f = &self.frames[frame];
        f.labels.iter().copied().zip(f.tracks.iter().copied())
    }

    /// The track of `id`, if there is one.
    pub fn track(&self, id: u32) -> Option<&Track> {
        id.checked_sub(1).and_then(|i| self.tracks.get(i as usize))
    }

    /// Daughters of track `id`: the tracks whose parent it is (a division's two, or the
    /// continuation across a gap), in id order.
    pub fn children(&self, id: u32) -> Vec<u32> {
        self.tracks
            .iter()
            .filter(|t| t.parent == id)
            .map(|t| t.id)
            .collect()
    }

    /// Generation of every track (index `id - 1`): 0 without parent, one more than the parent
    /// after a division, the parent's own across a gap (the same cell).
    pub fn generations(&self) -> Vec<u32> {
        let divided: std::collections::HashSet<u32> =
            self.divisions.iter().map(|d| d.parent).collect();
        let mut g = vec![0u32; self.tracks.len()];
        // parents have smaller ids than their children
        for t in &self.tracks {
            if t.parent > 0 {
                let p = g[t.parent as usize - 1];
                g[t.id as usize - 1] = if divided.contains(&t.parent) {
                    p + 1
                } else {
                    p
                };
            }
        }
        g
    }

    /// The largest track id (0 without tracks): the result masks are 16-bit up to 65,535,
    /// 32-bit above.
    pub fn max_id(&self) -> u32 {
        self.tracks.len() as u32
    }

    /// `labels` (the label image of `frame` that was pushed) with each cell's pixels set to its
    /// track id. Error: a label the frame did not have when it was linked.
    pub fn relabel(&self, frame: usize, labels: &Labels) -> Result<Labels, TrackError> {
        let map: HashMap<u32, u32> = self.cells(frame).collect();
        let mut last = (0u32, 0u32);
        let mut out = Vec::with_capacity(labels.data().len());
        for &l in labels.data() {
            if l == 0 {
                out.push(0);
                continue;
            }
            if l != last.0 {
                let id = *map
                    .get(&l)
                    .ok_or(TrackError::UnknownLabel { frame, label: l })?;
                last = (l, id);
            }
            out.push(last.1);
        }
        Labels::from_vec(labels.width(), labels.height(), out)
            .map_err(|e| TrackError::Invalid(e.to_string()))
    }
}
