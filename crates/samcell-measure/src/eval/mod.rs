//! Segmentation evaluation against ground truth, single images treated as frames.
//!
//! # Cell Tracking Challenge measures (reference: py-ctcmetrics 1.3.3)
//! `ctc_metrics.utils.representations.match` + `count_acyclic_graph_correction_operations` +
//! `ctc_metrics.metrics.seg` / `det` / `op_csb`, reproduced exactly:
//! - a reference object R matches a computed object S iff |R ∩ S| > 0.5 |R| (strict; so each R
//!   matches at most one S). Tested exactly as `2 |R ∩ S| > |R|` in integers, which equals
//!   py-ctcmetrics' `cm / sum_ref > 0.5` in float64 for any realistic image.
//! - SEG = Σ_R J(R, S) / N_R with J the IoU of R and its match (0 when unmatched), computed as
//!   `|R ∩ S| / (|R| + |S| - |R ∩ S|)` in float64.
//! - DET: FN = unmatched R, FP = S matching no R, NS = Σ over S matching k >= 2 R of (k - 1);
//!   AOGM-D = 5 NS + 10 FN + FP, AOGM-D0 = 10 N_R, DET = 1 - min(AOGM-D, AOGM-D0) / AOGM-D0.
//! - OP_CSB = (SEG + DET) / 2.
//!
//! Pooling over images (py-ctcmetrics' frames of one sequence): the Jaccard sums, N_R, FN, FP and NS
//! are summed over images first. Label values need not be consecutive; 0 is background.
//!
//! Differences, on purpose: with an empty ground truth SEG, DET and OP_CSB are NaN with a warning
//! (py-ctcmetrics divides by max(N_R, 1) for SEG, reporting 0, and by zero for DET). py-ctcmetrics
//! also assumes both images contain background; here an image without background pixels works.
//!
//! # AP at IoU thresholds (Cellpose `metrics.average_precision` / StarDist `matching` convention)
//! For each threshold t in 0.50, 0.55, ..., 0.95: TP = the largest number of one-to-one pairs
//! (R, S) with IoU >= t, FP = N_S - TP, FN = N_R - TP, AP = TP / (TP + FP + FN) (NaN when both
//! images are empty); F1@0.5 = 2 TP / (2 TP + FP + FN).
//! Matching is greedy and exact: IoU(R, S) >= 0.5 implies |R ∩ S| >= max(|R|, |S|) / 2, so above
//! 0.5 every object has at most one candidate; at exactly 0.5 an object can have two candidates
//! only when it is exactly split into two halves contained in it, which makes every connected
//! group of candidates a star, where any choice of one edge is a maximum matching. So the greedy
//! matching has the same TP as the Hungarian one Cellpose and StarDist use. `IoU >= t` is tested
//! exactly in integers (`100 |R ∩ S| >= t% |R ∪ S|`), not against float thresholds from `arange`.
//!
//! # Split and merge counts
//! `merges`: predicted objects that are the CTC match of two or more reference objects.
//! `splits`: reference objects containing more than half of the area of two or more predicted objects.

mod pair;
mod report;
pub mod tracking;

pub use pair::{pair_by_stem, stem_key, LabelPair, MASK_PREFIXES, MASK_SUFFIXES};
pub use report::{eval_csv_string, write_eval_csv, write_eval_json};

use crate::dense::{densify, Dense};
use crate::read::read_labels;
use crate::MeasureError;
use rayon::prelude::*;
use samcell_imaging::Labels;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The AP thresholds, in percent of IoU: 50, 55, ..., 95.
pub const AP_THRESHOLDS_PERCENT: [u32; 10] = [50, 55, 60, 65, 70, 75, 80, 85, 90, 95];

/// Additive counts of one image; sums of them give the pooled counts.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct EvalCounts {
    /// Reference (ground-truth) objects.
    pub n_gt: u64,
    /// Predicted objects.
    pub n_pred: u64,
    /// Σ over reference objects of the Jaccard index with their CTC match.
    pub seg_jaccard_sum: f64,
    /// Reference objects with a CTC match.
    pub det_matched: u64,
    /// CTC false negatives (unmatched reference objects).
    pub det_fn: u64,
    /// CTC false positives (predicted objects matching no reference object).
    pub det_fp: u64,
    /// CTC split operations needed (NS).
    pub det_ns: u64,
    /// Predicted objects that are the CTC match of two or more reference objects.
    pub merges: u64,
    /// Reference objects holding more than half the area of two or more predicted objects.
    pub splits: u64,
    /// True positives per threshold of [`AP_THRESHOLDS_PERCENT`].
    pub tp: Vec<u64>,
    /// Σ IoU of the true-positive pairs at IoU 0.5.
    pub matched_iou_sum_50: f64,
}

