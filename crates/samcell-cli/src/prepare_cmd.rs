//! `samcell prepare`: imports an annotated dataset into the training-set format `samcell train`
//! reads (see `samcell_data::trainset`): grey u8 images exactly as `samcell segment` reads them,
//! the instance labels, the per-cell distance-map targets and a manifest with counts and sha256
//! checksums.
//!
//! Bad pairs (unreadable image or mask, RGB mask, size mismatch, empty mask, duplicate id, image
//! without mask, ...) are logged as warnings naming the file and the reason, recorded in the
//! manifest's `skipped`, and the run goes on. Exit status: 0 at least one sample written;
//! 1 nothing could be imported (no set is created) or a write failed; 2 usage error (bad flags,
//! missing inputs, existing output without `--overwrite`, no candidate pair found at all).

use crate::progress::Terminal;
use crate::UsageError;
use anyhow::{anyhow, Result};
use clap::{Args, ValueEnum};
use samcell_data::{
    discover, DataError, ImportFormat, ImportOptions, TargetMethod, TrainSetWriter, WriteOptions,
};
use std::path::PathBuf;
use std::process::ExitCode;

/// Dataset layouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// LIVECell / COCO instance JSON (polygons or RLE); overlapping pixels go to the smaller
    /// annotation (equal areas: the larger annotation id).
    Livecell,
    /// Cellpose folders of <name>_img.<ext> + <name>_masks.<ext>.
    Cellpose,
    /// Cell Tracking Challenge <seq>/tTTT.tif + <seq>_GT/SEG/man_segTTT.tif (2-D only).
    Ctc,
    /// Plain folders: --images DIR --masks DIR, matched by file stem.
    Folders,
}

/// Distance used for the targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TargetArg {
    /// OpenCV distanceTransform(DIST_L2, 3) per cell (SAMCell's training target).
    Chamfer3,
    /// Exact Euclidean distance per cell.
    Edt,
}

/// `samcell prepare`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    samcell prepare --format livecell livecell_coco_train.json --images images/ --out train_set\n  \
    samcell prepare --format cellpose cellpose/train --out train_set\n  \
    samcell prepare --format ctc Fluo-N2DH-GOWT1/ --out train_set --target edt\n  \
    samcell prepare --format folders --images raw/ --masks masks/ --out train_set --overwrite\n\n\
Inputs: livecell: COCO JSON files (images at <json folder>/<file_name>, or found below --images);\n\
cellpose: folders; ctc: sequence folders (01) or dataset folders; folders: --images and --masks.\n\
Masks: u8/u16/u32 grey PNG or TIFF instance labels, 0 = background (values kept).\n\
LIVECell overlaps: a pixel covered by several annotations goes to the one with the smallest area\n\
(equal areas: the larger annotation id); labels are numbered by annotation id.\n\
Output: <out>/manifest.json, images/, labels/, targets/ (built in <out>.partial, then renamed).\n\
Exit status: 0 done, 1 nothing could be imported or a write failed, 2 usage error.")]
pub struct PrepareArgs {
    /// Dataset layout.
    #[arg(long, value_enum)]
    pub format: FormatArg,
    /// COCO JSON files (livecell), folders (cellpose), sequence or dataset folders (ctc).
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// Image folder (folders; livecell: where to look for the images).
    #[arg(long, value_name = "DIR")]
    pub images: Option<PathBuf>,
    /// Mask folder (folders).
    #[arg(long, value_name = "DIR")]
    pub masks: Option<PathBuf>,
    /// Extra mask-name suffix (folders), tried before _masks, _mask, _labels, _label.
    #[arg(long, value_name = "SUFFIX")]
    pub mask_suffix: Option<String>,
    /// Output folder of the training set (`--output` is accepted too, as in the other commands).
    #[arg(short, long, visible_alias = "output", value_name = "DIR")]
    pub out: PathBuf,
    /// Distance of the targets.
    #[arg(long, value_enum, default_value = "chamfer3")]
    pub target: TargetArg,
    /// Replace an existing training set at --out (only once the new one is complete).
    #[arg(long)]
    pub overwrite: bool,
}

fn usage(msg: impl Into<String>) -> anyhow::Error {
    anyhow!(UsageError(msg.into()))
}

