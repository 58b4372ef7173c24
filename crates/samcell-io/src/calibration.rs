//! Pixel size (spatial calibration) of an input image, in micrometres per pixel, and where it
//! came from; the `--pixel-size` option's values; the ImageJ metadata the TIFF writers add.
//!
//! # Reference behaviour
//! Read from the first page of a TIFF, in this order (the first that gives a size wins):
//! 1. **OME-XML** in the `ImageDescription` (OME schema 2016-06): the first `Pixels` element's
//!    `PhysicalSizeX` / `PhysicalSizeY` with `PhysicalSizeXUnit` / `PhysicalSizeYUnit`, whose
//!    schema default is µm. A missing `PhysicalSizeY` takes the X value.
//! 2. **ImageJ** (`ImageDescription` starting `ImageJ=`) with a `unit=` line, as ImageJ 1.x's
//!    `FileOpener` reads it: pixel width = 1 / `XResolution`, pixel height = 1 / `YResolution`
//!    (X when absent), in that unit (`yunit=` overrides it for Y). `unit=pixel` (ImageJ's
//!    "uncalibrated") gives no calibration. Units: `micron`, `um`, `µm`/`μm` (also written as
//!    the escape `\u00B5m` by tifffile), `nm`, `mm`, `cm`, `m`, `inch`/`in`, `A`/`Å`.
//! 3. **Plain TIFF** `XResolution` / `YResolution` (pixels per unit) with `ResolutionUnit` 2 (inch,
//!    the TIFF 6.0 default when the tag is absent) or 3 (centimetre); `ResolutionUnit` 1 ("no
//!    absolute unit") gives no calibration. Source [`CalibrationSource::TiffResolution`]. Many
//!    programs write 72, 96 or 300 dots per inch by default, which is not a microscope
//!    calibration: [`Calibration::is_dpi_default`] tells callers so; the value is still reported.
//!
//! Zero, negative, infinite or unparsable values give no calibration from that source (the next
//! source is tried). Other formats (PNG, JPEG, BMP) report none.
//!
//! Written: [`imagej_description`] and [`pixel_size_rational`] give the tags ImageJ 1.x writes
//! for a calibrated image (`ImageJ=1.11a\nunit=micron\n`, `XResolution`/`YResolution` = 1 / pixel
//! size in µm as a rational, `ResolutionUnit` 1); Fiji then shows the image in µm, and this
//! module reads it back as [`CalibrationSource::ImageJ`].

use std::fmt;
use std::str::FromStr;

/// Where a [`Calibration`] came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CalibrationSource {
    /// OME-XML `PhysicalSizeX` / `PhysicalSizeY` in the first `ImageDescription`.
    Ome,
    /// ImageJ's `ImageDescription` `unit=` with the `XResolution` / `YResolution` tags.
    ImageJ,
    /// Plain TIFF `ResolutionUnit` (inch or centimetre) with `XResolution` / `YResolution`.
    TiffResolution,
    /// Given by the user (`--pixel-size`), see [`parse_pixel_size`].
    User,
}

impl fmt::Display for CalibrationSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Ome => "OME-XML",
            Self::ImageJ => "ImageJ",
            Self::TiffResolution => "TIFF resolution",
            Self::User => "user",
        })
    }
}

/// Pixel size in micrometres per pixel along X (columns) and Y (rows).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Calibration {
    /// Pixel width, µm.
    pub x_um: f64,
    /// Pixel height, µm.
    pub y_um: f64,
    /// Where the values came from.
    pub source: CalibrationSource,
}

impl Calibration {
    /// True for a plain-TIFF resolution of exactly 72, 96 or 300 dots per inch in both
    /// directions: the defaults of screen and office software, very likely not a calibration.
    pub fn is_dpi_default(&self) -> bool {
        let dpi = |um: f64| MICROMETRES_PER_INCH / um;
        let near = |v: f64, d: f64| (v - d).abs() <= 1e-6 * d;
        self.source == CalibrationSource::TiffResolution
            && [72.0, 96.0, 300.0]
                .iter()
                .any(|&d| near(dpi(self.x_um), d) && near(dpi(self.y_um), d))
    }
}

