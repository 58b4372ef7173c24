//! Growth curve: the doubling time of the cell count on its exponential phase, and
//! `growth.png`.
//!
//! Fit ([`fit_doubling`]): the exponential phase is taken as the window of consecutive frames
//! where the count grows fastest: for every window of `max(4, ceil(n / 3))` consecutive frames
//! (n = frames with at least one cell; all of them when fewer) the slope of ln(count) against
//! time is fitted by ordinary least squares, and the window with the largest slope is kept
//! (the "maximum specific growth rate" of growth-curve analysis). Doubling time = ln 2 / slope,
//! in the time unit of the frames; no doubling time when the slope is not positive.
//!
//! `growth.png` ([`render_png`]): the count on a log axis with the fitted line over its
//! window, the confluency below it, and the fit (doubling time, window, R², method) written
//! on the picture.

use crate::interval::Timeline;
use crate::tables::GrowthRow;
use crate::TrackError;
use plotters::prelude::{ChartBuilder, Circle, Color, IntoLogRange, RGBColor, Text, BLACK};
use samcell_io::plot::{self, Canvas, DrawResult};

/// Smallest number of frames of the fit window.
pub const MIN_FIT_FRAMES: usize = 4;

/// A log-linear fit of the count on the exponential phase.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DoublingFit {
    /// First frame of the fit window.
    pub first: usize,
    /// Last frame of the fit window (included).
    pub last: usize,
    /// Slope of ln(count) per time unit.
    pub rate: f64,
    /// ln 2 / rate, in the time unit; `None` when the count does not grow.
    pub doubling: Option<f64>,
    /// Coefficient of determination of the fit (of ln(count)).
    pub r2: f64,
}

/// Least-squares slope, intercept and R² of `y` on `x`.
fn least_squares(x: &[f64], y: &[f64]) -> (f64, f64, f64) {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let sxx: f64 = x.iter().map(|v| (v - mx).powi(2)).sum();
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let syy: f64 = y.iter().map(|v| (v - my).powi(2)).sum();
    let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    let r2 = if syy > 0.0 {
        (sxy * sxy) / (sxx * syy)
    } else {
        1.0
    };
    (slope, my - slope * mx, r2)
}

/// The fit of the module docs over `rows` (in frame order); `None` with fewer than 3 frames
/// that have cells.
pub fn fit_doubling(rows: &[GrowthRow]) -> Option<DoublingFit> {
    let pts: Vec<&GrowthRow> = rows.iter().filter(|r| r.count > 0).collect();
    if pts.len() < 3 {
        return None;
    }
    let w = MIN_FIT_FRAMES.max(pts.len().div_ceil(3)).min(pts.len());
    let mut best: Option<(DoublingFit, f64)> = None;
    for win in pts.windows(w) {
        let x: Vec<f64> = win.iter().map(|r| r.time).collect();
        let y: Vec<f64> = win.iter().map(|r| (r.count as f64).ln()).collect();
        let (slope, intercept, r2) = least_squares(&x, &y);
        if best.as_ref().is_none_or(|(b, _)| slope > b.rate) {
            let fit = DoublingFit {
                first: win[0].frame,
                last: win[w - 1].frame,
                rate: slope,
                doubling: (slope > 0.0).then(|| std::f64::consts::LN_2 / slope),
                r2,
            };
            best = Some((fit, intercept));
        }
    }
    best.map(|b| b.0)
}

/// The fit in words, as two lines: the doubling time, then the window and method.
pub fn caption(fit: Option<&DoublingFit>, timeline: &Timeline) -> [String; 2] {
    let unit = timeline.unit();
    let method = "log-linear least squares of the count on its fastest-growing window";
    match fit {
        None => [
            "no doubling time: fewer than 3 frames with cells".into(),
            String::new(),
        ],
        Some(f) => {
            let (t0, t1) = (timeline.time(f.first), timeline.time(f.last));
            let head = match f.doubling {
                Some(d) => format!("doubling time {d:.3} {unit} (R\u{b2} {:.3})", f.r2),
                None => "no doubling time: the count does not grow".into(),
            };
            [
                head,
                if timeline.0.is_some() {
                    format!(
                        "fit: frames {}-{} ({t0}-{t1} {unit}), {method} of {} frames",
                        f.first,
                        f.last,
                        f.last - f.first + 1
                    )
                } else {
                    format!(
                        "fit: frames {}-{}, {method} of {} frames",
                        f.first,
                        f.last,
                        f.last - f.first + 1
                    )
                },
            ]
        }
    }
}

/// [`caption`] as one line (for `summary.txt` and the log).
pub fn describe(fit: Option<&DoublingFit>, timeline: &Timeline) -> String {
    let [a, b] = caption(fit, timeline);
    if b.is_empty() {
        a
    } else {
        format!("{a}; {b}")
    }
}

/// Picture size, px.
pub const W: u32 = 900;
/// Picture size, px.
pub const H: u32 = 680;
const COUNT: RGBColor = RGBColor(31, 119, 180);
const FIT: RGBColor = RGBColor(214, 39, 40);
const CONFLUENCY: RGBColor = RGBColor(44, 160, 44);

