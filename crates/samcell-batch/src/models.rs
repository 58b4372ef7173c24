//! Where the model comes from, and loading it: the published model registry, the model cache,
//! download URLs, samcell-lite resolution, and [`LoadedModel`] with its [`ModelInfo`].
//!
//! samcell-lite (the small U-Net of `samcell-lite`; its predictor asks for its own tiling, stored
//! in its weights file): the spec `lite` is the models built into the program (error "this build
//! has no lite model" when the build has none): the phase-contrast cell model, with the nuclei
//! model as its fallback for images that look unlike the cell model's training data
//! (`samcell_pipeline::Segmenter::with_fallback`; [`LoadedModel::segmenter`] wires it) when the
//! build has both; `lite-cells` and `lite-nuclei` are either built-in model alone. When env
//! `SAMCELL_LITE_WEIGHTS` is set, `lite` is that file alone instead (to try a newly trained
//! model without rebuilding; also what the CLI tests use); `lite:PATH` is the lite weights file
//! PATH; the PATH of a samcell-lite safetensors file
//! (metadata `format = samcell-lite`) is recognised as such. Without a spec, the lite model is
//! used when one is available (built in, or `SAMCELL_LITE_WEIGHTS`); otherwise a missing spec is
//! an error ([`LoadError::NoModel`]).
//!
//! A name resolves to `<cache>/samcell-<name>.pt`, with `<cache>` the first of: the caller's
//! folder (`--model-dir`), env `SAMCELL_MODEL_DIR`, `$XDG_CACHE_HOME/samcell`,
//! `~/.cache/samcell` (Windows: `%LOCALAPPDATA%\samcell`). A named model that is not in the
//! cache is downloaded from the SAMCell release (`<base>/samcell-<name>.pt`, base
//! [`DEFAULT_BASE_URL`], overridable with env `SAMCELL_MODEL_BASE_URL`), see [`crate::download`].
//!
//! [`load`] resolves, hashes and loads a model the same way for every caller; the predictor says
//! which tiling it needs (`DistanceMapPredictor::tiling`), and SAM's device comes from
//! `samcell_model::device`. [`LoadError::is_usage`] tells errors in what was asked for (a missing
//! file, an unknown name) from failures.

use crate::download::{self, DownloadError, DownloadProgress};
use crate::record::{self, ModelInfo};
use crate::BatchError;
use samcell_lite::{LiteError, LiteModel, LitePredictor};
use samcell_model::{HeadOverrides, ModelError, SamModel, SamPredictor};
use samcell_pipeline::{DistanceMapPredictor, Segmenter, SmallObjects};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The [`ModelInfo::path`] of the model built into the program: the model the out-of-domain
/// check (`samcell_pipeline::domain`) was measured for.
pub use samcell_lite::BUILTIN_NAME;
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

/// Crops per forward pass unless the caller says otherwise (`samcell segment --batch-size`).
pub const DEFAULT_BATCH_SIZE: usize = 4;

/// The spec selecting samcell-lite (`lite`, or `lite:PATH` for a weights file).
pub const LITE_NAME: &str = "lite";

/// The spec selecting the built-in phase-contrast cell model alone (no fallback).
pub const LITE_CELLS_NAME: &str = "lite-cells";

/// The spec selecting the built-in nuclei model alone.
pub const LITE_NUCLEI_NAME: &str = "lite-nuclei";

/// Env var naming a samcell-lite weights file that replaces the built-in one.
pub const LITE_WEIGHTS_ENV: &str = "SAMCELL_LITE_WEIGHTS";

