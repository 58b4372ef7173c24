//! One benchmark command for samcell, five sections (the first four by default):
//!
//! - `cpu`: one 704x520 image (12 crops) through the whole pipeline with ViT-B weights, ours and
//!   the Python reference (samcell 1.1.4 on transformers, `reference_pipeline.py` of the shared
//!   harness) in the same run; FLOPs per crop counted from the model's configuration
//!   ([`flops`], with the breakdown), the achieved FLOP rate, and the machine's FMA peak measured
//!   in the same run on the bench threads ([`peak`], the theoretical formula beside it).
//!   Environment as the former `samcell-model` bench: `SAMCELL_REF_WEIGHTS` (folder with
//!   `sam_vitb_scaled.pt` and `synth_704x520.png`, default `reference/weights`),
//!   `SAMCELL_REF_PYTHON` (default `reference/venv/bin/python`), `SAMCELL_SHARED`,
//!   `SAMCELL_BENCH_IMAGE`, `SAMCELL_BENCH_THREADS` (default 2), `SAMCELL_BENCH_BATCH`
//!   (default 1), `SAMCELL_BENCH_SKIP_REF=1`. Missing weights are reported, not fatal.
//! - `memory`: peak resident memory (the kernel's max RSS of a child process) of segmenting a
//!   `--size` x `--size` image (default 10,000) made at run time by mirror-tiling the real
//!   Usiigaci images (`SAMCELL_DATA`), with every output the CLI writes. By default the child is
//!   this program (`--child-segment`, the CLI's steps, with the peak after each stage); with
//!   `--samcell PATH` it is `samcell segment` itself.
//! - `scaling`: seconds per image at three sizes (`--sizes`, default 576, 1152, 2304: 9, 36
//!   and 144 crops, so pixels and crops grow alike) with s per megapixel and the ratio to the
//!   smallest.
//!
//! - `lite`: samcell-lite on one 1024x1024 image (best of 3 after a warm-up) and the ViT-B path
//!   on the same image in the same run, with the ratio (see `lite.rs` for the weights used).
//! - `train` (only when named in `--only`): seconds per training step of the paper's protocol,
//!   ours and PyTorch's on the same `--device` with the same checkpoint (`train.rs`).
//!
//! `memory` and `scaling` use `--model PATH` (default: the harness's tiny SAM,
//! `$SAMCELL_SHARED/reference/sam_tiny_scaled.safetensors`), `--threads N` (default: all
//! cores) and `--batch N` (default 4, the CLI's).

mod cpu;
pub mod flops;
mod lite;
pub mod mosaic;
pub mod peak;
pub mod rss;
mod sections;
mod train;

use std::path::PathBuf;

/// Parsed command line.
#[derive(Clone, Debug)]
pub struct Options {
    /// The `cpu` section (on unless `--only` leaves it out).
    pub cpu: bool,
    /// The `memory` section (on unless `--only` leaves it out).
    pub memory: bool,
    /// The `scaling` section (on unless `--only` leaves it out).
    pub scaling: bool,
    /// The `lite` section (on unless `--only` leaves it out).
    pub lite: bool,
    /// `--model`: weights of the memory and scaling sections (`None`: the harness's tiny SAM).
    pub model: Option<PathBuf>,
    /// `--size`: side of the memory section's square image, px (default 10,000).
    pub size: usize,
    /// `--sizes`: image sides of the scaling section, px (default 576, 1152, 2304).
    pub sizes: Vec<usize>,
    /// `--threads`: worker threads (`None`: all cores).
    pub threads: Option<usize>,
    /// `--batch`: crops per forward pass (default 4).
    pub batch: usize,
    /// `--samcell`: a `samcell` program whose `segment` the memory section measures instead of
    /// this one's own child.
    pub samcell: Option<PathBuf>,
    /// The `train` section (off unless named in `--only`).
    pub train: bool,
    /// `cpu` or `cuda` (the `train` section's device).
    pub device: String,
    /// `vit-b` or `tiny` (the `train` section's SAM).
    pub train_config: String,
    /// Crops per training step of the `train` section (default 8).
    pub train_batch: usize,
    /// Timed training steps of the `train` section (default 10).
    pub train_iters: usize,
    /// Untimed warm-up steps before them (default 3).
    pub train_warmup: usize,
}

/// A section of the benchmark (`--only`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Section {
    Cpu,
    Memory,
    Scaling,
    Lite,
    Train,
}

/// A positive whole number.
fn positive(s: &str) -> Result<usize, String> {
    s.parse()
        .ok()
        .filter(|&n: &usize| n > 0)
        .ok_or_else(|| format!("{s:?} is not a positive number"))
}

