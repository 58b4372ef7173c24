//! Heat map of a tuning grid: one coloured cell per (peak, fill) point, coloured by pooled OP_CSB
//! on a viridis-like scale (dark purple = lowest, yellow = highest of the grid), each cell printing
//! its OP_CSB to three decimals, the best point outlined, peak values down the left (rows), fill
//! values along the bottom (columns), a colour bar with its range on the right. Drawn with
//! samcell-io's chart canvas ([`samcell_io::plot`]). Undefined cells are grey with `-`.

use crate::tune::TuneGrid;
use crate::MeasureError;
use plotters::prelude::{Color, RGBColor, Rectangle, Text};
use samcell_io::plot::{self, Canvas, DrawResult};
use std::path::Path;

/// Pixel size of the text.
const TEXT_PX: f64 = 15.0;
const CELL_W: usize = 76;
const CELL_H: usize = 34;
const PAD: usize = 16;
const INK: [u8; 3] = [20, 20, 20];

/// Anchor colours of the scale (viridis at 0, 1/8, ..., 1).
const ANCHORS: [[u8; 3]; 9] = [
    [68, 1, 84],
    [71, 44, 122],
    [59, 81, 139],
    [44, 113, 142],
    [33, 144, 141],
    [39, 173, 129],
    [92, 200, 99],
    [170, 220, 50],
    [253, 231, 37],
];

/// Colour of `t` in 0..=1.
pub fn colour(t: f64) -> [u8; 3] {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let pos = t * (ANCHORS.len() - 1) as f64;
    let i = (pos.floor() as usize).min(ANCHORS.len() - 2);
    let f = pos - i as f64;
    let mut c = [0u8; 3];
    for k in 0..3 {
        c[k] =
            (f64::from(ANCHORS[i][k]) * (1.0 - f) + f64::from(ANCHORS[i + 1][k]) * f).round() as u8;
    }
    c
}

fn rgb(c: [u8; 3]) -> RGBColor {
    RGBColor(c[0], c[1], c[2])
}

/// Fills the `w` x `h` rectangle with its top-left corner at `(x, y)`.
fn fill_rect(cv: &Canvas<'_>, x: usize, y: usize, w: usize, h: usize, c: [u8; 3]) -> DrawResult {
    let (x, y) = (x as i32, y as i32);
    // a filled rectangle's second corner is exclusive on the bitmap
    cv.draw(&Rectangle::new(
        [(x, y), (x + w as i32, y + h as i32)],
        rgb(c).filled(),
    ))
}

/// The outline of a rectangle, `t` pixels thick, inside it.
fn outline_rect(
    cv: &Canvas<'_>,
    (x, y, w, h): (usize, usize, usize, usize),
    t: usize,
    c: [u8; 3],
) -> DrawResult {
    fill_rect(cv, x, y, w, t, c)?;
    fill_rect(cv, x, y + h - t, w, t, c)?;
    fill_rect(cv, x, y, t, h, c)?;
    fill_rect(cv, x + w - t, y, t, h, c)
}

/// `s` with its top-left corner at `(x, y)`.
fn text(cv: &Canvas<'_>, x: usize, y: usize, s: &str, c: [u8; 3]) -> DrawResult {
    cv.draw(&Text::new(
        s.to_string(),
        (x as i32, y as i32),
        plot::font(TEXT_PX).color(&rgb(c)),
    ))
}

/// Width of `s` in pixels.
fn text_width(s: &str) -> usize {
    plot::font(TEXT_PX)
        .box_size(s)
        .map_or(0, |(w, _)| w as usize)
}

fn fmt3(v: f64) -> String {
    if v.is_nan() {
        "-".into()
    } else {
        format!("{v:.3}")
    }
}