/// Why a model could not be had.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// No model asked for, and no lite model to fall back on.
    #[error(
        "no model given: pass --model with a model name ({}), lite:PATH (a samcell-lite weights \
         file) or the path of a checkpoint (.pt/.pth/.bin/.safetensors in the Hugging Face \
         SamModel layout); this build has no built-in lite model to use by default",
        MODEL_NAMES.join(", ")
    )]
    NoModel,
    /// A SAM config given for a samcell-lite model.
    #[error("--model-config applies to SAM checkpoints, not to samcell-lite")]
    ConfigForLite,
    /// A lite weights file that does not exist.
    #[error("samcell-lite weights {} ({from}) not found", path.display())]
    LiteNotFound {
        /// The file.
        path: PathBuf,
        /// Where it was named (`--model lite:PATH` or the env var).
        from: &'static str,
    },
    /// `lite` asked for in a build without a built-in model.
    #[error(
        "this build has no lite model (models/samcell-lite.safetensors was not present at build \
         time); use --model lite:PATH with a samcell-lite weights file, or a SAMCell model ({})",
        MODEL_NAMES.join(", ")
    )]
    NoBuiltinLite,
    /// `lite-nuclei` asked for in a build without the built-in nuclei model.
    #[error(
        "this build has no lite nuclei model (models/samcell-lite-nuclei.safetensors was not \
         present at build time); use --model lite:PATH with a samcell-lite weights file"
    )]
    NoBuiltinNuclei,
    /// A lite model that cannot be loaded.
    #[error("cannot load the {what}samcell-lite model")]
    Lite {
        /// `built-in ` or nothing.
        what: &'static str,
        /// samcell-lite's error.
        #[source]
        source: LiteError,
    },
    /// No cache folder can be found.
    #[error(
        "cannot find a cache folder for models (no HOME or XDG_CACHE_HOME): pass --model-dir or \
         set {MODEL_DIR_ENV}"
    )]
    NoCacheDir,
    /// A spec that is neither a name nor an existing file.
    #[error(
        "model {spec:?} {what}: --model takes a model name ({}) or the path of a checkpoint file",
        MODEL_NAMES.join(", ")
    )]
    NotFound {
        /// The spec.
        spec: String,
        /// `not found` or `is not a file`.
        what: &'static str,
    },
    /// A named model that could not be downloaded.
    #[error(
        "could not download model {name:?} from {url}; download it by hand and put it at {} \
         (or pass --model PATH)",
        path.display()
    )]
    Download {
        /// The model name.
        name: String,
        /// Where from.
        url: String,
        /// Where to.
        path: PathBuf,
        /// Why not.
        #[source]
        source: DownloadError,
    },
    /// The device cannot be had (no CUDA in this build: a usage error; or the GPU failed).
    #[error("--device cuda")]
    Device(#[source] ModelError),
    /// A model config that cannot be read.
    #[error("cannot read model config {}", path.display())]
    ReadConfig {
        /// The file.
        path: PathBuf,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// A model config that cannot be used.
    #[error("model config {}", path.display())]
    BadConfig {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: ModelError,
    },
    /// A SAM checkpoint that cannot be loaded.
    #[error("cannot load the model")]
    Sam(#[source] ModelError),
    /// The checkpoint cannot be hashed.
    #[error(transparent)]
    Hash(#[from] BatchError),
}

impl LoadError {
    /// Whether the error is in what was asked for (a usage error for a command line).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            LoadError::NoModel
                | LoadError::ConfigForLite
                | LoadError::LiteNotFound { .. }
                | LoadError::NoBuiltinLite
                | LoadError::NoBuiltinNuclei
                | LoadError::NoCacheDir
                | LoadError::NotFound { .. }
                | LoadError::Device(ModelError::NoCuda)
        )
    }
}

/// What to load.
#[derive(Clone, Debug)]
pub struct ModelRequest<'a> {
    /// The spec (a name, `lite`, `lite:PATH` or a checkpoint path); `None`: lite if available.
    pub spec: Option<&'a str>,
    /// A Hugging Face `config.json` with the head counts of a non-standard SAM model.
    pub model_config: Option<&'a Path>,
    /// The model cache folder, before the defaults (see the module doc).
    pub model_dir: Option<&'a Path>,
    /// SAM on the first CUDA GPU instead of the CPU.
    pub cuda: bool,
    /// SAM's precision.
    pub dtype: candle_core::DType,
    /// Crops per forward pass.
    pub batch_size: usize,
}

/// A loaded model (its predictor says which tiling it runs with) and its description.
pub struct LoadedModel {
    /// The predictor.
    pub predictor: Arc<dyn DistanceMapPredictor>,
    /// The predictor for images out of the first one's domain (`lite`: the nuclei model);
    /// described by `info.fallback`.
    pub fallback: Option<Arc<dyn DistanceMapPredictor>>,
    /// Its identity for the run records.
    pub info: ModelInfo,
}

impl LoadedModel {
    /// The segmenter of this model with `config`, its fallback wired in.
    pub fn segmenter(&self, config: samcell_pipeline::SegmentConfig) -> Segmenter {
        let seg = Segmenter::new(self.predictor.clone(), config);
        match &self.fallback {
            Some(f) => seg.with_fallback(f.clone()),
            None => seg,
        }
    }
}

