//! Finding the input images and giving each a unique output name.
//!
//! Each command-line input is, in this order of checks:
//! - an existing **file**: taken whatever its extension (the content decides the format);
//! - an existing **folder**: its image files (extensions png, jpg, jpeg, tif, tiff, bmp, any
//!   case), and with `recursive` those of its sub-folders too. Entries whose name starts with `.`
//!   are skipped (e.g. macOS `._x.png` resource forks), symbolic links to folders are followed
//!   with `recursive` (a folder already searched, e.g. through a link loop, is not searched
//!   again), and the output folder is not searched when met as a sub-folder;
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
//! Every folder entry that is passed over is reported in [`Discovery::skipped`] with the reason,
//! for the log: a dangling symbolic link at warning level; a FIFO, socket or device file, a
//! sub-folder without `recursive`, a folder met twice at info level; hidden entries, files
//! without an image extension and samcell's own outputs at debug level.
//!
//! Output names ([`output_names`]) are the file stems. When stems collide (compared ignoring
//! case, for case-insensitive file systems), each colliding file's folder path relative to the
//! deepest folder the colliding files share is put in front, joined with `__`
//! (`a/x.png`, `b/x.png` -> `a__x`, `b__x`); files in the same folder that still collide get
//! their extension appended (`x.png`, `x.tif` -> `x_png`, `x_tif`); anything still colliding gets
//! `_2`, `_3`... in path order. Bytes of a file name that are not UTF-8 are written as `%XX`
//! (a stem `bad` + byte 0xFF -> `bad%FF`), so that such names stay distinct instead of all
//! becoming the replacement character.

use std::collections::{BTreeMap, HashSet};
use std::ffi::OsStr;
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

/// How loudly a passed-over folder entry is reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SkipLevel {
    Warn,
    Info,
    Debug,
}

/// A folder entry that was passed over, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: &'static str,
    pub level: SkipLevel,
}

/// What discovery found, plus warnings to show.
#[derive(Debug, Default)]
pub struct Discovery {
    pub inputs: Vec<Input>,
    pub warnings: Vec<String>,
    /// Folder entries passed over (see the module doc for the levels).
    pub skipped: Vec<Skipped>,
}

impl Discovery {
    /// Logs the warnings and the passed-over entries at their levels.
    pub fn log(&self) {
        for w in &self.warnings {
            tracing::warn!("{w}");
        }
        for s in &self.skipped {
            match s.level {
                SkipLevel::Warn => tracing::warn!("skipped {}: {}", s.path.display(), s.reason),
                SkipLevel::Info => tracing::info!("skipped {}: {}", s.path.display(), s.reason),
                SkipLevel::Debug => tracing::debug!("skipped {}: {}", s.path.display(), s.reason),
            }
        }
    }
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
        .is_some_and(|n| n.as_encoded_bytes().starts_with(b"."))
}

/// The search state shared by folders and patterns.
struct Walker<'a> {
    recursive: bool,
    exclude: Option<&'a Path>,
    files: Vec<PathBuf>,
    found: Discovery,
    /// Canonical folders already searched (link loops, a folder reached twice).
    visited: HashSet<PathBuf>,
}

impl Walker<'_> {
    fn skip(&mut self, path: PathBuf, reason: &'static str, level: SkipLevel) {
        self.found.skipped.push(Skipped {
            path,
            reason,
            level,
        });
    }
}

