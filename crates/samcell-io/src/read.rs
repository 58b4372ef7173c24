//! Image decoding to one grey u8 channel: SAMCell's input.
//!
//! # Reference behaviour
//! samcell 1.1.4 reads its input with `cv2.imread(path, cv2.IMREAD_GRAYSCALE)` (opencv-python-headless
//! 4.12.0.88, built with libpng 1.6.48, libjpeg-turbo 3.1.0 and libtiff 4.6.0). For **8-bit** input
//! this module reproduces that call:
//! - grey 8-bit (PNG, TIFF, BMP): the stored values, bit-identical. PNG grey below 8 bits is
//!   expanded to 0..255 as libpng's `png_set_expand_gray_1_2_4_to_8` does; TIFF `MinIsWhite` is
//!   inverted as cv2 does.
//! - PNG colour (RGB, RGBA, palette): libpng's `png_set_rgb_to_gray(png, 1, 0.299, 0.587)`, which
//!   cv2's PNG decoder calls: fixed point with 15 fraction bits, *truncated*; with the gamma
//!   path libpng takes when the file declares a non-linear gamma (`gAMA`/`sRGB`): see
//!   [`gray::PngRgbToGray`]. Bit-identical on the fixtures (`tests/read_golden.rs`).
//! - TIFF and BMP colour: OpenCV's `icvCvt_BGR2Gray_8u_C3C1R` (the `cvtColor` BGR2GRAY weights
//!   0.299/0.587/0.114 scaled by 2^14 and rounded: 4899/9617/1868, result rounded). Bit-identical.
//! - JPEG: libjpeg's grey output, which for YCbCr files is the decoded Y channel (no colour
//!   conversion). Decoded here by zune-jpeg 0.5 with luma output; its integer IDCT is not
//!   libjpeg-turbo's `jpeg_idct_islow`, so some pixels differ by 1 (never more): measured 0.4-0.9%
//!   of pixels on the fixtures (`tests/read_golden.rs` allows |diff| <= 1 on <= 5%) and 0.4-0.6%
//!   on 1024x1022 and 320x256 JPEGs made from the Usiigaci and DSB2018 data (quality 75-95,
//!   baseline and progressive, grey and 4:2:0 colour).
//! - Alpha is ignored as cv2 ignores it (PNG, BMP: stripped without compositing), except that an
//!   8-bit RGBA TIFF with *unassociated* alpha is premultiplied first, because cv2 reads 8-bit
//!   colour TIFFs through libtiff's `TIFFReadRGBAImage`, which does that.
//! - EXIF orientation is applied to JPEG and PNG as cv2.imread does without
//!   `IMREAD_IGNORE_ORIENTATION`; TIFF orientation is ignored.
//!
//! For input **wider than 8 bits** (u16/u32/i16/f32/f64..., where cv2 would drop the low bits) the
//! image is first reduced to one f64 channel (colour: `0.299 R + 0.587 G + 0.114 B` in f64, alpha
//! ignored), then scaled to u8 over the whole image (see [`Scaling`]):
//! `u8 = round((v - lo) * 255 / (hi - lo))`, rounding half away from zero, values clipped to
//! `[lo, hi]`, with `(lo, hi)` = (min, max) or two percentiles (numpy's default "linear"
//! interpolation); a constant image becomes all 0. NaN or infinite samples are an error.
//!
//! The format is found from the file's first bytes (PNG, JPEG, TIFF/BigTIFF, BMP), never from the
//! extension. Every error names the file. An image over the pixel limit ([`crate::limits`]) is
//! refused from its header, before decoding. [`SourceInfo`] says what was read: page and page
//! count, samples per pixel and how they became grey ([`ChannelUse`]), and the channel / Z / time
//! layout that ImageJ or OME metadata declares ([`StackDims`]) with the page's position in it
//! ([`PlaneIndex`]), and the pixel size that OME, ImageJ or the TIFF resolution tags declare
//! ([`Calibration`], rules in [`crate::calibration`]).
//!
//! # TIFF
//! Classic TIFF and BigTIFF, either byte order, strips or tiles, chunky or planar samples,
//! uncompressed or compressed with LZW, Deflate, PackBits, ZSTD (50000) or JPEG (7; grey, or
//! YCbCr converted to RGB as libjpeg does, then to grey as above; the DCT decoded by zune-jpeg,
//! within 1-2 grey levels of libjpeg-turbo), with the horizontal or floating-point predictor.
//! Any other compression is refused before decoding, naming its number and codec ("TIFF
//! compression 34712 (JPEG 2000) is not supported"), as are palette, CMYK and Lab pages,
//! unsupported sample sizes (e.g. 12-bit) and planar configurations. Pages are the
//! full-resolution images: a pyramid is read at level 0 (SubIFD levels are not pages; pages of
//! the main chain flagged as reduced-resolution copies or masks are skipped). Golden tests
//! against tifffile for every compression and layout: `tests/tiff_layouts.rs`.
//!
//! # Channels, Z and T
//! [`StackDims`] comes from ImageJ's description (C, Z, T order) or the OME-XML's first `Pixels`
//! element (any `DimensionOrder`); [`StackDims::page_of`] / [`StackDims::plane_of`] map a
//! plane's `(c, z, t)` to its page and back, and [`read_layout`] gives a file's pages, samples
//! and stack from its headers for planning (which pages a channel or a time series is on).
//! [`ReadOptions::channel`] reads one channel: a sample of each pixel, or for a stack with
//! several channel planes one of that channel's pages.

