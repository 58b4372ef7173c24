//! The built-in models, embedded with `include_bytes!` when their files exist at build time:
//!
//! - `models/samcell-lite.safetensors`: the phase-contrast cell model ([`builtin_weights`],
//!   [`crate::LiteModel::builtin`], shown as [`BUILTIN_NAME`]);
//! - `models/samcell-lite-nuclei.safetensors`: the model trained on nuclei (DSB 2018), E. coli
//!   phase contrast and the phase-contrast cells ([`builtin_nuclei_weights`],
//!   [`crate::LiteModel::builtin_nuclei`], shown as [`NUCLEI_NAME`]); the default `lite` model
//!   turns to it for images that look unlike the cell model's training data
//!   (`samcell_pipeline::Segmenter::with_fallback`).
//!
//! The build script (`build.rs`) looks for each file; when present it must be accompanied by its
//! `.sha256` (`sha256sum` format: `<64 hex>  <file>`) and its SHA-256 must match, otherwise the
//! build fails. A build without a file lacks that model (the loaders say so).

/// SHA-256 (hex) recorded in `models/samcell-lite.sha256` for the embedded file.
#[cfg(samcell_lite_embedded)]
pub const BUILTIN_SHA256: Option<&str> = Some(env!("SAMCELL_LITE_SHA256"));
#[cfg(not(samcell_lite_embedded))]
pub const BUILTIN_SHA256: Option<&str> = None;

#[cfg(samcell_lite_embedded)]
static BUILTIN: Option<&[u8]> = Some(include_bytes!(env!("SAMCELL_LITE_WEIGHTS")));
#[cfg(not(samcell_lite_embedded))]
static BUILTIN: Option<&[u8]> = None;

/// SHA-256 (hex) recorded in `models/samcell-lite-nuclei.sha256` for the embedded file.
#[cfg(samcell_lite_nuclei_embedded)]
pub const NUCLEI_SHA256: Option<&str> = Some(env!("SAMCELL_LITE_NUCLEI_SHA256"));
#[cfg(not(samcell_lite_nuclei_embedded))]
pub const NUCLEI_SHA256: Option<&str> = None;

#[cfg(samcell_lite_nuclei_embedded)]
static NUCLEI: Option<&[u8]> = Some(include_bytes!(env!("SAMCELL_LITE_NUCLEI_WEIGHTS")));
#[cfg(not(samcell_lite_nuclei_embedded))]
static NUCLEI: Option<&[u8]> = None;

/// Name shown for the built-in cell model in logs and run metadata.
pub const BUILTIN_NAME: &str = "samcell-lite (built-in)";

/// Name shown for the built-in nuclei model in logs and run metadata.
pub const NUCLEI_NAME: &str = "samcell-lite-nuclei (built-in)";

/// The built-in nuclei model's small-object advice: for an image whose object diameter estimate
/// (`samcell_pipeline::size`, which reads in steps of 2^(1/4): ... 11.3, 13.5, 16 ...) is under
/// 14 px, `--scale 2` is suggested. Chosen on the DSB 2018 images of the training split
/// (`scripts/measure_size_rule.py`: it picks 44 of the 72 images whose median nucleus is under
/// 12 px across and 2 of the 463 others; MODEL_CARD.md, "Small objects").
pub const NUCLEI_SMALL_OBJECTS: samcell_pipeline::SmallObjects = samcell_pipeline::SmallObjects {
    below_px: 14.0,
    factor: 2.0,
};

/// The embedded cell model's weights file, if this build has one.
pub fn builtin_weights() -> Option<&'static [u8]> {
    BUILTIN
}

/// The embedded nuclei model's weights file, if this build has one.
pub fn builtin_nuclei_weights() -> Option<&'static [u8]> {
    NUCLEI
}

impl crate::LiteModel {
    /// The built-in cell model, verified against its recorded SHA-256.
    pub fn builtin() -> Result<Self, crate::LiteError> {
        verified(
            builtin_weights(),
            BUILTIN_SHA256,
            crate::LiteError::NoBuiltin,
        )
    }

    /// The built-in nuclei model, verified against its recorded SHA-256.
    pub fn builtin_nuclei() -> Result<Self, crate::LiteError> {
        verified(
            builtin_nuclei_weights(),
            NUCLEI_SHA256,
            crate::LiteError::NoBuiltinNuclei,
        )
    }
}

fn verified(
    bytes: Option<&[u8]>,
    recorded: Option<&str>,
    missing: crate::LiteError,
) -> Result<crate::LiteModel, crate::LiteError> {
    let bytes = bytes.ok_or(missing)?;
    let model = crate::LiteModel::from_bytes(bytes)?;
    if Some(model.sha256.as_str()) != recorded {
        return Err(crate::LiteError::Format(format!(
            "built-in weights hash {} does not match the recorded {recorded:?}",
            model.sha256
        )));
    }
    Ok(model)
}
