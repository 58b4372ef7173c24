//! What a file holds, from its headers only: pages, samples per pixel and the channel / Z /
//! time layout, for callers that plan which pages and channels to read (`samcell segment`'s
//! jobs and output names, a time-lapse reader walking the T axis) before decoding any pixels.

use super::stack::{PlaneIndex, StackDims};
use super::{detect, read_bytes, tiff_input, Format};
use crate::IoError;
use std::io::Cursor;
use std::path::Path;

/// The layout of a file ([`read_layout`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileLayout {
    /// Format, from the file's first bytes.
    pub format: Format,
    /// Pages (TIFF: full-resolution image directories, as [`super::page_count`] counts them;
    /// 1 for the other formats).
    pub pages: usize,
    /// Samples per pixel of the first page (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA; the extra
    /// bands of a multi-channel TIFF page count; palettes count as RGB).
    pub samples: usize,
    /// Channel / Z / time layout that ImageJ or OME metadata declares (TIFF only).
    pub stack: Option<StackDims>,
}

impl FileLayout {
    /// The stack, when it declares several channel planes and the file holds its planes
    /// ([`StackDims::fits`]): then a channel is a set of pages rather than a sample.
    pub fn channel_stack(&self) -> Option<&StackDims> {
        self.stack
            .as_ref()
            .filter(|s| s.channels > 1 && s.fits(self.pages))
    }

    /// The channels [`super::ReadOptions::channel`] can pick: the stack's channel planes when
    /// there are several ([`channel_stack`](Self::channel_stack)), otherwise the samples of a
    /// pixel.
    pub fn channels(&self) -> usize {
        self.channel_stack()
            .map_or(self.samples.max(1), |s| s.channels)
    }

    /// The pages that hold channel `c`: the channel's pages of a channel stack (in page order;
    /// empty when `c` is not one of its channels), otherwise every page (the channel is a sample
    /// of each).
    pub fn channel_pages(&self, c: usize) -> Vec<usize> {
        match self.channel_stack() {
            Some(s) => s.channel_pages(c),
            None => (0..self.pages).collect(),
        }
    }

    /// The `(c, z, t)` position of `page` when the file holds the planes its stack declares.
    pub fn plane_of(&self, page: usize) -> Option<PlaneIndex> {
        self.stack
            .as_ref()
            .filter(|s| s.fits(self.pages))
            .and_then(|s| s.plane_of(page))
    }

    /// The page holding plane `(c, z, t)` when the file holds the planes its stack declares.
    pub fn page_of(&self, c: usize, z: usize, t: usize) -> Option<usize> {
        self.stack
            .as_ref()
            .filter(|s| s.fits(self.pages))
            .and_then(|s| s.page_of(c, z, t))
    }
}

/// The layout of `path` from its headers (no pixels are decoded); errors name the file.
pub fn read_layout(path: &Path) -> Result<FileLayout, IoError> {
    let bytes = read_bytes(path)?;
    decode_layout(&bytes).map_err(|reason| IoError::read(path, reason))
}

/// [`read_layout`] on a file's bytes already in memory; the error is the reason without a file
/// name.
pub fn decode_layout(bytes: &[u8]) -> Result<FileLayout, String> {
    let format = detect(bytes)?;
    let limit = crate::limits::max_pixels();
    let (pages, samples, stack) = match format {
        Format::Tiff => {
            let scan = tiff_input::scan_pages(bytes, limit)?;
            let mut d = tiff_input::decoder(bytes, limit)?;
            let stack = tiff_input::stack_dims(&mut d);
            if let Some(&ifd) = scan.ifds.first() {
                if ifd > 0 {
                    d.seek_to_image(ifd).map_err(|e| tiff_input::describe(&e))?;
                }
            }
            let samples = usize::from(tiff_input::samples_per_pixel(&mut d));
            (scan.ifds.len(), samples, stack)
        }
        Format::Png => {
            let d = image::codecs::png::PngDecoder::new(Cursor::new(bytes))
                .map_err(|e| format!("corrupt or truncated PNG: {e}"))?;
            (1, image_samples(&d), None)
        }
        Format::Bmp => {
            let d = image::codecs::bmp::BmpDecoder::new(Cursor::new(bytes))
                .map_err(|e| format!("corrupt or truncated BMP: {e}"))?;
            (1, image_samples(&d), None)
        }
        Format::Jpeg => {
            let mut d =
                zune_jpeg::JpegDecoder::new(zune_jpeg::zune_core::bytestream::ZCursor::new(bytes));
            d.decode_headers()
                .map_err(|e| format!("corrupt or truncated JPEG: {e}"))?;
            let samples = d.input_colorspace().map_or(1, |c| c.num_components());
            (1, samples, None)
        }
    };
    Ok(FileLayout {
        format,
        pages,
        samples,
        stack,
    })
}

/// Seconds between time points that a TIFF's ImageJ (`finterval=`, `tunit=`) or OME
/// (`TimeIncrement`, `TimeIncrementUnit`) metadata declares; `None` for other files and when
/// none is declared. Reads the headers only.
pub fn read_frame_interval(path: &Path) -> Result<Option<f64>, IoError> {
    let bytes = read_bytes(path)?;
    if detect(&bytes).map_err(|reason| IoError::read(path, reason))? != Format::Tiff {
        return Ok(None);
    }
    let limit = crate::limits::max_pixels();
    let mut d = tiff_input::decoder(&bytes, limit).map_err(|reason| IoError::read(path, reason))?;
    Ok(tiff_input::frame_interval(&mut d))
}

