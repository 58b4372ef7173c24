//! Finding image/label pairs in the dataset layouts `samcell prepare` imports.
//!
//! [`discover`] only lists pairs (cheap); pixels are read when a pair is written
//! ([`PairSource::load_labels`], and the image with `samcell_io::read_gray`). Problems found while
//! listing (an image without mask, an unsupported 3-D annotation, ...) come back as [`Skipped`]
//! entries with a reason, never silently dropped.
//!
//! - [`ImportFormat::Livecell`]: COCO instance JSON ([`coco`]); overlaps are resolved there
//!   (the smaller annotation wins).
//! - [`ImportFormat::Cellpose`]: `<name>_img.<ext>` + `<name>_masks.<ext>` in a folder.
//! - [`ImportFormat::Ctc`]: Cell Tracking Challenge `<seq>/tTTT.tif` + `<seq>_GT/SEG/man_segTTT.tif`.
//! - [`ImportFormat::Folders`]: `--images DIR` + `--masks DIR` matched by file stem.
//!
//! Ids (the file names in the training set) keep ASCII letters, digits, `.`, `-` and `_`; any
//! other character becomes `_`.

pub mod coco;
mod coco_raster;
mod ctc;
mod folders;

use crate::DataError;
use samcell_imaging::Labels;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The dataset layouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportFormat {
    /// LIVECell / COCO instance JSON files, with the images beside them or in an images folder.
    Livecell,
    /// Cellpose folders of `<name>_img.<ext>` + `<name>_masks.<ext>`.
    Cellpose,
    /// Cell Tracking Challenge sequences with their `_GT/SEG` segmentation ground truth.
    Ctc,
    /// An images folder and a masks folder, matched by file stem.
    Folders,
}

impl ImportFormat {
    /// The name used on the command line ("livecell", "cellpose", "ctc", "folders").
    pub fn name(self) -> &'static str {
        match self {
            ImportFormat::Livecell => "livecell",
            ImportFormat::Cellpose => "cellpose",
            ImportFormat::Ctc => "ctc",
            ImportFormat::Folders => "folders",
        }
    }
}

/// Where a pair's labels come from.
#[derive(Clone, Debug)]
pub enum LabelSource {
    /// A label image file.
    File(PathBuf),
    /// The annotations of one image of a COCO JSON file, rasterised on load.
    Coco(Arc<coco::CocoSet>, usize),
}

/// One image with its labels, not yet read.
#[derive(Clone, Debug)]
pub struct PairSource {
    /// Identifier in the training set (file-name safe).
    pub id: String,
    /// The image file.
    pub image: PathBuf,
    /// The labels of that image.
    pub labels: LabelSource,
}

impl PairSource {
    /// The labels' origin as recorded in the manifest (`source_labels`).
    pub fn labels_description(&self) -> String {
        match &self.labels {
            LabelSource::File(p) => p.display().to_string(),
            LabelSource::Coco(set, i) => set.describe(*i),
        }
    }

    /// Reads (or rasterises) the labels; the error is a reason for the skip list.
    pub fn load_labels(&self) -> Result<Labels, DataError> {
        match &self.labels {
            LabelSource::File(p) => crate::labels::read_labels(p),
            LabelSource::Coco(set, i) => set.rasterize(*i),
        }
    }
}

/// An input left out, with the reason.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Skipped {
    /// The input left out: an image path, a label file or a COCO JSON image.
    pub source: String,
    /// Why, e.g. "empty mask: no cells in ..." or "no mask for stem ... in ...".
    pub reason: String,
}

impl Skipped {
    /// A skip entry for `source` with `reason`.
    pub fn new(source: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            source: source.into(),
            reason: reason.into(),
        }
    }
}

/// What [`discover`] found.
#[derive(Debug, Default)]
pub struct Discovery {
    /// The image/label pairs found, in discovery order.
    pub pairs: Vec<PairSource>,
    /// Inputs found but left out while listing, with the reason.
    pub skipped: Vec<Skipped>,
}

/// Inputs of [`discover`].
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// Livecell: JSON files. Cellpose: folders. CTC: sequence folders (`01`) or dataset folders
    /// holding `NN` + `NN_GT`. Folders: unused (see `images`/`masks`), or `[images, masks]`.
    pub inputs: Vec<PathBuf>,
    /// Livecell: folder searched (recursively) for the images. Folders: the image folder.
    pub images: Option<PathBuf>,
    /// Folders: the mask folder.
    pub masks: Option<PathBuf>,
    /// Folders: an extra mask-name suffix tried before the built-in ones.
    pub mask_suffix: Option<String>,
}

/// Lists the image/label pairs of `format`. An error means the inputs themselves are unusable
/// (a missing folder, an unparsable JSON); bad individual pairs are in [`Discovery::skipped`].
pub fn discover(format: ImportFormat, opts: &ImportOptions) -> Result<Discovery, DataError> {
    match format {
        ImportFormat::Livecell => coco::discover(opts),
        ImportFormat::Cellpose => folders::discover_cellpose(opts),
        ImportFormat::Ctc => ctc::discover(opts),
        ImportFormat::Folders => folders::discover_folders(opts),
    }
}

/// A file-name-safe id.
pub fn sanitize_id(s: &str) -> String {
    let v: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if v.is_empty() || v.starts_with('.') {
        format!("_{v}")
    } else {
        v
    }
}

/// Image-like files (by extension) directly in `dir`, sorted by name; hidden files ignored.
pub(crate) fn list_files(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let rd =
        std::fs::read_dir(dir).map_err(|e| DataError::read_io(dir, "cannot list folder", e))?;
    let mut v = Vec::new();
    for e in rd {
        let p = e
            .map_err(|e| DataError::read_io(dir, "cannot list folder", e))?
            .path();
        let name = file_name(&p);
        if p.is_file() && !name.starts_with('.') && has_image_ext(&p) {
            v.push(p);
        }
    }
    v.sort();
    Ok(v)
}

pub(crate) fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

pub(crate) fn stem(p: &Path) -> String {
    p.file_stem()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Extensions samcell-io reads (the content decides the format; this only filters listings).
pub(crate) fn has_image_ext(p: &Path) -> bool {
    let e = p
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    matches!(e.as_str(), "png" | "tif" | "tiff" | "jpg" | "jpeg" | "bmp")
}

pub(crate) fn require_dir(p: &Path, what: &str) -> Result<(), DataError> {
    if p.is_dir() {
        Ok(())
    } else {
        Err(DataError::Invalid(format!(
            "{}: {what} is not a folder",
            p.display()
        )))
    }
}
