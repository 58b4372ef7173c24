//! `samcell serve`: the web GUI (`samcell_web::serve`) with a model loaded once at start-up, found
//! and loaded exactly as `samcell segment` does (names downloaded into the cache, paths used as
//! they are, `--model-config` for non-standard head counts). With the built-in model (no
//! `--model`), each result notes whether the image looks unlike its training data
//! (`samcell_web::ServeConfig::builtin_model`).

use crate::model_source::ModelArgs;
use crate::progress::Terminal;
use crate::{threads, UsageError};
use anyhow::{anyhow, Context, Result};
use clap::Args;
use samcell_pipeline::SegmentConfig;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// `samcell serve`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  samcell serve --model generalist --port 8080\n\n\
Then open http://127.0.0.1:8080/ in a browser. A host other than 127.0.0.1/localhost exposes \
the server to the network: it then requires an access token, printed at start in the page's \
address (http://HOST:PORT/#token=...)."
)]
pub struct ServeArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Interface to listen on.
    #[arg(long, default_value = samcell_web::config::DEFAULT_HOST)]
    pub host: String,
    /// TCP port (0 picks a free one).
    #[arg(long, default_value_t = samcell_web::config::DEFAULT_PORT)]
    pub port: u16,
    /// Folder for uploads, results and job records (kept across restarts).
    #[arg(long, default_value = samcell_web::config::DEFAULT_WORK_DIR, value_name = "DIR")]
    pub work_dir: PathBuf,
    /// Also accept requests for this host name (repeatable): for a DNS name or a reverse proxy in
    /// front of the server. `NAME` accepts any port, `NAME:PORT` that port only. Loopback names
    /// and the --host address are always accepted.
    #[arg(long = "allowed-host", value_name = "NAME")]
    pub allowed_hosts: Vec<String>,
    /// Largest accepted upload per image file, in MB (MiB).
    #[arg(long, value_name = "MB", default_value_t = samcell_web::config::DEFAULT_MAX_UPLOAD_BYTES / (1024 * 1024),
          value_parser = clap::value_parser!(u64).range(1..=1024 * 1024))]
    pub max_upload_mb: u64,
    /// Largest image accepted, in pixels (width x height of one page), checked from the header
    /// before decoding [default: SAMCELL_MAX_PIXELS, else 400000000].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_pixels: Option<u64>,
    /// Pixel size in µm for every upload (e.g. 0.65um, 650nm, 0.5x0.6um for X x Y), instead of
    /// the one each file declares (OME-XML, ImageJ or TIFF resolution tags): areas in µm², the
    /// µm columns of cells.csv, cells per mm² and the calibration of the masks TIFF.
    #[arg(long, value_name = "SIZE", value_parser = crate::segment::pixel_size)]
    pub pixel_size: Option<samcell_io::Calibration>,
    /// Threads for the model and the image processing [default: all cores].
    #[arg(short = 'j', long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
}

/// Runs `samcell serve` until Ctrl+C.
pub fn run(args: ServeArgs, term: &Terminal) -> Result<ExitCode> {
    let config = samcell_web::ServeConfig {
        host: args.host,
        port: args.port,
        work_dir: args.work_dir,
        max_upload_bytes: args.max_upload_mb * 1024 * 1024,
        max_pixels: args.max_pixels.unwrap_or_else(samcell_io::max_pixels),
        pixel_size: args.pixel_size,
        allowed_hosts: args.allowed_hosts,
        ..Default::default()
    };
    // settings errors before the model is loaded (`serve` makes the token itself)
    let mut check = config.clone();
    check.ensure_token();
    check
        .validate()
        .map_err(|e| anyhow!(UsageError(format!("invalid settings: {e}"))))?;
    // the decoders' own limit follows, so that both refuse the same images
    samcell_io::set_max_pixels(config.max_pixels).map_err(|e| anyhow!(UsageError(e)))?;
    threads::configure(args.threads.map(usize::from));
    let loaded = args.model.load(term, crate::segment::DEFAULT_BATCH)?;
    let info = &loaded.info;
    tracing::info!("model {} ({})", info.path, info.variant);
    if let Some(f) = &info.fallback {
        tracing::info!(
            "images unlike phase-contrast cells go to {} ({})",
            f.path,
            f.variant
        );
    }
    let config = samcell_web::ServeConfig {
        builtin_model: info.path == samcell_lite::BUILTIN_NAME,
        fallback_model: info.fallback.as_ref().map(|f| f.path.clone()),
        ..config
    };
    let segmenter = Arc::new(loaded.segmenter(SegmentConfig {
        peak: config.peak,
        fill: config.fill,
        ..SegmentConfig::default()
    }));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    match rt.block_on(samcell_web::serve(config, segmenter)) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e @ samcell_web::WebError::Config(_)) => Err(anyhow!(UsageError(e.to_string()))),
        Err(e) => Err(e.into()),
    }
}
