//! Command-line options of `samcell segment`.
//!
//! The options shared with the Python `samcell segment` (samcell 1.1.4 `cli.py`) keep its names
//! and defaults: `--model/-m` (required there; here it defaults to the built-in samcell-lite
//! model when the build has one), `--output/-o` (default `./samcell_output`),
//! `--peak-threshold` and `--fill-threshold` (aliases of `--peak`/`--fill`, defaults 0.47 and
//! 0.09, from `samcell_pipeline`). It has no equivalent of `--crop-size` (fixed at the trained
//! 256 for SAM; samcell-lite uses the tiling stored in its weights) or `--device`, and takes one
//! image where this takes many.

use crate::model_source::ModelArgs;
use clap::builder::TypedValueParser;
use clap::Args;
use samcell_io::{Calibration, Scaling};
use samcell_pipeline::{DEFAULT_FILL, DEFAULT_PEAK};
use std::path::PathBuf;

/// Default crops per forward pass (see `--batch-size`).
pub const DEFAULT_BATCH: usize = samcell_batch::models::DEFAULT_BATCH_SIZE;

const EXAMPLES: &str = "\
Examples:
  samcell segment cells.png --model generalist
      one image; outputs in ./samcell_output (the model is downloaded once into the cache)
  samcell segment experiment/ --recursive --model cyto --output results --threads 8
      every png/jpg/jpeg/tif/tiff/bmp file under experiment/
  samcell segment \"plate1/*.tif\" --model ./samcell-generalist.pt --save-distmap --outlines
      a quoted pattern is expanded by samcell itself
  samcell segment stack.tif --page 2 --percentile 1,99 --model generalist
      third page of a 16-bit stack, scaled between its 1st and 99th percentiles
  samcell segment stack.tif --all-pages
      every page of a stack, one result per page (stack_p0_masks.tif, stack_p1_masks.tif...)
  samcell segment hyperstack.ome.tif --channel 1 --all-pages
      every Z slice and time point of the second channel (hyperstack_c1_p1_masks.tif...)

