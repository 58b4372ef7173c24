//! The channel / Z / time layout of a multi-page TIFF, from ImageJ or OME metadata, and the
//! mapping between a plane's `(c, z, t)` position and its page.
//!
//! Both conventions store one 2-D plane per page (TIFF image directory), the planes in a fixed
//! axis order with the first axis varying fastest:
//! - **ImageJ** hyperstacks (`ImageDescription` starting `ImageJ=`, fields `channels=`,
//!   `slices=`, `frames=`) are always in C, Z, T order: page = `c + C * (z + Z * t)`.
//! - **OME-TIFF** (OME-XML in the first `ImageDescription`) uses the first `Pixels` element's
//!   `SizeC`, `SizeZ`, `SizeT` and `DimensionOrder` (`XYCZT`, `XYZCT`, ...; the three letters
//!   after `XY`, fastest first). The planes are taken to start at the first page, in that order,
//!   as one `TiffData` element covering all planes says (tifffile, Bio-Formats and OME-Zarr
//!   converters write them so); per-plane `TiffData` mappings that reorder pages, and planes in
//!   other files, are not read. An OME channel whose samples are interleaved in the page
//!   (`SamplesPerPixel` > 1 on its `Channel` element: RGB) is one plane, so `channels` counts
//!   `SizeC / SamplesPerPixel` planes.
//!
//! [`StackDims::page_of`] and [`StackDims::plane_of`] are golden-tested against the axes and
//! page order of tifffile's series for ImageJ hyperstacks and OME-TIFFs in every dimension
//! order (`tests/stack_pages.rs`, fixtures by `reference/gen_tiff_layout_fixtures.py`).

use std::fmt;

/// Where [`StackDims`] were read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StackSource {
    /// ImageJ's `ImageDescription` (`channels=`, `slices=`, `frames=`).
    ImageJ,
    /// OME-TIFF XML (`SizeC`, `SizeZ`, `SizeT` of the first `Pixels` element).
    Ome,
}

impl fmt::Display for StackSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StackSource::ImageJ => "ImageJ",
            StackSource::Ome => "OME",
        })
    }
}

/// The order of the C, Z and T axes over the pages, named as OME's `DimensionOrder` (`XY`, then
/// the three axes from the fastest-varying to the slowest).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DimensionOrder {
    /// `XYCZT`: channels fastest, then Z, then time (ImageJ's order, tifffile's OME default).
    Czt,
    /// `XYCTZ`.
    Ctz,
    /// `XYZCT`: Z fastest, then channels, then time.
    Zct,
    /// `XYZTC`.
    Ztc,
    /// `XYTCZ`.
    Tcz,
    /// `XYTZC`.
    Tzc,
}

impl DimensionOrder {
    /// Every order, in OME's list order.
    pub const ALL: [DimensionOrder; 6] = [
        DimensionOrder::Czt,
        DimensionOrder::Ctz,
        DimensionOrder::Zct,
        DimensionOrder::Ztc,
        DimensionOrder::Tcz,
        DimensionOrder::Tzc,
    ];

    /// Parses OME's spelling (`"XYZCT"`; case-insensitive, surrounding blanks ignored).
    pub fn parse_ome(s: &str) -> Option<Self> {
        let s = s.trim().to_ascii_uppercase();
        Self::ALL.into_iter().find(|o| o.ome() == s)
    }

    /// OME's spelling, e.g. `"XYCZT"`.
    pub fn ome(self) -> &'static str {
        match self {
            DimensionOrder::Czt => "XYCZT",
            DimensionOrder::Ctz => "XYCTZ",
            DimensionOrder::Zct => "XYZCT",
            DimensionOrder::Ztc => "XYZTC",
            DimensionOrder::Tcz => "XYTCZ",
            DimensionOrder::Tzc => "XYTZC",
        }
    }

    /// The axes from the fastest-varying to the slowest, as indices into `[c, z, t]`.
    fn axes(self) -> [usize; 3] {
        const C: usize = 0;
        const Z: usize = 1;
        const T: usize = 2;
        match self {
            DimensionOrder::Czt => [C, Z, T],
            DimensionOrder::Ctz => [C, T, Z],
            DimensionOrder::Zct => [Z, C, T],
            DimensionOrder::Ztc => [Z, T, C],
            DimensionOrder::Tcz => [T, C, Z],
            DimensionOrder::Tzc => [T, Z, C],
        }
    }
}

impl fmt::Display for DimensionOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.ome())
    }
}

