//! TIFF pages through the `tiff` crate (0.11): strips or tiles, uncompressed, LZW, Deflate,
//! PackBits (and the crate's other codecs), with or without horizontal predictor, chunky or planar,
//! 1/2/4/8/16/32/64-bit unsigned, signed and float samples, grey, grey+alpha, RGB, RGBA.
//!
//! 8-bit pages follow opencv 4.12's TIFF decoder with `IMREAD_GRAYSCALE`: grey as stored
//! (`MinIsWhite` inverted, which the `tiff` crate already does), colour through
//! [`cv_rgb_to_gray`] after premultiplying an *unassociated* alpha as libtiff's RGBA reader does
//! (see [`premultiply`]), other extra samples ignored; 1/2/4-bit grey expanded to 0..255 like
//! libtiff's `TIFFReadRGBAImage` (v * 255 / (2^bits - 1)). Wider pages become one f64 channel.
//! Palette, CMYK, YCbCr and Lab pages are rejected with a clear error. Grey pages with more
//! than one sample per pixel (alpha, or the extra bands of a multi-channel page) use the first
//! sample. SGI volumetric pages (`ImageDepth` > 1, one page holding a whole Z stack) are refused
//! as unsupported, naming the tag.
//!
//! The page's width and height are checked against the pixel limit ([`crate::limits`]) before
//! it is decoded, and the `tiff` crate's buffer limits are set from the same number. ImageJ and
//! OME metadata of the first page give [`StackDims`] for the log, and with the first page's
//! resolution tags the pixel size ([`crate::calibration`]).

use super::gray::{
    channel_use, cv_rgb_to_gray, first_sample, interleaved_to_f64, interleaved_u8_to_gray, Decoded,
    Pixels,
};
use super::{SampleType, StackDims, StackSource};
use crate::calibration::{Calibration, TiffCalibrationTags};
use crate::limits;
use std::io::Cursor;
use tiff::decoder::{Decoder, DecodingResult};
use tiff::tags::Tag;
use tiff::ColorType;

/// TIFF tag `ImageDepth` (SGI): the number of Z slices stored in one volumetric page.
const IMAGE_DEPTH: u16 = 32997;

pub(crate) fn decoder(bytes: &[u8], max_pixels: u64) -> Result<Decoder<Cursor<&[u8]>>, String> {
    Decoder::new(Cursor::new(bytes))
        .map(|d| d.with_limits(limits::tiff_limits(max_pixels)))
        .map_err(|e| describe(&e))
}

pub(crate) fn describe(e: &tiff::TiffError) -> String {
    match e {
        tiff::TiffError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            format!("truncated or corrupt TIFF (unexpected end of file: {io})")
        }
        tiff::TiffError::FormatError(tiff::TiffFormatError::InvalidDimensions(w, h))
            if *w == 0 || *h == 0 =>
        {
            format!("zero-size image ({w}x{h})")
        }
        tiff::TiffError::FormatError(f) => format!("corrupt TIFF: {f}"),
        // the tiff crate words this one as "{bits} samples per pixel"; it is the sample size
        tiff::TiffError::UnsupportedError(tiff::TiffUnsupportedError::UnsupportedSampleDepth(bits)) => {
            format!("unsupported TIFF: {bits}-bit samples of this sample format (supported: 1/2/4/8/16/32/64-bit integers, 16/32/64-bit floats)")
        }
        tiff::TiffError::UnsupportedError(u) => format!("unsupported TIFF: {u}"),
        tiff::TiffError::LimitsExceeded => {
            "TIFF page too large: its decoded samples exceed the decoder's memory limit (8 bytes per pixel of the pixel limit)".to_string()
        }
        other => format!("cannot decode TIFF: {other}"),
    }
}

/// Counts pages; stops at the first directory that cannot be parsed and returns its error.
fn count_pages(bytes: &[u8], max_pixels: u64) -> Result<(usize, Option<String>), String> {
    let mut d = decoder(bytes, max_pixels)?;
    let mut n = 1;
    while d.more_images() {
        if let Err(e) = d.next_image() {
            return Ok((n, Some(format!("page {n} (0-based): {}", describe(&e)))));
        }
        n += 1;
    }
    Ok((n, None))
}

