//! LIVECell / COCO instance-segmentation JSON.
//!
//! Read: `images[]` (`id`, `file_name`, `width`, `height`) and `annotations` (a list, or — as in
//! the LIVECell release — an object keyed by annotation id) with `image_id`, `id` and
//! `segmentation` as
//! - a polygon list `[[x0, y0, x1, y1, ...], ...]` (parts are united; each part needs >= 3
//!   points), rasterised exactly as pycocotools 2.0 `frPyObjects` + `decode` do (see
//!   `coco_raster`), or
//! - RLE `{"size": [h, w], "counts": ...}` with `counts` a list (uncompressed) or COCO's
//!   compressed string, column-major, as pycocotools `decode`.
//!
//! Annotations with `iscrowd: 1` are ignored (they are not single cells).
//!
//! **Labels and overlaps.** The annotations of an image, sorted by `id`, get labels 1, 2, ... .
//! A pixel covered by several annotations belongs to the one with the **smallest area** (its
//! rasterised pixel count); equal areas: the larger `id` wins. So a small cell lying on a large
//! one stays whole; an annotation left with no pixel does not count as a cell.
//!
//! Images are looked for at `<json folder>/<file_name>`, or with an images folder, at
//! `<images>/<file_name>` and then anywhere below `<images>` by file name (LIVECell keeps them
//! in per-cell-line subfolders). A missing image is a skipped pair.

use super::coco_raster::{polygon_runs, rle_runs, union_runs, Run};
use super::{
    file_name, sanitize_id, stem, Discovery, ImportOptions, LabelSource, PairSource, Skipped,
};
use crate::DataError;
use samcell_imaging::Labels;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Deserialize)]
struct RawFile {
    images: Vec<RawImage>,
    #[serde(default)]
    annotations: Option<RawAnns>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawAnns {
    List(Vec<RawAnn>),
    Map(BTreeMap<String, RawAnn>),
}

#[derive(Deserialize)]
struct RawImage {
    id: u64,
    file_name: String,
    width: usize,
    height: usize,
}

#[derive(Deserialize)]
struct RawAnn {
    #[serde(default)]
    id: Option<u64>,
    image_id: u64,
    segmentation: Segmentation,
    #[serde(default)]
    iscrowd: u64,
}

/// An annotation's shape as stored in the JSON.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum Segmentation {
    /// Polygon parts `[x0, y0, x1, y1, ...]` in pixel coordinates, united when rasterised.
    Polygons(Vec<Vec<f64>>),
    /// Run-length encoding, column-major, runs alternating outside / inside starting outside.
    Rle {
        /// `[height, width]` of the image the mask covers.
        size: [usize; 2],
        /// The run lengths.
        counts: Counts,
    },
}

/// RLE counts: a list, or COCO's compressed string.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum Counts {
    /// Uncompressed run lengths.
    List(Vec<u64>),
    /// COCO's compressed string (5-bit groups, differences from the count two places earlier).
    Compressed(String),
}

/// One annotation of an image.
#[derive(Clone, Debug)]
pub struct Annotation {
    /// The annotation's `id`; its position in the file when the JSON has none. Labels follow
    /// this order.
    pub id: u64,
    /// The annotation's shape.
    pub segmentation: Segmentation,
}

/// One image of the JSON with its annotations (sorted by id).
#[derive(Clone, Debug)]
pub struct CocoImage {
    /// The image's `id`, which annotations refer to by `image_id`.
    pub id: u64,
    /// The image's file name as given (looked for beside the JSON or in the images folder).
    pub file_name: String,
    /// Width in pixels, the size of the rasterised label image.
    pub width: usize,
    /// Height in pixels, the size of the rasterised label image.
    pub height: usize,
    /// Its annotations without `iscrowd` ones, sorted by id.
    pub annotations: Vec<Annotation>,
}

/// A parsed COCO JSON file.
#[derive(Debug)]
pub struct CocoSet {
    /// The JSON file, named in errors and in the manifest's `source_labels`.
    pub json: PathBuf,
    /// The file's images, in file order.
    pub images: Vec<CocoImage>,
}

impl CocoSet {
    /// Parses a COCO JSON file.
    pub fn load(json: &Path) -> Result<Self, DataError> {
        let bytes = std::fs::read(json).map_err(|e| DataError::read_io(json, "cannot read", e))?;
        Self::parse(json, &bytes)
    }

    /// Parses COCO JSON bytes; `json` names the file in errors.
    pub fn parse(json: &Path, bytes: &[u8]) -> Result<Self, DataError> {
        let raw: RawFile = serde_json::from_slice(bytes)
            .map_err(|e| DataError::read(json, format!("not a COCO instance JSON: {e}")))?;
        let anns: Vec<RawAnn> = match raw.annotations {
            None => Vec::new(),
            Some(RawAnns::List(v)) => v,
            Some(RawAnns::Map(m)) => m.into_values().collect(),
        };
        let mut by_image: HashMap<u64, Vec<Annotation>> = HashMap::new();
        for (k, a) in anns.into_iter().enumerate() {
            if a.iscrowd != 0 {
                continue;
            }
            by_image.entry(a.image_id).or_default().push(Annotation {
                id: a.id.unwrap_or(k as u64),
                segmentation: a.segmentation,
            });
        }
        let mut images = Vec::with_capacity(raw.images.len());
        for im in raw.images {
            let mut annotations = by_image.remove(&im.id).unwrap_or_default();
            annotations.sort_by_key(|a| a.id);
            images.push(CocoImage {
                id: im.id,
                file_name: im.file_name,
                width: im.width,
                height: im.height,
                annotations,
            });
        }
        Ok(CocoSet {
            json: json.to_path_buf(),
            images,
        })
    }

