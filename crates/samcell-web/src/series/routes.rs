//! The series endpoints (README, "The web GUI"):
//! - `PUT /api/batches/{batch}/series` with JSON `{"order": "upload"|"name", "frame_interval":
//!   "30min"|null}` (both optional: upload order, time in frames) marks the batch as a time
//!   series or changes its settings (and tries a failed linking again); the answer is the
//!   series' view.
//! - `GET /api/batches/{batch}/series`: the view ([`view`]): settings, state, frames in order,
//!   failed frames, and once `done` the result's figures and file URLs.
//! - `DELETE /api/batches/{batch}/series`: no longer a series (the images stay).
//! - `GET /api/batches/{batch}/series/files/{file}`: one file of the result folder
//!   (`growth.csv`, `growth.png`, `tracks.csv`, `lineage.csv`, `summary.txt`, `res_track.txt`,
//!   `maskTTT.tif`, `overlays/frameTTT.png`); `.../series/results.zip`: all of them, under the
//!   names `samcell track` gives them. Both answer 409 with the reason unless the state is
//!   `done`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::{status, FrameOrder, Series, SeriesState, RESULT};
use crate::api::{check_batch, ApiError, ApiResult, API_DOCS};
use crate::downloads::{bytes_response, disposition};
use crate::guard::require_json;
use crate::state::AppState;

/// The JSON view of series `s` (module docs).
pub(crate) fn view(st: &AppState, s: &Series) -> serde_json::Value {
    let frames = st.0.series_frames(s);
    let (state, failed, error) = status(s, &frames);
    let base = format!("/api/batches/{}/series", s.batch);
    let result = match (&s.linked, state) {
        (Some(l), SeriesState::Done) => {
            let n = l.frames.len();
            let file = |name: &str| format!("{base}/files/{name}");
            let overlays: Vec<String> = (0..n)
                .map(|t| file(&format!("overlays/{}", overlay_name(t, n))))
                .collect();
            let masks: Vec<String> = (0..n)
                .map(|t| file(&samcell_track::ctc::mask_name(t, n)))
                .collect();
            json!({
                "frames": n,
                "tracks": l.tracks,
                "divisions": l.divisions,
                "time_unit": l.time_unit,
                "growth": l.growth,
                "fit": l.fit,
                "fit_text": l.fit_text,
                "summary": l.summary,
                "made_ms": l.made_ms,
                "files": {
                    "zip": format!("{base}/results.zip"),
                    "growth_csv": file("growth.csv"),
                    "growth_png": file("growth.png"),
                    "tracks_csv": file("tracks.csv"),
                    "lineage_csv": file("lineage.csv"),
                    "summary_txt": file("summary.txt"),
                    "res_track": file("res_track.txt"),
                    "overlays": overlays,
                    "masks": masks,
                },
            })
        }
        _ => serde_json::Value::Null,
    };
    let frame_list: Vec<serde_json::Value> = frames
        .iter()
        .enumerate()
        .map(|(t, j)| json!({ "frame": t, "id": j.id, "name": j.name, "state": j.state }))
        .collect();
    json!({
        "batch": s.batch,
        "order": s.order,
        "frame_interval": s.frame_interval,
        "state": state,
        "error": error,
        "frames": frame_list,
        "failed_frames": failed,
        "revision": s.revision,
        "result": result,
    })
}

/// The overlay of frame `t` of `n`: `frameTTT.png`, numbered as `maskTTT.tif`.
fn overlay_name(t: usize, n: usize) -> String {
    samcell_track::ctc::mask_name(t, n)
        .replace("mask", "frame")
        .replace(".tif", ".png")
}

