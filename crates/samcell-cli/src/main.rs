//! The `samcell` command-line program: a thin dispatcher over one module per subcommand.
//!
//! The doc comments of the argument structs are the `--help` text, where placeholders such as
//! `<name>` are meant literally, not as HTML tags.
//!
//! Exit codes: 0 success; 1 a run failed or some images failed; 2 a usage error (bad flags,
//! no input found, no model given). Subcommands return [`anyhow::Result`]; an error that is a
//! [`UsageError`] maps to 2, every other error to 1. Logs and progress go to stderr.

#![allow(rustdoc::invalid_html_tags)]

mod eval_cmd;
mod logging;
mod measure_cmd;
mod model_source;
mod prepare_cmd;
mod progress;
mod segment;
mod serve_cmd;
mod summarize_cmd;
mod threads;
mod track_cmd;
mod train_cmd;
mod tune_cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// An error in how the program was called (exit code 2).
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Label-free cell segmentation with SAMCell (Segment Anything fine-tuned to predict per-cell
/// distance maps).
#[derive(Debug, Parser)]
#[command(name = "samcell", version, propagate_version = true)]
#[command(after_help = "Examples:\n  \
    samcell segment image.png --model generalist\n  \
    samcell segment plates/ --recursive --model cyto --output results\n  \
    samcell segment \"data/*.tif\" --model ./samcell-generalist.pt --save-distmap\n  \
    samcell measure results/ --output measurements\n  \
    samcell eval --pred results --gt ground_truth\n  \
    samcell tune --gt ground_truth --distmaps results --peak 0.3:0.6:0.05 --fill 0.05:0.3:0.05\n\n\
    Run `samcell <command> --help` for all options.\n\n\
    Images over 400 megapixels are refused before decoding; SAMCELL_MAX_PIXELS (e.g. 1.5G) sets \
    another limit.")]
struct Cli {
    /// Only warnings and errors (no progress bars, no per-image lines).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// More detail in the log (-v debug, -vv trace). RUST_LOG overrides both flags.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Segment cells in images: label masks, overlays and run metadata.
    Segment(Box<segment::SegmentArgs>),
    /// Per-cell measurements (size, shape, neighbours, intensity) of label images.
    Measure(measure_cmd::MeasureArgs),
    /// Score predicted labels against ground truth (CTC SEG/DET/OP_CSB, AP, F1).
    Eval(eval_cmd::EvalArgs),
    /// Grid-search the peak/fill thresholds against ground truth.
    Tune(Box<tune_cmd::TuneArgs>),
    /// Web GUI: drop images in a browser, view and download the results.
    Serve(serve_cmd::ServeArgs),
    /// Import an annotated dataset (LIVECell, Cellpose, CTC, folders) as a training set.
    Prepare(prepare_cmd::PrepareArgs),
    /// Train or fine-tune a model on a training set made by `samcell prepare`.
    Train(Box<train_cmd::TrainArgs>),
    /// Track cells through a time series: segment (or read) each frame, link the cells.
    Track(Box<track_cmd::TrackArgs>),
    /// Merge the records of a sharded run (segment --shard) into run.json and summary.csv,
    /// and list what is missing or failed (exit 1 then).
    Summarize(summarize_cmd::SummarizeArgs),
}

/// Environment variable with the pixel limit of every image reader (`samcell_io::limits`).
const MAX_PIXELS_ENV: &str = "SAMCELL_MAX_PIXELS";

/// Applies `SAMCELL_MAX_PIXELS` (e.g. `400M`) to every image read by this process.
fn apply_pixel_limit() -> Result<(), UsageError> {
    match std::env::var(MAX_PIXELS_ENV) {
        Ok(v) if !v.trim().is_empty() => samcell_io::parse_max_pixels(&v)
            .and_then(samcell_io::set_max_pixels)
            .map_err(|e| UsageError(format!("{MAX_PIXELS_ENV}: {e}"))),
        _ => Ok(()),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let term = progress::Terminal::new(cli.quiet);
    logging::init(cli.quiet, cli.verbose, &term);
    if let Err(e) = apply_pixel_limit() {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let result = match cli.command {
        Command::Segment(args) => segment::run(*args, &term),
        Command::Measure(args) => measure_cmd::run(args, &term),
        Command::Eval(args) => eval_cmd::run(args),
        Command::Tune(args) => tune_cmd::run(*args, &term),
        Command::Serve(args) => serve_cmd::run(args, &term),
        Command::Prepare(args) => prepare_cmd::run(args, &term),
        Command::Train(args) => train_cmd::run(*args, &term),
        Command::Track(args) => track_cmd::run(*args, &term),
        Command::Summarize(args) => summarize_cmd::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            term.suspend(|| eprintln!("error: {e:#}"));
            if e.is::<UsageError>() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    /// clap's own consistency checks (ids, `requires`/`conflicts_with` targets, shorts) over
    /// every subcommand, including the flattened model options.
    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