    /// `<json>#image_id=<id>`, the labels' origin in the manifest.
    pub fn describe(&self, i: usize) -> String {
        let id = self.images.get(i).map(|im| im.id).unwrap_or_default();
        format!("{}#image_id={id}", self.json.display())
    }

    /// The label image of image `i` (see the module docs for labels and overlaps).
    pub fn rasterize(&self, i: usize) -> Result<Labels, DataError> {
        let im = self
            .images
            .get(i)
            .ok_or_else(|| DataError::Invalid(format!("{}: no image #{i}", self.json.display())))?;
        rasterize_image(im).map_err(|r| DataError::read(self.describe(i), r))
    }
}

/// Rasterises the annotations of one image; the error is a reason.
pub fn rasterize_image(im: &CocoImage) -> Result<Labels, String> {
    let (w, h) = (im.width, im.height);
    if w == 0 || h == 0 || w.checked_mul(h).is_none_or(|n| n > u32::MAX as usize) {
        return Err(format!("image size {w}x{h} not supported"));
    }
    // the JSON's size allocates the label image: the image readers' pixel limit applies
    let limit = samcell_io::max_pixels();
    if (w as u64).saturating_mul(h as u64) > limit {
        return Err(format!(
            "image size {w}x{h} is over the pixel limit of {limit} pixels (SAMCELL_MAX_PIXELS)"
        ));
    }
    let mut shapes: Vec<(u32, u64, Vec<Run>, u64)> = Vec::with_capacity(im.annotations.len());
    for (k, a) in im.annotations.iter().enumerate() {
        let runs = match &a.segmentation {
            Segmentation::Polygons(parts) => {
                let mut all = Vec::new();
                for p in parts {
                    if p.len() % 2 != 0 || p.len() < 6 {
                        return Err(format!(
                            "annotation {}: a polygon needs an even number of coordinates, at least 6 (has {})",
                            a.id,
                            p.len()
                        ));
                    }
                    all.extend(polygon_runs(p, h, w));
                }
                union_runs(all)
            }
            Segmentation::Rle { size, counts } => {
                if *size != [h, w] {
                    return Err(format!(
                        "annotation {}: RLE size {:?} (h, w) differs from the image's [{h}, {w}]",
                        a.id, size
                    ));
                }
                rle_runs(counts, h, w).map_err(|r| format!("annotation {}: {r}", a.id))?
            }
        };
        let area: u64 = runs.iter().map(|r| u64::from(r.len)).sum();
        shapes.push(((k + 1) as u32, a.id, runs, area));
    }
    // Paint the largest first so that smaller annotations (ties: larger id) end up on top.
    shapes.sort_by(|a, b| b.3.cmp(&a.3).then(a.1.cmp(&b.1)));
    let mut labels = Labels::filled(w, h, 0);
    let data = labels.data_mut();
    for (label, _, runs, _) in &shapes {
        for r in runs {
            // Runs are column-major: index = x * h + y.
            for idx in r.start..r.start + r.len {
                let (x, y) = (idx as usize / h, idx as usize % h);
                data[y * w + x] = *label;
            }
        }
    }
    Ok(labels)
}

pub(super) fn discover(opts: &ImportOptions) -> Result<Discovery, DataError> {
    if opts.inputs.is_empty() {
        return Err(DataError::Invalid(
            "livecell: give at least one COCO JSON file".into(),
        ));
    }
    if let Some(d) = &opts.images {
        super::require_dir(d, "the images folder")?;
    }
    let mut out = Discovery::default();
    let mut index: Option<HashMap<String, PathBuf>> = None;
    for json in &opts.inputs {
        let set = Arc::new(CocoSet::load(json)?);
        let base = match &opts.images {
            Some(d) => d.clone(),
            None => json.parent().map(Path::to_path_buf).unwrap_or_default(),
        };
        for (i, im) in set.images.iter().enumerate() {
            let direct = base.join(&im.file_name);
            let found = if direct.is_file() {
                Some(direct)
            } else if let Some(d) = &opts.images {
                let idx = index.get_or_insert_with(|| index_files(d));
                let name = file_name(Path::new(&im.file_name));
                idx.get(&name).cloned()
            } else {
                None
            };
            match found {
                Some(p) => out.pairs.push(PairSource {
                    id: sanitize_id(&stem(Path::new(&im.file_name))),
                    image: p,
                    labels: LabelSource::Coco(Arc::clone(&set), i),
                }),
                None => out.skipped.push(Skipped::new(
                    set.describe(i),
                    format!(
                        "image file {} not found under {}",
                        im.file_name,
                        base.display()
                    ),
                )),
            }
        }
    }
    Ok(out)
}

/// Every file below `dir` by file name (the first in sorted path order wins).
fn index_files(dir: &Path) -> HashMap<String, PathBuf> {
    let mut all = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                all.push(p);
            }
        }
    }
    all.sort();
    let mut m = HashMap::new();
    for p in all {
        m.entry(file_name(&p)).or_insert(p);
    }
    m
}
