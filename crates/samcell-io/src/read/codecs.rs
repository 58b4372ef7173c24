//! PNG and BMP through the `image` crate (0.25), JPEG through zune-jpeg (0.5) with luma output.
//!
//! - PNG 8-bit (opencv 4.12 `PngDecoder` with libpng 1.6.48): palette expanded to RGB, grey below 8
//!   bits expanded to 0..255, alpha stripped, colour reduced with libpng's `png_set_rgb_to_gray`
//!   ([`PngRgbToGray`], using the file's `gAMA`/`sRGB` chunk as libpng does). 16-bit PNG is wide data.
//! - JPEG (opencv 4.12 `JpegDecoder`, libjpeg-turbo 3.1, `out_color_space = JCS_GRAYSCALE`):
//!   YCbCr and grey files give the Y component; RGB-coded files use libjpeg's `rgb_gray_convert`
//!   ([`jpeg_rgb_to_gray`]); CMYK/YCCK files (rare; cv2 converts them through BGR) are converted
//!   to RGB by zune-jpeg and then with [`cv_rgb_to_gray`], an approximation.
//! - BMP (opencv 4.12 `BmpDecoder`): grey palettes as stored, colour pixels and colour palettes
//!   through [`cv_rgb_to_gray`], alpha ignored.
//! - EXIF orientation of PNG (`eXIf`) and JPEG (APP1) files is applied, as `cv2.imread` does.
//! - A `channel` (`ReadOptions::channel`) takes that sample of each pixel instead: PNG and BMP
//!   as decoded (palettes expanded to RGB(A)), JPEG from zune-jpeg's RGB output (colour files;
//!   channels 0 to 2).
//!
//! Each decoder reads the image size from the header (PNG `IHDR`, JPEG `SOF`, BMP info header)
//! and refuses an image over the pixel limit ([`crate::limits`]) before any pixel buffer exists.

use super::gray::{
    apply_exif_orientation, channel_use, channel_use_picking, cv_rgb_to_gray, interleaved_to_f64,
    interleaved_u8_to_gray, jpeg_rgb_to_gray, nth_sample, sample_to_pick, Decoded, Pixels,
    PngRgbToGray,
};
use super::SampleType;
use crate::limits;
use image::codecs::bmp::BmpDecoder;
use image::codecs::png::PngDecoder;
use image::{ColorType, ImageDecoder};
use std::io::Cursor;
use zune_jpeg::zune_core::bytestream::ZCursor;
use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;

fn image_err(kind: &str, e: image::ImageError) -> String {
    match e {
        image::ImageError::Unsupported(u) => format!("unsupported {kind}: {u}"),
        image::ImageError::Limits(l) => format!("{kind} too large: {l}"),
        other => format!("corrupt or truncated {kind}: {other}"),
    }
}

/// What [`png_header`] finds before IDAT.
struct PngHeader {
    width: u32,
    height: u32,
    depth: u8,
    ctype: u8,
    /// File gamma in 1e5 units.
    gamma: Option<u32>,
}

/// Walks the PNG chunks before IDAT: size, bit depth, colour type, file gamma.
fn png_header(bytes: &[u8]) -> PngHeader {
    let (mut depth, mut ctype, mut gamma, mut srgb) = (8, 0, None, false);
    let (mut width, mut height) = (0, 0);
    let mut pos = 8;
    while pos + 8 <= bytes.len() {
        let len = u32::from_be_bytes([bytes[pos], bytes[pos + 1], bytes[pos + 2], bytes[pos + 3]])
            as usize;
        let kind = &bytes[pos + 4..pos + 8];
        let data = bytes.get(pos + 8..pos + 8 + len);
        match (kind, data) {
            (b"IHDR", Some(d)) if d.len() >= 10 => {
                width = u32::from_be_bytes([d[0], d[1], d[2], d[3]]);
                height = u32::from_be_bytes([d[4], d[5], d[6], d[7]]);
                depth = d[8];
                ctype = d[9];
            }
            (b"gAMA", Some(d)) if d.len() == 4 => {
                let g = u32::from_be_bytes([d[0], d[1], d[2], d[3]]);
                // libpng ignores out-of-range gamma values (png_colorspace_set_gamma)
                if (16..=625_000_000).contains(&g) {
                    gamma = Some(g);
                }
            }
            (b"sRGB", Some(_)) => srgb = true,
            (b"IDAT", _) | (_, None) => break,
            _ => {}
        }
        pos = pos.saturating_add(len).saturating_add(12);
    }
    // an sRGB chunk sets the file gamma to the sRGB approximation 1/2.2 (45455)
    let gamma = if srgb { Some(45455) } else { gamma };
    PngHeader {
        width,
        height,
        depth,
        ctype,
        gamma,
    }
}

