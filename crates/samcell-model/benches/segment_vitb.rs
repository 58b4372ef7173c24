//! Benchmark: one 704x520 image (12 crops) through the whole pipeline with ViT-B weights, ours
//! and the Python reference (samcell 1.1.4 on transformers) in the same invocation.
//!
//! Run (after `reference/setup_reference.sh`, which makes the venv, the ViT-B weights and the
//! synthetic image):
//!
//! ```text
//! cargo bench -p samcell-model --bench segment_vitb
//! ```
//!
//! Settings through the environment: `SAMCELL_REF_WEIGHTS` (folder with `sam_vitb_scaled.pt`
//! and `synth_704x520.png`, default `reference/weights`), `SAMCELL_REF_PYTHON` (default
//! `reference/venv/bin/python`; when absent the reference column is skipped and says so),
//! `SAMCELL_SHARED` (the harness), `SAMCELL_BENCH_IMAGE`, `SAMCELL_BENCH_THREADS` (default 2),
//! `SAMCELL_BENCH_BATCH` (default 1), `SAMCELL_BENCH_SKIP_REF=1`.

use mimalloc::MiMalloc;
use samcell_io::read::{read_gray, ReadOptions};
use samcell_model::{SamModel, SamPredictor};
use samcell_pipeline::segment::{SegmentConfig, Segmenter};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

fn env_path(key: &str, default: PathBuf) -> PathBuf {
    std::env::var_os(key).map(PathBuf::from).unwrap_or(default)
}

fn main() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let weights_dir = env_path("SAMCELL_REF_WEIGHTS", repo.join("reference/weights"));
    let python = env_path("SAMCELL_REF_PYTHON", repo.join("reference/venv/bin/python"));
    let image_path = env_path("SAMCELL_BENCH_IMAGE", weights_dir.join("synth_704x520.png"));
    let weights = weights_dir.join("sam_vitb_scaled.pt");
    let threads: usize = std::env::var("SAMCELL_BENCH_THREADS").ok().and_then(|v| v.parse().ok()).unwrap_or(2);
    let batch: usize = std::env::var("SAMCELL_BENCH_BATCH").ok().and_then(|v| v.parse().ok()).unwrap_or(1);
    std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
    if !weights.is_file() || !image_path.is_file() {
        eprintln!(
            "missing {} or {}: run reference/setup_reference.sh first (or set SAMCELL_REF_WEIGHTS)",
            weights.display(),
            image_path.display()
        );
        std::process::exit(2);
    }

    let image = read_gray(&image_path, &ReadOptions::default()).expect("read bench image");
    let t0 = Instant::now();
    let model = SamModel::load(&weights, None).expect("load ViT-B");
    let load_s = t0.elapsed().as_secs_f64();
    let predictor = Arc::new(SamPredictor::new(model, batch));
    let segmenter = Segmenter::new(predictor, SegmentConfig::default());
    let t0 = Instant::now();
    let seg = segmenter.segment(&image).expect("segment");
    let ours = t0.elapsed().as_secs_f64();
    let n_crops = samcell_pipeline::TilePlan::new(image.width(), image.height(), &Default::default())
        .expect("tile plan")
        .len();
    let t = &seg.timings;

    let skip = std::env::var_os("SAMCELL_BENCH_SKIP_REF").is_some();
    let reference = if skip || !python.is_file() {
        None
    } else {
        let out = std::env::temp_dir().join(format!("samcell-bench-ref-{}", std::process::id()));
        let status = std::process::Command::new(&python)
            .arg(samcell_testdata::reference_file("reference_pipeline.py"))
            .arg(&image_path)
            .arg(&weights)
            .args(["--config", "base", "--no-intermediates", "--threads", &threads.to_string(), "--out"])
            .arg(&out)
            .status()
            .expect("run the reference");
        assert!(status.success(), "reference pipeline failed");
        let meta: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("meta.json")).expect("meta.json")).expect("json");
        let _ = std::fs::remove_dir_all(&out);
        let run = &meta["runs"][0];
        Some((run["wall_s"].as_f64().unwrap_or(f64::NAN), run["n_crops"].as_u64().unwrap_or(0) as usize))
    };

    println!();
    println!("SAMCell, one {}x{} image, ViT-B, {threads} threads, batch {batch}", image.width(), image.height());
    println!("{:<28} {:>10} {:>10} {:>7}", "", "s/image", "s/crop", "crops");
    println!("{:<28} {:>10.2} {:>10.2} {:>7}", "samcell (Rust, candle f32)", ours, ours / n_crops as f64, n_crops);
    match reference {
        Some((wall, crops)) => {
            println!("{:<28} {:>10.2} {:>10.2} {:>7}", "reference (PyTorch f32)", wall, wall / crops as f64, crops);
            println!("speed-up (reference / ours): {:.2}x", wall / ours);
        }
        None if skip => println!("reference: skipped (SAMCELL_BENCH_SKIP_REF)"),
        None => println!("reference: not run (no reference python at {})", python.display()),
    }
    println!(
        "our stages: tiling {:.3} s, enhance {:.3} s, model {:.2} s, blend {:.3} s, post-processing {:.3} s; model load {:.2} s; {} cells",
        t.tiling.as_secs_f64(),
        t.enhance.as_secs_f64(),
        t.predict.as_secs_f64(),
        t.blend.as_secs_f64(),
        t.postprocess.as_secs_f64(),
        load_s,
        seg.n_cells
    );
}
