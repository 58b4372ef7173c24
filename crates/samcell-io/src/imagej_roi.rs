//! Cell outlines as ImageJ ROIs: the binary `.roi` format of ImageJ's `RoiEncoder` (file version
//! 229, the version ImageJ 1.54s and the Python `roifile` package 2026.2.10 write) and ROI-set zips
//! (`<name>_rois.zip`) as Fiji's ROI Manager opens and saves them.
//!
//! Reference behaviour: for the same outline, name and position, [`encode_roi`] produces exactly
//! the bytes `roifile.ImagejRoi(...).tobytes()` produces (checked byte for byte against fixtures
//! written by `reference/gen_roi_fixtures.py`), which ImageJ's `RoiDecoder` reads as:
//!
//! - **A ring without holes**: a polygon ROI (type byte 0). Big-endian 64-byte header: `Iout`,
//!   version 229, type, bounds top/left/bottom/right (int16, `right = max x`, `bottom = max y`,
//!   as `java.awt.Polygon.getBounds` gives for integer vertices), the vertex count (uint16),
//!   zero stroke/colour/option fields, the stack position (int32 at byte 56) and the offset of
//!   header 2 (int32 at byte 60); then the x coordinates and the y coordinates, each an int16
//!   relative to left/top; then the 64-byte header 2 (channel/slice/frame positions, name offset
//!   and length) and the name in UTF-16BE.
//! - **A ring with holes, or a cell in several parts**: ImageJ polygons have neither, so the
//!   rings are written the way ImageJ saves a composite (`ShapeRoi`): type byte 1 (rectangle)
//!   with the shape-array length (int32 at byte 36) non-zero, followed by that many big-endian
//!   float32 values: per ring `0 x y` (move to), `1 x y` (line to) for each further vertex, `4`
//!   (close), in absolute image coordinates.
//!   ImageJ fills such a path with the even-odd rule, so each hole is cut out of the exterior
//!   whatever the rings' orientation, and a further part (a ring outside the others, or inside a
//!   hole) is filled.
//!
//! Vertices are pixel corners, as a pixel-edge boundary tracer produces them: vertex `(x, y)` is
//! the top-left corner of pixel `(x, y)`, so the ring of a single pixel `(3, 5)` is
//! `(3,5) (4,5) (4,6) (3,6)` and ImageJ's mask of the ROI (pixels whose centre lies inside) is
//! exactly the cell. A ring may repeat its first vertex at the end; the repeat is not written.
//! [`RoiPolygon::from_rings`] takes a tracer's floating-point rings (GeoJSON layout) and rounds
//! every vertex to the nearest corner: a pinch corner that a tracer cut into two vertices a
//! fraction of a pixel either side of it becomes that corner again (consecutive repeats are
//! dropped), which moves no pixel centre across the outline.
//! Coordinates must lie in `-5000..=60535` and the bounds be at most 60535 wide and tall (ImageJ
//! reads int16 values below -5000 as unsigned), and a ring without holes may have at most 65535
//! vertices.
//!
//! Positions follow ImageJ (1-based, 0 = none): [`RoiPosition::Slice`] sets the header's
//! `position` (an image stack or a single-channel time series opened as a stack);
//! [`RoiPosition::Hyperstack`] sets the channel/slice/frame fields of header 2 and leaves
//! `position` 0, as ImageJ does for a ROI placed in a hyperstack.
//!
//! Names: the caller names each ROI; [`label_roi_name`] gives samcell's choice, the cell label
//! zero-padded to four digits (`0007`), prefixed by the 1-based frame for stacks (`0003-0007`), so
//! the ROI Manager's list sorts by frame then label. In a zip every entry is `<name>.roi` and names
//! are made unique (a repeated name gets `-2`, `-3`... appended, `/`, `\` and control characters
//! become `_`, an empty name becomes `roi`); the name stored inside the ROI is the entry's name.
//! Zip entries are deflated, stored in the given order, and dated 1980-01-01 so the same cells
//! give the same bytes; the zip is written atomically like every output of [`mod@crate::write`].

use crate::write::write_atomic_with;
use crate::IoError;
use std::collections::HashSet;
use std::io::Write;
use std::path::Path;

