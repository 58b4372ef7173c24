//! `samcell eval`: scores predicted label images against ground truth.
//!
//! Files of the two folders are paired by stem with `samcell_measure::pair_by_stem` (suffixes
//! like `_masks` and CTC names like `man_seg004` are stripped); files that cannot be paired are a
//! usage error (exit 2) naming them. Scores (`samcell_measure::evaluate_dirs`): Cell Tracking
//! Challenge SEG, DET and OP_CSB as py-ctcmetrics 1.3.3 computes them, pooled and per image, plus
//! AP at IoU 0.50:0.05:0.95 and F1@0.5. The table goes to stdout; `eval.json` and `eval.csv` are
//! written to the output folder.
//!
//! `--tracking`: `--pred` is a CTC result folder (`maskTTT.tif`, `res_track.txt`) and `--gt` a CTC
//! `XX_GT` folder (`TRA/`, optional `SEG/`); `samcell_measure::eval::tracking` validates the result
//! and scores TRA, DET, LNK, SEG, OP_CTB, the divisions, CT, TF, CCA and BIO as py-ctcmetrics
//! 1.3.3. The summary goes to stdout and `eval.json` to the output folder, also for an invalid
//! result (`"valid": false`, its problems listed, no measures), which then exits 1.

use crate::UsageError;
use anyhow::{anyhow, Context, Result};
use clap::Args;
use samcell_measure::MeasureError;
use std::path::PathBuf;
use std::process::ExitCode;

/// `samcell eval`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  samcell eval --pred samcell_output --gt ground_truth --output eval\n\n\
  samcell eval --tracking --pred 01_RES --gt 01_GT --output eval\n\n\
Exit status: 0 done, 1 a file could not be read or (--tracking) the result is not valid, 2 usage \
error (e.g. files that do not pair)."
)]
pub struct EvalArgs {
    /// Folder of predicted label images (with --tracking: a CTC result folder, maskTTT.tif and
    /// res_track.txt).
    #[arg(long, value_name = "DIR")]
    pub pred: PathBuf,
    /// Folder of ground-truth label images (with --tracking: a CTC XX_GT folder, TRA/ and
    /// optionally SEG/).
    #[arg(long, value_name = "DIR")]
    pub gt: PathBuf,
    /// Evaluate a tracking result: CTC TRA, DET, LNK, SEG, OP_CTB and divisions (py-ctcmetrics
    /// 1.3.3), after validating it.
    #[arg(long)]
    pub tracking: bool,
    /// Folder for eval.json and eval.csv (with --tracking: eval.json).
    #[arg(short, long, default_value = ".", value_name = "DIR")]
    pub output: PathBuf,
}

/// Folders whose files do not pair up are a usage error (exit 2); other errors stay errors.
fn usage_on_pairing<T>(r: Result<T, MeasureError>) -> Result<T> {
    r.map_err(|e| match e {
        MeasureError::Pairing(_) => anyhow!(UsageError(e.to_string())),
        e => e.into(),
    })
}

/// Runs `samcell eval`.
pub fn run(args: EvalArgs) -> Result<ExitCode> {
    if args.tracking {
        return run_tracking(&args);
    }
    let report = usage_on_pairing(samcell_measure::evaluate_dirs(&args.pred, &args.gt))?;
    // the table ends with the warnings
    println!("{}", report.table());
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("cannot create the output folder {}", args.output.display()))?;
    samcell_measure::eval::write_eval_json(&args.output.join("eval.json"), &report)?;
    samcell_measure::eval::write_eval_csv(&args.output.join("eval.csv"), &report)?;
    tracing::info!(
        "{} image pair(s); eval.json and eval.csv in {}",
        report.images.len(),
        args.output.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn run_tracking(args: &EvalArgs) -> Result<ExitCode> {
    use samcell_measure::eval::tracking;
    let report = usage_on_pairing(tracking::evaluate_tracking_dirs(&args.pred, &args.gt))?;
    println!("{}", report.table());
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("cannot create the output folder {}", args.output.display()))?;
    let json = args.output.join("eval.json");
    tracking::write_tracking_json(&json, &report)?;
    if !report.validation.valid {
        return Err(anyhow!(
            "{} is not a valid tracking result ({} problem(s), listed above and in {})",
            args.pred.display(),
            report.validation.problems.len(),
            json.display()
        ));
    }
    tracing::info!(
        "{} frame(s); eval.json in {}",
        report.frames,
        args.output.display()
    );
    Ok(ExitCode::SUCCESS)
}
