//! The tables of a tracking result, comma-separated with `\n` line ends, numbers as
//! samcell-measure writes them (`NaN` for undefined):
//! - `tracks.csv`: one row per cell per frame: `frame`, `time_<unit>`, `track_id`, `parent`,
//!   then the columns of `samcell segment`'s `_cells.csv` after its `label` (the cell's label is
//!   its track id), from samcell-measure's per-cell measurement of the relabelled frame: area,
//!   centroid (`Center_X_px`, `Center_Y_px`), shape, neighbours, and intensity when the frames'
//!   images are known.
//! - `lineage.csv`: one row per track: `track_id`, `parent`, `first_frame`, `last_frame`,
//!   `frames`, `daughters` (the child tracks, separated by `;`), `generation` (0 for a track
//!   without parent, +1 per division, unchanged across a gap), `fate` (`divided`, `gap` when
//!   continued by a later track, `left` when it ended at the border, `end` when it lasts to
//!   the last frame, `lost` otherwise).
//! - `growth.csv`: one row per frame: `frame`, `time_<unit>`, `count`, `confluency` (fraction
//!   0..1 of the image covered), `mean_area_px2` (NaN without cells), `divisions` (whose
//!   daughters first appear in this frame).

use crate::interval::Timeline;
use crate::tracking::Tracking;
use samcell_measure::csv::{cells_csv_string, fmt_f64};
use samcell_measure::Measurements;
use std::fmt::Write as _;

/// One row of `growth.csv`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GrowthRow {
    /// Frame number.
    pub frame: usize,
    /// Its time (in the timeline's unit).
    pub time: f64,
    /// Cells in the frame.
    pub count: usize,
    /// Fraction of the image covered by cells.
    pub confluency: f64,
    /// Mean cell area, px²; NaN without cells.
    pub mean_area: f64,
    /// Divisions whose daughters first appear in this frame.
    pub divisions: usize,
}

impl GrowthRow {
    /// The row of `frame` from its measurements.
    pub fn new(frame: usize, timeline: &Timeline, m: &Measurements, tracking: &Tracking) -> Self {
        let s = m.summary("");
        Self {
            frame,
            time: timeline.time(frame),
            count: s.cell_count,
            confluency: s.confluency,
            mean_area: s.mean_area,
            divisions: tracking
                .divisions
                .iter()
                .filter(|d| d.frame == frame)
                .count(),
        }
    }
}

/// The header line of `tracks.csv` for measurements like `m`.
pub fn tracks_csv_header(m: &Measurements, timeline: &Timeline) -> String {
    let cells = samcell_measure::csv::cell_columns(m);
    format!(
        "frame,time_{},track_id,parent,{}\n",
        timeline.unit(),
        cells[1..].join(",")
    )
}

/// The rows of `tracks.csv` for `frame`, whose relabelled cells (label = track id) were
/// measured as `m`.
pub fn tracks_csv_rows(
    frame: usize,
    timeline: &Timeline,
    m: &Measurements,
    tracking: &Tracking,
) -> String {
    let text = cells_csv_string(m);
    let time = fmt_f64(timeline.time(frame));
    let mut s = String::new();
    for line in text.lines().skip(1) {
        let (label, rest) = line.split_once(',').unwrap_or((line, ""));
        let parent = label
            .parse::<u32>()
            .ok()
            .and_then(|id| tracking.track(id))
            .map_or(0, |t| t.parent);
        let _ = writeln!(s, "{frame},{time},{label},{parent},{rest}");
    }
    s
}

/// `lineage.csv` (module docs).
pub fn lineage_csv(tracking: &Tracking) -> String {
    let generations = tracking.generations();
    let last = tracking.frames().saturating_sub(1);
    let mut children: Vec<Vec<u32>> = vec![Vec::new(); tracking.tracks.len()];
    for t in &tracking.tracks {
        if t.parent > 0 {
            children[t.parent as usize - 1].push(t.id);
        }
    }
    let divided: std::collections::HashSet<u32> =
        tracking.divisions.iter().map(|d| d.parent).collect();
    let mut s =
        String::from("track_id,parent,first_frame,last_frame,frames,daughters,generation,fate\n");
    for t in &tracking.tracks {
        let kids = &children[t.id as usize - 1];
        let fate = if divided.contains(&t.id) {
            "divided"
        } else if !kids.is_empty() {
            "gap"
        } else if t.end == last {
            "end"
        } else if tracking.ended_at_border(t.id) {
            "left"
        } else {
            "lost"
        };
        let kids: Vec<String> = kids.iter().map(|k| k.to_string()).collect();
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{fate}",
            t.id,
            t.parent,
            t.start,
            t.end,
            t.end - t.start + 1,
            kids.join(";"),
            generations[t.id as usize - 1]
        );
    }
    s
}

/// `growth.csv` (module docs).
pub fn growth_csv(rows: &[GrowthRow], timeline: &Timeline) -> String {
    let mut s = format!(
        "frame,time_{},count,confluency,mean_area_px2,divisions\n",
        timeline.unit()
    );
    for r in rows {
        let _ = writeln!(
            s,
            "{},{},{},{},{},{}",
            r.frame,
            fmt_f64(r.time),
            r.count,
            fmt_f64(r.confluency),
            fmt_f64(r.mean_area),
            r.divisions
        );
    }
    s
}
