//! The model options of `segment`, `tune` and `serve` ([`ModelArgs`]), over the library's
//! registry, cache, download and loading (`samcell_batch::models`, whose module doc gives the
//! rules: `lite`, `lite:PATH`, published names, the cache folder, the release URL).
//!
//! [`ModelArgs::load`] resolves, hashes and loads the model the same way for all three, shows a
//! download's progress as a bar, and turns errors in what was asked for (a missing file, an
//! unknown name, no CUDA in this build) into usage errors (exit 2).

use crate::progress::Terminal;
use crate::train_cmd::DeviceArg;
use crate::UsageError;
use anyhow::{anyhow, Result};
use clap::Args;
use indicatif::ProgressBar;
use samcell_batch::download::DownloadProgress;
use samcell_batch::models::{self, LoadError, LoadedModel, ModelRequest};
use std::path::PathBuf;

/// The model options of `segment`, `tune` and `serve` (flattened into each).
#[derive(Debug, Args)]
pub struct ModelArgs {
    /// Model: lite (the small built-in samcell-lite models: the phase-contrast cell model, and
    /// the nuclei model for images that look unlike phase-contrast cells), lite-cells or
    /// lite-nuclei (either one alone), lite:PATH (a samcell-lite weights file), a published
    /// SAMCell name (generalist, cyto) or the path of a checkpoint (.pt/.pth/.bin/.safetensors,
    /// Hugging Face SamModel layout, or a samcell-lite file). Default: lite when this build has
    /// it (or SAMCELL_LITE_WEIGHTS names a file).
    ///
    /// Names resolve to <cache>/samcell-<name>.pt, downloaded from the SAMCell release on first
    /// use (override the base URL with SAMCELL_MODEL_BASE_URL).
    #[arg(short, long, value_name = "PATH|NAME")]
    pub model: Option<String>,

    /// Hugging Face config.json giving the head counts of a non-standard model (by default a
    /// config.json beside the checkpoint is used if present).
    #[arg(long, value_name = "PATH")]
    pub model_config: Option<PathBuf>,

    /// Model cache folder [default: $SAMCELL_MODEL_DIR, else $XDG_CACHE_HOME/samcell, else
    /// ~/.cache/samcell].
    #[arg(long, value_name = "DIR")]
    pub model_dir: Option<PathBuf>,

    /// Where SAM runs: the CPU, or the first CUDA GPU (binaries built with the `cuda` feature).
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    pub device: DeviceArg,

    /// SAM's precision: f32 (default; matches the Python reference to ~1e-6) or bf16 (faster;
    /// maps differ by ~1e-3 to 1e-2). On a GPU bf16 holds weights and activations in bf16; on
    /// the CPU the matrix products run in bf16 with f32 sums where the CPU has AVX512-BF16
    /// (elsewhere they stay f32, and the log says so).
    #[arg(long, value_enum, default_value_t = Precision::F32)]
    pub precision: Precision,
}

/// Numeric precision of SAM's weights and activations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Precision {
    F32,
    Bf16,
}

impl ModelArgs {
    /// The `--model` value, or `lite` when it is absent and a lite model is available; otherwise
    /// a missing one is a usage error (exit 2).
    pub fn spec(&self) -> Result<&str> {
        models::spec_or_default(self.model.as_deref()).map_err(cli_error)
    }

    /// Resolves `--model` (downloading a named model if needed, with a progress bar) and loads
    /// it with `batch_size` crops per forward pass.
    pub fn load(&self, term: &Terminal, batch_size: usize) -> Result<LoadedModel> {
        let req = ModelRequest {
            spec: self.model.as_deref(),
            model_config: self.model_config.as_deref(),
            model_dir: self.model_dir.as_deref(),
            cuda: self.device == DeviceArg::Cuda,
            dtype: match self.precision {
                Precision::F32 => candle_core::DType::F32,
                Precision::Bf16 => candle_core::DType::BF16,
            },
            batch_size,
        };
        let mut bar = Bar { term, bar: None };
        models::load(&req, &mut bar).map_err(cli_error)
    }
}

/// A library error as the program reports it: a usage error (exit 2) when it is about what was
/// asked for.
fn cli_error(e: LoadError) -> anyhow::Error {
    if e.is_usage() {
        anyhow!(UsageError(samcell_batch::error_chain(&e)))
    } else {
        anyhow!(e)
    }
}

/// A download's progress as a byte bar on the terminal.
struct Bar<'a> {
    term: &'a Terminal,
    bar: Option<ProgressBar>,
}

impl DownloadProgress for Bar<'_> {
    fn start(&mut self, len: Option<u64>, what: &str) {
        self.bar = Some(self.term.download_bar(len, what));
    }

    fn position(&mut self, bytes: u64) {
        if let Some(b) = &self.bar {
            b.set_position(bytes);
        }
    }

    fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}
