//! Everything derived from a job's distance map: labels (samcell post-processing through
//! `samcell_pipeline::labels_from_distance_map`), measurements (samcell-measure), the download
//! files and the viewer layers. Used after the model ran and again on each re-threshold, which
//! therefore never touches the model.
//!
//! Viewer layers (PNGs, the page stacks them on a canvas; `view_image.png` is the grey image with
//! display contrast, [`display_stretch`]):
//! - `view_fill.png`: each cell in its overlay colour (`samcell_io::write::label_color`), opaque;
//!   background transparent. The page draws it at the chosen opacity.
//! - `view_edges.png`: the same colours on cell pixels that have a 4-neighbour with another label
//!   (the overlay PNG's outline rule), transparent elsewhere.
//! - `view_distmap.png`: the distance map on samcell-measure's viridis-like scale, 0 -> dark
//!   purple, 1 -> yellow (absolute, so the colours relate to the thresholds).

use std::path::Path;
use std::time::Instant;

use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ExtendedColorType, ImageEncoder};
use samcell_imaging::{GrayU8, Labels, MapF32};
use samcell_io::{Calibration, RawGray};
use samcell_measure::{measure_labels, Intensity, MeasureConfig};

use crate::job::{files, Metrics};
use crate::WebError;

/// An output that cannot be written, as text with its causes (samcell-io keeps the system's
/// error as the source, not in its own message).
fn io_err(e: impl std::error::Error) -> WebError {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text = format!("{text}: {c}");
        cause = c.source();
    }
    WebError::Io(text)
}

/// Encodes RGBA or grey pixels as a PNG quickly (viewer layers are re-made on every re-threshold).
pub fn png_bytes(
    width: usize,
    height: usize,
    pixels: &[u8],
    color: ExtendedColorType,
) -> Result<Vec<u8>, WebError> {
    let mut out = Vec::new();
    PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Adaptive)
        .write_image(pixels, width as u32, height as u32, color)
        .map_err(|e| WebError::Io(format!("PNG encoding: {e}")))?;
    Ok(out)
}

/// Writes the 8-bit grey image the model saw (`gray.png`) and its contrast-stretched copy for
/// the viewer (`view_image.png`, see [`display_stretch`]).
pub fn save_gray(dir: &Path, gray: &GrayU8) -> Result<(), WebError> {
    let png = png_bytes(
        gray.width(),
        gray.height(),
        gray.data(),
        ExtendedColorType::L8,
    )?;
    samcell_io::write_atomic(&dir.join(files::GRAY), &png).map_err(io_err)?;
    let shown = display_stretch(gray);
    let png = png_bytes(gray.width(), gray.height(), &shown, ExtendedColorType::L8)?;
    samcell_io::write_atomic(&dir.join(files::VIEW_IMAGE), &png).map_err(io_err)
}

/// Display contrast (viewer only, never used for segmentation): the grey values between the
/// 0.5th and 99.5th percentile of the histogram are stretched linearly to 0..255 (rounded),
/// values outside are clipped; an image whose percentiles coincide is returned unchanged.
pub fn display_stretch(gray: &GrayU8) -> Vec<u8> {
    let data = gray.data();
    let mut hist = [0u64; 256];
    for &v in data {
        hist[v as usize] += 1;
    }
    let n = data.len() as u64;
    let rank = |q: u64| -> usize {
        // smallest value whose cumulative count exceeds q
        let mut acc = 0;
        for (v, &c) in hist.iter().enumerate() {
            acc += c;
            if acc > q {
                return v;
            }
        }
        255
    };
    let (lo, hi) = (rank(n / 200), rank(n - 1 - n / 200));
    if hi <= lo {
        return data.to_vec();
    }
    let lut: Vec<u8> = (0..256)
        .map(|v: usize| {
            let t = (v.clamp(lo, hi) - lo) as f64 / (hi - lo) as f64;
            (t * 255.0).round() as u8
        })
        .collect();
    data.iter().map(|&v| lut[v as usize]).collect()
}

