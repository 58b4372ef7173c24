//! `train`: iterations per second of one training step of the paper's protocol, ours and
//! PyTorch's, on the same device, with the same checkpoint, in the same run.
//!
//! The step is what `samcell train` does per batch, on the inputs the reference's timing uses:
//! `pixel_values` drawn N(0, 1) of shape (B, 3, 1024, 1024), targets U(0, 1) of shape
//! (B, 256, 256) (each side draws its own, so the printed losses are close, not equal); loss `mean((sigmoid(mask token 1 logits) - target)^2)`; backward through the
//! vision encoder and mask decoder (prompt encoder frozen); one AdamW update (lr 1e-4, wd 0.1,
//! betas 0.9/0.999). Timing: `--train-warmup` steps first, then the mean of `--train-iters`
//! steps, each ending in a read of the loss (which waits for the device).
//!
//! The reference side is `reference/gpu_bench_reference.py --skip-inference` (transformers'
//! `SamModel`, `torch.optim.AdamW`, f32, plus bf16 autocast on CUDA). It runs first and writes the
//! weights it used (the harness's rescaled random ViT-B or tiny SAM), which our side then loads, so
//! both train the same checkpoint. Without the reference Python (`SAMCELL_REF_PYTHON`, default
//! `reference/venv/bin/python`) the section times our side alone on the harness's
//! `sam_tiny_scaled.safetensors` or `sam_vitb_scaled.safetensors` from `SAMCELL_REF_WEIGHTS`
//! (default `reference/weights`, made by `reference/setup_reference.sh`).
//!
//! ```sh
//! # CPU, ViT-B, batch 1 (a step takes tens of seconds on 2 cores):
//! cargo run --release -p samcell-bench -- --only train --train-batch 1 --train-iters 2 --train-warmup 1
//! # GPU, ViT-B, the protocol's batch 8 (needs a CUDA toolkit to build):
//! cargo run --release -p samcell-bench --features cuda -- --only train --device cuda
//! ```

use crate::sections::{env_path, load_avg, with_threads};
use crate::Options;
use anyhow::{anyhow, Context, Result};
use candle_core::{DType, Device, Tensor};
use samcell_train::factory::{build_sam, ModelSpec};
use samcell_train::optim::{AdamW, AdamWConfig};
use samcell_train::trainer::distance_map_loss;
use std::path::Path;
use std::time::Instant;

/// One side's figures.
struct Timing {
    s_per_iter: f64,
    loss: f64,
}