mod codecs;
mod float_map;
pub mod gray;
mod layout;
mod raw;
pub mod stack;
pub(crate) mod tiff_input;

pub use float_map::read_f32_tiff;
pub use layout::{decode_layout, page_pixels, read_frame_interval, read_layout, FileLayout};
pub use raw::{read_gray_raw, RawGray, RawValues};
pub use stack::{DimensionOrder, PlaneIndex, StackDims, StackSource};

use crate::calibration::Calibration;
use crate::IoError;
use samcell_imaging::GrayU8;
use std::fmt;
use std::path::Path;

/// How non-8-bit data is brought to u8.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Scaling {
    /// Whole-image min-max to 0..255.
    #[default]
    MinMax,
    /// Percentiles (low, high), each in 0..=100 with low < high: values are clipped to the two
    /// percentiles (numpy `percentile`, method "linear") and stretched to 0..255.
    Percentile(f64, f64),
}

/// Options for [`read_gray`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ReadOptions {
    /// Page of a multi-page TIFF (0-based). Other formats have one page.
    pub page: usize,
    /// Channel to read (0-based) instead of making grey of all of them; `None`: every sample
    /// of a pixel combined as the module docs say. For pixels of several samples (RGB(A),
    /// grey+alpha, the bands of a multi-channel page) it is the sample used on its own (8-bit
    /// samples as they are, wider ones scaled); for a TIFF whose ImageJ or OME metadata declares
    /// several channel planes ([`StackDims::channels`] > 1) it is the channel of those planes,
    /// and `page` must be one of that channel's pages ([`StackDims::channel_pages`]; the error
    /// names them otherwise). Channel 0 of a one-channel image is the image; any other channel
    /// that the file does not have is an error.
    pub channel: Option<usize>,
    /// How samples wider than 8 bits are mapped to 0..255; 8-bit data is never rescaled.
    pub scaling: Scaling,
    /// Largest image accepted, in pixels (width x height); `None`: the process-wide limit
    /// ([`crate::limits::max_pixels`], [`crate::limits::DEFAULT_MAX_PIXELS`] unless set). Larger
    /// images are refused from their header, before decoding.
    pub max_pixels: Option<u64>,
}

impl ReadOptions {
    /// The pixel limit in force for this read.
    pub fn pixel_limit(&self) -> u64 {
        self.max_pixels.unwrap_or_else(crate::limits::max_pixels)
    }
}

