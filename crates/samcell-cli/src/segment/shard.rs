//! `samcell segment --shard`: this process's share of the batch (`samcell_batch::shard`).
//!
//! `--shard slurm` reads the array task from the environment when the run starts; a variable
//! that is missing or not a number is a usage error (exit 2) naming it. The whole batch is
//! planned, each job weighed by its pixels (headers only), the partition computed, and the
//! shard's jobs kept in the batch's order. One info line says
//! `shard I of N: K images (P megapixels) of M`. The run's record gets a
//! `samcell_batch::ShardRecord` with the inputs, working folder, page and channel choices and
//! the options that reproduce the results ([`settings_args`]), from which `samcell summarize`
//! plans the batch again and writes the re-run command.

use super::args::{SegmentArgs, ShardSpec};
use crate::model_source::Precision;
use crate::train_cmd::DeviceArg;
use crate::UsageError;
use anyhow::{anyhow, Result};
use samcell_batch::plan::Job;
use samcell_batch::shard::{self as batch_shard, Shard, ShardRecord};

/// The jobs of this shard (all of them without `--shard`) and, with `--shard`, the shard and
/// the record of it for the run's results files.
pub fn select(args: &SegmentArgs, jobs: Vec<Job>) -> Result<(Vec<Job>, Option<ShardRecord>)> {
    let Some(spec) = args.shard else {
        return Ok((jobs, None));
    };
    let shard = match spec {
        ShardSpec::Fixed(s) => s,
        ShardSpec::Slurm => Shard::from_slurm(|k| std::env::var(k).ok())
            .map_err(|e| anyhow!(UsageError(format!("--shard slurm: {e}"))))?,
    };
    let weights = batch_shard::job_weights(&jobs);
    let shard_of = batch_shard::partition(&weights, shard.count);
    let mine = batch_shard::jobs_of(&shard_of, shard.index);
    let pixels: u64 = mine.iter().map(|&j| weights[j]).sum();
    let megapixels = pixels as f64 / 1e6;
    let batch_images = jobs.len();
    tracing::info!(
        "shard {} of {}: {} images ({megapixels:.1} megapixels) of {batch_images}",
        shard.index,
        shard.count,
        mine.len()
    );
    let working_dir = std::env::current_dir()
        .map_err(|e| anyhow!("cannot tell the working folder: {e}"))?
        .display()
        .to_string();
    let record = ShardRecord {
        index: shard.index,
        count: shard.count,
        inputs: args
            .inputs
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        working_dir,
        recursive: args.recursive,
        page: args.page,
        all_pages: args.all_pages,
        channel: args.channel,
        settings_args: settings_args(args),
        batch_images,
        shard_images: mine.len(),
        shard_megapixels: megapixels,
    };
    let keep: std::collections::HashSet<usize> = mine.into_iter().collect();
    let jobs = jobs
        .into_iter()
        .enumerate()
        .filter(|(j, _)| keep.contains(j))
        .map(|(_, job)| job)
        .collect();
    Ok((jobs, Some(record)))
}

/// The options of `args` that decide the results and the outputs written, as arguments of a
/// re-run: the model options given, the thresholds, page and channel choices, scaling,
/// overlay outlines, pixel size and optional outputs (not the inputs, the output folder,
/// threads, batch size or `--overwrite`).
pub fn settings_args(args: &SegmentArgs) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut flag = |name: &str, value: Option<String>| {
        out.push(name.to_string());
        out.extend(value);
    };
    if let Some(m) = &args.model.model {
        flag("--model", Some(m.clone()));
    }
    if let Some(c) = &args.model.model_config {
        flag("--model-config", Some(c.display().to_string()));
    }
    if let Some(d) = &args.model.model_dir {
        flag("--model-dir", Some(d.display().to_string()));
    }
    if args.model.device == DeviceArg::Cuda {
        flag("--device", Some("cuda".into()));
    }
    if args.model.precision == Precision::Bf16 {
        flag("--precision", Some("bf16".into()));
    }
    flag("--peak", Some(args.peak.to_string()));
    flag("--fill", Some(args.fill.to_string()));
    if let Some(p) = args.page {
        flag("--page", Some(p.to_string()));
    }
    if args.all_pages {
        flag("--all-pages", None);
    }
    if let Some(c) = args.channel {
        flag("--channel", Some(c.to_string()));
    }
    if let Some((lo, hi)) = args.percentile {
        flag("--percentile", Some(format!("{lo},{hi}")));
    }
    if args.outlines {
        flag("--outlines", None);
    }
    if let Some(c) = &args.pixel_size {
        let size = if c.x_um == c.y_um {
            format!("{}um", c.x_um)
        } else {
            format!("{}x{}um", c.x_um, c.y_um)
        };
        flag("--pixel-size", Some(size));
    }
    for (on, name) in [
        (args.save_distmap, "--save-distmap"),
        (args.save_geojson, "--save-geojson"),
        (args.save_rois, "--save-rois"),
    ] {
        if on {
            flag(name, None);
        }
    }
    out
}