pub fn train(opts: &Options) -> Result<()> {
    let repo = samcell_testdata::workspace_root();
    let python = env_path("SAMCELL_REF_PYTHON", repo.join("reference/venv/bin/python"));
    let cuda = opts.device == "cuda";
    let device = samcell_train::device(cuda)?;
    let threads = opts.threads.unwrap_or(2);
    let config = &opts.train_config;
    let b = opts.train_batch;
    println!(
        "\n== Training step: ours vs PyTorch, SAM {config}, batch {b}, {} ({} threads on the CPU side, load {}) ==",
        opts.device,
        threads,
        load_avg()
    );
    let dir = std::env::temp_dir().join(format!("samcell-bench-train-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = train_in(opts, &python, &device, threads, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn train_in(
    opts: &Options,
    python: &Path,
    device: &Device,
    threads: usize,
    dir: &Path,
) -> Result<()> {
    let config = opts.train_config.as_str();
    let harness_config = samcell_testdata::reference_file("config_tiny.json");
    let (reference, weights) = if python.is_file() {
        let weights = dir.join("weights.safetensors");
        let r = reference(opts, python, threads, dir, &weights)?;
        (Some(r), weights)
    } else {
        println!(
            "reference: not run (no reference Python at {})",
            python.display()
        );
        let w = if config == "tiny" {
            samcell_testdata::reference_file("sam_tiny_scaled.safetensors")
        } else {
            env_path(
                "SAMCELL_REF_WEIGHTS",
                samcell_testdata::workspace_root().join("reference/weights"),
            )
            .join("sam_vitb_scaled.safetensors")
        };
        (None, w)
    };
    anyhow::ensure!(
        weights.is_file(),
        "no weights at {}; run reference/setup_reference.sh",
        weights.display()
    );
    let heads = (config == "tiny").then_some(harness_config.as_path());
    let ours = with_threads(threads, || ours(opts, &weights, heads, device))??;

    println!("{:<34} {:>10} {:>8} {:>12}", "", "s/iter", "it/s", "loss");
    println!(
        "{:<34} {:>10.3} {:>8.3} {:>12.6}",
        "samcell (Rust, candle f32)",
        ours.s_per_iter,
        1.0 / ours.s_per_iter,
        ours.loss
    );
    if let Some(r) = &reference {
        for (name, t) in r {
            println!(
                "{:<34} {:>10.3} {:>8.3} {:>12.6}",
                format!("reference (PyTorch {name})"),
                t.s_per_iter,
                1.0 / t.s_per_iter,
                t.loss
            );
        }
        if let Some((_, f32_ref)) = r.iter().find(|(n, _)| n == "f32") {
            println!(
                "ratio (reference f32 s/iter / ours): {:.2}x",
                f32_ref.s_per_iter / ours.s_per_iter
            );
        }
    }
    if device.is_cpu() {
        if let Some(kib) = crate::rss::own_peak_kib() {
            println!(
                "peak RSS of our side (this process): {:.2} GiB",
                crate::rss::gib(kib)
            );
        }
    }
    Ok(())
}

/// Our training step, timed.
fn ours(opts: &Options, weights: &Path, heads: Option<&Path>, device: &Device) -> Result<Timing> {
    let model = build_sam(ModelSpec::Checkpoint(weights, heads), device)?;
    let mut opt = AdamW::new(model.trainable(), AdamWConfig::default());
    let b = opts.train_batch;
    let x = Tensor::randn(0f32, 1.0, (b, 3, 1024, 1024), device)?;
    let y = Tensor::rand(0f32, 1.0, (b, 256, 256), device)?;
    let mut step = || -> Result<f64> {
        let logits = model.forward_logits(&x)?;
        let loss = distance_map_loss(&logits, &y)?;
        let value = loss.to_dtype(DType::F64)?.to_scalar::<f64>()?;
        let grads = loss.backward()?;
        opt.step(&grads)?;
        Ok(value)
    };
    for _ in 0..opts.train_warmup {
        step()?;
    }
    let t0 = Instant::now();
    let mut loss = f64::NAN;
    for _ in 0..opts.train_iters {
        loss = step()?;
    }
    device.synchronize()?;
    Ok(Timing {
        s_per_iter: t0.elapsed().as_secs_f64() / opts.train_iters as f64,
        loss,
    })
}

/// PyTorch's training step on the same device: runs the reference script, returns its figures
/// per precision, and leaves the weights it used at `weights`.
fn reference(
    opts: &Options,
    python: &Path,
    threads: usize,
    dir: &Path,
    weights: &Path,
) -> Result<Vec<(String, Timing)>> {
    let script = samcell_testdata::workspace_root().join("reference/gpu_bench_reference.py");
    let harness = samcell_testdata::reference_file("samcell_ref.py");
    let harness = harness
        .parent()
        .ok_or_else(|| anyhow!("no harness folder"))?;
    let status = std::process::Command::new(python)
        .arg(&script)
        .arg("--harness")
        .arg(harness)
        .args(["--skip-inference", "--out"])
        .arg(dir)
        .arg("--save-weights")
        .arg(weights)
        .args([
            "--device",
            &opts.device,
            "--config",
            if opts.train_config == "tiny" {
                "tiny"
            } else {
                "base"
            },
        ])
        .args(["--train-batch", &opts.train_batch.to_string()])
        .args(["--train-iters", &opts.train_iters.to_string()])
        .args(["--train-warmup", &opts.train_warmup.to_string()])
        .args([
            "--precisions",
            if opts.device == "cuda" {
                "f32,bf16-autocast"
            } else {
                "f32"
            },
        ])
        .args(["--threads", &threads.to_string()])
        .stdout(std::process::Stdio::null())
        .status()
        .with_context(|| format!("run {}", script.display()))?;
    anyhow::ensure!(status.success(), "{} failed ({status})", script.display());
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("reference_gpu.json"))?)
            .context("reference summary")?;
    let mut out = Vec::new();
    for name in ["f32", "bf16-autocast"] {
        if let Some(t) = summary.get(format!("train_{name}")) {
            let field = |key: &str| {
                t[key]
                    .as_f64()
                    .ok_or_else(|| anyhow!("reference summary: train_{name}.{key} is missing"))
            };
            out.push((
                name.to_string(),
                Timing {
                    s_per_iter: field("s_per_iter")?,
                    loss: field("loss")?,
                },
            ));
        }
    }
    Ok(out)
}
