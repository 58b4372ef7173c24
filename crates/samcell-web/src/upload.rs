//! Receiving uploads: `multipart/form-data` (any number of file fields, as browsers and
//! `curl -F` send) or a raw body (any other content type, file name in `?name=`).
//!
//! Each file is streamed to `<work_dir>/tmp`, counting bytes: a file above the size limit is
//! discarded (413), a file whose first bytes are not PNG, JPEG, TIFF or BMP is rejected (415,
//! with `samcell_io::read::detect`'s reason). Accepted files become jobs. The rest of an
//! oversized file is read and thrown away (up to [`DRAIN_LIMIT`] bytes) so that the client gets
//! the 413 answer rather than a reset connection.

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header::CONTENT_TYPE;
use futures_util::StreamExt as _;
use serde::Serialize;
use tokio::io::AsyncWriteExt;

use crate::config::MAX_FILES_PER_REQUEST;
use crate::job::{self, now_ms, Job};
use crate::state::{AppState, Shared};

/// How much of an oversized upload is still read (and discarded) before the connection is closed.
pub const DRAIN_LIMIT: u64 = 256 * 1024 * 1024;
const HEAD: usize = 512;

/// A file that was not accepted, and why.
#[derive(Clone, Debug, Serialize)]
pub struct Rejected {
    pub name: String,
    pub error: String,
    /// HTTP status that fits the reason (413 too large, 415 not an image, 400 malformed).
    pub status: u16,
}

/// Settings that come with an upload (query string).
pub struct UploadParams {
    pub batch: String,
    pub peak: f32,
    pub fill: f32,
    /// Resize factor before the model ([`Job::scale`]).
    pub scale: Option<f32>,
    /// File name for a raw-body upload.
    pub name: Option<String>,
    /// TIFF page to segment (from 0).
    pub page: usize,
}

enum Saved {
    Ok {
        tmp: PathBuf,
        bytes: u64,
        head: Vec<u8>,
    },
    TooLarge {
        bytes: u64,
        complete: bool,
    },
}

struct Sink {
    path: PathBuf,
    file: Option<tokio::fs::File>,
    bytes: u64,
    head: Vec<u8>,
    limit: u64,
    /// Set when reading stopped before the end of an oversized file ([`DRAIN_LIMIT`]).
    cut: bool,
}

impl Sink {
    async fn new(dir: &Path, limit: u64) -> Result<Self, String> {
        let path = dir.join(format!("{}.part", job::new_id()));
        let file = tokio::fs::File::create(&path)
            .await
            .map_err(|e| format!("cannot store the upload: {e}"))?;
        Ok(Self {
            path,
            file: Some(file),
            bytes: 0,
            head: Vec::new(),
            limit,
            cut: false,
        })
    }

    /// Takes a chunk; once the file is over the limit the data is dropped. Returns false when
    /// the caller should stop reading: more than [`DRAIN_LIMIT`] bytes past the limit.
    async fn push(&mut self, chunk: &[u8]) -> Result<bool, String> {
        self.bytes += chunk.len() as u64;
        if self.bytes > self.limit {
            if self.file.take().is_some() {
                let _ = tokio::fs::remove_file(&self.path).await;
            }
            self.cut = self.bytes > self.limit.saturating_add(DRAIN_LIMIT);
            return Ok(!self.cut);
        }
        if self.head.len() < HEAD {
            let n = (HEAD - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..n]);
        }
        if let Some(f) = &mut self.file {
            f.write_all(chunk)
                .await
                .map_err(|e| format!("cannot store the upload: {e}"))?;
        }
        Ok(true)
    }

    async fn finish(mut self) -> Result<Saved, String> {
        let Some(f) = self.file.as_mut() else {
            return Ok(Saved::TooLarge {
                bytes: self.bytes,
                complete: !self.cut,
            });
        };
        // on error the file is still owned by the sink, whose drop removes it
        f.flush()
            .await
            .map_err(|e| format!("cannot store the upload: {e}"))?;
        self.file = None; // handed over: the caller moves or removes it
        Ok(Saved::Ok {
            tmp: std::mem::take(&mut self.path),
            bytes: self.bytes,
            head: std::mem::take(&mut self.head),
        })
    }
}

