//! Where the model comes from: `--model PATH`, a published model name, or samcell-lite.
//!
//! samcell-lite (the small U-Net of `samcell-lite`; its predictor asks for its own tiling, stored
//! in its weights file): `--model lite` is the model built into the binary (error "this build has no
//! lite model" when the build has none), or the file named by env `SAMCELL_LITE_WEIGHTS` when
//! that is set (to try a newly trained model without rebuilding; also what the CLI tests use);
//! `--model lite:PATH` is the lite weights file PATH; `--model PATH` of a samcell-lite
//! safetensors file (metadata `format = samcell-lite`) is recognised as such. Without `--model`,
//! the lite model is used when one is available (built in, or `SAMCELL_LITE_WEIGHTS`), with the
//! info line "model: samcell-lite (built-in) — use --model generalist for SAMCell ViT-B";
//! otherwise a missing `--model` is a usage error.
//!
//! A name resolves to `<cache>/samcell-<name>.pt`, with `<cache>` the first of: `--model-dir`,
//! env `SAMCELL_MODEL_DIR`, `$XDG_CACHE_HOME/samcell`, `~/.cache/samcell` (Windows:
//! `%LOCALAPPDATA%\samcell`). A named model that is not in the cache is downloaded from the
//! SAMCell release (`<base>/samcell-<name>.pt`, base [`DEFAULT_BASE_URL`], overridable with env
//! `SAMCELL_MODEL_BASE_URL`), see [`crate::download`].
//!
//! [`ModelArgs`] are the model options shared by `segment`, `tune` and `serve`;
//! [`ModelArgs::load`] resolves, hashes and loads the model the same way for all three. The
//! predictor says which tiling it needs ([`DistanceMapPredictor::tiling`]), and SAM's device comes
//! from [`samcell_model::device`].

use crate::download;
use crate::progress::Terminal;
use crate::train_cmd::DeviceArg;
use crate::UsageError;
use anyhow::{anyhow, Context, Result};
use clap::Args;
use samcell_batch::record::{self as run_meta, ModelInfo};
use samcell_lite::{LiteModel, LitePredictor};
use samcell_model::{HeadOverrides, ModelError, SamModel, SamPredictor};
use samcell_pipeline::DistanceMapPredictor;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// Published SAMCell models (SAMCell v1 release assets).
pub const MODEL_NAMES: [&str; 2] = ["generalist", "cyto"];

/// Release folder holding `samcell-<name>.pt`.
pub const DEFAULT_BASE_URL: &str =
    "https://github.com/saahilsanganeriya/SAMCell/releases/download/v1";

/// Env var overriding [`DEFAULT_BASE_URL`] (mirrors, tests).
pub const BASE_URL_ENV: &str = "SAMCELL_MODEL_BASE_URL";

/// Env var naming the model cache folder.
pub const MODEL_DIR_ENV: &str = "SAMCELL_MODEL_DIR";

/// `--model` value selecting samcell-lite (`lite`, or `lite:PATH` for a weights file).
pub const LITE_NAME: &str = "lite";

/// Env var naming a samcell-lite weights file that replaces the built-in one.
pub const LITE_WEIGHTS_ENV: &str = "SAMCELL_LITE_WEIGHTS";

/// The model options of `segment`, `tune` and `serve` (flattened into each).
#[derive(Debug, Args)]
pub struct ModelArgs {
    /// Model: lite (the small built-in samcell-lite model), lite:PATH (a samcell-lite weights
    /// file), a published SAMCell name (generalist, cyto) or the path of a checkpoint
    /// (.pt/.pth/.bin/.safetensors, Hugging Face SamModel layout, or a samcell-lite file).
    /// Default: lite when this build has it (or SAMCELL_LITE_WEIGHTS names a file).
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

/// A loaded model (its predictor says which tiling it runs with) and its description.
pub struct LoadedModel {
    pub predictor: Arc<dyn DistanceMapPredictor>,
    pub info: ModelInfo,
}

impl ModelArgs {
    /// The `--model` value, or `lite` when it is absent and a lite model is available; otherwise
    /// a missing one is a usage error (exit 2).
    pub fn spec(&self) -> Result<&str> {
        match self.model.as_deref() {
            Some(m) => Ok(m),
            None if lite_available() => Ok(LITE_NAME),
            None => Err(anyhow!(UsageError(no_model_message()))),
        }
    }

