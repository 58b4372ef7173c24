//! TIFF pages through the `tiff` crate (0.11).
//!
//! **Layouts**: classic TIFF and BigTIFF, little- and big-endian, strips or tiles, chunky or
//! planar samples, with or without the horizontal predictor (and the floating-point predictor
//! of float pages). **Compressions** (the `Compression` tag): none (1), LZW (5), Deflate (8 and
//! the old 32946), PackBits (32773), ZSTD (50000, tifffile's and many instruments' choice),
//! JPEG (7; grey, or YCbCr with any chroma subsampling, strips or tiles) and CCITT Group 4
//! (4, bilevel). Any other compression is refused before decoding with its number and name
//! ("TIFF compression 34712 (JPEG 2000) is not supported"), old-style JPEG (6) included.
//! **Samples**: 1/2/4/8/16/32/64-bit unsigned, signed and float, grey, grey+alpha, RGB, RGBA.
//!
//! **Pages** are the full-resolution images of the main directory chain. A pyramid's level 0
//! is the page: reduced-resolution levels in SubIFDs (tifffile's `subifds=`, OME-TIFF,
//! Bio-Formats) are never pages, and directories of the main chain flagged as a reduced-
//! resolution copy or a transparency mask (`NewSubfileType` bit 0 or 2: old-style pyramids,
//! thumbnails such as LSM's) are skipped, so page N is the N-th full-resolution image (all
//! directories count if every one is flagged).
//!
//! 8-bit pages follow opencv 4.12's TIFF decoder with `IMREAD_GRAYSCALE`: grey as stored
//! (`MinIsWhite` inverted, which the `tiff` crate already does), colour through
//! [`cv_rgb_to_gray`] after premultiplying an *unassociated* alpha as libtiff's RGBA reader does
//! (see [`premultiply`]), other extra samples ignored; 1/2/4-bit grey expanded to 0..255 like
//! libtiff's `TIFFReadRGBAImage` (v * 255 / (2^bits - 1)). JPEG YCbCr pages are converted to RGB
//! as libjpeg does for libtiff ([`ycbcr_to_rgb`]) and then to grey like RGB pages. Wider pages
//! become one f64 channel. Palette, CMYK, Lab and uncompressed YCbCr pages are rejected with a
//! clear error. Grey pages with more than one sample per pixel (alpha, or the extra bands of a
//! multi-channel page) use the first sample, or the one `channel` asks for. SGI volumetric
//! pages (`ImageDepth` > 1, one page holding a whole Z stack) are refused as unsupported,
//! naming the tag.
//!
//! The page's width and height are checked against the pixel limit ([`crate::limits`]) before
//! it is decoded, and the `tiff` crate's buffer limits are set from the same number. ImageJ and
//! OME metadata of the first page give [`StackDims`] ([`super::stack`]), and with the first
//! page's resolution tags the pixel size ([`crate::calibration`]).

use super::gray::{
    channel_use, channel_use_picking, cv_rgb_to_gray, first_sample, interleaved_to_f64,
    interleaved_u8_to_gray, nth_sample, sample_to_pick, ycbcr_to_rgb, Decoded, Pixels,
};
use super::stack::{parse_stack_dims, PlaneIndex, StackDims};
use super::SampleType;
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
        tiff::TiffError::FormatError(tiff::TiffFormatError::UnknownPlanarConfiguration(p)) => {
            format!("TIFF planar configuration {p} is not supported (supported: 1 chunky, 2 separate planes)")
        }
        tiff::TiffError::FormatError(tiff::TiffFormatError::UnknownPredictor(p)) => {
            format!("TIFF predictor {p} is not supported (supported: 1 none, 2 horizontal, 3 floating point)")
        }
        tiff::TiffError::FormatError(f) => format!("corrupt TIFF: {f}"),
        // the tiff crate words this one as "{bits} samples per pixel"; it is the sample size
        tiff::TiffError::UnsupportedError(tiff::TiffUnsupportedError::UnsupportedSampleDepth(bits)) => {
            format!("unsupported TIFF: {bits}-bit samples of this sample format (supported: 1/2/4/8/16/32/64-bit integers, 16/32/64-bit floats)")
        }
        tiff::TiffError::UnsupportedError(
            tiff::TiffUnsupportedError::UnsupportedCompressionMethod(m),
        ) => compression_error(m.to_u16()),
        tiff::TiffError::UnsupportedError(
            tiff::TiffUnsupportedError::InconsistentBitsPerSample(bits),
        ) => format!("unsupported TIFF: samples of different sizes in one pixel ({bits:?} bits)"),
        tiff::TiffError::UnsupportedError(tiff::TiffUnsupportedError::UnsupportedColorType(
            ColorType::Gray(bits)
            | ColorType::GrayA(bits)
            | ColorType::RGB(bits)
            | ColorType::RGBA(bits)
            | ColorType::Multiband { bit_depth: bits, .. },
        )) => {
            format!("unsupported TIFF: {bits}-bit samples (supported: 1/2/4/8/16/32/64-bit integers, 16/32/64-bit floats)")
        }
        tiff::TiffError::UnsupportedError(u) => format!("unsupported TIFF: {u}"),
        tiff::TiffError::LimitsExceeded => {
            "TIFF page too large: its decoded samples exceed the decoder's memory limit (8 bytes per pixel of the pixel limit)".to_string()
        }
        other => format!("cannot decode TIFF: {other}"),
    }
}

