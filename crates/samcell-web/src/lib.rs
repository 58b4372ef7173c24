//! SAMCell's web GUI: `samcell serve` runs this HTTP server; the page (plain HTML/CSS/JS in
//! `assets/`, embedded in the binary) lets a user drop images, watch each one's state, view the
//! masks over the image, read the per-image metrics and download the results.
//!
//! - [`ServeConfig`]: host, port, work directory, upload limits, default thresholds.
//! - [`AppState`]: the job table, persisted under the work directory (one `job.json` per job,
//!   reloaded at start-up: finished results survive a restart, unfinished jobs are queued again,
//!   except one whose processing killed the server twice: that one is marked failed), and one
//!   worker thread that runs the shared [`Segmenter`] on the queued images in upload order.
//! - [`router`]: the JSON HTTP API (documented in the workspace README, "The web GUI") and the page,
//!   behind [`guard`]'s rules: requests must name this server in `Host`, state-changing ones
//!   from a browser must come from its own page (`Origin`), and a server reachable from other
//!   computers needs its access token.
//! - [`series`]: time series: a batch marked as the frames of one time-lapse is linked into
//!   cell tracks by samcell-track when its frames are done (and again after a change), with
//!   the result folder of `samcell track --labels`, persisted under the work directory.
//! - [`serve`]: binds and runs until Ctrl+C.
//!
//! ```no_run
//! # async fn run(segmenter: std::sync::Arc<samcell_web::Segmenter>) -> Result<(), samcell_web::WebError> {
//! let cfg = samcell_web::ServeConfig { port: 9000, ..Default::default() };
//! samcell_web::serve(cfg, segmenter).await // until Ctrl+C
//! # }
//! ```
//!
//! Numbers come from the other crates: the distance map from `Segmenter::distance_map`,
//! labels from `samcell_pipeline::labels_from_distance_map` (samcell 1.1.4 post-processing),
//! measurements from samcell-measure (CellProfiler definitions), the pixel size and the outline
//! files for QuPath and Fiji as `samcell segment` makes them (`samcell_batch::record`,
//! [`outlines`]). Re-thresholding re-runs only the post-processing on the stored distance map.

#![forbid(unsafe_code)]

mod api;
mod assets;
pub mod config;
mod downloads;
pub mod guard;
pub mod job;
pub mod outlines;
pub mod outputs;
pub mod series;
mod state;
mod upload;
mod zipping;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

pub use api::router;
pub use config::ServeConfig;
pub use job::{ForcedModel, Job, JobState, Metrics, Progress};
pub use samcell_pipeline::Segmenter;
pub use state::AppState;

/// Errors of the server.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// A setting that cannot work.
    #[error("invalid settings: {0}")]
    Config(String),
    /// The address cannot be bound (in use, no permission, unknown host).
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address as given (`host:port`).
        addr: String,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// The work directory cannot be created or written; the system's error is the source.
    #[error("work directory {path}: {reason}")]
    WorkDir {
        /// The work directory.
        path: PathBuf,
        /// What could not be done.
        reason: String,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// Reading or writing a job's files.
    #[error("{0}")]
    Io(String),
    /// Post-processing or measuring failed.
    #[error("{0}")]
    Processing(String),
    /// The HTTP server stopped with an error.
    #[error("server error")]
    Server(#[source] std::io::Error),
}

/// Opens the work directory, starts the worker, binds `cfg.host:cfg.port` and serves the page
/// and the API until Ctrl+C (or SIGTERM). Prints the address to stderr, and a warning when the
/// host is not a loopback address ([`ServeConfig::exposure_warning`]); such a server gets a
/// random access token ([`ServeConfig::ensure_token`]), printed in the page's address.
pub async fn serve(mut cfg: ServeConfig, segmenter: Arc<Segmenter>) -> Result<(), WebError> {
    cfg.ensure_token();
    cfg.validate().map_err(WebError::Config)?;
    if let Some(w) = cfg.exposure_warning() {
        eprintln!("{w}");
    }
    let addr = format!("{}:{}", cfg.host, cfg.port);
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|source| WebError::Bind {
            addr: addr.clone(),
            source,
        })?;
    let state = AppState::open(cfg, segmenter)?;
    let local = listener
        .local_addr()
        .map_err(|source| WebError::Bind { addr, source })?;
    let shown = if local.ip().is_unspecified() {
        format!("127.0.0.1:{}", local.port())
    } else {
        local.to_string()
    };
    let fragment = state
        .config()
        .token
        .as_ref()
        .map(|t| format!("#token={t}"))
        .unwrap_or_default();
    eprintln!(
        "SAMCell web GUI on http://{shown}/{fragment} (model: {}; work directory: {}). Press Ctrl+C to stop.",
        state.model_description(),
        state.config().work_dir.display()
    );
    if let Some(t) = &state.config().token {
        eprintln!(
            "From another computer open http://<this computer's name or address>:{}/#token={t}; \
             scripts send the header \"X-Samcell-Token: {t}\". The token changes at each start.",
            local.port()
        );
    }
    let result = serve_on(listener, state.clone(), shutdown_signal()).await;
    state.release_interrupted();
    result
}

/// Serves `state` on an already bound listener until `shutdown` completes (for tests and
/// embedding; [`serve`] uses it).
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), WebError> {
    let port = listener.local_addr().map_err(WebError::Server)?.port();
    axum::serve(listener, router(state, port))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(WebError::Server)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    eprintln!("stopping: unfinished images stay queued in the work directory and resume at the next start");
}
