//! `samcell train`: fine-tune (or train from scratch) a SAMCell model on a training set written
//! by `samcell prepare`, with the paper's protocol (see `samcell_train`): full fine-tune of the
//! vision encoder and mask decoder, prompt encoder frozen, MSE on sigmoid(mask token 1), AdamW
//! lr 1e-4 / wd 0.1 / betas (0.9, 0.999), 250 warm-up steps then linear decay, batch 8, the
//! paper's augmentations, one random 256 crop per image per epoch, early stopping (patience 7,
//! min delta 1e-4, 35..100 epochs), best-loss checkpoint. Every default can be overridden;
//! `--augment wide` and the `--aug-*` flags add augmentations for other microscopes
//! (`train_augment.rs`).
//!
//! Pre-processing is inference's own (`samcell_pipeline::enhance` per crop, then the model's
//! input encoding), so a trained model sees in `samcell segment` exactly what it was trained on.
//!
//! Run folder (`--out`): `config.json`, `log.csv`, `loss.png`, `best.safetensors`,
//! `last.safetensors`, `state/` (resume point). `--resume` continues it with the same settings;
//! other settings are refused (exit 2).

#[path = "train_augment.rs"]
mod augment_args;

use crate::progress::Terminal;
use crate::UsageError;
use anyhow::{anyhow, Context, Result};
use clap::{Args, ValueEnum};
use indicatif::ProgressBar;
use samcell_train::data::{split, SampleSource, TrainSetSource};
use samcell_train::factory::{arch_config_json, build_lite, build_sam, lite_config, ModelSpec};
use samcell_train::stopping::Verdict;
use samcell_train::{
    EpochRecord, Observer, RunFolder, RunOptions, RunRecord, StepInfo, TrainConfig, TrainData,
    TrainError,
};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Trainable architectures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Arch {
    /// Segment Anything (Hugging Face SamModel layout), as SAMCell.
    Sam,
    /// samcell-lite, the small U-Net (`--model lite`); trained on crops of its own tile size.
    Lite,
}

/// Where training runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DeviceArg {
    Cpu,
    /// The first CUDA GPU (needs a binary built with the `cuda` feature).
    Cuda,
}

/// `samcell train`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    samcell train --data trainset/ --init samcell-generalist.pt --out runs/ft1\n  \
    samcell train --data trainset/ --from-scratch --arch-config vit-b --out runs/scratch --device cuda\n  \
    samcell train --data trainset/ --init sam-vit-base.safetensors --out runs/ft1 --resume\n  \
    samcell train --arch lite --from-scratch --arch-config default --data train/ --val-data val/ --out runs/lite\n  \
    samcell train --arch lite --from-scratch --arch-config default --data mixed/ --out runs/wide --augment wide --aug-noise 0.5,1,4 --aug-channel-grey 0.3\n\n\
