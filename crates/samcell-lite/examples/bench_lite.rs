//! Benchmark: one 1024x1024 image through the whole pipeline (tiling, CLAHE, samcell-lite,
//! blending, watershed) on the CPU.
//!
//! ```text
//! cargo run --release -p samcell-lite --example bench_lite
//! ```
//!
//! Environment: `SAMCELL_BENCH_THREADS` (default 2), `SAMCELL_BENCH_BATCH` (default 4),
//! `SAMCELL_BENCH_IMAGE` (an image file; default: a synthetic 1024x1024 image of blobs),
//! `SAMCELL_LITE_WEIGHTS` (a weights file; default: the built-in model, else seeded random
//! weights of the default configuration: the timing does not depend on the values),
//! `SAMCELL_LITE_CONFIG` (LiteConfig JSON for random weights, to compare shapes),
//! `SAMCELL_BENCH_REPEAT` (default 3; the best run is reported).

use mimalloc::MiMalloc;
use samcell_imaging::GrayU8;
use samcell_lite::{init_params, param_count, LiteConfig, LiteModel, LitePredictor};
use samcell_pipeline::{SegmentConfig, Segmenter, TilePlan};
use std::sync::Arc;
use std::time::Instant;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

fn env_usize(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Deterministic blobs on a gradient, 1024x1024.
fn synthetic() -> GrayU8 {
    let (w, h) = (1024usize, 1024usize);
    let mut img = GrayU8::filled(w, h, 0);
    for y in 0..h {
        for x in 0..w {
            let cx = (x % 64) as f32 - 32.0;
            let cy = (y % 64) as f32 - 32.0;
            let d = (cx * cx + cy * cy).sqrt();
            let v = 60.0 + 0.03 * x as f32 + if d < 20.0 { 120.0 - 3.0 * d } else { 0.0 };
            img.set(x, y, v.clamp(0.0, 255.0) as u8);
        }
    }
    img
}

fn main() {
    let threads = env_usize("SAMCELL_BENCH_THREADS", 2);
    let batch = env_usize("SAMCELL_BENCH_BATCH", 4);
    let repeat = env_usize("SAMCELL_BENCH_REPEAT", 3).max(1);
    std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
    let image = match std::env::var_os("SAMCELL_BENCH_IMAGE") {
        Some(p) => samcell_io::read::read_gray(
            std::path::Path::new(&p),
            &samcell_io::ReadOptions::default(),
        )
        .expect("read SAMCELL_BENCH_IMAGE"),
        None => synthetic(),
    };
    let (model, source) = match std::env::var_os("SAMCELL_LITE_WEIGHTS") {
        Some(p) => (
            LiteModel::load(std::path::Path::new(&p)).expect("load weights"),
            "file",
        ),
        None if samcell_lite::builtin_weights().is_some()
            && std::env::var_os("SAMCELL_LITE_CONFIG").is_none() =>
        {
            (LiteModel::builtin().expect("built-in model"), "built-in")
        }
        None => {
            let config = match std::env::var("SAMCELL_LITE_CONFIG") {
                Ok(j) => LiteConfig::from_json(&j).expect("SAMCELL_LITE_CONFIG"),
                Err(_) => LiteConfig::default(),
            };
            let params = init_params(&config, 7, &candle_core::Device::Cpu).expect("init");
            (
                LiteModel::from_params(&config, &params).expect("model"),
                "random",
            )
        }
    };
    let config = model.config.clone();
    let plan = TilePlan::new(image.width(), image.height(), &config.tiling()).expect("plan");
    let macs: u64 = plan
        .tiles
        .iter()
        .map(|t| config.macs(t.height, t.width))
        .sum();
    println!(
        "model: {} ({source} weights), {} parameters ({:.2} MB f32)",
        config.describe(),
        param_count(&config),
        param_count(&config) as f64 * 4.0 / 1e6
    );
    println!(
        "image {}x{}: {} crops of {}x{}, {:.2} GFLOP per crop, {:.1} GFLOP per image",
        image.width(),
        image.height(),
        plan.len(),
        plan.crop_size,
        plan.crop_size,
        2.0 * config.macs(plan.crop_size, plan.crop_size) as f64 / 1e9,
        2.0 * macs as f64 / 1e9
    );
    // the predictor's own tiling, stored in the weights
    let segmenter = Segmenter::new(
        Arc::new(LitePredictor::new(model, batch)),
        SegmentConfig::default(),
    );
    let mut best = f64::INFINITY;
    for r in 0..repeat {
        let t = Instant::now();
        let seg = segmenter.segment(&image).expect("segment");
        let s = t.elapsed().as_secs_f64();
        let tm = seg.timings;
        println!(
            "run {r}: {s:.3} s total | tiling {:.3} enhance {:.3} predict {:.3} blend {:.3} postprocess {:.3} | {} cells",
            tm.tiling.as_secs_f64(),
            tm.enhance.as_secs_f64(),
            tm.predict.as_secs_f64(),
            tm.blend.as_secs_f64(),
            tm.postprocess.as_secs_f64(),
            seg.n_cells
        );
        best = best.min(s);
    }
    println!("best: {best:.3} s per image with {threads} thread(s), batch {batch}");
}
