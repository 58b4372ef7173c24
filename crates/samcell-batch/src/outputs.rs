//! The output files of one image and the resume rule.
//!
//! An image is done when all of its outputs exist; the masks file is written last, so a run that
//! stops mid-image leaves no masks file and the image is redone next time. Before an image is
//! (re)done, its old masks file is removed, so a failure never leaves stale masks that look done.
//! `<name>_cells.csv` (per-cell measurements, `samcell_measure`) is one of the outputs that must
//! exist for an image to count as done, and so is `<name>.geojson` (cell outlines for QuPath)
//! when it is asked for ([`Optional`]), like `<name>_distmap.tif` and `<name>_rois.zip` (ImageJ
//! ROIs for Fiji).
//!
//! Resume keeps only outputs made with the same model and result settings: a complete set whose
//! `<name>_run.json` names another model (SHA-256) or other thresholds, tiling, page, channel,
//! scaling or overlay settings, or cannot be read, is redone ([`OutputSet::staleness`] says why).

use crate::record::{ResultSettings, StoredImageMeta};
use crate::BatchError;
use std::path::{Path, PathBuf};

/// Longest file name (bytes) that common file systems (ext4, XFS, APFS, NTFS in UTF-16 units)
/// accept.
const MAX_FILE_NAME_BYTES: usize = 255;

/// Paths of one image's outputs.
#[derive(Clone, Debug)]
pub struct OutputSet {
    /// `<name>_masks.tif`, the cell labels (written last).
    pub masks: PathBuf,
    /// `<name>_overlay.png`.
    pub overlay: PathBuf,
    /// `<name>_run.json`, the image's record.
    pub meta: PathBuf,
    /// `<name>_cells.csv`, the per-cell measurements.
    pub cells: PathBuf,
    /// `<name>_distmap.tif` when the distance map is kept.
    pub distmap: Option<PathBuf>,
    /// `<name>.geojson` when the cell outlines are written as GeoJSON.
    pub geojson: Option<PathBuf>,
    /// `<name>_rois.zip` when the cell outlines are written as an ImageJ ROI set.
    pub rois: Option<PathBuf>,
}

/// The outputs written only when asked for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Optional {
    /// `<name>_distmap.tif`.
    pub distmap: bool,
    /// `<name>.geojson`.
    pub geojson: bool,
    /// `<name>_rois.zip`.
    pub rois: bool,
}

impl OutputSet {
    /// The outputs of image `name` in `dir`.
    pub fn new(dir: &Path, name: &str, save_distmap: bool) -> Self {
        Self::with(
            dir,
            name,
            Optional {
                distmap: save_distmap,
                ..Optional::default()
            },
        )
    }

    /// [`OutputSet::new`] with the optional outputs that are asked for.
    pub fn with(dir: &Path, name: &str, optional: Optional) -> Self {
        let p = |suffix: &str| dir.join(format!("{name}{suffix}"));
        Self {
            masks: p("_masks.tif"),
            overlay: p("_overlay.png"),
            meta: p("_run.json"),
            cells: p("_cells.csv"),
            distmap: optional.distmap.then(|| p("_distmap.tif")),
            geojson: optional.geojson.then(|| p(".geojson")),
            rois: optional.rois.then(|| p("_rois.zip")),
        }
    }

