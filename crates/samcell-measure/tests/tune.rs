//! Threshold tuning on synthetic distance maps with SAMCell's real post-processing, and the heat map.

use samcell_imaging::{Labels, MapF32};
use samcell_measure::{
    evaluate_labels, render_heatmap, tune, tune_samcell, write_heatmap_png, GridRange,
};

/// Ground truth of touching discs and its normalised distance map (1 at the centre, falling
/// linearly to 0 at radius + 3, so low fill thresholds grow the cells beyond their border).
fn synthetic(seed: u64) -> (MapF32, Labels) {
    let (w, h) = (96usize, 80usize);
    let mut s = seed;
    let mut rnd = |n: u64| {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 33) % n
    };
    let centres: Vec<(f32, f32, f32)> = (0..9)
        .map(|i| {
            let (gx, gy) = (i % 3, i / 3);
            (
                16.0 + 30.0 * gx as f32 + rnd(5) as f32,
                14.0 + 25.0 * gy as f32 + rnd(5) as f32,
                9.0 + rnd(4) as f32,
            )
        })
        .collect();
    let mut gt = vec![0u32; w * h];
    let mut map = vec![0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            let mut best = (f32::INFINITY, 0usize);
            for (i, c) in centres.iter().enumerate() {
                let d = ((x as f32 - c.0).powi(2) + (y as f32 - c.1).powi(2)).sqrt() / c.2;
                if d < best.0 {
                    best = (d, i);
                }
            }
            if best.0 <= 1.0 {
                gt[y * w + x] = best.1 as u32 + 1;
            }
            let r = centres[best.1].2;
            map[y * w + x] = (1.0 - best.0 * r / (r + 3.0)).max(0.0);
        }
    }
    (
        MapF32::from_vec(w, h, map).expect("map"),
        Labels::from_vec(w, h, gt).expect("gt"),
    )
}

#[test]
fn tune_scores_every_grid_point_like_a_direct_evaluation() {
    let (m1, g1) = synthetic(1);
    let (m2, g2) = synthetic(2);
    let peak = GridRange::parse("0.5:0.9:0.2").expect("peak");
    let fill = GridRange::parse("0.05:0.35:0.15").expect("fill");
    let grid = tune_samcell(
        &[m1.clone(), m2.clone()],
        &[g1.clone(), g2.clone()],
        &peak,
        &fill,
    )
    .expect("tune");
    assert_eq!(
        (grid.peaks.len(), grid.fills.len(), grid.points.len()),
        (3, 3, 9)
    );
    // one point recomputed by hand: post-process, evaluate both images, pool
    let p = grid.at(1, 2);
    assert_eq!((p.peak, p.fill), (0.7, 0.35));
    let mut counts = samcell_measure::EvalCounts::default();
    for (m, g) in [(&m1, &g1), (&m2, &g2)] {
        let (l, _) = samcell_pipeline::labels_from_distance_map(m, 0.7, 0.35).expect("post");
        counts.add(&evaluate_labels(&l, g, "x").expect("eval").counts);
    }
    assert_eq!(
        p.scores,
        counts.scores(),
        "grid point equals a direct pooled evaluation"
    );
    // the fill threshold that reproduces the disc borders (1 - r/(r+3) ~ 0.2-0.25) wins over 0.05
    let best = grid.best().expect("best");
    assert!(
        best.scores.op_csb > 0.9,
        "best OP_CSB {}",
        best.scores.op_csb
    );
    assert!(best.fill > 0.1, "best fill {}", best.fill);
    assert!(grid.at(0, 0).scores.seg < best.scores.seg);

    // errors: mismatched lists, sizes, failing post-processing
    assert!(tune_samcell(std::slice::from_ref(&m1), &[], &peak, &fill).is_err());
    let small = Labels::filled(3, 3, 0);
    let e = tune_samcell(std::slice::from_ref(&m1), &[small], &peak, &fill)
        .expect_err("size")
        .to_string();
    assert!(e.contains("image 0"), "{e}");
    let e = tune(
        &[m1],
        &[g1],
        &peak,
        &fill,
        |_, _, _| Err("boom".to_string()),
    )
    .expect_err("post error")
    .to_string();
    assert!(e.contains("boom") && e.contains("peak"), "{e}");
}

#[test]
fn heatmap_png_is_written_and_coloured_by_value() {
    let (m, g) = synthetic(3);
    let grid = tune_samcell(
        &[m],
        &[g],
        &GridRange::parse("0.3:0.9:0.1").expect("p"),
        &GridRange::parse("0.05:0.45:0.1").expect("f"),
    )
    .expect("tune");
    let (w, h, rgb) = render_heatmap(&grid).expect("render");
    assert_eq!(rgb.len(), w * h * 3);
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("tune_heatmap.png");
    write_heatmap_png(&path, &grid).expect("write");
    let img = image::open(&path).expect("decode").to_rgb8();
    assert_eq!((img.width() as usize, img.height() as usize), (w, h));
    assert_eq!(img.as_raw(), &rgb);
    // many distinct colours (scale, text), not a blank canvas
    let mut colours: Vec<[u8; 3]> = img.pixels().map(|p| p.0).collect();
    colours.sort_unstable();
    colours.dedup();
    assert!(colours.len() > 30, "{} colours", colours.len());
    if let Ok(out) = std::env::var("SAMCELL_HEATMAP_OUT") {
        std::fs::copy(&path, out).expect("copy for viewing");
    }
}
