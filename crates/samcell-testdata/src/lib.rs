//! Where samcell's tests, examples and benchmarks find the shared materials, defined once:
//!
//! - `SAMCELL_SHARED`: the folder holding the Python reference harness (`reference/`: tiny SAM
//!   weights, configs, scripts). Default: `shared` beside the repository.
//! - `SAMCELL_DATA`: the real image sets (`usiigaci-phc/`, `dsb2018-train/`,
//!   `bacteria-timelapse/`). Default: `$SAMCELL_SHARED/data`.
//!
//! Tests ask through [`require_shared`], [`require_data`] or [`require`] (several at once), and
//! [`skip`] for anything else a test cannot run without: when a material is absent they get
//! `None` and skip, and one line on the terminal says which test skipped, what is missing, where
//! it was looked for and which variable points to it. With `SAMCELL_REQUIRE_DATA=1` (set by CI)
//! a missing material is a failure instead, so CI always runs these tests.
//!
//! [`shared_dir`], [`data_dir`] and [`reference_file`] are for benchmarks and examples, which
//! cannot run without the materials: a missing folder or file is a panic naming the variable.
//!
//! [`mutate`]: the byte mutations shared by the fuzz tests. [`npy`]: reading the `.npy` golden
//! fixtures. [`imagej_roi`]: decoding the ImageJ `.roi` files samcell writes.

#![forbid(unsafe_code)]

pub mod imagej_roi;
pub mod mutate;
pub mod npy;

use std::io::Write;
use std::path::{Path, PathBuf};

/// The repository root (the Cargo workspace).
pub fn workspace_root() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::canonicalize(&p).unwrap_or(p)
}

fn shared_unchecked() -> PathBuf {
    std::env::var_os("SAMCELL_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let root = workspace_root();
            match root.parent() {
                Some(beside) => beside.join("shared"),
                None => root.join("../shared"),
            }
        })
}