pub(crate) fn decode_png(
    bytes: &[u8],
    channel: Option<usize>,
    max_pixels: u64,
) -> Result<Decoded, String> {
    let PngHeader {
        width,
        height,
        depth,
        ctype,
        gamma,
    } = png_header(bytes);
    limits::check(width.into(), height.into(), max_pixels)?;
    let mut d = PngDecoder::with_limits(Cursor::new(bytes), limits::image_limits(max_pixels))
        .map_err(|e| image_err("PNG", e))?;
    let orientation = d.orientation().map(|o| o.to_exif()).unwrap_or(1);
    let (w, h) = d.dimensions();
    limits::check(w.into(), h.into(), max_pixels)?;
    let (w, h) = (w as usize, h as usize);
    let color = d.color_type();
    if w == 0 || h == 0 {
        return Err(format!("zero-size image ({w}x{h})"));
    }
    let total =
        usize::try_from(d.total_bytes()).map_err(|_| "PNG too large for memory".to_string())?;
    let mut buf = vec![0u8; total];
    d.read_image(&mut buf).map_err(|e| image_err("PNG", e))?;
    let channels = color.channel_count() as usize;
    let pick = sample_to_pick(channel, channels)?;
    let palette = ctype == 3;
    let sample = match (depth, palette) {
        (16, _) => SampleType::U16,
        (8, _) | (_, true) => SampleType::U8,
        (b, false) => SampleType::UBits(b),
    };
    let pixels = match color {
        ColorType::L8 | ColorType::La8 | ColorType::Rgb8 | ColorType::Rgba8 => match pick {
            Some(c) => Pixels::Gray8(nth_sample(buf, channels, c)),
            None => {
                let conv = PngRgbToGray::new(gamma);
                Pixels::Gray8(interleaved_u8_to_gray(buf, channels, |r, g, b| {
                    conv.gray(r, g, b)
                }))
            }
        },
        ColorType::L16 | ColorType::La16 | ColorType::Rgb16 | ColorType::Rgba16 => {
            let v: Vec<u16> = buf
                .chunks_exact(2)
                .map(|c| u16::from_ne_bytes([c[0], c[1]]))
                .collect();
            match pick {
                Some(c) => Pixels::Wide(interleaved_to_f64(
                    &nth_sample(v, channels, c),
                    1,
                    f64::from,
                )),
                None => Pixels::Wide(interleaved_to_f64(&v, channels, f64::from)),
            }
        }
        other => return Err(format!("unsupported PNG colour type {other:?}")),
    };
    let colour = matches!(
        color,
        ColorType::Rgb8 | ColorType::Rgba8 | ColorType::Rgb16 | ColorType::Rgba16
    );
    let mut out = oriented(w, h, channels as u8, sample, pixels, orientation);
    out.channel_use = channel_use_picking(channels, colour, pick);
    Ok(out)
}

fn oriented(
    w: usize,
    h: usize,
    channels: u8,
    sample: SampleType,
    pixels: Pixels,
    orientation: u8,
) -> Decoded {
    let (width, height, pixels) = match pixels {
        Pixels::Gray8(v) => {
            let (w, h, v) = apply_exif_orientation(w, h, v, orientation);
            (w, h, Pixels::Gray8(v))
        }
        Pixels::Wide(v) => {
            let (w, h, v) = apply_exif_orientation(w, h, v, orientation);
            (w, h, Pixels::Wide(v))
        }
    };
    Decoded {
        width,
        height,
        channels,
        sample,
        pages: 1,
        pixels,
        channel_use: channel_use(channels.into(), channels > 2),
        stack: None,
        plane: None,
        calibration: None,
    }
}

