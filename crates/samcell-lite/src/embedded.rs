//! The built-in model: `models/samcell-lite.safetensors` of the repository, embedded with
//! `include_bytes!` when it exists at build time.
//!
//! The build script (`build.rs`) looks for the file; when present it must be accompanied by
//! `models/samcell-lite.sha256` (`sha256sum` format: `<64 hex>  samcell-lite.safetensors`) and
//! its SHA-256 must match, otherwise the build fails. A build without the file has no built-in
//! model ([`builtin_weights`] is `None`, [`crate::LiteModel::builtin`] says so).

/// SHA-256 (hex) recorded in `models/samcell-lite.sha256` for the embedded file.
#[cfg(samcell_lite_embedded)]
pub const BUILTIN_SHA256: Option<&str> = Some(env!("SAMCELL_LITE_SHA256"));
#[cfg(not(samcell_lite_embedded))]
pub const BUILTIN_SHA256: Option<&str> = None;

#[cfg(samcell_lite_embedded)]
static BUILTIN: Option<&[u8]> = Some(include_bytes!(env!("SAMCELL_LITE_WEIGHTS")));
#[cfg(not(samcell_lite_embedded))]
static BUILTIN: Option<&[u8]> = None;

/// Name shown for the built-in model in logs and run metadata.
pub const BUILTIN_NAME: &str = "samcell-lite (built-in)";

/// The embedded weights file, if this build has one.
pub fn builtin_weights() -> Option<&'static [u8]> {
    BUILTIN
}

impl crate::LiteModel {
    /// The built-in model, verified against its recorded SHA-256.
    pub fn builtin() -> Result<Self, crate::LiteError> {
        let bytes = builtin_weights().ok_or(crate::LiteError::NoBuiltin)?;
        let model = Self::from_bytes(bytes)?;
        if Some(model.sha256.as_str()) != BUILTIN_SHA256 {
            return Err(crate::LiteError::Format(format!(
                "built-in weights hash {} does not match the recorded {:?}",
                model.sha256, BUILTIN_SHA256
            )));
        }
        Ok(model)
    }
}
