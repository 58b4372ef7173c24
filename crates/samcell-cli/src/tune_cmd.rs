//! `samcell tune`: grid search of the post-processing thresholds (peak, fill) against ground truth.
//!
//! Distance maps come either from `<stem>_distmap.tif` files (32-bit float TIFFs as written by
//! `samcell segment --save-distmap`) or are computed once per image with the model (same model
//! resolution as `samcell segment`). Pairing: the ground-truth folder's keys follow
//! `samcell_measure::pair_by_stem` (mask suffixes / CTC prefixes stripped); a distance map's key
//! is its stem without `_distmap`, then the same stripping (`samcell_measure::eval::stem_key`);
//! an image's key is its stem, likewise stripped. Every key must be on both sides, else a usage
//! error (exit 2) lists the unpaired files. Each grid point runs
//! `samcell_pipeline::labels_from_distance_map` (`samcell_measure::tune_samcell`) and is scored
//! with the pooled CTC SEG/DET/OP_CSB. A grid whose fill values are all above its peak values is
//! a usage error, as `--fill` above `--peak` is for `samcell segment`. Prints the best point by OP_CSB; writes `tune.csv` (whole
//! grid) and `tune_heatmap.png`.

use crate::model_source::ModelArgs;
use crate::progress::Terminal;
use crate::UsageError;
use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use samcell_imaging::Labels;
use samcell_measure::eval::stem_key;
use samcell_measure::{GridRange, TuneGrid};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `samcell tune`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    samcell tune --gt gt/ --distmaps samcell_output/ --peak 0.3:0.6:0.05 --fill 0.05:0.3:0.05\n  \
    samcell tune --gt gt/ --images images/ --model generalist --output tuning\n\n\
Exit status: 0 done, 1 a file could not be read or no grid point is defined, 2 usage error.")]
pub struct TuneArgs {
    /// Folder of ground-truth label images.
    #[arg(long, value_name = "DIR")]
    pub gt: PathBuf,
    /// Folder of saved distance maps (<stem>_distmap.tif).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["images", "model"],
          required_unless_present = "images")]
    pub distmaps: Option<PathBuf>,
    /// Folder of images to compute distance maps from (needs --model).
    #[arg(long, value_name = "DIR", requires = "model")]
    pub images: Option<PathBuf>,
    // --model, --model-config, --model-dir (used with --images)
    #[command(flatten)]
    pub model: ModelArgs,
    /// Peak (seed) thresholds: start:stop:step or one value.
    #[arg(long, default_value = "0.3:0.6:0.05", value_parser = parse_range)]
    pub peak: GridRange,
    /// Fill (mask) thresholds: start:stop:step or one value.
    #[arg(long, default_value = "0.05:0.3:0.05", value_parser = parse_range)]
    pub fill: GridRange,
    /// Folder for tune.csv and tune_heatmap.png.
    #[arg(short, long, default_value = ".", value_name = "DIR")]
    pub output: PathBuf,
}