/// Pixels (width x height) of each page of `path`, in page order, from its headers only: the
/// TIFF's page directories (the pages [`FileLayout::pages`] counts), or the one image of a PNG,
/// JPEG or BMP. The file is read as far as the headers go (a JPEG whole), no pixels are decoded
/// and no pixel limit applies; errors name the file. For planning by image size (e.g. sharing a
/// batch out by pixels) before anything is decoded.
pub fn page_pixels(path: &Path) -> Result<Vec<u64>, IoError> {
    use image::ImageDecoder;
    use std::io::{BufReader, Read, Seek, SeekFrom};
    let open_err = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::NotFound => IoError::read(path, "file not found"),
        _ => IoError::read_io(path, "cannot read file", e),
    };
    if path.is_dir() {
        return Err(IoError::read(path, "is a directory, not an image file"));
    }
    let mut file = BufReader::new(std::fs::File::open(path).map_err(open_err)?);
    let mut head = Vec::with_capacity(32);
    (&mut file)
        .take(32)
        .read_to_end(&mut head)
        .map_err(open_err)?;
    if head.is_empty() {
        return Err(IoError::read(path, "empty file (0 bytes)"));
    }
    let format = detect(&head).map_err(|reason| IoError::read(path, reason))?;
    file.seek(SeekFrom::Start(0)).map_err(open_err)?;
    let err = |reason: String| IoError::read(path, reason);
    let one = |(w, h): (u32, u32)| vec![u64::from(w) * u64::from(h)];
    Ok(match format {
        Format::Tiff => {
            let d = tiff::decoder::Decoder::new(file)
                .map(|d| d.with_limits(crate::limits::tiff_limits(crate::limits::max_pixels())))
                .map_err(|e| err(tiff_input::describe(&e)))?;
            tiff_input::page_sizes(d)
                .map_err(err)?
                .into_iter()
                .map(|(w, h)| u64::from(w) * u64::from(h))
                .collect()
        }
        Format::Png => one(image::codecs::png::PngDecoder::new(file)
            .map_err(|e| err(format!("corrupt or truncated PNG: {e}")))?
            .dimensions()),
        Format::Bmp => one(image::codecs::bmp::BmpDecoder::new(file)
            .map_err(|e| err(format!("corrupt or truncated BMP: {e}")))?
            .dimensions()),
        Format::Jpeg => one(image::codecs::jpeg::JpegDecoder::new(file)
            .map_err(|e| err(format!("corrupt or truncated JPEG: {e}")))?
            .dimensions()),
    })
}

fn image_samples(d: &impl image::ImageDecoder) -> usize {
    usize::from(d.color_type().channel_count())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::stack::{DimensionOrder, StackSource};

    #[test]
    fn channels_are_planes_of_a_fitting_stack_or_samples() {
        let stack = StackDims {
            channels: 2,
            slices: 1,
            frames: 3,
            order: DimensionOrder::Czt,
            source: StackSource::ImageJ,
        };
        let l = FileLayout {
            format: Format::Tiff,
            pages: 6,
            samples: 1,
            stack: Some(stack),
        };
        assert_eq!(l.channels(), 2);
        assert_eq!(l.channel_pages(1), [1, 3, 5]);
        assert_eq!(l.plane_of(5), Some(PlaneIndex { c: 1, z: 0, t: 2 }));
        assert_eq!(l.page_of(0, 0, 2), Some(4));
        // the pages are not all there: no channel planes, no positions
        let short = FileLayout { pages: 4, ..l };
        assert_eq!(short.channels(), 1);
        assert_eq!(short.channel_pages(0), [0, 1, 2, 3]);
        assert_eq!(short.plane_of(1), None);
        // RGB pages without a stack: the samples are the channels
        let rgb = FileLayout {
            samples: 3,
            stack: None,
            pages: 2,
            ..l
        };
        assert_eq!(rgb.channels(), 3);
        assert_eq!(rgb.channel_pages(2), [0, 1]);
    }
}

#[cfg(test)]
mod page_pixel_tests {
    use super::*;
    use tiff::encoder::{colortype::Gray8, TiffEncoder};

    #[test]
    fn page_pixels_come_from_headers_of_every_page() {
        let dir = tempfile::tempdir().unwrap();
        let tif = dir.path().join("s.tif");
        let mut enc = TiffEncoder::new(std::fs::File::create(&tif).unwrap()).unwrap();
        enc.write_image::<Gray8>(4, 3, &[0; 12]).unwrap();
        enc.write_image::<Gray8>(5, 5, &[0; 25]).unwrap();
        drop(enc);
        assert_eq!(page_pixels(&tif).unwrap(), [12, 25]);
        let png = dir.path().join("a.png");
        image::GrayImage::new(7, 2).save(&png).unwrap();
        assert_eq!(page_pixels(&png).unwrap(), [14]);
        let bad = dir.path().join("bad.png");
        std::fs::write(&bad, b"\x89PNG\r\n\x1a\n").unwrap();
        let e = page_pixels(&bad).unwrap_err().to_string();
        assert!(e.contains("bad.png"), "{e}");
        assert!(page_pixels(&dir.path().join("none.png")).is_err());
    }
}
