//! Reading microscopy images and writing SAMCell outputs.
//!
//! - [`mod@read`]: PNG/JPEG/TIFF/BMP (8-64 bit, float, RGB(A), multi-page TIFF) to SAMCell's grey u8
//!   input, bit-identical to `cv2.imread(path, IMREAD_GRAYSCALE)` for 8-bit grey input (the
//!   module docs list the reference behaviour per codec and the scaling of wider data, the TIFF
//!   compressions and layouts read, and how one channel is picked); [`read::stack`]: the
//!   channel / Z / time layout of ImageJ and OME stacks and the `(c, z, t)` <-> page mapping.
//! - [`calibration`]: pixel size in µm from OME, ImageJ or TIFF resolution tags, the
//!   `--pixel-size` parser, and the ImageJ tags the TIFF writers add.
//! - [`geojson`]: cell outlines and measurements as a GeoJSON FeatureCollection for QuPath.
//! - [`imagej_roi`]: cell outlines as ImageJ `.roi` files and ROI-set zips for Fiji's ROI Manager.
//! - [`labels`]: instance-label images (TIFF/PNG) with their integer values kept.
//! - [`limits`]: the one pixel limit every reader checks from the header before decoding.
//! - [`plot`]: charts (heat maps, curves) drawn with plotters and encoded as PNG.
//! - [`mod@write`]: label TIFFs (u16/u32), f32 TIFFs, overlay PNGs and raw bytes, all atomically.

#![forbid(unsafe_code)]

pub mod calibration;
pub mod geojson;
pub mod imagej_roi;
pub mod labels;
pub mod limits;
pub mod plot;
pub mod read;
pub mod write;

pub use calibration::{parse_pixel_size, Calibration, CalibrationSource, PixelSizeError};
pub use limits::{max_pixels, parse_max_pixels, set_max_pixels, DEFAULT_MAX_PIXELS};
pub use read::{
    decode_gray_with_info, decode_layout, page_count, page_pixels, read_f32_tiff,
    read_frame_interval, read_gray, read_gray_raw, read_gray_with_info, read_layout, ChannelUse,
    DimensionOrder, FileLayout, Format, PlaneIndex, RawGray, RawValues, ReadOptions, SampleType,
    Scaling, SourceInfo, StackDims, StackSource,
};
pub use write::{
    write_atomic, write_f32_tiff, write_f32_tiff_calibrated, write_labels_tiff,
    write_labels_tiff_calibrated, write_overlay_png,
};

use std::path::{Path, PathBuf};

/// Errors from reading or writing files; every variant names the file. When the system refused
/// the file itself (permissions, a full disk...), its `std::io::Error` is the source and is not
/// repeated in `reason`: print the chain (or [`IoError::detail`]) to see it.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    /// A file that cannot be read or decoded.
    #[error("{path}: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What is wrong with it, or what could not be done.
        reason: String,
        /// The system's error, when the file itself could not be read.
        #[source]
        source: Option<std::io::Error>,
    },
    /// A file that cannot be written.
    #[error("{path}: {reason}")]
    Write {
        /// The file.
        path: PathBuf,
        /// What could not be done.
        reason: String,
        /// The system's error, when there is one.
        #[source]
        source: Option<std::io::Error>,
    },
}

impl IoError {
    /// A read error with `reason` and no system error.
    pub fn read(path: &Path, reason: impl Into<String>) -> Self {
        Self::Read {
            path: path.to_path_buf(),
            reason: reason.into(),
            source: None,
        }
    }

    /// A read error caused by the system's `source` (`reason` says what was being done).
    pub fn read_io(path: &Path, reason: impl Into<String>, source: std::io::Error) -> Self {
        Self::Read {
            path: path.to_path_buf(),
            reason: reason.into(),
            source: Some(source),
        }
    }

    /// A write error with `reason` and no system error.
    pub fn write(path: &Path, reason: impl Into<String>) -> Self {
        Self::Write {
            path: path.to_path_buf(),
            reason: reason.into(),
            source: None,
        }
    }

    /// A write error caused by the system's `source` (`reason` says what was being done).
    pub fn write_io(path: &Path, reason: impl Into<String>, source: std::io::Error) -> Self {
        Self::Write {
            path: path.to_path_buf(),
            reason: reason.into(),
            source: Some(source),
        }
    }

    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            Self::Read { path, .. } | Self::Write { path, .. } => path,
        }
    }

    /// What went wrong, without the file name: the reason, then the system's error if there is
    /// one ("cannot write: No space left on device").
    pub fn detail(&self) -> String {
        let (Self::Read { reason, source, .. } | Self::Write { reason, source, .. }) = self;
        match source {
            Some(e) => format!("{reason}: {e}"),
            None => reason.clone(),
        }
    }

    /// The whole error as one line of text, file name and system error included, for callers
    /// that keep errors as text rather than as a chain of causes.
    pub fn full_message(&self) -> String {
        format!("{}: {}", self.path().display(), self.detail())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error;

    /// The system's error is the source and not part of the message: a printed chain says it
    /// once; `detail` and `full_message` add it for callers that keep text.
    #[test]
    fn system_error_is_the_source_not_the_message() {
        let denied = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "no access");
        let e = IoError::write_io(Path::new("out/a.tif"), "cannot write", denied);
        assert_eq!(e.to_string(), "out/a.tif: cannot write");
        assert_eq!(
            e.source().map(|s| s.to_string()).as_deref(),
            Some("no access")
        );
        assert_eq!(e.detail(), "cannot write: no access");
        assert_eq!(e.full_message(), "out/a.tif: cannot write: no access");
        let e = IoError::read(Path::new("a.png"), "not a PNG file");
        assert!(e.source().is_none());
        assert_eq!(e.detail(), "not a PNG file");
        assert_eq!(e.path(), Path::new("a.png"));
    }
}