/// The file version written (ImageJ 1.54s's `RoiEncoder.VERSION`, `roifile`'s default).
pub const ROI_VERSION: u16 = 229;

const HEADER_SIZE: usize = 64;
const HEADER2_SIZE: usize = 64;
const TYPE_POLYGON: u8 = 0;
const TYPE_RECT: u8 = 1;
const SEG_MOVETO: f32 = 0.0;
const SEG_LINETO: f32 = 1.0;
const SEG_CLOSE: f32 = 4.0;
/// Smallest and largest coordinate ImageJ's decoder reads back unchanged from an int16 field.
const COORD_MIN: i32 = -5000;
const COORD_MAX: i32 = 60535;

/// Where a ROI lies in a stack or hyperstack (1-based indices, as ImageJ counts them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoiPosition {
    /// Slice of a plain stack (header field `position`), e.g. the frame of a time series
    /// opened as a stack.
    Slice(u32),
    /// Channel, z-slice and frame of a hyperstack (header 2); 0 leaves that axis unset.
    Hyperstack {
        /// Channel (1-based, 0 = unset).
        channel: u32,
        /// Z-slice (1-based, 0 = unset).
        slice: u32,
        /// Time frame (1-based, 0 = unset).
        frame: u32,
    },
}

/// One cell outline to be written as an ImageJ ROI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoiPolygon {
    /// The ROI's name (stored in the ROI and used for its zip entry).
    pub name: String,
    /// The outer boundary: pixel-corner vertices `(x, y)` in order, closed implicitly.
    pub ring: Vec<(i32, i32)>,
    /// Further rings, same convention: the holes, and for a cell in several parts the other
    /// parts' rings (with their holes); when present the ROI is a composite, filled by the
    /// even-odd rule.
    pub holes: Vec<Vec<(i32, i32)>>,
    /// Stack or hyperstack position; `None` for a single image (the ROI shows on every slice).
    pub position: Option<RoiPosition>,
}

impl RoiPolygon {
    /// A ROI from an outer ring only, without holes or position.
    pub fn new(name: impl Into<String>, ring: Vec<(i32, i32)>) -> Self {
        Self {
            name: name.into(),
            ring,
            holes: Vec::new(),
            position: None,
        }
    }
}

impl RoiPolygon {
    /// A ROI from floating-point rings (the first is the exterior, the others holes or further
    /// parts, e.g. every ring of every polygon of one label), each vertex rounded to the
    /// nearest pixel corner, consecutive repeats and the closing vertex dropped (module docs).
    /// A non-finite or huge coordinate becomes one that [`encode_roi`] refuses.
    pub fn from_rings<R: AsRef<[[f64; 2]]>>(
        name: impl Into<String>,
        rings: impl IntoIterator<Item = R>,
        position: Option<RoiPosition>,
    ) -> Self {
        let round = |v: f64| {
            let r = v.round();
            if r.is_finite() && r >= f64::from(i32::MIN) && r <= f64::from(i32::MAX) {
                r as i32
            } else {
                i32::MIN
            }
        };
        let mut rings = rings.into_iter().map(|ring| {
            let mut out: Vec<(i32, i32)> = Vec::with_capacity(ring.as_ref().len());
            for &[x, y] in ring.as_ref() {
                let p = (round(x), round(y));
                if out.last() != Some(&p) {
                    out.push(p);
                }
            }
            while out.len() > 1 && out.first() == out.last() {
                out.pop();
            }
            out
        });
        Self {
            name: name.into(),
            ring: rings.next().unwrap_or_default(),
            holes: rings.collect(),
            position,
        }
    }
}

