//! [`ServeConfig`]: where the server listens, where it keeps its results, what it accepts.
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
    /// Size of a pixel in micrometres, if known: areas are then also shown in um^2.
    pub pixel_size_um: Option<f64>,
    /// Distance (px) for the `NumberOfNeighbors_<N>` column.
    pub neighbor_distance: u32,
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
            pixel_size_um: None,
            neighbor_distance: DEFAULT_NEIGHBOR_DISTANCE,
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
                 that port can upload images and read every result (there is no login). Use \
                 --host 127.0.0.1 unless this network is trusted.",
                self.host, self.port
            ))
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
        if let Some(p) = self.pixel_size_um {
            if !(p.is_finite() && p > 0.0) {
                return Err(format!("pixel size {p} um must be a positive number"));
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
                pixel_size_um: Some(-1.0),
                ..ok
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}
