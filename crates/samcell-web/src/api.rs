//! The HTTP routes: the page, its assets and the JSON API (listed, with examples, in the
//! workspace README's section "The web GUI: `samcell serve`").
//! Errors are JSON `{"error": "..."}` with a fitting status code.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::assets;
use crate::downloads::{batch_summary, batch_zip, finished_in, job_file, JOB_FILES};
use crate::guard::{self, require_json, Guard};
use crate::job::{valid_batch, valid_id, Job, JobState};
use crate::series::routes as series;
use crate::state::AppState;
use crate::upload::{self, UploadParams};

/// Where a user finds the API, for error messages.
pub(crate) const API_DOCS: &str = "the README, section \"The web GUI\"";

/// Batch of uploads that name none.
pub const DEFAULT_BATCH: &str = "default";

/// An error answer: status and message.
pub struct ApiError(pub u16, pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<(u16, String)> for ApiError {
    fn from((s, m): (u16, String)) -> Self {
        ApiError(s, m)
    }
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// The router of the page and the API for a server listening on `port` (for [`crate::serve_on`]
/// and for embedding), behind the host, origin and token rules of [`crate::guard`].
pub fn router(state: AppState, port: u16) -> Router {
    let g = std::sync::Arc::new(Guard::new(state.config(), port));
    Router::new()
        .route("/", get(index))
        .route("/assets/{name}", get(asset))
        .route("/api/info", get(info))
        .route(
            "/api/jobs",
            get(list).post(upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/api/jobs/{id}", get(one).delete(remove))
        .route("/api/jobs/{id}/threshold", post(threshold))
        .route("/api/jobs/{id}/files/{file}", get(job_file))
        .route("/api/batches/{batch}/summary.csv", get(batch_summary))
        .route("/api/batches/{batch}/results.zip", get(batch_zip))
        .route("/api/batches/{batch}/threshold", post(batch_threshold))
        .route(
            "/api/batches/{batch}/series",
            get(series::get).put(series::put).delete(series::delete),
        )
        .route("/api/batches/{batch}/series/results.zip", get(series::zip))
        .route(
            "/api/batches/{batch}/series/files/{*file}",
            get(series::file),
        )
        .fallback(|| async {
            ApiError(
                404,
                format!("no such page or API endpoint (see {API_DOCS})"),
            )
        })
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(g, guard::check))
}

async fn index() -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "no-cache")],
        Html(assets::INDEX_HTML),
    )
}

