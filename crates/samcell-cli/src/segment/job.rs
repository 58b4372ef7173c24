//! One image: read, segment, measure the cells, write its outputs (masks last), and record what
//! happened. The per-cell CSV comes from `samcell_measure::measure_labels` on the labels with the
//! default neighbour distance (5 px) and, as the intensity image, the grey channel the
//! segmentation used *before* its scaling to 8 bits (`samcell_io::read_gray_raw`: the file's own
//! values, colour merged to grey the same way), so intensities compare across images. With
//! `--save-geojson` the cells' outlines with their `_cells.csv` rows go into `<name>.geojson`;
//! `--save-rois` writes the outlines as `<name>_rois.zip` for Fiji, placed on the page's slice
//! when the input has several pages (both `samcell_batch::outlines`).
//!
//! Pixel size: `--pixel-size` when given, otherwise the input's own calibration
//! (`SourceInfo::calibration`) unless it is a 72/96/300 dpi software default, which is ignored
//! (info line). The masks and distance-map TIFFs carry it as ImageJ calibration tags, the
//! image record names it and its source, `<name>_cells.csv` gets the size columns in µm too
//! (`samcell_measure::csv`) and the summary row the cells per mm².

use crate::progress::RunBars;
use anyhow::{Context, Result};
use samcell_batch::plan::Job;
use samcell_batch::record::{
    write_json, ImageMeta, ImageRecord, ModelInfo, RunSettings, SourceMeta, Status,
};
use samcell_batch::{OutputSet, Timings};
use samcell_io::{Calibration, ReadOptions};
use samcell_measure::{ImageSummary, Intensity, MeasureConfig};
use samcell_pipeline::{Segmenter, TilePlan};
use std::path::Path;
use std::time::Instant;

/// What every image of a run shares.
pub struct JobContext<'a> {
    pub segmenter: &'a Segmenter,
    /// Read options; the page is each job's.
    pub read: ReadOptions,
    /// The page was chosen (`--page` or `--all-pages`): reading one page of several is no
    /// surprise then (see `checks`).
    pub page_chosen: bool,
    pub scaling_label: String,
    pub outlines: bool,
    /// `--pixel-size`: used instead of the input's own calibration.
    pub pixel_size: Option<Calibration>,
    pub settings: &'a RunSettings,
    pub model: &'a ModelInfo,
    pub bars: &'a RunBars,
}

/// Segments the job's page into `outputs`; never fails: errors become a `Failed` record whose
/// error text says what went wrong (the input itself is in the record). The summary row of the
/// image (for `summary.csv`) comes with a successful record.
pub fn run_image(
    ctx: &JobContext,
    job: &Job,
    outputs: &OutputSet,
) -> (ImageRecord, Option<ImageSummary>) {
    let (input, name) = (job.input.as_path(), job.name.as_str());
    let mut record = ImageRecord::new(input, job.page, name, Status::Ok);
    let read = ReadOptions {
        page: job.page,
        ..ctx.read
    };
    // a page of a multi-page file: its ROIs go on that slice (1-based, as ImageJ counts)
    let roi_slice = samcell_batch::outlines::roi_slice(job.page, job.pages);
    match segment_and_write(ctx, &read, input, name, outputs, roi_slice, &mut record) {
        Ok(summary) => (record, Some(summary)),
        Err(e) => {
            record.status = Status::Failed;
            record.error = Some(format!("{e:#}"));
            record.outputs.clear();
            (record, None)
        }
    }
}

