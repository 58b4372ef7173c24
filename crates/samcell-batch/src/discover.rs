//! Finding the input images.
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
//! Output names are given by [`crate::naming`].

use crate::BatchError;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Extensions looked for inside folders (compared ignoring case).
pub const IMAGE_EXTENSIONS: [&str; 6] = ["png", "jpg", "jpeg", "tif", "tiff", "bmp"];

/// One input image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Input {
    /// The path as found (relative paths stay relative).
    pub path: PathBuf,
    /// Canonical path (for duplicate removal and naming).
    pub(crate) canonical: PathBuf,
}

impl Input {
    /// An input whose path is taken as canonical as it is (no file system access): for names
    /// that do not come from discovery, e.g. uploads (see [`crate::naming::upload_names`]).
    pub fn assumed(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        Self {
            canonical: path.clone(),
            path,
        }
    }
}

/// How loudly a passed-over folder entry is reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SkipLevel {
    /// Worth a warning (a dangling link).
    Warn,
    /// Worth an info line (special files, sub-folders without `recursive`, folders met twice).
    Info,
    /// Debug detail (hidden entries, other extensions, samcell's own outputs).
    Debug,
}

/// A folder entry that was passed over, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// The entry.
    pub path: PathBuf,
    /// Why it was passed over.
    pub reason: &'static str,
    /// How loudly to report it.
    pub level: SkipLevel,
}

/// What discovery found, plus warnings to show.
#[derive(Debug, Default)]
pub struct Discovery {
    /// The inputs, sorted by path.
    pub inputs: Vec<Input>,
    /// What the user should hear about (empty folders, patterns matching nothing).
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
) -> Result<Discovery, BatchError> {
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
            return Err(BatchError::NotFileOrFolder(path.clone()));
        } else if path.symlink_metadata().is_ok() {
            return Err(BatchError::DanglingInput(path.clone()));
        } else {
            return Err(BatchError::InputNotFound(path.clone()));
        }
    }
    let Walker {
        files, mut found, ..
    } = w;
    let mut seen = HashSet::new();
    let mut inputs: Vec<Input> = Vec::with_capacity(files.len());
    for path in files {
        let canonical = path.canonicalize().map_err(|source| BatchError::Resolve {
            path: path.clone(),
            source,
        })?;
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

fn expand_glob(pattern: &str, w: &mut Walker) -> Result<(), BatchError> {
    let opts = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: true,
    };
    let paths = glob::glob_with(pattern, opts).map_err(|source| BatchError::Pattern {
        pattern: pattern.to_string(),
        source,
    })?;
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

/// Name endings of the per-image outputs (see [`crate::outputs`]).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_extensions_ignore_case() {
        assert!(has_image_extension(Path::new("x.TIF")));
        assert!(has_image_extension(Path::new("x.JpEg")));
        assert!(!has_image_extension(Path::new("x.txt")));
        assert!(!has_image_extension(Path::new("png")));
    }

    #[test]
    fn missing_inputs_are_usage_errors() {
        let tmp = tempfile::tempdir().unwrap();
        let e = discover(&[tmp.path().join("nope.png")], false, None).unwrap_err();
        assert!(
            e.is_usage() && e.to_string().starts_with("input not found"),
            "{e}"
        );
    }
}
