//! `samcell segment`: images in, cell label masks, overlays and run metadata out.
//!
//! Order of work: threads are configured; inputs are found and named (none: usage error, exit
//! 2); the model is resolved (downloaded if named and not cached), hashed and loaded (a bad model
//! stops the run before anything is written); then each image is skipped (outputs complete, no
//! `--overwrite`) or segmented, one failure not stopping the others; `run.json` is rewritten
//! after every image, and a summary line ends the run. Exit 1 if any image failed.
//!
//! Measurements: each segmented image gets `<name>_cells.csv` (one row per cell), and the run
//! gets `summary.csv` (one row per image, rewritten after every image) with the images
//! segmented in this run and the skipped ones, whose existing `<name>_masks.tif` is re-measured
//! (summary columns only need the labels). Failed images have no row.
//!
//! Reference: samcell 1.1.4 `samcell segment` (`cli.py`) reads one image with
//! `cv2.imread(IMREAD_GRAYSCALE)`, runs `SAMCellPipeline.run` and writes `<name>_labels.png`
//! (labels scaled to 0..255 for display, so ids above 255 are lost). The segmentation here is
//! the same pipeline (`samcell_pipeline::Segmenter`); the outputs are different by design:
//! exact label TIFFs, an overlay, optional distance maps and JSON metadata.

mod args;
mod job;
mod outputs;

pub use args::{SegmentArgs, DEFAULT_BATCH};

use crate::discover::{self, Input};
use crate::progress::Terminal;
use crate::run_meta::{self, ImageRecord, ResultSettings, RunMeta, RunSettings, Status, Summary};
use crate::{threads, UsageError};
use anyhow::{anyhow, Context, Result};
use job::JobContext;
use outputs::OutputSet;
use samcell_io::ReadOptions;
use samcell_pipeline::{SegmentConfig, Segmenter};
use std::process::ExitCode;
use std::time::Instant;