The run folder gets config.json, log.csv, loss.png, best.safetensors (lowest validation loss),\n\
last.safetensors and state/ (resume point, written every --checkpoint-every steps and per epoch).\n\n\
Exit status: 0 done, 1 training failed, 2 usage error (bad flags, run folder mismatch).")]
pub struct TrainArgs {
    /// Training set written by `samcell prepare`.
    #[arg(long, value_name = "TRAINSET")]
    pub data: PathBuf,
    /// Separate validation set (default: --val-fraction of --data, split by --seed).
    #[arg(long, value_name = "TRAINSET")]
    pub val_data: Option<PathBuf>,
    /// Initial weights: a checkpoint (.pt/.pth/.bin/.safetensors, Hugging Face SamModel layout;
    /// with --arch lite a samcell-lite weights file).
    #[arg(
        long,
        value_name = "CHECKPOINT",
        required_unless_present = "from_scratch",
        conflicts_with = "from_scratch"
    )]
    pub init: Option<PathBuf>,
    /// Hugging Face config.json with the head counts of a non-standard --init checkpoint
    /// (default: a config.json beside it, if any).
    #[arg(long, value_name = "CONFIG.json", requires = "init")]
    pub init_config: Option<PathBuf>,
    /// Start from random weights (Hugging Face SamModel initialisation, seeded by --seed).
    #[arg(long, requires = "arch_config")]
    pub from_scratch: bool,
    /// Architecture size for --from-scratch: tiny, vit-b, or a Hugging Face config.json; with
    /// --arch lite: default, or a samcell-lite configuration (JSON text or file).
    #[arg(long, value_name = "tiny|vit-b|default|CONFIG.json")]
    pub arch_config: Option<String>,
    /// Architecture.
    #[arg(long, value_enum, default_value_t = Arch::Sam)]
    pub arch: Arch,
    /// Run folder (`--output` is accepted too, as in the other commands).
    #[arg(long, visible_alias = "output", value_name = "DIR")]
    pub out: PathBuf,
    /// Continue the run in --out (same settings required).
    #[arg(long)]
    pub resume: bool,
    /// Device.
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    pub device: DeviceArg,
    /// Write a resume point every N optimiser steps as well as at each epoch end (0: epoch ends only).
    #[arg(long, default_value_t = 50, value_name = "N")]
    pub checkpoint_every: u64,
    /// Train exactly N epochs (sets --min-epochs and --max-epochs).
    #[arg(long, value_name = "N", conflicts_with_all = ["min_epochs", "max_epochs"])]
    pub epochs: Option<usize>,
    /// Never stop before N epochs [default: 35].
    #[arg(long, value_name = "N")]
    pub min_epochs: Option<usize>,
    /// Stop after N epochs at most [default: 100].
    #[arg(long, value_name = "N")]
    pub max_epochs: Option<usize>,
    /// Crops per optimiser step [default: 8].
    #[arg(long, value_name = "N")]
    pub batch_size: Option<usize>,
    /// Peak learning rate [default: 1e-4].
    #[arg(long)]
    pub lr: Option<f64>,
    /// AdamW weight decay [default: 0.1].
    #[arg(long)]
    pub weight_decay: Option<f64>,
    /// Warm-up steps [default: 250].
    #[arg(long, value_name = "N")]
    pub warmup: Option<usize>,
    /// Early-stopping patience in epochs [default: 7].
    #[arg(long, value_name = "N")]
    pub patience: Option<usize>,
    /// Early-stopping minimum improvement [default: 1e-4].
    #[arg(long)]
    pub min_delta: Option<f64>,
    /// Validation fraction of --data when no --val-data is given [default: 0.1].
    #[arg(long)]
    pub val_fraction: Option<f64>,
    /// Validation crops per image: 0 = the whole inference tiling [default: 0].
    #[arg(long, value_name = "N")]
    pub val_crops: Option<usize>,
    /// Augmentation preset and ranges.
    #[command(flatten)]
    pub aug: augment_args::AugmentArgs,
    /// Seed of every random choice [default: 0].
    #[arg(long)]
    pub seed: Option<u64>,
}

impl TrainArgs {
    /// The defaults (the paper's protocol) with this command line's overrides.
    fn config(&self) -> TrainConfig {
        let mut c = TrainConfig::default();
        if let Some(n) = self.epochs {
            (c.min_epochs, c.max_epochs) = (n, n);
        }
        c.min_epochs = self.min_epochs.unwrap_or(c.min_epochs);
        c.max_epochs = self.max_epochs.unwrap_or(c.max_epochs);
        if self.max_epochs.is_some() && self.min_epochs.is_none() {
            c.min_epochs = c.min_epochs.min(c.max_epochs);
        }
        c.batch_size = self.batch_size.unwrap_or(c.batch_size);
        c.lr = self.lr.unwrap_or(c.lr);
        c.weight_decay = self.weight_decay.unwrap_or(c.weight_decay);
        c.warmup = self.warmup.unwrap_or(c.warmup);
        c.patience = self.patience.unwrap_or(c.patience);
        c.min_delta = self.min_delta.unwrap_or(c.min_delta);
        c.val_fraction = self.val_fraction.unwrap_or(c.val_fraction);
        c.val_crops_per_image = self.val_crops.unwrap_or(c.val_crops_per_image);
        c.seed = self.seed.unwrap_or(c.seed);
        c.augment = self.aug.config();
        c
    }
}

fn usage(msg: impl Into<String>) -> anyhow::Error {
    anyhow!(UsageError(msg.into()))
}

/// Settings problems are usage errors (exit 2); the rest exit 1.
fn classify(e: TrainError) -> anyhow::Error {
    match e {
        TrainError::Config(_) | TrainError::ConfigMismatch { .. } => usage(e.to_string()),
        other => anyhow::Error::new(other),
    }
}

fn sha256_file(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(format!("{:x}", Sha256::digest(&bytes)))
}

fn device(d: DeviceArg) -> Result<samcell_train::Device> {
    samcell_train::device(matches!(d, DeviceArg::Cuda))
        .map_err(|e| usage(format!("--device cuda: {e}")))
}

/// Progress bar per epoch plus log lines.
struct CliObserver<'a> {
    term: &'a Terminal,
    bar: Option<ProgressBar>,
    max_epochs: usize,
}