fn series_of(st: &AppState, batch: &str) -> ApiResult<Series> {
    check_batch(batch)?;
    st.0.series.get(batch).ok_or_else(|| {
        ApiError(
            404,
            format!(
                "batch {batch} is not a time series (PUT /api/batches/{batch}/series marks it)"
            ),
        )
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeriesBody {
    #[serde(default)]
    order: FrameOrder,
    #[serde(default)]
    frame_interval: Option<String>,
}

pub(crate) async fn put(
    State(st): State<AppState>,
    Path(batch): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<serde_json::Value>> {
    check_batch(&batch)?;
    require_json(&headers)?;
    let b: SeriesBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError(
            400,
            format!(
                "expected JSON {{\"order\": \"upload\" or \"name\", \"frame_interval\": \"30min\" \
                 or null}}: {e}"
            ),
        )
    })?;
    let interval = b
        .frame_interval
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    if let Some(t) = &interval {
        samcell_track::FrameInterval::parse(t)
            .map_err(|e| ApiError(400, format!("frame_interval {e}")))?;
    }
    let s =
        st.0.series
            .put(&batch, b.order, interval)
            .map_err(|e| ApiError(500, e.to_string()))?;
    Ok(Json(view(&st, &s)))
}

pub(crate) async fn get(
    State(st): State<AppState>,
    Path(batch): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let s = series_of(&st, &batch)?;
    Ok(Json(view(&st, &s)))
}

pub(crate) async fn delete(
    State(st): State<AppState>,
    Path(batch): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    check_batch(&batch)?;
    let st2 = st.clone();
    let b = batch.clone();
    let removed = tokio::task::spawn_blocking(move || st2.0.series.remove(&b))
        .await
        .map_err(|e| ApiError(500, e.to_string()))?
        .map_err(|e| ApiError(500, e.to_string()))?;
    if !removed {
        return Err(ApiError(404, format!("batch {batch} is not a time series")));
    }
    Ok(Json(json!({ "deleted": batch })))
}

/// The series of `batch` when its result is current; 409 with the reason otherwise.
fn done_series(st: &AppState, batch: &str) -> ApiResult<Series> {
    let s = series_of(st, batch)?;
    let (state, _, error) = status(&s, &st.0.series_frames(&s));
    if state != SeriesState::Done {
        let why = match state {
            SeriesState::Empty => "it has no frames yet".to_string(),
            SeriesState::Waiting => "frames are still being segmented".to_string(),
            SeriesState::Linking => "its frames are being linked".to_string(),
            SeriesState::Failed => error.unwrap_or_default(),
            SeriesState::Done => String::new(),
        };
        return Err(ApiError(
            409,
            format!("series {batch} has no current result: {why}"),
        ));
    }
    Ok(s)
}

/// Whether `file` names a file of a result folder (module docs).
fn result_file(file: &str) -> bool {
    let numbered = |name: &str, prefix: &str, ext: &str| {
        name.strip_prefix(prefix)
            .and_then(|r| r.strip_suffix(ext))
            .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
    };
    [
        "growth.csv",
        "growth.png",
        "tracks.csv",
        "lineage.csv",
        "summary.txt",
        "res_track.txt",
    ]
    .contains(&file)
        || numbered(file, "mask", ".tif")
        || file
            .strip_prefix("overlays/")
            .is_some_and(|f| numbered(f, "frame", ".png"))
}

fn content_type(file: &str) -> &'static str {
    match file.rsplit('.').next() {
        Some("csv") => "text/csv; charset=utf-8",
        Some("png") => "image/png",
        Some("tif") => "image/tiff",
        Some("zip") => "application/zip",
        _ => "text/plain; charset=utf-8",
    }
}

pub(crate) async fn file(
    State(st): State<AppState>,
    Path((batch, file)): Path<(String, String)>,
) -> ApiResult<Response> {
    if !result_file(&file) {
        return Err(ApiError(
            404,
            format!("no series file {file:?}; see {API_DOCS} for the list"),
        ));
    }
    done_series(&st, &batch)?;
    let f = file.clone();
    let bytes = read_result(&st, &batch, move |dir| std::fs::read(dir.join(f)))
        .await?
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ApiError(404, format!("series {batch} has no {file}")),
            _ => ApiError(500, format!("cannot read {file}: {e}")),
        })?;
    let inline = file.ends_with(".png");
    let saved = format!("{batch}_{}", file.replace('/', "_"));
    let disp = (!inline).then(|| disposition("attachment", &saved));
    Ok(bytes_response(content_type(&file), disp, bytes))
}

pub(crate) async fn zip(
    State(st): State<AppState>,
    Path(batch): Path<String>,
) -> ApiResult<Response> {
    done_series(&st, &batch)?;
    let bytes = read_result(&st, &batch, crate::zipping::folder_zip)
        .await?
        .map_err(|e| ApiError(500, e.to_string()))?;
    let name = format!("samcell-track-{batch}.zip");
    Ok(bytes_response(
        content_type("x.zip"),
        Some(disposition("attachment", &name)),
        bytes,
    ))
}

/// Runs `read` on the batch's result folder on a blocking thread, holding the results lock so
/// that a relink cannot swap the folder while it is read.
async fn read_result<T: Send + 'static, E: Send + 'static>(
    st: &AppState,
    batch: &str,
    read: impl FnOnce(&std::path::Path) -> Result<T, E> + Send + 'static,
) -> ApiResult<Result<T, E>> {
    let st2 = st.clone();
    let dir = st.0.series.dir(batch).join(RESULT);
    tokio::task::spawn_blocking(move || {
        let _g = st2
            .0
            .series
            .results
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        read(&dir)
    })
    .await
    .map_err(|e| ApiError(500, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_result_files_are_served() {
        for ok in [
            "growth.csv",
            "mask000.tif",
            "mask1234.tif",
            "overlays/frame007.png",
            "res_track.txt",
        ] {
            assert!(result_file(ok), "{ok}");
        }
        for bad in [
            "../series.json",
            "mask.tif",
            "maskabc.tif",
            "overlays/../growth.csv",
            "overlays/frame1.tif",
            "series.json",
            "",
        ] {
            assert!(!result_file(bad), "{bad}");
        }
    }
}