fn import_options(args: &PrepareArgs) -> Result<(ImportFormat, ImportOptions)> {
    let format = match args.format {
        FormatArg::Livecell => ImportFormat::Livecell,
        FormatArg::Cellpose => ImportFormat::Cellpose,
        FormatArg::Ctc => ImportFormat::Ctc,
        FormatArg::Folders => ImportFormat::Folders,
    };
    let folders = format == ImportFormat::Folders;
    if !folders && (args.masks.is_some() || args.mask_suffix.is_some()) {
        return Err(usage(
            "--masks and --mask-suffix only apply to --format folders",
        ));
    }
    if format != ImportFormat::Livecell && !folders && args.images.is_some() {
        return Err(usage(format!(
            "--images does not apply to --format {}",
            format.name()
        )));
    }
    if folders {
        if args.images.is_none() || args.masks.is_none() || !args.inputs.is_empty() {
            return Err(usage(
                "--format folders takes --images DIR and --masks DIR (no positional inputs)",
            ));
        }
    } else if args.inputs.is_empty() {
        return Err(usage(format!(
            "--format {} needs at least one INPUT",
            format.name()
        )));
    }
    for p in args.inputs.iter().chain(&args.images).chain(&args.masks) {
        if !p.exists() {
            return Err(usage(format!("{}: no such file or folder", p.display())));
        }
    }
    Ok((
        format,
        ImportOptions {
            inputs: args.inputs.clone(),
            images: args.images.clone(),
            masks: args.masks.clone(),
            mask_suffix: args.mask_suffix.clone(),
        },
    ))
}

/// Runs `samcell prepare`.
pub fn run(args: PrepareArgs, term: &Terminal) -> Result<ExitCode> {
    let (format, opts) = import_options(&args)?;
    let found = match discover(format, &opts) {
        Ok(f) => f,
        Err(e @ DataError::Invalid(_)) => return Err(usage(e.to_string())),
        Err(e) => return Err(e.into()),
    };
    if found.pairs.is_empty() && found.skipped.is_empty() {
        return Err(usage(format!(
            "no {} image/mask pair found in the inputs",
            format.name()
        )));
    }
    let target = match args.target {
        TargetArg::Chamfer3 => TargetMethod::Chamfer3,
        TargetArg::Edt => TargetMethod::Edt,
    };
    let wopts = WriteOptions {
        target,
        overwrite: args.overwrite,
        created_by: format!("samcell {}", env!("CARGO_PKG_VERSION")),
    };
    let mut writer = match TrainSetWriter::create(&args.out, wopts) {
        Ok(w) => w,
        Err(e @ DataError::Invalid(_)) => return Err(usage(e.to_string())),
        Err(e) => return Err(e.into()),
    };
    for s in found.skipped {
        tracing::warn!("skipped {}: {}", s.source, s.reason);
        writer.skip(s);
    }
    tracing::info!(
        "{} {} pair(s) to import into {} (target {})",
        found.pairs.len(),
        format.name(),
        args.out.display(),
        target.name()
    );
    let bar = term.file_bar(found.pairs.len(), "prepare");
    for pair in &found.pairs {
        if let Some(b) = &bar {
            b.set_message(pair.id.clone());
        }
        match writer.add(pair)? {
            Ok(e) => tracing::debug!("{}: {}x{}, {} cells", e.id, e.width, e.height, e.cells),
            Err(s) => tracing::warn!("skipped {}: {}", s.source, s.reason),
        }
        if let Some(b) = &bar {
            b.inc(1);
        }
    }
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let manifest = writer.finish()?;
    let c = &manifest.counts;
    term.suspend(|| {
        println!(
            "prepared {} sample(s), {} cell(s), {} skipped -> {}",
            c.samples,
            c.cells,
            c.skipped,
            args.out.display()
        )
    });
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::PrepareArgs;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        args: PrepareArgs,
    }

    /// `--output` as in the other commands, besides `--out`.
    #[test]
    fn output_is_accepted_for_out() {
        for flag in ["--out", "--output", "-o"] {
            let w = Wrap::try_parse_from(["prepare", "--format", "cellpose", "in", flag, "set"])
                .unwrap_or_else(|e| panic!("{flag}: {e}"));
            assert_eq!(w.args.out, std::path::PathBuf::from("set"));
        }
    }
}