impl fmt::Display for Calibration {
    /// `0.65 µm/px (ImageJ)`, `0.5 x 0.6 µm/px (user)`; a value [`Calibration::is_dpi_default`]
    /// flags adds its dots per inch and `likely a software default, not a calibration`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.x_um == self.y_um {
            write!(f, "{} µm/px ({}", self.x_um, self.source)?;
        } else {
            write!(f, "{} x {} µm/px ({}", self.x_um, self.y_um, self.source)?;
        }
        if self.is_dpi_default() {
            let dpi = (MICROMETRES_PER_INCH / self.x_um).round();
            write!(
                f,
                ", {dpi} dpi: likely a software default, not a calibration"
            )?;
        }
        f.write_str(")")
    }
}

const MICROMETRES_PER_INCH: f64 = 25_400.0;

/// Micrometres in one `unit` as ImageJ or OME spell it; `None` for unknown units and for
/// `pixel` (no physical unit).
pub fn unit_in_um(unit: &str) -> Option<f64> {
    let u = unit.trim();
    let u = u.replace("\\u00B5", "µ").replace("\\u00b5", "µ");
    Some(match u.as_str() {
        "micron" | "microns" | "um" | "µm" | "μm" | "micrometer" | "micrometre" => 1.0,
        "nm" | "nanometer" | "nanometre" => 1e-3,
        "pm" => 1e-6,
        "A" | "Å" | "angstrom" => 1e-4,
        "mm" | "millimeter" | "millimetre" => 1e3,
        "cm" | "centimeter" | "centimetre" => 1e4,
        "dm" => 1e5,
        "m" | "meter" | "metre" => 1e6,
        "in" | "inch" | "inches" => MICROMETRES_PER_INCH,
        _ => return None,
    })
}

fn positive(v: f64) -> Option<f64> {
    (v.is_finite() && v > 0.0).then_some(v)
}

/// The TIFF tags that carry a calibration, as read from a page.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct TiffCalibrationTags {
    /// `ImageDescription`.
    pub description: Option<String>,
    /// `ResolutionUnit` (1 none, 2 inch, 3 cm); `None` when absent.
    pub resolution_unit: Option<u16>,
    /// `XResolution` as numerator / denominator (pixels per unit).
    pub x_resolution: Option<(u64, u64)>,
    /// `YResolution` as numerator / denominator.
    pub y_resolution: Option<(u64, u64)>,
}

impl TiffCalibrationTags {
    /// Pixel size per resolution unit (1 / resolution) in X and Y (Y falls back to X).
    fn pixel_size(&self) -> Option<(f64, f64)> {
        let size = |(n, d): (u64, u64)| positive(d as f64 / n as f64);
        let x = size(self.x_resolution?)?;
        let y = match self.y_resolution {
            Some(r) => size(r)?,
            None => x,
        };
        Some((x, y))
    }

    /// The calibration these tags declare, by the rules of the module docs.
    pub fn calibration(&self) -> Option<Calibration> {
        let desc = self.description.as_deref().unwrap_or("");
        if desc.contains("<OME") {
            if let Some(c) = ome_calibration(desc) {
                return Some(c);
            }
        }
        if desc.starts_with("ImageJ=") {
            let field = |name: &str| {
                desc.lines()
                    .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
                    .map(str::trim)
            };
            if let Some(unit) = field("unit") {
                let ux = unit_in_um(unit);
                let uy = field("yunit").map_or(ux, unit_in_um);
                return match (ux, uy, self.pixel_size()) {
                    (Some(ux), Some(uy), Some((x, y))) => Some(Calibration {
                        x_um: x * ux,
                        y_um: y * uy,
                        source: CalibrationSource::ImageJ,
                    }),
                    _ => None,
                };
            }
        }
        let unit = match self.resolution_unit.unwrap_or(2) {
            2 => MICROMETRES_PER_INCH,
            3 => 1e4,
            _ => return None,
        };
        let (x, y) = self.pixel_size()?;
        Some(Calibration {
            x_um: x * unit,
            y_um: y * unit,
            source: CalibrationSource::TiffResolution,
        })
    }
}

