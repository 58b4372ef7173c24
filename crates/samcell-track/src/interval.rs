//! Time between frames: `--frame-interval` values such as `30min`, `90s`, `1.5h` (a positive
//! number and a unit: `s`/`sec`, `min`, `h`/`hr`; a space between them is allowed). Times are
//! written in the unit given. Without an interval, time is counted in frames.

/// The time between two frames.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FrameInterval {
    /// The interval in `unit`s, > 0.
    pub value: f64,
    /// The unit it was given in (and times are written in): `s`, `min` or `h`.
    pub unit: &'static str,
}

impl FrameInterval {
    /// Parses `30min`, `90 s`, `1.5h` (module docs).
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == 'e' || c == 'E'))
            .unwrap_or(t.len());
        let (num, unit) = (t[..split].trim(), t[split..].trim());
        let value: f64 = num
            .parse()
            .map_err(|_| format!("{s:?}: expected a number and a unit, e.g. 30min, 90s, 1.5h"))?;
        if !(value.is_finite() && value > 0.0) {
            return Err(format!("{s:?}: the interval must be positive"));
        }
        let unit = match unit.to_ascii_lowercase().as_str() {
            "s" | "sec" => "s",
            "min" => "min",
            "h" | "hr" => "h",
            "" => return Err(format!("{s:?}: add a unit (s, min or h), e.g. 30min")),
            u => return Err(format!("{s:?}: unknown unit {u:?} (use s, min or h)")),
        };
        Ok(Self { value, unit })
    }

    /// An interval given in seconds (e.g. read from a file's metadata), in the largest of h, min
    /// and s in which it is at least 1 (1800 s -> 30 min).
    pub fn from_seconds(seconds: f64) -> Self {
        if seconds >= 3600.0 {
            Self {
                value: seconds / 3600.0,
                unit: "h",
            }
        } else if seconds >= 60.0 {
            Self {
                value: seconds / 60.0,
                unit: "min",
            }
        } else {
            Self {
                value: seconds,
                unit: "s",
            }
        }
    }
}

/// How frame numbers map to time: with an interval, `t * interval` in its unit; without, the
/// frame number itself, in frames.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Timeline(pub Option<FrameInterval>);

impl Timeline {
    /// The time of frame `t`.
    pub fn time(&self, t: usize) -> f64 {
        self.0.map_or(t as f64, |i| t as f64 * i.value)
    }

    /// The time unit: `s`, `min`, `h`, or `frames`.
    pub fn unit(&self) -> &'static str {
        self.0.map_or("frames", |i| i.unit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_take_the_largest_fitting_unit() {
        let i = FrameInterval::from_seconds(1800.0);
        assert_eq!((i.value, i.unit), (30.0, "min"));
        let i = FrameInterval::from_seconds(5400.0);
        assert_eq!((i.value, i.unit), (1.5, "h"));
        let i = FrameInterval::from_seconds(0.5);
        assert_eq!((i.value, i.unit), (0.5, "s"));
    }

    #[test]
    fn intervals_with_units() {
        assert_eq!(
            FrameInterval::parse("30min").unwrap(),
            FrameInterval {
                value: 30.0,
                unit: "min"
            }
        );
        assert_eq!(FrameInterval::parse("1.5 h").unwrap().value, 1.5);
        assert_eq!(FrameInterval::parse("90s").unwrap().unit, "s");
        assert!(FrameInterval::parse("30").unwrap_err().contains("unit"));
        assert!(FrameInterval::parse("-2min").is_err());
        assert!(FrameInterval::parse("3 days")
            .unwrap_err()
            .contains("unknown unit"));
        let t = Timeline(Some(FrameInterval {
            value: 30.0,
            unit: "min",
        }));
        assert_eq!((t.time(3), t.unit()), (90.0, "min"));
        assert_eq!(
            (Timeline(None).time(3), Timeline(None).unit()),
            (3.0, "frames")
        );
    }
}
