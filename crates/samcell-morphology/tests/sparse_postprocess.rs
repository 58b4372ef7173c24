//! The memory-lean post-processing (sparse seeds, masks compared where needed) against the
//! materialised path it replaces: the marker image of `seeds_from_peaks`, `watershed` on
//! `-dist` with a `bool` mask. Tolerance: none (labels equal pixel for pixel).

use proptest::prelude::*;
use samcell_imaging::Image;
use samcell_morphology::{
    cells_from_distance_map, seed_list_from_peaks, seeds_from_peaks, watershed,
};

/// The path `cells_from_distance_map` took before it went sparse.
fn materialised(dist: &Image<f32>, peak: f32, fill: f32) -> Image<u32> {
    let markers = seeds_from_peaks(&dist.map(|v| u8::from(v > peak)));
    if markers.data().iter().all(|&m| m == 0) {
        return Image::filled(dist.width(), dist.height(), 0);
    }
    watershed(&dist.map(|v| -v), &markers, &dist.map(|v| v > fill)).expect("watershed")
}

fn scatter(w: usize, h: usize, seeds: &[(u32, u32)]) -> Image<u32> {
    let mut m = Image::filled(w, h, 0u32);
    for &(i, l) in seeds {
        m.data_mut()[i as usize] = l;
    }
    m
}

/// Maps of quantised bumps (plateaus and tied seeds) plus noise, some values exactly at the
/// thresholds.
fn bump_map(
    w: usize,
    h: usize,
    bumps: &[(usize, usize, u32, u32)],
    levels: u32,
    noise: u64,
) -> Image<f32> {
    let mut s = noise;
    let v = (0..w * h)
        .map(|i| {
            let (x, y) = ((i % w) as f32, (i / w) as f32);
            let best = bumps.iter().fold(0.0f32, |acc, &(cx, cy, r, height)| {
                let d2 = ((x - cx as f32).powi(2) + (y - cy as f32).powi(2)) / (r * r) as f32;
                acc.max(height as f32 / 64.0 * (1.0 - d2))
            });
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let jitter = ((s >> 40) % 3) as f32 / 64.0 * f32::from(u8::from(noise % 2 == 1));
            ((best + jitter) * levels as f32).floor() / levels as f32
        })
        .collect();
    Image::from_vec(w, h, v).expect("map")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn sparse_seeds_equal_the_marker_image(
        (w, h, bumps) in (1usize..=40, 1usize..=40).prop_flat_map(|(w, h)| {
            (Just(w), Just(h), proptest::collection::vec((0..w, 0..h, 1u32..=9, 20u32..=64), 1..=10))
        }),
        levels in 2u32..64, noise in any::<u64>()
    ) {
        let dist = bump_map(w, h, &bumps, levels, noise);
        let peak = dist.map(|v| u8::from(v > 0.47));
        let sparse = seed_list_from_peaks(w, h, |y, x| dist.get(x, y) > 0.47);
        prop_assert!(sparse.windows(2).all(|p| p[0].0 < p[1].0), "raster order, one per pixel");
        let (got, want) = (scatter(w, h, &sparse), seeds_from_peaks(&peak));
        prop_assert_eq!(got.data(), want.data());
    }

    #[test]
    fn lean_post_processing_equals_materialised(
        (w, h, bumps) in (1usize..=48, 1usize..=48).prop_flat_map(|(w, h)| {
            (Just(w), Just(h), proptest::collection::vec((0..w, 0..h, 1u32..=12, 20u32..=64), 1..=12))
        }),
        levels in 2u32..128, noise in any::<u64>(), fill_level in 0u32..40
    ) {
        let dist = bump_map(w, h, &bumps, levels, noise);
        let fill = fill_level as f32 / 64.0;
        let lean = cells_from_distance_map(&dist, 0.47, fill).expect("lean");
        let want = materialised(&dist, 0.47, fill);
        prop_assert_eq!(lean.data(), want.data());
    }
}

/// A 600x400 map of many touching, tied bumps (heap phase and bucket phase, seeds near the
/// border): equal to the materialised path.
#[test]
fn large_tied_map_equals_materialised() {
    let (w, h) = (600, 400);
    let mut bumps = Vec::new();
    let mut s = 5u64;
    for _ in 0..300 {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let r = (s >> 33) as usize;
        bumps.push((
            r % w,
            (r / w) % h,
            4 + (r % 13) as u32,
            34 + (r % 31) as u32,
        ));
    }
    let dist = bump_map(w, h, &bumps, 16, 3);
    let lean = cells_from_distance_map(&dist, 0.47, 0.09).expect("lean");
    let n = lean
        .data()
        .iter()
        .copied()
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    assert!(n > 100, "only {n} labels: the map should have many cells");
    assert_eq!(lean.data(), materialised(&dist, 0.47, 0.09).data());
}
