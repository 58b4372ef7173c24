//! `samcell measure`: per-cell measurements of existing label images.
//!
//! Label files are named directly or found in folders (not recursive) with the pairing rule of
//! `samcell_measure::eval::pair_by_stem`: `.tif`/`.tiff`/`.png` files, and when a folder holds
//! marked label files (`_masks`, `_labels`, `man_seg…`, …) only those. Each label file `<x>`
//! gets `<key>_cells.csv`, where `<key>` is its stem without the mask suffix/prefix
//! (`a_masks.tif` -> `a_cells.csv`, the name `samcell segment` uses), and `summary.csv` gets one
//! row per measured file. `--image` (files or folders) gives intensity images, matched to label
//! files by key = image stem; with `--image`, a label file without an image is an error.
//! Intensities are measured on the image's own values (`samcell_io::read_gray_raw`: the grey
//! channel `samcell segment` uses, before its scaling to 8 bits), written on CellProfiler's 0..1
//! scale and as `_raw` columns.
//! Measurements: `samcell_measure::measure_labels` (CellProfiler 4 MeasureObjectSizeShape /
//! MeasureObjectNeighbors definitions, see that crate). One failing file does not stop the others;
//! the exit status is 1 if any failed.

use crate::progress::Terminal;
use crate::UsageError;
use anyhow::{anyhow, Context, Result};
use clap::Args;
use samcell_batch::discover::has_image_extension;
use samcell_measure::eval::stem_key;
use samcell_measure::{ImageSummary, Intensity, MeasureConfig};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `samcell measure`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    samcell measure samcell_output/ --output measurements\n  \
    samcell measure a_masks.tif b_masks.tif --image images/ --neighbor-distance 3\n\n\
Outputs: <key>_cells.csv per label file (key = stem without _masks/_labels/...) and summary.csv.\n\
Exit status: 0 all measured, 1 some file failed, 2 usage error.")]
pub struct MeasureArgs {
    /// Label images (TIFF/PNG with integer labels, 0 = background) or folders of them.
    #[arg(required = true, value_name = "LABELS")]
    pub labels: Vec<PathBuf>,
    /// Intensity images or folders, matched to label files by stem (key).
    #[arg(long, num_args = 1.., value_name = "IMG")]
    pub image: Vec<PathBuf>,
    /// Output folder.
    #[arg(short, long, default_value = "samcell_measure", value_name = "DIR")]
    pub output: PathBuf,
    /// Distance (px) of the NumberOfNeighbors_<N> count (CellProfiler default 5, at most 100).
    #[arg(long, default_value_t = 5, value_name = "PX",
          value_parser = clap::value_parser!(u32).range(0..=100))]
    pub neighbor_distance: u32,
}

fn is_label_file(p: &Path) -> bool {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase());
    name.is_some_and(|n| {
        !n.starts_with('.') && [".tif", ".tiff", ".png"].iter().any(|e| n.ends_with(e))
    })
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The log line of a file that failed, naming the file once: first, unless the error's own
/// message (e.g. samcell-io's) names it already.
fn failure_line(path: &Path, e: &anyhow::Error) -> String {
    let (name, text) = (path.display().to_string(), format!("{e:#}"));
    if text.contains(&name) {
        format!("failed: {text}")
    } else {
        format!("{name}: failed: {text}")
    }
}

fn sorted_files(dir: &Path, keep: impl Fn(&Path) -> bool) -> Result<Vec<PathBuf>> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let p = e
            .with_context(|| format!("cannot list {}", dir.display()))?
            .path();
        if p.is_file() && keep(&p) {
            v.push(p);
        }
    }
    v.sort();
    Ok(v)
}

/// Label files with their keys, in argument order (folders sorted by name).
pub fn find_label_files(args: &[PathBuf]) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    for a in args {
        if a.is_dir() {
            let files = sorted_files(a, is_label_file)?;
            let keyed: Vec<(String, bool, PathBuf)> = files
                .into_iter()
                .map(|p| {
                    let (k, marked) = stem_key(&stem(&p));
                    (k, marked, p)
                })
                .collect();
            let any_marked = keyed.iter().any(|k| k.1);
            out.extend(
                keyed
                    .into_iter()
                    .filter(|k| k.1 || !any_marked)
                    .map(|(k, _, p)| (k, p)),
            );
        } else if a.is_file() {
            out.push((stem_key(&stem(a)).0, a.clone()));
        } else {
            return Err(anyhow!(UsageError(format!(
                "{}: no such file or folder",
                a.display()
            ))));
        }
    }
    let mut seen: BTreeMap<&str, &Path> = BTreeMap::new();
    for (k, p) in &out {
        if let Some(first) = seen.insert(k, p) {
            return Err(anyhow!(UsageError(format!(
                "{} and {} both give the output name {k}_cells.csv",
                first.display(),
                p.display()
            ))));
        }
    }
    Ok(out)
}