impl EvalCounts {
    pub(crate) fn empty() -> Self {
        Self {
            tp: vec![0; AP_THRESHOLDS_PERCENT.len()],
            ..Self::default()
        }
    }

    /// Adds another image's counts.
    pub fn add(&mut self, o: &EvalCounts) {
        self.n_gt += o.n_gt;
        self.n_pred += o.n_pred;
        self.seg_jaccard_sum += o.seg_jaccard_sum;
        self.det_matched += o.det_matched;
        self.det_fn += o.det_fn;
        self.det_fp += o.det_fp;
        self.det_ns += o.det_ns;
        self.merges += o.merges;
        self.splits += o.splits;
        if self.tp.len() < o.tp.len() {
            self.tp.resize(o.tp.len(), 0);
        }
        for (a, b) in self.tp.iter_mut().zip(&o.tp) {
            *a += b;
        }
        self.matched_iou_sum_50 += o.matched_iou_sum_50;
    }

    /// The scores these counts give.
    pub fn scores(&self) -> Scores {
        let n_r = self.n_gt as f64;
        let (seg, det, aogm) = if self.n_gt == 0 {
            (
                f64::NAN,
                f64::NAN,
                (5 * self.det_ns + 10 * self.det_fn + self.det_fp) as f64,
            )
        } else {
            let aogm = 5 * self.det_ns + 10 * self.det_fn + self.det_fp;
            let aogm0 = 10 * self.n_gt;
            (
                self.seg_jaccard_sum / n_r,
                1.0 - aogm.min(aogm0) as f64 / aogm0 as f64,
                aogm as f64,
            )
        };
        let ap: Vec<f64> = self
            .tp
            .iter()
            .map(|&tp| {
                let denom = self.n_gt + self.n_pred - tp; // tp + fp + fn
                if denom == 0 {
                    f64::NAN
                } else {
                    tp as f64 / denom as f64
                }
            })
            .collect();
        let tp50 = self.tp.first().copied().unwrap_or(0);
        let ratio = |a: u64, b: u64| {
            if b == 0 {
                f64::NAN
            } else {
                a as f64 / b as f64
            }
        };
        Scores {
            seg,
            det,
            op_csb: 0.5 * seg + 0.5 * det,
            aogm_d: aogm,
            ap_mean: if ap.is_empty() {
                f64::NAN
            } else {
                ap.iter().sum::<f64>() / ap.len() as f64
            },
            ap,
            f1_50: ratio(2 * tp50, self.n_gt + self.n_pred),
            precision_50: ratio(tp50, self.n_pred),
            recall_50: ratio(tp50, self.n_gt),
            mean_matched_iou_50: if tp50 == 0 {
                f64::NAN
            } else {
                self.matched_iou_sum_50 / tp50 as f64
            },
        }
    }
}

/// Scores derived from [`EvalCounts`]; NaN where undefined (serialised as `null`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Scores {
    /// CTC SEG: mean Jaccard index of the reference objects with their match, 0..=1; NaN
    /// without reference objects.
    pub seg: f64,
    /// CTC DET: `1 - min(AOGM-D, AOGM-D0) / AOGM-D0`, 0..=1; NaN without reference objects.
    pub det: f64,
    /// CTC OP_CSB: `(SEG + DET) / 2`.
    pub op_csb: f64,
    /// AOGM-D = 5 NS + 10 FN + FP.
    pub aogm_d: f64,
    /// AP per threshold of [`AP_THRESHOLDS_PERCENT`].
    pub ap: Vec<f64>,
    /// Mean of `ap` over the thresholds (COCO-style AP@[.5:.95]).
    pub ap_mean: f64,
    /// F1 at IoU 0.5: `2 TP / (2 TP + FP + FN)`; NaN when both images are empty.
    pub f1_50: f64,
    /// Precision at IoU 0.5: TP / predicted objects; NaN without predicted objects.
    pub precision_50: f64,
    /// Recall at IoU 0.5: TP / reference objects; NaN without reference objects.
    pub recall_50: f64,
    /// Mean IoU of the true-positive pairs at IoU 0.5.
    pub mean_matched_iou_50: f64,
}

