//! [`ServeConfig`]: where the server listens, where it keeps its results, what it accepts, and
//! who may drive it (host names, access token; the rules themselves are in `guard`).
//! Every default is declared once here (the `DEFAULT_*` constants) and used by `Default`.

use std::net::IpAddr;
use std::path::PathBuf;

/// Listening address by default: the loopback interface, reachable only from this computer.
pub const DEFAULT_HOST: &str = "127.0.0.1";
/// Listening port by default.
pub const DEFAULT_PORT: u16 = 8080;
/// Work directory by default (relative to the current directory): uploads, results, job records.
pub const DEFAULT_WORK_DIR: &str = "samcell-work";
/// Largest accepted upload per image file: 512 MiB (a 16-bit 16k x 16k TIFF).
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 512 * 1024 * 1024;
/// Largest number of pixels an uploaded image may decode to (the distance map alone is 4 bytes
/// per pixel): 400 megapixels.
pub const DEFAULT_MAX_PIXELS: u64 = 400_000_000;
/// Seed threshold of new jobs: samcell's `cells_max` (0.47).
pub const DEFAULT_PEAK: f32 = samcell_pipeline::DEFAULT_PEAK;
/// Cell extent threshold of new jobs: samcell's `cell_fill` (0.09).
pub const DEFAULT_FILL: f32 = samcell_pipeline::DEFAULT_FILL;
/// Neighbour distance (px) of `NumberOfNeighbors_<N>` in the per-cell table (CellProfiler's 5).
pub const DEFAULT_NEIGHBOR_DISTANCE: u32 = 5;
/// Files accepted in one upload request.
pub const MAX_FILES_PER_REQUEST: usize = 256;

/// Settings of `samcell serve`.
#[derive(Clone, Debug, PartialEq)]
pub struct ServeConfig {
    /// Interface to listen on (name or IP). Anything but loopback exposes the server to the
    /// network; [`ServeConfig::exposure_warning`] says so.
    pub host: String,
    /// TCP port; 0 picks a free one.
    pub port: u16,
    /// Directory for uploads, results and the job records; created if missing. Finished results
    /// survive a restart.
    pub work_dir: PathBuf,
    /// Largest accepted file, in bytes.
    pub max_upload_bytes: u64,
    /// Largest decoded image, in pixels (width x height).
    pub max_pixels: u64,
    /// Seed threshold (`map > peak`) of new jobs; each job can be re-thresholded later.
    pub peak: f32,
    /// Cell extent threshold (`map > fill`) of new jobs.
    pub fill: f32,
    /// Pixel size for every upload (`--pixel-size`, source `User`), used instead of the files'
    /// own calibration; `None`: each upload's own (`samcell_batch::record::output_calibration`).
    pub pixel_size: Option<samcell_io::Calibration>,
    /// Distance (px) for the `NumberOfNeighbors_<N>` column.
    pub neighbor_distance: u32,
    /// Extra names the `Host` header may carry (`--allowed-host`), for a deliberate remote
    /// setup (a DNS name, a reverse proxy): `name` accepts any port, `name:port` that port only.
    /// The loopback names and the listening address are always accepted.
    pub allowed_hosts: Vec<String>,
    /// Access token every API request must carry (header `X-Samcell-Token` or the page's
    /// cookie). Required when `host` is not loopback ([`ServeConfig::validate`]);
    /// [`crate::serve`] makes a random one then ([`ServeConfig::ensure_token`]).
    pub token: Option<String>,
    /// The model is samcell's built-in samcell-lite (`samcell serve` without `--model`): each
    /// result is checked for signs of an image unlike its training data
    /// ([`crate::Job::domain_warning`]). Off by default (the check's thresholds were measured
    /// for that model only).
    pub builtin_model: bool,
    /// The name of the built-in model's fallback (`samcell serve` without `--model`: the
    /// built-in nuclei model), shown on the results it made ([`crate::Job::routed`]).
    pub fallback_model: Option<String>,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            host: DEFAULT_HOST.to_string(),
            port: DEFAULT_PORT,
            work_dir: PathBuf::from(DEFAULT_WORK_DIR),
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            max_pixels: DEFAULT_MAX_PIXELS,
            peak: DEFAULT_PEAK,
            fill: DEFAULT_FILL,
            pixel_size: None,
            neighbor_distance: DEFAULT_NEIGHBOR_DISTANCE,
            allowed_hosts: Vec::new(),
            token: None,
            builtin_model: false,
            fallback_model: None,
        }
    }
}