/// Number of image directories (pages); an unreadable directory is an error.
pub(crate) fn page_count(bytes: &[u8], max_pixels: u64) -> Result<usize, String> {
    match count_pages(bytes, max_pixels)? {
        (n, None) => Ok(n),
        (_, Some(e)) => Err(e),
    }
}

/// `ImageDepth` of the current page when above 1: an SGI volumetric page.
pub(crate) fn volumetric_depth<R: std::io::Read + std::io::Seek>(
    d: &mut Decoder<R>,
) -> Option<u64> {
    d.find_tag_unsigned::<u64>(Tag::Unknown(IMAGE_DEPTH))
        .ok()
        .flatten()
        .filter(|&z| z > 1)
}

/// The refusal of a volumetric page.
pub(crate) fn volumetric_error(depth: u64) -> String {
    format!(
        "unsupported TIFF: a volumetric page (ImageDepth = {depth} slices stored in one page); \
         save the stack with one page per slice (e.g. ImageJ or tifffile without volumetric=True)"
    )
}

/// Channel / Z / time layout from ImageJ's or OME's description of the current page.
fn stack_dims<R: std::io::Read + std::io::Seek>(d: &mut Decoder<R>) -> Option<StackDims> {
    let desc = d.get_tag_ascii_string(Tag::ImageDescription).ok()?;
    parse_stack_dims(&desc)
}

/// Pixel size from the current page's description and resolution tags; a tag that is absent
/// or unreadable counts as absent.
pub(crate) fn calibration<R: std::io::Read + std::io::Seek>(
    d: &mut Decoder<R>,
) -> Option<Calibration> {
    let rational = |d: &mut Decoder<R>, tag: Tag| match d.find_tag(tag).ok()?? {
        tiff::decoder::ifd::Value::Rational(n, m) => Some((u64::from(n), u64::from(m))),
        tiff::decoder::ifd::Value::List(v) => match v.first()? {
            tiff::decoder::ifd::Value::Rational(n, m) => Some((u64::from(*n), u64::from(*m))),
            _ => None,
        },
        _ => None,
    };
    TiffCalibrationTags {
        description: d.get_tag_ascii_string(Tag::ImageDescription).ok(),
        resolution_unit: d
            .find_tag_unsigned::<u16>(Tag::ResolutionUnit)
            .ok()
            .flatten(),
        x_resolution: rational(d, Tag::XResolution),
        y_resolution: rational(d, Tag::YResolution),
    }
    .calibration()
}

pub(crate) fn parse_stack_dims(desc: &str) -> Option<StackDims> {
    if desc.starts_with("ImageJ=") {
        let field = |name: &str| {
            desc.lines()
                .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(1)
        };
        let dims = StackDims {
            channels: field("channels"),
            slices: field("slices"),
            frames: field("frames"),
            source: StackSource::ImageJ,
        };
        return (dims.channels * dims.slices * dims.frames > 1).then_some(dims);
    }
    if desc.contains("<OME") {
        let pixels = &desc[desc.find("<Pixels ")?..];
        let pixels = &pixels[..pixels.find('>').unwrap_or(pixels.len())];
        let attr = |name: &str| {
            let key = format!(" {name}=\"");
            let start = pixels.find(&key)? + key.len();
            pixels[start..].split('"').next()?.parse::<usize>().ok()
        };
        let dims = StackDims {
            channels: attr("SizeC").unwrap_or(1),
            slices: attr("SizeZ").unwrap_or(1),
            frames: attr("SizeT").unwrap_or(1),
            source: StackSource::Ome,
        };
        return (dims.channels * dims.slices * dims.frames > 1).then_some(dims);
    }
    None
}

