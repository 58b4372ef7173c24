//! The weights file: safetensors, f32 tensors named as [`crate::net::param_specs`], with metadata
//! `{"format": "samcell-lite", "format_version": "1", "config": <LiteConfig JSON>}` so that a
//! file is self-describing.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use safetensors::tensor::{Dtype, SafeTensors};
use sha2::{Digest, Sha256};

use crate::net::{param_specs, LiteNet};
use crate::{LiteConfig, LiteError};

/// Metadata key and value naming the format.
pub const META_FORMAT: &str = "format";
/// Value of [`META_FORMAT`].
pub const FORMAT_NAME: &str = "samcell-lite";
/// Metadata key of the format version.
pub const META_VERSION: &str = "format_version";
/// The only format version so far.
pub const FORMAT_VERSION: &str = "1";
/// Metadata key of the [`LiteConfig`] JSON.
pub const META_CONFIG: &str = "config";

/// A loaded model: its configuration, network and the SHA-256 of the bytes it came from.
#[derive(Debug)]
pub struct LiteModel {
    /// The architecture and training crop size, as stored in the file.
    pub config: LiteConfig,
    /// The network with the file's parameters.
    pub net: LiteNet,
    /// SHA-256 (hex) of the weights file.
    pub sha256: String,
    device: Device,
}

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl LiteModel {
    /// Loads a weights file (CPU).
    pub fn load(path: &Path) -> Result<Self, LiteError> {
        let bytes = std::fs::read(path).map_err(|source| LiteError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(&bytes).map_err(|e| match e {
            LiteError::Format(m) => LiteError::Format(format!("{}: {m}", path.display())),
            e => e,
        })
    }

    /// Loads weights from the bytes of a safetensors file (CPU).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, LiteError> {
        let st = SafeTensors::deserialize(bytes)
            .map_err(|e| LiteError::Format(format!("not a safetensors file: {e}")))?;
        let (_, header) = SafeTensors::read_metadata(bytes)
            .map_err(|e| LiteError::Format(format!("not a safetensors file: {e}")))?;
        let meta = header.metadata().clone().unwrap_or_default();
        match meta.get(META_FORMAT).map(String::as_str) {
            Some(FORMAT_NAME) => {}
            other => {
                return Err(LiteError::Format(format!(
                    "metadata {META_FORMAT:?} is {other:?}, expected {FORMAT_NAME:?} (not a samcell-lite weights file)"
                )))
            }
        }
        if let Some(v) = meta
            .get(META_VERSION)
            .filter(|v| v.as_str() != FORMAT_VERSION)
        {
            return Err(LiteError::Format(format!(
                "format version {v} is not supported (this build reads {FORMAT_VERSION})"
            )));
        }
        let config =
            LiteConfig::from_json(meta.get(META_CONFIG).ok_or_else(|| {
                LiteError::Format(format!("no {META_CONFIG:?} in the metadata"))
            })?)?;
        let device = Device::Cpu;
        let mut tensors = HashMap::new();
        for (name, view) in st.tensors() {
            if view.dtype() != Dtype::F32 {
                return Err(LiteError::Format(format!(
                    "tensor {name:?} is {:?}, expected F32",
                    view.dtype()
                )));
            }
            let data: Vec<f32> = view
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            tensors.insert(name, Tensor::from_vec(data, view.shape(), &device)?);
        }
        let net = LiteNet::from_tensors(&config, tensors)?;
        Ok(Self {
            config,
            net,
            sha256: sha256_hex(bytes),
            device,
        })
    }

    /// A model from named tensors (e.g. [`crate::net::init_params`]), as if saved and loaded.
    pub fn from_params(
        config: &LiteConfig,
        params: &[(String, Tensor)],
    ) -> Result<Self, LiteError> {
        let bytes = to_safetensors_bytes(config, params)?;
        Self::from_bytes(&bytes)
    }

    /// The device the tensors live on.
    pub fn device(&self) -> &Device {
        &self.device
    }
}