/// The position of one plane (page) in a stack, each index from 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PlaneIndex {
    /// Channel.
    pub c: usize,
    /// Z slice.
    pub z: usize,
    /// Time point (frame).
    pub t: usize,
}

impl fmt::Display for PlaneIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c {} z {} t {}", self.c, self.z, self.t)
    }
}

/// The channel / Z / time layout that a TIFF's metadata declares for its pages (each page is
/// one 2-D plane; only the page asked for is read). See the [module docs](self) for the rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StackDims {
    /// Channels (C) stored as separate pages, 1 when not declared.
    pub channels: usize,
    /// Z slices, 1 when not declared.
    pub slices: usize,
    /// Time points (T), 1 when not declared.
    pub frames: usize,
    /// The order of the axes over the pages (ImageJ: always C, Z, T).
    pub order: DimensionOrder,
    /// Which metadata declared the layout.
    pub source: StackSource,
}

impl StackDims {
    /// Planes the layout declares: `channels * slices * frames` (saturating).
    pub fn planes(&self) -> usize {
        self.channels
            .saturating_mul(self.slices)
            .saturating_mul(self.frames)
    }

    fn sizes(&self) -> [usize; 3] {
        [self.channels, self.slices, self.frames]
    }

    /// The page (0-based) holding plane `(c, z, t)`; `None` when an index is out of range.
    pub fn page_of(&self, c: usize, z: usize, t: usize) -> Option<usize> {
        let pos = [c, z, t];
        let sizes = self.sizes();
        if pos.iter().zip(&sizes).any(|(p, s)| p >= s) {
            return None;
        }
        let mut page = 0usize;
        let mut stride = 1usize;
        for axis in self.order.axes() {
            page = page.checked_add(pos[axis].checked_mul(stride)?)?;
            stride = stride.checked_mul(sizes[axis])?;
        }
        Some(page)
    }

    /// The position of `page`, the inverse of [`page_of`](Self::page_of); `None` for a page past
    /// the declared planes.
    pub fn plane_of(&self, page: usize) -> Option<PlaneIndex> {
        if page >= self.planes() {
            return None;
        }
        let sizes = self.sizes();
        let mut pos = [0usize; 3];
        let mut rest = page;
        for axis in self.order.axes() {
            pos[axis] = rest % sizes[axis];
            rest /= sizes[axis];
        }
        Some(PlaneIndex {
            c: pos[0],
            z: pos[1],
            t: pos[2],
        })
    }

    /// The pages of channel `c` in page order (its Z slices and time points); empty when `c` is
    /// not a channel of the stack.
    pub fn channel_pages(&self, c: usize) -> Vec<usize> {
        if c >= self.channels {
            return Vec::new();
        }
        (0..self.planes())
            .filter(|&p| self.plane_of(p).is_some_and(|i| i.c == c))
            .collect()
    }

    /// Whether a file of `pages` pages holds the declared planes (at least as many pages as
    /// planes: an OME file may hold further images after the first).
    pub fn fits(&self, pages: usize) -> bool {
        self.planes() <= pages
    }
}

impl fmt::Display for StackDims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} stack of {} channel(s) x {} slice(s) x {} frame(s)",
            self.source, self.channels, self.slices, self.frames
        )?;
        if self.source == StackSource::Ome && self.order != DimensionOrder::Czt {
            write!(f, " ({})", self.order)?;
        }
        Ok(())
    }
}

/// The layout an `ImageDescription` declares: ImageJ's fields or the OME-XML's first `Pixels`
/// element (see the module docs); `None` for other descriptions and for a layout of one plane.
pub(crate) fn parse_stack_dims(desc: &str) -> Option<StackDims> {
    let dims = if desc.starts_with("ImageJ=") {
        let field = |name: &str| {
            desc.lines()
                .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .filter(|&n| n > 0)
                .unwrap_or(1)
        };
        StackDims {
            channels: field("channels"),
            slices: field("slices"),
            frames: field("frames"),
            order: DimensionOrder::Czt,
            source: StackSource::ImageJ,
        }
    } else if desc.contains("<OME") {
        let pixels = element(desc, "Pixels")?;
        let size = |name| {
            attribute(pixels, name)
                .and_then(|v| v.trim().parse::<usize>().ok())
                .filter(|&n| n > 0)
                .unwrap_or(1)
        };
        let order = attribute(pixels, "DimensionOrder")
            .and_then(DimensionOrder::parse_ome)
            .unwrap_or(DimensionOrder::Czt);
        // samples interleaved in one page (RGB) belong to one channel plane
        let after = &desc[desc.find("<Pixels ")?..];
        let samples = element(after, "Channel")
            .and_then(|c| attribute(c, "SamplesPerPixel"))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|&n| n > 1)
            .unwrap_or(1);
        StackDims {
            channels: (size("SizeC") / samples).max(1),
            slices: size("SizeZ"),
            frames: size("SizeT"),
            order,
            source: StackSource::Ome,
        }
    } else {
        return None;
    };
    (dims.planes() > 1).then_some(dims)
}