pub(crate) fn decode(bytes: &[u8], page: usize, max_pixels: u64) -> Result<Decoded, String> {
    // a broken directory after the requested page does not stop reading it (cv2 reads page 0
    // without looking further); `pages` then counts the readable ones
    let (pages, broken) = count_pages(bytes, max_pixels)?;
    if page >= pages {
        return Err(match broken {
            Some(e) => e,
            None => format!("page {page} requested (0-based), but the TIFF has {pages} page(s)"),
        });
    }
    let mut d = decoder(bytes, max_pixels)?;
    let stack = stack_dims(&mut d);
    let calibration = calibration(&mut d);
    if page > 0 {
        d.seek_to_image(page).map_err(|e| describe(&e))?;
    }
    let (w, h) = d.dimensions().map_err(|e| describe(&e))?;
    limits::check(w.into(), h.into(), max_pixels)?;
    let (w, h) = (w as usize, h as usize);
    if w == 0 || h == 0 {
        return Err(format!("zero-size image ({w}x{h})"));
    }
    if let Some(depth) = volumetric_depth(&mut d) {
        return Err(volumetric_error(depth));
    }
    let color = d.colortype().map_err(|e| describe(&e))?;
    let photometric: u16 = d
        .find_tag_unsigned(Tag::PhotometricInterpretation)
        .ok()
        .flatten()
        .unwrap_or(1);
    let (channels, is_rgb, bits) = match color {
        ColorType::Gray(b) => (1usize, false, b),
        ColorType::GrayA(b) => (2, false, b),
        ColorType::RGB(b) => (3, true, b),
        ColorType::RGBA(b) => (4, true, b),
        // grey or RGB with extra samples (e.g. alpha), as the tiff crate reports them
        ColorType::Multiband { bit_depth, num_samples } if photometric <= 1 && num_samples >= 1 => {
            (usize::from(num_samples), false, bit_depth)
        }
        ColorType::Multiband { bit_depth, num_samples } if photometric == 2 && num_samples >= 3 => {
            (usize::from(num_samples), true, bit_depth)
        }
        other => {
            return Err(format!(
                "unsupported TIFF colour type {other:?} (photometric {photometric}); supported: grey, grey+alpha, RGB, RGBA"
            ))
        }
    };
    let mut result = DecodingResult::U8(Vec::new());
    let layout = d
        .read_image_to_buffer(&mut result)
        .map_err(|e| describe(&e))?;
    if result.as_buffer(0).byte_len() < layout.complete_len {
        return Err("TIFF page too large to decode all its sample planes".to_string());
    }
    let planar = d
        .find_tag_unsigned::<u16>(Tag::PlanarConfiguration)
        .ok()
        .flatten()
        == Some(2);
    // ExtraSamples 2 = unassociated alpha (1 = associated/premultiplied, 0 = unspecified)
    let unassociated_alpha = d
        .find_tag_unsigned_vec::<u16>(Tag::ExtraSamples)
        .ok()
        .flatten()
        .is_some_and(|e| e.first() == Some(&2));
    let n = w * h;

    if bits < 8 {
        let DecodingResult::U8(packed) = result else {
            return Err(format!(
                "unsupported TIFF: {bits}-bit samples that are not unsigned integers"
            ));
        };
        if channels != 1 || !matches!(bits, 1 | 2 | 4) {
            return Err(format!(
                "unsupported TIFF: {channels} sample(s) of {bits} bits per pixel"
            ));
        }
        return Ok(Decoded {
            width: w,
            height: h,
            channels: 1,
            sample: SampleType::UBits(bits),
            pages,
            pixels: Pixels::Gray8(unpack_bits(&packed, w, h, bits)?),
            channel_use: channel_use(1, false),
            stack,
            calibration,
        });
    }

    // grey with extra samples: the first sample of each pixel (planar: the first plane)
    macro_rules! wide {
        ($v:expr, $ty:expr, $f:expr) => {{
            let v = interleave($v, n, channels, planar)?;
            let v = if is_rgb { v } else { first_sample(v, channels) };
            (
                Pixels::Wide(interleaved_to_f64(
                    &v,
                    if is_rgb { channels } else { 1 },
                    $f,
                )),
                $ty,
            )
        }};
    }
    let (pixels, sample) = match result {
        DecodingResult::U8(v) => {
            let mut v = interleave(v, n, channels, planar)?;
            if is_rgb && channels >= 4 && unassociated_alpha {
                premultiply(&mut v, channels);
            }
            let gray = if is_rgb {
                interleaved_u8_to_gray(v, channels, cv_rgb_to_gray)
            } else {
                first_sample(v, channels)
            };
            (Pixels::Gray8(gray), SampleType::U8)
        }
        DecodingResult::I8(v) => wide!(v, SampleType::I8, f64::from),
        DecodingResult::U16(v) => wide!(v, SampleType::U16, f64::from),
        DecodingResult::I16(v) => wide!(v, SampleType::I16, f64::from),
        DecodingResult::U32(v) => wide!(v, SampleType::U32, f64::from),
        DecodingResult::I32(v) => wide!(v, SampleType::I32, f64::from),
        DecodingResult::U64(v) => wide!(v, SampleType::U64, |x: u64| x as f64),
        DecodingResult::I64(v) => wide!(v, SampleType::I64, |x: i64| x as f64),
        DecodingResult::F16(v) => wide!(v, SampleType::F16, f64::from),
        DecodingResult::F32(v) => wide!(v, SampleType::F32, f64::from),
        DecodingResult::F64(v) => wide!(v, SampleType::F64, |x: f64| x),
    };
    Ok(Decoded {
        width: w,
        height: h,
        channels: channels as u8,
        sample,
        pages,
        pixels,
        channel_use: channel_use(channels, is_rgb),
        stack,
        calibration,
    })
}

