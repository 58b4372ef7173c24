//! The loss-curve PNG of a run (`loss.png`): train and validation loss per epoch, with axes,
//! tick labels, axis titles and a legend, drawn pixel by pixel into an RGB buffer and encoded
//! with the `image` crate's PNG encoder. Text uses a small 3x5 bitmap font defined here.

use image::{ImageEncoder, RgbImage};

const W: u32 = 720;
const H: u32 = 440;
const LEFT: i64 = 78;
const RIGHT: i64 = 20;
const TOP: i64 = 34;
const BOTTOM: i64 = 52;
const TRAIN: [u8; 3] = [31, 119, 180];
const VAL: [u8; 3] = [255, 127, 14];
const BLACK: [u8; 3] = [0, 0, 0];
const GRID: [u8; 3] = [225, 225, 225];

/// 3x5 glyphs, 15 bits, row-major from the top-left (bit 14 = top-left pixel).
fn glyph(c: char) -> u16 {
    match c.to_ascii_uppercase() {
        '0' => 0b111_101_101_101_111,
        '1' => 0b010_110_010_010_111,
        '2' => 0b111_001_111_100_111,
        '3' => 0b111_001_111_001_111,
        '4' => 0b101_101_111_001_001,
        '5' => 0b111_100_111_001_111,
        '6' => 0b111_100_111_101_111,
        '7' => 0b111_001_010_010_010,
        '8' => 0b111_101_111_101_111,
        '9' => 0b111_101_111_001_111,
        '.' => 0b000_000_000_000_010,
        '-' => 0b000_000_111_000_000,
        '+' => 0b000_010_111_010_000,
        'A' => 0b010_101_111_101_101,
        'C' => 0b111_100_100_100_111,
        'E' => 0b111_100_110_100_111,
        'H' => 0b101_101_111_101_101,
        'I' => 0b111_010_010_010_111,
        'L' => 0b100_100_100_100_111,
        'N' => 0b110_101_101_101_101,
        'O' => 0b111_101_101_101_111,
        'P' => 0b111_101_111_100_100,
        'R' => 0b110_101_110_101_101,
        'S' => 0b111_100_111_001_111,
        'T' => 0b111_010_010_010_010,
        'V' => 0b101_101_101_101_010,
        ' ' => 0,
        _ => 0b111_101_101_101_111,
    }
}

struct Canvas(RgbImage);

impl Canvas {
    fn put(&mut self, x: i64, y: i64, c: [u8; 3]) {
        if x >= 0 && y >= 0 && x < W as i64 && y < H as i64 {
            self.0.put_pixel(x as u32, y as u32, image::Rgb(c));
        }
    }

    fn rect(&mut self, x: i64, y: i64, w: i64, h: i64, c: [u8; 3]) {
        for yy in y..y + h {
            for xx in x..x + w {
                self.put(xx, yy, c);
            }
        }
    }

