//! The output files of one image and the resume rule.
//!
//! An image is done when all of its outputs exist; the masks file is written last, so a run that
//! stops mid-image leaves no masks file and the image is redone next time. Before an image is
//! (re)done, its old masks file is removed, so a failure never leaves stale masks that look done.
//! `<name>_cells.csv` (per-cell measurements, `samcell_measure`) is one of the outputs that must
//! exist for an image to count as done.

use crate::run_meta::{ResultSettings, StoredImageMeta};
use std::path::{Path, PathBuf};

/// Paths of one image's outputs.
#[derive(Clone, Debug)]
pub struct OutputSet {
    pub masks: PathBuf,
    pub overlay: PathBuf,
    pub meta: PathBuf,
    pub cells: PathBuf,
    pub distmap: Option<PathBuf>,
}

impl OutputSet {
    /// The outputs of image `name` in `dir`.
    pub fn new(dir: &Path, name: &str, save_distmap: bool) -> Self {
        let p = |suffix: &str| dir.join(format!("{name}{suffix}"));
        Self {
            masks: p("_masks.tif"),
            overlay: p("_overlay.png"),
            meta: p("_run.json"),
            cells: p("_cells.csv"),
            distmap: save_distmap.then(|| p("_distmap.tif")),
        }
    }

    /// All paths, in writing order (masks last).
    pub fn in_write_order(&self) -> Vec<&Path> {
        let mut v: Vec<&Path> = Vec::with_capacity(5);
        if let Some(d) = &self.distmap {
            v.push(d);
        }
        v.extend([
            self.overlay.as_path(),
            self.cells.as_path(),
            self.meta.as_path(),
            self.masks.as_path(),
        ]);
        v
    }

    /// Whether every output exists.
    pub fn complete(&self) -> bool {
        self.in_write_order().iter().all(|p| p.is_file())
    }

    /// File names (within the output folder), in writing order.
    pub fn file_names(&self) -> Vec<String> {
        self.in_write_order()
            .iter()
            .map(|p| {
                p.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            })
            .collect()
    }

    /// For a complete set: why its results may not match the current settings, if they may not.
    pub fn staleness(&self, settings: &ResultSettings, model_sha256: &str) -> Option<String> {
        let text = match std::fs::read_to_string(&self.meta) {
            Ok(t) => t,
            Err(e) => return Some(format!("cannot read {}: {e}", self.meta.display())),
        };
        let stored: StoredImageMeta = match serde_json::from_str(&text) {
            Ok(s) => s,
            Err(e) => {
                return Some(format!(
                    "{} is not samcell run metadata: {e}",
                    self.meta.display()
                ))
            }
        };
        let mut diffs = Vec::new();
        if stored.model.sha256 != model_sha256 {
            diffs.push("a different model".to_string());
        }
        if &stored.settings != settings {
            diffs.push("different settings".to_string());
        }
        (!diffs.is_empty()).then(|| format!("made with {}", diffs.join(" and ")))
    }

    /// Removes an old masks file so the image counts as not done until it is written again.
    pub fn invalidate(&self) -> std::io::Result<()> {
        match std::fs::remove_file(&self.masks) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_come_last() {
        let o = OutputSet::new(Path::new("out"), "a", true);
        assert_eq!(
            o.file_names(),
            [
                "a_distmap.tif",
                "a_overlay.png",
                "a_cells.csv",
                "a_run.json",
                "a_masks.tif"
            ]
        );
        let o = OutputSet::new(Path::new("out"), "b", false);
        assert_eq!(
            o.file_names(),
            ["b_overlay.png", "b_cells.csv", "b_run.json", "b_masks.tif"]
        );
    }
}
