//! Section `lite`: samcell-lite on one 1024x1024 image against the ViT-B path on the same image,
//! in the same run.
//!
//! The image is a 1024x1024 mosaic of the real Usiigaci images ([`crate::mosaic`]). samcell-lite
//! runs with its own tiling (576 + 32: 4 crops) and the built-in model (or
//! `SAMCELL_LITE_WEIGHTS`; without either, seeded random weights of the default shape: the time
//! does not depend on the values); one warm-up run, then the best of `SAMCELL_BENCH_REPEAT`
//! (default 3). ViT-B runs SAMCell's tiling (256 + 32: 36 crops) once, with
//! `$SAMCELL_REF_WEIGHTS/sam_vitb_scaled.pt` when present, else seeded random ViT-B weights
//! (Hugging Face SamModel initialisation, as `samcell train --from-scratch --arch-config vit-b`).
//! With `SAMCELL_LITE_BASELINE=FILE` a second samcell-lite weights file (e.g. the previously
//! built-in model, `git show <commit>:models/samcell-lite.safetensors`) is timed the same way on
//! the same image in the same run, and the ratio printed; a set `SAMCELL_BENCH_SKIP_VITB` leaves out
//! the ViT-B run (minutes on a small CPU). With both built-in models (and no
//! `SAMCELL_LITE_WEIGHTS`), the default `lite` is also timed on an image it sends to its fallback
//! (a generated 1024x1024 fluorescence-like image: dark background, bright blurred nuclei): the
//! cell model's pass, the check, then the nuclei model's pass, the worst case of the default. Both use `--threads` (default: all cores) and the whole pipeline (enhancement, model,
//! blending, watershed).

use crate::{mosaic, Options};
use anyhow::{Context, Result};
use candle_core::Device;
use samcell_imaging::GrayU8;
use samcell_lite::{LiteConfig, LiteModel, LitePredictor};
use samcell_model::{Mode, SamModel, SamPredictor};
use samcell_pipeline::{SegmentConfig, Segmenter, TilePlan};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

fn lite_model() -> Result<(LiteModel, &'static str)> {
    if let Some(p) = std::env::var_os("SAMCELL_LITE_WEIGHTS") {
        let p = std::path::PathBuf::from(p);
        return Ok((
            LiteModel::load(&p).with_context(|| format!("load {}", p.display()))?,
            "SAMCELL_LITE_WEIGHTS",
        ));
    }
    if samcell_lite::builtin_weights().is_some() {
        return Ok((LiteModel::builtin()?, "built-in"));
    }
    let bytes = samcell_lite::untrained_file_bytes(&LiteConfig::default(), 1)?;
    Ok((LiteModel::from_bytes(&bytes)?, "random, default shape"))
}

