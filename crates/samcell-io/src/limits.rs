//! The one pixel limit of every image reader.
//!
//! Every reader of this crate ([`crate::read_gray`], [`crate::labels::read_labels`],
//! [`crate::read_f32_tiff`]) reads the width and height from the file's header and refuses an
//! image (one page) of more than the limit *before* decoding it, so a small file whose header
//! claims 65500 x 65500 pixels (a "decompression bomb") is refused at once, without allocating
//! its pixels. The decoders' own allocation limits (`image` crate `Limits`, `tiff` `Limits`,
//! zune-jpeg's maximum dimensions) are set from the same number.
//!
//! The limit is [`DEFAULT_MAX_PIXELS`] unless the process sets another one with
//! [`set_max_pixels`] (the `samcell` binary does so from the `SAMCELL_MAX_PIXELS` environment
//! variable);
//! [`crate::ReadOptions::max_pixels`] overrides it for one read.

use std::sync::atomic::{AtomicU64, Ordering};

/// Largest image accepted by default: 400 megapixels (width x height of one page), e.g.
/// 20,000 x 20,000. Segmenting needs about 17 bytes per pixel besides the model (7 GB here).
pub const DEFAULT_MAX_PIXELS: u64 = 400_000_000;

/// Bytes per pixel the decoders may allocate at most (8: 16-bit RGBA or one f64 sample), which
/// bounds their buffers at `8 x limit`.
const MAX_DECODED_BYTES_PER_PIXEL: u64 = 8;

static MAX_PIXELS: AtomicU64 = AtomicU64::new(DEFAULT_MAX_PIXELS);

/// The process-wide pixel limit (see the module doc).
pub fn max_pixels() -> u64 {
    MAX_PIXELS.load(Ordering::Relaxed)
}

/// Sets the process-wide pixel limit; 0 is refused (it would refuse every image).
pub fn set_max_pixels(limit: u64) -> Result<(), String> {
    if limit == 0 {
        return Err("the pixel limit must be at least 1".into());
    }
    MAX_PIXELS.store(limit, Ordering::Relaxed);
    Ok(())
}

/// Parses a pixel limit as written on a command line or in `SAMCELL_MAX_PIXELS`: a whole
/// number, optionally with a `k`, `M` or `G` suffix (powers of 1000), e.g. `400M`, `1.5G`.
pub fn parse_max_pixels(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.chars().last() {
        Some('k' | 'K') => (&t[..t.len() - 1], 1e3),
        Some('m' | 'M') => (&t[..t.len() - 1], 1e6),
        Some('g' | 'G') => (&t[..t.len() - 1], 1e9),
        _ => (t, 1.0),
    };
    let v: f64 = num.trim().parse().map_err(|_| {
        format!("invalid pixel limit {s:?}: expected a number of pixels such as 400000000 or 400M")
    })?;
    let px = v * mult;
    if !px.is_finite() || px < 1.0 || px > u64::MAX as f64 {
        return Err(format!(
            "invalid pixel limit {s:?}: must be at least 1 pixel"
        ));
    }
    Ok(px.round() as u64)
}

/// Refuses a `width x height` image above `limit` pixels, with a message giving both.
pub(crate) fn check(width: u64, height: u64, limit: u64) -> Result<(), String> {
    let px = width.saturating_mul(height);
    if px > limit {
        return Err(format!(
            "image is {width}x{height} = {}, over the limit of {limit} pixels{}; refused \
             before decoding (if this is a real image and the machine has the memory, raise the \
             limit: SAMCELL_MAX_PIXELS)",
            megapixels(px),
            if limit >= 100_000 {
                format!(" ({})", megapixels(limit))
            } else {
                String::new()
            }
        ));
    }
    Ok(())
}

fn megapixels(px: u64) -> String {
    if px < 100_000 {
        format!("{px} pixels")
    } else {
        format!("{:.1} megapixels", px as f64 / 1e6)
    }
}

/// Most bytes a decoder may allocate for one image under `limit` pixels.
pub(crate) fn decoded_bytes(limit: u64) -> u64 {
    limit
        .saturating_mul(MAX_DECODED_BYTES_PER_PIXEL)
        .saturating_add(1 << 20)
}

/// `image` crate limits for `limit` pixels.
pub(crate) fn image_limits(limit: u64) -> image::Limits {
    let mut l = image::Limits::default();
    l.max_alloc = Some(decoded_bytes(limit));
    let side = u32::try_from(limit).unwrap_or(u32::MAX);
    l.max_image_width = Some(side);
    l.max_image_height = Some(side);
    l
}

/// `tiff` crate limits for `limit` pixels (IFD values up to 64 MiB).
pub(crate) fn tiff_limits(limit: u64) -> tiff::decoder::Limits {
    let mut l = tiff::decoder::Limits::default();
    let bytes = usize::try_from(decoded_bytes(limit)).unwrap_or(usize::MAX);
    l.decoding_buffer_size = bytes;
    l.intermediate_buffer_size = bytes;
    l.ifd_value_size = 64 << 20;
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_suffixes() {
        assert_eq!(parse_max_pixels("400000000"), Ok(400_000_000));
        assert_eq!(parse_max_pixels("400M"), Ok(400_000_000));
        assert_eq!(parse_max_pixels("1.5G"), Ok(1_500_000_000));
        assert_eq!(parse_max_pixels(" 20k "), Ok(20_000));
        assert!(parse_max_pixels("0").is_err());
        assert!(parse_max_pixels("lots").is_err());
        assert!(parse_max_pixels("-5M").is_err());
    }

    #[test]
    fn check_names_both_sizes() {
        assert!(check(100, 100, 10_000).is_ok());
        let e = check(65500, 65500, DEFAULT_MAX_PIXELS).unwrap_err();
        assert!(e.contains("65500x65500") && e.contains("400000000"), "{e}");
        // no overflow on absurd headers
        assert!(check(u64::MAX, u64::MAX, DEFAULT_MAX_PIXELS).is_err());
    }
}