/// `growth.png` as PNG bytes (module docs).
pub fn render_png(
    rows: &[GrowthRow],
    fit: Option<&DoublingFit>,
    timeline: &Timeline,
) -> Result<Vec<u8>, TrackError> {
    let unit = timeline.unit();
    let t_max = rows.iter().map(|r| r.time).fold(1.0_f64, f64::max);
    let c_max = rows.iter().map(|r| r.count).max().unwrap_or(1).max(2) as f64;
    let caption = caption(fit, timeline);
    let conf_max = rows
        .iter()
        .map(|r| r.confluency)
        .filter(|c| c.is_finite())
        .fold(0.0_f64, f64::max);
    let conf_top = (conf_max * 1.15).clamp(0.01, 1.0);
    let intercept = fit.map(|f| {
        let pts: Vec<&GrowthRow> = rows
            .iter()
            .filter(|r| r.count > 0 && r.frame >= f.first && r.frame <= f.last)
            .collect();
        let n = pts.len() as f64;
        let mx = pts.iter().map(|r| r.time).sum::<f64>() / n;
        let my = pts.iter().map(|r| (r.count as f64).ln()).sum::<f64>() / n;
        my - f.rate * mx
    });
    let draw = |cv: &Canvas<'_>| -> DrawResult {
        let (top, rest) = cv.split_vertically(390);
        let (bottom, foot) = rest.split_vertically(240);
        let mut chart = ChartBuilder::on(&top)
            .margin(14)
            .caption("Cell count", plot::font(18.0))
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..t_max, (0.8..c_max * 1.3).log_scale())?;
        chart
            .configure_mesh()
            .x_desc(format!("time ({unit})"))
            .y_desc("cells (log)")
            .y_label_formatter(&|v| format!("{v:.0}"))
            .label_style(plot::font(13.0))
            .axis_desc_style(plot::font(14.0))
            .light_line_style(RGBColor(240, 240, 240))
            .bold_line_style(RGBColor(215, 215, 215))
            .axis_style(BLACK)
            .draw()?;
        chart.draw_series(
            rows.iter()
                .filter(|r| r.count > 0)
                .map(|r| Circle::new((r.time, r.count as f64), 3, COUNT.filled())),
        )?;
        if let (Some(f), Some(b)) = (fit, intercept) {
            let (t0, t1) = (timeline.time(f.first), timeline.time(f.last));
            chart.draw_series(plotters::series::LineSeries::new(
                [t0, t1].map(|t| (t, (b + f.rate * t).exp())),
                FIT.stroke_width(2),
            ))?;
        }
        let mut chart = ChartBuilder::on(&bottom)
            .margin(14)
            .caption("Confluency", plot::font(18.0))
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..t_max, 0.0..conf_top)?;
        chart
            .configure_mesh()
            .x_desc(format!("time ({unit})"))
            .y_desc("fraction covered")
            .label_style(plot::font(13.0))
            .axis_desc_style(plot::font(14.0))
            .light_line_style(RGBColor(240, 240, 240))
            .bold_line_style(RGBColor(215, 215, 215))
            .axis_style(BLACK)
            .draw()?;
        chart.draw_series(plotters::series::LineSeries::new(
            rows.iter().map(|r| (r.time, r.confluency)),
            CONFLUENCY.stroke_width(2),
        ))?;
        let foot = foot.margin(4, 4, 14, 14);
        for (i, line) in caption.iter().enumerate() {
            foot.draw(&Text::new(
                line.as_str(),
                (0, 4 + 22 * i as i32),
                plot::font(15.0).color(&FIT),
            ))?;
        }
        Ok(())
    };
    let rgb = plot::render_rgb(W, H, draw)?;
    Ok(plot::encode_png(W, H, &rgb)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interval::FrameInterval;

    fn rows(counts: &[usize], timeline: &Timeline) -> Vec<GrowthRow> {
        counts
            .iter()
            .enumerate()
            .map(|(t, &count)| GrowthRow {
                frame: t,
                time: timeline.time(t),
                count,
                confluency: count as f64 / 100.0,
                mean_area: 10.0,
                divisions: 0,
            })
            .collect()
    }

    #[test]
    fn the_doubling_time_comes_from_the_fastest_window() {
        // a plateau, four doublings one frame apart, a plateau: windows of 4 frames
        let timeline = Timeline(Some(FrameInterval {
            value: 30.0,
            unit: "min",
        }));
        let r = rows(&[4, 4, 4, 4, 4, 4, 8, 16, 32, 64, 64, 64], &timeline);
        let fit = fit_doubling(&r).unwrap();
        assert_eq!((fit.first, fit.last), (5, 8));
        assert!((fit.doubling.unwrap() - 30.0).abs() < 1e-9, "{fit:?}");
        assert!((fit.r2 - 1.0).abs() < 1e-12);
        let [head, window] = caption(Some(&fit), &timeline);
        assert_eq!(head, "doubling time 30.000 min (R\u{b2} 1.000)");
        assert!(window.starts_with("fit: frames 5-8 (150-240 min), log-linear least squares"));
        let png = render_png(&r, Some(&fit), &timeline).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        // no growth: no doubling time; too few frames with cells: no fit
        let flat = fit_doubling(&rows(&[5, 5, 5, 5, 5], &timeline)).unwrap();
        assert_eq!(flat.doubling, None);
        assert_eq!(fit_doubling(&rows(&[0, 3, 0, 4], &timeline)), None);
    }
}
