//! Pairing prediction and ground-truth label files by stem.
//!
//! Rule, applied to each folder separately (not recursive):
//! 1. Candidates are regular, non-hidden files ending in `.tif`, `.tiff` or `.png` (any case).
//! 2. A file is *marked* when its stem (name without extension) ends with one of
//!    [`MASK_SUFFIXES`] (`_cp_masks`, `_masks`, `_mask`, `_labels`, `_label`; any case) or starts
//!    with one of [`MASK_PREFIXES`] (`man_seg`, the CTC ground truth, or `mask`, CTC results)
//!    followed by digits (an optional `_` between). If a folder holds any marked file, only its
//!    marked files are used: images, overlays (`_overlay`), distance maps (`_distmap`) and other
//!    side files next to them are ignored. Otherwise every candidate is used.
//! 3. The key is the stem without that suffix or prefix (`set1_masks.tif` -> `set1`,
//!    `man_seg004.tif` -> `004`, `img_cp_masks.png` -> `img`); unmarked files keep their stem.
//! 4. Keys must be unique in a folder, and every key must be in both folders; otherwise the error
//!    lists the offending files (all of them).
//!
//! Pairs come back sorted by key.

use crate::MeasureError;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Stem suffixes that mark a label image, longest first.
pub const MASK_SUFFIXES: [&str; 5] = ["_cp_masks", "_masks", "_mask", "_labels", "_label"];
/// Stem prefixes (followed by digits) that mark a label image: CTC ground truth and results.
pub const MASK_PREFIXES: [&str; 2] = ["man_seg", "mask"];

/// One prediction / ground-truth file pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelPair {
    /// The shared stem key ([`stem_key`]), used as the image's name.
    pub key: String,
    /// The prediction's label file.
    pub pred: PathBuf,
    /// The ground truth's label file.
    pub gt: PathBuf,
}

/// The pairing key of a file stem and whether the stem is marked as a label image.
pub fn stem_key(stem: &str) -> (String, bool) {
    let lower = stem.to_ascii_lowercase();
    for s in MASK_SUFFIXES {
        if lower.len() > s.len() && lower.ends_with(s) {
            return (stem[..stem.len() - s.len()].to_string(), true);
        }
    }
    for p in MASK_PREFIXES {
        if let Some(rest) = lower.strip_prefix(p) {
            let rest = rest.strip_prefix('_').unwrap_or(rest);
            if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()) {
                return (stem[stem.len() - rest.len()..].to_string(), true);
            }
        }
    }
    (stem.to_string(), false)
}

fn list(dir: &Path, role: &str) -> Result<BTreeMap<String, PathBuf>, MeasureError> {
    let rd = std::fs::read_dir(dir).map_err(|e| {
        MeasureError::Pairing(format!("{role} folder {}: cannot list: {e}", dir.display()))
    })?;
    let mut files: Vec<(String, bool, PathBuf)> = Vec::new();
    for entry in rd {
        let entry = entry
            .map_err(|e| MeasureError::Pairing(format!("{role} folder {}: {e}", dir.display())))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with('.') || !path.is_file() {
            continue;
        }
        let lower = name.to_ascii_lowercase();
        let stem = match [".tiff", ".tif", ".png"]
            .iter()
            .find(|e| lower.ends_with(*e))
        {
            Some(ext) => &name[..name.len() - ext.len()],
            None => continue,
        };
        let (key, marked) = stem_key(stem);
        files.push((key, marked, path));
    }
    if files.iter().any(|f| f.1) {
        files.retain(|f| f.1);
    }
    if files.is_empty() {
        return Err(MeasureError::Pairing(format!(
            "{role} folder {} holds no label images (.tif, .tiff, .png)",
            dir.display()
        )));
    }
    let mut map: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut dups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (key, _, path) in files {
        if let Some(prev) = map.get(&key) {
            let e = dups
                .entry(key.clone())
                .or_insert_with(|| vec![prev.display().to_string()]);
            e.push(path.display().to_string());
        } else {
            map.insert(key, path);
        }
    }
    if !dups.is_empty() {
        let lines: Vec<String> = dups
            .iter()
            .map(|(k, v)| format!("  key '{k}': {}", v.join(", ")))
            .collect();
        return Err(MeasureError::Pairing(format!(
            "{role} folder {}: several files give the same key:\n{}",
            dir.display(),
            lines.join("\n")
        )));
    }
    Ok(map)
}

/// Pairs the label images of `pred_dir` and `gt_dir` (rule in the module docs).
pub fn pair_by_stem(pred_dir: &Path, gt_dir: &Path) -> Result<Vec<LabelPair>, MeasureError> {
    let pred = list(pred_dir, "prediction")?;
    let gt = list(gt_dir, "ground-truth")?;
    let only_pred: Vec<String> = pred
        .iter()
        .filter(|(k, _)| !gt.contains_key(*k))
        .map(|(_, p)| p.display().to_string())
        .collect();
    let only_gt: Vec<String> = gt
        .iter()
        .filter(|(k, _)| !pred.contains_key(*k))
        .map(|(_, p)| p.display().to_string())
        .collect();
    if !only_pred.is_empty() || !only_gt.is_empty() {
        let mut msg = String::from("prediction and ground-truth files do not pair up by stem (suffixes _masks/_mask/_labels/_label/_cp_masks and prefixes man_seg/mask are ignored):");
        if !only_pred.is_empty() {
            msg.push_str(&format!(
                "\n  {} prediction file(s) without ground truth:\n    {}",
                only_pred.len(),
                only_pred.join("\n    ")
            ));
        }
        if !only_gt.is_empty() {
            msg.push_str(&format!(
                "\n  {} ground-truth file(s) without prediction:\n    {}",
                only_gt.len(),
                only_gt.join("\n    ")
            ));
        }
        return Err(MeasureError::Pairing(msg));
    }
    Ok(pred
        .into_iter()
        .map(|(key, p)| {
            let g = gt[&key].clone();
            LabelPair {
                key,
                pred: p,
                gt: g,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert_eq!(stem_key("set1_masks"), ("set1".into(), true));
        assert_eq!(stem_key("img_cp_masks"), ("img".into(), true));
        assert_eq!(stem_key("A_Labels"), ("A".into(), true));
        assert_eq!(stem_key("man_seg004"), ("004".into(), true));
        assert_eq!(stem_key("man_seg_004"), ("004".into(), true));
        assert_eq!(stem_key("mask004"), ("004".into(), true));
        assert_eq!(stem_key("masked_cells"), ("masked_cells".into(), false));
        assert_eq!(stem_key("set1"), ("set1".into(), false));
        assert_eq!(stem_key("_masks"), ("_masks".into(), false));
    }
}