fn data_unchecked() -> PathBuf {
    std::env::var_os("SAMCELL_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| shared_unchecked().join("data"))
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
    let p = data_unchecked();
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
    assert!(
        p.is_file(),
        "{} missing from the reference harness (SAMCELL_SHARED)",
        p.display()
    );
    p
}

/// Whether `SAMCELL_REQUIRE_DATA` asks for missing materials to fail the tests (any value but
/// empty or `0`).
pub fn data_required() -> bool {
    std::env::var_os("SAMCELL_REQUIRE_DATA").is_some_and(|v| !v.is_empty() && v != "0")
}

/// A file of the reference harness (`$SAMCELL_SHARED/reference/<name>`, e.g.
/// `sam_tiny_scaled.safetensors`), or `None` after the skip line when it is absent. Panics
/// instead when `SAMCELL_REQUIRE_DATA=1`.
pub fn require_shared(name: &str) -> Option<PathBuf> {
    require(&[name], &[]).map(|mut v| v.remove(0))
}

/// An image set of the shared data (`$SAMCELL_DATA/<set>`: `usiigaci-phc`, `dsb2018-train` or
/// `bacteria-timelapse`), or `None` after the skip line when it is absent. Panics instead when
/// `SAMCELL_REQUIRE_DATA=1`.
pub fn require_data(set: &str) -> Option<PathBuf> {
    require(&[], &[set]).map(|mut v| v.remove(0))
}

/// Reference harness files (as [`require_shared`]) and image sets (as [`require_data`]) at once:
/// their paths in that order, or `None` after one skip line naming everything missing.
pub fn require(files: &[&str], sets: &[&str]) -> Option<Vec<PathBuf>> {
    let shared = shared_unchecked().join("reference");
    let data = data_unchecked();
    let wanted = files
        .iter()
        .map(|f| Wanted::File(f, shared.join(f)))
        .chain(sets.iter().map(|s| Wanted::Set(s, data.join(s))));
    match check(wanted, data_required()) {
        Ok(found) => Some(found),
        Err(why) => {
            skip_line(&why);
            None
        }
    }
}

/// Skips the calling test for a missing material that is not among the shared ones (e.g. a
/// build without the built-in samcell-lite model): the same skip line as [`require`], or, when
/// `SAMCELL_REQUIRE_DATA=1`, a panic. The caller returns right after it.
pub fn skip(why: &str) {
    if data_required() {
        panic!("{why}; SAMCELL_REQUIRE_DATA is set, so missing materials fail the test");
    }
    skip_line(why);
}

/// `SKIPPED <test>: <why>` on stderr.
fn skip_line(why: &str) {
    let test = std::thread::current()
        .name()
        .filter(|n| *n != "main")
        .map(|n| format!(" {n}"))
        .unwrap_or_default();
    // straight to stderr, past the test harness's output capture, so that the skip is seen in a
    // normal run
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED{test}: {why}");
}

enum Wanted<'a> {
    /// a reference harness file: its name and where it should be
    File(&'a str, PathBuf),
    /// an image set: its folder name and where it should be
    Set(&'a str, PathBuf),
}

/// The paths when all are present; otherwise the skip message (or, when `required`, a panic
/// with it).
fn check<'a>(
    wanted: impl Iterator<Item = Wanted<'a>>,
    required: bool,
) -> Result<Vec<PathBuf>, String> {
    let mut found = Vec::new();
    // missing files grouped by folder (in order), then missing sets
    let mut files: Vec<(PathBuf, Vec<&str>)> = Vec::new();
    let mut sets = Vec::new();
    for w in wanted {
        if present(&w) {
            let (Wanted::File(_, p) | Wanted::Set(_, p)) = w;
            found.push(p);
            continue;
        }
        match w {
            Wanted::File(name, p) => {
                let dir = p.parent().map(PathBuf::from).unwrap_or_default();
                match files.iter_mut().find(|(d, _)| *d == dir) {
                    Some((_, names)) => names.push(name),
                    None => files.push((dir, vec![name])),
                }
            }
            Wanted::Set(set, p) => sets.push(format!(
                "{} images not found at {}; set SAMCELL_DATA",
                set_name(set),
                p.display()
            )),
        }
    }
    let absent: Vec<String> = files
        .into_iter()
        .map(|(dir, names)| match names[..] {
            [name] => format!(
                "reference harness file {name} not found at {}; set SAMCELL_SHARED",
                dir.join(name).display()
            ),
            _ => format!(
                "reference harness files {} not found in {}; set SAMCELL_SHARED",
                names.join(", "),
                dir.display()
            ),
        })
        .chain(sets)
        .collect();
    if absent.is_empty() {
        return Ok(found);
    }
    let why = format!("{} (the shared materials)", absent.join("; "));
    if required {
        panic!("{why}; SAMCELL_REQUIRE_DATA is set, so missing materials fail the test");
    }
    Err(why)
}

fn present(w: &Wanted) -> bool {
    match w {
        Wanted::File(_, p) => p.is_file(),
        Wanted::Set(_, p) => p.is_dir(),
    }
}

fn set_name(set: &str) -> &str {
    match set {
        "usiigaci-phc" => "Usiigaci phase-contrast",
        "dsb2018-train" => "DSB2018",
        "bacteria-timelapse" => "bacteria time-lapse",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp() -> PathBuf {
        let d = std::env::temp_dir().join(format!("samcell-testdata-{}", std::process::id()));
        std::fs::create_dir_all(d.join("usiigaci-phc")).unwrap();
        std::fs::write(d.join("w.safetensors"), b"x").unwrap();
        d
    }

    #[test]
    fn present_materials_are_returned_in_order() {
        let d = tmp();
        let got = check(
            [
                Wanted::File("w.safetensors", d.join("w.safetensors")),
                Wanted::Set("usiigaci-phc", d.join("usiigaci-phc")),
            ]
            .into_iter(),
            true,
        );
        assert_eq!(
            got,
            Ok(vec![d.join("w.safetensors"), d.join("usiigaci-phc")])
        );
    }

    #[test]
    fn missing_materials_are_named_in_one_message() {
        let d = tmp();
        let why = check(
            [
                Wanted::File("w.safetensors", d.join("w.safetensors")),
                Wanted::File("gone.pt", d.join("gone.pt")),
                Wanted::Set("dsb2018-train", d.join("dsb2018-train")),
                // a file where a folder is wanted is missing too
                Wanted::Set("usiigaci-phc", d.join("w.safetensors")),
            ]
            .into_iter(),
            false,
        )
        .unwrap_err();
        assert!(!why.contains('\n'), "one line: {why}");
        for part in [
            "reference harness file gone.pt not found at",
            "set SAMCELL_SHARED",
            "DSB2018 images not found at",
            "Usiigaci phase-contrast images not found at",
            "set SAMCELL_DATA",
        ] {
            assert!(why.contains(part), "{part:?} in {why:?}");
        }
        assert!(!why.contains("w.safetensors not found"), "{why}");
    }

    #[test]
    fn missing_files_of_one_folder_are_named_together() {
        let d = tmp();
        let why = check(
            [
                Wanted::File("a.pt", d.join("a.pt")),
                Wanted::File("b.json", d.join("b.json")),
            ]
            .into_iter(),
            false,
        )
        .unwrap_err();
        let want = format!(
            "reference harness files a.pt, b.json not found in {}; set SAMCELL_SHARED (the shared materials)",
            d.display()
        );
        assert_eq!(why, want);
    }

    #[test]
    #[should_panic(expected = "DSB2018 images not found at")]
    fn required_materials_that_are_missing_fail() {
        let d = tmp();
        let _ = check(
            [Wanted::Set("dsb2018-train", d.join("dsb2018-train"))].into_iter(),
            true,
        );
    }
}