/// `PhysicalSizeX`/`Y` of the first `Pixels` element of an OME-XML document.
fn ome_calibration(xml: &str) -> Option<Calibration> {
    let pixels = &xml[xml.find("<Pixels ")?..];
    let pixels = &pixels[..pixels.find('>').unwrap_or(pixels.len())];
    let attr = |name: &str| {
        let key = format!(" {name}=\"");
        let start = pixels.find(&key)? + key.len();
        pixels[start..].split('"').next()
    };
    let size = |axis: &str| -> Option<f64> {
        let v = positive(attr(&format!("PhysicalSize{axis}"))?.trim().parse().ok()?)?;
        let unit = attr(&format!("PhysicalSize{axis}Unit"))
            .map(|u| u.replace("&#181;", "µ").replace("&#xB5;", "µ"))
            .unwrap_or_else(|| "µm".to_string());
        Some(v * unit_in_um(&unit)?)
    };
    let x = size("X")?;
    let y = if attr("PhysicalSizeY").is_some() {
        size("Y")?
    } else {
        x
    };
    Some(Calibration {
        x_um: x,
        y_um: y,
        source: CalibrationSource::Ome,
    })
}

/// The `ImageDescription` ImageJ 1.x reads as "calibrated in micrometres".
pub fn imagej_description() -> &'static str {
    "ImageJ=1.11a\nunit=micron\n"
}

/// The resolution tag for a pixel size of `um` micrometres: `1 / um` pixels per µm as the
/// closest rational with 32-bit numerator and denominator (continued fractions), `None` when
/// `um` is not a positive finite number or `1 / um` does not fit.
pub fn pixel_size_rational(um: f64) -> Option<(u32, u32)> {
    let v = 1.0 / positive(um)?;
    if !(v.is_finite() && v <= f64::from(u32::MAX)) || v < 1.0 / f64::from(u32::MAX) {
        return None;
    }
    // convergents h/k of the continued fraction of v, kept while both fit in u32
    let (mut h0, mut h1, mut k0, mut k1) = (0u64, 1u64, 1u64, 0u64);
    let mut x = v;
    let mut best = None;
    for _ in 0..64 {
        let a = x.floor();
        if a > u64::from(u32::MAX) as f64 {
            break;
        }
        let a = a as u64;
        let (h2, k2) = (a * h1 + h0, a * k1 + k0);
        if h2 > u64::from(u32::MAX) || k2 > u64::from(u32::MAX) {
            break;
        }
        best = Some((h2 as u32, k2 as u32));
        let frac = x - a as f64;
        if frac < 1e-12 || (h2 as f64 / k2 as f64 - v).abs() <= v * 1e-15 {
            break;
        }
        (h0, h1, k0, k1) = (h1, h2, k1, k2);
        x = 1.0 / frac;
    }
    best.filter(|&(n, d)| n > 0 && d > 0)
}

/// Errors of [`parse_pixel_size`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PixelSizeError {
    /// Nothing given.
    #[error("empty pixel size (expected e.g. 0.65um, 650nm, 0.5x0.6um)")]
    Empty,
    /// A number that does not parse.
    #[error(
        "pixel size {value:?}: {number:?} is not a number (expected e.g. 0.65um, 650nm, 0.5x0.6um)"
    )]
    NotANumber {
        /// The whole value given.
        value: String,
        /// The part that should be a number.
        number: String,
    },
    /// A unit that is not a length.
    #[error(
        "pixel size {value:?}: unknown unit {unit:?} (use um, µm, micron, nm, mm, cm, m or inch)"
    )]
    UnknownUnit {
        /// The whole value given.
        value: String,
        /// The unit given.
        unit: String,
    },
    /// Zero, negative or infinite.
    #[error("pixel size {value:?}: must be a positive finite length")]
    NotPositive {
        /// The whole value given.
        value: String,
    },
}