/// Finds the inputs named by `args`; `exclude` is the output folder (never searched).
pub fn discover(
    args: &[PathBuf],
    recursive: bool,
    exclude: Option<&Path>,
) -> Result<Discovery, String> {
    let exclude = exclude.and_then(|p| p.canonicalize().ok());
    let mut w = Walker {
        recursive,
        exclude: exclude.as_deref(),
        files: Vec::new(),
        found: Discovery::default(),
        visited: HashSet::new(),
    };
    for path in args {
        if path.is_file() {
            w.files.push(path.clone());
        } else if path.is_dir() {
            let before = w.files.len();
            walk(path, &mut w);
            if w.files.len() == before {
                w.found.warnings.push(format!(
                    "no image files in folder {}{}",
                    path.display(),
                    if recursive {
                        ""
                    } else {
                        " (use --recursive to search its sub-folders)"
                    }
                ));
            }
        } else if let Some(pattern) = path.to_str().filter(|s| is_pattern(s)) {
            expand_glob(pattern, &mut w)?;
        } else if path.exists() {
            return Err(format!(
                "input {} is neither a file nor a folder",
                path.display()
            ));
        } else if path.symlink_metadata().is_ok() {
            return Err(format!(
                "input {} is a symbolic link to nothing (its target is missing)",
                path.display()
            ));
        } else {
            return Err(format!("input not found: {}", path.display()));
        }
    }
    let Walker {
        files, mut found, ..
    } = w;
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

fn expand_glob(pattern: &str, w: &mut Walker) -> Result<(), String> {
    let opts = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: true,
    };
    let paths = glob::glob_with(pattern, opts)
        .map_err(|e| format!("invalid glob pattern {pattern:?}: {e}"))?;
    let before = w.files.len();
    let mut matched_other = 0usize;
    for entry in paths {
        let path = match entry {
            Ok(p) => p,
            Err(e) => {
                w.found.warnings.push(format!(
                    "pattern {pattern:?}: cannot read {}: {}",
                    e.path().display(),
                    e.error()
                ));
                continue;
            }
        };
        if path.is_dir() {
            if is_output_dir(&path, w.exclude) {
                w.skip(path, "the output folder is not searched", SkipLevel::Info);
            } else {
                walk(&path, w);
            }
        } else if is_output_file(&path, w.exclude) {
            w.skip(path, "a samcell output", SkipLevel::Debug);
        } else if has_image_extension(&path) {
            if path.is_file() {
                w.files.push(path);
            } else {
                classify_other(path, w);
            }
        } else {
            matched_other += 1;
            w.skip(path, "no image extension", SkipLevel::Debug);
        }
    }
    if w.files.len() == before {
        let extra = if matched_other > 0 {
            format!(
                " ({matched_other} file(s) matched, none with an image extension: {})",
                IMAGE_EXTENSIONS.join(", ")
            )
        } else {
            String::new()
        };
        w.found
            .warnings
            .push(format!("pattern {pattern:?} matched no image files{extra}"));
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
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
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

/// Reports an entry that is neither a regular file nor a folder (after following links).
fn classify_other(path: PathBuf, w: &mut Walker) {
    let is_link = path
        .symlink_metadata()
        .is_ok_and(|m| m.file_type().is_symlink());
    if is_link && !path.exists() {
        w.skip(
            path,
            "symbolic link to nothing (its target is missing)",
            SkipLevel::Warn,
        );
        return;
    }
    let reason = match path.metadata() {
        Ok(m) => special_file_kind(&m.file_type()),
        Err(_) => "cannot be read",
    };
    w.skip(path, reason, SkipLevel::Info);
}

#[cfg(unix)]
fn special_file_kind(t: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_fifo() {
        "a FIFO (named pipe), not a regular file"
    } else if t.is_socket() {
        "a socket, not a regular file"
    } else if t.is_block_device() || t.is_char_device() {
        "a device, not a regular file"
    } else {
        "not a regular file"
    }
}

#[cfg(not(unix))]
fn special_file_kind(_: &std::fs::FileType) -> &'static str {
    "not a regular file"
}

fn walk(dir: &Path, w: &mut Walker) {
    // a folder reached again (through a link, or named twice) is not searched again
    if let Ok(c) = dir.canonicalize() {
        if !w.visited.insert(c) {
            w.skip(
                dir.to_path_buf(),
                "folder already searched (a symbolic link loop, or reached twice)",
                SkipLevel::Info,
            );
            return;
        }
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            w.found
                .warnings
                .push(format!("cannot read folder {}: {e}", dir.display()));
            return;
        }
    };
    let mut paths: Vec<PathBuf> = Vec::new();
    for entry in entries {
        match entry {
            Ok(e) => paths.push(e.path()),
            Err(e) => w
                .found
                .warnings
                .push(format!("cannot read folder {}: {e}", dir.display())),
        }
    }
    paths.sort();
    let mut subdirs = Vec::new();
    for path in paths {
        if is_hidden(&path) {
            w.skip(path, "hidden (name starts with '.')", SkipLevel::Debug);
        } else if path.is_dir() {
            if !w.recursive {
                w.skip(
                    path,
                    "a sub-folder (use --recursive to search it)",
                    SkipLevel::Info,
                );
            } else if is_output_dir(&path, w.exclude) {
                w.skip(path, "the output folder is not searched", SkipLevel::Info);
            } else {
                subdirs.push(path);
            }
        } else if !path.is_file() {
            classify_other(path, w);
        } else if !has_image_extension(&path) {
            w.skip(path, "no image extension", SkipLevel::Debug);
        } else if is_output_file(&path, w.exclude) {
            w.skip(path, "a samcell output", SkipLevel::Debug);
        } else {
            w.files.push(path);
        }
    }
    for d in subdirs {
        walk(&d, w);
    }
}

