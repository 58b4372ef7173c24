//! Per-frame matching of reference and computed objects (py-ctcmetrics `utils.representations.match`):
//! a reference object R is matched by the computed object S covering more than half of it
//! (`|R ∩ S| > 0.5 |R|`, tested as `2 |R ∩ S| > |R|`), so each R has at most one match; the pair's
//! IoU is `|R ∩ S| / (|R| + |S| - |R ∩ S|)` in float64.

use crate::dense::densify;
use crate::eval::{areas, overlaps};
use crate::MeasureError;
use samcell_imaging::Labels;

/// The objects of one frame and their matches.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FrameMatch {
    /// Reference labels present, ascending (0 excluded).
    pub ref_labels: Vec<u32>,
    /// Computed labels present, ascending (0 excluded).
    pub comp_labels: Vec<u32>,
    /// Matched pairs `(reference label, computed label, IoU)`, ascending by reference label.
    pub pairs: Vec<(u32, u32, f64)>,
}

impl FrameMatch {
    /// The matched reference labels, in pair order (py-ctcmetrics' `mapped_ref` of the frame).
    pub fn mapped_ref(&self) -> impl Iterator<Item = u32> + '_ {
        self.pairs.iter().map(|p| p.0)
    }

    /// The matched computed labels, in pair order (py-ctcmetrics' `mapped_comp` of the frame).
    pub fn mapped_comp(&self) -> impl Iterator<Item = u32> + '_ {
        self.pairs.iter().map(|p| p.1)
    }
}

/// Matches the computed frame `comp` to the reference frame `reference` (same size; `name` goes
/// into the size error).
pub fn match_frame(
    reference: &Labels,
    comp: &Labels,
    name: &str,
) -> Result<FrameMatch, MeasureError> {
    if (reference.width(), reference.height()) != (comp.width(), comp.height()) {
        return Err(MeasureError::Shape(format!(
            "{name}: result is {}x{} but ground truth is {}x{} (width x height)",
            comp.width(),
            comp.height(),
            reference.width(),
            reference.height()
        )));
    }
    let (g, p) = rayon::join(|| densify(reference.data()), || densify(comp.data()));
    let (ga, pa) = (areas(&g), areas(&p));
    let pairs = overlaps(&g.index, &p.index)
        .into_iter()
        .filter(|&(gi, _, i)| 2 * i > ga[gi as usize])
        .map(|(gi, pi, i)| {
            let u = ga[gi as usize] + pa[pi as usize] - i;
            (
                g.ids[gi as usize - 1],
                p.ids[pi as usize - 1],
                i as f64 / u as f64,
            )
        })
        .collect();
    Ok(FrameMatch {
        ref_labels: g.ids,
        comp_labels: p.ids,
        pairs,
    })
}

/// The labels present in a frame, ascending (0 excluded).
pub fn frame_labels(l: &Labels) -> Vec<u32> {
    densify(l.data()).ids
}
