//! `samcell segment`: images in, cell label masks, overlays and run metadata out.
//!
//! Order of work: threads are configured; `--fill` above `--peak` is a usage error (exit 2);
//! inputs are found and named, one job per page to segment (`samcell_batch::plan`; none: usage
//! error, exit 2); the model is resolved (downloaded if named and not cached), hashed and loaded
//! (a bad model stops the run before anything is written); then each job is skipped (outputs
//! complete and made with the same model and settings, no `--overwrite`) or segmented, one
//! failure not stopping the others. Outputs made with another model or other settings are redone
//! (an info line says why). `run.json` and `summary.csv` are rewritten after every image, merged
//! with what earlier runs into the folder wrote (`samcell_batch::results`); with `--shard` the
//! run keeps only its share of the jobs and its own `run-shard-I-of-N.json` and
//! `summary-shard-I-of-N.csv` instead (`shard`, merged by `samcell summarize`; written also when
//! the shard has no images), and a summary line
//! ends the run. Exit 1 if any image failed (a failure to write one of its outputs included) or
//! if `run.json` or `summary.csv` could not be written at the end.
//!
//! Each image's log line names the page when its file has several (with its channel / Z / time
//! position in an ImageJ or OME stack) and the `--channel`; warnings about an input
//! (`checks`: constant image, flattened scaling, one page of several, extra samples ignored)
//! are logged and recorded in the image's `warnings`.
//!
//! Measurements: each segmented image gets `<name>_cells.csv` (one row per cell), and the run
//! gets `summary.csv` (one row per image) with the images segmented in this run and the skipped
//! ones, whose existing `<name>_masks.tif` is re-measured (summary columns only need the
//! labels), after the rows that earlier runs wrote for other images. Failed images have no row.
//!
//! Reference: samcell 1.1.4 `samcell segment` (`cli.py`) reads one image with
//! `cv2.imread(IMREAD_GRAYSCALE)`, runs `SAMCellPipeline.run` and writes `<name>_labels.png`
//! (labels scaled to 0..255 for display, so ids above 255 are lost). The segmentation here is
//! the same pipeline (`samcell_pipeline::Segmenter`); the outputs are different by design:
//! exact label TIFFs, an overlay, optional distance maps and JSON metadata.

mod args;
mod checks;
mod job;
mod shard;

pub use args::{check_thresholds, pixel_size, scale_factor, SegmentArgs, DEFAULT_BATCH};

use crate::progress::Terminal;
use crate::{threads, UsageError};
use anyhow::{anyhow, Result};
use job::JobContext;
use samcell_batch::plan::{self, Job};
use samcell_batch::record::{
    self as run_meta, ImageRecord, ResultSettings, RunMeta, RunSettings, Status, Summary,
};
use samcell_batch::{discover, OutputSet, Results};
use samcell_io::ReadOptions;
use samcell_pipeline::SegmentConfig;
use std::collections::HashSet;
use std::process::ExitCode;
use std::time::Instant;

