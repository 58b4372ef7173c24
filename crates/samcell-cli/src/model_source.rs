//! Where the model comes from: `--model PATH` or a published model name.
//!
//! A name resolves to `<cache>/samcell-<name>.pt`, with `<cache>` the first of: `--model-dir`,
//! env `SAMCELL_MODEL_DIR`, `$XDG_CACHE_HOME/samcell`, `~/.cache/samcell` (Windows:
//! `%LOCALAPPDATA%\samcell`). A named model that is not in the cache is downloaded from the
//! SAMCell release (`<base>/samcell-<name>.pt`, base [`DEFAULT_BASE_URL`], overridable with env
//! `SAMCELL_MODEL_BASE_URL`), see [`crate::download`].
//!
//! [`ModelArgs`] are the model options shared by `segment`, `tune` and `serve`;
//! [`ModelArgs::load`] resolves, hashes and loads the model the same way for all three.

use crate::download;
use crate::progress::Terminal;
use crate::run_meta::{self, ModelInfo};
use crate::UsageError;
use anyhow::{anyhow, Context, Result};
use clap::Args;
use samcell_model::{HeadOverrides, SamModel, SamPredictor};
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

/// The model options of `segment`, `tune` and `serve` (flattened into each).
#[derive(Debug, Args)]
pub struct ModelArgs {
    /// Model: a published name (generalist, cyto) or the path of a checkpoint
    /// (.pt/.pth/.bin/.safetensors, Hugging Face SamModel layout). There is no default model.
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
}

impl ModelArgs {
    /// The `--model` value; a missing one is a usage error (exit 2).
    pub fn spec(&self) -> Result<&str> {
        self.model
            .as_deref()
            .ok_or_else(|| anyhow!(UsageError(no_model_message())))
    }

    /// Resolves `--model` ([`resolve`], downloading a named model if needed) and loads it
    /// ([`load_model`]) with `batch_size` crops per forward pass.
    pub fn load(
        &self,
        term: &Terminal,
        batch_size: usize,
    ) -> Result<(Arc<dyn DistanceMapPredictor>, ModelInfo)> {
        let file = resolve(self.spec()?, self.model_dir.as_deref(), term)?;
        load_model(&file, self.model_config.as_deref(), batch_size)
    }
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
        "no model given: pass --model with a model name ({}) or the path of a checkpoint \
         (.pt/.pth/.bin/.safetensors in the Hugging Face SamModel layout); there is no default model yet",
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
    let model = SamModel::load(&file.path, heads).context("cannot load the model")?;
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