/// Seconds between time points that an `ImageDescription` declares: ImageJ's `finterval=` in its
/// `tunit=` (`sec` when absent, as ImageJ's calibration defaults; `ms`, `min`, `hour`... and
/// their spellings), or OME's `TimeIncrement` of the first `Pixels` element in its
/// `TimeIncrementUnit` (`s` when absent, as the OME schema defaults). `None` when absent, not a
/// positive finite number, or in a unit that is not a time.
pub(crate) fn parse_frame_interval(desc: &str) -> Option<f64> {
    let (value, unit) = if desc.starts_with("ImageJ=") {
        let field = |name: &str| {
            desc.lines()
                .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
                .map(str::trim)
        };
        (field("finterval")?, field("tunit").unwrap_or("sec"))
    } else if desc.contains("<OME") {
        let pixels = element(desc, "Pixels")?;
        (
            attribute(pixels, "TimeIncrement")?,
            attribute(pixels, "TimeIncrementUnit").unwrap_or("s"),
        )
    } else {
        return None;
    };
    let seconds_per_unit = match unit.trim().to_ascii_lowercase().as_str() {
        "ms" | "msec" | "millisecond" | "milliseconds" => 1e-3,
        "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
        "min" | "mins" | "minute" | "minutes" => 60.0,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3600.0,
        "d" | "day" | "days" => 86400.0,
        _ => return None,
    };
    let v: f64 = value.parse().ok()?;
    (v.is_finite() && v > 0.0).then_some(v * seconds_per_unit)
}

/// The start tag of the first `<name ...>` element (its attributes), without the `>`.
fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}");
    let mut from = 0;
    while let Some(i) = xml[from..].find(&open) {
        let start = from + i;
        let rest = &xml[start + open.len()..];
        // `<Pixels ` or `<Pixels>`, not `<PixelsFoo`
        if rest.starts_with(|ch: char| ch.is_whitespace() || ch == '>' || ch == '/') {
            let end = rest.find('>').unwrap_or(rest.len());
            return Some(&rest[..end]);
        }
        from = start + open.len();
    }
    None
}