Outputs per image <name> (the file stem): <name>_masks.tif (cell labels, 0 = background),
<name>_overlay.png, <name>_cells.csv (per-cell measurements), <name>_run.json, and
<name>_distmap.tif with --save-distmap, <name>.geojson (cell outlines for QuPath) with
--save-geojson, <name>_rois.zip (ImageJ ROIs for Fiji's ROI Manager) with --save-rois;
run.json describes the whole run and summary.csv has one
row per image (both keep the rows of images of earlier runs into the same folder). For a file
with several pages, <name> ends in _p<N> (the page, from 0); with --channel C, a file with several
channels gets _c<C> before it (cells_c1, stack_c1_p3). An image whose outputs all exist and
were made with the same model and settings is skipped (use --overwrite to redo it anyway);
outputs made with another model or other settings are redone.

Sharded runs: N processes (e.g. a Slurm job array) each run the same command with
--shard I/N (or --shard slurm) into one --output folder; then `samcell summarize OUT` merges
their records into run.json and summary.csv and names what is missing.

Exit status: 0 all images done or skipped, 1 some image failed, 2 usage error.";

/// `samcell segment`.
#[derive(Debug, Args)]
#[command(after_long_help = EXAMPLES, after_help = "Examples and outputs: samcell segment --help")]
pub struct SegmentArgs {
    /// Image files, folders or quoted glob patterns.
    ///
    /// Named files are read whatever their extension (the content decides); folders contribute
    /// their png/jpg/jpeg/tif/tiff/bmp files (any case). Inputs are processed in sorted order.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,

    /// Search folders (and folders matched by patterns) recursively.
    #[arg(short, long)]
    pub recursive: bool,

    #[command(flatten)]
    pub model: ModelArgs,

    /// Output folder (created if needed).
    #[arg(short, long, value_name = "DIR", default_value = "samcell_output")]
    pub output: PathBuf,

    /// Seed threshold: a cell is seeded where the distance map is > PEAK.
    #[arg(long, visible_alias = "peak-threshold", value_name = "0..1", default_value_t = DEFAULT_PEAK, value_parser = unit_interval)]
    pub peak: f32,

    /// Cell extent threshold: cells grow where the distance map is > FILL.
    #[arg(long, visible_alias = "fill-threshold", value_name = "0..1", default_value_t = DEFAULT_FILL, value_parser = unit_interval)]
    pub fill: f32,

    /// Resize each image by FACTOR before the model: 2 for objects smaller than the model
    /// learned (nuclei under ~12 px across), 0.5 for very large ones. Labels, measurements and
    /// the map keep the image's size; the time grows with FACTOR squared. [default: 1, and
    /// with the built-in nuclei model (also behind the default) a warning suggests 2 for
    /// objects that measure under 14 px]
    #[arg(long, value_name = "0.25..4", value_parser = scale_factor)]
    pub scale: Option<f32>,

    /// Threads for the model and the image processing [default: all cores, or
    /// RAYON_NUM_THREADS].
    #[arg(short = 'j', long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,

    /// Crops per forward pass. Peak memory with ViT-B: about 1.0 GB at batch 1, 2.0 GB at
    /// batch 4 (each further crop ~0.35 GB); lower it on small machines.
    #[arg(short, long, value_name = "N", default_value_t = DEFAULT_BATCH,
          value_parser = clap::value_parser!(u16).range(1..=256).map(usize::from))]
    pub batch_size: usize,

    /// Also write the blended distance map as <name>_distmap.tif (32-bit float).
    #[arg(long)]
    pub save_distmap: bool,

    /// Also write the cell outlines with their measurements as <name>.geojson, which QuPath
    /// imports as detection objects.
    #[arg(long)]
    pub save_geojson: bool,

    /// Also write the cell outlines as <name>_rois.zip, an ImageJ ROI set that Fiji's ROI
    /// Manager opens: one ROI per cell, named by its label (0007), a cell with holes or in
    /// several parts as one composite ROI. For a page of a multi-page file the ROIs are placed
    /// on that page's slice (page + 1, as ImageJ counts) and named <slice>-<label>
    /// (0003-0007).
    #[arg(long)]
    pub save_rois: bool,

    /// Redo images whose outputs already exist.
    #[arg(long)]
    pub overwrite: bool,

    /// Page of multi-page TIFF inputs, counted from 0 (outputs of a file with several pages
    /// are named <name>_p<N>_...).
    /// [default: 0]
    #[arg(long, value_name = "N")]
    pub page: Option<usize>,

    /// Segment every page of multi-page TIFF inputs, one result per page (<name>_p<N>_...).
    /// With --channel and a stack whose channels are pages: every page of that channel.
    #[arg(long, conflicts_with = "page")]
    pub all_pages: bool,

    /// Channel to segment, counted from 0, instead of making grey of all channels.
    ///
    /// In a TIFF whose ImageJ or OME metadata declares several channels (a hyperstack, an
    /// OME-TIFF with channels), the channel's pages: its first Z slice and time point, every
    /// page of the channel with --all-pages, or the page --page names (which must be one of
    /// the channel's). Otherwise the sample of each pixel: R, G or B (0, 1, 2) of a colour
    /// image, a band of a multi-band TIFF page. Outputs of a file with several channels are
    /// named <name>_c<C>_...; a file with one channel keeps its names (channel 0 is the image;
    /// a channel it does not have fails).
    #[arg(long, value_name = "N")]
    pub channel: Option<usize>,

    /// Scale non-8-bit input between these percentiles instead of its min and max (e.g. 1,99).
    #[arg(long, value_name = "LO,HI", value_parser = percentile_pair)]
    pub percentile: Option<(f64, f64)>,

    /// Draw cell outlines in the overlay.
    #[arg(long)]
    pub outlines: bool,

    /// Pixel size in µm (e.g. 0.65um, 650nm, 0.5x0.6um for X x Y), instead of the one the input
    /// declares (OME-XML, ImageJ or TIFF resolution tags). Written into the masks and
    /// distance-map TIFFs and the run records.
    #[arg(long, value_name = "SIZE", value_parser = pixel_size)]
    pub pixel_size: Option<Calibration>,

    /// Segment only shard I of N of the inputs (I counted from 0, e.g. 2/8), or `slurm`: the
    /// task of a Slurm job array (I = SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN,
    /// N = SLURM_ARRAY_TASK_COUNT).
    ///
    /// Every shard plans the whole batch and takes its share, balanced by pixels (read from the
    /// file headers), so N processes with the same inputs and --output cover every image once
    /// without talking to each other. A shard writes run-shard-I-of-N.json and
    /// summary-shard-I-of-N.csv instead of run.json and summary.csv; `samcell summarize OUT`
    /// merges them. Images whose outputs are complete (from any shard or an earlier run) are
    /// skipped as usual, so a shard can be re-submitted. With --dry-run: this shard's images.
    #[arg(long, value_name = "I/N|slurm", value_parser = shard_spec)]
    pub shard: Option<ShardSpec>,

    /// List the inputs and their output names, then stop (no model is loaded).
    #[arg(long)]
    pub dry_run: bool,
}

/// `--shard`: a given shard, or the Slurm array task's (read when the run starts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShardSpec {
    /// `I/N`.
    Fixed(samcell_batch::Shard),
    /// `slurm`.
    Slurm,
}

