//! CTC folders: `res_track.txt` / `man_track.txt` and the frame masks of a result (`maskTTT.tif`),
//! a ground truth's `TRA/` (`man_trackTTT.tif`) and `SEG/` (`man_segTTT.tif` or `man_seg_TTT.tif`).
//!
//! As py-ctcmetrics, the masks of a folder are its `.tif` files in name order and the t-th of them
//! is frame t; here each name must also be the folder's prefix followed by the frame number t
//! (any number of digits), so a stray `.tif` or a missing frame is an error naming the file.

use super::TrackLine;
use crate::read::read_labels;
use crate::MeasureError;
use samcell_imaging::Labels;
use std::path::{Path, PathBuf};

/// Parses a CTC track file: one `L B E P` line per track (integers separated by spaces or tabs;
/// blank lines ignored). Errors name the file and the line.
pub fn parse_tracks(text: &str, path: &Path) -> Result<Vec<TrackLine>, MeasureError> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |why: &str| MeasureError::Read {
            path: path.to_path_buf(),
            reason: format!("line {}: {why}: '{}'", n + 1, line.trim()),
            source: None,
        };
        let v: Vec<i64> = line
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<_, _>>()
            .map_err(|_| bad("not four integers 'L B E P'"))?;
        let [label, begin, end, parent] = v[..] else {
            return Err(bad("not four integers 'L B E P'"));
        };
        out.push(TrackLine {
            label,
            begin,
            end,
            parent,
        });
    }
    Ok(out)
}

/// Reads a CTC track file; a missing or unreadable file is an error naming it.
pub fn read_tracks(path: &Path) -> Result<Vec<TrackLine>, MeasureError> {
    let text = std::fs::read_to_string(path).map_err(|e| MeasureError::Read {
        path: path.to_path_buf(),
        reason: "cannot read the track file".into(),
        source: Some(e),
    })?;
    parse_tracks(&text, path)
}

/// The frame files of `dir` named `<prefix><digits>.tif`, in frame order (`prefix` may be
/// followed by `_`). Every `.tif` of the folder must be one, numbered 0, 1, 2, ... in name order.
pub fn frame_files(dir: &Path, prefix: &str) -> Result<Vec<PathBuf>, MeasureError> {
    let bad = |reason: String| MeasureError::Pairing(format!("{}: {reason}", dir.display()));
    let rd = std::fs::read_dir(dir).map_err(|e| bad(format!("cannot list the folder: {e}")))?;
    let mut names = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| bad(e.to_string()))?;
        let name = entry.file_name().to_string_lossy().to_string();
        if name.ends_with(".tif") && entry.path().is_file() {
            names.push(name);
        }
    }
    names.sort();
    if names.is_empty() {
        return Err(bad(format!("no {prefix}TTT.tif masks")));
    }
    let mut out = Vec::with_capacity(names.len());
    for (t, name) in names.iter().enumerate() {
        match frame_number(name, prefix) {
            Some(n) if n == t as u64 => out.push(dir.join(name)),
            Some(n) => {
                return Err(bad(format!(
                    "{name} is frame {n} but is the {} mask in name order (expected frame {t}; frames must be numbered from 0 without gaps)",
                    ordinal(t + 1)
                )))
            }
            None => {
                return Err(bad(format!(
                    "{name} is not a mask named {prefix}TTT.tif (TTT the frame number)"
                )))
            }
        }
    }
    Ok(out)
}

fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (1, r) if r != 11 => "st",
        (2, r) if r != 12 => "nd",
        (3, r) if r != 13 => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// The frame number of `<prefix>[_]<digits>.tif`.
pub fn frame_number(name: &str, prefix: &str) -> Option<u64> {
    let rest = name.strip_prefix(prefix)?.strip_suffix(".tif")?;
    let rest = rest.strip_prefix('_').unwrap_or(rest);
    if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    rest.parse().ok()
}

/// The SEG ground truth of a `XX_GT` folder: `(frame, file)` of `SEG/man_seg[_]TTT.tif`, by
/// frame; `None` when there is no `SEG/` folder.
pub fn seg_files(gt_dir: &Path) -> Result<Option<Vec<(usize, PathBuf)>>, MeasureError> {
    let dir = gt_dir.join("SEG");
    if !dir.is_dir() {
        return Ok(None);
    }
    let bad = |reason: String| MeasureError::Pairing(format!("{}: {reason}", dir.display()));
    let rd = std::fs::read_dir(&dir).map_err(|e| bad(format!("cannot list the folder: {e}")))?;
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| bad(e.to_string()))?;
        let name = entry.file_name().to_string_lossy().to_string();
        if !name.ends_with(".tif") {
            continue;
        }
        let t = frame_number(&name, "man_seg")
            .ok_or_else(|| bad(format!("{name} is not named man_segTTT.tif")))?;
        out.push((t as usize, entry.path()));
    }
    out.sort();
    if out.is_empty() {
        return Err(bad("no man_segTTT.tif masks".into()));
    }
    Ok(Some(out))
}

/// Reads masks in parallel, in order.
pub fn read_masks(paths: &[PathBuf]) -> Result<Vec<Labels>, MeasureError> {
    use rayon::prelude::*;
    paths.par_iter().map(|p| read_labels(p)).collect()
}