/// The value of attribute `name` in an element's start tag (`name="v"` or `name='v'`).
fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let mut from = 0;
    while let Some(i) = tag[from..].find(name) {
        let start = from + i;
        let before_ok = tag[..start].ends_with(|c: char| c.is_whitespace());
        let rest = tag[start + name.len()..].trim_start();
        if before_ok {
            if let Some(rest) = rest.strip_prefix('=') {
                let rest = rest.trim_start();
                let quote = rest.chars().next()?;
                if quote == '"' || quote == '\'' {
                    return rest[1..].split(quote).next();
                }
            }
        }
        from = start + name.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_intervals_from_imagej_and_ome_descriptions() {
        let ij = "ImageJ=1.54f\nimages=4\nframes=4\nfinterval=1800.0\nunit=micron\n";
        assert_eq!(parse_frame_interval(ij), Some(1800.0));
        let ij_min = "ImageJ=1.54f\nimages=4\nframes=4\nfinterval=30\ntunit=min\n";
        assert_eq!(parse_frame_interval(ij_min), Some(1800.0));
        let ij_none = "ImageJ=1.54f\nimages=4\nframes=4\n";
        assert_eq!(parse_frame_interval(ij_none), None);
        let ij_bad = "ImageJ=1.54f\nfinterval=0\n";
        assert_eq!(parse_frame_interval(ij_bad), None);
        let ome = r#"<OME><Image><Pixels DimensionOrder="XYCZT" SizeT="4" TimeIncrement="0.5" TimeIncrementUnit="h"></Pixels></Image></OME>"#;
        assert_eq!(parse_frame_interval(ome), Some(1800.0));
        let ome_s = r#"<OME><Image><Pixels SizeT="4" TimeIncrement="90"></Pixels></Image></OME>"#;
        assert_eq!(parse_frame_interval(ome_s), Some(90.0));
        let ome_unit = r#"<OME><Image><Pixels TimeIncrement="3" TimeIncrementUnit="µm"></Pixels></Image></OME>"#;
        assert_eq!(parse_frame_interval(ome_unit), None);
        assert_eq!(parse_frame_interval("a microscope's own text"), None);
    }

    fn dims(c: usize, z: usize, t: usize, order: DimensionOrder) -> StackDims {
        StackDims {
            channels: c,
            slices: z,
            frames: t,
            order,
            source: StackSource::Ome,
        }
    }

    #[test]
    fn page_of_and_plane_of_are_inverse_in_every_order() {
        for order in DimensionOrder::ALL {
            let d = dims(2, 3, 4, order);
            let mut seen = [false; 24];
            for c in 0..2 {
                for z in 0..3 {
                    for t in 0..4 {
                        let p = d.page_of(c, z, t).expect("in range");
                        assert!(!seen[p], "{order}: page {p} twice");
                        seen[p] = true;
                        assert_eq!(d.plane_of(p), Some(PlaneIndex { c, z, t }), "{order}");
                    }
                }
            }
            assert!(seen.iter().all(|&s| s));
            assert_eq!(d.page_of(2, 0, 0), None);
            assert_eq!(d.page_of(0, 0, 4), None);
            assert_eq!(d.plane_of(24), None);
        }
        // ImageJ / XYCZT: channels fastest
        let d = dims(2, 3, 4, DimensionOrder::Czt);
        assert_eq!(d.page_of(1, 0, 0), Some(1));
        assert_eq!(d.page_of(0, 1, 0), Some(2));
        assert_eq!(d.page_of(0, 0, 1), Some(6));
        assert_eq!(
            d.channel_pages(1),
            (0..12).map(|k| 2 * k + 1).collect::<Vec<_>>()
        );
        // XYZCT: Z fastest
        let d = dims(2, 3, 4, DimensionOrder::Zct);
        assert_eq!(d.page_of(0, 1, 0), Some(1));
        assert_eq!(d.page_of(1, 0, 0), Some(3));
        assert_eq!(d.channel_pages(1)[..4], [3, 4, 5, 9]);
        assert!(d.channel_pages(2).is_empty());
    }

    #[test]
    fn descriptions_parse() {
        let ij = "ImageJ=1.54f\nimages=24\nchannels=2\nslices=3\nframes=4\nhyperstack=true\n";
        let d = parse_stack_dims(ij).expect("ImageJ");
        assert_eq!(
            d,
            StackDims {
                source: StackSource::ImageJ,
                ..dims(2, 3, 4, DimensionOrder::Czt)
            }
        );
        let ome = r#"<OME><Image ID="Image:0"><Pixels ID="Pixels:0" DimensionOrder="XYZCT" SizeC="2" SizeT="4" SizeZ="3" Type="uint8"><Channel ID="Channel:0:0" SamplesPerPixel="1"/></Pixels></Image></OME>"#;
        assert_eq!(
            parse_stack_dims(ome),
            Some(dims(2, 3, 4, DimensionOrder::Zct))
        );
        // RGB: SizeC counts samples; one plane per time point
        let rgb = r#"<OME><Image><Pixels DimensionOrder="XYCZT" SizeC="3" SizeZ="1" SizeT="2" Interleaved="true"><Channel ID="Channel:0:0" SamplesPerPixel="3"/><TiffData IFD="0" PlaneCount="2"/></Pixels></Image></OME>"#;
        assert_eq!(
            parse_stack_dims(rgb),
            Some(dims(1, 1, 2, DimensionOrder::Czt))
        );
        // one plane: no stack; unknown order: XYCZT
        assert_eq!(parse_stack_dims("ImageJ=1.54f\nimages=1\n"), None);
        let odd = r#"<OME><Pixels DimensionOrder="QQ" SizeC="2"></Pixels></OME>"#;
        assert_eq!(
            parse_stack_dims(odd).map(|d| d.order),
            Some(DimensionOrder::Czt)
        );
        assert_eq!(parse_stack_dims("a camera"), None);
    }

    #[test]
    fn attributes_are_matched_whole() {
        let tag = r#" ID="x" SizeCx="9" SizeC = '3' PhysicalSizeX="1""#;
        assert_eq!(attribute(tag, "SizeC"), Some("3"));
        assert_eq!(attribute(tag, "SizeX"), None);
        assert_eq!(
            element("<PixelsX a=\"1\"><Pixels b=\"2\">", "Pixels"),
            Some(" b=\"2\"")
        );
    }
}