/// File formats recognised from their first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// PNG (`\x89PNG` signature).
    Png,
    /// JPEG (`FF D8 FF` start of image).
    Jpeg,
    /// TIFF or BigTIFF (`II`/`MM` byte order mark), possibly multi-page.
    Tiff,
    /// Windows bitmap (`BM`).
    Bmp,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Png => "PNG",
            Format::Jpeg => "JPEG",
            Format::Tiff => "TIFF",
            Format::Bmp => "BMP",
        })
    }
}

/// Sample type as stored in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SampleType {
    /// 1, 2 or 4 bits per sample, expanded to 0..255 like 8-bit data.
    UBits(u8),
    /// Unsigned 8-bit: the cv2-compatible path, values kept as they are.
    U8,
    /// Unsigned 16-bit (e.g. most microscope camera TIFFs); scaled to u8 by [`Scaling`].
    U16,
    /// Unsigned 32-bit; scaled to u8 by [`Scaling`].
    U32,
    /// Unsigned 64-bit; scaled to u8 by [`Scaling`].
    U64,
    /// Signed 8-bit; scaled to u8 by [`Scaling`].
    I8,
    /// Signed 16-bit; scaled to u8 by [`Scaling`].
    I16,
    /// Signed 32-bit; scaled to u8 by [`Scaling`].
    I32,
    /// Signed 64-bit; scaled to u8 by [`Scaling`].
    I64,
    /// IEEE half-precision float; scaled to u8 by [`Scaling`] (NaN or infinity is an error).
    F16,
    /// IEEE single-precision float; scaled to u8 by [`Scaling`] (NaN or infinity is an error).
    F32,
    /// IEEE double-precision float; scaled to u8 by [`Scaling`] (NaN or infinity is an error).
    F64,
}

impl SampleType {
    /// True for the types that go through the cv2-compatible 8-bit path.
    pub fn is_8bit(self) -> bool {
        matches!(self, SampleType::U8 | SampleType::UBits(_))
    }
}

impl fmt::Display for SampleType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SampleType::UBits(b) => write!(f, "u{b}"),
            SampleType::U8 => f.write_str("u8"),
            SampleType::U16 => f.write_str("u16"),
            SampleType::U32 => f.write_str("u32"),
            SampleType::U64 => f.write_str("u64"),
            SampleType::I8 => f.write_str("i8"),
            SampleType::I16 => f.write_str("i16"),
            SampleType::I32 => f.write_str("i32"),
            SampleType::I64 => f.write_str("i64"),
            SampleType::F16 => f.write_str("f16"),
            SampleType::F32 => f.write_str("f32"),
            SampleType::F64 => f.write_str("f64"),
        }
    }
}

/// How the samples of a pixel became the one grey value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelUse {
    /// One sample per pixel, used as it is.
    Single,
    /// Colour samples combined into grey (luma weights; for JPEG the decoded Y component);
    /// alpha, if any, ignored.
    MergedColour,
    /// Only the first sample of each pixel used; the others (alpha or extra bands, e.g. the
    /// channels of a multi-channel microscopy TIFF page) ignored.
    FirstSample,
    /// Only this sample (0-based) of each pixel used, as [`ReadOptions::channel`] asked.
    Picked(usize),
}

/// What the file held, for logging and run metadata.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceInfo {
    /// Format detected from the file's first bytes.
    pub format: Format,
    /// Width of the page read, in pixels (after EXIF orientation).
    pub width: usize,
    /// Height of the page read, in pixels (after EXIF orientation).
    pub height: usize,
    /// Samples per pixel in the file (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA; palettes count as 3 or 4).
    pub channels: u8,
    /// Type of each sample as stored; decides between the 8-bit and the scaled path.
    pub sample: SampleType,
    /// Pages (TIFF image directories); 1 for other formats.
    pub pages: usize,
    /// The page that was read.
    pub page: usize,
    /// For wider-than-8-bit input: the `(lo, hi)` range that was mapped to 0..255.
    pub scaled_from: Option<(f64, f64)>,
    /// How the `channels` samples of a pixel became grey.
    pub channel_use: ChannelUse,
    /// Channel / Z / time layout declared by ImageJ or OME metadata (TIFF only; `None` when
    /// the file declares none). With more than one page, only `page` was read.
    pub stack: Option<StackDims>,
    /// The position of `page` in `stack` (channel, Z slice, time point), when the file holds
    /// the planes the stack declares ([`StackDims::fits`]).
    pub plane: Option<PlaneIndex>,
    /// Pixel size in µm and where it was read from (TIFF only, first page; `None` when the file
    /// declares none): see [`crate::calibration`].
    pub calibration: Option<Calibration>,
}

