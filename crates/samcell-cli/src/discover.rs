//! Finding the input images and giving each a unique output name.
//!
//! Each command-line input is, in this order of checks:
//! - an existing **file**: taken whatever its extension (the content decides the format);
//! - an existing **folder**: its image files (extensions png, jpg, jpeg, tif, tiff, bmp, any
//!   case), and with `recursive` those of its sub-folders too. Entries whose name starts with `.`
//!   are skipped (e.g. macOS `._x.png` resource forks), symbolic links to folders are not
//!   followed, and the output folder is not searched when met as a sub-folder;
//! - otherwise, if it contains `*`, `?` or `[`, a **glob pattern** expanded here (so quoted
//!   patterns work on every shell): matching files with an image extension, and matching folders
//!   as above. `*` does not cross `/`; `**` does.
//!
//! Files found in the output folder (when it is itself an input folder, or matched by a pattern)
//! are skipped when their names end like samcell outputs (`_masks.tif`, `_overlay.png`,
//! `_distmap.tif`), so outputs written beside the inputs are not segmented on the next run.
//!
//! A path that does not exist and is not a pattern is an error (a typo should not silently drop
//! images); a pattern that matches nothing is a warning. The result is sorted by path, with
//! duplicates (the same file reached twice) removed.
//!
//! Output names ([`output_names`]) are the file stems. When stems collide (compared ignoring
//! case, for case-insensitive file systems), each colliding file's folder path relative to the
//! deepest folder the colliding files share is put in front, joined with `__`
//! (`a/x.png`, `b/x.png` -> `a__x`, `b__x`); files in the same folder that still collide get
//! their extension appended (`x.png`, `x.tif` -> `x_png`, `x_tif`); anything still colliding gets
//! `_2`, `_3`... in path order.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

/// Extensions looked for inside folders (compared ignoring case).
pub const IMAGE_EXTENSIONS: [&str; 6] = ["png", "jpg", "jpeg", "tif", "tiff", "bmp"];

/// One input image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Input {
    /// The path as found (relative paths stay relative).
    pub path: PathBuf,
    /// Canonical path (for duplicate removal and naming).
    canonical: PathBuf,
}

/// What discovery found, plus warnings to show.
#[derive(Debug, Default)]
pub struct Discovery {
    pub inputs: Vec<Input>,
    pub warnings: Vec<String>,
}

/// Whether `path` has one of [`IMAGE_EXTENSIONS`].
pub fn has_image_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

fn is_pattern(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.'))
}

/// Finds the inputs named by `args`; `exclude` is the output folder (never searched).
pub fn discover(
    args: &[String],
    recursive: bool,
    exclude: Option<&Path>,
) -> Result<Discovery, String> {
    let exclude = exclude.and_then(|p| p.canonicalize().ok());
    let mut found = Discovery::default();
    let mut files: Vec<PathBuf> = Vec::new();
    for arg in args {
        let path = Path::new(arg);
        if path.is_file() {
            files.push(path.to_path_buf());
        } else if path.is_dir() {
            let before = files.len();
            walk(
                path,
                recursive,
                exclude.as_deref(),
                &mut files,
                &mut found.warnings,
            );
            if files.len() == before {
                found.warnings.push(format!(
                    "no image files in folder {}{}",
                    path.display(),
                    if recursive {
                        ""
                    } else {
                        " (use --recursive to search its sub-folders)"
                    }
                ));
            }
        } else if is_pattern(arg) {
            expand_glob(
                arg,
                recursive,
                exclude.as_deref(),
                &mut files,
                &mut found.warnings,
            )?;
        } else if path.exists() {
            return Err(format!(
                "input {} is neither a file nor a folder",
                path.display()
            ));
        } else {
            return Err(format!("input not found: {}", path.display()));
        }
    }
    let mut seen = HashSet::new();
    let mut inputs: Vec<Input> = Vec::with_capacity(files.len());
    for path in files {
        let canonical = path
            .canonicalize()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if seen.insert(canonical.clone()) {
            inputs.push(Input { path, canonical });
        }
    }
    inputs.sort_by(|a, b| {
        a.path
            .cmp(&b.path)
            .then_with(|| a.canonical.cmp(&b.canonical))
    });
    found.inputs = inputs;
    Ok(found)
}

