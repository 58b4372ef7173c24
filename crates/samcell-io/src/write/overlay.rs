//! Overlay PNG: the grey image as background, each cell in its own colour at 50% opacity.
//!
//! Not a reference-matching output (the SAMCell GUI draws random colours per run); here a label's
//! colour is a fixed function of its id ([`label_color`]), so reruns and different images give the
//! same cell id the same colour.

use super::{werr, write_atomic_with};
use crate::IoError;
use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder};
use samcell_imaging::{GrayU8, ImagingError, Labels};
use std::path::Path;

/// splitmix64 finaliser: a fixed, well-mixed 64-bit hash of the label id.
fn hash(id: u32) -> u64 {
    let mut z = u64::from(id).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The RGB colour of label `id`: hue uniform over the colour wheel from a fixed hash of the id,
/// saturation 0.55..0.95, value 0.80..1.00 (vivid, never grey or dark). Deterministic.
pub fn label_color(id: u32) -> [u8; 3] {
    let h = hash(id);
    let hue = (h >> 40) as f64 / (1u64 << 24) as f64 * 6.0; // 0..6
    let sat = 0.55 + 0.40 * ((h >> 16) & 0xFF) as f64 / 255.0;
    let val = 0.80 + 0.20 * ((h >> 8) & 0xFF) as f64 / 255.0;
    let sector = (hue.floor() as u32).min(5);
    let f = hue - f64::from(sector);
    let (p, q, t) = (
        val * (1.0 - sat),
        val * (1.0 - sat * f),
        val * (1.0 - sat * (1.0 - f)),
    );
    let (r, g, b) = match sector {
        0 => (val, t, p),
        1 => (q, val, p),
        2 => (p, val, t),
        3 => (p, q, val),
        4 => (t, p, val),
        _ => (val, p, q),
    };
    let c = |x: f64| (x * 255.0).round().clamp(0.0, 255.0) as u8;
    [c(r), c(g), c(b)]
}

/// Overlay pixels, interleaved RGB: background (label 0) is `(g, g, g)`; a labelled pixel is
/// `(g + c + 1) / 2` per channel for its label colour `c` (50% alpha, rounded half up); with
/// `outlines`, pixels of a label that have a 4-neighbour (inside the image) with a different label
/// are drawn in the full label colour.
pub fn overlay_rgb(
    image: &GrayU8,
    labels: &Labels,
    outlines: bool,
) -> Result<Vec<u8>, ImagingError> {
    let (w, h) = (image.width(), image.height());
    if labels.width() != w || labels.height() != h {
        return Err(ImagingError::Shape(format!(
            "labels are {}x{} but the image is {w}x{h}",
            labels.width(),
            labels.height()
        )));
    }
    let (img, lab) = (image.data(), labels.data());
    let mut out = Vec::with_capacity(w * h * 3);
    let mut cache: Option<(u32, [u8; 3])> = None;
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            let (g, l) = (img[i], lab[i]);
            if l == 0 {
                out.extend_from_slice(&[g, g, g]);
                continue;
            }
            let c = match cache {
                Some((id, c)) if id == l => c,
                _ => {
                    let c = label_color(l);
                    cache = Some((l, c));
                    c
                }
            };
            let edge = outlines
                && ((x > 0 && lab[i - 1] != l)
                    || (x + 1 < w && lab[i + 1] != l)
                    || (y > 0 && lab[i - w] != l)
                    || (y + 1 < h && lab[i + w] != l));
            if edge {
                out.extend_from_slice(&c);
            } else {
                out.extend(
                    c.iter()
                        .map(|&c| (u16::from(g) + u16::from(c)).div_ceil(2) as u8),
                );
            }
        }
    }
    Ok(out)
}

/// Overlay PNG (8-bit RGB): see [`overlay_rgb`] for the pixel rule and [`label_color`] for the colours.
pub fn write_overlay_png(
    path: &Path,
    image: &GrayU8,
    labels: &Labels,
    outlines: bool,
) -> Result<(), IoError> {
    let rgb = overlay_rgb(image, labels, outlines).map_err(|e| werr(path, e.to_string()))?;
    let (w, h) = (image.width(), image.height());
    let (w32, h32) = match (u32::try_from(w), u32::try_from(h)) {
        (Ok(a), Ok(b)) if a > 0 && b > 0 => (a, b),
        _ => return Err(werr(path, format!("cannot write a {w}x{h} PNG"))),
    };
    write_atomic_with(path, |out| {
        PngEncoder::new(out)
            .write_image(&rgb, w32, h32, ExtendedColorType::Rgb8)
            .map_err(|e| werr(path, format!("cannot encode PNG: {e}")))
    })
}