fn shard_spec(s: &str) -> Result<ShardSpec, String> {
    if s.trim().eq_ignore_ascii_case("slurm") {
        return Ok(ShardSpec::Slurm);
    }
    samcell_batch::Shard::parse(s)
        .map(ShardSpec::Fixed)
        .map_err(|e| e.to_string())
}

impl SegmentArgs {
    /// The output files of image `name`, with the optional ones these options ask for.
    pub fn outputs(&self, name: &str) -> samcell_batch::OutputSet {
        let optional = samcell_batch::Optional {
            distmap: self.save_distmap,
            geojson: self.save_geojson,
            rois: self.save_rois,
        };
        samcell_batch::OutputSet::with(&self.output, name, optional)
    }

    /// Checks what clap cannot: `--fill` must not be above `--peak` (cells grow from seeds
    /// above PEAK into the region above FILL; with FILL > PEAK the seeds lie outside it).
    pub fn check(&self) -> Result<(), String> {
        check_thresholds(self.peak, self.fill)
    }

    /// The scaling for non-8-bit input.
    pub fn scaling(&self) -> Scaling {
        match self.percentile {
            Some((lo, hi)) => Scaling::Percentile(lo, hi),
            None => Scaling::MinMax,
        }
    }
}

/// Describes a scaling for logs and metadata.
pub fn scaling_label(s: &Scaling) -> String {
    match s {
        Scaling::MinMax => "min-max".into(),
        Scaling::Percentile(lo, hi) => format!("percentile {lo}..{hi}"),
    }
}

/// `fill <= peak` (`samcell_pipeline::check_thresholds`), as a usage error message otherwise.
pub fn check_thresholds(peak: f32, fill: f32) -> Result<(), String> {
    samcell_pipeline::check_thresholds(peak, fill).map_err(|e| e.to_string())
}

fn number(s: &str) -> Result<f32, String> {
    s.trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number"))
}

/// `--scale`'s value: a number in the pipeline's scale range.
pub fn scale_factor(s: &str) -> Result<f32, String> {
    samcell_pipeline::check_scale(number(s)?).map_err(|e| e.to_string())
}

fn unit_interval(s: &str) -> Result<f32, String> {
    samcell_pipeline::check_threshold(number(s)?).map_err(|e| e.to_string())
}

/// `--pixel-size` of `segment` and `serve`: `0.65um`, `650nm`, `0.5x0.6um` (a number alone is µm).
pub fn pixel_size(s: &str) -> Result<Calibration, String> {
    samcell_io::parse_pixel_size(s).map_err(|e| e.to_string())
}

fn percentile_pair(s: &str) -> Result<(f64, f64), String> {
    let (a, b) = s
        .split_once(',')
        .ok_or_else(|| format!("{s:?}: expected LO,HI such as 1,99"))?;
    let parse = |t: &str| {
        t.trim()
            .parse::<f64>()
            .map_err(|_| format!("{t:?} is not a number"))
    };
    let (lo, hi) = (parse(a)?, parse(b)?);
    samcell_io::read::gray::check_percentiles(lo, hi)?;
    Ok((lo, hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_parsing() {
        assert_eq!(percentile_pair("1,99"), Ok((1.0, 99.0)));
        assert_eq!(percentile_pair(" 0.5 , 99.5"), Ok((0.5, 99.5)));
        assert!(percentile_pair("99,1").is_err());
        assert!(percentile_pair("1").is_err());
        assert!(percentile_pair("1,101").is_err());
    }

    #[test]
    fn fill_above_peak_is_refused() {
        assert!(check_thresholds(0.47, 0.09).is_ok());
        assert!(check_thresholds(0.5, 0.5).is_ok());
        let e = check_thresholds(0.3, 0.6).unwrap_err();
        assert!(e.contains("--fill 0.6") && e.contains("--peak 0.3"), "{e}");
    }

    #[test]
    fn shard_values() {
        let fixed = |i, n| ShardSpec::Fixed(samcell_batch::Shard::new(i, n).unwrap());
        assert_eq!(shard_spec("1/3"), Ok(fixed(1, 3)));
        assert_eq!(shard_spec("slurm"), Ok(ShardSpec::Slurm));
        assert!(shard_spec("3/3").unwrap_err().contains("not below"));
        assert!(shard_spec("0/0").unwrap_err().contains("at least 1"));
        assert!(shard_spec("x").unwrap_err().contains("I/N"));
    }

    #[test]
    fn thresholds_must_be_in_unit_interval() {
        assert_eq!(unit_interval("0.47"), Ok(0.47));
        assert!(unit_interval("1.5").is_err());
        assert!(unit_interval("nan").is_err());
        assert!(unit_interval("x").is_err());
    }
}