/// Runs `samcell segment`.
pub fn run(args: SegmentArgs, term: &Terminal) -> Result<ExitCode> {
    let n_threads = threads::configure(args.threads.map(usize::from));
    args.check().map_err(|e| anyhow!(UsageError(e)))?;
    if args.dry_run {
        return dry_run(&args);
    }
    // a missing --model is reported before a missing input
    args.model.spec()?;
    let (jobs, shard) = shard::select(&args, find_jobs(&args)?)?;

    let loaded = args.model.load(term, args.batch_size)?;
    // the predictor's own tiling (SAM: samcell's 256 + 32; samcell-lite: the one in its weights;
    // an image routed to the default lite model's fallback is cut with the fallback's, which
    // run.json's model.fallback.variant names)
    let tiling = loaded.predictor.tiling();
    let config = SegmentConfig {
        peak: args.peak,
        fill: args.fill,
        scale: args.scale,
        ..SegmentConfig::default()
    };
    let scaling = args.scaling();
    let scaling_label = args::scaling_label(&scaling);
    let page = args.page.unwrap_or(0);
    let settings = RunSettings {
        result: ResultSettings {
            peak: args.peak,
            fill: args.fill,
            scale: args.scale.unwrap_or(1.0),
            crop: tiling.crop,
            overlap: tiling.overlap,
            page,
            channel: args.channel,
            scaling: scaling_label.clone(),
            outlines: args.outlines,
        },
        batch_size: args.batch_size,
        threads: n_threads,
        save_distmap: args.save_distmap,
        save_geojson: args.save_geojson,
        save_rois: args.save_rois,
        overwrite: args.overwrite,
        all_pages: args.all_pages,
    };

    std::fs::create_dir_all(&args.output).map_err(|e| {
        anyhow!(
            "cannot create the output folder {}: {e}",
            args.output.display()
        )
    })?;
    let bars = term.run_bars(jobs.len());
    let segmenter = loaded.segmenter(config).with_progress(bars.crop_hook());
    let model_info = loaded.info;
    let ctx = JobContext {
        segmenter: &segmenter,
        read: ReadOptions {
            page,
            scaling,
            channel: args.channel,
            ..ReadOptions::default()
        },
        page_chosen: args.page.is_some() || args.all_pages,
        scaling_label,
        outlines: args.outlines,
        pixel_size: args.pixel_size,
        settings: &settings,
        model: &model_info,
        bars: &bars,
    };
    tracing::info!(
        "{} image(s) -> {} | model {} ({}, sha256 {}) | {} thread(s), batch {}",
        jobs.len(),
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
        shard: None,
        summary: Summary::default(),
        images: Vec::with_capacity(jobs.len()),
        earlier_images: Vec::new(),
    };
    let names: HashSet<String> = jobs.iter().map(|j| j.name.clone()).collect();
    // a shard keeps its own results files (merged by `samcell summarize`)
    let results = match &shard {
        Some(s) => {
            let of = samcell_batch::Shard::new(s.index, s.count)?;
            Results::load_files(&args.output, &of.run_json(), &of.summary_csv(), &names)
        }
        None => Results::load(&args.output, &names),
    };
    meta.shard = shard;
    let mut summaries: Vec<samcell_measure::ImageSummary> = Vec::with_capacity(jobs.len());
    let mut write_failed = false;
    let run_start = Instant::now();
    let n = jobs.len();
    for (k, job) in jobs.iter().enumerate() {
        let outs = args.outputs(&job.name);
        let tag = job_tag(k, n, job);
        bars.start_image(&job.name);
        let job_result = ResultSettings {
            page: job.page,
            ..settings.result.clone()
        };
        let complete = !args.overwrite && outs.complete();
        let stale = complete
            .then(|| outs.staleness(&job_result, &model_info))
            .flatten();
        let record = if complete && stale.is_none() {
            let mut r = ImageRecord::new(&job.input, job.page, &job.name, Status::Skipped);
            r.error = Some("outputs exist (use --overwrite to redo)".into());
            r.outputs = outs.file_names();
            tracing::info!("{tag}: skipped, outputs exist");
            match resummarize(&outs, &job.name) {
                Ok(s) => summaries.push(s),
                Err(e) => tracing::warn!("{tag}: no summary row: {e:#}"),
            }
            r
        } else {
            if let Some(why) = &stale {
                tracing::info!("{tag}: outputs exist but were {why}; redoing them");
            }
            let (r, summary) = job::run_image(&ctx, job, &outs);
            summaries.extend(summary);
            for w in &r.warnings {
                tracing::warn!("{tag}: {w}");
            }
            match (&r.status, &r.error) {
                (Status::Failed, Some(e)) => tracing::error!("{tag}: failed: {e}"),
                _ => tracing::info!(
                    "{tag}: {} cells, {}x{}, {:.2} s",
                    r.n_cells.unwrap_or(0),
                    r.width.unwrap_or(0),
                    r.height.unwrap_or(0),
                    r.seconds.map_or(0.0, |s| s.total.as_secs_f64())
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
        // a failed write is retried after the next image and at the end, where it is an error
        if let Err(e) = results.write(&mut meta, &summaries) {
            if !write_failed {
                tracing::warn!("{:#}", anyhow::Error::from(e));
            }
            write_failed = true;
        } else {
            write_failed = false;
        }
    }
    bars.finish();
    // n == 0: a shard without images of the batch still leaves its (empty) records, which
    // `samcell summarize` and workflow engines look for
    if write_failed || n == 0 {
        // the last write failed: one more try, whose failure ends the run with an error
        results.write(&mut meta, &summaries).map_err(|e| {
            anyhow!(
                "{:#}; the results files of {} do not describe this run \
                 ({} ok, {} skipped, {} failed)",
                anyhow::Error::from(e),
                args.output.display(),
                meta.summary.ok,
                meta.summary.skipped,
                meta.summary.failed
            )
        })?;
    }
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

/// `[k/n] input`, with the page when the file has several (and its channel / Z / time position
/// when known), and the channel when one was asked for.
fn job_tag(k: usize, n: usize, job: &Job) -> String {
    let mut tag = format!("[{}/{n}] {}", k + 1, job.input.display());
    if job.pages > 1 {
        tag.push_str(&format!(" page {} of {}", job.page, job.pages));
        if let Some(p) = job.plane {
            tag.push_str(&format!(" ({p})"));
        }
    }
    if let Some(c) = job.channel.filter(|_| job.plane.is_none()) {
        tag.push_str(&format!(" channel {c}"));
    }
    tag
}

/// The summary row of a skipped image, from its existing masks (and the pixel size they carry).
fn resummarize(outs: &OutputSet, name: &str) -> Result<samcell_measure::ImageSummary> {
    let labels = samcell_measure::read_labels(&outs.masks)?;
    let m =
        samcell_measure::measure_labels(&labels, None, &samcell_measure::MeasureConfig::default())?;
    let calibration = samcell_io::read_gray_with_info(&outs.masks, &ReadOptions::default())?
        .1
        .calibration;
    Ok(m.summary(name).with_pixel_size(calibration.as_ref()))
}

/// The jobs of the run (inputs found and named, pages chosen); no input is a usage error.
fn find_jobs(args: &SegmentArgs) -> Result<Vec<Job>> {
    let found = discover::discover(&args.inputs, args.recursive, Some(&args.output))
        .map_err(|e| anyhow!(UsageError(samcell_batch::error_chain(&e))))?;
    found.log();
    if found.inputs.is_empty() {
        let shown: Vec<String> = args
            .inputs
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        return Err(anyhow!(UsageError(format!(
            "no input images found in {} (folders are searched for {} files{})",
            shown.join(" "),
            discover::IMAGE_EXTENSIONS.join("/"),
            if args.recursive {
                ""
            } else {
                "; add --recursive for sub-folders"
            }
        ))));
    }
    let selection = plan::Selection {
        page: args.page,
        all_pages: args.all_pages,
        channel: args.channel,
    };
    Ok(plan::jobs_for(
        &found.inputs,
        &selection,
        plan::page_count,
        plan::layout,
    ))
}

/// The settings `--dry-run` compares (tiling is the model's, unknown without it).
fn dry_run_settings(args: &SegmentArgs, page: usize) -> ResultSettings {
    ResultSettings {
        peak: args.peak,
        fill: args.fill,
        scale: args.scale.unwrap_or(1.0),
        crop: 0,
        overlap: 0,
        page,
        channel: args.channel,
        scaling: args::scaling_label(&args.scaling()),
        outlines: args.outlines,
    }
}

/// `--dry-run`: prints `input -> output prefix` and the resume state, one line per image page
/// (with `--shard`, of this shard's pages).
/// Without the model, resume is judged on the settings alone (a different model is only seen
/// by a real run).
fn dry_run(args: &SegmentArgs) -> Result<ExitCode> {
    let (jobs, _) = shard::select(args, find_jobs(args)?)?;
    for job in jobs {
        let outs = args.outputs(&job.name);
        let state = if args.overwrite || !outs.complete() {
            "segment".to_string()
        } else if let Some(why) = outs.redo_reason_without_model(&dry_run_settings(args, job.page))
        {
            format!("segment ({why})")
        } else {
            "skip (outputs exist)".to_string()
        };
        println!("{}\t{}\t{state}", job.input.display(), outs.masks.display());
    }
    Ok(ExitCode::SUCCESS)
}
