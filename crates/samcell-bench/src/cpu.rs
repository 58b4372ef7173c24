//! The `cpu` section: one image through the whole pipeline with ViT-B weights in four ways on the
//! same CPU and the same threads, in one run: samcell in its default precision (f32) and with
//! `--precision bf16`, the Python reference in f32 and under PyTorch's bf16 autocast
//! (`reference/run_autocast.py`). For each: seconds per image and per crop, the ratio to the f32
//! reference, the FLOP rate over the model stage (FLOPs counted from the configuration,
//! [`crate::flops`]) and its fraction of the peak of the units the path uses (measured in the
//! same run: the FMA loop for f32, the `vdpbf16ps` loop for bf16, [`crate::peak`]), and the CPU
//! path that ran (`samcell_model::cpu_path`).

use crate::sections::{env_num, env_path, load_avg, n_crops, with_threads};
use crate::{flops, peak};
use anyhow::{Context, Result};
use candle_core::{DType, Device};
use samcell_imaging::{GrayU8, MapF32};
use samcell_model::{cpu_path, SamModel, SamPredictor};
use samcell_pipeline::{DistanceMapPredictor, SegmentConfig, Segmenter};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One of ours: whole-image seconds, model-stage seconds, the map, the predictor's description.
struct Ours {
    wall: f64,
    model: f64,
    map: MapF32,
    describe: String,
    cells: usize,
    config: samcell_model::SamConfig,
}

fn run_ours(weights: &Path, image: &GrayU8, dtype: DType, batch: usize) -> Result<Ours> {
    let model = SamModel::load_as(weights, None, &Device::Cpu, dtype).context("load ViT-B")?;
    let config = model.config.clone();
    let predictor = SamPredictor::new(model, batch);
    let describe = predictor.describe();
    let segmenter = Segmenter::new(Arc::new(predictor), SegmentConfig::default());
    let t0 = Instant::now();
    let seg = segmenter.segment(image)?;
    let wall = t0.elapsed().as_secs_f64();
    Ok(Ours {
        wall,
        model: seg.timings.predict.as_secs_f64(),
        map: seg.distance_map,
        describe,
        cells: seg.n_cells,
        config,
    })
}

/// Runs a reference script; returns (wall seconds, crops, model-forward seconds).
fn run_reference(
    python: &Path,
    script: &Path,
    image: &Path,
    weights: &Path,
    threads: usize,
    tag: &str,
) -> Result<(f64, usize, f64)> {
    let out = std::env::temp_dir().join(format!("samcell-bench-{tag}-{}", std::process::id()));
    let status = std::process::Command::new(python)
        .arg(script)
        .arg(image)
        .arg(weights)
        .args([
            "--config",
            "base",
            "--no-intermediates",
            "--threads",
            &threads.to_string(),
            "--out",
        ])
        .arg(&out)
        .status()
        .with_context(|| format!("run {}", script.display()))?;
    anyhow::ensure!(status.success(), "{} failed", script.display());
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("meta.json"))?)?;
    let _ = std::fs::remove_dir_all(&out);
    let run = &meta["runs"][0];
    Ok((
        run["wall_s"].as_f64().unwrap_or(f64::NAN),
        run["n_crops"].as_u64().unwrap_or(0) as usize,
        run["model_forward_s_total"].as_f64().unwrap_or(f64::NAN),
    ))
}