/// The pages of a TIFF: the main-chain directories that hold full-resolution images.
pub(crate) struct Pages {
    /// Directory index (in the main chain) of each page.
    pub ifds: Vec<usize>,
    /// The error of the first directory that could not be parsed, which ends the chain.
    pub broken: Option<String>,
}

/// `NewSubfileType` bits of a directory that is not a page: 1 reduced-resolution copy, 4
/// transparency mask.
const NOT_A_PAGE: u32 = 1 | 4;

/// Walks the main directory chain of `d`, calling `each` on every directory: whether each
/// directory is flagged as not a page, `each`'s values, and the error of the first directory
/// that cannot be parsed or that `each` refuses (the walk stops there).
fn walk_directories<R: std::io::Read + std::io::Seek, T>(
    mut d: Decoder<R>,
    mut each: impl FnMut(&mut Decoder<R>) -> Result<T, String>,
) -> (Vec<bool>, Vec<T>, Option<String>) {
    let mut flagged = Vec::new();
    let mut values = Vec::new();
    let broken = |i: usize, e: String| Some(format!("image directory {i} (0-based): {e}"));
    loop {
        let kind = d
            .find_tag_unsigned::<u32>(Tag::NewSubfileType)
            .ok()
            .flatten()
            .unwrap_or(0);
        match each(&mut d) {
            Ok(v) => values.push(v),
            Err(e) => {
                let at = broken(flagged.len(), e);
                return (flagged, values, at);
            }
        }
        flagged.push(kind & NOT_A_PAGE != 0);
        if !d.more_images() {
            return (flagged, values, None);
        }
        if let Err(e) = d.next_image() {
            let at = broken(flagged.len(), describe(&e));
            return (flagged, values, at);
        }
    }
}

/// Walks the main directory chain; stops at the first directory that cannot be parsed and
/// keeps its error.
pub(crate) fn scan_pages(bytes: &[u8], max_pixels: u64) -> Result<Pages, String> {
    let (flagged, _, broken) = walk_directories(decoder(bytes, max_pixels)?, |_| Ok(()));
    Ok(Pages {
        ifds: page_directories(&flagged),
        broken,
    })
}

/// The directories that are pages, given which ones are flagged as not a page: the unflagged
/// ones, or all of them when every one is flagged.
fn page_directories(flagged: &[bool]) -> Vec<usize> {
    let ifds: Vec<usize> = (0..flagged.len()).filter(|&i| !flagged[i]).collect();
    if ifds.is_empty() {
        (0..flagged.len()).collect()
    } else {
        ifds
    }
}

/// Width and height of each page (the directories [`scan_pages`] counts, in page order), read
/// from the directories alone; a directory that cannot be parsed is an error.
pub(crate) fn page_sizes<R: std::io::Read + std::io::Seek>(
    d: Decoder<R>,
) -> Result<Vec<(u32, u32)>, String> {
    let (flagged, sizes, broken) =
        walk_directories(d, |d| d.dimensions().map_err(|e| describe(&e)));
    if let Some(e) = broken {
        return Err(e);
    }
    Ok(page_directories(&flagged)
        .into_iter()
        .map(|i| sizes[i])
        .collect())
}

/// Number of pages (see [`scan_pages`]); an unreadable directory is an error.
pub(crate) fn page_count(bytes: &[u8], max_pixels: u64) -> Result<usize, String> {
    let pages = scan_pages(bytes, max_pixels)?;
    match pages.broken {
        None => Ok(pages.ifds.len()),
        Some(e) => Err(e),
    }
}

