//! Tuning SAMCell's post-processing thresholds on images with ground truth.
//!
//! A grid is given as two `start:stop:step` ranges (or single values) for the peak (seed) and fill
//! (mask) thresholds of `samcell_pipeline::labels_from_distance_map`. Every grid point runs the
//! post-processing on every distance map and is scored with the pooled CTC measures of
//! [`crate::eval`] (SEG, DET, OP_CSB, counts summed over the images before scoring). Grid points run
//! in parallel (rayon). Points with `fill >= peak` are evaluated like the others (the
//! post-processing is defined there too: seeds outside the fill mask are dropped).

use crate::eval::{DenseGt, EvalCounts, Scores};
use crate::MeasureError;
use rayon::prelude::*;
use samcell_imaging::{Labels, MapF32};
use serde::Serialize;
use std::str::FromStr;

/// At most this many values per range.
pub const MAX_RANGE_VALUES: usize = 201;

/// An inclusive `start:stop:step` range of thresholds in 0..=1.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct GridRange {
    /// First value.
    pub start: f64,
    /// Last value, included when it lies on the grid (`start + k step`); `>= start`.
    pub stop: f64,
    /// Spacing of the values, `> 0` (1 for a single value).
    pub step: f64,
}

impl GridRange {
    /// Parses `start:stop:step` (stop included when it lies on the grid) or a single value `v`
    /// (= `v:v:1`). Values must lie in 0..=1, `start <= stop`, `step > 0`, at most
    /// [`MAX_RANGE_VALUES`] values.
    pub fn parse(s: &str) -> Result<Self, MeasureError> {
        let bad = |why: &str| {
            MeasureError::Invalid(format!("threshold range '{s}': {why} (expected start:stop:step, e.g. 0.30:0.60:0.05, or one value)"))
        };
        let parts: Vec<&str> = s.trim().split(':').collect();
        let num = |t: &str| -> Result<f64, MeasureError> {
            t.trim()
                .parse::<f64>()
                .map_err(|_| bad(&format!("'{}' is not a number", t.trim())))
        };
        let r = match parts.as_slice() {
            [v] => {
                let v = num(v)?;
                GridRange {
                    start: v,
                    stop: v,
                    step: 1.0,
                }
            }
            [a, b, c] => GridRange {
                start: num(a)?,
                stop: num(b)?,
                step: num(c)?,
            },
            _ => return Err(bad("wrong number of ':'-separated fields")),
        };
        r.validate().map_err(|e| bad(&e))?;
        Ok(r)
    }

    fn validate(&self) -> Result<(), String> {
        let GridRange { start, stop, step } = *self;
        if !(start.is_finite() && stop.is_finite() && step.is_finite()) {
            return Err("values must be finite".into());
        }
        if !(0.0..=1.0).contains(&start) || !(0.0..=1.0).contains(&stop) {
            return Err("thresholds must lie in 0..=1 (the distance map's range)".into());
        }
        if start > stop {
            return Err(format!("start {start} is above stop {stop}"));
        }
        if step <= 0.0 {
            return Err(format!("step {step} must be positive"));
        }
        let n = ((stop - start) / step + 1e-9).floor() + 1.0;
        if n > MAX_RANGE_VALUES as f64 {
            return Err(format!(
                "{n} values, more than the {MAX_RANGE_VALUES} allowed"
            ));
        }
        Ok(())
    }

    /// The values `start + k step <= stop` (rounded to 1e-9 to drop binary noise, then f32).
    pub fn values(&self) -> Vec<f32> {
        let n = ((self.stop - self.start) / self.step + 1e-9)
            .floor()
            .max(0.0) as usize
            + 1;
        (0..n.min(MAX_RANGE_VALUES))
            .map(|k| {
                let v = self.start + k as f64 * self.step;
                ((v * 1e9).round() / 1e9) as f32
            })
            .collect()
    }
}

impl FromStr for GridRange {
    type Err = MeasureError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// All `(peak, fill)` points, peaks outer, fills inner.
pub fn grid(peak: &GridRange, fill: &GridRange) -> Vec<(f32, f32)> {
    let fills = fill.values();
    peak.values()
        .into_iter()
        .flat_map(|p| fills.iter().map(move |&f| (p, f)))
        .collect()
}

/// Scores of one grid point, pooled over the images.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TunePoint {
    /// Peak (seed) threshold of the post-processing, 0..=1.
    pub peak: f32,
    /// Fill (mask) threshold of the post-processing, 0..=1.
    pub fill: f32,
    /// Matching counts summed over the images.
    pub counts: EvalCounts,
    /// SEG, DET, OP_CSB, F1, ... from the summed counts.
    pub scores: Scores,
}