/// A resolved model file.
#[derive(Clone, Debug)]
pub struct ModelFile {
    /// The checkpoint.
    pub path: PathBuf,
    /// The published name, when given by name.
    pub name: Option<String>,
    /// Where a named model was (or would be) downloaded from.
    pub url: Option<String>,
}

/// The spec in force: `spec`, or `lite` when it is absent and a lite model is available.
pub fn spec_or_default(spec: Option<&str>) -> Result<&str, LoadError> {
    match spec {
        Some(m) => Ok(m),
        None if lite_available() => Ok(LITE_NAME),
        None => Err(LoadError::NoModel),
    }
}

/// Resolves the request ([`resolve`], downloading a named model if needed) and loads it
/// ([`load_model`], or [`load_lite`] for samcell-lite).
pub fn load(
    req: &ModelRequest,
    progress: &mut dyn DownloadProgress,
) -> Result<LoadedModel, LoadError> {
    let spec = spec_or_default(req.spec)?;
    if spec == LITE_CELLS_NAME || spec == LITE_NUCLEI_NAME {
        if req.model_config.is_some() {
            return Err(LoadError::ConfigForLite);
        }
        return load_builtin(spec == LITE_NUCLEI_NAME, req.batch_size);
    }
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
        if req.model_config.is_some() {
            return Err(LoadError::ConfigForLite);
        }
        let loaded = load_lite(path.as_deref(), req.batch_size)?;
        if req.spec.is_none() {
            let which = if loaded.info.path == samcell_lite::BUILTIN_NAME {
                match &loaded.info.fallback {
                    Some(f) => format!(
                        "{}, with {} for images unlike phase-contrast cells",
                        loaded.info.path, f.path
                    ),
                    None => loaded.info.path.clone(),
                }
            } else {
                format!("samcell-lite ({LITE_WEIGHTS_ENV}={})", loaded.info.path)
            };
            tracing::info!("model: {which} — use --model generalist for SAMCell ViT-B");
        }
        return Ok(loaded);
    }
    let file = resolve(spec, req.model_dir, progress)?;
    let device = samcell_model::device(req.cuda).map_err(LoadError::Device)?;
    load_model(&file, req.model_config, req.batch_size, &device, req.dtype)
}

/// Whether `lite` (and the default) can be served: a built-in model or `SAMCELL_LITE_WEIGHTS`.
pub fn lite_available() -> bool {
    samcell_lite::builtin_weights().is_some() || env_nonempty(LITE_WEIGHTS_ENV).is_some()
}

/// A built-in model, with the load errors named: the nuclei model (`nuclei`) or the cell model.
fn builtin_model(nuclei: bool) -> Result<LiteModel, LoadError> {
    let (loaded, missing) = if nuclei {
        (LiteModel::builtin_nuclei(), LoadError::NoBuiltinNuclei)
    } else {
        (LiteModel::builtin(), LoadError::NoBuiltinLite)
    };
    loaded.map_err(|source| match source {
        LiteError::NoBuiltin | LiteError::NoBuiltinNuclei => missing,
        source => LoadError::Lite {
            what: "built-in ",
            source,
        },
    })
}

/// One built-in model alone: the nuclei model (`nuclei`) or the cell model.
pub fn load_builtin(nuclei: bool, batch_size: usize) -> Result<LoadedModel, LoadError> {
    let (shown, name) = if nuclei {
        (samcell_lite::NUCLEI_NAME, LITE_NUCLEI_NAME)
    } else {
        (samcell_lite::BUILTIN_NAME, LITE_CELLS_NAME)
    };
    Ok(lite_loaded(
        builtin_model(nuclei)?,
        shown.to_string(),
        Some(name.to_string()),
        batch_size,
        nuclei.then_some(samcell_lite::NUCLEI_SMALL_OBJECTS),
    ))
}

