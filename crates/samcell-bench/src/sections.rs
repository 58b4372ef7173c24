//! The three sections and the memory child (see the crate docs).

use crate::{model_path, mosaic, rss, Options};
use anyhow::{Context, Result};
use samcell_imaging::GrayU8;
use samcell_model::{SamModel, SamPredictor};
use samcell_pipeline::{SegmentConfig, Segmenter, TilePlan};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

pub(crate) fn env_path(key: &str, default: PathBuf) -> PathBuf {
    std::env::var_os(key).map(PathBuf::from).unwrap_or(default)
}

pub(crate) fn env_num(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(default)
}

pub(crate) fn all_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Runs `f` on a rayon pool of `threads` threads (candle's kernels read RAYON_NUM_THREADS too).
pub(crate) fn with_threads<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> Result<T> {
    std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    Ok(pool.install(f))
}

pub(crate) fn n_crops(w: usize, h: usize) -> usize {
    TilePlan::new(w, h, &Default::default()).map_or(0, |p| p.len())
}

fn segmenter(model: &Path, batch: usize) -> Result<(Segmenter, String)> {
    let model =
        SamModel::load(model, None).with_context(|| format!("cannot load {}", model.display()))?;
    let variant = model.config.variant().to_string();
    let predictor = Arc::new(SamPredictor::new(model, batch));
    Ok((Segmenter::new(predictor, SegmentConfig::default()), variant))
}

pub(crate) fn load_avg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// (b) Peak RSS of segmenting a large mosaic in a child process.
pub fn memory(opts: &Options) -> Result<()> {
    let model = model_path(opts);
    let threads = opts.threads.unwrap_or_else(all_cores);
    let side = opts.size;
    println!(
        "\n== Memory: peak RSS of one {side}x{side} image ({} crops), model {}, {threads} threads, batch {} (load {}) ==",
        n_crops(side, side),
        model.display(),
        opts.batch,
        load_avg()
    );
    let dir = std::env::temp_dir().join(format!("samcell-bench-mem-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = memory_in(opts, &model, threads, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn memory_in(opts: &Options, model: &Path, threads: usize, dir: &Path) -> Result<()> {
    let side = opts.size;
    let image_path = dir.join(format!("mosaic_{side}.tif"));
    {
        let tiles = mosaic::load_tiles(64)?;
        let img = mosaic::mosaic(&tiles, side, side);
        mosaic::write_gray_tiff(&image_path, &img)?;
    }
    let out = dir.join("out");
    let t0 = Instant::now();
    let (cmd, args, what): (PathBuf, Vec<String>, String) = match &opts.samcell {
        Some(bin) => (
            bin.clone(),
            vec![
                "segment".into(),
                image_path.display().to_string(),
                "--model".into(),
                model.display().to_string(),
                "--output".into(),
                out.display().to_string(),
                "--threads".into(),
                threads.to_string(),
                "--batch-size".into(),
                opts.batch.to_string(),
            ],
            format!(
                "`{} segment` (masks, overlay, cells CSV, run metadata)",
                bin.display()
            ),
        ),
        None => (
            std::env::current_exe()?,
            vec![
                "--child-segment".into(),
                image_path.display().to_string(),
                model.display().to_string(),
                out.display().to_string(),
                threads.to_string(),
                opts.batch.to_string(),
            ],
            "this bench's child: the CLI's steps (segment, overlay PNG, cells CSV, masks TIFF)"
                .into(),
        ),
    };
    let (stdout, kib) = rss::peak_of_command(&cmd, &args)?;
    let wall = t0.elapsed().as_secs_f64();
    println!("process: {what}");
    let stages: Vec<&str> = stdout.lines().filter(|l| l.starts_with("stage ")).collect();
    if !stages.is_empty() {
        println!("{:<34} {:>12} {:>9}", "peak RSS after stage", "GiB", "s");
        for l in stages {
            let f: Vec<&str> = l.split_whitespace().collect();
            if let [_, name, k, s] = f[..] {
                let k: u64 = k.parse().unwrap_or(0);
                println!("  {name:<32} {:>12.3} {s:>9}", rss::gib(k));
            }
        }
    }
    match kib {
        Some(k) => {
            let px = (side * side) as f64;
            println!(
                "PEAK RSS {:.3} GiB ({:.1} bytes per pixel) for {side}x{side}, {:.0} s; bound 4 GiB: {}",
                rss::gib(k),
                k as f64 * 1024.0 / px,
                wall,
                if rss::gib(k) < 4.0 { "met" } else { "NOT met" }
            );
        }
        None => println!("peak RSS unavailable on this platform"),
    }
    Ok(())
}

/// `--child-segment IMAGE MODEL OUTDIR THREADS BATCH`: what `samcell segment` does for one
/// image, printing `stage NAME VMHWM_KIB SECONDS` after each step.
pub fn child_segment(args: &[String]) -> i32 {
    match child_segment_inner(args) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("child: {e:#}");
            1
        }
    }
}

fn child_segment_inner(args: &[String]) -> Result<()> {
    let [image, model, out, threads, batch] = args else {
        anyhow::bail!("--child-segment IMAGE MODEL OUTDIR THREADS BATCH");
    };
    let threads: usize = threads.parse()?;
    let batch: usize = batch.parse()?;
    let out = PathBuf::from(out);
    std::fs::create_dir_all(&out)?;
    let t0 = Instant::now();
    let stage = |name: &str| {
        println!(
            "stage {name} {} {:.1}",
            rss::own_peak_kib().unwrap_or(0),
            t0.elapsed().as_secs_f64()
        );
    };
    with_threads(threads, || -> Result<()> {
        let img = samcell_io::read_gray(Path::new(image), &Default::default())?;
        stage("read-image");
        let (seg, _) = segmenter(Path::new(model), batch)?;
        stage("load-model");
        let map = seg.distance_map(&img)?;
        stage("tiles+model+blend");
        let (labels, _n) =
            samcell_pipeline::labels_from_distance_map(&map, seg.config().peak, seg.config().fill)?;
        stage("seeds+watershed");
        drop(map);
        samcell_io::write_overlay_png(&out.join("m_overlay.png"), &img, &labels, false)?;
        stage("overlay-png");
        let cells = samcell_measure::measure_labels(
            &labels,
            Some(samcell_measure::Intensity::U8(&img)),
            &samcell_measure::MeasureConfig::default(),
        )?;
        samcell_measure::write_cells_csv(&out.join("m_cells.csv"), &cells)?;
        stage("measure+cells-csv");
        samcell_io::write_labels_tiff(&out.join("m_masks.tif"), &labels)?;
        stage("masks-tiff");
        Ok(())
    })?
}

/// (c) Seconds per image at three sizes.
pub fn scaling(opts: &Options) -> Result<()> {
    let model = model_path(opts);
    let threads = opts.threads.unwrap_or_else(all_cores);
    println!(
        "\n== Scaling: s/image by size, model {}, {threads} threads, batch {} (load {}) ==",
        model.display(),
        opts.batch,
        load_avg()
    );
    let tiles = mosaic::load_tiles(64)?;
    let rows = with_threads(threads, || -> Result<Vec<(usize, usize, f64, String)>> {
        let (seg, variant) = segmenter(&model, opts.batch)?;
        // Warm-up (allocator, caches, thread pool) on the smallest size.
        let smallest = opts.sizes.iter().copied().min().unwrap_or(256);
        seg.segment(&mosaic::mosaic(&tiles, smallest, smallest))?;
        let mut rows = Vec::new();
        for &s in &opts.sizes {
            let img: GrayU8 = mosaic::mosaic(&tiles, s, s);
            let t0 = Instant::now();
            let r = seg.segment(&img)?;
            let secs = t0.elapsed().as_secs_f64();
            let t = r.timings;
            rows.push((
                s,
                n_crops(s, s),
                secs,
                format!(
                    "model {:.2} s, post {:.2} s, other {:.2} s",
                    t.predict.as_secs_f64(),
                    t.postprocess.as_secs_f64(),
                    (t.tiling + t.enhance + t.blend).as_secs_f64()
                ),
            ));
        }
        println!("model: SAM {variant}");
        Ok(rows)
    })??;
    println!(
        "{:>11} {:>7} {:>10} {:>8} {:>12} {:>9}  stages",
        "size", "crops", "Mpixel", "s/image", "s/Mpixel", "ratio"
    );
    let base = rows
        .first()
        .map(|r| r.2 / (r.0 * r.0) as f64)
        .unwrap_or(1.0);
    for (s, c, secs, stages) in &rows {
        let mp = (s * s) as f64 / 1e6;
        println!(
            "{:>11} {c:>7} {mp:>10.2} {secs:>8.2} {:>12.3} {:>9.2}  {stages}",
            format!("{s}x{s}"),
            secs / mp,
            (secs / (s * s) as f64) / base
        );
    }
    println!("(ratio: time per pixel relative to the first size; 1.00 = linear in pixel count)");
    Ok(())
}