/// The tuning grid: `points[i_peak * fills.len() + i_fill]`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TuneGrid {
    /// The peak thresholds, ascending ([`GridRange::values`]).
    pub peaks: Vec<f32>,
    /// The fill thresholds, ascending ([`GridRange::values`]).
    pub fills: Vec<f32>,
    /// One point per `(peak, fill)`, peaks outer, fills inner.
    pub points: Vec<TunePoint>,
}

impl TuneGrid {
    /// The point of `peaks[i_peak]` and `fills[i_fill]`; panics outside the grid.
    pub fn at(&self, i_peak: usize, i_fill: usize) -> &TunePoint {
        &self.points[i_peak * self.fills.len() + i_fill]
    }

    /// The point with the highest OP_CSB (ties: first in grid order); None when all are NaN.
    pub fn best(&self) -> Option<&TunePoint> {
        let mut best: Option<&TunePoint> = None;
        for p in &self.points {
            if p.scores.op_csb.is_nan() {
                continue;
            }
            if best.is_none_or(|b| p.scores.op_csb > b.scores.op_csb) {
                best = Some(p);
            }
        }
        best
    }
}

/// Scores every grid point: `post(map, peak, fill)` turns each distance map into labels, which
/// are evaluated against the ground truth of the same index and pooled.
pub fn tune<F>(
    maps: &[MapF32],
    gts: &[Labels],
    peak: &GridRange,
    fill: &GridRange,
    post: F,
) -> Result<TuneGrid, MeasureError>
where
    F: Fn(&MapF32, f32, f32) -> Result<Labels, String> + Sync,
{
    if maps.len() != gts.len() {
        return Err(MeasureError::Invalid(format!(
            "{} distance maps but {} ground-truth images",
            maps.len(),
            gts.len()
        )));
    }
    if maps.is_empty() {
        return Err(MeasureError::Invalid("no images to tune on".into()));
    }
    for (i, (m, g)) in maps.iter().zip(gts).enumerate() {
        if (m.width(), m.height()) != (g.width(), g.height()) {
            return Err(MeasureError::Shape(format!(
                "image {i}: distance map is {}x{} but ground truth is {}x{}",
                m.width(),
                m.height(),
                g.width(),
                g.height()
            )));
        }
    }
    peak.validate().map_err(MeasureError::Invalid)?;
    fill.validate().map_err(MeasureError::Invalid)?;
    // the ground truths are re-indexed once; each grid point only re-runs `post` and the counting
    let dense_gts: Vec<DenseGt> = gts.par_iter().map(DenseGt::new).collect();
    let points = grid(peak, fill)
        .into_par_iter()
        .map(|(p, f)| {
            let mut counts = EvalCounts::empty();
            for (i, (m, g)) in maps.iter().zip(&dense_gts).enumerate() {
                let labels = post(m, p, f).map_err(|reason| MeasureError::PostProcess {
                    peak: p,
                    fill: f,
                    image: i,
                    reason,
                })?;
                counts.add(&g.counts(&labels, &format!("image {i}"))?);
            }
            let scores = counts.scores();
            Ok(TunePoint {
                peak: p,
                fill: f,
                counts,
                scores,
            })
        })
        .collect::<Result<Vec<_>, MeasureError>>()?;
    Ok(TuneGrid {
        peaks: peak.values(),
        fills: fill.values(),
        points,
    })
}

/// [`tune`] with SAMCell's post-processing, `samcell_pipeline::labels_from_distance_map`.
pub fn tune_samcell(
    maps: &[MapF32],
    gts: &[Labels],
    peak: &GridRange,
    fill: &GridRange,
) -> Result<TuneGrid, MeasureError> {
    tune(maps, gts, peak, fill, |m, p, f| {
        samcell_pipeline::labels_from_distance_map(m, p, f)
            .map(|(l, _)| l)
            .map_err(|e| e.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_ranges() {
        let r = GridRange::parse("0.3:0.6:0.05").expect("range");
        assert_eq!(r.values(), vec![0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6]);
        assert_eq!(
            GridRange::parse(" 0.47 ").expect("single").values(),
            vec![0.47]
        );
        assert_eq!(
            GridRange::parse("0.1:0.25:0.1").expect("range").values(),
            vec![0.1, 0.2]
        );
        for bad in [
            "",
            "a:b:c",
            "0.5:0.4:0.1",
            "0.1:0.5:0",
            "0.1:0.5:-0.1",
            "0:2:0.1",
            "0:1:0.001",
            "0.1:0.2",
            "nan",
        ] {
            let e = GridRange::parse(bad).expect_err(bad).to_string();
            assert!(e.contains("threshold range"), "{bad}: {e}");
        }
        assert_eq!(
            grid(
                &GridRange::parse("0.4:0.5:0.1").expect("p"),
                &GridRange::parse("0.1").expect("f")
            ),
            vec![(0.4, 0.1), (0.5, 0.1)]
        );
    }
}
