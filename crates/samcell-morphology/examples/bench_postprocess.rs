//! Times the samcell post-processing on a synthetic 1024x1024 distance map with ~500 cells.
//!
//!     cargo run --release -p samcell-morphology --example bench_postprocess [MAP.npy]
//!
//! With a path, times that 2-D float32 `.npy` distance map instead (e.g. a reference run's
//! `dist_map.npy`, to compare with samcell's `cells_from_dist_map` on the same machine); with
//! a second path to samcell's int32 `labels.npy` for that map, also counts differing pixels.
//!
//! The map is the maximum of paraboloid cells on a jittered grid (a small LCG, no dependency),
//! like the golden test's parametric maps.

use samcell_imaging::Image;
use samcell_morphology::{cells_from_distance_map, external_contours, seeds_from_peaks, watershed};
use std::path::Path;
use std::time::Instant;

/// CPU time of this thread in seconds (Linux `/proc/thread-self/schedstat`; coarse, updated
/// at scheduler ticks, so only used over many runs), if available.
fn thread_cpu_seconds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace()
        .next()?
        .parse::<f64>()
        .ok()
        .map(|ns| ns * 1e-9)
}

/// Runs `f` and returns (wall seconds, result).
fn timed<T>(f: impl FnOnce() -> T) -> (f64, T) {
    let t0 = Instant::now();
    let out = f();
    (t0.elapsed().as_secs_f64(), out)
}

fn main() {
    let dist = match std::env::args().nth(1) {
        Some(path) => load_npy(&path),
        None => synthetic_map(),
    };
    let (w, h) = (dist.width(), dist.height());
    run(&dist, w, h);
    if let Some(path) = std::env::args().nth(2) {
        let (_, expected) = samcell_testdata::npy::read::<i32>(Path::new(&path));
        let labels = cells_from_distance_map(&dist, 0.47, 0.09).expect("labels");
        assert_eq!(
            expected.len(),
            labels.data().len(),
            "{path}: shape differs from the map"
        );
        let diff = labels
            .data()
            .iter()
            .zip(&expected)
            .filter(|(a, b)| i64::from(**a) != i64::from(**b))
            .count();
        println!("labels vs {path}: {diff} pixels differ");
    }
}

fn load_npy(path: &str) -> Image<f32> {
    let (h, w, data) = samcell_testdata::npy::read_2d::<f32>(Path::new(path));
    Image::from_vec(w, h, data).expect("shape")
}

/// 1024x1024, 576 paraboloid cells on a jittered grid (10% dim, below the peak threshold).
fn synthetic_map() -> Image<f32> {
    let (w, h, n) = (1024usize, 1024usize, 576usize);
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut rnd = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let side = (n as f64).sqrt() as usize;
    let mut v = vec![0.0f32; w * h];
    for k in 0..n {
        let cell = w as f64 / side as f64;
        let cx = ((k % side) as f64 + 0.5 + (rnd() - 0.5) * 0.6) * cell;
        let cy = ((k / side) as f64 + 0.5 + (rnd() - 0.5) * 0.6) * cell;
        let r = cell * (0.35 + 0.25 * rnd());
        let a = if rnd() < 0.1 { 0.4 } else { 1.0 };
        let (x0, x1) = ((cx - r).max(0.0) as usize, ((cx + r) as usize).min(w - 1));
        let (y0, y1) = ((cy - r).max(0.0) as usize, ((cy + r) as usize).min(h - 1));
        for y in y0..=y1 {
            for x in x0..=x1 {
                let d2 = ((x as f64 - cx).powi(2) + (y as f64 - cy).powi(2)) / (r * r);
                let t = (a * (1.0 - d2)) as f32;
                let p = &mut v[y * w + x];
                *p = p.max(t);
            }
        }
    }
    Image::from_vec(w, h, v).expect("size")
}

fn run(dist: &Image<f32>, w: usize, h: usize) {
    const RUNS: usize = 15;
    let mut best = [f64::INFINITY; 3];
    let mut cells = 0;
    let cpu0 = thread_cpu_seconds();
    for _ in 0..RUNS {
        let (t, labels) = timed(|| cells_from_distance_map(dist, 0.47, 0.09).expect("labels"));
        best[0] = best[0].min(t);
        let mut ids: Vec<u32> = labels.data().iter().copied().filter(|&l| l != 0).collect();
        ids.sort_unstable();
        ids.dedup();
        cells = ids.len();
    }
    let cpu = cpu0
        .zip(thread_cpu_seconds())
        .map(|(a, b)| (b - a) / RUNS as f64);
    for _ in 0..RUNS {
        let peak = dist.map(|x| u8::from(x > 0.47));
        let (t, contours) = timed(|| external_contours(&peak));
        best[1] = best[1].min(t);
        std::hint::black_box(contours);
        let seeds = seeds_from_peaks(&peak);
        let neg = dist.map(|x| -x);
        let fill = dist.map(|x| x > 0.09);
        let (t, labels) = timed(|| watershed(&neg, &seeds, &fill).expect("watershed"));
        best[2] = best[2].min(t);
        std::hint::black_box(labels);
    }
    println!(
        "{w}x{h}, {cells} cells: post-processing {:.1} ms wall (best of {RUNS}; {} CPU on average), \
         of which threshold+contours {:.1} ms, watershed {:.1} ms",
        best[0] * 1e3,
        cpu.map_or_else(|| "n/a".to_string(), |c| format!("{:.1} ms", c * 1e3)),
        best[1] * 1e3,
        best[2] * 1e3
    );
}
