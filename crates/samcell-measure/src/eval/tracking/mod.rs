//! Cell Tracking Challenge tracking evaluation of a CTC result folder against a `XX_GT` folder,
//! as py-ctcmetrics 1.3.3 `ctc_metrics.scripts.evaluate.evaluate_sequence` computes it.
//!
//! Inputs: the result's `maskTTT.tif` frames and `res_track.txt`; the ground truth's
//! `TRA/man_trackTTT.tif` frames and `TRA/man_track.txt`, and `SEG/man_segTTT.tif` when present
//! (frame T of SEG is compared with the result's frame T). Track files hold `L B E P` lines
//! (label, first frame, last frame, parent or 0).
//!
//! Steps, each matching py-ctcmetrics:
//! 1. Objects of each frame are matched ([`matching`]: a reference object is matched by the
//!    computed object covering more than half of it).
//! 2. The result is validated ([`validate`]); an invalid result gets no measures (py-ctcmetrics
//!    reports `Valid = 0` and nothing else).
//! 3. AOGM counts NS, FN, FP, ED, EA, EC on the acyclic oriented graphs ([`aogm`]), with weights
//!    NS 5, FN 10, FP 1, ED 1, EA 1.5, EC 1:
//!    - TRA = 1 - min(AOGM, AOGM_0) / AOGM_0, AOGM = 5 NS + 10 FN + FP + ED + 1.5 EA + EC,
//!      AOGM_0 = 10 N_vertices + 1.5 N_edges (of the reference graph);
//!    - DET = 1 - min(AOGM_D, AOGM_D0) / AOGM_D0, AOGM_D = 5 NS + 10 FN + FP, AOGM_D0 = 10 N_vertices;
//!    - LNK = 1 - min(AOGM_A, AOGM_A0) / AOGM_A0, AOGM_A = ED + 1.5 EA + EC, AOGM_A0 = 1.5 N_edges.
//! 4. SEG (with a SEG folder) = Σ over SEG reference objects of the IoU with their match, divided
//!    by their number; OP_CTB = (SEG + TRA) / 2 and OP_CSB = (SEG + DET) / 2.
//! 5. Division counts and BC(i) for i = 0..=3 ([`division`]).
//! 6. The biological measures CT, TF, CCA and BIO(i) ([`biological`]).
//!
//! All sums are of integers or halves, so TRA, DET and LNK are bit-identical to py-ctcmetrics';
//! SEG differs only by the order of the float64 sum (numpy sums pairwise).
//!
//! Differences, on purpose: where py-ctcmetrics divides by zero (no reference edges for LNK, no
//! reference objects for TRA/DET, no SEG objects where it reports 0) the measure is NaN (`null`),
//! with a warning; cases where it stops with an exception are errors naming the file or, for a
//! result, validation problems (see [`validate`]).

pub mod aogm;
pub mod biological;
pub mod division;
pub mod files;
pub mod matching;
mod report;
pub mod validate;

pub use aogm::AogmCounts;
pub use division::DivisionCounts;
pub use matching::FrameMatch;
pub use report::write_tracking_json;
pub use validate::Validation;

use crate::MeasureError;
use rayon::prelude::*;
use samcell_imaging::Labels;
use std::path::Path;

/// The division tolerances evaluated: BC(0) ..= BC(3), py-ctcmetrics' default.
pub const MAX_DIVISION_TOLERANCE: u32 = 3;

/// One `L B E P` line of a CTC track file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TrackLine {
    /// The track's label in the masks.
    pub label: i64,
    /// First frame (from 0).
    pub begin: i64,
    /// Last frame.
    pub end: i64,
    /// Parent track's label, 0 for none.
    pub parent: i64,
}

impl std::fmt::Display for TrackLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "'{} {} {} {}'",
            self.label, self.begin, self.end, self.parent
        )
    }
}

/// The tracking measures of a valid result.
#[derive(Clone, Debug, PartialEq)]
pub struct TrackingMeasures {
    /// TRA, 0..=1.
    pub tra: f64,
    /// DET, 0..=1.
    pub det: f64,
    /// LNK, 0..=1.
    pub lnk: f64,
    /// SEG, with a SEG ground truth.
    pub seg: Option<f64>,
    /// (SEG + TRA) / 2, with a SEG ground truth.
    pub op_ctb: Option<f64>,
    /// (SEG + DET) / 2, with a SEG ground truth.
    pub op_csb: Option<f64>,
    /// AOGM = 5 NS + 10 FN + FP + ED + 1.5 EA + EC.
    pub aogm: f64,
    /// AOGM_0 = 10 N_vertices + 1.5 N_edges.
    pub aogm_0: f64,
    /// The operation counts.
    pub counts: AogmCounts,
    /// SEG reference objects and the sum of their IoUs, with a SEG ground truth.
    pub seg_objects: Option<(u64, f64)>,
    /// Reference divisions.
    pub gt_divisions: i64,
    /// Counts and BC(i) for i = 0..=[`MAX_DIVISION_TOLERANCE`].
    pub divisions: Vec<DivisionCounts>,
    /// CT (complete tracks), 0..=1.
    pub ct: f64,
    /// TF (track fractions), 0..=1.
    pub tf: f64,
    /// CCA (cell cycle accuracy); `None` without reference tracks between two divisions.
    pub cca: Option<f64>,
    /// BIO(i) for i = 0..=[`MAX_DIVISION_TOLERANCE`]: the mean of CT, TF, BC(i) and CCA where defined.
    pub bio: Vec<f64>,
}