pub(crate) fn decode_jpeg(
    bytes: &[u8],
    channel: Option<usize>,
    max_pixels: u64,
) -> Result<Decoded, String> {
    let zerr = |e: zune_jpeg::errors::DecodeErrors| format!("corrupt or truncated JPEG: {e}");
    // libjpeg accepts truncated data with a warning and fills grey; a truncated file is treated as
    // an error here: there must be an end-of-image marker after the last start-of-scan (entropy-
    // coded data cannot contain FF D9, and an EXIF thumbnail's markers come before the main scans).
    let sos = bytes.windows(2).rposition(|m| m == [0xFF, 0xDA]);
    let has_eoi = sos.is_some_and(|s| bytes[s..].windows(2).any(|m| m == [0xFF, 0xD9]));
    if !has_eoi {
        return Err("truncated JPEG: no image data or no end-of-image marker".to_string());
    }
    // JPEG sizes are 16-bit; the pixel limit is checked once the header is read
    let options = DecoderOptions::default()
        .set_strict_mode(false)
        .set_max_width(usize::from(u16::MAX))
        .set_max_height(usize::from(u16::MAX));
    let mut d = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    d.decode_headers().map_err(zerr)?;
    let input = d
        .input_colorspace()
        .ok_or_else(|| "corrupt JPEG: no colour space".to_string())?;
    // a channel of a colour file is one of its RGB colours
    let pick = sample_to_pick(channel, if input == ColorSpace::Luma { 1 } else { 3 })?;
    let out = match input {
        _ if pick.is_some() => ColorSpace::RGB,
        ColorSpace::YCbCr | ColorSpace::Luma => ColorSpace::Luma,
        _ => ColorSpace::RGB,
    };
    d.set_options(options.jpeg_set_out_colorspace(out));
    let (w, h) = d
        .dimensions()
        .ok_or_else(|| "corrupt JPEG: no dimensions".to_string())?;
    if w == 0 || h == 0 {
        return Err(format!("zero-size image ({w}x{h})"));
    }
    limits::check(w as u64, h as u64, max_pixels)?;
    let orientation = d
        .exif()
        .and_then(|e| image::metadata::Orientation::from_exif_chunk(e))
        .map(|o| o.to_exif())
        .unwrap_or(1);
    let data = d.decode().map_err(zerr)?;
    let gray = match (pick, input, out) {
        (Some(c), _, _) => nth_sample(data, 3, c),
        (None, _, ColorSpace::Luma) => data,
        (None, ColorSpace::RGB, _) => interleaved_u8_to_gray(data, 3, jpeg_rgb_to_gray),
        (None, _, _) => interleaved_u8_to_gray(data, 3, cv_rgb_to_gray),
    };
    if gray.len() != w * h {
        return Err(format!(
            "corrupt JPEG: {} pixels decoded, {} expected",
            gray.len(),
            w * h
        ));
    }
    let channels = input.num_components() as u8;
    let mut out = oriented(
        w,
        h,
        channels,
        SampleType::U8,
        Pixels::Gray8(gray),
        orientation,
    );
    out.channel_use = channel_use_picking(channels.into(), input != ColorSpace::Luma, pick);
    Ok(out)
}

/// Width and height from a BMP's info header (`BITMAPCOREHEADER`: 16-bit; the others: 32-bit
/// signed, a negative height meaning top-down rows), if the header is there.
fn bmp_size(bytes: &[u8]) -> Option<(u64, u64)> {
    let u32_at = |o: usize| {
        bytes
            .get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let u16_at = |o: usize| {
        bytes
            .get(o..o + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    if u32_at(14)? == 12 {
        Some((u16_at(18)?.into(), u16_at(20)?.into()))
    } else {
        let w = u32_at(18)? as i32;
        let h = u32_at(22)? as i32;
        Some((u64::from(w.unsigned_abs()), u64::from(h.unsigned_abs())))
    }
}

pub(crate) fn decode_bmp(
    bytes: &[u8],
    channel: Option<usize>,
    max_pixels: u64,
) -> Result<Decoded, String> {
    if let Some((w, h)) = bmp_size(bytes) {
        limits::check(w, h, max_pixels)?;
    }
    let mut d = BmpDecoder::new(Cursor::new(bytes)).map_err(|e| image_err("BMP", e))?;
    d.set_limits(limits::image_limits(max_pixels))
        .map_err(|e| image_err("BMP", e))?;
    let (w, h) = d.dimensions();
    limits::check(w.into(), h.into(), max_pixels)?;
    let (w, h) = (w as usize, h as usize);
    if w == 0 || h == 0 {
        return Err(format!("zero-size image ({w}x{h})"));
    }
    let color = d.color_type();
    let bpp = bytes
        .get(28..30)
        .map_or(8, |b| u16::from_le_bytes([b[0], b[1]]));
    let total =
        usize::try_from(d.total_bytes()).map_err(|_| "BMP too large for memory".to_string())?;
    let mut buf = vec![0u8; total];
    d.read_image(&mut buf).map_err(|e| image_err("BMP", e))?;
    let channels = color.channel_count() as usize;
    let pick = sample_to_pick(channel, channels)?;
    let pixels = match color {
        ColorType::L8 | ColorType::La8 | ColorType::Rgb8 | ColorType::Rgba8 => match pick {
            Some(c) => nth_sample(buf, channels, c),
            None => interleaved_u8_to_gray(buf, channels, cv_rgb_to_gray),
        },
        other => return Err(format!("unsupported BMP colour type {other:?}")),
    };
    let sample = if bpp < 8 {
        SampleType::UBits(bpp as u8)
    } else {
        SampleType::U8
    };
    Ok(Decoded {
        width: w,
        height: h,
        channels: channels as u8,
        sample,
        pages: 1,
        pixels: Pixels::Gray8(pixels),
        channel_use: channel_use_picking(
            channels,
            matches!(color, ColorType::Rgb8 | ColorType::Rgba8),
            pick,
        ),
        stack: None,
        plane: None,
        calibration: None,
    })
}
