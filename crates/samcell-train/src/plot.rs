//! The loss-curve PNG of a run (`loss.png`): train and validation loss per epoch, with axes,
//! tick labels, axis titles and a legend, drawn with plotters on samcell-io's chart canvas
//! ([`samcell_io::plot`]).

use plotters::prelude::{
    ChartBuilder, Circle, Color, PathElement, RGBColor, SeriesLabelPosition, BLACK, WHITE,
};
use samcell_io::plot::{self, Canvas, DrawResult, PlotError};

/// Image size in pixels.
pub const W: u32 = 720;
/// Image size in pixels.
pub const H: u32 = 440;
const TRAIN: RGBColor = RGBColor(31, 119, 180);
const VAL: RGBColor = RGBColor(255, 127, 14);

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

/// Renders the curves, `epochs[i]` (1-based) with `train[i]` and optional `val[i]`, as RGB
/// bytes of a [`W`] x [`H`] image.
pub fn render(epochs: &[usize], train: &[f64], val: &[Option<f64>]) -> Result<Vec<u8>, PlotError> {
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
    let points = |ys: &[Option<f64>]| -> Vec<(usize, f64)> {
        epochs
            .iter()
            .zip(ys)
            .filter_map(|(&e, v)| v.filter(|v| v.is_finite()).map(|v| (e, v)))
            .collect()
    };
    let train: Vec<Option<f64>> = train.iter().map(|&v| Some(v)).collect();
    let series = [("train", points(&train), TRAIN), ("val", points(val), VAL)];
    let draw = |cv: &Canvas<'_>| -> DrawResult {
        let mut chart = ChartBuilder::on(cv)
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(72)
            .build_cartesian_2d(1..n_ep, lo..hi)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc("loss")
            .x_labels(n_ep.min(9))
            .y_labels(6)
            .y_label_formatter(&|v| tick_label(*v))
            .label_style(plot::font(14.0))
            .axis_desc_style(plot::font(15.0))
            .light_line_style(RGBColor(240, 240, 240))
            .bold_line_style(RGBColor(215, 215, 215))
            .axis_style(BLACK)
            .draw()?;
        for (name, pts, colour) in &series {
            let colour = *colour;
            chart
                .draw_series(plotters::series::LineSeries::new(
                    pts.iter().copied(),
                    colour.stroke_width(2),
                ))?
                .label(*name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(3))
                });
            chart.draw_series(pts.iter().map(|&p| Circle::new(p, 3, colour.filled())))?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(plot::font(14.0))
            .draw()
    };
    plot::render_rgb(W, H, draw)
}

/// PNG bytes of [`render`].
pub fn png(epochs: &[usize], train: &[f64], val: &[Option<f64>]) -> Result<Vec<u8>, PlotError> {
    plot::encode_png(W, H, &render(epochs, train, val)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curves_axes_and_labels_are_drawn() {
        let rgb = render(
            &[1, 2, 3, 4],
            &[0.2, 0.1, 0.08, 0.07],
            &[Some(0.15), Some(0.12), None, Some(0.09)],
        )
        .expect("render");
        assert_eq!(rgb.len(), (W * H * 3) as usize);
        // (x, y) of the pixels of one colour
        let pixels = |c: RGBColor| -> Vec<(u32, u32)> {
            rgb.chunks(3)
                .enumerate()
                .filter(|(_, p)| *p == [c.0, c.1, c.2])
                .map(|(i, _)| (i as u32 % W, i as u32 / W))
                .collect()
        };
        let (train, val) = (pixels(TRAIN), pixels(VAL));
        assert!(train.len() > 200 && val.len() > 150, "both curves drawn");
        let dark = rgb.chunks(3).filter(|p| p.iter().all(|&v| v < 80)).count();
        assert!(dark > 500, "axes and text drawn ({dark} dark pixels)");
        // The train loss falls: its pixels in the left quarter lie higher (smaller y) than those
        // in the third quarter (the legend is further right).
        let mean_y = |x: std::ops::Range<u32>| {
            let ys: Vec<f64> = train
                .iter()
                .filter(|p| x.contains(&p.0))
                .map(|p| f64::from(p.1))
                .collect();
            assert!(!ys.is_empty(), "train pixels in {x:?}");
            ys.iter().sum::<f64>() / ys.len() as f64
        };
        assert!(mean_y(0..W / 4) < mean_y(W / 2..3 * W / 4));
        let bytes = png(&[1], &[0.5], &[None]).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
        assert_eq!(tick_label(0.01234), "0.0123");
        assert_eq!(tick_label(2.0), "2.00");
        assert_eq!(tick_label(0.00002345), "2.35E-5");
    }
}