/// Writes the model's outputs that do not depend on the thresholds: `distmap.tif` (also what
/// re-thresholding reads back, with `samcell_io::read_f32_tiff`; with the pixel size as ImageJ
/// calibration when known) and `view_distmap.png`.
pub fn save_map_outputs(
    dir: &Path,
    map: &MapF32,
    pixel_size: Option<&Calibration>,
) -> Result<(), WebError> {
    samcell_io::write_f32_tiff_calibrated(&dir.join(files::DISTMAP_TIFF), map, pixel_size)
        .map_err(io_err)?;
    let mut rgba = Vec::with_capacity(map.data().len() * 4);
    for &v in map.data() {
        let c = samcell_measure::heatmap::colour(f64::from(v));
        rgba.extend_from_slice(&[c[0], c[1], c[2], 255]);
    }
    let png = png_bytes(map.width(), map.height(), &rgba, ExtendedColorType::Rgba8)?;
    samcell_io::write_atomic(&dir.join(files::VIEW_DISTMAP), &png).map_err(io_err)
}

/// The viewer's fill and edge layers of `labels` (RGBA each).
pub fn view_layers(labels: &Labels) -> (Vec<u8>, Vec<u8>) {
    let (w, h) = (labels.width(), labels.height());
    let lab = labels.data();
    let mut fill = vec![0u8; w * h * 4];
    let mut edges = vec![0u8; w * h * 4];
    let mut cache: Option<(u32, [u8; 3])> = None;
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            let l = lab[i];
            if l == 0 {
                continue;
            }
            let c = match cache {
                Some((id, c)) if id == l => c,
                _ => {
                    let c = samcell_io::write::label_color(l);
                    cache = Some((l, c));
                    c
                }
            };
            fill[4 * i..4 * i + 4].copy_from_slice(&[c[0], c[1], c[2], 255]);
            let edge = (x > 0 && lab[i - 1] != l)
                || (x + 1 < w && lab[i + 1] != l)
                || (y > 0 && lab[i - w] != l)
                || (y + 1 < h && lab[i + w] != l);
            if edge {
                edges[4 * i..4 * i + 4].copy_from_slice(&[c[0], c[1], c[2], 255]);
            }
        }
    }
    (fill, edges)
}

/// What [`write_threshold_outputs`] produced.
pub struct ThresholdResult {
    /// The figures of the new labels.
    pub metrics: Metrics,
    /// Milliseconds spent turning the map into labels.
    pub postprocess_ms: u64,
    /// Milliseconds spent measuring the labels and writing the files.
    pub outputs_ms: u64,
}

/// What the threshold-dependent outputs depend on besides the map.
#[derive(Clone, Copy, Debug)]
pub struct PostSettings {
    /// Seed threshold (`map > peak`).
    pub peak: f32,
    /// Cell extent threshold (`map > fill`).
    pub fill: f32,
    /// Distance of `NumberOfNeighbors_<N>`, px.
    pub neighbor_distance: u32,
    /// The pixel size of the results (`None`: unknown), see [`crate::Job::pixel_size_um`].
    pub pixel_size: Option<Calibration>,
}

