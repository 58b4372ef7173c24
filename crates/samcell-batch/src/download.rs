//! Downloading a model file over HTTP(S) with `ureq`.
//!
//! The body is streamed into a temporary file in the destination folder (`.samcell-download-*`),
//! its progress reported to the caller ([`DownloadProgress`]). The file is checked (size against `Content-Length`,
//! and that it starts like a checkpoint: a PyTorch zip or safetensors, so that an HTML error page
//! is never cached as a model), flushed to disk, and only then renamed onto the destination. Any
//! failure leaves no file at the destination and removes the temporary file.
//!
//! Timeouts: 30 s to connect, 60 s for the response headers, and an idle timeout on the body:
//! when no byte arrives for [`DEFAULT_IDLE_TIMEOUT_S`] seconds (env [`IDLE_TIMEOUT_ENV`]
//! overrides it) the download is abandoned with an error (the caller adds where to put the file
//! by hand). Errors are [`DownloadError`]. The body is read on a helper thread so that a read blocked on a stalled connection
//! cannot hold the download up; that thread ends with the connection or the process.
//!
//! Temporary files left by a download that was killed (`.samcell-download-*.part`) are removed
//! from the cache folder at the start of the next download once they have not changed for
//! [`STALE_PART_AGE_S`] seconds (a live download writes to its file continuously).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

/// Env var: seconds without any received byte after which a download is abandoned.
pub const IDLE_TIMEOUT_ENV: &str = "SAMCELL_DOWNLOAD_IDLE_TIMEOUT_S";

/// Default of [`IDLE_TIMEOUT_ENV`].
pub const DEFAULT_IDLE_TIMEOUT_S: f64 = 60.0;

/// Age (seconds since last change) from which a leftover temporary download file is removed.
pub const STALE_PART_AGE_S: u64 = 600;

/// Why a download failed.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// The cache folder cannot be created.
    #[error("cannot create the model cache folder {}", path.display())]
    CreateDir {
        /// The folder.
        path: PathBuf,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// The server answered with an error status.
    #[error("the server answered HTTP {0}")]
    Status(u16),
    /// The request failed (no connection, TLS, timeout before the headers).
    #[error("request failed")]
    Request(#[source] Box<ureq::Error>),
    /// The reading thread could not be started.
    #[error("cannot start the download thread")]
    Thread(#[source] std::io::Error),
    /// The temporary file cannot be created.
    #[error("cannot create a temporary file in {}", path.display())]
    TempFile {
        /// The folder.
        path: PathBuf,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// The connection broke.
    #[error("download interrupted")]
    Interrupted(#[source] Option<std::io::Error>),
    /// No byte arrived for the idle timeout.
    #[error(
        "download stalled: no data for {seconds} s after {bytes} bytes (set {IDLE_TIMEOUT_ENV} \
         to wait longer)"
    )]
    Stalled {
        /// The idle timeout.
        seconds: f64,
        /// Bytes received before.
        bytes: u64,
    },
    /// The temporary file cannot be written or flushed.
    #[error("cannot write the downloaded data")]
    Write(#[source] std::io::Error),
    /// Fewer bytes than announced.
    #[error("download incomplete: got {got} of {expected} bytes")]
    Incomplete {
        /// Bytes received.
        got: u64,
        /// Bytes announced.
        expected: u64,
    },
    /// The body is not a checkpoint (e.g. an HTML error page).
    #[error("the server's answer ({0} bytes) is not a PyTorch or safetensors checkpoint")]
    NotCheckpoint(u64),
    /// The finished download cannot be moved onto the destination.
    #[error("cannot move the download to {}", path.display())]
    Persist {
        /// The destination.
        path: PathBuf,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
}

/// Where a download reports its progress (a progress bar, or nothing).
pub trait DownloadProgress {
    /// The download of `what` starts; `len`: bytes announced, if any.
    fn start(&mut self, len: Option<u64>, what: &str);
    /// `bytes` received so far.
    fn position(&mut self, bytes: u64);
    /// The transfer ended (successfully or not).
    fn finish(&mut self);
}

/// Progress that goes nowhere.
pub struct NoProgress;

impl DownloadProgress for NoProgress {
    fn start(&mut self, _: Option<u64>, _: &str) {}
    fn position(&mut self, _: u64) {}
    fn finish(&mut self) {}
}

const PART_PREFIX: &str = ".samcell-download-";
const PART_SUFFIX: &str = ".part";

/// The idle timeout in force ([`IDLE_TIMEOUT_ENV`], else the default).
fn idle_timeout() -> Duration {
    let Ok(v) = std::env::var(IDLE_TIMEOUT_ENV) else {
        return Duration::from_secs_f64(DEFAULT_IDLE_TIMEOUT_S);
    };
    match v.trim().parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s < 1e9 => Duration::from_secs_f64(s),
        _ => {
            tracing::warn!(
                "{IDLE_TIMEOUT_ENV}={v:?} is not a positive number of seconds; using {DEFAULT_IDLE_TIMEOUT_S}"
            );
            Duration::from_secs_f64(DEFAULT_IDLE_TIMEOUT_S)
        }
    }
}

/// Removes `.samcell-download-*.part` files in `dir` unchanged for `max_age` or longer.
fn remove_stale_parts(dir: &Path, max_age: Duration) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let now = SystemTime::now();
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with(PART_PREFIX) && name.ends_with(PART_SUFFIX)) {
            continue;
        }
        let Ok(meta) = e.metadata() else { continue };
        let age = meta
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .unwrap_or_default();
        if meta.is_file() && age >= max_age {
            match std::fs::remove_file(e.path()) {
                Ok(()) => tracing::info!(
                    "removed {} ({} bytes), left by an interrupted download",
                    e.path().display(),
                    meta.len()
                ),
                Err(err) => tracing::warn!(
                    "cannot remove {}, left by an interrupted download: {err}",
                    e.path().display()
                ),
            }
        }
    }
}