/// Runs `samcell segment`.
pub fn run(args: SegmentArgs, term: &Terminal) -> Result<ExitCode> {
    let n_threads = threads::configure(args.threads.map(usize::from));
    if args.dry_run {
        return dry_run(&args);
    }
    // a missing --model is reported before a missing input
    args.model.spec()?;
    let (inputs, names) = find_inputs(&args)?;

    let loaded = args.model.load_with_tiling(term, args.batch_size)?;
    let (predictor, model_info) = (loaded.predictor, loaded.info);
    let config = SegmentConfig {
        // SAM: samcell's 256 + 32; samcell-lite: the tiling in its weights file
        tiling: loaded.tiling,
        peak: args.peak,
        fill: args.fill,
    };
    let scaling = args.scaling();
    let scaling_label = args::scaling_label(&scaling);
    let settings = RunSettings {
        result: ResultSettings {
            peak: args.peak,
            fill: args.fill,
            crop: config.tiling.crop,
            overlap: config.tiling.overlap,
            page: args.page,
            scaling: scaling_label.clone(),
            outlines: args.outlines,
        },
        batch_size: args.batch_size,
        threads: n_threads,
        save_distmap: args.save_distmap,
        overwrite: args.overwrite,
    };

    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("cannot create the output folder {}", args.output.display()))?;
    let bars = term.run_bars(inputs.len());
    let segmenter = Segmenter::new(predictor, config).with_progress(bars.crop_hook());
    let ctx = JobContext {
        segmenter: &segmenter,
        read: ReadOptions {
            page: args.page,
            scaling,
        },
        scaling_label,
        outlines: args.outlines,
        settings: &settings,
        model: &model_info,
        bars: &bars,
    };
    tracing::info!(
        "{} image(s) -> {} | model {} ({}, sha256 {}) | {} thread(s), batch {}",
        inputs.len(),
        args.output.display(),
        model_info.path,
        model_info.variant,
        &model_info.sha256[..12.min(model_info.sha256.len())],
        n_threads,
        args.batch_size
    );

    let mut meta = RunMeta {
        samcell_version: env!("CARGO_PKG_VERSION").to_string(),
        command_line: run_meta::command_line(),
        started_unix: run_meta::unix_now(),
        finished_unix: 0,
        output_dir: args.output.display().to_string(),
        settings: settings.clone(),
        model: model_info.clone(),
        summary: Summary::default(),
        images: Vec::with_capacity(inputs.len()),
    };
    let run_json = args.output.join("run.json");
    let summary_csv = args.output.join("summary.csv");
    let mut summaries: Vec<samcell_measure::ImageSummary> = Vec::with_capacity(inputs.len());
    let run_start = Instant::now();
    let n = inputs.len();
    for (k, (input, name)) in inputs.iter().zip(&names).enumerate() {
        let outs = OutputSet::new(&args.output, name, args.save_distmap);
        let tag = format!("[{}/{n}] {}", k + 1, input.path.display());
        bars.start_image(name);
        let record = if !args.overwrite && outs.complete() {
            let mut r = ImageRecord::new(&input.path, name, Status::Skipped);
            r.error = Some("outputs exist (use --overwrite to redo)".into());
            r.outputs = outs.file_names();
            match outs.staleness(&settings.result, &model_info.sha256) {
                Some(why) => tracing::warn!(
                    "{tag}: skipped, outputs exist but were {why}; use --overwrite to redo"
                ),
                None => tracing::info!("{tag}: skipped, outputs exist"),
            }
            match resummarize(&outs, name) {
                Ok(s) => summaries.push(s),
                Err(e) => tracing::warn!("{tag}: no summary row: {e:#}"),
            }
            r
        } else {
            let (r, summary) = job::run_image(&ctx, &input.path, name, &outs);
            summaries.extend(summary);
            match (&r.status, &r.error) {
                (Status::Failed, Some(e)) => tracing::error!("{tag}: failed: {e}"),
                _ => tracing::info!(
                    "{tag}: {} cells, {}x{}, {:.2} s",
                    r.n_cells.unwrap_or(0),
                    r.width.unwrap_or(0),
                    r.height.unwrap_or(0),
                    r.seconds.as_ref().map_or(0.0, |s| s.total)
                ),
            }
            r
        };
        match record.status {
            Status::Ok => meta.summary.ok += 1,
            Status::Skipped => meta.summary.skipped += 1,
            Status::Failed => meta.summary.failed += 1,
        }
        meta.images.push(record);
        bars.finish_image();
        meta.finished_unix = run_meta::unix_now();
        if let Err(e) = run_meta::write_json(&run_json, &meta) {
            tracing::warn!("cannot write {}: {e:#}", run_json.display());
        }
        if let Err(e) = samcell_measure::write_summary_csv(&summary_csv, &summaries) {
            tracing::warn!("cannot write {}: {e:#}", summary_csv.display());
        }
    }
    bars.finish();
    let s = meta.summary;
    let line = format!(
        "{} ok, {} skipped, {} failed in {:.1} s; outputs in {}",
        s.ok,
        s.skipped,
        s.failed,
        run_start.elapsed().as_secs_f64(),
        args.output.display()
    );
    if s.failed > 0 {
        tracing::warn!("{line}");
        Ok(ExitCode::FAILURE)
    } else {
        tracing::info!("{line}");
        Ok(ExitCode::SUCCESS)
    }
}

/// The summary row of a skipped image, from its existing masks.
fn resummarize(outs: &OutputSet, name: &str) -> Result<samcell_measure::ImageSummary> {
    let labels = samcell_measure::read_labels(&outs.masks)?;
    let m =
        samcell_measure::measure_labels(&labels, None, &samcell_measure::MeasureConfig::default())?;
    Ok(m.summary(name))
}

/// Inputs and their output names; no input is a usage error.
fn find_inputs(args: &SegmentArgs) -> Result<(Vec<Input>, Vec<String>)> {
    let found = discover::discover(&args.inputs, args.recursive, Some(&args.output))
        .map_err(|e| anyhow!(UsageError(e)))?;
    for w in &found.warnings {
        tracing::warn!("{w}");
    }
    if found.inputs.is_empty() {
        return Err(anyhow!(UsageError(format!(
            "no input images found in {} (folders are searched for {} files{})",
            args.inputs.join(" "),
            discover::IMAGE_EXTENSIONS.join("/"),
            if args.recursive {
                ""
            } else {
                "; add --recursive for sub-folders"
            }
        ))));
    }
    let names = discover::output_names(&found.inputs);
    Ok((found.inputs, names))
}

/// `--dry-run`: prints `input -> output prefix` and the resume state, one line per image.
fn dry_run(args: &SegmentArgs) -> Result<ExitCode> {
    let (inputs, names) = find_inputs(args)?;
    for (input, name) in inputs.iter().zip(&names) {
        let outs = OutputSet::new(&args.output, name, args.save_distmap);
        let state = if !args.overwrite && outs.complete() {
            "skip (outputs exist)"
        } else {
            "segment"
        };
        println!(
            "{}\t{}\t{state}",
            input.path.display(),
            outs.masks.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
