//! Heat map of a tuning grid: one coloured cell per (peak, fill) point, coloured by pooled OP_CSB
//! on a viridis-like scale (dark purple = lowest, yellow = highest of the grid), each cell printing
//! its OP_CSB to three decimals, the best point outlined, peak values down the left (rows), fill
//! values along the bottom (columns), a colour bar with its range on the right. Text uses the
//! built-in 5x7 font ([`crate::font`]) at twice its size. Undefined cells are grey with `-`.

use crate::font::{draw_text, text_height, text_width};
use crate::tune::TuneGrid;
use crate::MeasureError;
use image::ImageEncoder;
use std::path::Path;

const SCALE: usize = 2;
const CELL_W: usize = 76;
const CELL_H: usize = 34;
const PAD: usize = 16;
const BG: [u8; 3] = [255, 255, 255];
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

fn fill_rect(buf: &mut [u8], width: usize, x: usize, y: usize, w: usize, h: usize, rgb: [u8; 3]) {
    let height = buf.len() / (3 * width);
    for yy in y..(y + h).min(height) {
        for xx in x..(x + w).min(width) {
            let o = 3 * (yy * width + xx);
            buf[o..o + 3].copy_from_slice(&rgb);
        }
    }
}

fn outline_rect(
    buf: &mut [u8],
    width: usize,
    (x, y, w, h): (usize, usize, usize, usize),
    t: usize,
    rgb: [u8; 3],
) {
    fill_rect(buf, width, x, y, w, t, rgb);
    fill_rect(buf, width, x, y + h - t, w, t, rgb);
    fill_rect(buf, width, x, y, t, h, rgb);
    fill_rect(buf, width, x + w - t, y, t, h, rgb);
}

fn fmt3(v: f64) -> String {
    if v.is_nan() {
        "-".into()
    } else {
        format!("{v:.3}")
    }
}

/// Renders the heat map; returns `(width, height, RGB bytes)`.
pub fn render_heatmap(grid: &TuneGrid) -> (usize, usize, Vec<u8>) {
    let (np, nf) = (grid.peaks.len(), grid.fills.len());
    let th = text_height(SCALE);
    let tick_labels: Vec<String> = grid.peaks.iter().map(|p| format!("{p:.3}")).collect();
    let ytick_w = tick_labels
        .iter()
        .map(|s| text_width(s, SCALE))
        .max()
        .unwrap_or(0)
        .max(text_width("PEAK", SCALE));
    let left = PAD + ytick_w + 10;
    let top = PAD + 3 * (th + 12); // title, subtitle, axis title
    let grid_w = nf * CELL_W;
    let grid_h = np * CELL_H;
    let bar_x = left + grid_w + 24;
    let bar_w = 24;
    let width = bar_x + bar_w + 10 + text_width("0.000", SCALE) + PAD;
    let title = "OP_CSB = (SEG + DET) / 2, POOLED";
    let width = width.max(PAD * 2 + text_width(title, SCALE));
    let height = top + grid_h + 10 + th + 10 + th + PAD;
    let mut buf = BG.repeat(width * height);

    let vals: Vec<f64> = grid
        .points
        .iter()
        .map(|p| p.scores.op_csb)
        .filter(|v| !v.is_nan())
        .collect();
    let lo = vals.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let norm = |v: f64| if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };

    draw_text(&mut buf, width, PAD, PAD, title, SCALE, INK);
    let best = grid.best();
    let sub = match best {
        Some(b) => format!(
            "BEST {:.3} AT PEAK {:.3}, FILL {:.3}",
            b.scores.op_csb, b.peak, b.fill
        ),
        None => "NO DEFINED VALUE".to_string(),
    };
    draw_text(&mut buf, width, PAD, PAD + th + 12, &sub, SCALE, INK);
    // axis titles: PEAK above the row labels, FILL under the column labels
    draw_text(&mut buf, width, PAD, top - th - 6, "PEAK", SCALE, INK);
    let fill_title_x = left + grid_w.saturating_sub(text_width("FILL", SCALE)) / 2;
    draw_text(
        &mut buf,
        width,
        fill_title_x,
        top + grid_h + 10 + th + 10,
        "FILL",
        SCALE,
        INK,
    );

    let best = best.map(|b| (b.peak, b.fill));
    for (ip, lab) in tick_labels.iter().enumerate() {
        let y = top + ip * CELL_H;
        draw_text(
            &mut buf,
            width,
            left - 10 - text_width(lab, SCALE),
            y + (CELL_H - th) / 2,
            lab,
            SCALE,
            INK,
        );
        for jf in 0..nf {
            let x = left + jf * CELL_W;
            let p = grid.at(ip, jf);
            let v = p.scores.op_csb;
            let c = if v.is_nan() {
                [190, 190, 190]
            } else {
                colour(norm(v))
            };
            fill_rect(&mut buf, width, x, y, CELL_W, CELL_H, c);
            let lum = 0.299 * f64::from(c[0]) + 0.587 * f64::from(c[1]) + 0.114 * f64::from(c[2]);
            let ink = if lum < 128.0 { [255, 255, 255] } else { INK };
            let t = fmt3(v);
            draw_text(
                &mut buf,
                width,
                x + (CELL_W - text_width(&t, SCALE)) / 2,
                y + (CELL_H - th) / 2,
                &t,
                SCALE,
                ink,
            );
            if best == Some((p.peak, p.fill)) {
                outline_rect(&mut buf, width, (x, y, CELL_W, CELL_H), 3, [230, 20, 20]);
            }
        }
    }
    for (jf, f) in grid.fills.iter().enumerate() {
        let lab = format!("{f:.3}");
        let x = left + jf * CELL_W + (CELL_W.saturating_sub(text_width(&lab, SCALE))) / 2;
        draw_text(&mut buf, width, x, top + grid_h + 10, &lab, SCALE, INK);
    }
    // colour bar, highest at the top
    let bar_h = grid_h.max(2 * th + 8);
    for yy in 0..bar_h {
        let t = 1.0 - yy as f64 / (bar_h - 1).max(1) as f64;
        fill_rect(&mut buf, width, bar_x, top + yy, bar_w, 1, colour(t));
    }
    outline_rect(&mut buf, width, (bar_x, top, bar_w, bar_h), 1, INK);
    if !vals.is_empty() {
        draw_text(
            &mut buf,
            width,
            bar_x + bar_w + 8,
            top,
            &fmt3(hi),
            SCALE,
            INK,
        );
        draw_text(
            &mut buf,
            width,
            bar_x + bar_w + 8,
            top + bar_h - th,
            &fmt3(lo),
            SCALE,
            INK,
        );
    }
    (width, height, buf)
}

/// Renders the heat map and writes it as PNG, atomically.
pub fn write_heatmap_png(path: &Path, grid: &TuneGrid) -> Result<(), MeasureError> {
    if grid.points.is_empty() {
        return Err(MeasureError::Invalid(
            "empty tuning grid: nothing to draw".into(),
        ));
    }
    let (w, h, rgb) = render_heatmap(grid);
    let mut bytes = Vec::new();
    image::codecs::png::PngEncoder::new(&mut bytes)
        .write_image(&rgb, w as u32, h as u32, image::ExtendedColorType::Rgb8)
        .map_err(|e| {
            MeasureError::Invalid(format!("{}: cannot encode PNG: {e}", path.display()))
        })?;
    samcell_io::write_atomic(path, &bytes)?;
    Ok(())
}
