//! Reading SAM checkpoints: PyTorch `torch.save` zip archives (`.pt`, `.pth`, `.bin`) and
//! safetensors, in the Hugging Face `SamModel.state_dict()` key layout — the layout of the
//! published `samcell-generalist.pt` / `samcell-cyto.pt` and of `FinetunedSAM.load_weights`.
//!
//! The format is decided by the file's first bytes, not its extension. Like PyTorch's
//! `load_state_dict(strict=True)`, which the reference uses, a checkpoint must contain exactly
//! the expected keys with the expected shapes; anything else is an error that says what is
//! wrong (missing, unexpected or mis-shaped keys, truncated archives, a Meta-layout SAM
//! checkpoint, a file that is not a checkpoint at all). A malformed pickle that makes candle's
//! reader panic is caught and reported as a malformed archive (found by
//! `tests/fuzz_checkpoint.rs`).

use crate::config::{HeadOverrides, SamConfig};
use crate::ModelError;
use candle_core::{DType, Device, Tensor};
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

/// File formats a checkpoint can come in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `torch.save` zip archive (PyTorch >= 1.6), any extension.
    TorchZip,
    /// safetensors file (8-byte header length, then a JSON header), any extension.
    Safetensors,
}

/// Tensors of a checkpoint, by Hugging Face key, as f32 on the CPU.
pub struct Checkpoint {
    /// Every tensor of the file, keyed by its Hugging Face `SamModel.state_dict()` name.
    pub tensors: HashMap<String, Tensor>,
    /// The format the file was read as.
    pub format: Format,
}

fn err(path: &Path, reason: impl Into<String>) -> ModelError {
    ModelError::Checkpoint {
        path: path.to_path_buf(),
        reason: reason.into(),
        source: None,
    }
}

/// A checkpoint error caused by the system's `source` (`reason` says what was being done).
fn err_io(path: &Path, reason: &str, source: std::io::Error) -> ModelError {
    ModelError::Checkpoint {
        path: path.to_path_buf(),
        reason: reason.to_string(),
        source: Some(source),
    }
}

/// Detects the format from the first bytes of `path`.
pub fn sniff(path: &Path) -> Result<Format, ModelError> {
    let mut f = std::fs::File::open(path).map_err(|e| err_io(path, "cannot open", e))?;
    let mut head = [0u8; 16];
    let n = f
        .read(&mut head)
        .map_err(|e| err_io(path, "cannot read", e))?;
    if n == 0 {
        return Err(err(path, "the file is empty"));
    }
    if n >= 4 && &head[..4] == b"PK\x03\x04" {
        return Ok(Format::TorchZip);
    }
    if n >= 9 && head[8] == b'{' {
        return Ok(Format::Safetensors);
    }
    if head[0] == 0x80 {
        return Err(err(
            path,
            "this is a legacy (pre-1.6, non-zip) PyTorch file; re-save it with a current torch.save or as safetensors",
        ));
    }
    Err(err(path, "not a PyTorch zip archive or safetensors file"))
}

impl Checkpoint {
    /// Reads every tensor of a checkpoint file.
    pub fn read(path: &Path) -> Result<Self, ModelError> {
        let format = sniff(path)?;
        let raw: Vec<(String, Tensor)> = match format {
            Format::Safetensors => {
                let bytes = std::fs::read(path).map_err(|e| err_io(path, "cannot read", e))?;
                // validate the header and data extents first: candle's loader panics on some corruptions
                safetensors::SafeTensors::deserialize(&bytes).map_err(|e| {
                    err(path, format!("corrupt or truncated safetensors file: {e}"))
                })?;
                candle_core::safetensors::load_buffer(&bytes, &Device::Cpu)
                    .map_err(|e| err(path, format!("cannot decode safetensors: {e}")))?
                    .into_iter()
                    .collect()
            }
            Format::TorchZip => {
                check_zip(path)?;
                check_tensor_extents(path)?;
                // candle's pickle reader indexes into what the pickle declares and panics on some
                // malformed files (e.g. a storage id tuple with fewer than 5 fields): a panic there
                // is a malformed file, reported as such
                std::panic::catch_unwind(|| candle_core::pickle::read_all(path))
                    .map_err(|_| err(path, "malformed PyTorch archive: its data.pkl does not describe tensors the way torch.save writes them"))?
                    .map_err(|e| err(path, format!("cannot decode the PyTorch archive: {e}")))?
            }
        };
        if raw.is_empty() {
            return Err(err(path, "the file holds no tensors"));
        }
        let mut tensors = HashMap::with_capacity(raw.len());
        for (k, t) in raw {
            let t = match t.dtype() {
                DType::F32 => t,
                DType::F16 | DType::BF16 | DType::F64 => t
                    .to_dtype(DType::F32)
                    .map_err(|e| err(path, format!("{k}: cannot convert to f32: {e}")))?,
                other => {
                    return Err(err(
                        path,
                        format!("{k} has dtype {other:?}; SAM weights are floating point"),
                    ))
                }
            };
            tensors.insert(k, t);
        }
        Ok(Self { tensors, format })
    }