impl fmt::Display for SourceInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}x{} {} channel(s) {}, page {}/{}",
            self.format,
            self.width,
            self.height,
            self.channels,
            self.sample,
            self.page + 1,
            self.pages
        )?;
        match self.channel_use {
            ChannelUse::Single => {}
            ChannelUse::MergedColour => f.write_str(", colour merged to grey")?,
            ChannelUse::FirstSample => write!(f, ", first of {} samples used", self.channels)?,
            ChannelUse::Picked(c) => write!(f, ", sample {c} of {} used", self.channels)?,
        }
        if let Some(s) = &self.stack {
            write!(f, ", {s}")?;
        }
        if let Some(p) = &self.plane {
            write!(f, " (page at {p})")?;
        }
        if let Some(c) = &self.calibration {
            write!(f, ", pixel size {c}")?;
        }
        if let Some((lo, hi)) = self.scaled_from {
            write!(f, ", scaled {lo}..{hi} -> 0..255")?;
        }
        Ok(())
    }
}

/// Reads `path` as SAMCell's grey u8 input.
pub fn read_gray(path: &Path, opts: &ReadOptions) -> Result<GrayU8, IoError> {
    read_gray_with_info(path, opts).map(|(img, _)| img)
}

/// [`read_gray`], also returning what the file held.
pub fn read_gray_with_info(
    path: &Path,
    opts: &ReadOptions,
) -> Result<(GrayU8, SourceInfo), IoError> {
    read_gray_keeping_wide(path, opts).map(|(img, info, _)| (img, info))
}

/// [`read_gray_with_info`], also returning the one f64 channel of wider-than-8-bit input as it
/// was before scaling (`None` for 8-bit input, whose grey u8 values are unscaled).
pub(crate) fn read_gray_keeping_wide(
    path: &Path,
    opts: &ReadOptions,
) -> Result<(GrayU8, SourceInfo, Option<Vec<f64>>), IoError> {
    let err = |reason: String| IoError::read(path, reason);
    check_scaling(&opts.scaling).map_err(err)?;
    let bytes = read_bytes(path)?;
    decode_gray_keeping_wide(&bytes, opts).map_err(err)
}

/// [`read_gray_with_info`] on a file's bytes already in memory; the error is the reason
/// without a file name.
pub fn decode_gray_with_info(
    bytes: &[u8],
    opts: &ReadOptions,
) -> Result<(GrayU8, SourceInfo), String> {
    decode_gray_keeping_wide(bytes, opts).map(|(img, info, _)| (img, info))
}