/// Evaluation of one prediction against its ground truth.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ImageEval {
    /// The image's name in reports (the pairing key for folders).
    pub name: String,
    /// The prediction's file; `None` when evaluated from images in memory.
    pub pred: Option<PathBuf>,
    /// The ground truth's file; `None` when evaluated from images in memory.
    pub gt: Option<PathBuf>,
    /// Width of both images, px.
    pub width: usize,
    /// Height of both images, px.
    pub height: usize,
    /// The image's additive counts.
    pub counts: EvalCounts,
    /// The image's own scores (from `counts`).
    pub scores: Scores,
    /// Conditions a reader must know about (empty ground truth or prediction).
    pub warnings: Vec<String>,
}

/// Per-image and pooled evaluation of a set of images.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EvalReport {
    /// The IoU thresholds of `ap`, as fractions: 0.50, 0.55, ..., 0.95.
    pub ap_thresholds: Vec<f64>,
    /// Per-image results, in the order given.
    pub images: Vec<ImageEval>,
    /// The images' counts summed.
    pub pooled_counts: EvalCounts,
    /// Scores of `pooled_counts` (the CTC measures of the images taken as one sequence).
    pub pooled: Scores,
    /// Conditions of the whole set a reader must know about (images with an empty ground
    /// truth, no reference object anywhere).
    pub warnings: Vec<String>,
}

impl EvalReport {
    /// Pools `images` (counts summed, then scored).
    pub fn from_images(images: Vec<ImageEval>) -> Self {
        let mut pooled_counts = EvalCounts::empty();
        for i in &images {
            pooled_counts.add(&i.counts);
        }
        let mut warnings = Vec::new();
        let empty_gt: Vec<&str> = images
            .iter()
            .filter(|i| i.counts.n_gt == 0)
            .map(|i| i.name.as_str())
            .collect();
        if !empty_gt.is_empty() {
            warnings.push(format!(
                "{} image(s) with an empty ground truth (per-image SEG/DET undefined; their predictions still count as false positives in the pooled DET): {}",
                empty_gt.len(),
                empty_gt.join(", ")
            ));
        }
        if pooled_counts.n_gt == 0 {
            warnings.push("no ground-truth objects in any image: pooled SEG, DET and OP_CSB are undefined (NaN)".into());
        }
        let pooled = pooled_counts.scores();
        Self {
            ap_thresholds: AP_THRESHOLDS_PERCENT
                .iter()
                .map(|&t| f64::from(t) / 100.0)
                .collect(),
            images,
            pooled_counts,
            pooled,
            warnings,
        }
    }
}

/// Overlap counts `(gt index, pred index, |R ∩ S|)` between two dense label images, sorted.
pub(crate) fn overlaps(g: &[u32], p: &[u32]) -> Vec<(u32, u32, u64)> {
    let mut pairs: Vec<(u64, u64)> = g
        .par_chunks(1 << 16)
        .zip(p.par_chunks(1 << 16))
        .map(|(gc, pc)| {
            let mut v: Vec<(u64, u64)> = Vec::new();
            let mut cur = (u64::MAX, 0u64);
            for (&a, &b) in gc.iter().zip(pc) {
                if a == 0 || b == 0 {
                    continue;
                }
                let key = (u64::from(a) << 32) | u64::from(b);
                if key == cur.0 {
                    cur.1 += 1;
                } else {
                    if cur.1 > 0 {
                        v.push(cur);
                    }
                    cur = (key, 1);
                }
            }
            if cur.1 > 0 {
                v.push(cur);
            }
            v
        })
        .reduce(Vec::new, |mut a, b| {
            a.extend(b);
            a
        });
    pairs.par_sort_unstable_by_key(|e| e.0);
    let mut out: Vec<(u32, u32, u64)> = Vec::new();
    for (key, c) in pairs {
        let (a, b) = ((key >> 32) as u32, key as u32);
        match out.last_mut() {
            Some(last) if last.0 == a && last.1 == b => last.2 += c,
            _ => out.push((a, b, c)),
        }
    }
    out
}