/// Parses a `--pixel-size` value: a number, or `X`x`Y` for different sizes along X and Y,
/// followed by an optional unit (µm when none), spaces allowed before the unit: `0.65um`,
/// `0.65µm`, `0.65 um`, `650nm`, `0.65`, `0.5x0.6um`. The result has source
/// [`CalibrationSource::User`].
pub fn parse_pixel_size(value: &str) -> Result<Calibration, PixelSizeError> {
    let s = value.trim();
    if s.is_empty() {
        return Err(PixelSizeError::Empty);
    }
    // the unit is the trailing alphabetic part (plus µ / μ / Å)
    let is_unit_char = |c: char| c.is_alphabetic() || c == 'µ' || c == 'μ' || c == 'Å';
    let split = s
        .char_indices()
        .rev()
        .take_while(|&(_, c)| is_unit_char(c))
        .last()
        .map_or(s.len(), |(i, _)| i);
    let (numbers, unit) = s.split_at(split);
    let scale = if unit.is_empty() {
        1.0
    } else {
        unit_in_um(unit).ok_or_else(|| PixelSizeError::UnknownUnit {
            value: value.to_string(),
            unit: unit.to_string(),
        })?
    };
    let number = |t: &str| -> Result<f64, PixelSizeError> {
        let t = t.trim();
        let v: f64 = t.parse().map_err(|_| PixelSizeError::NotANumber {
            value: value.to_string(),
            number: t.to_string(),
        })?;
        positive(v * scale).ok_or_else(|| PixelSizeError::NotPositive {
            value: value.to_string(),
        })
    };
    let (x, y) = match numbers.split_once(['x', 'X', '×']) {
        Some((x, y)) => (number(x)?, number(y)?),
        None => {
            let v = number(numbers)?;
            (v, v)
        }
    };
    Ok(Calibration {
        x_um: x,
        y_um: y,
        source: CalibrationSource::User,
    })
}

impl FromStr for Calibration {
    type Err = PixelSizeError;

