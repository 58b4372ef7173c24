//! Downloads of finished jobs: each job's files (`/api/jobs/{id}/files/{file}`: stored ones, and
//! the GeoJSON and ROI set made on request, `crate::outlines`), the per-job and per-batch ZIPs
//! and the batch `summary.csv`. A done job whose result files are gone is marked
//! failed on the way (409 with the reason, never 500), and left out of batch downloads.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::Response;
use serde_json::json;
use std::collections::HashMap;

use crate::api::{check_batch, check_id, ApiError, ApiResult, API_DOCS};
use crate::job::{files, Job, JobState};
use crate::outlines::Outline;
use crate::state::AppState;
use crate::zipping;

/// Where a job file's bytes come from.
#[derive(Clone, Copy)]
enum Source {
    /// This file of the job directory.
    Disk(&'static str),
    /// The job's results ZIP, made on request.
    Zip,
    /// An outline file, made on request.
    Outline(Outline),
}

/// A file of a finished job, served at `/api/jobs/{id}/files/{name}`.
pub(crate) struct JobFile {
    /// Key in [`crate::api::JobView::files`].
    pub key: &'static str,
    /// Name in the URL; downloads are saved as `<stem>_<name>` (outlines: `<stem><suffix>`,
    /// as `samcell segment` names them).
    pub name: &'static str,
    source: Source,
    ctype: &'static str,
    /// Sent as an attachment (download) rather than shown inline (viewer layers).
    download: bool,
}

const fn jf(
    key: &'static str,
    name: &'static str,
    source: Source,
    ctype: &'static str,
    download: bool,
) -> JobFile {
    JobFile {
        key,
        name,
        source,
        ctype,
        download,
    }
}

const TIFF: &str = "image/tiff";
const PNG: &str = "image/png";
const CSV: &str = "text/csv; charset=utf-8";
const ZIP: &str = "application/zip";
/// RFC 7946's media type.
const GEOJSON: &str = "application/geo+json";

/// Every file a finished job offers (the README's API table lists the same).
#[rustfmt::skip]
pub(crate) const JOB_FILES: [JobFile; 13] = [
    jf("masks", "masks.tif", Source::Disk(files::MASKS), TIFF, true),
    jf("overlay", "overlay.png", Source::Disk(files::OVERLAY), PNG, true),
    jf("cells", "cells.csv", Source::Disk(files::CELLS), CSV, true),
    jf("summary", "summary.csv", Source::Disk(files::SUMMARY), CSV, true),
    jf("distmap", "distmap.tif", Source::Disk(files::DISTMAP_TIFF), TIFF, true),
    jf("geojson", "cells.geojson", Source::Outline(Outline::GeoJson), GEOJSON, true),
    jf("rois", "rois.zip", Source::Outline(Outline::Rois), ZIP, true),
    jf("zip", "results.zip", Source::Zip, ZIP, true),
    jf("image", "image.png", Source::Disk(files::GRAY), PNG, false),
    jf("view_image", "view_image.png", Source::Disk(files::VIEW_IMAGE), PNG, false),
    jf("view_fill", "view_fill.png", Source::Disk(files::VIEW_FILL), PNG, false),
    jf("view_edges", "view_edges.png", Source::Disk(files::VIEW_EDGES), PNG, false),
    jf("view_distmap", "view_distmap.png", Source::Disk(files::VIEW_DISTMAP), PNG, false),
];

/// `filename*` (RFC 5987) with an ASCII fallback.
pub(crate) fn disposition(kind: &str, name: &str) -> HeaderValue {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.+".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut enc = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.+".contains(&b) {
            enc.push(b as char);
        } else {
            enc.push_str(&format!("%{b:02X}"));
        }
    }
    HeaderValue::from_str(&format!(
        "{kind}; filename=\"{ascii}\"; filename*=UTF-8''{enc}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

pub(crate) fn bytes_response(ctype: &str, disp: Option<HeaderValue>, bytes: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(bytes));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(ctype)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Some(d) = disp {
        h.insert(header::CONTENT_DISPOSITION, d);
    }
    r
}

fn settings_json(s: &AppState, jobs: &[Job]) -> serde_json::Value {
    json!({
        "samcell_version": env!("CARGO_PKG_VERSION"),
        "model": s.model_description(),
        "neighbor_distance_px": s.config().neighbor_distance,
        "pixel_size_um": s.config().pixel_size.map(|c| [c.x_um, c.y_um]),
        "images": jobs.iter().map(|j| json!({
            "name": j.name, "id": j.id, "peak": crate::job::short_f64(j.peak), "fill": crate::job::short_f64(j.fill),
            "width": j.width, "height": j.height, "source": j.source, "page": j.page,
            "pixel_size_um": j.pixel_size_um, "pixel_size_source": j.pixel_size_source,
            "warning": j.warning, "domain_warning": j.domain_warning,
        })).collect::<Vec<_>>(),
    })
}

/// The output names of `jobs` (all of one batch), each given among every upload of its batch
/// in upload order (`samcell_batch::naming`), so that a name does not depend on which of the
/// other images are done or asked for.
pub(crate) fn names_in_batch(s: &AppState, jobs: &[Job]) -> Vec<String> {
    let Some(first) = jobs.first() else {
        return Vec::new();
    };
    let all: Vec<Job> =
        s.0.all()
            .into_iter()
            .filter(|j| j.batch == first.batch)
            .collect();
    let by_id: HashMap<String, String> = all
        .iter()
        .map(|j| j.id.clone())
        .zip(zipping::unique_stems(&all))
        .collect();
    let mut names: Vec<String> = jobs
        .iter()
        .map(|j| by_id.get(&j.id).cloned().unwrap_or_else(|| j.stem()))
        .collect();
    samcell_batch::naming::make_unique(&mut names);
    names
}

/// The ZIP of `jobs` (all done) with `settings.json`, built off the async threads.
async fn results_zip(s: &AppState, jobs: Vec<Job>) -> ApiResult<Vec<u8>> {
    let s = s.clone();
    let names = names_in_batch(&s, &jobs);
    tokio::task::spawn_blocking(move || {
        zipping::results_zip(&s.0.root, &jobs, &names, &settings_json(&s, &jobs))
    })
    .await
    .map_err(|e| ApiError(500, e.to_string()))?
    .map_err(|e| ApiError(500, e.to_string()))
}

pub(crate) async fn job_file(
    State(s): State<AppState>,
    Path((id, file)): Path<(String, String)>,
) -> ApiResult<Response> {
    check_id(&id)?;
    let j =
        s.0.get(&id)
            .ok_or_else(|| ApiError(404, format!("no job {id}")))?;
    let Some(f) = JOB_FILES.iter().find(|f| f.name == file) else {
        return Err(ApiError(
            404,
            format!("no file {file:?}; see {API_DOCS} for the list"),
        ));
    };
    let ready = j.state == JobState::Done || (file.ends_with("image.png") && j.width.is_some());
    if !ready {
        let why = match j.state {
            JobState::Failed => {
                format!("{} failed: {}", j.name, j.error.clone().unwrap_or_default())
            }
            st => format!("{} is {st:?}: results are not ready yet", j.name).to_lowercase(),
        };
        return Err(ApiError(409, why));
    }
    let disp = f.download.then(|| {
        let name = names_in_batch(&s, std::slice::from_ref(&j)).remove(0);
        let saved = match f.source {
            Source::Outline(o) => format!("{name}{}", o.suffix()),
            _ => format!("{name}_{}", f.name),
        };
        disposition("attachment", &saved)
    });
    let lock = s.0.job_lock(&id);
    let _guard = lock.lock().await; // never read files half-way through a re-threshold
    let bytes = match f.source {
        Source::Disk(disk) => match tokio::fs::read(s.0.dir(&id).join(disk)).await {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && j.state == JobState::Done => {
                return Err(s.0.result_missing(&id, disk).into())
            }
            Err(e) => return Err(ApiError(500, format!("cannot read {file}: {e}"))),
        },
        made => {
            // made from the result files: all must be there
            let Some(j) = s.0.with_results(vec![j]).pop() else {
                let j =
                    s.0.get(&id)
                        .ok_or_else(|| ApiError(404, format!("no job {id}")))?;
                let why = j.error.unwrap_or_default();
                return Err(ApiError(409, format!("{} failed: {why}", j.name)));
            };
            match made {
                Source::Outline(o) => {
                    let dir = s.0.dir(&id);
                    tokio::task::spawn_blocking(move || o.bytes(&dir, &j))
                        .await
                        .map_err(|e| ApiError(500, e.to_string()))?
                        .map_err(|e| ApiError(500, format!("cannot make {file}: {e}")))?
                }
                _ => results_zip(&s, vec![j]).await?,
            }
        }
    };
    Ok(bytes_response(f.ctype, disp, bytes))
}

/// The done jobs of `batch`, in queue order (a job whose result files are gone is marked failed
/// and left out).
pub(crate) fn finished_in(s: &AppState, batch: &str) -> Vec<Job> {
    let done =
        s.0.all()
            .into_iter()
            .filter(|j| j.batch == batch && j.state == JobState::Done)
            .collect();
    s.0.with_results(done)
}

/// [`finished_in`] for downloads: 404 when there is nothing to download.
fn done_in(s: &AppState, batch: &str) -> ApiResult<Vec<Job>> {
    check_batch(batch)?;
    let jobs = finished_in(s, batch);
    if jobs.is_empty() {
        return Err(ApiError(
            404,
            format!("batch {batch} has no finished image yet"),
        ));
    }
    Ok(jobs)
}

pub(crate) async fn batch_summary(
    State(s): State<AppState>,
    Path(batch): Path<String>,
) -> ApiResult<Response> {
    let jobs = done_in(&s, &batch)?;
    let stems = names_in_batch(&s, &jobs);
    let csv =
        zipping::summary_csv(&s.0.root, &jobs, &stems).map_err(|e| ApiError(500, e.to_string()))?;
    Ok(bytes_response(
        CSV,
        Some(disposition("attachment", "summary.csv")),
        csv.into_bytes(),
    ))
}

pub(crate) async fn batch_zip(
    State(s): State<AppState>,
    Path(batch): Path<String>,
) -> ApiResult<Response> {
    let bytes = results_zip(&s, done_in(&s, &batch)?).await?;
    let name = format!("samcell-results-{batch}.zip");
    Ok(bytes_response(
        ZIP,
        Some(disposition("attachment", &name)),
        bytes,
    ))
}