fn segment_and_write(
    ctx: &JobContext,
    read: &ReadOptions,
    input: &Path,
    name: &str,
    outputs: &OutputSet,
    roi_slice: Option<u32>,
    record: &mut ImageRecord,
) -> Result<ImageSummary> {
    let start = Instant::now();
    outputs.invalidate()?;
    // the record and the log line name the input; keep only the reason of a read error
    let (image, raw, info) = samcell_io::read_gray_raw(input, read).map_err(|e| match e {
        samcell_io::IoError::Read {
            reason,
            source: Some(source),
            ..
        } => anyhow::Error::new(source).context(format!("cannot read the image: {reason}")),
        samcell_io::IoError::Read { reason, .. } => {
            anyhow::anyhow!("cannot read the image: {reason}")
        }
        other => anyhow::Error::new(other),
    })?;
    let read_time = start.elapsed();
    record.width = Some(info.width);
    record.height = Some(info.height);
    record.source = Some(SourceMeta::from_info(&info, &ctx.scaling_label));
    record.warnings.extend(super::checks::input_warnings(
        &image,
        &info,
        ctx.page_chosen,
        read.channel,
    ));
    tracing::debug!("{}: {info}", input.display());
    let calibration = samcell_batch::record::output_calibration(ctx.pixel_size, info.calibration);
    if let Some(c) = info
        .calibration
        .filter(|c| c.is_dpi_default() && ctx.pixel_size.is_none())
    {
        tracing::info!(
            "{}: pixel size ignored: {c}; give --pixel-size for physical units",
            input.display()
        );
    }
    record.set_calibration(calibration.as_ref());
    // the crops of the image at the model's scale (`--scale`)
    let (sw, sh) = samcell_pipeline::scaled_size(
        image.width(),
        image.height(),
        ctx.segmenter.config().scale.unwrap_or(1.0),
    );
    record.n_crops = TilePlan::new(sw, sh, &ctx.segmenter.tiling())
        .map(|p| p.len())
        .ok();
    ctx.bars.set_crops(record.n_crops.unwrap_or(0));

    let seg = ctx
        .segmenter
        .segment(&image)
        .context("segmentation failed")?;
    if !seg.routed.is_empty() {
        // the fallback model ran too, on its own tiling
        let fallback = ctx
            .segmenter
            .fallback_tiling()
            .and_then(|t| TilePlan::new(sw, sh, &t).ok());
        record.n_crops = record.n_crops.zip(fallback).map(|(n, p)| n + p.len());
    }
    let stages = seg.timings;
    record.n_cells = Some(seg.n_cells);
    record.object_diameter_px = seg.object_px.map(|d| (d * 10.0).round() / 10.0);
    if !seg.routed.is_empty() {
        record.segmented_with = ctx.model.fallback.as_ref().map(|f| f.path.clone());
        record
            .warnings
            .extend(super::checks::route_warnings(&seg.routed, ctx.model));
    } else if ctx.model.path == samcell_lite::BUILTIN_NAME && ctx.model.fallback.is_none() {
        // with a fallback the segmenter has weighed the same signs at the same thresholds: none
        let result = &ctx.settings.result;
        record.warnings.extend(super::checks::domain_warnings(
            &image,
            &seg.distance_map,
            result.peak,
            result.fill,
        ));
    }
    if let (Some(rule), Some(px)) = (seg.small_objects, seg.object_px) {
        record
            .warnings
            .push(samcell_pipeline::size::small_objects_message(
                px, &rule, "--scale ",
            ));
    }

    let write_start = Instant::now();
    if let Some(path) = &outputs.distmap {
        samcell_io::write_f32_tiff_calibrated(path, &seg.distance_map, calibration.as_ref())?;
    }
    // the map (4 bytes per pixel) is not needed for the other outputs: free it before them
    let seg = samcell_pipeline::Segmentation {
        distance_map: samcell_imaging::MapF32::filled(0, 0, 0.0),
        ..seg
    };
    samcell_io::write_overlay_png(&outputs.overlay, &image, &seg.labels, ctx.outlines)?;
    let cells = samcell_measure::measure_labels(
        &seg.labels,
        Some(Intensity::Raw(&raw)),
        &MeasureConfig::default(),
    )
    .context("cannot measure the cells")?;
    let cells_csv = samcell_measure::csv::cells_csv_string_calibrated(&cells, calibration.as_ref());
    samcell_io::write_atomic(&outputs.cells, cells_csv.as_bytes())?;
    if let Some(path) = &outputs.geojson {
        let text = samcell_batch::outlines::cells_geojson(&seg.labels, &cells_csv)?;
        samcell_io::write_atomic(path, text.as_bytes())?;
    }
    if let Some(path) = &outputs.rois {
        let zip = samcell_batch::outlines::cells_roi_zip(&seg.labels, roi_slice)?;
        samcell_io::write_atomic(path, &zip)?;
    }
    let summary = cells.summary(name).with_pixel_size(calibration.as_ref());
    record.outputs = outputs.file_names();
    // the per-image metadata carries the times up to here; run.json gets the final ones
    let mut timings = Timings {
        read: read_time,
        stages,
        write: write_start.elapsed(),
        total: start.elapsed(),
    };
    record.seconds = Some(timings);
    // the settings this result was made with: the run's, with this job's page
    let mut settings = ctx.settings.clone();
    settings.result.page = read.page;
    write_json(
        &outputs.meta,
        &ImageMeta {
            samcell_version: env!("CARGO_PKG_VERSION"),
            settings: &settings,
            model: ctx.model,
            image: record,
        },
    )?;
    // last: its existence marks the image as done
    samcell_io::write_labels_tiff_calibrated(&outputs.masks, &seg.labels, calibration.as_ref())?;
    timings.write = write_start.elapsed();
    timings.total = start.elapsed();
    record.seconds = Some(timings);
    Ok(summary)
}