    /// Resolves `--model` ([`resolve`], downloading a named model if needed) and loads it
    /// ([`load_model`]) with `batch_size` crops per forward pass.
    pub fn load(&self, term: &Terminal, batch_size: usize) -> Result<LoadedModel> {
        let spec = self.spec()?;
        let lite_path = if spec == LITE_NAME {
            Some(None)
        } else if let Some(p) = spec.strip_prefix("lite:") {
            Some(Some(PathBuf::from(p)))
        } else if !MODEL_NAMES.contains(&spec) && samcell_lite::is_lite_file(Path::new(spec)) {
            Some(Some(PathBuf::from(spec)))
        } else {
            None
        };
        if let Some(path) = lite_path {
            if self.model_config.is_some() {
                return Err(anyhow!(UsageError(
                    "--model-config applies to SAM checkpoints, not to samcell-lite".into()
                )));
            }
            let loaded = load_lite(path.as_deref(), batch_size)?;
            if self.model.is_none() {
                let which = if loaded.info.path == samcell_lite::BUILTIN_NAME {
                    loaded.info.path.clone()
                } else {
                    format!("samcell-lite ({LITE_WEIGHTS_ENV}={})", loaded.info.path)
                };
                tracing::info!("model: {which} — use --model generalist for SAMCell ViT-B");
            }
            return Ok(loaded);
        }
        let file = resolve(spec, self.model_dir.as_deref(), term)?;
        let device =
            samcell_model::device(self.device == DeviceArg::Cuda).map_err(|e| match e {
                ModelError::NoCuda => anyhow!(UsageError(format!("--device cuda: {e}"))),
                e => anyhow!(e),
            })?;
        let dtype = match self.precision {
            Precision::F32 => candle_core::DType::F32,
            Precision::Bf16 => candle_core::DType::BF16,
        };
        let (predictor, info) = load_model(
            &file,
            self.model_config.as_deref(),
            batch_size,
            &device,
            dtype,
        )?;
        Ok(LoadedModel { predictor, info })
    }
}

/// Whether `lite` (and the default) can be served: a built-in model or `SAMCELL_LITE_WEIGHTS`.
pub fn lite_available() -> bool {
    samcell_lite::builtin_weights().is_some() || env_nonempty(LITE_WEIGHTS_ENV).is_some()
}

/// Loads samcell-lite: the file `path`, else `SAMCELL_LITE_WEIGHTS`, else the built-in model.
pub fn load_lite(path: Option<&Path>, batch_size: usize) -> Result<LoadedModel> {
    let env_path = env_nonempty(LITE_WEIGHTS_ENV).map(PathBuf::from);
    let (model, shown, name) = match path.or(env_path.as_deref()) {
        Some(p) => {
            if !p.is_file() {
                let from = if path.is_some() {
                    "--model lite:PATH"
                } else {
                    LITE_WEIGHTS_ENV
                };
                return Err(anyhow!(UsageError(format!(
                    "samcell-lite weights {} ({from}) not found",
                    p.display()
                ))));
            }
            let m = LiteModel::load(p).context("cannot load the samcell-lite model")?;
            (m, display_abs(p), None)
        }
        None => {
            let m = match LiteModel::builtin() {
                Err(e @ samcell_lite::LiteError::NoBuiltin) => {
                    return Err(anyhow!(UsageError(format!(
                        "{e}; use --model lite:PATH with a samcell-lite weights file, or a SAMCell model ({})",
                        MODEL_NAMES.join(", ")
                    ))))
                }
                r => r.context("cannot load the built-in samcell-lite model")?,
            };
            (
                m,
                samcell_lite::BUILTIN_NAME.to_string(),
                Some(LITE_NAME.to_string()),
            )
        }
    };
    let info_variant = format!("samcell-lite {}", model.config.describe());
    let sha256 = model.sha256.clone();
    let predictor: Arc<dyn DistanceMapPredictor> = Arc::new(LitePredictor::new(model, batch_size));
    let info = ModelInfo {
        path: shown,
        name,
        url: None,
        sha256,
        config: None,
        variant: info_variant,
        format: "samcell-lite safetensors".into(),
        predictor: predictor.describe(),
    };
    Ok(LoadedModel { predictor, info })
}

/// A resolved model file.
#[derive(Clone, Debug)]
pub struct ModelFile {
    pub path: PathBuf,
    /// The published name, when given by name.
    pub name: Option<String>,
    /// Where a named model was (or would be) downloaded from.
    pub url: Option<String>,
}

/// The message for a missing `--model`.
pub fn no_model_message() -> String {
    format!(
        "no model given: pass --model with a model name ({}), lite:PATH (a samcell-lite weights file) \
         or the path of a checkpoint (.pt/.pth/.bin/.safetensors in the Hugging Face SamModel layout); \
         this build has no built-in lite model to use by default",
        MODEL_NAMES.join(", ")
    )
}

fn env_nonempty(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|s| !s.trim().is_empty())
}

