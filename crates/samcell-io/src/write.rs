//! Writing outputs atomically: the bytes go to a temporary file in the target's directory
//! (`tempfile::Builder::tempfile_in`), are flushed to disk (`fsync`), and the file is then renamed
//! onto the target (`persist`). A failure at any step leaves nothing at the target path (an
//! existing file there is kept unchanged) and no temporary file behind. Encoders (TIFF, PNG)
//! write straight into the buffered temporary file, so no encoded copy is held in memory.
//!
//! TIFFs are baseline, little-endian, one image directory, strips of about 1 MB
//! (`RowsPerStrip` set accordingly), `PhotometricInterpretation` BlackIsZero, `SampleFormat`
//! unsigned (labels) or IEEE float (maps), Adobe Deflate compression (TIFF compression 8, level 6)
//! without predictor, as written by the `tiff` crate 0.11: readable by ImageJ/Fiji, libtiff,
//! tifffile (checked with `reference/gen_io_fixtures.py --check-written`) and this crate.
//! The `_calibrated` writers add, when given a pixel size, the tags ImageJ 1.x writes for an
//! image calibrated in µm: `ImageDescription` `ImageJ=1.11a\nunit=micron\n`,
//! `XResolution`/`YResolution` = 1 / pixel size (µm) as rationals, `ResolutionUnit` 1 (none), so
//! Fiji shows calibrated units (see [`crate::calibration`]).

mod overlay;

pub use overlay::{label_color, overlay_rgb, write_overlay_png};

use crate::calibration::{imagej_description, pixel_size_rational, Calibration};
use crate::IoError;
use samcell_imaging::{Labels, MapF32};
use std::fs::File;
use std::io::{BufWriter, Seek, Write};
use std::path::Path;
use tiff::encoder::colortype::{Gray16, Gray32, Gray32Float};
use tiff::encoder::compression::DeflateLevel;
use tiff::encoder::{Compression, Rational, TiffEncoder};
use tiff::tags::{ResolutionUnit, Tag};

fn werr(path: &Path, reason: impl Into<String>) -> IoError {
    IoError::write(path, reason)
}

/// Bit depth [`write_labels_tiff`] uses for `labels`: 16 when the largest label is <= 65535.
pub fn label_tiff_bits(labels: &Labels) -> u8 {
    if labels.data().iter().all(|&v| v <= u32::from(u16::MAX)) {
        16
    } else {
        32
    }
}

/// Label image as compressed TIFF: u16 when the largest label fits, u32 otherwise.
pub fn write_labels_tiff(path: &Path, labels: &Labels) -> Result<(), IoError> {
    write_labels_tiff_calibrated(path, labels, None)
}

/// [`write_labels_tiff`] with ImageJ's calibration tags when `calibration` is given (module docs).
pub fn write_labels_tiff_calibrated(
    path: &Path,
    labels: &Labels,
    calibration: Option<&Calibration>,
) -> Result<(), IoError> {
    let (w, h) = dims(path, labels.width(), labels.height())?;
    let cal = resolution(path, calibration)?;
    if label_tiff_bits(labels) == 16 {
        let v: Vec<u16> = labels.data().iter().map(|&x| x as u16).collect();
        write_atomic_with(path, |out| {
            encode_tiff::<Gray16>(out, w, h, &v, cal).map_err(|r| werr(path, r))
        })
    } else {
        write_atomic_with(path, |out| {
            encode_tiff::<Gray32>(out, w, h, labels.data(), cal).map_err(|r| werr(path, r))
        })
    }
}

/// f32 TIFF (distance maps), Deflate-compressed, SampleFormat IEEE float.
pub fn write_f32_tiff(path: &Path, map: &MapF32) -> Result<(), IoError> {
    write_f32_tiff_calibrated(path, map, None)
}

/// [`write_f32_tiff`] with ImageJ's calibration tags when `calibration` is given (module docs).
pub fn write_f32_tiff_calibrated(
    path: &Path,
    map: &MapF32,
    calibration: Option<&Calibration>,
) -> Result<(), IoError> {
    let (w, h) = dims(path, map.width(), map.height())?;
    let cal = resolution(path, calibration)?;
    write_atomic_with(path, |out| {
        encode_tiff::<Gray32Float>(out, w, h, map.data(), cal).map_err(|r| werr(path, r))
    })
}

