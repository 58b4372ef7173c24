//! `samcell track`: cell tracking of a time series.
//!
//! Two ways in: `samcell track INPUT` segments every frame of INPUT (a folder of frames, a
//! multi-page TIFF, a Cell Tracking Challenge sequence folder; see `frames`) with the model
//! options of `samcell segment` (the same loading and pipeline) and writes each frame's
//! segmentation to `OUT/segmentation/<frame>_masks.tif`; `samcell track --labels DIR` links the
//! label images of DIR (natural order) as they are, without a model, and INPUT, when given
//! as well, supplies the grey frames for overlays and intensity columns.
//!
//! The frames are linked by samcell-track's linker (its module docs give the rules), then the
//! result folder is written frame by frame, both by `samcell_track::series::track_files` (which
//! the web GUI's time-series mode runs too, so both give the same files): the Cell Tracking
//! Challenge result (`maskTTT.tif`, `res_track.txt`), `tracks.csv`, `lineage.csv`,
//! `growth.csv`, `growth.png`, `summary.txt` and, with grey frames, `overlays/frameTTT.png`.
//! Time comes from `--frame-interval`; without it, time is in frames (the tables' time column
//! is then `time_frames`). A frame of another size than the first is an error naming it
//! (exit 1); so is an unreadable frame.

mod frames;

use crate::model_source::ModelArgs;
use crate::progress::Terminal;
use crate::{threads, UsageError};
use anyhow::{anyhow, Context, Result};
use clap::Args;
use frames::Frame;
use samcell_imaging::GrayU8;
use samcell_io::ReadOptions;
use samcell_pipeline::{SegmentConfig, DEFAULT_FILL, DEFAULT_PEAK};
use samcell_track::series::FrameFiles;
use samcell_track::{FrameInterval, Timeline, TrackConfig};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

const EXAMPLES: &str = "\
Examples:
  samcell track timelapse/ --model generalist --frame-interval 10min --output tracked
      segment every frame of timelapse/ (natural order of names) and link them
  samcell track stack.tif --frame-interval 30min
      the pages of a multi-page TIFF are the frames
  samcell track --labels masks/ --output tracked
      link existing label images (any source), no model
  samcell track 01/ --labels 01_SEG/ --output 01_RES
      link label images and draw the overlays on the grey frames of 01/