/// Reads `reader` on a helper thread, passing chunks (an empty one at the end) to the receiver.
fn read_in_background(
    mut reader: impl Read + Send + 'static,
) -> Result<mpsc::Receiver<std::io::Result<Vec<u8>>>, DownloadError> {
    let (tx, rx) = mpsc::sync_channel(4);
    std::thread::Builder::new()
        .name("samcell-download".into())
        .spawn(move || {
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let msg = match reader.read(&mut buf) {
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Ok(n) => Ok(buf[..n].to_vec()),
                    Err(e) => Err(e),
                };
                let last = !matches!(&msg, Ok(c) if !c.is_empty());
                if tx.send(msg).is_err() || last {
                    return;
                }
            }
        })
        .map_err(DownloadError::Thread)?;
    Ok(rx)
}

/// Downloads `url` to `dest` (atomically, see the module doc).
pub fn fetch_to(
    url: &str,
    dest: &Path,
    progress: &mut dyn DownloadProgress,
) -> Result<(), DownloadError> {
    let dir = match dest.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(|source| DownloadError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })?;
    let idle = idle_timeout();
    remove_stale_parts(
        dir,
        Duration::from_secs(STALE_PART_AGE_S).max(idle.saturating_mul(2)),
    );
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_recv_response(Some(Duration::from_secs(60)))
        .user_agent(concat!("samcell/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let response = agent.get(url).call().map_err(|e| match e {
        ureq::Error::StatusCode(code) => DownloadError::Status(code),
        other => DownloadError::Request(Box::new(other)),
    })?;
    // with a Content-Encoding the length is that of the encoded body; ureq decodes gzip itself
    let encoded = response.headers().contains_key("content-encoding");
    let len = response.body().content_length().filter(|_| !encoded);
    let chunks = read_in_background(response.into_body().into_reader())?;
    let mut tmp = tempfile::Builder::new()
        .prefix(PART_PREFIX)
        .suffix(PART_SUFFIX)
        .tempfile_in(dir)
        .map_err(|source| DownloadError::TempFile {
            path: dir.to_path_buf(),
            source,
        })?;
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    progress.start(len, &format!("downloading {name}"));
    let result = receive(&chunks, &mut tmp, idle, len, progress);
    progress.finish();
    let total = result?;
    tmp.as_file().sync_all().map_err(DownloadError::Write)?;
    tmp.persist(dest).map_err(|e| DownloadError::Persist {
        path: dest.to_path_buf(),
        source: e.error,
    })?;
    tracing::info!("downloaded {url} ({total} bytes) to {}", dest.display());
    Ok(())
}

/// Writes the received chunks to `tmp` and checks them (length, checkpoint start); returns the
/// byte count.
fn receive(
    chunks: &mpsc::Receiver<std::io::Result<Vec<u8>>>,
    tmp: &mut tempfile::NamedTempFile,
    idle: Duration,
    len: Option<u64>,
    progress: &mut dyn DownloadProgress,
) -> Result<u64, DownloadError> {
    let mut total: u64 = 0;
    let mut head = Vec::with_capacity(16);
    loop {
        let chunk = match chunks.recv_timeout(idle) {
            Ok(r) => r.map_err(|e| DownloadError::Interrupted(Some(e)))?,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                return Err(DownloadError::Stalled {
                    seconds: idle.as_secs_f64(),
                    bytes: total,
                })
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(DownloadError::Interrupted(None))
            }
        };
        if chunk.is_empty() {
            break;
        }
        if head.len() < 16 {
            let take = (16 - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..take]);
        }
        tmp.write_all(&chunk).map_err(DownloadError::Write)?;
        total += chunk.len() as u64;
        progress.position(total);
    }
    if let Some(expected) = len {
        if total != expected {
            return Err(DownloadError::Incomplete {
                got: total,
                expected,
            });
        }
    }
    if !looks_like_checkpoint(&head) {
        return Err(DownloadError::NotCheckpoint(total));
    }
    Ok(total)
}

/// First bytes of a `torch.save` zip (`PK\x03\x04`) or a safetensors file (u64 header length,
/// then `{`).
fn looks_like_checkpoint(head: &[u8]) -> bool {
    head.starts_with(b"PK\x03\x04") || (head.len() > 8 && head[8] == b'{')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_old_partial_downloads_are_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let old = tmp.path().join(".samcell-download-old.part");
        let fresh = tmp.path().join(".samcell-download-new.part");
        let other = tmp.path().join("keep.part");
        for p in [&old, &fresh, &other] {
            std::fs::write(p, b"x").unwrap();
        }
        let day_ago = SystemTime::now() - Duration::from_secs(86_400);
        for p in [&old, &other] {
            std::fs::File::options()
                .write(true)
                .open(p)
                .unwrap()
                .set_modified(day_ago)
                .unwrap();
        }
        remove_stale_parts(tmp.path(), Duration::from_secs(STALE_PART_AGE_S));
        assert!(!old.exists(), "a day-old partial download is removed");
        assert!(fresh.exists(), "a partial download being written is kept");
        assert!(other.exists(), "other files are not touched");
    }

    #[test]
    fn checkpoint_sniffing() {
        assert!(looks_like_checkpoint(b"PK\x03\x04rest"));
        assert!(looks_like_checkpoint(b"\x10\0\0\0\0\0\0\0{\"a\""));
        assert!(!looks_like_checkpoint(b"<!DOCTYPE html>"));
        assert!(!looks_like_checkpoint(b""));
    }
}