impl Observer for CliObserver<'_> {
    fn epoch_start(&mut self, epoch: usize, batches: usize, first_batch: usize) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
        self.bar = self
            .term
            .file_bar(batches, &format!("epoch {}/{}", epoch + 1, self.max_epochs));
        if let Some(b) = &self.bar {
            b.set_position(first_batch as u64);
        }
    }
    fn step(&mut self, s: &StepInfo) {
        if let Some(b) = &self.bar {
            b.set_position(s.batch as u64);
            b.set_message(format!(
                "it {} loss {:.5} (step {:.5}) lr {:.2e}",
                s.iteration, s.running_loss, s.loss, s.lr
            ));
        }
        tracing::debug!(
            epoch = s.epoch + 1,
            batch = s.batch,
            iteration = s.iteration,
            loss = s.loss,
            lr = s.lr,
            "step"
        );
    }
    fn validation(&mut self, done: usize, total: usize) {
        if let Some(b) = &self.bar {
            b.set_message(format!("validating {done}/{total} crops"));
        }
    }
    fn epoch_end(&mut self, r: &EpochRecord, v: &Verdict) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
        let val = r
            .val_loss
            .map(|v| format!("{v:.6}"))
            .unwrap_or_else(|| "-".into());
        tracing::info!(
            "epoch {}/{}: train loss {:.6}, val loss {val}, lr {:.2e}, {} steps{}",
            r.epoch,
            self.max_epochs,
            r.train_loss,
            r.lr,
            r.iteration,
            if v.new_best { " (best)" } else { "" }
        );
    }
}

/// mimalloc's `mi_option_purge_delay` (position in `mi_option_e`, include/mimalloc.h of mimalloc
/// v2 and v3; libmimalloc-sys 0.1.49 names no constant for it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Training frees and re-allocates the same large buffers every step; mimalloc returns freed
/// memory to the OS after a delay and the kernel then zeroes fresh pages on the next step
/// (15-20 % of a samcell-lite step). Never purging keeps them: measured 26 s instead of 30-32 s
/// per epoch, +17 % peak memory. A `MIMALLOC_PURGE_DELAY` set by the user wins.
fn keep_freed_memory() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets an allocator option (an integer); no memory is touched.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    }
}

/// What the model is built from: a checkpoint, or an architecture (its JSON is recorded in the
/// run folder) initialised from the seed.
enum Source<'a> {
    Init(&'a Path),
    Scratch(serde_json::Value),
}

impl<'a> Source<'a> {
    fn of(args: &'a TrainArgs) -> Result<Self> {
        match (&args.init, &args.arch_config) {
            (Some(p), _) => Ok(Self::Init(p)),
            (None, Some(spec)) => Ok(Self::Scratch(match args.arch {
                Arch::Sam => arch_config_json(spec).map_err(|e| usage(e.to_string()))?,
                Arch::Lite => {
                    serde_json::to_value(lite_config(spec).map_err(|e| usage(e.to_string()))?)?
                }
            })),
            (None, None) => Err(usage(
                "give --init CHECKPOINT or --from-scratch --arch-config ...",
            )),
        }
    }