fn vitb_model(batch: usize) -> Result<(SamPredictor, String)> {
    let dir = std::env::var_os("SAMCELL_REF_WEIGHTS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| samcell_testdata::workspace_root().join("reference/weights"));
    let file = dir.join("sam_vitb_scaled.pt");
    if file.is_file() {
        let m = SamModel::load(&file, None).with_context(|| format!("load {}", file.display()))?;
        return Ok((SamPredictor::new(m, batch), file.display().to_string()));
    }
    let json = samcell_train::factory::arch_config_json("vit-b")?;
    let config = samcell_train::factory::sam_config(&json)?;
    let sam =
        samcell_train::arch::sam::TrainableSam::from_scratch(config.clone(), 1, &Device::Cpu)?;
    // Detached: the training variables would otherwise make every op keep its graph.
    let tensors: HashMap<String, candle_core::Tensor> = sam
        .state_dict()
        .into_iter()
        .map(|(k, t)| (k, t.detach()))
        .collect();
    drop(sam);
    let m = SamModel::from_tensors(&tensors, config, &Device::Cpu, Mode::Infer)?;
    Ok((SamPredictor::new(m, batch), "seeded random ViT-B".into()))
}

/// Times `model` on `image` with its own tiling (one warm-up, best of `repeat`), prints its
/// row and returns the best whole-pipeline seconds.
fn time_lite(model: LiteModel, source: &str, image: &GrayU8, repeat: usize) -> Result<f64> {
    let config = model.config.clone();
    // the predictor's own tiling, stored in the weights
    let seg = Segmenter::new(
        Arc::new(LitePredictor::new(model, 4)),
        SegmentConfig::default(),
    );
    let crops = TilePlan::new(image.width(), image.height(), &config.tiling())?.len();
    seg.segment(image)?; // warm-up
    let mut best = f64::INFINITY;
    let mut best_model = 0.0;
    let mut cells = 0;
    for _ in 0..repeat {
        let t0 = Instant::now();
        let s = seg.segment(image)?;
        let dt = t0.elapsed().as_secs_f64();
        if dt < best {
            (best, best_model, cells) = (dt, s.timings.predict.as_secs_f64(), s.n_cells);
        }
    }
    let gflop = 2.0 * config.macs(config.crop, config.crop) as f64 * crops as f64 / 1e9;
    println!(
        "samcell-lite ({}, weights {source}, {} conv path): {best:.3} s/image (best of {repeat}), model {best_model:.3} s, {crops} crops, {gflop:.1} GFLOP, {:.1} GFLOP/s in the model, {cells} cells",
        config.describe(),
        if samcell_lite::conv::kernel::simd_path() { "AVX2+FMA" } else { "portable" },
        gflop / best_model
    );
    Ok(best)
}

/// A 1024x1024 fluorescence-like image: grey 8 with bright blurred nuclei every 64 pixels.
fn fluorescence_like() -> GrayU8 {
    let n = 1024usize;
    let data = (0..n * n)
        .map(|i| {
            let (x, y) = ((i % n) as f64, (i / n) as f64);
            let (dx, dy) = ((x % 64.0) - 32.0, (y % 64.0) - 32.0);
            let v = 8.0 + 220.0 * (-(dx * dx + dy * dy) / (2.0 * 81.0)).exp();
            v.min(250.0) as u8 + ((i * 7) % 5) as u8
        })
        .collect();
    GrayU8::from_vec(n, n, data).expect("1024x1024")
}

/// The default `lite` (cell model, nuclei model as fallback) on an image it routes: one
/// warm-up, best of `repeat`; prints its row.
fn time_routed(repeat: usize) -> Result<()> {
    let cells = LiteModel::builtin()?;
    let nuclei = LiteModel::builtin_nuclei()?;
    let seg = Segmenter::new(
        Arc::new(LitePredictor::new(cells, 4)),
        SegmentConfig::default(),
    )
    .with_fallback(Arc::new(LitePredictor::new(nuclei, 4)));
    let image = fluorescence_like();
    let first = seg.segment(&image)?; // warm-up
    anyhow::ensure!(
        !first.routed.is_empty(),
        "the fluorescence-like image was not routed"
    );
    let mut best = f64::INFINITY;
    for _ in 0..repeat {
        let t0 = Instant::now();
        seg.segment(&image)?;
        best = best.min(t0.elapsed().as_secs_f64());
    }
    println!(
        "samcell-lite default (built-in cell model, then the built-in nuclei model), a routed \
         fluorescence-like image: {best:.3} s/image (best of {repeat}), {} cells",
        first.n_cells
    );
    Ok(())
}

/// Runs the section.
pub fn lite(opts: &Options) -> Result<()> {
    let threads = opts.threads.unwrap_or_else(crate::sections::all_cores);
    let repeat = std::env::var("SAMCELL_BENCH_REPEAT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3usize)
        .max(1);
    println!(
        "\n== samcell-lite vs ViT-B: one 1024x1024 image, {threads} threads (load {}) ==",
        crate::sections::load_avg()
    );
    let tiles = mosaic::load_tiles(4)?;
    let image = mosaic::mosaic(&tiles, 1024, 1024);
    crate::sections::with_threads(threads, || -> Result<()> {
        let (model, source) = lite_model()?;
        let best = time_lite(model, source, &image, repeat)?;
        if source == "built-in" && samcell_lite::builtin_nuclei_weights().is_some() {
            let nuclei = LiteModel::builtin_nuclei()?;
            time_lite(nuclei, "built-in nuclei", &image, repeat)?;
            time_routed(repeat)?;
        }
        if let Some(p) = std::env::var_os("SAMCELL_LITE_BASELINE") {
            let p = std::path::PathBuf::from(p);
            let base = LiteModel::load(&p).with_context(|| format!("load {}", p.display()))?;
            let base_s = time_lite(base, "SAMCELL_LITE_BASELINE", &image, repeat)?;
            println!("ratio (baseline / samcell-lite): {:.2}x", base_s / best);
        }
        if std::env::var_os("SAMCELL_BENCH_SKIP_VITB").is_some() {
            println!("ViT-B: skipped (SAMCELL_BENCH_SKIP_VITB is set)");
            return Ok(());
        }
        let (vitb, which) = vitb_model(opts.batch)?;
        let seg_b = Segmenter::new(Arc::new(vitb), SegmentConfig::default());
        let t0 = Instant::now();
        let s = seg_b.segment(&image)?;
        let vit_s = t0.elapsed().as_secs_f64();
        let crops_b = TilePlan::new(1024, 1024, &Default::default())?.len();
        println!(
            "ViT-B ({which}, batch {}): {vit_s:.1} s/image, {crops_b} crops, model {:.1} s",
            opts.batch,
            s.timings.predict.as_secs_f64()
        );
        println!("ratio (ViT-B / samcell-lite): {:.0}x", vit_s / best);
        Ok(())
    })?
}