    /// A line `width` pixels thick (Bresenham, square pen).
    fn line(&mut self, (x0, y0): (i64, i64), (x1, y1): (i64, i64), width: i64, c: [u8; 3]) {
        let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
        let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
        let (mut x, mut y, mut err) = (x0, y0, dx + dy);
        loop {
            self.rect(x - width / 2, y - width / 2, width, width, c);
            if x == x1 && y == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    /// Text with its top-left at `(x, y)`, `scale` pixels per font pixel.
    fn text(&mut self, x: i64, y: i64, s: &str, scale: i64, c: [u8; 3]) {
        for (i, ch) in s.chars().enumerate() {
            let g = glyph(ch);
            for bit in 0..15 {
                if g & (1 << (14 - bit)) != 0 {
                    let (gx, gy) = (bit % 3, bit / 3);
                    self.rect(
                        x + (i as i64 * 4 + gx) * scale,
                        y + gy * scale,
                        scale,
                        scale,
                        c,
                    );
                }
            }
        }
    }
}

fn text_width(s: &str, scale: i64) -> i64 {
    (s.chars().count() as i64 * 4 - 1).max(0) * scale
}

/// A tick label with 3 significant digits ("0.0123", "1.5", "2.3E-5").
pub fn tick_label(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-3..1e4).contains(&a) {
        return format!("{v:.2E}").replace("E-0", "E-");
    }
    let decimals = (2 - a.log10().floor() as i64).max(0) as usize;
    format!("{v:.decimals$}")
}

/// Renders the curves: `epochs[i]` (1-based) with `train[i]` and optional `val[i]`.
pub fn render(epochs: &[usize], train: &[f64], val: &[Option<f64>]) -> RgbImage {
    let mut cv = Canvas(RgbImage::from_pixel(W, H, image::Rgb([255, 255, 255])));
    let (x0, x1, y0, y1) = (LEFT, W as i64 - RIGHT, TOP, H as i64 - BOTTOM);
    let values: Vec<f64> = train
        .iter()
        .copied()
        .chain(val.iter().flatten().copied())
        .filter(|v| v.is_finite())
        .collect();
    let (mut lo, mut hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| {
            (l.min(v), h.max(v))
        });
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    if hi - lo < 1e-12 {
        (lo, hi) = (lo - 0.5 * lo.abs().max(1e-3), hi + 0.5 * hi.abs().max(1e-3));
    }
    let pad = 0.05 * (hi - lo);
    let (lo, hi) = ((lo - pad).max(0.0_f64.min(lo)), hi + pad);
    let n_ep = epochs.iter().copied().max().unwrap_or(1).max(2);
    let px =
        |e: usize| x0 + ((e as f64 - 1.0) / (n_ep as f64 - 1.0) * (x1 - x0) as f64).round() as i64;
    let py = |v: f64| y1 - ((v - lo) / (hi - lo) * (y1 - y0) as f64).round() as i64;
    // Grid and y ticks.
    for k in 0..=5 {
        let v = lo + (hi - lo) * k as f64 / 5.0;
        let y = py(v);
        cv.line((x0, y), (x1, y), 1, GRID);
        cv.line((x0 - 5, y), (x0, y), 1, BLACK);
        let s = tick_label(v);
        cv.text(x0 - 9 - text_width(&s, 2), y - 5, &s, 2, BLACK);
    }
    // X ticks: about 8 integer epochs.
    let step = n_ep.div_ceil(8).max(1);
    let mut e = 1;
    while e <= n_ep {
        let x = px(e);
        cv.line((x, y1), (x, y1 + 5), 1, BLACK);
        let s = e.to_string();
        cv.text(x - text_width(&s, 2) / 2, y1 + 9, &s, 2, BLACK);
        e += step;
    }
    cv.line((x0, y0), (x0, y1), 1, BLACK);
    cv.line((x0, y1), (x1, y1), 1, BLACK);
    cv.text(
        (x0 + x1) / 2 - text_width("EPOCH", 2) / 2,
        y1 + 28,
        "EPOCH",
        2,
        BLACK,
    );
    cv.text(8, 10, "LOSS", 2, BLACK);
    // Curves.
    let series: [(Vec<Option<f64>>, [u8; 3]); 2] = [
        (train.iter().map(|&v| Some(v)).collect(), TRAIN),
        (val.to_vec(), VAL),
    ];
    for (ys, colour) in &series {
        let pts: Vec<(i64, i64)> = epochs
            .iter()
            .zip(ys)
            .filter_map(|(&e, v)| v.filter(|v| v.is_finite()).map(|v| (px(e), py(v))))
            .collect();
        for w in pts.windows(2) {
            cv.line(w[0], w[1], 2, *colour);
        }
        for &(x, y) in &pts {
            cv.rect(x - 3, y - 3, 7, 7, *colour);
        }
    }
    // Legend.
    let lx = x1 - 120;
    for (i, (name, colour)) in [("TRAIN", TRAIN), ("VAL", VAL)].into_iter().enumerate() {
        let y = y0 - 26 + i as i64 * 13;
        cv.rect(lx, y + 1, 18, 8, colour);
        cv.text(lx + 26, y, name, 2, BLACK);
    }
    cv.0
}

/// PNG bytes of [`render`].
pub fn png(
    epochs: &[usize],
    train: &[f64],
    val: &[Option<f64>],
) -> Result<Vec<u8>, image::ImageError> {
    let img = render(epochs, train, val);
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out).write_image(
        img.as_raw(),
        W,
        H,
        image::ExtendedColorType::Rgb8,
    )?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curves_axes_and_labels_are_drawn() {
        let img = render(
            &[1, 2, 3, 4],
            &[0.2, 0.1, 0.08, 0.07],
            &[Some(0.15), Some(0.12), None, Some(0.09)],
        );
        let count = |c: [u8; 3]| img.pixels().filter(|p| p.0 == c).count();
        assert!(count(TRAIN) > 200 && count(VAL) > 150, "both curves drawn");
        assert!(count(BLACK) > 500, "axes and text drawn");
        // The train curve's first point is at the top-left of the plot area (highest loss).
        assert_eq!(
            img.get_pixel(
                LEFT as u32,
                TOP as u32 + ((H as i64 - TOP - BOTTOM) as f64 * 0.05 / 1.1) as u32 + 1
            )
            .0,
            TRAIN
        );
        let bytes = png(&[1], &[0.5], &[None]).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
        assert_eq!(tick_label(0.01234), "0.0123");
        assert_eq!(tick_label(2.0), "2.00");
        assert_eq!(tick_label(0.00002345), "2.35E-5");
    }
}