/// Renders the heat map; returns `(width, height, RGB bytes)`.
pub fn render_heatmap(grid: &TuneGrid) -> Result<(usize, usize, Vec<u8>), MeasureError> {
    let (np, nf) = (grid.peaks.len(), grid.fills.len());
    let th = TEXT_PX as usize;
    let tick_labels: Vec<String> = grid.peaks.iter().map(|p| format!("{p:.3}")).collect();
    let ytick_w = tick_labels
        .iter()
        .map(|s| text_width(s))
        .max()
        .unwrap_or(0)
        .max(text_width("peak"));
    let left = PAD + ytick_w + 10;
    let top = PAD + 3 * (th + 12); // title, subtitle, axis title
    let grid_w = nf * CELL_W;
    let grid_h = np * CELL_H;
    let bar_x = left + grid_w + 24;
    let bar_w = 24;
    let width = bar_x + bar_w + 10 + text_width("0.000") + PAD;
    let title = "OP_CSB = (SEG + DET) / 2, pooled";
    let width = width.max(PAD * 2 + text_width(title));
    let height = top + grid_h + 10 + th + 10 + th + PAD;

    let vals: Vec<f64> = grid
        .points
        .iter()
        .map(|p| p.scores.op_csb)
        .filter(|v| !v.is_nan())
        .collect();
    let lo = vals.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let norm = |v: f64| if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
    let best = grid.best();
    let sub = match best {
        Some(b) => format!(
            "best {:.3} at peak {:.3}, fill {:.3}",
            b.scores.op_csb, b.peak, b.fill
        ),
        None => "no defined value".to_string(),
    };
    let best = best.map(|b| (b.peak, b.fill));

    let draw = |cv: &Canvas<'_>| -> DrawResult {
        text(cv, PAD, PAD, title, INK)?;
        text(cv, PAD, PAD + th + 12, &sub, INK)?;
        // axis titles: peak above the row labels, fill under the column labels
        text(cv, PAD, top - th - 6, "peak", INK)?;
        let fill_title_x = left + grid_w.saturating_sub(text_width("fill")) / 2;
        text(cv, fill_title_x, top + grid_h + 10 + th + 10, "fill", INK)?;
        for (ip, lab) in tick_labels.iter().enumerate() {
            let y = top + ip * CELL_H;
            text(
                cv,
                left - 10 - text_width(lab),
                y + (CELL_H - th) / 2,
                lab,
                INK,
            )?;
            for jf in 0..nf {
                let x = left + jf * CELL_W;
                let p = grid.at(ip, jf);
                let v = p.scores.op_csb;
                let c = if v.is_nan() {
                    [190, 190, 190]
                } else {
                    colour(norm(v))
                };
                fill_rect(cv, x, y, CELL_W, CELL_H, c)?;
                let lum =
                    0.299 * f64::from(c[0]) + 0.587 * f64::from(c[1]) + 0.114 * f64::from(c[2]);
                let ink = if lum < 128.0 { [255, 255, 255] } else { INK };
                let t = fmt3(v);
                let tx = x + CELL_W.saturating_sub(text_width(&t)) / 2;
                text(cv, tx, y + (CELL_H - th) / 2, &t, ink)?;
                if best == Some((p.peak, p.fill)) {
                    outline_rect(cv, (x, y, CELL_W, CELL_H), 3, [230, 20, 20])?;
                }
            }
        }
        for (jf, f) in grid.fills.iter().enumerate() {
            let lab = format!("{f:.3}");
            let x = left + jf * CELL_W + CELL_W.saturating_sub(text_width(&lab)) / 2;
            text(cv, x, top + grid_h + 10, &lab, INK)?;
        }
        // colour bar, highest at the top
        let bar_h = grid_h.max(2 * th + 8);
        for yy in 0..bar_h {
            let t = 1.0 - yy as f64 / (bar_h - 1).max(1) as f64;
            fill_rect(cv, bar_x, top + yy, bar_w, 1, colour(t))?;
        }
        outline_rect(cv, (bar_x, top, bar_w, bar_h), 1, INK)?;
        if !vals.is_empty() {
            text(cv, bar_x + bar_w + 8, top, &fmt3(hi), INK)?;
            text(cv, bar_x + bar_w + 8, top + bar_h - th, &fmt3(lo), INK)?;
        }
        Ok(())
    };
    let rgb = plot::render_rgb(width as u32, height as u32, draw)
        .map_err(|e| MeasureError::Invalid(format!("tuning heat map: {e}")))?;
    Ok((width, height, rgb))
}

/// Renders the heat map and writes it as PNG, atomically.
pub fn write_heatmap_png(path: &Path, grid: &TuneGrid) -> Result<(), MeasureError> {
    if grid.points.is_empty() {
        return Err(MeasureError::Invalid(
            "empty tuning grid: nothing to draw".into(),
        ));
    }
    let (w, h, rgb) = render_heatmap(grid)?;
    let bytes = plot::encode_png(w as u32, h as u32, &rgb)
        .map_err(|e| MeasureError::Invalid(format!("{}: {e}", path.display())))?;
    samcell_io::write_atomic(path, &bytes)?;
    Ok(())
}