fn find_images(args: &[PathBuf]) -> Result<BTreeMap<String, PathBuf>> {
    let mut map = BTreeMap::new();
    for a in args {
        let files = if a.is_dir() {
            sorted_files(a, has_image_extension)?
        } else if a.is_file() {
            vec![a.clone()]
        } else {
            return Err(anyhow!(UsageError(format!(
                "--image {}: no such file or folder",
                a.display()
            ))));
        };
        for f in files {
            match map.entry(stem(&f)) {
                std::collections::btree_map::Entry::Vacant(e) => {
                    e.insert(f);
                }
                // the same file named twice (a folder and a file in it) is fine; two files that
                // would both be the intensity image of one label file are not
                std::collections::btree_map::Entry::Occupied(e) if e.get() != &f => {
                    return Err(anyhow!(UsageError(format!(
                        "--image: {} and {} have the same name; which one belongs to the labels named {} is ambiguous",
                        e.get().display(),
                        f.display(),
                        e.key()
                    ))));
                }
                std::collections::btree_map::Entry::Occupied(_) => {}
            }
        }
    }
    Ok(map)
}

fn measure_one(
    key: &str,
    labels: &Path,
    image: Option<&Path>,
    out: &Path,
    config: &MeasureConfig,
) -> Result<ImageSummary> {
    let lab = samcell_measure::read_labels(labels)?;
    let raw = match image {
        Some(p) => Some(
            samcell_io::read_gray_raw(p, &samcell_io::ReadOptions::default())
                // samcell-io's error names the file
                .context("intensity image")?
                .1,
        ),
        None => None,
    };
    let m = samcell_measure::measure_labels(&lab, raw.as_ref().map(Intensity::Raw), config)?;
    samcell_measure::write_cells_csv(&out.join(format!("{key}_cells.csv")), &m)?;
    Ok(m.summary(key))
}

/// Runs `samcell measure`.
pub fn run(args: MeasureArgs, term: &Terminal) -> Result<ExitCode> {
    let files = find_label_files(&args.labels)?;
    if files.is_empty() {
        return Err(anyhow!(UsageError(
            "no label files (.tif/.tiff/.png) found".into()
        )));
    }
    let images = if args.image.is_empty() {
        None
    } else {
        Some(find_images(&args.image)?)
    };
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("cannot create the output folder {}", args.output.display()))?;
    let config = MeasureConfig {
        neighbor_distance: args.neighbor_distance,
    };
    let bar = term.file_bar(files.len(), "files");
    let mut rows = Vec::with_capacity(files.len());
    let mut failed = 0usize;
    for (key, path) in &files {
        if let Some(b) = &bar {
            b.set_message(key.clone());
        }
        let result = match &images {
            Some(map) => match map.get(key) {
                Some(img) => measure_one(key, path, Some(img), &args.output, &config),
                None => Err(anyhow!("no --image file with the stem {key}")),
            },
            None => measure_one(key, path, None, &args.output, &config),
        };
        match result {
            Ok(s) => {
                tracing::info!("{}: {} cells", path.display(), s.cell_count);
                rows.push(s);
            }
            Err(e) => {
                failed += 1;
                // the log writer already suspends the bars (nesting would deadlock)
                tracing::error!("{}", failure_line(path, &e));
            }
        }
        if let Some(b) = &bar {
            b.inc(1);
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let summary = args.output.join("summary.csv");
    samcell_measure::write_summary_csv(&summary, &rows)?;
    let line = format!(
        "{} measured, {failed} failed; outputs in {}",
        rows.len(),
        args.output.display()
    );
    if failed > 0 {
        tracing::warn!("{line}");
        Ok(ExitCode::FAILURE)
    } else {
        tracing::info!("{line}");
        Ok(ExitCode::SUCCESS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_with_the_same_stem_are_a_usage_error() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["a.png", "a.tif", "b.png"] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let err = find_images(&[dir.path().join("a.png"), dir.path().join("a.tif")]).unwrap_err();
        assert!(
            err.to_string().contains("a.png") && err.to_string().contains("a.tif"),
            "{err}"
        );
        // the same file twice (folder + file) is not ambiguous
        let ok = find_images(&[dir.path().join("b.png"), dir.path().join("b.png")]).unwrap();
        assert_eq!(ok.len(), 1);
    }
}
