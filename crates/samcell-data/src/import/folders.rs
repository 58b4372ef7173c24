//! Cellpose folders and plain image/mask folders.
//!
//! Cellpose: in each input folder, `<name>_img.<ext>` is paired with `<name>_masks.<ext'>` (any
//! of png/tif/tiff; the id is `<name>`). An image without mask or a mask without image is skipped
//! with a reason.
//!
//! Plain folders: each mask file's key is its stem without the first matching suffix of
//! (`--mask-suffix`, `_masks`, `_mask`, `_labels`, `_label`, none); an image matches the mask
//! whose key is its stem. When images and masks share one folder, files with a mask suffix are
//! masks and the others images. Two masks with the same key, and images without mask, are
//! skipped with a reason; the id is the image stem.

use super::{
    file_name, list_files, require_dir, sanitize_id, stem, Discovery, ImportOptions, LabelSource,
    PairSource, Skipped,
};
use crate::DataError;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const MASK_SUFFIXES: [&str; 4] = ["_masks", "_mask", "_labels", "_label"];

pub(super) fn discover_cellpose(opts: &ImportOptions) -> Result<Discovery, DataError> {
    if opts.inputs.is_empty() {
        return Err(DataError::Invalid(
            "cellpose: give at least one folder of <name>_img/<name>_masks files".into(),
        ));
    }
    let mut out = Discovery::default();
    for dir in &opts.inputs {
        require_dir(dir, "a cellpose input")?;
        let mut imgs: BTreeMap<String, PathBuf> = BTreeMap::new();
        let mut masks: BTreeMap<String, PathBuf> = BTreeMap::new();
        for p in list_files(dir)? {
            let s = stem(&p);
            let slot = if let Some(n) = s.strip_suffix("_img") {
                imgs.entry(n.to_string())
            } else if let Some(n) = s.strip_suffix("_masks") {
                masks.entry(n.to_string())
            } else {
                continue;
            };
            match slot {
                std::collections::btree_map::Entry::Vacant(v) => {
                    v.insert(p);
                }
                std::collections::btree_map::Entry::Occupied(o) => out.skipped.push(Skipped::new(
                    p.display().to_string(),
                    format!(
                        "another file with the same name stem: {}",
                        file_name(o.get())
                    ),
                )),
            }
        }
        for (name, img) in &imgs {
            match masks.get(name) {
                Some(m) => out.pairs.push(PairSource {
                    id: sanitize_id(name),
                    image: img.clone(),
                    labels: LabelSource::File(m.clone()),
                }),
                None => out.skipped.push(Skipped::new(
                    img.display().to_string(),
                    format!("no mask file {name}_masks.* beside the image"),
                )),
            }
        }
        for (name, m) in &masks {
            if !imgs.contains_key(name) {
                out.skipped.push(Skipped::new(
                    m.display().to_string(),
                    format!("no image file {name}_img.* beside the mask"),
                ));
            }
        }
    }
    Ok(out)
}

/// The key of a mask file stem and whether it carried a suffix.
fn mask_key<'a>(s: &'a str, suffixes: &[&str]) -> (&'a str, bool) {
    for suf in suffixes {
        if let Some(k) = s.strip_suffix(suf) {
            if !k.is_empty() {
                return (k, true);
            }
        }
    }
    (s, false)
}

pub(super) fn discover_folders(opts: &ImportOptions) -> Result<Discovery, DataError> {
    let (images, masks) = match (&opts.images, &opts.masks, opts.inputs.as_slice()) {
        (Some(i), Some(m), []) => (i.clone(), m.clone()),
        (None, None, [i, m]) => (i.clone(), m.clone()),
        _ => {
            return Err(DataError::Invalid(
                "folders: give the image folder and the mask folder (--images DIR --masks DIR)"
                    .into(),
            ))
        }
    };
    require_dir(&images, "the image folder")?;
    require_dir(&masks, "the mask folder")?;
    let custom: Vec<&str> = opts.mask_suffix.as_deref().into_iter().collect();
    let suffixes: Vec<&str> = custom.iter().copied().chain(MASK_SUFFIXES).collect();
    let same = same_dir(&images, &masks);
    let mut out = Discovery::default();
    let mut by_key: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut image_files = Vec::new();
    for p in list_files(&masks)? {
        let s = stem(&p);
        let (key, marked) = mask_key(&s, &suffixes);
        if same && !marked {
            image_files.push(p);
            continue;
        }
        if let Some(prev) = by_key.get(key) {
            out.skipped.push(Skipped::new(
                p.display().to_string(),
                format!("mask key {key} already taken by {}", file_name(prev)),
            ));
            continue;
        }
        by_key.insert(key.to_string(), p);
    }
    if !same {
        image_files = list_files(&images)?;
    }
    let mut used = std::collections::BTreeSet::new();
    for img in image_files {
        let s = stem(&img);
        match by_key.get(&s) {
            Some(m) => {
                used.insert(s.clone());
                out.pairs.push(PairSource {
                    id: sanitize_id(&s),
                    image: img,
                    labels: LabelSource::File(m.clone()),
                });
            }
            None => out.skipped.push(Skipped::new(
                img.display().to_string(),
                format!("no mask for stem {s} in {}", masks.display()),
            )),
        }
    }
    for (k, m) in &by_key {
        if !used.contains(k) {
            out.skipped.push(Skipped::new(
                m.display().to_string(),
                format!("no image with stem {k}"),
            ));
        }
    }
    Ok(out)
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}