/// Pixel count per dense index (index 0: background).
pub(crate) fn areas(d: &Dense) -> Vec<u64> {
    let mut a = vec![0u64; d.len() + 1];
    for &k in &d.index {
        a[k as usize] += 1;
    }
    a
}

/// Counts for one image pair of equal size (dense indices).
fn count_pair(g: &Dense, p: &Dense) -> EvalCounts {
    let (ng, np) = (g.len(), p.len());
    let ga = areas(g);
    let pa = areas(p);
    let ov = overlaps(&g.index, &p.index);
    let mut c = EvalCounts::empty();
    c.n_gt = ng as u64;
    c.n_pred = np as u64;
    let mut matched_by = vec![0u64; np + 1];
    let mut big_parts = vec![0u64; ng + 1];
    // candidates for AP: IoU >= 0.5  <=>  2 I >= U
    let mut cand: Vec<(u32, u32, u64, u64)> = Vec::new();
    for &(gi, pi, i) in &ov {
        let u = ga[gi as usize] + pa[pi as usize] - i;
        if 2 * i > ga[gi as usize] {
            c.det_matched += 1;
            c.seg_jaccard_sum += i as f64 / u as f64;
            matched_by[pi as usize] += 1;
        }
        if 2 * i > pa[pi as usize] {
            big_parts[gi as usize] += 1;
        }
        if 2 * i >= u {
            cand.push((gi, pi, i, u));
        }
    }
    c.det_fn = ng as u64 - c.det_matched;
    for &m in &matched_by[1..] {
        match m {
            0 => c.det_fp += 1,
            1 => {}
            k => {
                c.det_ns += k - 1;
                c.merges += 1;
            }
        }
    }
    c.splits = big_parts.iter().filter(|&&k| k >= 2).count() as u64;
    // greedy by descending IoU (exact rational order), ties by (gt, pred)
    cand.sort_by(|a, b| {
        (u128::from(b.2) * u128::from(a.3))
            .cmp(&(u128::from(a.2) * u128::from(b.3)))
            .then((a.0, a.1).cmp(&(b.0, b.1)))
    });
    for (t, &pct) in AP_THRESHOLDS_PERCENT.iter().enumerate() {
        let mut used_g = vec![false; ng + 1];
        let mut used_p = vec![false; np + 1];
        let mut tp = 0;
        for &(gi, pi, i, u) in &cand {
            if u128::from(i) * 100 < u128::from(u) * u128::from(pct) {
                break; // sorted: no later pair reaches the threshold
            }
            if used_g[gi as usize] || used_p[pi as usize] {
                continue;
            }
            used_g[gi as usize] = true;
            used_p[pi as usize] = true;
            tp += 1;
            if t == 0 {
                c.matched_iou_sum_50 += i as f64 / u as f64;
            }
        }
        c.tp[t] = tp;
    }
    c
}

fn check_same_size(pred: &Labels, gt_wh: (usize, usize), name: &str) -> Result<(), MeasureError> {
    if (pred.width(), pred.height()) != gt_wh {
        return Err(MeasureError::Shape(format!(
            "{name}: prediction is {}x{} but ground truth is {}x{} (width x height)",
            pred.width(),
            pred.height(),
            gt_wh.0,
            gt_wh.1
        )));
    }
    Ok(())
}

/// A ground truth re-indexed once, to be evaluated against many predictions (threshold tuning).
pub(crate) struct DenseGt {
    width: usize,
    height: usize,
    dense: Dense,
}

impl DenseGt {
    pub(crate) fn new(gt: &Labels) -> Self {
        Self {
            width: gt.width(),
            height: gt.height(),
            dense: densify(gt.data()),
        }
    }

    /// The counts of [`evaluate_labels`]`(pred, gt, name)`.
    pub(crate) fn counts(&self, pred: &Labels, name: &str) -> Result<EvalCounts, MeasureError> {
        check_same_size(pred, (self.width, self.height), name)?;
        Ok(count_pair(&self.dense, &densify(pred.data())))
    }
}