/// The model cache folder (see the module doc for the order).
pub fn cache_dir(model_dir: Option<&Path>) -> Result<PathBuf> {
    if let Some(d) = model_dir {
        return Ok(d.to_path_buf());
    }
    if let Some(d) = env_nonempty(MODEL_DIR_ENV) {
        return Ok(PathBuf::from(d));
    }
    if let Some(d) = env_nonempty("XDG_CACHE_HOME") {
        return Ok(PathBuf::from(d).join("samcell"));
    }
    if let Some(h) = env_nonempty("HOME") {
        return Ok(PathBuf::from(h).join(".cache").join("samcell"));
    }
    if let Some(d) = env_nonempty("LOCALAPPDATA") {
        return Ok(PathBuf::from(d).join("samcell"));
    }
    Err(anyhow!(UsageError(format!(
        "cannot find a cache folder for models (no HOME or XDG_CACHE_HOME): pass --model-dir or set {MODEL_DIR_ENV}"
    ))))
}

/// The download URL of model `name`.
pub fn model_url(name: &str) -> String {
    let base = env_nonempty(BASE_URL_ENV).unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
    format!("{}/samcell-{name}.pt", base.trim_end_matches('/'))
}

/// Resolves `--model`: a known name (cached or downloaded now) or an existing file.
pub fn resolve(spec: &str, model_dir: Option<&Path>, term: &Terminal) -> Result<ModelFile> {
    if let Some(name) = MODEL_NAMES.iter().find(|n| **n == spec) {
        let dir = cache_dir(model_dir)?;
        let path = dir.join(format!("samcell-{name}.pt"));
        let url = model_url(name);
        if path.is_file() {
            tracing::debug!("model {name}: using cached {}", path.display());
        } else {
            tracing::info!("model {name} not in the cache: downloading {url}");
            download::fetch_to(&url, &path, term).with_context(|| {
                format!(
                    "could not download model {name:?} from {url}; download it by hand and put it at {} \
                     (or pass --model PATH)",
                    path.display()
                )
            })?;
        }
        return Ok(ModelFile {
            path,
            name: Some(name.to_string()),
            url: Some(url),
        });
    }
    let path = PathBuf::from(spec);
    if path.is_file() {
        return Ok(ModelFile {
            path,
            name: None,
            url: None,
        });
    }
    let what = if path.exists() {
        "is not a file"
    } else {
        "not found"
    };
    Err(anyhow!(UsageError(format!(
        "model {spec:?} {what}: --model takes a model name ({}) or the path of a checkpoint file",
        MODEL_NAMES.join(", ")
    ))))
}

/// Loads the model and describes it for the metadata (the file is hashed once, here).
pub fn load_model(
    file: &ModelFile,
    model_config: Option<&Path>,
    batch_size: usize,
    device: &candle_core::Device,
    dtype: candle_core::DType,
) -> Result<(Arc<dyn DistanceMapPredictor>, ModelInfo)> {
    let heads = match model_config {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read model config {}", p.display()))?;
            Some(
                HeadOverrides::from_hf_json(&text)
                    .with_context(|| format!("model config {}", p.display()))?,
            )
        }
        None => None,
    };
    let t = Instant::now();
    let model =
        SamModel::load_as(&file.path, heads, device, dtype).context("cannot load the model")?;
    let sha256 = run_meta::sha256_file(&file.path)?;
    let config = match model_config {
        Some(p) => Some(p.display().to_string()),
        None => Some(file.path.with_file_name("config.json"))
            .filter(|p| p.is_file())
            .map(|p| p.display().to_string()),
    };
    let variant = model.config.variant().to_string();
    let format = format!("{:?}", model.format);
    let predictor: Arc<dyn DistanceMapPredictor> = Arc::new(SamPredictor::new(model, batch_size));
    if let Some(w) = samcell_model::cpu_path::request_warning() {
        tracing::warn!("{w}");
    }
    tracing::info!("model: {}", predictor.describe());
    tracing::debug!(
        "model loaded and hashed in {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let info = ModelInfo {
        path: display_abs(&file.path),
        name: file.name.clone(),
        url: file.url.clone(),
        sha256,
        config,
        variant,
        format,
        predictor: predictor.describe(),
    };
    Ok((predictor, info))
}

fn display_abs(p: &Path) -> String {
    std::path::absolute(p)
        .unwrap_or_else(|_| p.to_path_buf())
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_model_dir_wins() {
        assert_eq!(
            cache_dir(Some(Path::new("/x/models"))).unwrap(),
            PathBuf::from("/x/models")
        );
    }

    #[test]
    fn no_model_message_lists_names() {
        let m = no_model_message();
        assert!(
            m.contains("generalist") && m.contains("cyto") && m.contains("--model"),
            "{m}"
        );
    }
}
