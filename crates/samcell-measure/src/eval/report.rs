//! Evaluation reports: a fixed-width text table, JSON (NaN as `null`) and CSV (NaN as `NaN`).

use super::{EvalCounts, EvalReport, Scores, AP_THRESHOLDS_PERCENT};
use crate::csv::{fmt_f64, quote};
use crate::MeasureError;
use std::fmt::Write as _;
use std::path::Path;

fn cell(v: f64) -> String {
    if v.is_nan() {
        "-".to_string()
    } else {
        format!("{v:.4}")
    }
}

fn table_row(name: &str, c: &EvalCounts, s: &Scores) -> String {
    let ap = |pct: u32| {
        AP_THRESHOLDS_PERCENT
            .iter()
            .position(|&t| t == pct)
            .and_then(|i| s.ap.get(i))
            .copied()
            .unwrap_or(f64::NAN)
    };
    format!(
        "{:<24} {:>6} {:>6} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>5} {:>5} {:>5} {:>6} {:>6}",
        name,
        c.n_gt,
        c.n_pred,
        cell(s.seg),
        cell(s.det),
        cell(s.op_csb),
        cell(ap(50)),
        cell(ap(75)),
        cell(ap(90)),
        cell(s.ap_mean),
        cell(s.f1_50),
        c.det_fn,
        c.det_fp,
        c.det_ns,
        c.merges,
        c.splits
    )
}

impl EvalReport {
    /// A printable table: one row per image, then the pooled row and the warnings.
    /// Undefined values print as `-`.
    pub fn table(&self) -> String {
        let mut s = format!(
            "{:<24} {:>6} {:>6} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>5} {:>5} {:>5} {:>6} {:>6}\n",
            "image", "n_gt", "n_pred", "SEG", "DET", "OP_CSB", "AP50", "AP75", "AP90", "AP", "F1@0.5", "FN", "FP", "NS",
            "merges", "splits"
        );
        let rule = "-".repeat(s.trim_end().len());
        s.push_str(&rule);
        s.push('\n');
        for i in &self.images {
            let mut name = i.name.clone();
            if name.chars().count() > 24 {
                name = format!("{}~", name.chars().take(23).collect::<String>());
            }
            s.push_str(&table_row(&name, &i.counts, &i.scores));
            s.push('\n');
        }
        s.push_str(&rule);
        s.push('\n');
        s.push_str(&table_row(
            &format!("pooled ({} images)", self.images.len()),
            &self.pooled_counts,
            &self.pooled,
        ));
        s.push('\n');
        s.push_str("SEG/DET/OP_CSB: Cell Tracking Challenge (py-ctcmetrics 1.3.3); AP = TP/(TP+FP+FN) at IoU >= t; AP = mean over t = 0.50:0.05:0.95\n");
        for i in &self.images {
            for w in &i.warnings {
                let _ = writeln!(s, "warning: {w}");
            }
        }
        for w in &self.warnings {
            let _ = writeln!(s, "warning: {w}");
        }
        s
    }
}

/// Writes the whole report as pretty JSON (undefined values as `null`), atomically.
pub fn write_eval_json(path: &Path, report: &EvalReport) -> Result<(), MeasureError> {
    let text = serde_json::to_string_pretty(report).map_err(|e| {
        MeasureError::Invalid(format!("cannot serialise the evaluation report: {e}"))
    })?;
    samcell_io::write_atomic(path, text.as_bytes())?;
    Ok(())
}

/// The report as CSV: one row per image and a last row `pooled`.
pub fn eval_csv_string(report: &EvalReport) -> String {
    let mut header: Vec<String> = [
        "image", "n_gt", "n_pred", "SEG", "DET", "OP_CSB", "AOGM_D", "det_fn", "det_fp", "det_ns",
        "merges", "splits",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for t in AP_THRESHOLDS_PERCENT {
        header.push(format!("AP_{:.2}", f64::from(t) / 100.0));
    }
    for t in AP_THRESHOLDS_PERCENT {
        header.push(format!("TP_{:.2}", f64::from(t) / 100.0));
    }
    header.extend(
        [
            "AP_mean",
            "F1_0.50",
            "precision_0.50",
            "recall_0.50",
            "mean_matched_IoU_0.50",
        ]
        .map(String::from),
    );
    let mut s = header.join(",");
    s.push('\n');
    let mut row = |name: &str, c: &EvalCounts, sc: &Scores| {
        let mut f: Vec<String> = vec![
            quote(name),
            c.n_gt.to_string(),
            c.n_pred.to_string(),
            fmt_f64(sc.seg),
            fmt_f64(sc.det),
            fmt_f64(sc.op_csb),
            fmt_f64(sc.aogm_d),
            c.det_fn.to_string(),
            c.det_fp.to_string(),
            c.det_ns.to_string(),
            c.merges.to_string(),
            c.splits.to_string(),
        ];
        f.extend(sc.ap.iter().map(|&v| fmt_f64(v)));
        f.extend(c.tp.iter().map(|v| v.to_string()));
        f.extend(
            [
                sc.ap_mean,
                sc.f1_50,
                sc.precision_50,
                sc.recall_50,
                sc.mean_matched_iou_50,
            ]
            .map(fmt_f64),
        );
        s.push_str(&f.join(","));
        s.push('\n');
    };
    for i in &report.images {
        row(&i.name, &i.counts, &i.scores);
    }
    row("pooled", &report.pooled_counts, &report.pooled);
    s
}

/// Writes [`eval_csv_string`] atomically.
pub fn write_eval_csv(path: &Path, report: &EvalReport) -> Result<(), MeasureError> {
    samcell_io::write_atomic(path, eval_csv_string(report).as_bytes())?;
    Ok(())
}