fn max_abs_diff(a: &MapF32, b: &MapF32) -> f32 {
    a.data()
        .iter()
        .zip(b.data())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

pub fn cpu() -> Result<()> {
    let repo = samcell_testdata::workspace_root();
    let weights_dir = env_path("SAMCELL_REF_WEIGHTS", repo.join("reference/weights"));
    let python = env_path("SAMCELL_REF_PYTHON", repo.join("reference/venv/bin/python"));
    let image_path = env_path("SAMCELL_BENCH_IMAGE", weights_dir.join("synth_704x520.png"));
    let weights = weights_dir.join("sam_vitb_scaled.pt");
    let threads = env_num("SAMCELL_BENCH_THREADS", 2);
    let batch = env_num("SAMCELL_BENCH_BATCH", 1);
    println!("\n== CPU: samcell and the Python reference, ViT-B, {threads} threads, batch {batch} (load {}) ==", load_avg());
    println!("CPU path: {}", cpu_path::describe());
    if !weights.is_file() || !image_path.is_file() {
        println!(
            "SKIPPED: missing {} or {}; run reference/setup_reference.sh first (or set SAMCELL_REF_WEIGHTS)",
            weights.display(),
            image_path.display()
        );
        return Ok(());
    }
    let image = samcell_io::read_gray(&image_path, &Default::default())?;
    let crops = n_crops(image.width(), image.height());
    let (f32_run, bf16_run) = with_threads(threads, || -> Result<_> {
        Ok((
            run_ours(&weights, &image, DType::F32, batch)?,
            run_ours(&weights, &image, DType::BF16, batch)?,
        ))
    })??;

    let skip = std::env::var_os("SAMCELL_BENCH_SKIP_REF").is_some();
    let (ref_f32, ref_bf16) = if skip || !python.is_file() {
        (None, None)
    } else {
        let pipeline = samcell_testdata::reference_file("reference_pipeline.py");
        let autocast = repo.join("reference/run_autocast.py");
        (
            Some(run_reference(
                &python,
                &pipeline,
                &image_path,
                &weights,
                threads,
                "ref",
            )?),
            Some(run_reference(
                &python,
                &autocast,
                &image_path,
                &weights,
                threads,
                "ref-bf16",
            )?),
        )
    };

    let per_crop: f64 = flops::breakdown(&f32_run.config)
        .iter()
        .map(|p| p.flops)
        .sum();
    let total = per_crop * crops as f64;
    let pk = peak::measure(threads, Duration::from_secs(2));
    let pk_bf16 = peak::measure_bf16(threads, Duration::from_secs(2));

    println!(
        "one {}x{} image, {crops} crops ({}); {:.0} GFLOP per crop",
        image.width(),
        image.height(),
        image_path.display(),
        per_crop / 1e9
    );
    println!(
        "peaks measured now on {threads} threads: f32 FMA ({}) {:.0} GFLOP/s; bf16 vdpbf16ps {}",
        pk.isa,
        pk.flops / 1e9,
        pk_bf16.map_or("not on this CPU".to_string(), |p| format!(
            "{:.0} GFLOP/s",
            p / 1e9
        ))
    );
    println!(
        "{:<34} {:>9} {:>8} {:>9} {:>9} {:>8}  path",
        "run", "s/image", "s/crop", "vs ref32", "GFLOP/s", "of peak"
    );
    let ref_wall = ref_f32.map(|r| r.0);
    let row = |name: &str, wall: f64, model: f64, n: usize, peak: Option<f64>, path: &str| {
        let rate = total / model;
        println!(
            "{:<34} {:>9.2} {:>8.2} {:>9} {:>9.1} {:>8}  {}",
            name,
            wall,
            wall / n.max(1) as f64,
            ref_wall.map_or("-".into(), |r| format!("{:.2}x", r / wall)),
            rate / 1e9,
            peak.map_or("-".into(), |p| format!("{:.0}%", 100.0 * rate / p)),
            path
        );
    };
    if let Some((wall, n, model)) = ref_f32 {
        row(
            "reference (PyTorch f32)",
            wall,
            model,
            n,
            Some(pk.flops),
            "PyTorch (oneDNN)",
        );
    }
    if let Some((wall, n, model)) = ref_bf16 {
        row(
            "reference (PyTorch bf16 autocast)",
            wall,
            model,
            n,
            pk_bf16,
            "PyTorch (oneDNN)",
        );
    }
    row(
        "samcell default (f32)",
        f32_run.wall,
        f32_run.model,
        crops,
        Some(pk.flops),
        &f32_run.describe,
    );
    let bf16_peak = if bf16_run.describe.contains("bf16 products") {
        pk_bf16
    } else {
        Some(pk.flops)
    };
    row(
        "samcell --precision bf16",
        bf16_run.wall,
        bf16_run.model,
        crops,
        bf16_peak,
        &bf16_run.describe,
    );
    if skip {
        println!("reference: skipped (SAMCELL_BENCH_SKIP_REF)");
    } else if !python.is_file() {
        println!(
            "reference: not run (no reference python at {})",
            python.display()
        );
    }
    println!(
        "bf16 vs f32 (ours): distance map max abs difference {:.2e}; cells {} vs {}",
        max_abs_diff(&bf16_run.map, &f32_run.map),
        bf16_run.cells,
        f32_run.cells
    );
    println!("(GFLOP/s over the model stage; \"of peak\": of the measured peak of the units the path uses)");
    if std::env::var_os("SAMCELL_BENCH_SKIP_LABELS").is_none() {
        bf16_labels(&weights, threads, batch)?;
    }
    Ok(())
}

/// A map's value at quantile `q` (nearest rank).
fn quantile(map: &MapF32, q: f64) -> f32 {
    let mut v = map.data().to_vec();
    v.sort_by(f32::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// bf16 labels against f32 labels on a real image (the centre 384x384 of the first Usiigaci
/// image, 9 crops; `SAMCELL_BENCH_LABELS_IMAGE` for another), thresholds at the f32 map's
/// 85% / 40% quantiles (the scaled random weights give no cells at samcell's defaults), scored
/// with the Cell Tracking Challenge SEG and DET. samcell's f32 labels equal the reference's
/// (`parity_vitb`), so this is bf16 against the reference.
fn bf16_labels(weights: &Path, threads: usize, batch: usize) -> Result<()> {
    let default = samcell_testdata::data_dir().join("usiigaci-phc/train/images/set1.tif");
    let path = env_path("SAMCELL_BENCH_LABELS_IMAGE", default);
    if !path.is_file() {
        println!(
            "bf16 labels: SKIPPED ({} not found; set SAMCELL_DATA)",
            path.display()
        );
        return Ok(());
    }
    let full = samcell_io::read_gray(&path, &Default::default())?;
    let side = 384.min(full.width()).min(full.height());
    let img = full.crop(
        (full.width() - side) / 2,
        (full.height() - side) / 2,
        side,
        side,
    )?;
    let (a, b) = with_threads(threads, || -> Result<_> {
        Ok((
            run_ours(weights, &img, DType::F32, batch)?,
            run_ours(weights, &img, DType::BF16, batch)?,
        ))
    })??;
    let (peak, fill) = (quantile(&a.map, 0.85), quantile(&a.map, 0.40));
    let (la, na) = samcell_pipeline::labels_from_distance_map(&a.map, peak, fill)?;
    let (lb, nb) = samcell_pipeline::labels_from_distance_map(&b.map, peak, fill)?;
    let e = samcell_measure::evaluate_labels(&lb, &la, "bf16 vs f32")?;
    println!(
        "bf16 labels on a real image ({side}x{side} of {}, peak {peak:.4} / fill {fill:.4} = the f32 map's 85%/40% quantiles): \
         {nb} vs {na} cells, SEG {:.4}, DET {:.4} against f32; map max abs difference {:.2e}",
        path.display(),
        e.scores.seg,
        e.scores.det,
        max_abs_diff(&b.map, &a.map)
    );
    Ok(())
}