Outputs in OUT: maskTTT.tif and res_track.txt (a Cell Tracking Challenge result: one label per
track, L B E P lines), tracks.csv (one row per cell per frame: track, parent, centroid, area and
the per-cell measurements of samcell segment's _cells.csv), lineage.csv (one row per track),
growth.csv (count, confluency, mean area and divisions per frame), growth.png (count and
confluency against time, with the doubling time fitted on the exponential phase),
summary.txt, overlays/frameTTT.png (each track in its own colour; needs the grey frames) and,
when segmenting, segmentation/<frame>_masks.tif.";

/// `samcell track`.
#[derive(Debug, Args)]
#[command(after_long_help = EXAMPLES, after_help = "Examples and outputs: samcell track --help")]
pub struct TrackArgs {
    /// The time series: a folder of frames (natural order of file names; a Cell Tracking
    /// Challenge sequence folder such as 01/), or a multi-page TIFF (one frame per page; of an
    /// ImageJ/OME hyperstack with channels or Z slices, channel 0 and slice 0 of each time
    /// point). With --labels: the grey frames for the overlays (optional).
    #[arg(value_name = "INPUT", required_unless_present = "labels")]
    pub input: Option<PathBuf>,

    /// Link the label images in this folder (natural order of file names; TIFF or PNG, any
    /// label values, 0 = background) instead of segmenting INPUT.
    #[arg(long, value_name = "DIR")]
    pub labels: Option<PathBuf>,

    #[command(flatten)]
    pub model: ModelArgs,

    /// Output folder (created if needed).
    #[arg(short, long, value_name = "DIR", default_value = "samcell_track")]
    pub output: PathBuf,

    /// Time between frames, e.g. 30min, 90s, 1.5h; times are written in this unit. Without
    /// it, time is counted in frames.
    #[arg(long, value_name = "TIME", value_parser = FrameInterval::parse)]
    pub frame_interval: Option<FrameInterval>,

    /// Smallest intersection over union of a cell and its (motion-shifted) self in the next
    /// frame.
    #[arg(long, value_name = "0..1", default_value_t = TrackConfig::default().min_iou)]
    pub min_iou: f64,

    /// Longest gap, in missing frames, that a track is continued across (0: none).
    #[arg(long, value_name = "N", default_value_t = TrackConfig::default().max_gap)]
    pub max_gap: usize,

    /// Seed threshold of the segmentation (as in samcell segment).
    #[arg(long, value_name = "0..1", default_value_t = DEFAULT_PEAK)]
    pub peak: f32,

    /// Cell extent threshold of the segmentation (as in samcell segment).
    #[arg(long, value_name = "0..1", default_value_t = DEFAULT_FILL)]
    pub fill: f32,

    /// Resize each frame by FACTOR before the model (as in samcell segment): 2 for objects
    /// smaller than the model learned; the masks keep the frames' size [default: 1, with the
    /// built-in nuclei model's small-object advice].
    #[arg(long, value_name = "0.25..4", value_parser = crate::segment::scale_factor)]
    pub scale: Option<f32>,

    /// Crops per forward pass of the model.
    #[arg(short, long, value_name = "N", default_value_t = crate::segment::DEFAULT_BATCH)]
    pub batch_size: usize,

    /// Threads [default: all cores, or RAYON_NUM_THREADS].
    #[arg(short = 'j', long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,

    /// Draw cell outlines in the overlays.
    #[arg(long)]
    pub outlines: bool,
}

/// Where each frame's labels come from.
enum Source {
    /// Label images.
    Labels(Vec<PathBuf>),
    /// Segmentation masks written into the output folder.
    Segmented(Vec<PathBuf>),
}

/// Runs `samcell track`.
pub fn run(args: TrackArgs, term: &Terminal) -> Result<ExitCode> {
    threads::configure(args.threads.map(usize::from));
    crate::segment::check_thresholds(args.peak, args.fill).map_err(|e| anyhow!(UsageError(e)))?;
    TrackConfig::check_min_iou(args.min_iou)
        .map_err(|e| anyhow!(UsageError(format!("--min-iou {e}"))))?;
    let grey: Option<Vec<Frame>> = args.input.as_deref().map(frames::frames).transpose()?;
    std::fs::create_dir_all(&args.output).map_err(|e| {
        anyhow!(
            "cannot create the output folder {}: {e}",
            args.output.display()
        )
    })?;
    let source = match &args.labels {
        Some(dir) => {
            let files = frames::folder_files(dir)?;
            if let Some(g) = &grey {
                if g.len() != files.len() {
                    return Err(anyhow!(UsageError(format!(
                        "{} has {} frames but {} has {} label images",
                        args.input.as_deref().unwrap_or(Path::new("")).display(),
                        g.len(),
                        dir.display(),
                        files.len()
                    ))));
                }
            }
            Source::Labels(files)
        }
        None => Source::Segmented(segment_all(&args, grey.as_deref().unwrap_or(&[]), term)?),
    };
    let files = match &source {
        Source::Labels(f) | Source::Segmented(f) => f,
    };
    let config = TrackConfig {
        min_iou: args.min_iou,
        max_gap: args.max_gap,
        ..TrackConfig::default()
    };
    let interval = match args.frame_interval {
        Some(i) => Some(i),
        None => metadata_interval(grey.as_deref())?,
    };
    let timeline = Timeline(interval);
    if interval.is_none() {
        tracing::info!("no --frame-interval and none in the file's metadata: time is in frames");
    }
    let frames: Vec<FrameFiles> = files
        .iter()
        .enumerate()
        .map(|(t, labels)| FrameFiles {
            labels: labels.clone(),
            grey: grey.as_ref().map(|g| (g[t].path.clone(), g[t].page)),
        })
        .collect();
    let start = Instant::now();
    let (tracking, summary) = samcell_track::series::track_files(
        &args.output,
        &frames,
        &config,
        &timeline,
        args.outlines,
    )?;
    tracing::info!(
        "{} frames linked and written in {:.2} s: {} tracks, {} divisions",
        tracking.frames(),
        start.elapsed().as_secs_f64(),
        tracking.tracks.len(),
        tracking.divisions.len()
    );
    tracing::info!(
        "{}",
        samcell_track::growth::describe(summary.fit.as_ref(), &timeline)
    );
    tracing::info!("outputs in {}", args.output.display());
    Ok(ExitCode::SUCCESS)
}

fn read_grey(frame: &Frame) -> Result<GrayU8> {
    let opts = ReadOptions {
        page: frame.page,
        ..ReadOptions::default()
    };
    samcell_io::read_gray(&frame.path, &opts).with_context(|| format!("frame {frame}"))
}

/// Segments every frame with the model of `--model` (loaded as `samcell segment` loads it)
/// and writes the masks into `OUT/segmentation/`; returns their paths in frame order.
///
/// One model segments the whole time-lapse: with the default `lite`, whose fallback takes the
/// frames that look unlike phase-contrast cells, the frames that went the other way than most
/// (a tie: the cell model) are segmented again with the model most frames went to, and the log
/// says so; a sequence that switched models between frames would see its cells change shape
/// and number with the model, not with time.
fn segment_all(args: &TrackArgs, frames: &[Frame], term: &Terminal) -> Result<Vec<PathBuf>> {
    args.model.spec()?;
    let loaded = args.model.load(term, args.batch_size)?;
    let config = SegmentConfig {
        peak: args.peak,
        fill: args.fill,
        scale: args.scale,
        ..SegmentConfig::default()
    };
    let segmenter = loaded.segmenter(config);
    let dir = args.output.join("segmentation");
    std::fs::create_dir_all(&dir).map_err(|e| anyhow!("cannot create {}: {e}", dir.display()))?;
    let digits = frames.len().saturating_sub(1).to_string().len().max(3);
    let mut out = Vec::with_capacity(frames.len());
    let mut routed = Vec::with_capacity(frames.len());
    let mut small = SmallObjectFrames::default();
    for (t, frame) in frames.iter().enumerate() {
        let s = Instant::now();
        let image = read_grey(frame)?;
        let seg = segmenter
            .segment(&image)
            .with_context(|| format!("frame {frame}: segmentation failed"))?;
        let path = dir.join(format!("frame{t:0digits$}_masks.tif"));
        samcell_io::write_labels_tiff(&path, &seg.labels)?;
        let via = match (&seg.routed[..], &loaded.info.fallback) {
            ([], _) | (_, None) => String::new(),
            (signs, Some(f)) => {
                let why: Vec<String> = signs.iter().map(ToString::to_string).collect();
                format!(" (segmented with {}: {})", f.path, why.join("; "))
            }
        };
        tracing::info!(
            "[{}/{}] {frame}: {} cells, {:.2} s{via}",
            t + 1,
            frames.len(),
            seg.n_cells,
            s.elapsed().as_secs_f64()
        );
        out.push(path);
        routed.push(!seg.routed.is_empty());
        small.set(t, &seg);
    }
    let (Some(fallback), Some(fallback_info)) = (&loaded.fallback, &loaded.info.fallback) else {
        small.report(frames.len());
        return Ok(out);
    };
    let Some(to_fallback) = samcell_pipeline::series_model(&routed) else {
        small.report(frames.len());
        return Ok(out);
    };
    let n = routed.iter().filter(|&&r| r).count();
    let (predictor, name) = if to_fallback {
        (fallback.clone(), fallback_info.path.as_str())
    } else {
        (loaded.predictor.clone(), loaded.info.path.as_str())
    };
    let one = samcell_pipeline::Segmenter::new(predictor, config);
    tracing::warn!(
        "{n} of {} frames look unlike phase-contrast cells: segmenting the other {} again with \
         {name}, so that one model segments the whole time-lapse",
        frames.len(),
        if to_fallback { frames.len() - n } else { n }
    );
    for (t, frame) in frames.iter().enumerate() {
        if routed[t] == to_fallback {
            continue;
        }
        let image = read_grey(frame)?;
        let seg = one
            .segment(&image)
            .with_context(|| format!("frame {frame}: segmentation failed"))?;
        samcell_io::write_labels_tiff(&out[t], &seg.labels)?;
        tracing::info!("{frame}: {} cells with {name}", seg.n_cells);
        small.set(t, &seg);
    }
    small.report(frames.len());
    Ok(out)
}

/// The frames whose final segmentation came with the small-object advice of its model
/// (`samcell segment` says it per image; here it is said once for the time-lapse).
#[derive(Default)]
struct SmallObjectFrames(
    std::collections::BTreeMap<usize, (f32, samcell_pipeline::size::SmallObjects)>,
);

impl SmallObjectFrames {
    /// Records frame `t`'s advice, replacing an earlier segmentation's.
    fn set(&mut self, t: usize, seg: &samcell_pipeline::Segmentation) {
        match (seg.object_px, seg.small_objects) {
            (Some(px), Some(rule)) => {
                self.0.insert(t, (px, rule));
            }
            _ => {
                self.0.remove(&t);
            }
        }
    }

    /// One warning for the frames with advice: how many, and their median object size.
    fn report(&self, n_frames: usize) {
        let mut px: Vec<f32> = self.0.values().map(|(px, _)| *px).collect();
        let Some(&(_, rule)) = self.0.values().next() else {
            return;
        };
        px.sort_by(f32::total_cmp);
        let median = px[px.len() / 2];
        tracing::warn!(
            "{} of {n_frames} frames: {}",
            px.len(),
            samcell_pipeline::size::small_objects_message(median, &rule, "--scale ")
        );
    }
}

/// The frame interval that a multi-page TIFF input's ImageJ or OME metadata declares, said in
/// the log; `None` for a folder of frames or a file without one.
fn metadata_interval(grey: Option<&[Frame]>) -> Result<Option<FrameInterval>> {
    let Some(first) = grey.and_then(|f| f.first()) else {
        return Ok(None);
    };
    if first.path.is_dir() || grey.is_some_and(|f| f.iter().any(|g| g.path != first.path)) {
        return Ok(None);
    }
    let Some(seconds) = samcell_io::read_frame_interval(&first.path)? else {
        return Ok(None);
    };
    let interval = FrameInterval::from_seconds(seconds);
    tracing::info!(
        "{}: frame interval {} {} from the file's metadata (--frame-interval overrides it)",
        first.path.display(),
        interval.value,
        interval.unit
    );
    Ok(Some(interval))
}