/// The evaluation of one sequence.
#[derive(Clone, Debug, PartialEq)]
pub struct TrackingReport {
    /// Frames evaluated.
    pub frames: usize,
    /// SEG frames evaluated (0 without a SEG ground truth).
    pub seg_frames: usize,
    /// The result's validation.
    pub validation: Validation,
    /// The measures; `None` when the result is invalid.
    pub measures: Option<TrackingMeasures>,
    /// Undefined measures (NaN) and why.
    pub warnings: Vec<String>,
}

fn ratio_score(cost: f64, cost0: f64) -> f64 {
    if cost0 == 0.0 {
        f64::NAN
    } else {
        1.0 - cost.min(cost0) / cost0
    }
}

/// Evaluates matched frames: `frames[t]` the TRA matches of frame t, `seg` the SEG matches,
/// `mask_names[t]` frame t's result file for messages.
pub fn evaluate_matched(
    gt_tracks: &[TrackLine],
    res_tracks: &[TrackLine],
    frames: &[FrameMatch],
    seg: Option<&[FrameMatch]>,
    mask_names: &[String],
) -> Result<TrackingReport, MeasureError> {
    let comp_labels: Vec<Vec<u32>> = frames.iter().map(|f| f.comp_labels.clone()).collect();
    let validation = validate::validate_tracks(res_tracks, &comp_labels, mask_names);
    let mut report = TrackingReport {
        frames: frames.len(),
        seg_frames: seg.map_or(0, <[_]>::len),
        validation,
        measures: None,
        warnings: Vec::new(),
    };
    if !report.validation.valid {
        return Ok(report);
    }
    let c = aogm::count_operations(gt_tracks, res_tracks, frames).map_err(MeasureError::Invalid)?;
    let aogm = 5.0 * c.ns as f64
        + 10.0 * c.fn_ as f64
        + c.fp as f64
        + c.ed as f64
        + 1.5 * c.ea as f64
        + c.ec as f64;
    let aogm_0 = 10.0 * c.num_vertices as f64 + 1.5 * c.num_edges as f64;
    let tra = ratio_score(aogm, aogm_0);
    let det = ratio_score(
        (5 * c.ns + 10 * c.fn_ + c.fp) as f64,
        (10 * c.num_vertices) as f64,
    );
    let lnk = ratio_score(
        c.ed as f64 + 1.5 * c.ea as f64 + c.ec as f64,
        1.5 * c.num_edges as f64,
    );
    if c.num_vertices == 0 {
        report
            .warnings
            .push("the ground truth has no objects: TRA and DET are undefined".into());
    }
    if c.num_edges == 0 {
        report
            .warnings
            .push("the ground truth has no links: LNK is undefined".into());
    }
    let seg_objects = seg.map(|s| {
        let n: u64 = s.iter().map(|f| f.ref_labels.len() as u64).sum();
        let sum: f64 = s.iter().flat_map(|f| f.pairs.iter().map(|p| p.2)).sum();
        (n, sum)
    });
    let seg_score = seg_objects.map(|(n, sum)| if n == 0 { f64::NAN } else { sum / n as f64 });
    if seg_objects.is_some_and(|(n, _)| n == 0) {
        report
            .warnings
            .push("the SEG ground truth has no objects: SEG is undefined".into());
    }
    let divisions =
        division::division_counts(gt_tracks, res_tracks, frames, MAX_DIVISION_TOLERANCE)
            .map_err(MeasureError::Invalid)?;
    let gt_divisions = divisions.first().map_or(0, |d| d.tp + d.fn_);
    let ct = biological::ct(gt_tracks, res_tracks, frames).map_err(MeasureError::Invalid)?;
    let tf = biological::tf(gt_tracks, frames).map_err(MeasureError::Invalid)?;
    let cca = biological::cca(gt_tracks, res_tracks);
    let bio = divisions
        .iter()
        .map(|d| biological::bio(ct, tf, d.bc, cca))
        .collect();
    report.measures = Some(TrackingMeasures {
        tra,
        det,
        lnk,
        seg: seg_score,
        op_ctb: seg_score.map(|s| 0.5 * s + 0.5 * tra),
        op_csb: seg_score.map(|s| 0.5 * s + 0.5 * det),
        aogm,
        aogm_0,
        counts: c,
        seg_objects,
        gt_divisions,
        divisions,
        ct,
        tf,
        cca,
        bio,
    });
    Ok(report)
}