    /// Checks that the keys and shapes are exactly those of a Hugging Face SAM state dict and
    /// returns the detected configuration.
    pub fn validate(&self, path: &Path, heads: HeadOverrides) -> Result<SamConfig, ModelError> {
        let t = &self.tensors;
        if t.keys().any(|k| k.starts_with("image_encoder.")) {
            return Err(err(
                path,
                "this is a SAM checkpoint in Meta's original layout (image_encoder.*); samcell reads the Hugging Face SamModel layout (vision_encoder.*), as published for SAMCell",
            ));
        }
        if !t.keys().any(|k| k.starts_with("vision_encoder.")) {
            let mut some: Vec<&String> = t.keys().collect();
            some.sort();
            some.truncate(5);
            return Err(err(
                path,
                format!("not a SAM checkpoint: no vision_encoder.* keys (first keys: {some:?})"),
            ));
        }
        let cfg = SamConfig::detect(t, heads).map_err(|e| err(path, e.to_string()))?;
        let expected = cfg.expected_keys();
        let mut missing = Vec::new();
        let mut misshaped = Vec::new();
        for (k, shape) in &expected {
            match t.get(k) {
                None => missing.push(k.clone()),
                Some(v) if v.dims() != shape.as_slice() => {
                    misshaped.push(format!("{k}: expected {shape:?}, found {:?}", v.dims()))
                }
                _ => {}
            }
        }
        let known: std::collections::HashSet<&str> =
            expected.iter().map(|(k, _)| k.as_str()).collect();
        let mut unexpected: Vec<String> = t
            .keys()
            .filter(|k| !known.contains(k.as_str()))
            .cloned()
            .collect();
        unexpected.sort();
        // the tied positional embedding may be stored once
        missing.retain(|k| {
            !(k == "prompt_encoder.shared_embedding.positional_embedding"
                && t.contains_key("shared_image_embedding.positional_embedding"))
        });
        let mut problems = Vec::new();
        if !missing.is_empty() {
            problems.push(format!(
                "{} missing keys: {}",
                missing.len(),
                list(&missing)
            ));
        }
        if !unexpected.is_empty() {
            problems.push(format!(
                "{} unexpected keys: {}",
                unexpected.len(),
                list(&unexpected)
            ));
        }
        if !misshaped.is_empty() {
            problems.push(format!(
                "{} mis-shaped tensors: {}",
                misshaped.len(),
                list(&misshaped)
            ));
        }
        if !problems.is_empty() {
            return Err(err(
                path,
                format!(
                    "not a valid {} SAM checkpoint: {}",
                    cfg.variant(),
                    problems.join("; ")
                ),
            ));
        }
        Ok(cfg)
    }
}

fn list(items: &[String]) -> String {
    let shown: Vec<&str> = items.iter().take(6).map(|s| s.as_str()).collect();
    if items.len() > shown.len() {
        format!(
            "{} … (+{} more)",
            shown.join(", "),
            items.len() - shown.len()
        )
    } else {
        shown.join(", ")
    }
}

/// Checks that every tensor the archive's pickle declares fits in its storage member: candle's
/// loader allocates the declared shape before reading, so a damaged or hostile pickle claiming a
/// huge tensor would otherwise abort the process for lack of memory instead of being refused.
fn check_tensor_extents(path: &Path) -> Result<(), ModelError> {
    let malformed = || {
        err(
            path,
            "malformed PyTorch archive: its data.pkl does not describe tensors the way torch.save writes them",
        )
    };
    let infos =
        std::panic::catch_unwind(|| candle_core::pickle::read_pth_tensor_info(path, false, None))
            .map_err(|_| malformed())?
            .map_err(|e| err(path, format!("cannot decode the PyTorch archive: {e}")))?;
    let f = std::fs::File::open(path).map_err(|e| err_io(path, "cannot open", e))?;
    let mut z = zip::ZipArchive::new(std::io::BufReader::new(f))
        .map_err(|e| err(path, format!("truncated or corrupt PyTorch archive: {e}")))?;
    for info in infos {
        let needed = info
            .layout
            .start_offset()
            .checked_add(info.layout.shape().elem_count())
            .and_then(|n| n.checked_mul(info.dtype.size_in_bytes()));
        let held = z.by_name(&info.path).map(|m| m.size()).ok();
        match (needed, held) {
            (Some(n), Some(h)) if n as u64 <= h => {}
            (_, None) => {
                return Err(err(
                    path,
                    format!(
                        "{}: its storage {} is missing from the archive",
                        info.name, info.path
                    ),
                ))
            }
            _ => {
                return Err(err(
                    path,
                    format!(
                    "{}: shape {:?} of {:?} needs more bytes than its storage {} holds ({} bytes)",
                    info.name,
                    info.layout.shape().dims(),
                    info.dtype,
                    info.path,
                    held.unwrap_or(0)
                ),
                ))
            }
        }
    }
    Ok(())
}

/// Opens the zip and reads every member once to its end, which makes the zip reader verify each
/// member's CRC-32. This is a deliberate second read of the file: the tensor loader reads exactly
/// each tensor's bytes and never reaches the CRC check, so a corrupted download would otherwise
/// load as wrong weights without any error. Truncation is caught earlier, by the missing central
/// directory.
fn check_zip(path: &Path) -> Result<(), ModelError> {
    let f = std::fs::File::open(path).map_err(|e| err_io(path, "cannot open", e))?;
    let mut z = zip::ZipArchive::new(std::io::BufReader::new(f))
        .map_err(|e| err(path, format!("truncated or corrupt PyTorch archive: {e}")))?;
    let mut has_pickle = false;
    for i in 0..z.len() {
        let mut m = z
            .by_index(i)
            .map_err(|e| err(path, format!("truncated or corrupt PyTorch archive: {e}")))?;
        if m.name().ends_with("data.pkl") {
            has_pickle = true;
        }
        // reading the member validates its CRC and that its data is all there
        std::io::copy(&mut m, &mut std::io::sink()).map_err(|e| {
            err(
                path,
                format!("truncated or corrupt PyTorch archive ({}): {e}", m.name()),
            )
        })?;
    }
    if !has_pickle {
        return Err(err(
            path,
            "a zip file without data.pkl: not a torch.save archive",
        ));
    }
    Ok(())
}