/// Samples per pixel of the current directory (1 when the tag is absent).
pub(crate) fn samples_per_pixel<R: std::io::Read + std::io::Seek>(d: &mut Decoder<R>) -> u16 {
    d.find_tag_unsigned::<u16>(Tag::SamplesPerPixel)
        .ok()
        .flatten()
        .unwrap_or(1)
}

/// The compressions this reader decodes (see the module docs).
const SUPPORTED_COMPRESSIONS: &str =
    "none, LZW, Deflate, PackBits, ZSTD, JPEG (7) and CCITT Group 4";

/// The name of TIFF compression `code` (libtiff's and tifffile's names for the registered and
/// common private ones).
pub(crate) fn compression_name(code: u16) -> &'static str {
    match code {
        1 => "none",
        2 => "CCITT modified Huffman RLE",
        3 => "CCITT Group 3 fax",
        4 => "CCITT Group 4 fax",
        5 => "LZW",
        6 => "old-style JPEG",
        7 => "JPEG",
        8 | 32946 => "Deflate",
        9 => "JBIG (T.85)",
        10 => "JBIG (T.43)",
        32766 => "NeXT 2-bit RLE",
        32771 => "CCITT RLE word-aligned",
        32773 => "PackBits",
        32809 => "ThunderScan RLE",
        32895..=32898 => "IT8",
        32908 => "Pixar film",
        32909 => "Pixar log",
        32947 => "Kodak DCS",
        33003 | 33005 | 34712 => "JPEG 2000",
        33007 => "Aperio JPEG",
        34661 => "JBIG",
        34676 => "SGI log luminance",
        34677 => "SGI log24 luminance",
        34692 => "LuraDocument",
        34713 => "Nikon NEF",
        34887 => "LERC",
        34892 => "lossy JPEG (DNG)",
        34925 => "LZMA",
        34926 => "ZSTD (old code)",
        34927 => "WebP (old code)",
        34933 => "PNG",
        34934 => "JPEG XR",
        50000 => "ZSTD",
        50001 => "WebP",
        50002 | 52546 => "JPEG XL",
        65000 => "Kodak DCR",
        _ => "unknown",
    }
}

/// Whether this reader decodes compression `code` (through the `tiff` crate's codecs).
fn compression_supported(code: u16) -> bool {
    matches!(code, 1 | 4 | 5 | 7 | 8 | 32946 | 32773 | 50000)
}