/// Evaluates a result held in memory: `res_masks[t]` / `gt_masks[t]` frame t (same count and
/// sizes), `seg` the SEG ground truth as `(frame, mask)`.
pub fn evaluate_tracking(
    gt_masks: &[Labels],
    gt_tracks: &[TrackLine],
    seg: Option<&[(usize, Labels)]>,
    res_masks: &[Labels],
    res_tracks: &[TrackLine],
) -> Result<TrackingReport, MeasureError> {
    if gt_masks.len() != res_masks.len() {
        return Err(MeasureError::Pairing(format!(
            "the result has {} frames but the ground truth {}",
            res_masks.len(),
            gt_masks.len()
        )));
    }
    let names: Vec<String> = (0..res_masks.len()).map(|t| format!("frame {t}")).collect();
    let frames = gt_masks
        .par_iter()
        .zip(res_masks)
        .zip(&names)
        .map(|((g, r), n)| matching::match_frame(g, r, n))
        .collect::<Result<Vec<_>, _>>()?;
    let seg = seg
        .map(|s| {
            s.iter()
                .map(|(t, g)| {
                    let r = res_masks.get(*t).ok_or_else(|| {
                        MeasureError::Pairing(format!("SEG frame {t} has no result frame"))
                    })?;
                    matching::match_frame(g, r, &format!("SEG frame {t}"))
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    evaluate_matched(gt_tracks, res_tracks, &frames, seg.as_deref(), &names)
}

/// Evaluates the CTC result folder `res_dir` (`maskTTT.tif`, `res_track.txt`) against the
/// ground-truth folder `gt_dir` (`TRA/`, optional `SEG/`). Frames are read and matched in
/// parallel, two masks at a time per thread.
pub fn evaluate_tracking_dirs(
    res_dir: &Path,
    gt_dir: &Path,
) -> Result<TrackingReport, MeasureError> {
    let res_tracks = files::read_tracks(&res_dir.join("res_track.txt"))?;
    let tra = gt_dir.join("TRA");
    let gt_tracks = files::read_tracks(&tra.join("man_track.txt"))?;
    let res_files = files::frame_files(res_dir, "mask")?;
    let gt_files = files::frame_files(&tra, "man_track")?;
    if res_files.len() != gt_files.len() {
        return Err(MeasureError::Pairing(format!(
            "{} holds {} masks but {} holds {}: the frames do not pair up",
            res_dir.display(),
            res_files.len(),
            tra.display(),
            gt_files.len()
        )));
    }
    let names: Vec<String> = res_files.iter().map(|p| p.display().to_string()).collect();
    let read = crate::read::read_labels;
    let frames = gt_files
        .par_iter()
        .zip(&res_files)
        .zip(&names)
        .map(|((g, r), n)| {
            let (g, r) = (read(g)?, read(r)?);
            matching::match_frame(&g, &r, n)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let seg = match files::seg_files(gt_dir)? {
        None => None,
        Some(list) => Some(
            list.par_iter()
                .map(|(t, path)| {
                    let r = res_files.get(*t).ok_or_else(|| {
                        MeasureError::Pairing(format!(
                            "{}: frame {t} has no result mask in {}",
                            path.display(),
                            res_dir.display()
                        ))
                    })?;
                    let (g, c) = (read(path)?, read(r)?);
                    matching::match_frame(&g, &c, &path.display().to_string())
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    evaluate_matched(&gt_tracks, &res_tracks, &frames, seg.as_deref(), &names)
}

/// Validates the CTC result folder `res_dir` on its own (`maskTTT.tif` frames and
/// `res_track.txt`), as py-ctcmetrics' `ctc_validate` does.
pub fn validate_result_dir(res_dir: &Path) -> Result<Validation, MeasureError> {
    let tracks = files::read_tracks(&res_dir.join("res_track.txt"))?;
    let res_files = files::frame_files(res_dir, "mask")?;
    let labels = res_files
        .par_iter()
        .map(|p| crate::read::read_labels(p).map(|l| matching::frame_labels(&l)))
        .collect::<Result<Vec<_>, _>>()?;
    let names: Vec<String> = res_files.iter().map(|p| p.display().to_string()).collect();
    Ok(validate::validate_tracks(&tracks, &labels, &names))
}

/// Validates a result held in memory (`masks[t]` frame t).
pub fn validate_result(tracks: &[TrackLine], masks: &[Labels]) -> Validation {
    let labels: Vec<Vec<u32>> = masks.par_iter().map(matching::frame_labels).collect();
    let names: Vec<String> = (0..masks.len()).map(|t| format!("frame {t}")).collect();
    validate::validate_tracks(tracks, &labels, &names)
}