    fn spec(&self, init_config: Option<&'a Path>, seed: u64) -> ModelSpec<'_> {
        match self {
            Self::Init(p) => ModelSpec::Checkpoint(p, init_config),
            Self::Scratch(json) => ModelSpec::Scratch(json, seed),
        }
    }
}

/// Runs `samcell train`.
pub fn run(args: TrainArgs, term: &Terminal) -> Result<ExitCode> {
    keep_freed_memory();
    let mut cfg = args.config();
    if args.from_scratch && args.arch_config.is_none() {
        return Err(usage(
            "--from-scratch needs --arch-config tiny|vit-b|CONFIG.json",
        ));
    }
    if args.arch == Arch::Lite && args.init_config.is_some() {
        return Err(usage(
            "--init-config gives the head counts of a SAM checkpoint; samcell-lite weights describe themselves",
        ));
    }
    let source = Source::of(&args)?;
    let dev = device(args.device)?;
    // samcell-lite is built first: it trains on crops of its own tile size (the per-crop CLAHE
    // depends on it), which the run record holds.
    let lite = match args.arch {
        Arch::Lite => {
            let (model, shape) = build_lite(source.spec(None, cfg.seed), &dev).map_err(classify)?;
            cfg.crop = shape.crop;
            Some(model)
        }
        Arch::Sam => None,
    };
    cfg.validate()
        .map_err(|e| usage(format!("invalid training setting: {e}")))?;
    let train_src = TrainSetSource::open(&args.data).map_err(|e| usage(e.to_string()))?;
    let val_src = match &args.val_data {
        Some(p) => Some(TrainSetSource::open(p).map_err(|e| usage(e.to_string()))?),
        None => None,
    };
    let (train_idx, val_idx) = match &val_src {
        Some(v) => ((0..train_src.len()).collect(), (0..v.len()).collect()),
        None => split(train_src.len(), cfg.val_fraction, cfg.seed),
    };
    if train_idx.is_empty() {
        return Err(usage(format!(
            "{} has no training samples",
            args.data.display()
        )));
    }
    let val_ref: &dyn SampleSource = match &val_src {
        Some(v) => v,
        None => &train_src,
    };
    let arch_name = match args.arch {
        Arch::Sam => "sam",
        Arch::Lite => "lite",
    };
    let (model_id, init_info) = match &source {
        Source::Init(p) => {
            if !p.is_file() {
                return Err(usage(format!("--init {}: no such file", p.display())));
            }
            let sha = sha256_file(p)?;
            (
                serde_json::json!({"arch": arch_name, "init": {"sha256": sha}}),
                serde_json::json!({"init": p}),
            )
        }
        Source::Scratch(arch) => (
            serde_json::json!({"arch": arch_name, "from_scratch": arch}),
            serde_json::json!({"arch_config": args.arch_config}),
        ),
    };
    let record = RunRecord {
        created_by: format!("samcell {}", env!("CARGO_PKG_VERSION")),
        config: cfg.clone(),
        model: model_id,
        train_ids: train_idx
            .iter()
            .map(|&i| train_src.id(i).to_string())
            .collect(),
        val_ids: val_idx.iter().map(|&i| val_ref.id(i).to_string()).collect(),
        info: serde_json::json!({
            "data": args.data, "val_data": args.val_data, "model": init_info,
            "device": format!("{:?}", args.device).to_lowercase(),
        }),
    };
    let run = if args.resume {
        RunFolder::resume(&args.out, &record).map_err(classify)?
    } else {
        RunFolder::create(&args.out, &record).map_err(classify)?
    };
    let mut model = match lite {
        Some(model) => model,
        None => {
            build_sam(source.spec(args.init_config.as_deref(), cfg.seed), &dev).map_err(classify)?
        }
    };
    tracing::info!(
        "training {} on {} ({} train / {} validation images), run folder {}",
        model.describe(),
        train_src.describe(),
        train_idx.len(),
        val_idx.len(),
        args.out.display()
    );
    let data = TrainData {
        train: &train_src,
        train_indices: train_idx,
        val: val_ref,
        val_indices: val_idx,
    };
    let mut obs = CliObserver {
        term,
        bar: None,
        max_epochs: cfg.max_epochs,
    };
    let opts = RunOptions {
        checkpoint_every: args.checkpoint_every,
    };
    let summary = samcell_train::train(model.as_mut(), &dev, &data, &cfg, &run, &opts, &mut obs)
        .map_err(classify)?;
    if let Some(b) = obs.bar.take() {
        b.finish_and_clear();
    }
    let best = summary
        .best
        .map(|(l, e)| format!("best loss {l:.6} at epoch {e}"))
        .unwrap_or_default();
    tracing::info!(
        "done after {} epochs ({} steps): {}; {best}; weights in {}",
        summary.epochs,
        summary.iterations,
        summary.reason,
        run.best().display()
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        args: super::TrainArgs,
    }

    /// `--output` as in the other commands, besides `--out`.
    #[test]
    fn output_is_accepted_for_out() {
        for flag in ["--out", "--output"] {
            let w = Wrap::try_parse_from([
                "train",
                "--data",
                "set",
                "--from-scratch",
                "--arch-config",
                "tiny",
                flag,
                "run",
            ])
            .unwrap_or_else(|e| panic!("{flag}: {e}"));
            assert_eq!(w.args.out, std::path::PathBuf::from("run"));
        }
    }

    /// Option 15 is mimalloc's purge delay: its built-in default (mimalloc v3 options.c: 1000 ms,
    /// unless the environment sets it) and it takes -1.
    #[test]
    fn option_15_is_the_purge_delay() {
        // SAFETY: reads and sets an allocator option.
        let before = unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) };
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(
                before, 1000,
                "mimalloc's option order changed: find mi_option_purge_delay again"
            );
        }
        super::keep_freed_memory();
        // SAFETY: reads an allocator option.
        let after = unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) };
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(after, -1);
        }
    }
}