/// `s` as text: UTF-8 as is, every byte that is not part of valid UTF-8 as `%XX` (upper-case
/// hex), so that names of files with non-UTF-8 names stay distinct and readable.
pub fn escape_os(s: &OsStr) -> String {
    if let Some(t) = s.to_str() {
        return t.to_string();
    }
    let mut out = String::new();
    for chunk in s.as_encoded_bytes().utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A path as text, lossless (see [`escape_os`]).
pub fn escape_path(p: &Path) -> String {
    escape_os(p.as_os_str())
}

/// Unique output names (file name prefixes) for `inputs`, in the same order; see the module doc.
pub fn output_names(inputs: &[Input]) -> Vec<String> {
    let stem = |i: &Input| i.path.file_stem().map(escape_os).unwrap_or_default();
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
            let mut parts: Vec<String> =
                rel.components().map(|c| escape_os(c.as_os_str())).collect();
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
                names[i] = format!("{}_{}", names[i], escape_os(ext));
            }
        }
    }
    // step 3: whatever is left (e.g. case-only differences), numbered in path order
    make_unique(&mut names);
    names
}

/// Makes `names` unique ignoring case: the second, third... of equal names get `_2`, `_3`...;
/// repeated in case a numbered name meets an existing one (each round makes every group unique).
pub fn make_unique(names: &mut [String]) {
    loop {
        let groups = collisions(names);
        if groups.is_empty() {
            return;
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

    #[cfg(unix)]
    #[test]
    fn non_utf8_names_are_escaped_losslessly() {
        use std::os::unix::ffi::OsStrExt;
        let bad = OsStr::from_bytes(b"bad\xff\xfeok");
        assert_eq!(escape_os(bad), "bad%FF%FEok");
        assert_eq!(escape_os(OsStr::new("caf\u{e9}")), "caf\u{e9}");
        let a = PathBuf::from(OsStr::from_bytes(b"/d/bad\xff.png"));
        let b = PathBuf::from(OsStr::from_bytes(b"/d/bad\xfe.png"));
        let n = output_names(&[
            Input {
                path: a.clone(),
                canonical: a,
            },
            Input {
                path: b.clone(),
                canonical: b,
            },
        ]);
        assert_eq!(n, ["bad%FF", "bad%FE"]);
    }

    #[test]
    fn image_extensions_ignore_case() {
        assert!(has_image_extension(Path::new("x.TIF")));
        assert!(has_image_extension(Path::new("x.JpEg")));
        assert!(!has_image_extension(Path::new("x.txt")));
        assert!(!has_image_extension(Path::new("png")));
    }
}
