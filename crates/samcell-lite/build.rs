//! Embeds `models/samcell-lite.safetensors` (repository root) when it exists, after checking its
//! SHA-256 against `models/samcell-lite.sha256`; a mismatch or a missing `.sha256` fails the build.

use sha2::{Digest, Sha256};
use std::path::PathBuf;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(samcell_lite_embedded)");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let models = manifest.join("..").join("..").join("models");
    let weights = models.join("samcell-lite.safetensors");
    let sums = models.join("samcell-lite.sha256");
    // The folder (adding or replacing a file in it changes its mtime) and the files that exist
    // (a path that does not exist would make cargo rerun this script on every build).
    println!("cargo::rerun-if-changed={}", models.display());
    for f in [&weights, &sums] {
        if f.is_file() {
            println!("cargo::rerun-if-changed={}", f.display());
        }
    }
    println!("cargo::rerun-if-changed=build.rs");
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
    println!("cargo::rustc-cfg=samcell_lite_embedded");
    println!(
        "cargo::rustc-env=SAMCELL_LITE_WEIGHTS={}",
        weights.display()
    );
    println!("cargo::rustc-env=SAMCELL_LITE_SHA256={actual}");
}