impl ServeConfig {
    /// True when `host` is a loopback name or address (`localhost`, `127.0.0.0/8`, `::1`).
    pub fn is_loopback(&self) -> bool {
        let h = self
            .host
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']');
        if h.eq_ignore_ascii_case("localhost") {
            return true;
        }
        h.parse::<IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
    }

    /// The warning to show when the server would be reachable from other computers, `None` on
    /// loopback.
    pub fn exposure_warning(&self) -> Option<String> {
        if self.is_loopback() {
            None
        } else {
            Some(format!(
                "warning: listening on {}:{}, not on localhost: anyone who can reach this machine on \
                 that port and has the access token (printed below) can upload images and read \
                 every result; the connection is not encrypted. Use --host 127.0.0.1 unless this \
                 network is trusted.",
                self.host, self.port
            ))
        }
    }

    /// Gives a non-loopback configuration a fresh random access token if it has none (loopback
    /// ones are left as they are: no token unless one was set).
    pub fn ensure_token(&mut self) {
        if self.token.is_none() && !self.is_loopback() {
            self.token = Some(new_token());
        }
    }

    /// Checks the values a user can get wrong.
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [("peak", self.peak), ("fill", self.fill)] {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("{name} threshold {v} is outside 0..1"));
            }
        }
        if self.max_upload_bytes == 0 {
            return Err("max upload size must be above 0 bytes".into());
        }
        if self.max_pixels == 0 {
            return Err("max image size must be above 0 pixels".into());
        }
        if let Some(p) = &self.pixel_size {
            if ![p.x_um, p.y_um].iter().all(|v| v.is_finite() && *v > 0.0) {
                return Err(format!(
                    "pixel size {} x {} um must be positive numbers",
                    p.x_um, p.y_um
                ));
            }
        }
        if !self.is_loopback() && self.token.is_none() {
            return Err(format!(
                "refusing to listen on {} without an access token: a host other than \
                 127.0.0.1/localhost needs one",
                self.host
            ));
        }
        if let Some(t) = &self.token {
            if t.len() < 16
                || !t
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(
                    "the access token must be at least 16 letters, digits, '-' or '_'".into(),
                );
            }
        }
        for h in &self.allowed_hosts {
            if crate::guard::split_authority(h).is_none() {
                return Err(format!(
                    "--allowed-host {h:?} is not a host name (examples: lab-server.example.org, \
                     lab-server:8080, 192.168.1.5)"
                ));
            }
        }
        if self.neighbor_distance > 100 {
            return Err(format!(
                "neighbour distance {} px is above 100 px",
                self.neighbor_distance
            ));
        }
        Ok(())
    }
}

/// A random access token: 32 hex digits (128 bits) from the operating system's random source
/// (`/dev/urandom`); where that cannot be read, from the standard library's randomly keyed
/// SipHash (its keys come from the same OS source), hashed with the clock and a counter.
pub fn new_token() -> String {
    let mut bytes = [0u8; 16];
    #[cfg(unix)]
    {
        use std::io::Read;
        if std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut bytes))
            .is_ok()
        {
            return bytes.iter().map(|b| format!("{b:02x}")).collect();
        }
    }
    for half in bytes.chunks_mut(8) {
        let id = crate::job::new_id(); // 16 hex digits from a randomly keyed hasher
        let v = u64::from_str_radix(&id, 16).unwrap_or(0);
        half.copy_from_slice(&v.to_le_bytes());
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_detection_and_warning() {
        let mut c = ServeConfig::default();
        assert!(c.is_loopback() && c.exposure_warning().is_none());
        for h in ["localhost", "127.0.0.2", "::1", "[::1]"] {
            c.host = h.into();
            assert!(c.is_loopback(), "{h} is loopback");
        }
        for h in ["0.0.0.0", "192.168.1.5", "::", "lab-server.example.org"] {
            c.host = h.into();
            let w = c.exposure_warning().unwrap_or_default();
            assert!(w.contains("not on localhost") && w.contains(h), "{h}: {w}");
        }
    }

    #[test]
    fn validation_rejects_bad_values() {
        let ok = ServeConfig::default();
        assert_eq!(ok.validate(), Ok(()));
        for bad in [
            ServeConfig {
                peak: 1.5,
                ..ok.clone()
            },
            ServeConfig {
                fill: f32::NAN,
                ..ok.clone()
            },
            ServeConfig {
                max_upload_bytes: 0,
                ..ok.clone()
            },
            ServeConfig {
                pixel_size: Some(samcell_io::Calibration {
                    x_um: 0.5,
                    y_um: -1.0,
                    source: samcell_io::CalibrationSource::User,
                }),
                ..ok.clone()
            },
            ServeConfig {
                allowed_hosts: vec!["bad host/".into()],
                ..ok.clone()
            },
            ServeConfig {
                token: Some("short".into()),
                ..ok
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_remote_host_needs_a_token() {
        let mut c = ServeConfig {
            host: "0.0.0.0".into(),
            ..ServeConfig::default()
        };
        let e = c.validate().unwrap_err();
        assert!(e.contains("without an access token"), "{e}");
        c.ensure_token();
        let t = c.token.clone().unwrap_or_default();
        assert!(
            t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit()),
            "{t}"
        );
        assert_eq!(c.validate(), Ok(()));
        c.ensure_token();
        assert_eq!(
            c.token.as_deref(),
            Some(t.as_str()),
            "an existing token is kept"
        );
        assert_ne!(new_token(), new_token());
        let mut local = ServeConfig::default();
        local.ensure_token();
        assert_eq!(local.token, None, "loopback needs no token");
    }
}
