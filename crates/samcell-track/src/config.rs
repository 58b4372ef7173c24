//! The linker's settings ([`TrackConfig`]), with their defaults declared once in
//! [`TrackConfig::default`].

/// Settings of the frame-to-frame linker ([`crate::Tracker`]). Overlaps are measured after
/// shifting each cell by its predicted displacement (see the crate docs).
#[derive(Clone, Debug, PartialEq)]
pub struct TrackConfig {
    /// Smallest intersection over union for a cell in one frame to be the same cell in the
    /// next (or, across a gap, in a later) frame. Default 0.1.
    pub min_iou: f64,
    /// In the first assignment, score each pair at the better of its overlap as the cells lie
    /// and its overlap after shifting the earlier cell by its track's last displacement per
    /// frame (a daughter's is its parent's): steady motion (a colony's outward push) and
    /// stage jitter (which reverses from frame to frame) are both followed. Default true.
    pub predict_motion: bool,
    /// Refinements of the displacements: in each, every cell is shifted by the median
    /// displacement of the cells linked by the previous assignment around it
    /// ([`TrackConfig::drift_radius`]) and the assignment is solved again. Default 2.
    pub drift_passes: usize,
    /// Radius of the neighbourhood whose median displacement a cell takes, in median cell
    /// diameters (the equivalent diameter of the frame's median cell area). Default 3.
    pub drift_radius: f64,
    /// A daughter lies mostly inside its (shifted) parent: at least this fraction of the
    /// daughter's area overlaps the parent. Default 0.3.
    pub division_min_inside: f64,
    /// Each of the two daughters covers at least this fraction of the parent's area.
    /// Default 0.2.
    pub division_min_share: f64,
    /// A cell whose continuation in the next frame has at most this fraction of its area has
    /// divided when an unassigned cell beside that continuation makes up the rest (see
    /// [`crate::link`], step 3). Default 0.7.
    pub division_max_shrink: f64,
    /// Longest gap, in missing frames, that a track is continued across (a cell missing from 1
    /// to `max_gap` frames). 0 closes no gaps. Default 2.
    pub max_gap: usize,
    /// A cell with a pixel within this many pixels of the image edge touches the border: a
    /// track that ends there left the field of view (no gap closing), a new cell there entered
    /// it. Default 2.
    pub border_margin: usize,
}

impl Default for TrackConfig {
    fn default() -> Self {
        Self {
            min_iou: 0.1,
            predict_motion: true,
            drift_passes: 2,
            drift_radius: 3.0,
            division_min_inside: 0.3,
            division_min_share: 0.2,
            division_max_shrink: 0.7,
            max_gap: 2,
            border_margin: 2,
        }
    }
}

impl TrackConfig {
    /// [`TrackConfig::min_iou`] must lie in (0, 1]: an IoU of 0 would link cells that do not
    /// overlap at all. The front ends name their own option in front of the message.
    pub fn check_min_iou(min_iou: f64) -> Result<f64, crate::TrackError> {
        if min_iou > 0.0 && min_iou <= 1.0 {
            Ok(min_iou)
        } else {
            Err(crate::TrackError::MinIou(min_iou))
        }
    }
}