/// Why a ROI cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoiError {
    /// A ring with fewer than 3 distinct vertices.
    #[error("ROI {name:?}: a ring has {count} vertices, at least 3 are needed")]
    TooFewVertices {
        /// The ROI.
        name: String,
        /// Vertices in the ring (a repeated first vertex not counted).
        count: usize,
    },
    /// A polygon ROI with more vertices than the format's uint16 count holds.
    #[error("ROI {name:?}: {count} vertices, an ImageJ polygon holds at most 65535")]
    TooManyVertices {
        /// The ROI.
        name: String,
        /// Vertices in the ring.
        count: usize,
    },
    /// A vertex outside what ImageJ's int16 fields carry.
    #[error("ROI {name:?}: vertex ({x}, {y}) is outside -5000..=60535")]
    OutOfRange {
        /// The ROI.
        name: String,
        /// The vertex's x.
        x: i32,
        /// The vertex's y.
        y: i32,
    },
    /// Bounds wider or taller than the relative int16 coordinates carry.
    #[error("ROI {name:?}: {width}x{height} pixels, at most 60535 on each side")]
    TooLarge {
        /// The ROI.
        name: String,
        /// right - left.
        width: i32,
        /// bottom - top.
        height: i32,
    },
    /// A name longer than the format's length field holds.
    #[error("ROI name of {0} UTF-16 units is too long")]
    NameTooLong(usize),
}

/// samcell's ROI name for cell `label`: four-digit zero-padded (`0007`; wider labels keep all
/// their digits), prefixed by the 1-based frame the same way for stacks (`0003-0007`).
pub fn label_roi_name(label: u32, frame: Option<u32>) -> String {
    match frame {
        Some(f) => format!("{f:04}-{label:04}"),
        None => format!("{label:04}"),
    }
}

/// The ring without a repeated closing vertex, checked against the format's limits.
fn checked_ring<'a>(name: &str, ring: &'a [(i32, i32)]) -> Result<&'a [(i32, i32)], RoiError> {
    let ring = match ring {
        [first, .., last] if first == last => &ring[..ring.len() - 1],
        _ => ring,
    };
    if ring.len() < 3 {
        return Err(RoiError::TooFewVertices {
            name: name.to_string(),
            count: ring.len(),
        });
    }
    let out = |&(x, y): &(i32, i32)| {
        !(COORD_MIN..=COORD_MAX).contains(&x) || !(COORD_MIN..=COORD_MAX).contains(&y)
    };
    if let Some(&(x, y)) = ring.iter().find(|p| out(p)) {
        return Err(RoiError::OutOfRange {
            name: name.to_string(),
            x,
            y,
        });
    }
    Ok(ring)
}

/// Big-endian int16 as ImageJ writes it (`putShort` keeps the low 16 bits).
fn put_i16(buf: &mut [u8], at: usize, v: i32) {
    buf[at..at + 2].copy_from_slice(&(v as u16).to_be_bytes());
}