/// [`decode_gray_with_info`], also returning the unscaled wide channel (see
/// [`read_gray_keeping_wide`]).
fn decode_gray_keeping_wide(
    bytes: &[u8],
    opts: &ReadOptions,
) -> Result<(GrayU8, SourceInfo, Option<Vec<f64>>), String> {
    check_scaling(&opts.scaling)?;
    if bytes.is_empty() {
        return Err("empty file (0 bytes)".into());
    }
    let format = detect(bytes)?;
    if format != Format::Tiff && opts.page != 0 {
        return Err(format!(
            "page {} requested, but a {format} file has 1 page (0-based index 0)",
            opts.page
        ));
    }
    let limit = opts.pixel_limit();
    let decoded = match format {
        Format::Tiff => tiff_input::decode(bytes, opts.page, opts.channel, limit),
        Format::Png => codecs::decode_png(bytes, opts.channel, limit),
        Format::Jpeg => codecs::decode_jpeg(bytes, opts.channel, limit),
        Format::Bmp => codecs::decode_bmp(bytes, opts.channel, limit),
    }?;
    let (w, h) = (decoded.width, decoded.height);
    if w == 0 || h == 0 {
        return Err(format!("zero-size image ({w}x{h})"));
    }
    let n_values = match &decoded.pixels {
        gray::Pixels::Gray8(v) => v.len(),
        gray::Pixels::Wide(v) => v.len(),
    };
    if n_values != w * h {
        return Err(format!(
            "corrupt {format}: {n_values} pixel values decoded for a {w}x{h} image ({} expected)",
            w * h
        ));
    }
    let (data, scaled_from, wide) = match decoded.pixels {
        gray::Pixels::Gray8(v) => (v, None, None),
        gray::Pixels::Wide(v) => {
            let (u, lo, hi) = gray::scale_to_u8(&v, &opts.scaling)?;
            (u, Some((lo, hi)), Some(v))
        }
    };
    let info = SourceInfo {
        format,
        width: w,
        height: h,
        channels: decoded.channels,
        sample: decoded.sample,
        pages: decoded.pages,
        page: opts.page,
        scaled_from,
        channel_use: decoded.channel_use,
        stack: decoded.stack,
        plane: decoded.plane,
        calibration: decoded.calibration,
    };
    let img = GrayU8::from_vec(w, h, data).map_err(|e| {
        format!("corrupt {format}: decoded pixels do not fill the {w}x{h} image: {e}")
    })?;
    Ok((img, info, wide))
}

/// Number of pages in a TIFF (its full-resolution image directories: reduced-resolution
/// copies and masks in the main directory chain are not pages, see the module docs); 1 for the
/// other formats.
pub fn page_count(path: &Path) -> Result<usize, IoError> {
    let err = |reason: String| IoError::read(path, reason);
    let bytes = read_bytes(path)?;
    match detect(&bytes).map_err(err)? {
        Format::Tiff => tiff_input::page_count(&bytes, crate::limits::max_pixels()).map_err(err),
        _ => Ok(1),
    }
}

fn check_scaling(s: &Scaling) -> Result<(), String> {
    match *s {
        Scaling::MinMax => Ok(()),
        Scaling::Percentile(lo, hi) => {
            if (0.0..=100.0).contains(&lo) && (0.0..=100.0).contains(&hi) && lo < hi {
                Ok(())
            } else {
                Err(format!(
                    "invalid percentile scaling ({lo}, {hi}): need 0 <= low < high <= 100"
                ))
            }
        }
    }
}

pub(crate) fn read_bytes(path: &Path) -> Result<Vec<u8>, IoError> {
    if path.is_dir() {
        return Err(IoError::read(path, "is a directory, not an image file"));
    }
    let bytes = std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => IoError::read(path, "file not found"),
        _ => IoError::read_io(path, "cannot read file", e),
    })?;
    if bytes.is_empty() {
        return Err(IoError::read(path, "empty file (0 bytes)"));
    }
    Ok(bytes)
}

/// Recognises the format from the first bytes.
pub fn detect(bytes: &[u8]) -> Result<Format, String> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Ok(Format::Png)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Ok(Format::Jpeg)
    } else if bytes.starts_with(b"II*\0")
        || bytes.starts_with(b"MM\0*")
        || bytes.starts_with(b"II+\0")
        || bytes.starts_with(b"MM\0+")
    {
        Ok(Format::Tiff)
    } else if bytes.starts_with(b"BM") && bytes.len() >= 26 {
        Ok(Format::Bmp)
    } else {
        let what = if bytes.starts_with(b"GIF8") {
            "a GIF image"
        } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            "a WebP image"
        } else if bytes
            .iter()
            .take(512)
            .all(|&b| b == b'\t' || b == b'\n' || b == b'\r' || (0x20..0x7f).contains(&b))
        {
            "text, not an image"
        } else {
            "an unrecognised format"
        };
        Err(format!(
            "unsupported file format: the content is {what} (supported: PNG, JPEG, TIFF, BMP)"
        ))
    }
}