fn expand_glob(
    pattern: &str,
    recursive: bool,
    exclude: Option<&Path>,
    files: &mut Vec<PathBuf>,
    warnings: &mut Vec<String>,
) -> Result<(), String> {
    let opts = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: true,
    };
    let paths = glob::glob_with(pattern, opts)
        .map_err(|e| format!("invalid glob pattern {pattern:?}: {e}"))?;
    let before = files.len();
    let mut matched_other = 0usize;
    for entry in paths {
        let path = match entry {
            Ok(p) => p,
            Err(e) => {
                warnings.push(format!(
                    "pattern {pattern:?}: cannot read {}: {}",
                    e.path().display(),
                    e.error()
                ));
                continue;
            }
        };
        if path.is_dir() {
            if !is_output_dir(&path, exclude) {
                walk(&path, recursive, exclude, files, warnings);
            }
        } else if is_output_file(&path, exclude) {
            continue;
        } else if has_image_extension(&path) {
            files.push(path);
        } else {
            matched_other += 1;
        }
    }
    if files.len() == before {
        let extra = if matched_other > 0 {
            format!(
                " ({matched_other} file(s) matched, none with an image extension: {})",
                IMAGE_EXTENSIONS.join(", ")
            )
        } else {
            String::new()
        };
        warnings.push(format!("pattern {pattern:?} matched no image files{extra}"));
    }
    Ok(())
}

/// Name endings of the per-image outputs (see `segment::outputs`).
const OUTPUT_SUFFIXES: [&str; 3] = ["_masks.tif", "_overlay.png", "_distmap.tif"];

fn is_output_dir(dir: &Path, exclude: Option<&Path>) -> bool {
    match (exclude, dir.canonicalize()) {
        (Some(ex), Ok(c)) => c == ex,
        _ => false,
    }
}

/// A file in the output folder named like a samcell output.
fn is_output_file(path: &Path, exclude: Option<&Path>) -> bool {
    let named_like_output = path
        .file_name()
        .and_then(|n| n.to_str())
        .map(|n| n.to_ascii_lowercase())
        .is_some_and(|n| OUTPUT_SUFFIXES.iter().any(|s| n.ends_with(s)));
    named_like_output
        && path.parent().is_some_and(|p| {
            is_output_dir(
                if p.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    p
                },
                exclude,
            )
        })
}

fn walk(
    dir: &Path,
    recursive: bool,
    exclude: Option<&Path>,
    files: &mut Vec<PathBuf>,
    warnings: &mut Vec<String>,
) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            warnings.push(format!("cannot read folder {}: {e}", dir.display()));
            return;
        }
    };
    let mut subdirs = Vec::new();
    for entry in entries {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                warnings.push(format!("cannot read folder {}: {e}", dir.display()));
                continue;
            }
        };
        let path = entry.path();
        if is_hidden(&path) {
            continue;
        }
        let is_link = entry.file_type().is_ok_and(|t| t.is_symlink());
        if path.is_dir() {
            if recursive && !is_link && !is_output_dir(&path, exclude) {
                subdirs.push(path);
            }
        } else if path.is_file() && has_image_extension(&path) && !is_output_file(&path, exclude) {
            files.push(path);
        }
    }
    subdirs.sort();
    for d in subdirs {
        walk(&d, recursive, exclude, files, warnings);
    }
}

