//! One summary line, at build time, when the shared materials that some tests need are absent:
//! which are missing, where they were looked for and where they come from. The tests that need
//! them then skip (or fail with `SAMCELL_REQUIRE_DATA=1`); each skip also prints its own line.
//!
//! The folders are resolved exactly as `src/lib.rs` does (`SAMCELL_SHARED`, default `shared`
//! beside the repository; `SAMCELL_DATA`, default `$SAMCELL_SHARED/data`).

use std::path::PathBuf;

/// The image sets and where each comes from.
const SETS: [(&str, &str); 3] = [
    (
        "usiigaci-phc",
        "Usiigaci phase-contrast training set, github.com/oist/Usiigaci (MIT)",
    ),
    (
        "dsb2018-train",
        "2018 Data Science Bowl stage1_train nuclei, with community fixes (CC0)",
    ),
    (
        "bacteria-timelapse",
        "bacteria phase-contrast time-lapse, github.com/bentaculum/divisualisation (MIT)",
    ),
];

fn main() {
    for var in ["SAMCELL_SHARED", "SAMCELL_DATA", "SAMCELL_REQUIRE_DATA"] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest.join("../..");
    let root = std::fs::canonicalize(&root).unwrap_or(root);
    let shared = std::env::var_os("SAMCELL_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| match root.parent() {
            Some(beside) => beside.join("shared"),
            None => root.join("../shared"),
        });
    let data = std::env::var_os("SAMCELL_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| shared.join("data"));
    let reference = shared.join("reference");
    // A missing path is re-checked on every build, so the line appears until the materials do;
    // a present one re-runs this script when it changes.
    println!("cargo:rerun-if-changed={}", reference.display());
    let mut missing = Vec::new();
    if !reference.is_dir() {
        missing.push(format!(
            "the Python reference harness ({}; set SAMCELL_SHARED)",
            reference.display()
        ));
    }
    for (set, origin) in SETS {
        let p = data.join(set);
        println!("cargo:rerun-if-changed={}", p.display());
        if !p.is_dir() {
            missing.push(format!("{set} ({origin})"));
        }
    }
    if missing.is_empty() {
        return;
    }
    let sets_at = if missing.len() > usize::from(!reference.is_dir()) {
        format!(
            "; image sets looked for in {} (set SAMCELL_DATA)",
            data.display()
        )
    } else {
        String::new()
    };
    let outcome =
        if std::env::var_os("SAMCELL_REQUIRE_DATA").is_some_and(|v| !v.is_empty() && v != "0") {
            "SAMCELL_REQUIRE_DATA is set: the tests that need them fail"
        } else {
            "the tests that need them are skipped (SAMCELL_REQUIRE_DATA=1 makes them fail)"
        };
    println!(
        "cargo:warning=shared test materials missing: {}{sets_at}; {outcome}",
        missing.join(", ")
    );
}
