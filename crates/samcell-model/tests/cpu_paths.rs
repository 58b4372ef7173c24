//! The CPU dispatch (`cpu_path`) and the `bf16` precision on the tiny model: bf16 maps close to
//! f32, results independent of the thread count, and every lower path forced through
//! `SAMCELL_CPU_PATH` in a child process (the variable is read once per process), where the bf16
//! request must fall back to exactly the f32 computation and never enter a kernel the path lacks.
//! The output names the path that ran and the paths this CPU cannot run.
//!
//! Weights: the shared harness's `sam_tiny_scaled.safetensors` (`SAMCELL_SHARED`); without them
//! the tests skip with one line (a failure under `SAMCELL_REQUIRE_DATA=1`).

use candle_core::{DType, Device, Tensor};
use samcell_model::cpu_path::{self, CpuPath};
use samcell_model::{HeadOverrides, SamModel};
use std::path::{Path, PathBuf};

fn weights() -> Option<PathBuf> {
    samcell_testdata::require_shared("sam_tiny_scaled.safetensors")
}

fn load(path: &Path, dtype: DType) -> SamModel {
    let heads = HeadOverrides {
        vision_heads: Some(2),
        decoder_heads: Some(2),
    };
    SamModel::load_as(path, Some(heads), &Device::Cpu, dtype).unwrap_or_else(|e| panic!("{e}"))
}

/// A deterministic input in SAM's normalised range.
fn input() -> Tensor {
    let n = 3 * 1024 * 1024;
    let v: Vec<f32> = (0..n as u64)
        .map(|i| ((i.wrapping_mul(2654435761)) % 1024) as f32 / 256.0 - 2.0)
        .collect();
    Tensor::from_vec(v, (1, 3, 1024, 1024), &Device::Cpu).unwrap()
}

fn map(model: &SamModel, x: &Tensor) -> Vec<f32> {
    model
        .distance_maps(x)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap()
}

fn max_abs(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn on_threads<T: Send>(n: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build()
        .unwrap()
        .install(f)
}

#[test]
fn bf16_maps_are_close_to_f32_and_thread_count_free() {
    let Some(w) = weights() else { return };
    println!("cpu path: {}", cpu_path::describe());
    for p in CpuPath::ALL {
        if !p.supported() {
            println!("this CPU cannot run the {} path", p.name());
        }
    }
    let x = input();
    let (f32m, bf16m) = (load(&w, DType::F32), load(&w, DType::BF16));
    let (a, b) = (map(&f32m, &x), map(&bf16m, &x));
    let d = max_abs(&a, &b);
    println!(
        "bf16 vs f32 distance map: max abs difference {d:.2e} ({})",
        bf16m.cpu_precision().unwrap()
    );
    if cpu_path::selected() == CpuPath::Avx512Bf16 {
        assert_eq!(
            bf16m.cpu_precision(),
            Some("bf16 products, f32 accumulation")
        );
        // tolerance: bf16 rounding (2^-9 relative) of every product operand through the tiny
        // encoder and decoder; the sigmoid maps are in [0, 1]
        assert!(d > 0.0 && d <= 2e-2, "bf16 map differs from f32 by {d}");
    } else {
        assert_eq!(
            d, 0.0,
            "without bf16 products the bf16 request must compute exactly f32"
        );
    }
    // the same bits with one and two threads, in both precisions
    for (model, want) in [(&f32m, &a), (&bf16m, &b)] {
        let one = on_threads(1, || map(model, &x));
        let two = on_threads(2, || map(model, &x));
        assert!(
            one == *want && two == *want,
            "results depend on the thread count"
        );
    }
}

/// Run by [`every_lower_path_can_be_forced`] in a child process with `SAMCELL_CPU_PATH` set.
#[test]
#[ignore = "child of every_lower_path_can_be_forced"]
fn child_forced_path() {
    let Some(w) = weights() else { return };
    let want = CpuPath::parse(&std::env::var("SAMCELL_CPU_PATH").unwrap()).unwrap();
    assert_eq!(cpu_path::selected(), want.min(cpu_path::detected()));
    println!("forced: {}", cpu_path::describe());
    let x = input();
    let (a, b) = (
        map(&load(&w, DType::F32), &x),
        map(&load(&w, DType::BF16), &x),
    );
    if cpu_path::selected() < CpuPath::Avx512Bf16 {
        assert_eq!(
            load(&w, DType::BF16).cpu_precision(),
            Some("f32 (bf16 asked for, but this CPU path has no bf16 products)")
        );
        assert_eq!(max_abs(&a, &b), 0.0);
    }
    println!("CHILD-OK {}", cpu_path::selected().name());
}

#[test]
fn every_lower_path_can_be_forced() {
    if weights().is_none() {
        return;
    }
    let exe = std::env::current_exe().unwrap();
    for p in CpuPath::ALL {
        if !p.supported() {
            println!("{}: not run (this CPU lacks it)", p.name());
            continue;
        }
        let out = std::process::Command::new(&exe)
            .args([
                "--exact",
                "child_forced_path",
                "--ignored",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env("SAMCELL_CPU_PATH", p.name())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains(&format!("CHILD-OK {}", p.name())),
            "{}: {text}\n{}",
            p.name(),
            String::from_utf8_lossy(&out.stderr)
        );
        println!("{}: forced and run", p.name());
    }
}