/// Unique output names (file name prefixes) for `inputs`, in the same order; see the module doc.
pub fn output_names(inputs: &[Input]) -> Vec<String> {
    let stem = |i: &Input| {
        i.path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let mut names: Vec<String> = inputs.iter().map(stem).collect();

    // step 1: prefix the folder path relative to the deepest shared folder
    for group in collisions(&names) {
        let parents: Vec<&Path> = group
            .iter()
            .map(|&i| inputs[i].canonical.parent().unwrap_or(Path::new("")))
            .collect();
        let base = common_ancestor(&parents);
        for (&i, parent) in group.iter().zip(&parents) {
            let rel = parent.strip_prefix(&base).unwrap_or(parent);
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if !parts.is_empty() {
                parts.push(names[i].clone());
                names[i] = parts.join("__");
            }
        }
    }
    // step 2: same folder, different extension
    for group in collisions(&names) {
        for i in group {
            if let Some(ext) = inputs[i].path.extension() {
                names[i] = format!("{}_{}", names[i], ext.to_string_lossy());
            }
        }
    }
    // step 3: whatever is left (e.g. case-only differences), numbered in path order; repeated in
    // case a numbered name meets an existing one (each round makes every group unique)
    loop {
        let groups = collisions(&names);
        if groups.is_empty() {
            return names;
        }
        for group in groups {
            for (k, &i) in group.iter().enumerate().skip(1) {
                names[i] = format!("{}_{}", names[i], k + 1);
            }
        }
    }
}

/// Groups (of two or more indices, ascending) whose names are equal ignoring case.
fn collisions(names: &[String]) -> Vec<Vec<usize>> {
    let mut by_key: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, n) in names.iter().enumerate() {
        by_key.entry(n.to_lowercase()).or_default().push(i);
    }
    by_key.into_values().filter(|g| g.len() > 1).collect()
}

fn common_ancestor(paths: &[&Path]) -> PathBuf {
    let mut base: PathBuf = paths.first().map(|p| p.to_path_buf()).unwrap_or_default();
    for p in &paths[1.min(paths.len())..] {
        while !p.starts_with(&base) {
            if !base.pop() {
                return PathBuf::new();
            }
        }
    }
    base
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(p: &str) -> Input {
        Input {
            path: PathBuf::from(p),
            canonical: PathBuf::from(p),
        }
    }

    fn names(paths: &[&str]) -> Vec<String> {
        output_names(&paths.iter().map(|p| input(p)).collect::<Vec<_>>())
    }

    #[test]
    fn unique_stems_are_kept() {
        assert_eq!(names(&["/d/a.png", "/d/sub/b.tif"]), ["a", "b"]);
    }

    #[test]
    fn colliding_stems_get_their_relative_folder() {
        assert_eq!(
            names(&["/d/a.png", "/d/sub/a.png", "/d/sub/x/a.png"]),
            ["a", "sub__a", "sub__x__a"]
        );
        assert_eq!(
            names(&["/d/p/a.png", "/d/q/a.png", "/e/b.png"]),
            ["p__a", "q__a", "b"]
        );
    }

    #[test]
    fn same_folder_collisions_get_the_extension_then_a_number() {
        assert_eq!(names(&["/d/a.png", "/d/a.tif"]), ["a_png", "a_tif"]);
        assert_eq!(names(&["/d/A.png", "/d/a.png"]), ["A_png", "a_png_2"]);
    }

    #[test]
    fn a_prefixed_name_that_hits_a_real_stem_is_still_unique() {
        let n = names(&["/d/a.png", "/d/s/a.png", "/d/s__a.png"]);
        let set: HashSet<String> = n.iter().map(|s| s.to_lowercase()).collect();
        assert_eq!(set.len(), 3, "{n:?}");
    }

    #[test]
    fn image_extensions_ignore_case() {
        assert!(has_image_extension(Path::new("x.TIF")));
        assert!(has_image_extension(Path::new("x.JpEg")));
        assert!(!has_image_extension(Path::new("x.txt")));
        assert!(!has_image_extension(Path::new("png")));
    }
}