async fn asset(Path(name): Path<String>) -> Response {
    match assets::asset(&name) {
        Some((ctype, body)) => (
            [
                (header::CONTENT_TYPE, ctype),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            body,
        )
            .into_response(),
        None => ApiError(404, format!("no asset {name}")).into_response(),
    }
}

async fn info(State(s): State<AppState>) -> impl IntoResponse {
    let c = s.config();
    Json(json!({
        "name": "SAMCell",
        "version": env!("CARGO_PKG_VERSION"),
        "model": s.model_description(),
        "defaults": { "peak": crate::job::short_f64(c.peak), "fill": crate::job::short_f64(c.fill) },
        "max_upload_bytes": c.max_upload_bytes,
        "max_pixels": c.max_pixels,
        "pixel_size_um": c.pixel_size.map(|p| [p.x_um, p.y_um]),
        "neighbor_distance": c.neighbor_distance,
        "formats": ["PNG", "JPEG", "TIFF", "BMP"],
    }))
}

/// A job as the API shows it: the record, its place in the queue, and its file URLs.
#[derive(Serialize)]
pub struct JobView {
    #[serde(flatten)]
    pub job: Job,
    /// Jobs before this one in the server's queue (queued jobs only).
    pub queue_ahead: Option<usize>,
    /// Download and viewer URLs (done jobs only).
    pub files: Option<serde_json::Value>,
}

fn view(job: Job, all: &[Job]) -> JobView {
    let queue_ahead = (job.state == JobState::Queued).then(|| {
        all.iter()
            .filter(|o| {
                (o.state == JobState::Queued && o.seq < job.seq) || o.state == JobState::Processing
            })
            .count()
    });
    let files = (job.state == JobState::Done).then(|| {
        let base = format!("/api/jobs/{}/files", job.id);
        JOB_FILES
            .iter()
            .map(|f| (f.key.to_string(), json!(format!("{base}/{}", f.name))))
            .collect::<serde_json::Map<_, _>>()
            .into()
    });
    JobView {
        job,
        queue_ahead,
        files,
    }
}

/// Figures across the finished images of a list.
#[derive(Serialize, Debug, Default)]
pub struct BatchSummary {
    pub images: usize,
    pub queued: usize,
    pub processing: usize,
    pub done: usize,
    pub failed: usize,
    /// Cells in all finished images.
    pub cell_count: usize,
    /// Mean area over all cells of all finished images (px^2).
    pub mean_area_px: Option<f64>,
    /// The same in um^2, when every finished image with cells has a pixel size.
    pub mean_area_um2: Option<f64>,
    /// Mean of the images' confluency (percent).
    pub mean_confluency_percent: Option<f64>,
    /// Mean touching neighbours over all cells.
    pub mean_neighbors: Option<f64>,
}

fn summarize(jobs: &[Job]) -> BatchSummary {
    let mut s = BatchSummary {
        images: jobs.len(),
        ..Default::default()
    };
    let (mut area_sum, mut neigh_sum, mut conf_sum, mut conf_n) = (0.0, 0.0, 0.0, 0usize);
    // cell area in um^2; `None` once an image with cells has no pixel size
    let mut area_um2 = Some(0.0);
    for j in jobs {
        match j.state {
            JobState::Queued => s.queued += 1,
            JobState::Processing => s.processing += 1,
            JobState::Failed => s.failed += 1,
            JobState::Done => s.done += 1,
        }
        if let (JobState::Done, Some(m)) = (j.state, &j.metrics) {
            s.cell_count += m.cell_count;
            area_sum += m.cell_pixels as f64;
            if m.cell_count > 0 {
                area_um2 = area_um2
                    .zip(j.pixel_size_um)
                    .map(|(a, [x, y])| a + m.cell_pixels as f64 * x * y);
            }
            neigh_sum += m.mean_neighbors.unwrap_or(0.0) * m.cell_count as f64;
            if let Some(c) = m.confluency_percent {
                conf_sum += c;
                conf_n += 1;
            }
        }
    }
    if s.cell_count > 0 {
        let n = s.cell_count as f64;
        s.mean_area_px = Some(area_sum / n);
        s.mean_area_um2 = area_um2.map(|a| a / n);
        s.mean_neighbors = Some(neigh_sum / n);
    }
    if conf_n > 0 {
        s.mean_confluency_percent = Some(conf_sum / conf_n as f64);
    }
    s
}

#[derive(Deserialize)]
struct ListQuery {
    batch: Option<String>,
}

pub(crate) fn check_batch(b: &str) -> ApiResult<()> {
    if valid_batch(b) {
        Ok(())
    } else {
        Err(ApiError(
            400,
            format!("invalid batch name {b:?}: use 1-64 letters, digits, '-' or '_'"),
        ))
    }
}

pub(crate) fn check_id(id: &str) -> ApiResult<()> {
    if valid_id(id) {
        Ok(())
    } else {
        Err(ApiError(
            404,
            format!("no job {id:?} (job ids are 16 hex digits)"),
        ))
    }
}

async fn list(
    State(s): State<AppState>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    if let Some(b) = &q.batch {
        check_batch(b)?;
    }
    let all = s.0.all();
    let mine: Vec<Job> = all
        .iter()
        .filter(|j| q.batch.as_ref().is_none_or(|b| &j.batch == b))
        .cloned()
        .collect();
    let summary = summarize(&mine);
    let server = json!({
        "queued": all.iter().filter(|j| j.state == JobState::Queued).count(),
        "processing": all.iter().filter(|j| j.state == JobState::Processing).count(),
    });
    let views: Vec<JobView> = mine.into_iter().map(|j| view(j, &all)).collect();
    // a batch marked as a time series: its state and result, as GET .../series gives them
    let series = q
        .batch
        .as_deref()
        .and_then(|b| s.0.series.get(b))
        .map(|r| series::view(&s, &r));
    Ok(Json(
        json!({ "jobs": views, "summary": summary, "server": server, "series": series }),
    ))
}

#[derive(Deserialize)]
struct UploadQuery {
    batch: Option<String>,
    peak: Option<f32>,
    fill: Option<f32>,
    /// Resize factor before the model, as `samcell segment --scale`.
    scale: Option<f32>,
    name: Option<String>,
    /// TIFF page, counted from 0.
    page: Option<usize>,
}

/// The thresholds `samcell segment` accepts (`samcell_pipeline::check_thresholds`): each in
/// 0..=1, and fill not above peak (cells grow from the seeds into `map > fill`).
fn check_thresholds(peak: f32, fill: f32) -> ApiResult<()> {
    use samcell_pipeline::ThresholdError;
    samcell_pipeline::check_thresholds(peak, fill).map_err(|e| {
        let text = match e {
            ThresholdError::OutOfRange(v) => {
                let n = if v.to_bits() == peak.to_bits() {
                    "peak"
                } else {
                    "fill"
                };
                format!("{n} threshold {v} must be a number between 0 and 1")
            }
            ThresholdError::FillAbovePeak { peak, fill } => format!(
                "fill threshold {fill} is above peak threshold {peak}: cells grow from the seeds \
                 (map > peak) into the region where the map is > fill, so fill must not exceed \
                 peak"
            ),
        };
        ApiError(400, text)
    })
}

async fn upload(State(s): State<AppState>, Query(q): Query<UploadQuery>, req: Request) -> Response {
    let run = async {
        let batch = q.batch.unwrap_or_else(|| DEFAULT_BATCH.to_string());
        check_batch(&batch)?;
        let (peak, fill) = (
            q.peak.unwrap_or(s.config().peak),
            q.fill.unwrap_or(s.config().fill),
        );
        check_thresholds(peak, fill)?;
        if let Some(v) = q.scale {
            samcell_pipeline::check_scale(v).map_err(|e| ApiError(400, e.to_string()))?;
        }
        let p = UploadParams {
            batch,
            peak,
            fill,
            scale: q.scale,
            name: q.name,
            page: q.page.unwrap_or(0),
        };
        let (jobs, rejected) = upload::receive(&s, req, p).await?;
        let all = s.0.all();
        let status = if jobs.is_empty() {
            rejected.first().map(|r| r.status).unwrap_or(400)
        } else {
            202
        };
        let error = jobs.is_empty().then(|| {
            rejected
                .iter()
                .map(|r| format!("{}: {}", r.name, r.error))
                .collect::<Vec<_>>()
                .join("; ")
        });
        let views: Vec<JobView> = jobs.into_iter().map(|j| view(j, &all)).collect();
        let mut body = json!({ "jobs": views, "rejected": rejected });
        if let Some(e) = error {
            body["error"] = json!(e);
        }
        Ok::<_, ApiError>(
            (
                StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
                Json(body),
            )
                .into_response(),
        )
    };
    run.await.unwrap_or_else(|e| e.into_response())
}

async fn one(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<JobView>> {
    check_id(&id)?;
    let j =
        s.0.get(&id)
            .ok_or_else(|| ApiError(404, format!("no job {id}")))?;
    Ok(Json(view(j, &s.0.all())))
}

async fn remove(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    check_id(&id)?;
    let lock = s.0.job_lock(&id);
    let _guard = lock.lock().await;
    s.0.remove(&id)?;
    Ok(Json(json!({ "deleted": id })))
}

#[derive(Deserialize)]
struct ThresholdBody {
    peak: f32,
    fill: f32,
}

fn parse_thresholds(body: &Bytes) -> ApiResult<(f32, f32)> {
    let t: ThresholdBody = serde_json::from_slice(body).map_err(|e| {
        ApiError(
            400,
            format!("expected JSON {{\"peak\": 0.47, \"fill\": 0.09}}: {e}"),
        )
    })?;
    check_thresholds(t.peak, t.fill)?;
    Ok((t.peak, t.fill))
}

async fn rethreshold_one(s: &AppState, id: &str, peak: f32, fill: f32) -> ApiResult<Job> {
    let lock = s.0.job_lock(id);
    let _guard = lock.lock().await;
    let (s2, id2) = (s.clone(), id.to_string());
    let r = tokio::task::spawn_blocking(move || s2.0.rethreshold(&id2, peak, fill))
        .await
        .map_err(|e| ApiError(500, format!("re-thresholding stopped: {e}")))?;
    Ok(r?)
}

async fn threshold(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<JobView>> {
    check_id(&id)?;
    require_json(&headers)?;
    let (peak, fill) = parse_thresholds(&body)?;
    let j = rethreshold_one(&s, &id, peak, fill).await?;
    Ok(Json(view(j, &s.0.all())))
}

async fn batch_threshold(
    State(s): State<AppState>,
    Path(batch): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<serde_json::Value>> {
    check_batch(&batch)?;
    require_json(&headers)?;
    let (peak, fill) = parse_thresholds(&body)?;
    let mut out = Vec::new();
    for j in finished_in(&s, &batch) {
        match rethreshold_one(&s, &j.id, peak, fill).await {
            Ok(j) => out.push(j),
            Err(ApiError(404, _)) => {} // removed meanwhile
            Err(e) => return Err(e),
        }
    }
    let all = s.0.all();
    let views: Vec<JobView> = out.into_iter().map(|j| view(j, &all)).collect();
    Ok(Json(json!({ "jobs": views })))
}