    /// [`parse_pixel_size`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_pixel_size(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs()
    }

    fn user(x: f64, y: f64) -> Calibration {
        Calibration {
            x_um: x,
            y_um: y,
            source: CalibrationSource::User,
        }
    }

    #[test]
    fn pixel_size_values_parse() {
        for (s, x, y) in [
            ("0.65um", 0.65, 0.65),
            ("0.65µm", 0.65, 0.65),
            ("0.65μm", 0.65, 0.65),
            ("0.65 um", 0.65, 0.65),
            (" 0.65 micron ", 0.65, 0.65),
            ("650nm", 0.65, 0.65),
            ("0.65", 0.65, 0.65),
            ("0.5x0.6um", 0.5, 0.6),
            ("0.5 x 0.6 um", 0.5, 0.6),
            ("0.5X0.6", 0.5, 0.6),
            ("500x600nm", 0.5, 0.6),
            ("1e-3mm", 1.0, 1.0),
        ] {
            let c = parse_pixel_size(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert!(close(c.x_um, x) && close(c.y_um, y), "{s}: {c:?}");
            assert_eq!(c.source, CalibrationSource::User);
            assert_eq!(s.parse::<Calibration>().unwrap(), c);
        }
    }

    #[test]
    fn bad_pixel_sizes_say_what_is_wrong() {
        assert_eq!(parse_pixel_size("  "), Err(PixelSizeError::Empty));
        let e = parse_pixel_size("0.65furlong").unwrap_err();
        assert!(matches!(&e, PixelSizeError::UnknownUnit { unit, .. } if unit == "furlong"));
        assert!(e.to_string().contains("unknown unit \"furlong\""), "{e}");
        let e = parse_pixel_size("0.6.5um").unwrap_err();
        assert!(matches!(&e, PixelSizeError::NotANumber { number, .. } if number == "0.6.5"));
        assert!(matches!(
            parse_pixel_size("0um"),
            Err(PixelSizeError::NotPositive { .. })
        ));
        assert!(matches!(
            parse_pixel_size("-1"),
            Err(PixelSizeError::NotANumber { .. } | PixelSizeError::NotPositive { .. })
        ));
        assert!(matches!(
            parse_pixel_size("0.5x"),
            Err(PixelSizeError::UnknownUnit { .. })
        ));
        assert!(matches!(
            parse_pixel_size("x0.5um"),
            Err(PixelSizeError::NotANumber { .. })
        ));
        assert!(parse_pixel_size("um").is_err());
    }

    fn tags(desc: Option<&str>, unit: Option<u16>, x: Option<(u64, u64)>) -> TiffCalibrationTags {
        TiffCalibrationTags {
            description: desc.map(str::to_string),
            resolution_unit: unit,
            x_resolution: x,
            y_resolution: x,
        }
    }

    #[test]
    fn tag_rules() {
        // OME wins over the resolution tags; default unit µm; Y falls back to X
        let ome = r#"<OME><Image><Pixels ID="P" PhysicalSizeX="0.65" SizeX="4">"#;
        let c = tags(Some(ome), Some(3), Some((10, 1)))
            .calibration()
            .unwrap();
        assert_eq!(
            (c.x_um, c.y_um, c.source),
            (0.65, 0.65, CalibrationSource::Ome)
        );
        let ome = r#"<OME><Pixels PhysicalSizeX="650" PhysicalSizeXUnit="nm" PhysicalSizeY="0.7" PhysicalSizeYUnit="&#181;m">"#;
        let c = tags(Some(ome), None, None).calibration().unwrap();
        assert!(close(c.x_um, 0.65) && close(c.y_um, 0.7), "{c:?}");
        // ImageJ: unit with 1 / resolution; pixel = uncalibrated; no unit line: plain rules
        for unit in ["micron", "um", "µm", "\\u00B5m"] {
            let d = format!("ImageJ=1.54f\nunit={unit}\n");
            let c = tags(Some(&d), Some(1), Some((20, 13)))
                .calibration()
                .unwrap();
            assert!(close(c.x_um, 0.65), "{unit}: {c:?}");
            assert_eq!(c.source, CalibrationSource::ImageJ);
        }
        let d = "ImageJ=1.54f\nunit=nm\n";
        let c = tags(Some(d), Some(1), Some((1, 650)))
            .calibration()
            .unwrap();
        assert!(close(c.x_um, 0.65), "{c:?}");
        let d = "ImageJ=1.54f\nunit=pixel\n";
        assert_eq!(tags(Some(d), Some(1), Some((1, 1))).calibration(), None);
        let d = "ImageJ=1.54f\nimages=1\n";
        assert_eq!(tags(Some(d), Some(1), Some((1, 1))).calibration(), None);
        // plain: cm, inch (also when ResolutionUnit is absent), none
        let c = tags(None, Some(3), Some((20_000, 1)))
            .calibration()
            .unwrap();
        assert!(close(c.x_um, 0.5) && c.source == CalibrationSource::TiffResolution);
        assert!(!c.is_dpi_default());
        let c = tags(None, None, Some((72, 1))).calibration().unwrap();
        assert!(close(c.x_um, 25_400.0 / 72.0) && c.is_dpi_default());
        assert!(c.to_string().ends_with(
            "µm/px (TIFF resolution, 72 dpi: likely a software default, not a calibration)"
        ));
        let c = tags(None, Some(2), Some((2540, 1))).calibration().unwrap();
        assert_eq!(c.to_string(), "10 µm/px (TIFF resolution)");
        assert_eq!(tags(None, Some(1), Some((72, 1))).calibration(), None);
        assert_eq!(tags(None, Some(2), Some((0, 1))).calibration(), None);
        assert_eq!(tags(None, Some(2), None).calibration(), None);
    }

    #[test]
    fn rationals_invert_the_pixel_size() {
        for um in [0.65, 0.1, 1.0, 3.0, 0.108, 6.5, 1e-3, 250.0, 0.3333333] {
            let (n, d) = pixel_size_rational(um).unwrap();
            assert!(close(f64::from(d) / f64::from(n), um), "{um}: {n}/{d}");
        }
        assert_eq!(pixel_size_rational(0.65), Some((20, 13)));
        assert_eq!(pixel_size_rational(0.0), None);
        assert_eq!(pixel_size_rational(f64::NAN), None);
        assert_eq!(user(0.5, 0.5).to_string(), "0.5 µm/px (user)");
    }
}
