//! Cell Tracking Challenge layout: a dataset folder `<ds>` holds sequences `<ds>/<seq>/tTTT.tif`
//! and their ground truth `<ds>/<seq>_GT/SEG/man_segTTT.tif`. Only frames with a SEG mask are
//! imported (the TRA markers are not segmentations). An input is either a sequence folder (its
//! sibling `<seq>_GT/SEG` must exist) or a dataset folder (every `<seq>` with a `<seq>_GT/SEG`).
//!
//! `man_segTTT.tif` pairs with `tTTT.tif` (same digits, or the same frame number with another
//! zero padding). The 2-D slice annotations of 3-D datasets, `man_seg_TTT_ZZZ.tif`, are *not*
//! imported: each is reported as skipped (3-D stacks are outside SAMCell's 2-D scope). The id is
//! `<ds>_<seq>_tTTT`.

use super::{
    file_name, list_files, require_dir, sanitize_id, Discovery, ImportOptions, LabelSource,
    PairSource, Skipped,
};
use crate::DataError;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn gt_seg(seq: &Path) -> Option<PathBuf> {
    let name = seq.file_name()?.to_string_lossy().into_owned();
    let p = seq.parent()?.join(format!("{name}_GT")).join("SEG");
    p.is_dir().then_some(p)
}

/// Digits of `prefix<digits>.tif(f)`.
fn frame_digits<'a>(name: &'a str, prefix: &str) -> Option<&'a str> {
    let lower = name.to_ascii_lowercase();
    let ext_len = if lower.ends_with(".tiff") {
        5
    } else if lower.ends_with(".tif") {
        4
    } else {
        return None;
    };
    let d = name.strip_prefix(prefix)?;
    let d = &d[..d.len().checked_sub(ext_len)?];
    (!d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())).then_some(d)
}

pub(super) fn discover(opts: &ImportOptions) -> Result<Discovery, DataError> {
    if opts.inputs.is_empty() {
        return Err(DataError::Invalid(
            "ctc: give sequence folders (…/01) or dataset folders".into(),
        ));
    }
    let mut seqs: Vec<(PathBuf, PathBuf)> = Vec::new();
    for input in &opts.inputs {
        require_dir(input, "a CTC input")?;
        if let Some(seg) = gt_seg(input) {
            seqs.push((input.clone(), seg));
            continue;
        }
        let rd = std::fs::read_dir(input)
            .map_err(|e| DataError::read_io(input, "cannot list folder", e))?;
        let mut found: Vec<(PathBuf, PathBuf)> = Vec::new();
        for e in rd {
            let p = e
                .map_err(|e| DataError::read_io(input, "cannot list folder", e))?
                .path();
            if p.is_dir() && !file_name(&p).ends_with("_GT") {
                if let Some(seg) = gt_seg(&p) {
                    found.push((p, seg));
                }
            }
        }
        if found.is_empty() {
            return Err(DataError::Invalid(format!(
                "{}: neither a CTC sequence with a sibling <seq>_GT/SEG folder nor a dataset holding such sequences",
                input.display()
            )));
        }
        found.sort();
        seqs.extend(found);
    }
    let mut out = Discovery::default();
    for (seq, seg) in seqs {
        let seq_name = file_name(&seq);
        let ds_name = seq
            .canonicalize()
            .ok()
            .and_then(|c| c.parent().map(file_name))
            .unwrap_or_default();
        // Frames by number.
        let mut frames: BTreeMap<u64, PathBuf> = BTreeMap::new();
        for p in list_files(&seq)? {
            if let Some(d) = frame_digits(&file_name(&p), "t") {
                if let Ok(n) = d.parse::<u64>() {
                    frames.insert(n, p);
                }
            }
        }
        for m in list_files(&seg)? {
            let name = file_name(&m);
            if let Some(d) = frame_digits(&name, "man_seg") {
                let Ok(n) = d.parse::<u64>() else { continue };
                match frames.get(&n) {
                    Some(img) => out.pairs.push(PairSource {
                        id: sanitize_id(&format!("{ds_name}_{seq_name}_t{d}")),
                        image: img.clone(),
                        labels: LabelSource::File(m.clone()),
                    }),
                    None => out.skipped.push(Skipped::new(
                        m.display().to_string(),
                        format!("no frame t{d}.tif in {}", seq.display()),
                    )),
                }
            } else if name.starts_with("man_seg_") {
                out.skipped.push(Skipped::new(
                    m.display().to_string(),
                    "3-D slice annotation (man_seg_TTT_ZZZ) is not imported: 2-D data only",
                ));
            }
        }
    }
    Ok(out)
}