/// The bytes of a weights file holding `params` (every parameter of `config`, any order).
///
/// Written here rather than with `safetensors::serialize` so that the bytes are reproducible
/// (the crate writes its metadata map in hash order): header keys sorted, metadata first,
/// tensors in key order, the header padded with spaces to a multiple of 8 bytes as the format
/// recommends. The result is read back with the `safetensors` crate (which validates it).
pub fn to_safetensors_bytes(
    config: &LiteConfig,
    params: &[(String, Tensor)],
) -> Result<Vec<u8>, LiteError> {
    config.validate()?;
    let mut want: Vec<(String, Vec<usize>)> = param_specs(config)
        .into_iter()
        .map(|s| (s.name, s.shape))
        .collect();
    want.sort_unstable();
    let mut sorted: Vec<&(String, Tensor)> = params.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    if sorted.len() != want.len()
        || sorted
            .iter()
            .zip(&want)
            .any(|((n, t), (wn, ws))| n != wn || t.dims() != ws.as_slice())
    {
        return Err(LiteError::Format(format!(
            "the tensors to save (names and shapes) do not match {}",
            config.describe()
        )));
    }
    let mut header = std::collections::BTreeMap::<String, serde_json::Value>::new();
    header.insert(
        "__metadata__".into(),
        serde_json::json!({
            META_CONFIG: config.to_json(),
            META_FORMAT: FORMAT_NAME,
            META_VERSION: FORMAT_VERSION,
        }),
    );
    let mut data = Vec::new();
    for (name, t) in sorted {
        let v: Vec<f32> = t.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
        let start = data.len();
        data.extend(v.iter().flat_map(|x| x.to_le_bytes()));
        header.insert(
            name.clone(),
            serde_json::json!({"dtype": "F32", "shape": t.dims(), "data_offsets": [start, data.len()]}),
        );
    }
    // A BTreeMap serialises in key order ("__metadata__" sorts before lower-case names).
    let mut json = serde_json::to_vec(&header).map_err(|e| LiteError::Format(e.to_string()))?;
    while json.len() % 8 != 0 {
        json.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + json.len() + data.len());
    out.extend((json.len() as u64).to_le_bytes());
    out.extend(json);
    out.extend(data);
    Ok(out)
}

/// Writes a weights file holding `params` (see [`to_safetensors_bytes`]).
pub fn save_safetensors(
    path: &Path,
    config: &LiteConfig,
    params: &[(String, Tensor)],
) -> Result<(), LiteError> {
    let bytes = to_safetensors_bytes(config, params)?;
    std::fs::write(path, bytes).map_err(|source| LiteError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// The bytes of a weights file of untrained parameters ([`crate::init_params`] with `seed`):
/// for tests, benchmarks and the start of training, never a model to ship.
pub fn untrained_file_bytes(config: &LiteConfig, seed: u64) -> Result<Vec<u8>, LiteError> {
    to_safetensors_bytes(config, &crate::init_params(config, seed, &Device::Cpu)?)
}

/// Whether `path` is a samcell-lite weights file (a safetensors header whose metadata says
/// `format = "samcell-lite"`); reads only the header.
pub fn is_lite_file(path: &Path) -> bool {
    use std::io::Read;
    let Ok(mut f) = std::fs::File::open(path) else {
        return false;
    };
    let mut len = [0u8; 8];
    if f.read_exact(&mut len).is_err() {
        return false;
    }
    let n = u64::from_le_bytes(len);
    if n > 100_000_000 {
        return false;
    }
    let mut header = vec![0u8; n as usize];
    if f.read_exact(&mut header).is_err() {
        return false;
    }
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(&header) else {
        return false;
    };
    json.get("__metadata__")
        .and_then(|m| m.get(META_FORMAT))
        .and_then(|v| v.as_str())
        == Some(FORMAT_NAME)
}
