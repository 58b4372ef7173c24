//! Embeds the built-in models of `models/` (repository root) when they exist, after checking
//! each file's SHA-256 against its `.sha256` file; a mismatch or a missing `.sha256` fails the
//! build:
//!
//! - `samcell-lite.safetensors` (the phase-contrast cell model): cfg `samcell_lite_embedded`,
//!   env `SAMCELL_LITE_WEIGHTS` / `SAMCELL_LITE_SHA256`;
//! - `samcell-lite-nuclei.safetensors` (nuclei, bacteria and other microscopes): cfg
//!   `samcell_lite_nuclei_embedded`, env `SAMCELL_LITE_NUCLEI_WEIGHTS` /
//!   `SAMCELL_LITE_NUCLEI_SHA256`.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo::rustc-check-cfg=cfg(samcell_lite_embedded)");
    println!("cargo::rustc-check-cfg=cfg(samcell_lite_nuclei_embedded)");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let models = manifest.join("..").join("..").join("models");
    // The folder (adding or replacing a file in it changes its mtime); each existing file is
    // watched by `embed` (a path that does not exist would make cargo rerun this script on every
    // build).
    println!("cargo::rerun-if-changed={}", models.display());
    println!("cargo::rerun-if-changed=build.rs");
    embed(
        &models,
        "samcell-lite",
        "samcell_lite_embedded",
        "SAMCELL_LITE",
    );
    embed(
        &models,
        "samcell-lite-nuclei",
        "samcell_lite_nuclei_embedded",
        "SAMCELL_LITE_NUCLEI",
    );
}

/// Checks `<stem>.safetensors` against `<stem>.sha256` and, when present, sets `cfg` and the
/// env vars `<env>_WEIGHTS` (its path) and `<env>_SHA256`.
fn embed(models: &Path, stem: &str, cfg: &str, env: &str) {
    let weights = models.join(format!("{stem}.safetensors"));
    let sums = models.join(format!("{stem}.sha256"));
    for f in [&weights, &sums] {
        if f.is_file() {
            println!("cargo::rerun-if-changed={}", f.display());
        }
    }
    if !weights.is_file() {
        return;
    }
    let bytes = std::fs::read(&weights)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", weights.display()));
    let actual: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let recorded = std::fs::read_to_string(&sums).unwrap_or_else(|e| {
        panic!(
            "{} exists but {} cannot be read ({e}): record its SHA-256 there",
            weights.display(),
            sums.display()
        )
    });
    let recorded = recorded
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    if recorded != actual {
        panic!(
            "SHA-256 of {} is {actual} but {} records {recorded:?}",
            weights.display(),
            sums.display()
        );
    }
    println!("cargo::rustc-cfg={cfg}");
    println!("cargo::rustc-env={env}_WEIGHTS={}", weights.display());
    println!("cargo::rustc-env={env}_SHA256={actual}");
}