/// RGB premultiplied by an unassociated alpha in the 4th sample, as libtiff 4.6's
/// `TIFFReadRGBAImage` does (its `UaToAa` table: `(v * a + 127) / 255`); opencv 4.12 reads 8-bit
/// colour TIFFs through it, so cv2's grey of an RGBA TIFF is the grey of the premultiplied colour.
fn premultiply(v: &mut [u8], channels: usize) {
    for p in v.chunks_exact_mut(channels) {
        let a = u32::from(p[3]);
        for s in &mut p[..3] {
            *s = ((u32::from(*s) * a + 127) / 255) as u8;
        }
    }
}

/// Chunky samples as they are; planar (one plane per sample) interleaved to chunky.
fn interleave<T: Copy>(
    v: Vec<T>,
    n: usize,
    channels: usize,
    planar: bool,
) -> Result<Vec<T>, String> {
    if v.len() < n * channels {
        return Err(format!(
            "corrupt TIFF: {} samples decoded, {} expected",
            v.len(),
            n * channels
        ));
    }
    if !planar || channels == 1 {
        let mut v = v;
        v.truncate(n * channels);
        return Ok(v);
    }
    let mut out = Vec::with_capacity(n * channels);
    for i in 0..n {
        for c in 0..channels {
            out.push(v[c * n + i]);
        }
    }
    Ok(out)
}

/// 1/2/4-bit grey rows (each row padded to a whole byte, most significant bits first) to 0..255.
fn unpack_bits(packed: &[u8], w: usize, h: usize, bits: u8) -> Result<Vec<u8>, String> {
    let bits = usize::from(bits);
    let row_bytes = (w * bits).div_ceil(8);
    if packed.len() < row_bytes * h {
        return Err(format!(
            "corrupt TIFF: {} bytes decoded, {} expected",
            packed.len(),
            row_bytes * h
        ));
    }
    let max = (1u32 << bits) - 1;
    let mut out = Vec::with_capacity(w * h);
    for y in 0..h {
        let row = &packed[y * row_bytes..(y + 1) * row_bytes];
        for x in 0..w {
            let bit = x * bits;
            let v = (u32::from(row[bit / 8]) >> (8 - bits - bit % 8)) & max;
            out.push((v * 255 / max) as u8);
        }
    }
    Ok(out)
}
