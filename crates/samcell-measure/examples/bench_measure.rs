//! Timing of measurement and evaluation on a synthetic 2048x2048 label image with about 5,000
//! touching cells (jittered-grid Voronoi cells cut to discs) and a perturbed copy of it.
//!
//! Run: `cargo run --release -p samcell-measure --example bench_measure [-- repeats]`

use samcell_imaging::{GrayU8, Labels};
use samcell_measure::{evaluate_labels, measure_labels, Intensity, MeasureConfig};
use std::time::Instant;

fn synthetic(w: usize, h: usize, per_side: usize, seed: u64) -> Labels {
    let mut s = seed;
    let mut rnd = || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 33) as f64 / (1u64 << 31) as f64
    };
    let step = w as f64 / per_side as f64;
    let mut seeds = Vec::new();
    for gy in 0..per_side {
        for gx in 0..per_side {
            seeds.push((
                (gx as f64 + 0.2 + 0.6 * rnd()) * step,
                (gy as f64 + 0.2 + 0.6 * rnd()) * step,
                0.45 + 0.35 * rnd(),
            ));
        }
    }
    let mut data = vec![0u32; w * h];
    for y in 0..h {
        for x in 0..w {
            let (gx, gy) = ((x as f64 / step) as isize, (y as f64 / step) as isize);
            let mut best = (f64::INFINITY, 0usize);
            for dy in -1..=1 {
                for dx in -1..=1 {
                    let (cx, cy) = (gx + dx, gy + dy);
                    if cx < 0 || cy < 0 || cx >= per_side as isize || cy >= per_side as isize {
                        continue;
                    }
                    let i = cy as usize * per_side + cx as usize;
                    let d = (x as f64 - seeds[i].0).powi(2) + (y as f64 - seeds[i].1).powi(2);
                    if d < best.0 {
                        best = (d, i);
                    }
                }
            }
            // a disc of radius r * step around the seed, clipped by the Voronoi cell
            if best.0.sqrt() <= seeds[best.1].2 * step {
                data[y * w + x] = best.1 as u32 + 1;
            }
        }
    }
    Labels::from_vec(w, h, data).expect("labels")
}

/// CPU seconds of this process (user + system, all threads) from /proc/self/stat; NaN elsewhere.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return f64::NAN;
    };
    // fields after the command name (which is in parentheses): utime and stime are fields 14, 15
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        f.get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    (ticks(11) + ticks(12)) / 100.0 // USER_HZ is 100 on Linux
}

/// Best wall time, mean CPU time per repeat, last result.
fn time<T>(repeats: usize, mut f: impl FnMut() -> T) -> (f64, f64, T) {
    let mut best = f64::INFINITY;
    let mut out = None;
    let c0 = cpu_seconds();
    for _ in 0..repeats {
        let t = Instant::now();
        let r = f();
        best = best.min(t.elapsed().as_secs_f64());
        out = Some(r);
    }
    let cpu = (cpu_seconds() - c0) / repeats as f64;
    (best, cpu, out.expect("at least one repeat"))
}

fn main() {
    let repeats: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5);
    let (w, h) = (2048, 2048);
    let gt = synthetic(w, h, 71, 7);
    // prediction: another draw of the same grid (shifted shapes) with label gaps
    let pred = synthetic(w, h, 71, 7).map(|v| if v == 0 { 0 } else { v * 3 + 11 });
    let pred = {
        // erode-like change: drop every 5th column of pixels of each cell's right part
        let mut p = pred;
        for y in 0..h {
            for x in (0..w).step_by(5) {
                if x > 0 && p.get(x - 1, y) != p.get(x, y) {
                    p.set(x, y, 0);
                }
            }
        }
        p
    };
    let inten = GrayU8::from_vec(
        w,
        h,
        (0..w * h)
            .map(|i| ((i * 2654435761usize) >> 24) as u8)
            .collect(),
    )
    .expect("image");
    let cfg = MeasureConfig::default();
    println!(
        "samcell-measure bench: {w}x{h}, {} threads, best of {repeats}",
        rayon::current_num_threads()
    );
    println!(
        "(wall: best of the repeats; cpu: mean CPU time of all threads per repeat, 10 ms ticks)"
    );
    println!(
        "{:<40} {:>10} {:>10} {:>8}",
        "operation", "wall (ms)", "cpu (ms)", "cells"
    );
    let (t, c, m) = time(repeats, || {
        measure_labels(&gt, None, &cfg).expect("measure")
    });
    println!(
        "{:<40} {:>10.1} {:>10.0} {:>8}",
        "measure_labels (shape + neighbours)",
        t * 1e3,
        c * 1e3,
        m.cells.len()
    );
    let (t, c, m) = time(repeats, || {
        measure_labels(&gt, Some(Intensity::U8(&inten)), &cfg).expect("measure")
    });
    println!(
        "{:<40} {:>10.1} {:>10.0} {:>8}",
        "measure_labels (+ intensity)",
        t * 1e3,
        c * 1e3,
        m.cells.len()
    );
    let (t, c, e) = time(repeats, || {
        evaluate_labels(&pred, &gt, "bench").expect("evaluate")
    });
    println!(
        "{:<40} {:>10.1} {:>10.0} {:>8}",
        "evaluate_labels (SEG/DET/AP)",
        t * 1e3,
        c * 1e3,
        e.counts.n_gt
    );
    let (t, c, _) = time(repeats, || {
        let m = measure_labels(&gt, Some(Intensity::U8(&inten)), &cfg).expect("measure");
        let e = evaluate_labels(&pred, &gt, "bench").expect("evaluate");
        (m.cells.len(), e.scores.seg)
    });
    println!(
        "{:<40} {:>10.1} {:>10.0}",
        "measure + evaluate",
        t * 1e3,
        c * 1e3
    );
    println!(
        "SEG {:.4}  DET {:.4}  AP50 {:.4}",
        e.scores.seg, e.scores.det, e.scores.ap[0]
    );
}