/// Post-processes `map` at (`peak`, `fill`) and (re)writes every threshold-dependent file of the
/// job directory: `masks.tif`, `overlay.png`, `cells.csv`, `summary.csv` and the two label layers.
/// With a pixel size, as `samcell segment` writes them: `masks.tif` carries it as ImageJ
/// calibration, `cells.csv` ends with the size columns in µm and `summary.csv` has
/// `cells_per_mm2`.
///
/// `gray` is the 8-bit image the model saw (drawn under the overlay); `raw` holds the uploaded
/// image's own values (`samcell_io::read_gray_raw`), which the intensity columns of `cells.csv`
/// are measured on, as `samcell measure --image` and `samcell segment` do.
pub fn write_threshold_outputs(
    dir: &Path,
    stem: &str,
    gray: &GrayU8,
    raw: &RawGray,
    map: &MapF32,
    settings: PostSettings,
) -> Result<ThresholdResult, WebError> {
    let PostSettings {
        peak,
        fill,
        neighbor_distance,
        pixel_size,
    } = settings;
    let t = Instant::now();
    let (labels, _) = samcell_pipeline::labels_from_distance_map(map, peak, fill)
        .map_err(|e| WebError::Processing(format!("post-processing: {e}")))?;
    let postprocess_ms = t.elapsed().as_millis() as u64;
    let t = Instant::now();
    let m = measure_labels(
        &labels,
        Some(Intensity::Raw(raw)),
        &MeasureConfig { neighbor_distance },
    )
    .map_err(|e| WebError::Processing(format!("measurements: {e}")))?;
    let summary = m.summary(stem).with_pixel_size(pixel_size.as_ref());
    samcell_measure::write_cells_csv_calibrated(&dir.join(files::CELLS), &m, pixel_size.as_ref())
        .map_err(io_err)?;
    samcell_measure::write_summary_csv(&dir.join(files::SUMMARY), std::slice::from_ref(&summary))
        .map_err(io_err)?;
    samcell_io::write_labels_tiff_calibrated(&dir.join(files::MASKS), &labels, pixel_size.as_ref())
        .map_err(io_err)?;
    samcell_io::write_overlay_png(&dir.join(files::OVERLAY), gray, &labels, true)
        .map_err(io_err)?;
    let (fill_rgba, edge_rgba) = view_layers(&labels);
    let (w, h) = (labels.width(), labels.height());
    for (name, px) in [
        (files::VIEW_FILL, &fill_rgba),
        (files::VIEW_EDGES, &edge_rgba),
    ] {
        let png = png_bytes(w, h, px, ExtendedColorType::Rgba8)?;
        samcell_io::write_atomic(&dir.join(name), &png).map_err(io_err)?;
    }
    let finite = |v: f64| v.is_finite().then_some(v);
    let cell_pixels: u64 = m.cells.iter().map(|c| c.area).sum();
    let metrics = Metrics {
        cell_count: summary.cell_count,
        mean_area_px: finite(summary.mean_area),
        median_area_px: finite(summary.median_area),
        mean_area_um2: pixel_size.and_then(|p| finite(summary.mean_area * p.x_um * p.y_um)),
        cells_per_mm2: summary.cells_per_mm2.and_then(finite),
        confluency_percent: finite(summary.confluency * 100.0),
        mean_neighbors: finite(summary.mean_neighbors_adjacent),
        mean_neighbors_within: finite(summary.mean_neighbors_within),
        neighbor_distance,
        cell_pixels,
    };
    Ok(ThresholdResult {
        metrics,
        postprocess_ms,
        outputs_ms: t.elapsed().as_millis() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_stretch_spans_the_range() {
        // 1000 pixels: values 10..=19 (100 each); the 0.5/99.5 percentiles are 10 and 19
        let data: Vec<u8> = (0..1000).map(|i| 10 + (i / 100) as u8).collect();
        let img = GrayU8::from_vec(100, 10, data).expect("image");
        let s = display_stretch(&img);
        assert_eq!((s[0], s[999]), (0, 255));
        assert_eq!(s[450], 113, "value 14 -> round(4/9*255)");
        let flat = GrayU8::from_vec(2, 2, vec![7; 4]).expect("image");
        assert_eq!(
            display_stretch(&flat),
            vec![7; 4],
            "a constant image is left alone"
        );
    }

    #[test]
    fn layers_mark_fill_and_edges() {
        // 4x3: cell 1 is a 2x3 block on the left, cell 2 one pixel in the middle of the right half
        let labels =
            Labels::from_vec(4, 3, vec![1, 1, 0, 0, 1, 1, 0, 2, 1, 1, 0, 0]).expect("labels");
        let (fill, edges) = view_layers(&labels);
        let alpha = |buf: &[u8], i: usize| buf[4 * i + 3];
        assert_eq!(
            (0..12).map(|i| alpha(&fill, i)).collect::<Vec<_>>(),
            [255, 255, 0, 0, 255, 255, 0, 255, 255, 255, 0, 0]
        );
        // (1,1) borders label 0 on the right; (0,1) only touches cell 1 or the image border
        assert_eq!(
            alpha(&edges, 4),
            0,
            "interior-or-border pixel is not an edge"
        );
        assert_eq!(alpha(&edges, 5), 255, "pixel next to background is an edge");
        assert_eq!(&fill[4 * 7..4 * 7 + 3], &samcell_io::write::label_color(2));
    }
}
