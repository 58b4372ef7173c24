//! The tracking report as a printable table and as JSON with py-ctcmetrics' result names
//! (`TRA`, `DET`, `LNK`, `SEG`, `OP_CTB`, `OP_CSB`, `AOGM`, `AOGM_0`, `AOGM_NS` ... `AOGM_EC`,
//! `gt_divisions`, `tp_div(i)`, `fp_div(i)`, `fn_div(i)`, `BC(i)`, `CT`, `TF`, `CCA`, `BIO(i)`);
//! undefined values are `null`.

use super::TrackingReport;
use crate::MeasureError;
use serde_json::{json, Map, Value};
use std::fmt::Write as _;
use std::path::Path;

fn num(v: f64) -> Value {
    if v.is_finite() {
        json!(v)
    } else {
        Value::Null
    }
}

fn cell(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{v:.6}"),
        _ => "-".into(),
    }
}

impl TrackingReport {
    /// The report as JSON: `valid`, `problems`, `warnings`, `frames`, then the measures (all
    /// `null` when the result is invalid; `SEG`, `OP_CTB` and `OP_CSB` only with a SEG ground truth).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("valid".into(), json!(self.validation.valid));
        m.insert("problems".into(), json!(self.validation.problems));
        let mut warnings = self.validation.warnings.clone();
        warnings.extend(self.warnings.iter().cloned());
        m.insert("warnings".into(), json!(warnings));
        m.insert("frames".into(), json!(self.frames));
        m.insert("seg_frames".into(), json!(self.seg_frames));
        let with_seg = self.seg_frames > 0;
        let Some(r) = &self.measures else {
            for k in ["TRA", "DET", "LNK"] {
                m.insert(k.into(), Value::Null);
            }
            if with_seg {
                for k in ["SEG", "OP_CTB", "OP_CSB"] {
                    m.insert(k.into(), Value::Null);
                }
            }
            return Value::Object(m);
        };
        m.insert("TRA".into(), num(r.tra));
        m.insert("DET".into(), num(r.det));
        m.insert("LNK".into(), num(r.lnk));
        if let (Some(seg), Some(ctb), Some(csb)) = (r.seg, r.op_ctb, r.op_csb) {
            m.insert("SEG".into(), num(seg));
            m.insert("OP_CTB".into(), num(ctb));
            m.insert("OP_CSB".into(), num(csb));
        }
        m.insert("AOGM".into(), num(r.aogm));
        m.insert("AOGM_0".into(), num(r.aogm_0));
        let c = &r.counts;
        for (k, v) in [
            ("AOGM_NS", c.ns),
            ("AOGM_FN", c.fn_),
            ("AOGM_FP", c.fp),
            ("AOGM_ED", c.ed),
            ("AOGM_EA", c.ea),
            ("AOGM_EC", c.ec),
            ("num_vertices", c.num_vertices),
            ("num_edges", c.num_edges),
        ] {
            m.insert(k.into(), json!(v));
        }
        if let Some((n, _)) = r.seg_objects {
            m.insert("seg_objects".into(), json!(n));
        }
        m.insert("gt_divisions".into(), json!(r.gt_divisions));
        for d in &r.divisions {
            let i = d.tolerance;
            m.insert(format!("tp_div({i})"), json!(d.tp));
            m.insert(format!("fp_div({i})"), json!(d.fp));
            m.insert(format!("fn_div({i})"), json!(d.fn_));
            m.insert(format!("BC({i})"), d.bc.map_or(Value::Null, num));
        }
        m.insert("CT".into(), num(r.ct));
        m.insert("TF".into(), num(r.tf));
        m.insert("CCA".into(), r.cca.map_or(Value::Null, num));
        for (i, b) in r.bio.iter().enumerate() {
            m.insert(format!("BIO({i})"), num(*b));
        }
        Value::Object(m)
    }

    /// A printable summary: validity (with the problems), the measures, the AOGM counts and the
    /// divisions per tolerance.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let v = &self.validation;
        let _ = writeln!(
            s,
            "frames: {}{}",
            self.frames,
            if self.seg_frames > 0 {
                format!(" (SEG ground truth: {} frames)", self.seg_frames)
            } else {
                " (no SEG ground truth)".into()
            }
        );
        let _ = writeln!(s, "valid: {}", if v.valid { "yes" } else { "no" });
        for p in &v.problems {
            let _ = writeln!(s, "  problem: {p}");
        }
        if let Some(r) = &self.measures {
            let _ = writeln!(
                s,
                "{:<8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
                "", "TRA", "DET", "LNK", "SEG", "OP_CTB", "OP_CSB"
            );
            let _ = writeln!(
                s,
                "{:<8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
                "score",
                cell(Some(r.tra)),
                cell(Some(r.det)),
                cell(Some(r.lnk)),
                cell(r.seg),
                cell(r.op_ctb),
                cell(r.op_csb)
            );
            let c = &r.counts;
            let _ = writeln!(
                s,
                "AOGM {} of AOGM_0 {}: NS {} FN {} FP {} ED {} EA {} EC {} ({} reference objects, {} links)",
                r.aogm, r.aogm_0, c.ns, c.fn_, c.fp, c.ed, c.ea, c.ec, c.num_vertices, c.num_edges
            );
            let _ = writeln!(s, "divisions: {} in the ground truth", r.gt_divisions);
            let _ = writeln!(
                s,
                "  {:<10} {:>8} {:>8} {:>8} {:>9} {:>9}",
                "tolerance", "true", "false", "missed", "BC(i)", "BIO(i)"
            );
            for (d, b) in r.divisions.iter().zip(&r.bio) {
                let _ = writeln!(
                    s,
                    "  {:<10} {:>8} {:>8} {:>8} {:>9} {:>9}",
                    format!("i = {}", d.tolerance),
                    d.tp,
                    d.fp,
                    d.fn_,
                    cell(d.bc),
                    cell(Some(*b))
                );
            }
            let _ = writeln!(
                s,
                "CT {}  TF {}  CCA {}",
                cell(Some(r.ct)),
                cell(Some(r.tf)),
                cell(r.cca)
            );
        } else {
            let _ = writeln!(s, "no measures: the result is not valid (as py-ctcmetrics)");
        }
        s.push_str("TRA/DET/LNK/SEG/BC(i)/CT/TF/CCA/BIO(i): Cell Tracking Challenge (py-ctcmetrics 1.3.3)\n");
        for w in v.warnings.iter().chain(&self.warnings) {
            let _ = writeln!(s, "warning: {w}");
        }
        s
    }
}

/// Writes [`TrackingReport::to_json`] as pretty JSON, atomically.
pub fn write_tracking_json(path: &Path, report: &TrackingReport) -> Result<(), MeasureError> {
    let text = serde_json::to_string_pretty(&report.to_json())
        .map_err(|e| MeasureError::Invalid(format!("cannot serialise the tracking report: {e}")))?;
    samcell_io::write_atomic(path, text.as_bytes())?;
    Ok(())
}