/// The refusal of an unsupported compression.
fn compression_error(code: u16) -> String {
    format!(
        "TIFF compression {code} ({}) is not supported (supported: {SUPPORTED_COMPRESSIONS})",
        compression_name(code)
    )
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
pub(crate) fn stack_dims<R: std::io::Read + std::io::Seek>(
    d: &mut Decoder<R>,
) -> Option<StackDims> {
    let desc = d.get_tag_ascii_string(Tag::ImageDescription).ok()?;
    parse_stack_dims(&desc)
}

/// Seconds between time points declared by the current page's description (ImageJ or OME).
pub(crate) fn frame_interval<R: std::io::Read + std::io::Seek>(d: &mut Decoder<R>) -> Option<f64> {
    let desc = d.get_tag_ascii_string(Tag::ImageDescription).ok()?;
    super::stack::parse_frame_interval(&desc)
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

/// Which samples of the page to use for `channel` on a stack page: checks that `page` is one
/// of the channel's pages when the stack has channel planes; returns the sample to pick when
/// the channel is a sample of the pixels instead (checked once they are known).
fn stack_channel(
    channel: Option<usize>,
    stack: Option<&StackDims>,
    plane: Option<PlaneIndex>,
    page: usize,
    pages: usize,
) -> Result<Option<usize>, String> {
    let (Some(c), Some(s)) = (channel, stack.filter(|s| s.channels > 1)) else {
        // no channel planes: the channel is a sample of the page
        return Ok(channel);
    };
    if !s.fits(pages) {
        return Err(format!(
            "channel {c} requested, but the {} metadata declares {} planes ({} channel(s) x {} \
             slice(s) x {} frame(s)) and the file has {pages} page(s): the pages of a channel \
             cannot be found",
            s.source,
            s.planes(),
            s.channels,
            s.slices,
            s.frames
        ));
    }
    if c >= s.channels {
        return Err(format!(
            "channel {c} requested (0-based), but the {} stack has {} channels",
            s.source, s.channels
        ));
    }
    match plane {
        Some(p) if p.c == c => Ok(None),
        Some(p) => {
            let theirs = s.channel_pages(c);
            let shown: Vec<String> = theirs.iter().take(6).map(|p| p.to_string()).collect();
            let more = if theirs.len() > 6 { ", ..." } else { "" };
            Err(format!(
                "page {page} is channel {} of the {} stack ({p}), not channel {c} (its pages: {}{more})",
                p.c,
                s.source,
                shown.join(", ")
            ))
        }
        None => Err(format!(
            "channel {c} requested, but page {page} is past the {} planes the {} metadata declares",
            s.planes(),
            s.source
        )),
    }
}

pub(crate) fn decode(
    bytes: &[u8],
    page: usize,
    channel: Option<usize>,
    max_pixels: u64,
) -> Result<Decoded, String> {
    // a broken directory after the requested page does not stop reading it (cv2 reads page 0
    // without looking further); `pages` then counts the readable ones
    let scan = scan_pages(bytes, max_pixels)?;
    let pages = scan.ifds.len();
    let Some(&ifd) = scan.ifds.get(page) else {
        return Err(match scan.broken {
            Some(e) => e,
            None => format!("page {page} requested (0-based), but the TIFF has {pages} page(s)"),
        });
    };
    let mut d = decoder(bytes, max_pixels)?;
    let stack = stack_dims(&mut d);
    let calibration = calibration(&mut d);
    let plane = stack
        .filter(|s| s.fits(pages))
        .and_then(|s| s.plane_of(page));
    let pick = stack_channel(channel, stack.as_ref(), plane, page, pages)?;
    if ifd > 0 {
        d.seek_to_image(ifd).map_err(|e| describe(&e))?;
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
    let compression: u16 = d
        .find_tag_unsigned(Tag::Compression)
        .ok()
        .flatten()
        .unwrap_or(1);
    if !compression_supported(compression) {
        return Err(compression_error(compression));
    }
    let color = d.colortype().map_err(|e| describe(&e))?;
    let photometric: u16 = d
        .find_tag_unsigned(Tag::PhotometricInterpretation)
        .ok()
        .flatten()
        .unwrap_or(1);
    let ycbcr = matches!(color, ColorType::YCbCr(_));
    if ycbcr && compression != 7 {
        return Err(format!(
            "unsupported TIFF: YCbCr colour that is not JPEG-compressed (compression {compression}, {})",
            compression_name(compression)
        ));
    }
    let (channels, is_rgb, bits) = match color {
        ColorType::Gray(b) => (1usize, false, b),
        ColorType::GrayA(b) => (2, false, b),
        ColorType::RGB(b) => (3, true, b),
        ColorType::RGBA(b) => (4, true, b),
        // JPEG's YCbCr, decoded (and upsampled) by the JPEG codec, converted to RGB below
        ColorType::YCbCr(8) => (3, true, 8),
        // grey or RGB with extra samples (e.g. alpha), as the tiff crate reports them
        ColorType::Multiband { bit_depth, num_samples } if photometric <= 1 && num_samples >= 1 => {
            (usize::from(num_samples), false, bit_depth)
        }
        ColorType::Multiband { bit_depth, num_samples } if photometric == 2 && num_samples >= 3 => {
            (usize::from(num_samples), true, bit_depth)
        }
        other => {
            return Err(format!(
                "unsupported TIFF colour type {other:?} (photometric {photometric}); supported: grey, grey+alpha, RGB, RGBA, JPEG YCbCr"
            ))
        }
    };
    let pick = sample_to_pick(pick, channels)?;
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
            plane,
            calibration,
        });
    }

    // the picked sample, or: colour merged, grey with extra samples the first sample of each
    // pixel (planar: the first plane)
    macro_rules! wide {
        ($v:expr, $ty:expr, $f:expr) => {{
            let v = interleave($v, n, channels, planar)?;
            let (v, stride) = match pick {
                Some(c) => (nth_sample(v, channels, c), 1),
                None if is_rgb => (v, channels),
                None => (first_sample(v, channels), 1),
            };
            (Pixels::Wide(interleaved_to_f64(&v, stride, $f)), $ty)
        }};
    }
    let (pixels, sample) = match result {
        DecodingResult::U8(v) => {
            let mut v = interleave(v, n, channels, planar)?;
            if ycbcr {
                ycbcr_to_rgb(&mut v);
            }
            let gray = match pick {
                Some(c) => nth_sample(v, channels, c),
                None if is_rgb => {
                    if channels >= 4 && unassociated_alpha {
                        premultiply(&mut v, channels);
                    }
                    interleaved_u8_to_gray(v, channels, cv_rgb_to_gray)
                }
                None => first_sample(v, channels),
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
        channel_use: channel_use_picking(channels, is_rgb, pick),
        stack,
        plane,
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