fn parse_range(s: &str) -> Result<GridRange, String> {
    GridRange::parse(s).map_err(|e| e.to_string())
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Ground-truth files by key (the measure crate's rule, applied to the folder alone).
fn gt_files(dir: &Path) -> Result<BTreeMap<String, PathBuf>> {
    let pairs =
        samcell_measure::pair_by_stem(dir, dir).map_err(|e| anyhow!(UsageError(e.to_string())))?;
    Ok(pairs.into_iter().map(|p| (p.key, p.gt)).collect())
}

/// `<stem>_distmap.tif(f)` files by key.
fn distmap_files(dir: &Path) -> Result<BTreeMap<String, PathBuf>> {
    let mut map = BTreeMap::new();
    let rd = std::fs::read_dir(dir)
        .map_err(|e| anyhow!(UsageError(format!("cannot list {}: {e}", dir.display()))))?;
    for e in rd {
        let p = e
            .with_context(|| format!("cannot list {}", dir.display()))?
            .path();
        let name = file_name(&p);
        let lower = name.to_ascii_lowercase();
        let Some(cut) = ["_distmap.tiff", "_distmap.tif"]
            .iter()
            .find(|s| lower.ends_with(*s))
            .map(|s| name.len() - s.len())
        else {
            continue;
        };
        if name.starts_with('.') || !p.is_file() {
            continue;
        }
        let key = stem_key(&name[..cut]).0;
        if let Some(old) = map.insert(key.clone(), p.clone()) {
            bail!(UsageError(format!(
                "{} and {} have the same key {key}",
                old.display(),
                p.display()
            )));
        }
    }
    Ok(map)
}

/// Image files by key.
fn image_files(dir: &Path) -> Result<BTreeMap<String, PathBuf>> {
    let found = samcell_batch::discover(&[dir.to_path_buf()], false, None)
        .map_err(|e| anyhow!(UsageError(samcell_batch::error_chain(&e))))?;
    let mut map = BTreeMap::new();
    for i in found.inputs {
        let stem = i
            .path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let key = stem_key(&stem).0;
        if let Some(old) = map.insert(key.clone(), i.path.clone()) {
            bail!(UsageError(format!(
                "{} and {} have the same key {key}",
                old.display(),
                i.path.display()
            )));
        }
    }
    Ok(map)
}

/// Pairs `inputs` with `gts` by key; any unpaired file is a usage error naming all of them.
fn pair(
    inputs: BTreeMap<String, PathBuf>,
    gts: &BTreeMap<String, PathBuf>,
    what: &str,
) -> Result<Vec<(String, PathBuf, PathBuf)>> {
    let mut problems = Vec::new();
    for (k, p) in &inputs {
        if !gts.contains_key(k) {
            problems.push(format!(
                "{what} {} has no ground truth (key {k})",
                p.display()
            ));
        }
    }
    for (k, p) in gts {
        if !inputs.contains_key(k) {
            problems.push(format!(
                "ground truth {} has no {what} (key {k})",
                p.display()
            ));
        }
    }
    if !problems.is_empty() {
        bail!(UsageError(format!(
            "unpaired files:\n  {}",
            problems.join("\n  ")
        )));
    }
    if inputs.is_empty() {
        bail!(UsageError(format!("no {what} files found")));
    }
    Ok(inputs
        .into_iter()
        .map(|(k, p)| {
            let g = gts[&k].clone();
            (k, p, g)
        })
        .collect())
}

fn write_csv(path: &Path, grid: &TuneGrid) -> Result<()> {
    let f = |v: f64| samcell_measure::csv::fmt_f64(v);
    let mut s = String::from("peak,fill,op_csb,seg,det,ap_mean,f1_50,n_gt,n_pred\n");
    for p in &grid.points {
        s.push_str(&format!(
            "{},{},{},{},{},{},{},{},{}\n",
            p.peak,
            p.fill,
            f(p.scores.op_csb),
            f(p.scores.seg),
            f(p.scores.det),
            f(p.scores.ap_mean),
            f(p.scores.f1_50),
            p.counts.n_gt,
            p.counts.n_pred
        ));
    }
    samcell_io::write_atomic(path, s.as_bytes())?;
    Ok(())
}

/// A grid whose every point has fill above peak is a usage error (as `--fill` above `--peak` is
/// for `samcell segment`): the smallest fill is checked against the largest peak. Grids that
/// only overlap (some points with fill > peak) are evaluated whole.
fn check_grid(peak: &GridRange, fill: &GridRange) -> Result<()> {
    let max_peak = peak.values().into_iter().fold(f32::NEG_INFINITY, f32::max);
    let min_fill = fill.values().into_iter().fold(f32::INFINITY, f32::min);
    crate::segment::check_thresholds(max_peak, min_fill).map_err(|e| {
        anyhow!(UsageError(format!(
            "{e} (here every --fill value is above every --peak value)"
        )))
    })
}

/// Runs `samcell tune`.
pub fn run(args: TuneArgs, term: &Terminal) -> Result<ExitCode> {
    check_grid(&args.peak, &args.fill)?;
    let gts = gt_files(&args.gt)?;
    let (maps, gt_labels) = if let Some(dir) = &args.distmaps {
        let pairs = pair(distmap_files(dir)?, &gts, "distance map")?;
        let mut maps = Vec::with_capacity(pairs.len());
        let mut labels: Vec<Labels> = Vec::with_capacity(pairs.len());
        for (_, m, g) in &pairs {
            maps.push(samcell_io::read_f32_tiff(m)?);
            labels.push(samcell_measure::read_labels(g)?);
        }
        (maps, labels)
    } else {
        let Some(dir) = &args.images else {
            bail!(UsageError(
                "give --distmaps DIR, or --images DIR with --model".into()
            ));
        };
        let pairs = pair(image_files(dir)?, &gts, "image")?;
        // Run with the model's own tiling (samcell-lite's differs from SAM's 256 + 32).
        let loaded = args.model.load(term, crate::segment::DEFAULT_BATCH)?;
        let seg = loaded.segmenter(Default::default());
        let bar = term.file_bar(pairs.len(), "images");
        let mut maps = Vec::with_capacity(pairs.len());
        let mut labels: Vec<Labels> = Vec::with_capacity(pairs.len());
        for (k, img, g) in &pairs {
            if let Some(b) = &bar {
                b.set_message(k.clone());
            }
            let grey = samcell_io::read_gray(img, &samcell_io::ReadOptions::default())?;
            maps.push(
                seg.distance_map(&grey)
                    .with_context(|| format!("{}: distance map", img.display()))?,
            );
            labels.push(samcell_measure::read_labels(g)?);
            if let Some(b) = &bar {
                b.inc(1);
            }
        }
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        (maps, labels)
    };
    let grid = samcell_measure::tune_samcell(&maps, &gt_labels, &args.peak, &args.fill)?;
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("cannot create the output folder {}", args.output.display()))?;
    write_csv(&args.output.join("tune.csv"), &grid)?;
    samcell_measure::write_heatmap_png(&args.output.join("tune_heatmap.png"), &grid)?;
    let Some(best) = grid.best() else {
        bail!("no grid point has a defined OP_CSB (no ground-truth objects?)");
    };
    println!(
        "best: peak {} fill {}  OP_CSB {:.4}  SEG {:.4}  DET {:.4}  ({} images, {} grid points)",
        best.peak,
        best.fill,
        best.scores.op_csb,
        best.scores.seg,
        best.scores.det,
        maps.len(),
        grid.points.len()
    );
    tracing::info!("tune.csv and tune_heatmap.png in {}", args.output.display());
    Ok(ExitCode::SUCCESS)
}
