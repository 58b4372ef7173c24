//! Where samcell's tests, examples and benchmarks find the shared materials, defined once:
//!
//! - `SAMCELL_SHARED`: the folder holding the Python reference harness (`reference/`: tiny SAM
//!   weights, configs, scripts). Default: `shared` beside the repository.
//! - `SAMCELL_DATA`: the real image sets (`usiigaci-phc/`, `dsb2018-train/`). Default:
//!   `$SAMCELL_SHARED/data`.
//!
//! A missing folder or file is a panic that names the variable to set: tests that need these
//! materials fail loudly, they never skip.

use std::path::{Path, PathBuf};

/// The repository root (the Cargo workspace).
pub fn workspace_root() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::canonicalize(&p).unwrap_or(p)
}

fn shared_unchecked() -> PathBuf {
    std::env::var_os("SAMCELL_SHARED").map(PathBuf::from).unwrap_or_else(|| workspace_root().join("../shared"))
}

/// The shared folder; it must hold `reference/`.
pub fn shared_dir() -> PathBuf {
    let p = shared_unchecked();
    assert!(
        p.join("reference").is_dir(),
        "reference harness not found in {}: set SAMCELL_SHARED to the folder holding reference/",
        p.display()
    );
    p
}

/// The real image sets; the folder must exist.
pub fn data_dir() -> PathBuf {
    let p = std::env::var_os("SAMCELL_DATA").map(PathBuf::from).unwrap_or_else(|| shared_unchecked().join("data"));
    assert!(
        p.is_dir(),
        "real data not found at {}: set SAMCELL_DATA to the folder holding usiigaci-phc/ and dsb2018-train/",
        p.display()
    );
    p
}

/// A file of the reference harness (`$SAMCELL_SHARED/reference/<name>`), which must exist.
pub fn reference_file(name: &str) -> PathBuf {
    let p = shared_dir().join("reference").join(name);
    assert!(p.is_file(), "{} missing from the reference harness (SAMCELL_SHARED)", p.display());
    p
}