/// Evaluates `pred` against `gt` (same size) under the name `name`.
pub fn evaluate_labels(pred: &Labels, gt: &Labels, name: &str) -> Result<ImageEval, MeasureError> {
    check_same_size(pred, (gt.width(), gt.height()), name)?;
    let (g, p) = rayon::join(|| densify(gt.data()), || densify(pred.data()));
    let counts = count_pair(&g, &p);
    let mut warnings = Vec::new();
    if counts.n_gt == 0 {
        warnings.push(format!(
            "{name}: ground truth has no objects: SEG, DET and OP_CSB are undefined (NaN); {} predicted object(s) count as false positives",
            counts.n_pred
        ));
    }
    if counts.n_pred == 0 && counts.n_gt > 0 {
        warnings.push(format!(
            "{name}: prediction has no objects: SEG = 0 and DET = 0 (all {} ground-truth objects are false negatives)",
            counts.n_gt
        ));
    }
    let scores = counts.scores();
    Ok(ImageEval {
        name: name.to_string(),
        pred: None,
        gt: None,
        width: gt.width(),
        height: gt.height(),
        counts,
        scores,
        warnings,
    })
}

/// Reads and evaluates one file pair; a size mismatch names both files.
pub fn evaluate_files(
    pred_path: &Path,
    gt_path: &Path,
    name: &str,
) -> Result<ImageEval, MeasureError> {
    let (pred, gt) = rayon::join(|| read_labels(pred_path), || read_labels(gt_path));
    let (pred, gt) = (pred?, gt?);
    if (pred.width(), pred.height()) != (gt.width(), gt.height()) {
        return Err(MeasureError::Shape(format!(
            "size mismatch: prediction {} is {}x{} but ground truth {} is {}x{} (width x height)",
            pred_path.display(),
            pred.width(),
            pred.height(),
            gt_path.display(),
            gt.width(),
            gt.height()
        )));
    }
    let mut e = evaluate_labels(&pred, &gt, name)?;
    e.pred = Some(pred_path.to_path_buf());
    e.gt = Some(gt_path.to_path_buf());
    Ok(e)
}

/// Pairs the label images of two folders by stem ([`pair_by_stem`]) and evaluates every pair
/// (in parallel), per image and pooled.
pub fn evaluate_dirs(pred_dir: &Path, gt_dir: &Path) -> Result<EvalReport, MeasureError> {
    let pairs = pair_by_stem(pred_dir, gt_dir)?;
    let images = pairs
        .par_iter()
        .map(|p| evaluate_files(&p.pred, &p.gt, &p.key))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(EvalReport::from_images(images))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lab(w: usize, v: &[u32]) -> Labels {
        Labels::from_vec(w, v.len() / w, v.to_vec()).expect("labels")
    }

    #[test]
    fn ctc_counts_on_a_hand_example() {
        // gt: 1 (4 px), 2 (4 px), 3 (2 px); pred: 7 covers gt 1 and 2 fully (merge), 9 spurious
        let gt = lab(6, &[1, 1, 2, 2, 0, 3, 1, 1, 2, 2, 0, 3]);
        let pr = lab(6, &[7, 7, 7, 7, 0, 0, 7, 7, 7, 7, 9, 0]);
        let e = evaluate_labels(&pr, &gt, "x").expect("eval");
        let c = &e.counts;
        assert_eq!(
            (
                c.n_gt,
                c.n_pred,
                c.det_matched,
                c.det_fn,
                c.det_fp,
                c.det_ns,
                c.merges
            ),
            (3, 2, 2, 1, 1, 1, 1)
        );
        // J(1,7) = J(2,7) = 4/8
        assert_eq!(e.scores.seg, 1.0 / 3.0);
        // AOGM = 5*1 + 10*1 + 1 = 16, AOGM0 = 30
        assert_eq!(e.scores.det, 1.0 - 16.0 / 30.0);
        // IoU 0.5 pairs (1,7) and (2,7): one TP at 0.5 (star), none above
        assert_eq!(c.tp[0], 1);
        assert_eq!(c.tp[1], 0);
        assert_eq!(e.scores.ap[0], 1.0 / (1.0 + 1.0 + 2.0));
    }
}
