//! Reading microscopy images and writing SAMCell outputs.
//!
//! - [`mod@read`]: PNG/JPEG/TIFF/BMP (8-64 bit, float, RGB(A), multi-page TIFF) to SAMCell's grey u8
//!   input, bit-identical to `cv2.imread(path, IMREAD_GRAYSCALE)` for 8-bit grey input (the
//!   module docs list the reference behaviour per codec and the scaling of wider data).
//! - [`labels`]: instance-label images (TIFF/PNG) with their integer values kept.
//! - [`limits`]: the one pixel limit every reader checks from the header before decoding.
//! - [`mod@write`]: label TIFFs (u16/u32), f32 TIFFs, overlay PNGs and raw bytes, all atomically.

#![forbid(unsafe_code)]

pub mod labels;
pub mod limits;
pub mod read;
pub mod write;

pub use limits::{max_pixels, parse_max_pixels, set_max_pixels, DEFAULT_MAX_PIXELS};
pub use read::{
    decode_gray_with_info, page_count, read_f32_tiff, read_gray, read_gray_raw,
    read_gray_with_info, ChannelUse, Format, RawGray, RawValues, ReadOptions, SampleType, Scaling,
    SourceInfo, StackDims, StackSource,
};
pub use write::{write_atomic, write_f32_tiff, write_labels_tiff, write_overlay_png};

use std::path::PathBuf;

/// Errors from reading or writing files; every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    #[error("{path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("{path}: {reason}")]
    Write { path: PathBuf, reason: String },
}