    /// All paths, in writing order (masks last).
    pub fn in_write_order(&self) -> Vec<&Path> {
        let mut v: Vec<&Path> = Vec::with_capacity(7);
        if let Some(d) = &self.distmap {
            v.push(d);
        }
        if let Some(g) = &self.geojson {
            v.push(g);
        }
        if let Some(r) = &self.rois {
            v.push(r);
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

    /// The settings and model recorded in `<name>_run.json`, or why they cannot be read.
    fn stored(&self) -> Result<StoredImageMeta, String> {
        let text = std::fs::read_to_string(&self.meta)
            .map_err(|e| format!("cannot read {}: {e}", self.meta.display()))?;
        serde_json::from_str(&text)
            .map_err(|e| format!("{} is not samcell run metadata: {e}", self.meta.display()))
    }

    /// Why a complete set would be redone, judged on everything but the model and the tiling
    /// (which depends on the model): what `--dry-run` can tell without loading the model.
    pub fn redo_reason_without_model(&self, settings: &ResultSettings) -> Option<String> {
        match self.stored() {
            Err(_) => Some(format!(
                "{} cannot be read",
                self.meta
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            )),
            Ok(s) => {
                let stored = ResultSettings {
                    crop: settings.crop,
                    overlap: settings.overlap,
                    ..s.settings
                };
                (stored != *settings).then(|| "outputs made with other settings".to_string())
            }
        }
    }

    /// For a complete set: why its results may not match the current settings and `model`, if
    /// they may not (then the image is redone). The model is its weights (SHA-256) and those of
    /// its fallback, if any (the default lite model's nuclei model): results of the cell model
    /// alone are not those of the pair.
    pub fn staleness(
        &self,
        settings: &ResultSettings,
        model: &crate::record::ModelInfo,
    ) -> Option<String> {
        let stored = match self.stored() {
            Ok(s) => s,
            Err(e) => return Some(e),
        };
        let mut diffs = Vec::new();
        let stored_fallback = stored.model.fallback.as_ref().map(|f| f.sha256.as_str());
        let fallback = model.fallback.as_ref().map(|f| f.sha256.as_str());
        if stored.model.sha256 != model.sha256 || stored_fallback != fallback {
            diffs.push("a different model".to_string());
        }
        if &stored.settings != settings {
            diffs.push(format!(
                "different settings ({})",
                settings_diff(&stored.settings, settings)
            ));
        }
        (!diffs.is_empty()).then(|| format!("made with {}", diffs.join(" and ")))
    }

    /// Removes an old masks file so the image counts as not done until it is written again.
    /// Fails, before anything is written, when an output file name is longer than file systems
    /// allow or the masks path cannot be looked at (e.g. the output folder is not accessible).
    pub fn invalidate(&self) -> Result<(), BatchError> {
        for p in self.in_write_order() {
            let len = p.file_name().map_or(0, |n| n.len());
            if len > MAX_FILE_NAME_BYTES {
                return Err(BatchError::NameTooLong {
                    name: crate::naming::escape_os(p.file_name().unwrap_or_default()),
                    len,
                    max: MAX_FILE_NAME_BYTES,
                });
            }
        }
        match std::fs::symlink_metadata(&self.masks) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(BatchError::LookForOld {
                path: self.masks.clone(),
                source,
            }),
            Ok(_) => std::fs::remove_file(&self.masks).map_err(|source| BatchError::RemoveOld {
                path: self.masks.clone(),
                source,
            }),
        }
    }
}

/// The settings that differ, as `name old -> new`.
fn settings_diff(old: &ResultSettings, new: &ResultSettings) -> String {
    let mut d = Vec::new();
    let mut cmp = |name: &str, a: String, b: String| {
        if a != b {
            d.push(format!("{name} {a} -> {b}"));
        }
    };
    cmp("peak", old.peak.to_string(), new.peak.to_string());
    cmp("fill", old.fill.to_string(), new.fill.to_string());
    cmp("scale", old.scale.to_string(), new.scale.to_string());
    cmp("crop", old.crop.to_string(), new.crop.to_string());
    cmp("overlap", old.overlap.to_string(), new.overlap.to_string());
    cmp("page", old.page.to_string(), new.page.to_string());
    let channel = |c: Option<usize>| c.map_or("none".to_string(), |c| c.to_string());
    cmp("channel", channel(old.channel), channel(new.channel));
    cmp("scaling", old.scaling.clone(), new.scaling.clone());
    cmp(
        "outlines",
        old.outlines.to_string(),
        new.outlines.to_string(),
    );
    d.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalidate_without_old_masks_is_quiet_and_too_long_names_are_named() {
        let tmp = tempfile::tempdir().unwrap();
        OutputSet::new(tmp.path(), "a", false).invalidate().unwrap();
        let long = "x".repeat(250);
        let e = OutputSet::new(tmp.path(), &long, false)
            .invalidate()
            .unwrap_err()
            .to_string();
        assert!(e.contains("too long") && !e.contains("remove"), "{e}");
        // an old masks file is removed
        let o = OutputSet::new(tmp.path(), "b", false);
        std::fs::write(&o.masks, b"old").unwrap();
        o.invalidate().unwrap();
        assert!(!o.masks.exists());
    }

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
        let geojson = Optional {
            geojson: true,
            ..Optional::default()
        };
        let o = OutputSet::with(Path::new("out"), "c", geojson);
        assert_eq!(
            o.file_names(),
            [
                "c.geojson",
                "c_overlay.png",
                "c_cells.csv",
                "c_run.json",
                "c_masks.tif"
            ]
        );
        let all = Optional {
            distmap: true,
            geojson: true,
            rois: true,
        };
        let o = OutputSet::with(Path::new("out"), "d", all);
        assert_eq!(
            o.file_names(),
            [
                "d_distmap.tif",
                "d.geojson",
                "d_rois.zip",
                "d_overlay.png",
                "d_cells.csv",
                "d_run.json",
                "d_masks.tif"
            ]
        );
        assert!(OutputSet::new(Path::new("out"), "e", false).rois.is_none());
    }
}