/// The command line as typed; [`Options`] is what the sections read.
#[derive(Debug, clap::Parser)]
#[command(
    name = "samcell-bench",
    about = "samcell benchmarks: cpu, memory, scaling, lite (by default) and train"
)]
struct Cli {
    /// Sections to run, comma-separated [default: cpu,memory,scaling,lite]
    #[arg(long, value_enum, value_delimiter = ',', value_name = "SECTIONS")]
    only: Option<Vec<Section>>,
    /// Model of the memory and scaling sections [default: the harness's tiny SAM]
    #[arg(long, value_name = "PATH")]
    model: Option<PathBuf>,
    /// Side of the memory section's square image
    #[arg(long, value_name = "N", default_value = "10000", value_parser = positive)]
    size: usize,
    /// Image sides of the scaling section, comma-separated
    #[arg(
        long,
        value_name = "A,B,C",
        value_delimiter = ',',
        default_value = "576,1152,2304",
        value_parser = positive
    )]
    sizes: Vec<usize>,
    /// Threads [default: all cores]
    #[arg(long, value_name = "N", value_parser = positive)]
    threads: Option<usize>,
    /// Crops per forward pass
    #[arg(long, value_name = "N", default_value = "4", value_parser = positive)]
    batch: usize,
    /// Measure this `samcell` program's `segment` in the memory section instead of this one
    #[arg(long, value_name = "PATH")]
    samcell: Option<PathBuf>,
    /// Device of the train section
    #[arg(long, default_value = "cpu", value_parser = ["cpu", "cuda"])]
    device: String,
    /// SAM configuration of the train section
    #[arg(long, default_value = "vit-b", value_parser = ["vit-b", "tiny"])]
    train_config: String,
    /// Batch size of the train section
    #[arg(long, value_name = "N", default_value = "8", value_parser = positive)]
    train_batch: usize,
    /// Timed training steps of the train section
    #[arg(long, value_name = "N", default_value = "10", value_parser = positive)]
    train_iters: usize,
    /// Untimed warm-up steps of the train section
    #[arg(long, value_name = "N", default_value = "3")]
    train_warmup: usize,
    /// Added by `cargo bench`; ignored
    #[arg(long, hide = true)]
    bench: bool,
}

impl From<Cli> for Options {
    fn from(c: Cli) -> Self {
        // every section but train runs unless `--only` names the ones to run
        let on = |s: Section| match &c.only {
            Some(list) => list.contains(&s),
            None => s != Section::Train,
        };
        Self {
            cpu: on(Section::Cpu),
            memory: on(Section::Memory),
            scaling: on(Section::Scaling),
            lite: on(Section::Lite),
            train: on(Section::Train),
            model: c.model,
            size: c.size,
            sizes: c.sizes,
            threads: c.threads,
            batch: c.batch,
            samcell: c.samcell,
            device: c.device,
            train_config: c.train_config,
            train_batch: c.train_batch,
            train_iters: c.train_iters,
            train_warmup: c.train_warmup,
        }
    }
}

fn parse(args: &[String]) -> Result<Options, clap::Error> {
    use clap::Parser;
    let argv = std::iter::once("samcell-bench").chain(args.iter().map(String::as_str));
    Ok(Cli::try_parse_from(argv)?.into())
}

/// The whole program; returns the exit status.
pub fn main_with_args(args: Vec<String>) -> i32 {
    match args.first().map(String::as_str) {
        Some("--child-segment") => return sections::child_segment(&args[1..]),
        Some("--child-rss") => return rss::child_rss(&args[1..]),
        _ => {}
    }
    let opts = match parse(&args) {
        Ok(o) => o,
        Err(e) => {
            // usage errors exit with 2, `--help` with 0
            let _ = e.print();
            return e.exit_code();
        }
    };
    let mut status = 0;
    if opts.cpu {
        if let Err(e) = cpu::cpu() {
            println!("cpu section failed: {e:#}");
            status = 1;
        }
    }
    if opts.memory {
        if let Err(e) = sections::memory(&opts) {
            println!("memory section failed: {e:#}");
            status = 1;
        }
    }
    if opts.scaling {
        if let Err(e) = sections::scaling(&opts) {
            println!("scaling section failed: {e:#}");
            status = 1;
        }
    }
    if opts.lite {
        if let Err(e) = lite::lite(&opts) {
            println!("lite section failed: {e:#}");
            status = 1;
        }
    }
    if opts.train {
        if let Err(e) = train::train(&opts) {
            println!("train section failed: {e:#}");
            status = 1;
        }
    }
    status
}

/// The model of the memory and scaling sections.
pub(crate) fn model_path(opts: &Options) -> PathBuf {
    opts.model
        .clone()
        .unwrap_or_else(|| samcell_testdata::reference_file("sam_tiny_scaled.safetensors"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sections_and_numbers() {
        let a = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let o = parse(&a(&[
            "--bench",
            "--only",
            "memory,scaling",
            "--size",
            "2048",
            "--sizes",
            "64,128,256",
        ]))
        .expect("parse");
        assert!(!o.cpu && o.memory && o.scaling);
        assert_eq!((o.size, o.sizes), (2048, vec![64, 128, 256]));
        assert!(parse(&a(&["--only", "gpu"])).is_err());
        let t = parse(&a(&[
            "--only",
            "train",
            "--device",
            "cuda",
            "--train-config",
            "tiny",
            "--train-warmup",
            "0",
        ]))
        .expect("parse train");
        assert!(
            t.train
                && !t.cpu
                && t.device == "cuda"
                && t.train_config == "tiny"
                && t.train_warmup == 0
        );
        assert!(
            !parse(&a(&[])).expect("defaults").train,
            "train is not in the default sections"
        );
        assert!(parse(&a(&["--device", "tpu"])).is_err());
        assert!(parse(&a(&["--size", "0"])).is_err());
        assert!(parse(&a(&["--sizes", "1,x"])).is_err());
    }
}