fn put_i32(buf: &mut [u8], at: usize, v: i32) {
    buf[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

/// Encodes one ROI in ImageJ's `.roi` format (see the module docs for the layout).
pub fn encode_roi(roi: &RoiPolygon) -> Result<Vec<u8>, RoiError> {
    encode_named(roi, &roi.name)
}

/// [`encode_roi`] with `name` stored instead of `roi.name`.
fn encode_named(roi: &RoiPolygon, name: &str) -> Result<Vec<u8>, RoiError> {
    let ring = checked_ring(name, &roi.ring)?;
    let holes = roi
        .holes
        .iter()
        .map(|h| checked_ring(name, h))
        .collect::<Result<Vec<_>, _>>()?;
    let (mut left, mut top) = (i32::MAX, i32::MAX);
    let (mut right, mut bottom) = (i32::MIN, i32::MIN);
    for &(x, y) in ring.iter().chain(holes.iter().flat_map(|h| h.iter())) {
        left = left.min(x);
        top = top.min(y);
        right = right.max(x);
        bottom = bottom.max(y);
    }
    if right - left > COORD_MAX || bottom - top > COORD_MAX {
        return Err(RoiError::TooLarge {
            name: name.to_string(),
            width: right - left,
            height: bottom - top,
        });
    }
    let name_units: Vec<u16> = name.encode_utf16().collect();
    let name_len =
        i32::try_from(name_units.len()).map_err(|_| RoiError::NameTooLong(name_units.len()))?;

    let mut header = [0u8; HEADER_SIZE];
    header[..4].copy_from_slice(b"Iout");
    header[4..6].copy_from_slice(&ROI_VERSION.to_be_bytes());
    put_i16(&mut header, 8, top);
    put_i16(&mut header, 10, left);
    put_i16(&mut header, 12, bottom);
    put_i16(&mut header, 14, right);
    let mut body = Vec::new();
    if holes.is_empty() {
        let n = u16::try_from(ring.len()).map_err(|_| RoiError::TooManyVertices {
            name: name.to_string(),
            count: ring.len(),
        })?;
        header[6] = TYPE_POLYGON;
        header[16..18].copy_from_slice(&n.to_be_bytes());
        body.reserve(ring.len() * 4);
        for &(x, _) in ring {
            body.extend_from_slice(&((x - left) as u16).to_be_bytes());
        }
        for &(_, y) in ring {
            body.extend_from_slice(&((y - top) as u16).to_be_bytes());
        }
    } else {
        header[6] = TYPE_RECT;
        let mut shape: Vec<f32> = Vec::new();
        for r in std::iter::once(ring).chain(holes.iter().copied()) {
            for (i, &(x, y)) in r.iter().enumerate() {
                let seg = if i == 0 { SEG_MOVETO } else { SEG_LINETO };
                shape.extend_from_slice(&[seg, x as f32, y as f32]);
            }
            shape.push(SEG_CLOSE);
        }
        let size = i32::try_from(shape.len()).map_err(|_| RoiError::TooManyVertices {
            name: name.to_string(),
            count: shape.len(),
        })?;
        put_i32(&mut header, 36, size);
        body.reserve(shape.len() * 4);
        for v in shape {
            body.extend_from_slice(&v.to_be_bytes());
        }
    }
    let (position, c, z, t) = match roi.position {
        None => (0, 0, 0, 0),
        Some(RoiPosition::Slice(p)) => (p, 0, 0, 0),
        Some(RoiPosition::Hyperstack {
            channel,
            slice,
            frame,
        }) => (0, channel, slice, frame),
    };
    let int = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
    put_i32(&mut header, 56, int(position));
    let header2_offset = HEADER_SIZE + body.len();
    put_i32(&mut header, 60, header2_offset as i32);

    let mut header2 = [0u8; HEADER2_SIZE];
    put_i32(&mut header2, 4, int(c));
    put_i32(&mut header2, 8, int(z));
    put_i32(&mut header2, 12, int(t));
    if name_len > 0 {
        put_i32(&mut header2, 16, (header2_offset + HEADER2_SIZE) as i32);
        put_i32(&mut header2, 20, name_len);
    }

    let mut out = Vec::with_capacity(header2_offset + HEADER2_SIZE + name_units.len() * 2);
    out.extend_from_slice(&header);
    out.extend_from_slice(&body);
    out.extend_from_slice(&header2);
    for u in name_units {
        out.extend_from_slice(&u.to_be_bytes());
    }
    Ok(out)
}

/// The zip entry names (without `.roi`) for `names`, in order: unsafe characters replaced,
/// repeats made unique (see the module docs).
pub fn unique_roi_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for name in names {
        let clean: String = name
            .chars()
            .map(|c| {
                if c == '/' || c == '\\' || c.is_control() {
                    '_'
                } else {
                    c
                }
            })
            .collect();
        let base = if clean.is_empty() {
            "roi".to_string()
        } else {
            clean
        };
        let mut candidate = base.clone();
        let mut k = 2;
        while !seen.insert(candidate.clone()) {
            candidate = format!("{base}-{k}");
            k += 1;
        }
        out.push(candidate);
    }
    out
}

/// The ROI-set zip bytes Fiji's ROI Manager opens: one deflated `<name>.roi` entry per ROI, in
/// order, with the unique names of [`unique_roi_names`] also stored inside each ROI.
pub fn roi_zip_bytes(rois: &[RoiPolygon]) -> Result<Vec<u8>, RoiError> {
    let mut cursor = std::io::Cursor::new(Vec::new());
    fill_zip(&mut cursor, rois).map_err(|e| match e {
        ZipFail::Roi(e) => e,
        // writing into memory cannot fail for any other reason
        ZipFail::Zip(e) => unreachable!("in-memory zip: {e}"),
    })?;
    Ok(cursor.into_inner())
}

/// Writes `rois` as a ROI-set zip at `path` (conventionally `<image>_rois.zip`), atomically: on
/// any error nothing is left at `path`.
pub fn write_roi_zip(path: &Path, rois: &[RoiPolygon]) -> Result<(), IoError> {
    write_atomic_with(path, |out| {
        fill_zip(out, rois).map_err(|e| match e {
            ZipFail::Roi(e) => IoError::write(path, e.to_string()),
            ZipFail::Zip(e) => IoError::write(path, format!("cannot write the zip: {e}")),
        })
    })
}

enum ZipFail {
    Roi(RoiError),
    Zip(zip::result::ZipError),
}

fn fill_zip<W: Write + std::io::Seek>(out: W, rois: &[RoiPolygon]) -> Result<(), ZipFail> {
    let names = unique_roi_names(rois.iter().map(|r| r.name.as_str()));
    let mut zip = zip::ZipWriter::new(out);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default());
    for (roi, name) in rois.iter().zip(names) {
        let bytes = encode_named(roi, &name).map_err(ZipFail::Roi)?;
        zip.start_file(format!("{name}.roi"), options)
            .map_err(ZipFail::Zip)?;
        zip.write_all(&bytes)
            .map_err(|e| ZipFail::Zip(zip::result::ZipError::Io(e)))?;
    }
    zip.finish().map_err(ZipFail::Zip)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_names_sort_by_frame_then_label() {
        assert_eq!(label_roi_name(7, None), "0007");
        assert_eq!(label_roi_name(123456, None), "123456");
        assert_eq!(label_roi_name(7, Some(3)), "0003-0007");
    }

    #[test]
    fn names_are_made_unique_and_safe() {
        let got = unique_roi_names(["0001", "0001", "", "a/b\\c\n", "0001-2", "0001", "roi"]);
        let want = [
            "0001", "0001-2", "roi", "a_b_c_", "0001-2-2", "0001-3", "roi-2",
        ];
        assert_eq!(got, want);
        let set: HashSet<_> = got.iter().collect();
        assert_eq!(set.len(), got.len());
    }

    #[test]
    fn float_rings_are_rounded_to_corners() {
        let c = 1.0 / 64.0;
        // an L of pixels (0,0), (1,0), (1,1) with the inner corner (1,1) cut as a tracer might
        let ext = vec![
            [0.0, 0.0],
            [2.0, 0.0],
            [2.0, 2.0],
            [1.0, 2.0],
            [1.0, 1.0 + c],
            [1.0 - c, 1.0],
            [0.0, 1.0],
            [0.0, 0.0],
        ];
        let part = vec![[5.0, 5.0], [6.0, 5.0], [6.0, 6.0], [5.0, 6.0], [5.0, 5.0]];
        let roi = RoiPolygon::from_rings("0001", [&ext, &part], Some(RoiPosition::Slice(2)));
        assert_eq!(roi.ring, [(0, 0), (2, 0), (2, 2), (1, 2), (1, 1), (0, 1)]);
        assert_eq!(roi.holes, [vec![(5, 5), (6, 5), (6, 6), (5, 6)]]);
        assert_eq!(roi.position, Some(RoiPosition::Slice(2)));
        // two parts make a composite whose bounds cover both
        let b = encode_roi(&roi).unwrap();
        assert_eq!(
            (b[6], &b[8..16]),
            (TYPE_RECT, &[0, 0, 0, 0, 0, 6, 0, 6][..])
        );
        let bad = RoiPolygon::from_rings("x", [[[f64::NAN, 0.0], [1.0, 0.0], [1.0, 1.0]]], None);
        assert!(matches!(encode_roi(&bad), Err(RoiError::OutOfRange { .. })));
        let none = RoiPolygon::from_rings("y", Vec::<Vec<[f64; 2]>>::new(), None);
        assert!(matches!(
            encode_roi(&none),
            Err(RoiError::TooFewVertices { count: 0, .. })
        ));
    }

    #[test]
    fn empty_name_has_no_name_fields() {
        let b = encode_roi(&RoiPolygon::new("", vec![(0, 0), (1, 0), (1, 1)])).unwrap();
        let h2 = 64 + 3 * 4;
        assert_eq!(b.len(), h2 + HEADER2_SIZE);
        assert_eq!(&b[60..64], &(h2 as i32).to_be_bytes());
        assert_eq!(&b[h2 + 16..h2 + 24], &[0; 8]);
    }
}