/// `XResolution` and `YResolution` (pixels per µm) for `calibration`.
type PixelsPerUm = (Rational, Rational);

fn resolution(
    path: &Path,
    calibration: Option<&Calibration>,
) -> Result<Option<PixelsPerUm>, IoError> {
    let Some(c) = calibration else {
        return Ok(None);
    };
    let rational = |um: f64| {
        pixel_size_rational(um)
            .map(|(n, d)| Rational { n, d })
            .ok_or_else(|| werr(path, format!("cannot write a pixel size of {um} µm")))
    };
    Ok(Some((rational(c.x_um)?, rational(c.y_um)?)))
}

fn dims(path: &Path, w: usize, h: usize) -> Result<(u32, u32), IoError> {
    if w == 0 || h == 0 {
        return Err(werr(
            path,
            format!("cannot write a zero-size image ({w}x{h})"),
        ));
    }
    match (u32::try_from(w), u32::try_from(h)) {
        (Ok(w), Ok(h)) => Ok((w, h)),
        _ => Err(werr(path, format!("image {w}x{h} too large for TIFF"))),
    }
}

fn encode_tiff<C>(
    out: impl Write + Seek,
    w: u32,
    h: u32,
    data: &[C::Inner],
    resolution: Option<PixelsPerUm>,
) -> Result<(), String>
where
    C: tiff::encoder::colortype::ColorType,
    [C::Inner]: tiff::encoder::TiffValue,
{
    let mut encoder = TiffEncoder::new(out)
        .map(|e| e.with_compression(Compression::Deflate(DeflateLevel::Balanced)))
        .map_err(|e| format!("cannot encode TIFF: {e}"))?;
    let Some((x, y)) = resolution else {
        return encoder
            .write_image::<C>(w, h, data)
            .map_err(|e| format!("cannot encode TIFF: {e}"));
    };
    let mut image = encoder
        .new_image::<C>(w, h)
        .map_err(|e| format!("cannot encode TIFF: {e}"))?;
    image
        .encoder()
        .write_tag(Tag::ImageDescription, imagej_description())
        .map_err(|e| format!("cannot encode TIFF: {e}"))?;
    image.x_resolution(x);
    image.y_resolution(y);
    image.resolution_unit(ResolutionUnit::None);
    image
        .write_data(data)
        .map_err(|e| format!("cannot encode TIFF: {e}"))
}

/// Writes `bytes` to `path` atomically (temporary file in the same directory, fsync, rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), IoError> {
    write_atomic_with(path, |out| {
        out.write_all(bytes)
            .map_err(|e| IoError::write_io(path, "cannot write", e))
    })
}

/// [`write_atomic`] with `fill` writing the content into the (buffered) temporary file; an
/// error from `fill` is returned as it is, and leaves nothing behind.
pub(crate) fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<&File>) -> Result<(), IoError>,
) -> Result<(), IoError> {
    if path.file_name().is_none() {
        return Err(werr(path, "not a file path"));
    }
    if path.is_dir() {
        return Err(werr(path, "is a directory"));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".samcell-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // NamedTempFile defaults to 0600; outputs are ordinary files (0644, minus the umask).
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    let tmp = builder.tempfile_in(dir).map_err(|e| {
        let reason = format!("cannot create a temporary file in {}", dir.display());
        IoError::write_io(path, reason, e)
    })?;
    let mut out = BufWriter::new(tmp.as_file());
    fill(&mut out)?;
    out.into_inner()
        .map_err(|e| IoError::write_io(path, "cannot write", e.into_error()))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| IoError::write_io(path, "cannot flush to disk", e))?;
    tmp.persist(path).map_err(|e| {
        IoError::write_io(path, "cannot move the temporary file into place", e.error)
    })?;
    // make the rename itself durable; not all platforms can open a directory, so best effort
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