impl Drop for Sink {
    /// An upload that never reached [`Sink::finish`] (client gone, malformed body) leaves no file.
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn mib(b: u64) -> String {
    let m = b as f64 / (1024.0 * 1024.0);
    if m >= 10.0 {
        format!("{m:.0} MB")
    } else if m >= 0.1 {
        format!("{m:.1} MB")
    } else {
        format!("{:.0} KB", (b as f64 / 1024.0).ceil())
    }
}

/// Keeps the last path component of a browser- or curl-given file name.
pub fn clean_name(raw: Option<&str>, index: usize) -> String {
    let base = raw
        .unwrap_or("")
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("")
        .trim();
    let base: String = base.chars().filter(|c| !c.is_control()).take(200).collect();
    if base.is_empty() {
        format!("image-{}", index + 1)
    } else {
        base
    }
}

/// Turns a stored upload into a job, or says why not.
async fn accept(
    shared: &Shared,
    saved: Saved,
    name: String,
    p: &UploadParams,
) -> Result<Job, Rejected> {
    let reject = |status: u16, error: String| Rejected {
        name: name.clone(),
        error,
        status,
    };
    let (tmp, bytes, head) = match saved {
        Saved::Ok { tmp, bytes, head } => (tmp, bytes, head),
        Saved::TooLarge { bytes, complete } => {
            let size = if complete {
                mib(bytes)
            } else {
                format!("more than {}", mib(bytes))
            };
            return Err(reject(
                413,
                format!(
                    "file too large: {size}; this server accepts images up to {} (samcell serve --max-upload-mb)",
                    mib(shared.cfg.max_upload_bytes)
                ),
            ));
        }
    };
    let discard = |status: u16, error: String| {
        let _ = std::fs::remove_file(&tmp);
        reject(status, error)
    };
    if bytes == 0 {
        return Err(discard(415, "empty file (0 bytes)".into()));
    }
    let format = match samcell_io::read::detect(&head) {
        Ok(f) => f,
        Err(reason) => return Err(discard(415, reason)),
    };
    let ext = match format {
        samcell_io::Format::Png => "png",
        samcell_io::Format::Jpeg => "jpg",
        samcell_io::Format::Tiff => "tif",
        samcell_io::Format::Bmp => "bmp",
    };
    let id = job::new_id();
    let dir = shared.dir(&id);
    if let Err(e) = tokio::fs::create_dir_all(&dir).await {
        return Err(discard(
            500,
            format!("cannot create the job directory: {e}"),
        ));
    }
    if let Err(e) = tokio::fs::rename(&tmp, dir.join(format!("input.{ext}"))).await {
        let _ = tokio::fs::remove_dir_all(&dir).await;
        return Err(discard(500, format!("cannot store the upload: {e}")));
    }
    let j = Job {
        bytes,
        created_ms: now_ms(),
        page: p.page,
        peak: p.peak,
        fill: p.fill,
        scale: p.scale,
        ..Job::queued(id, p.batch.clone(), name.clone())
    };
    shared.enqueue(j).map_err(|e| reject(500, e.to_string()))
}

/// Reads every file of the request; returns the jobs made and the files rejected.
pub async fn receive(
    state: &AppState,
    req: Request<Body>,
    p: UploadParams,
) -> Result<(Vec<Job>, Vec<Rejected>), (u16, String)> {
    let shared = &state.0;
    let limit = shared.cfg.max_upload_bytes;
    let (mut jobs, mut rejected) = (Vec::new(), Vec::new());
    let is_multipart = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        });
    if !is_multipart {
        let name = clean_name(p.name.as_deref(), 0);
        let mut sink = Sink::new(&shared.tmp, limit).await.map_err(|e| (500, e))?;
        let mut stream = req.into_body().into_data_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| (400, format!("upload interrupted: {e}")))?;
            if !sink.push(&chunk).await.map_err(|e| (500, e))? {
                break;
            }
        }
        let saved = sink.finish().await.map_err(|e| (500, e))?;
        match accept(shared, saved, name, &p).await {
            Ok(j) => jobs.push(j),
            Err(r) => rejected.push(r),
        }
        return Ok((jobs, rejected));
    }
    let mut mp = Multipart::from_request(req, &())
        .await
        .map_err(|e| (e.status().as_u16(), e.body_text()))?;
    let mut index = 0;
    loop {
        let mut field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                return Err((
                    e.status().as_u16(),
                    format!("malformed upload: {}", e.body_text()),
                ))
            }
        };
        if field.file_name().is_none() {
            continue; // a plain form field
        }
        if index >= MAX_FILES_PER_REQUEST {
            rejected.push(Rejected {
                name: clean_name(field.file_name(), index),
                error: format!("more than {MAX_FILES_PER_REQUEST} files in one request; send the rest separately"),
                status: 413,
            });
            index += 1;
            continue;
        }
        let name = clean_name(field.file_name(), index);
        index += 1;
        let mut sink = Sink::new(&shared.tmp, limit).await.map_err(|e| (500, e))?;
        loop {
            match field.chunk().await {
                Ok(Some(chunk)) => {
                    if !sink.push(&chunk).await.map_err(|e| (500, e))? {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    return Err((
                        400,
                        format!("upload of {name} interrupted: {}", e.body_text()),
                    ))
                }
            }
        }
        // the rest of the request is unread: answer now
        let stop = sink.cut;
        let saved = sink.finish().await.map_err(|e| (500, e))?;
        match accept(shared, saved, name, &p).await {
            Ok(j) => jobs.push(j),
            Err(r) => rejected.push(r),
        }
        if stop {
            break;
        }
    }
    if jobs.is_empty() && rejected.is_empty() {
        return Err((400, "no file in the upload (send multipart/form-data with a file field, or the raw image bytes)".into()));
    }
    Ok((jobs, rejected))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_their_directories() {
        assert_eq!(clean_name(Some("C:\\data\\day1\\a.tif"), 0), "a.tif");
        assert_eq!(clean_name(Some("folder/sub/b.png"), 0), "b.png");
        assert_eq!(clean_name(Some("../../etc/passwd"), 0), "passwd");
        assert_eq!(clean_name(None, 2), "image-3");
        assert_eq!(clean_name(Some("dir/"), 0), "image-1");
    }

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(mib(30 * 1024), "30 KB");
        assert_eq!(mib(512 * 1024 * 1024), "512 MB");
        assert_eq!(mib(3 * 1024 * 1024 / 2), "1.5 MB");
    }
}
