//! The grey image *before* scaling to u8: the values intensity measurements are taken on.
//!
//! [`read_gray_raw`] decodes a file exactly as [`read_gray_with_info`](super::read_gray_with_info)
//! does (same formats, page, errors and u8 result) and also keeps the one grey channel the u8 image
//! was made from:
//! - 8-bit input (and 1/2/4-bit input, expanded to 0..255): the grey u8 values themselves, which
//!   are not rescaled (colour converted as cv2 does, see the [`read`](super) module docs).
//! - wider input (u16/u32/u64, i8-i64, f16/f32/f64): the one f64 channel the scaling starts from
//!   (grey as stored; colour `0.299 R + 0.587 G + 0.114 B`; alpha ignored), before min-max or
//!   percentile scaling. Kept as f32 for samples of at most 16 bits and f16/f32 (exact for grey
//!   data; a colour mix is rounded to f32, a relative error below 6e-8), as f64 otherwise.
//!
//! [`RawGray::full_scale`] is the bit-depth divisor of CellProfiler's convention (images loaded as
//! 0..1 floats, skimage `img_as_float`): 255 for 8-bit (and expanded sub-8-bit), 65535 for u16,
//! 2^32 - 1 for u32, 2^64 - 1 for u64, the type's maximum for signed integers (127, 32767, ...;
//! `img_as_float` also clips the type minimum to -1, which is not applied), and none for floats,
//! whose values are used as they are.

use super::{read_gray_keeping_wide, ReadOptions, SampleType, SourceInfo};
use crate::IoError;
use samcell_imaging::GrayU8;
use std::path::Path;

/// The samples of a [`RawGray`], row-major.
#[derive(Clone, Debug, PartialEq)]
pub enum RawValues {
    /// 8-bit (and expanded 1/2/4-bit) grey, as decoded.
    U8(Vec<u8>),
    /// Samples of at most 16 bits and f16/f32 floats, before scaling to u8.
    F32(Vec<f32>),
    /// Wider samples (32/64-bit integers, f64), before scaling to u8.
    F64(Vec<f64>),
}

impl RawValues {
    /// Number of samples (`width * height` of the image they belong to).
    pub fn len(&self) -> usize {
        match self {
            RawValues::U8(v) => v.len(),
            RawValues::F32(v) => v.len(),
            RawValues::F64(v) => v.len(),
        }
    }

    /// True when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One grey channel with its original values and the sample type they came from.
#[derive(Clone, Debug, PartialEq)]
pub struct RawGray {
    width: usize,
    height: usize,
    sample: SampleType,
    values: RawValues,
}

impl RawGray {
    /// `values` must hold `width * height` samples.
    pub fn new(
        width: usize,
        height: usize,
        sample: SampleType,
        values: RawValues,
    ) -> Result<Self, String> {
        if width.checked_mul(height) != Some(values.len()) {
            return Err(format!(
                "{} samples for a {width}x{height} image",
                values.len()
            ));
        }
        Ok(Self {
            width,
            height,
            sample,
            values,
        })
    }

