//! Charts as PNG images (the tuning heat map, the training loss curves): drawn with `plotters`
//! on an RGB bitmap and encoded with the `image` crate's PNG encoder. Text is set in DejaVu Sans,
//! embedded in the program (the `dejavu` crate), so drawing needs no system font.
//!
//! [`render_rgb`] hands the drawing code a white [`Canvas`] of the asked size; [`font`] is the
//! one typeface for its text; [`encode_png`] turns the pixels into a file's bytes.

use plotters::coord::Shift;
use plotters::prelude::{
    BitMapBackend, DrawingArea, DrawingAreaErrorKind, DrawingBackend, FontDesc, FontStyle,
    IntoDrawingArea,
};
use std::fmt::Display;
use std::sync::Once;

/// The drawing surface [`render_rgb`] passes to its drawing code (pixel coordinates, origin
/// at the top left).
pub type Canvas<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// What drawing on a [`Canvas`] returns (plotters' error, for `?` in drawing code).
pub type DrawResult =
    Result<(), DrawingAreaErrorKind<<BitMapBackend<'static> as DrawingBackend>::ErrorType>>;

/// Font family name under which the embedded DejaVu Sans is registered with plotters.
const FAMILY: &str = "sans-serif";

/// A chart that could not be drawn or encoded.
#[derive(Debug, thiserror::Error)]
#[error("cannot draw the chart: {0}")]
pub struct PlotError(String);

/// The chart typeface (DejaVu Sans) at `size` pixels.
pub fn font(size: f64) -> FontDesc<'static> {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        if plotters::style::register_font(FAMILY, FontStyle::Normal, dejavu::sans::regular())
            .is_err()
        {
            panic!("the embedded DejaVu Sans does not parse as a font");
        }
    });
    FontDesc::new(
        plotters::style::FontFamily::Name(FAMILY),
        size,
        FontStyle::Normal,
    )
}

/// Runs `draw` on a white `width` x `height` canvas and returns the pixels as RGB bytes, row
/// by row.
pub fn render_rgb<E: Display>(
    width: u32,
    height: u32,
    draw: impl FnOnce(&Canvas<'_>) -> Result<(), E>,
) -> Result<Vec<u8>, PlotError> {
    // registers the font before anything is drawn
    let _ = font(1.0);
    let mut rgb = vec![255u8; width as usize * height as usize * 3];
    {
        let canvas = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        draw(&canvas).map_err(|e| PlotError(e.to_string()))?;
        canvas.present().map_err(|e| PlotError(e.to_string()))?;
    }
    Ok(rgb)
}

/// PNG bytes of `width` x `height` RGB pixels (as [`render_rgb`] returns them).
pub fn encode_png(width: u32, height: u32, rgb: &[u8]) -> Result<Vec<u8>, PlotError> {
    use image::ImageEncoder;
    let mut bytes = Vec::new();
    image::codecs::png::PngEncoder::new(&mut bytes)
        .write_image(rgb, width, height, image::ExtendedColorType::Rgb8)
        .map_err(|e| PlotError(format!("PNG encoding: {e}")))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use plotters::prelude::{Color, Rectangle, Text, BLACK, RED};

    #[test]
    fn shapes_and_text_are_drawn_and_encoded() {
        let rgb = render_rgb(120, 40, |c| {
            c.draw(&Rectangle::new([(0, 0), (9, 9)], RED.filled()))?;
            c.draw(&Text::new("Loss 0.5", (20, 10), font(16.0).color(&BLACK)))
        })
        .expect("draw");
        assert_eq!(rgb.len(), 120 * 40 * 3);
        assert_eq!(&rgb[..3], &[255, 0, 0], "the rectangle");
        // the text: dark pixels right of the rectangle (the font is there without system fonts)
        let dark = rgb
            .chunks(3)
            .enumerate()
            .filter(|(i, p)| i % 120 >= 20 && p.iter().all(|&v| v < 100))
            .count();
        assert!(dark > 20, "{dark} dark text pixels");
        let png = encode_png(120, 40, &rgb).expect("encode");
        assert_eq!(&png[1..4], b"PNG");
    }
}
