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
    pub cpu: bool,
    pub memory: bool,
    pub scaling: bool,
    pub lite: bool,
    pub model: Option<PathBuf>,
    pub size: usize,
    pub sizes: Vec<usize>,
    pub threads: Option<usize>,
    pub batch: usize,
    pub samcell: Option<PathBuf>,
    /// The `train` section (off unless named in `--only`).
    pub train: bool,
    /// `cpu` or `cuda` (the `train` section's device).
    pub device: String,
    /// `vit-b` or `tiny` (the `train` section's SAM).
    pub train_config: String,
    pub train_batch: usize,
    pub train_iters: usize,
    pub train_warmup: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            cpu: true,
            memory: true,
            scaling: true,
            lite: true,
            model: None,
            size: 10_000,
            sizes: vec![576, 1152, 2304],
            threads: None,
            batch: 4,
            samcell: None,
            train: false,
            device: "cpu".into(),
            train_config: "vit-b".into(),
            train_batch: 8,
            train_iters: 10,
            train_warmup: 3,
        }
    }
}

const USAGE: &str = "\
usage: samcell-bench [--only cpu,memory,scaling,lite,train] [--model PATH] [--size N] [--sizes A,B,C]
                     [--threads N] [--batch N] [--samcell PATH]
                     [--device cpu|cuda] [--train-config vit-b|tiny] [--train-batch N]
                     [--train-iters N] [--train-warmup N]";

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options::default();
    let mut it = args.iter();
    let num = |v: Option<&String>, what: &str| -> Result<usize, String> {
        v.and_then(|s| s.parse().ok())
            .filter(|&n| n > 0)
            .ok_or_else(|| format!("{what} needs a positive number"))
    };
    while let Some(a) = it.next() {
        match a.as_str() {
            "--bench" => {} // added by `cargo bench`
            "--only" => {
                let v = it.next().ok_or("--only needs a list")?;
                o.cpu = false;
                o.memory = false;
                o.scaling = false;
                o.lite = false;
                o.train = false;
                for s in v.split(',') {
                    match s.trim() {
                        "cpu" => o.cpu = true,
                        "memory" => o.memory = true,
                        "scaling" => o.scaling = true,
                        "lite" => o.lite = true,
                        "train" => o.train = true,
                        other => {
                            return Err(format!(
                                "unknown section {other:?} (cpu, memory, scaling, lite, train)"
                            ))
                        }
                    }
                }
            }
            "--model" => o.model = Some(PathBuf::from(it.next().ok_or("--model needs a path")?)),
            "--samcell" => {
                o.samcell = Some(PathBuf::from(it.next().ok_or("--samcell needs a path")?))
            }
            "--size" => o.size = num(it.next(), "--size")?,
            "--threads" => o.threads = Some(num(it.next(), "--threads")?),
            "--batch" => o.batch = num(it.next(), "--batch")?,
            "--device" => {
                o.device = it.next().ok_or("--device needs cpu or cuda")?.clone();
                if o.device != "cpu" && o.device != "cuda" {
                    return Err(format!("--device {:?}: cpu or cuda", o.device));
                }
            }
            "--train-config" => {
                o.train_config = it
                    .next()
                    .ok_or("--train-config needs vit-b or tiny")?
                    .clone();
                if o.train_config != "vit-b" && o.train_config != "tiny" {
                    return Err(format!(
                        "--train-config {:?}: vit-b or tiny",
                        o.train_config
                    ));
                }
            }
            "--train-batch" => o.train_batch = num(it.next(), "--train-batch")?,
            "--train-iters" => o.train_iters = num(it.next(), "--train-iters")?,
            "--train-warmup" => {
                o.train_warmup = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or("--train-warmup needs a number")?
            }
            "--sizes" => {
                let v = it.next().ok_or("--sizes needs a list")?;
                o.sizes = v
                    .split(',')
                    .map(|s| s.trim().parse().ok().filter(|&n: &usize| n > 0))
                    .collect::<Option<Vec<_>>>()
                    .ok_or("--sizes needs positive numbers, e.g. 576,1152,2304")?;
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(o)
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
            if !e.is_empty() {
                eprintln!("samcell-bench: {e}");
            }
            eprintln!("{USAGE}");
            return 2;
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