    /// An 8-bit grey image as raw data (full scale 255).
    pub fn from_gray_u8(img: &GrayU8) -> Self {
        Self {
            width: img.width(),
            height: img.height(),
            sample: SampleType::U8,
            values: RawValues::U8(img.data().to_vec()),
        }
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// The sample type of the file.
    pub fn sample(&self) -> SampleType {
        self.sample
    }

    /// The samples, row-major, in their original units (not scaled to 0..1 or 0..255).
    pub fn values(&self) -> &RawValues {
        &self.values
    }

    /// The value that maps to 1.0 in CellProfiler's 0..1 convention; `None` for float data (used
    /// as is): 255 for 8-bit, 65535 for 16-bit data, the type's maximum for other integers.
    pub fn full_scale(&self) -> Option<f64> {
        full_scale(self.sample)
    }
}

/// The bit-depth divisor of a sample type, CellProfiler's convention (skimage `img_as_float`):
/// 255 for u8 and expanded 1/2/4-bit data, 65535 for u16, 2^32 - 1 for u32, 2^64 - 1 for u64, the
/// type's maximum for signed integers (without `img_as_float`'s clip of the type minimum to -1);
/// `None` for floats, whose values are used as they are.
pub fn full_scale(sample: SampleType) -> Option<f64> {
    match sample {
        SampleType::UBits(_) | SampleType::U8 => Some(255.0),
        SampleType::U16 => Some(65535.0),
        SampleType::U32 => Some(f64::from(u32::MAX)),
        SampleType::U64 => Some(u64::MAX as f64),
        SampleType::I8 => Some(f64::from(i8::MAX)),
        SampleType::I16 => Some(f64::from(i16::MAX)),
        SampleType::I32 => Some(f64::from(i32::MAX)),
        SampleType::I64 => Some(i64::MAX as f64),
        SampleType::F16 | SampleType::F32 | SampleType::F64 => None,
    }
}

/// Reads `path` as [`read_gray_with_info`](super::read_gray_with_info) does (same formats, page,
/// errors and u8 image) and also returns the grey channel that u8 image was made from, before
/// scaling: for 8-bit (and 1/2/4-bit) input the grey u8 values themselves (not rescaled); for
/// wider input the one channel the min-max/percentile scaling starts from (grey as stored;
/// colour `0.299 R + 0.587 G + 0.114 B`), kept as f32 for samples of at most 16 bits and f16/f32
/// (exact for grey data; a colour mix rounded to f32), as f64 otherwise.
pub fn read_gray_raw(
    path: &Path,
    opts: &ReadOptions,
) -> Result<(GrayU8, RawGray, SourceInfo), IoError> {
    let (img, info, wide) = read_gray_keeping_wide(path, opts)?;
    let values = match wide {
        None => RawValues::U8(img.data().to_vec()),
        Some(v) => match info.sample {
            SampleType::UBits(_)
            | SampleType::U8
            | SampleType::U16
            | SampleType::I8
            | SampleType::I16
            | SampleType::F16
            | SampleType::F32 => RawValues::F32(v.iter().map(|&x| x as f32).collect()),
            _ => RawValues::F64(v),
        },
    };
    let raw = RawGray::new(info.width, info.height, info.sample, values)
        .map_err(|reason| IoError::read(path, reason))?;
    Ok((img, raw, info))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tiff::encoder::{colortype, TiffEncoder};

    fn write_tiff<C: colortype::ColorType>(path: &Path, w: u32, h: u32, data: &[C::Inner])
    where
        [C::Inner]: tiff::encoder::TiffValue,
    {
        let f = std::fs::File::create(path).expect("create");
        let mut e = TiffEncoder::new(f).expect("encoder");
        e.write_image::<C>(w, h, data).expect("write");
    }

    #[test]
    fn u16_grey_keeps_the_stored_values() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("g16.tif");
        let data: Vec<u16> = vec![0, 1000, 31230, 65535, 2, 40000];
        write_tiff::<colortype::Gray16>(&p, 3, 2, &data);
        let (img, raw, info) = read_gray_raw(&p, &ReadOptions::default()).expect("read");
        assert_eq!(info.sample, SampleType::U16);
        assert_eq!(raw.full_scale(), Some(65535.0));
        let want: Vec<f32> = data.iter().map(|&v| f32::from(v)).collect();
        assert_eq!(raw.values(), &RawValues::F32(want));
        // the u8 image is the one read_gray gives (min-max scaled)
        let plain = crate::read_gray(&p, &ReadOptions::default()).expect("read");
        assert_eq!(img, plain);
        assert_eq!(img.data()[3], 255);
    }

    #[test]
    fn rgb16_uses_the_segmentation_grey_before_scaling() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("rgb16.tif");
        let data: Vec<u16> = vec![
            60000, 100, 7, 0, 0, 0, 1000, 2000, 3000, 65535, 65535, 65535,
        ];
        write_tiff::<colortype::RGB16>(&p, 2, 2, &data);
        let (_, raw, info) = read_gray_raw(&p, &ReadOptions::default()).expect("read");
        assert_eq!((info.channels, info.sample), (3, SampleType::U16));
        let RawValues::F32(v) = raw.values() else {
            panic!("{:?}", raw.values())
        };
        for (k, px) in data.chunks_exact(3).enumerate() {
            let want =
                0.299 * f64::from(px[0]) + 0.587 * f64::from(px[1]) + 0.114 * f64::from(px[2]);
            assert!(
                (f64::from(v[k]) - want).abs() <= want * 1e-7,
                "pixel {k}: {} vs {want}",
                v[k]
            );
        }
    }

    #[test]
    fn eight_bit_input_is_its_own_raw_and_wide_types_keep_f64() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("g8.tif");
        write_tiff::<colortype::Gray8>(&p, 2, 2, &[3, 9, 27, 81]);
        let (img, raw, _) = read_gray_raw(&p, &ReadOptions::default()).expect("read");
        assert_eq!(raw.values(), &RawValues::U8(vec![3, 9, 27, 81]));
        assert_eq!(raw, RawGray::from_gray_u8(&img));
        assert_eq!(raw.full_scale(), Some(255.0));

        let p = dir.path().join("g32.tif");
        let data = [u32::MAX, 1, 16_777_217, 0];
        write_tiff::<colortype::Gray32>(&p, 2, 2, &data);
        let (_, raw, _) = read_gray_raw(&p, &ReadOptions::default()).expect("read");
        // 2^24 + 1 is not an f32: the value is kept exactly
        let want: Vec<f64> = data.iter().map(|&v| f64::from(v)).collect();
        assert_eq!(raw.values(), &RawValues::F64(want));
        assert_eq!(raw.full_scale(), Some(4_294_967_295.0));

        let p = dir.path().join("f32.tif");
        write_tiff::<colortype::Gray32Float>(&p, 2, 1, &[-0.5, 1.25]);
        let (_, raw, _) = read_gray_raw(&p, &ReadOptions::default()).expect("read");
        assert_eq!(raw.values(), &RawValues::F32(vec![-0.5, 1.25]));
        assert_eq!(raw.full_scale(), None);
    }

    #[test]
    fn errors_name_the_file_like_read_gray() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("missing.tif");
        let e = read_gray_raw(&p, &ReadOptions::default()).expect_err("missing");
        assert!(e.to_string().contains("missing.tif"), "{e}");
        assert!(RawGray::new(2, 2, SampleType::U8, RawValues::U8(vec![0; 3])).is_err());
    }
}