/// Loads samcell-lite: the file `path`, else `SAMCELL_LITE_WEIGHTS`, else the built-in cell
/// model with the built-in nuclei model as its fallback (when the build has it).
pub fn load_lite(path: Option<&Path>, batch_size: usize) -> Result<LoadedModel, LoadError> {
    let env_path = env_nonempty(LITE_WEIGHTS_ENV).map(PathBuf::from);
    let Some(p) = path.or(env_path.as_deref()) else {
        let mut loaded = lite_loaded(
            builtin_model(false)?,
            samcell_lite::BUILTIN_NAME.to_string(),
            Some(LITE_NAME.to_string()),
            batch_size,
            None,
        );
        if samcell_lite::builtin_nuclei_weights().is_some() {
            let nuclei = load_builtin(true, batch_size)?;
            loaded.fallback = Some(nuclei.predictor);
            loaded.info.fallback = Some(Box::new(nuclei.info));
        }
        return Ok(loaded);
    };
    if !p.is_file() {
        let from = if path.is_some() {
            "--model lite:PATH"
        } else {
            LITE_WEIGHTS_ENV
        };
        return Err(LoadError::LiteNotFound {
            path: p.to_path_buf(),
            from,
        });
    }
    let m = LiteModel::load(p).map_err(|source| LoadError::Lite { what: "", source })?;
    Ok(lite_loaded(m, display_abs(p), None, batch_size, None))
}

/// A lite model's predictor and description; `small_objects`: its small-object advice.
fn lite_loaded(
    model: LiteModel,
    shown: String,
    name: Option<String>,
    batch_size: usize,
    small_objects: Option<SmallObjects>,
) -> LoadedModel {
    let variant = format!("samcell-lite {}", model.config.describe());
    let sha256 = model.sha256.clone();
    let predictor: Arc<dyn DistanceMapPredictor> =
        Arc::new(LitePredictor::new(model, batch_size).with_small_objects(small_objects));
    let info = ModelInfo {
        path: shown,
        name,
        url: None,
        sha256,
        config: None,
        variant,
        format: "samcell-lite safetensors".into(),
        predictor: predictor.describe(),
        fallback: None,
    };
    LoadedModel {
        predictor,
        fallback: None,
        info,
    }
}

fn env_nonempty(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|s| !s.trim().is_empty())
}

/// The model cache folder (see the module doc for the order).
pub fn cache_dir(model_dir: Option<&Path>) -> Result<PathBuf, LoadError> {
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
    Err(LoadError::NoCacheDir)
}

/// The download URL of model `name`.
pub fn model_url(name: &str) -> String {
    let base = env_nonempty(BASE_URL_ENV).unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
    format!("{}/samcell-{name}.pt", base.trim_end_matches('/'))
}

/// Resolves a spec: a known name (cached, or downloaded now) or an existing file.
pub fn resolve(
    spec: &str,
    model_dir: Option<&Path>,
    progress: &mut dyn DownloadProgress,
) -> Result<ModelFile, LoadError> {
    if let Some(name) = MODEL_NAMES.iter().find(|n| **n == spec) {
        let dir = cache_dir(model_dir)?;
        let path = dir.join(format!("samcell-{name}.pt"));
        let url = model_url(name);
        if path.is_file() {
            tracing::debug!("model {name}: using cached {}", path.display());
        } else {
            tracing::info!("model {name} not in the cache: downloading {url}");
            download::fetch_to(&url, &path, progress).map_err(|source| LoadError::Download {
                name: name.to_string(),
                url: url.clone(),
                path: path.clone(),
                source,
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
    Err(LoadError::NotFound {
        spec: spec.to_string(),
        what,
    })
}

/// Loads a SAM checkpoint and describes it for the records (the file is hashed once, here).
pub fn load_model(
    file: &ModelFile,
    model_config: Option<&Path>,
    batch_size: usize,
    device: &candle_core::Device,
    dtype: candle_core::DType,
) -> Result<LoadedModel, LoadError> {
    let heads = match model_config {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|source| LoadError::ReadConfig {
                path: p.to_path_buf(),
                source,
            })?;
            Some(
                HeadOverrides::from_hf_json(&text).map_err(|source| LoadError::BadConfig {
                    path: p.to_path_buf(),
                    source,
                })?,
            )
        }
        None => None,
    };
    let t = Instant::now();
    let model = SamModel::load_as(&file.path, heads, device, dtype).map_err(LoadError::Sam)?;
    let sha256 = record::sha256_file(&file.path)?;
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
        fallback: None,
    };
    Ok(LoadedModel {
        predictor,
        fallback: None,
        info,
    })
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
        let m = LoadError::NoModel.to_string();
        assert!(
            m.contains("generalist") && m.contains("cyto") && m.contains("--model"),
            "{m}"
        );
        assert!(LoadError::NoModel.is_usage());
    }
}
