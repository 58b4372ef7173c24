//! Property tests: the fast watershed (value ranks and a bucket queue) against the naive
//! linear-scan restatement in `samcell_morphology::naive`, on small maps with many ties, random
//! markers and random masks; plus invariants that hold for any seeded flooding.
//!
//! The only documented difference between the two is the order of *markers with equal
//! values* (skimage's heap vs raster order), so the inputs give markers distinct values
//! (pixels may still tie with markers and with each other). With distinct marker values the
//! fast path is the rank-based bucket queue alone; the exact binary-heap simulation (the path
//! for tied markers, and for NaN) is checked against the naive version as well. Tolerance:
//! exact labels.

use proptest::prelude::*;
use samcell_imaging::Image;
use samcell_morphology::{cells_from_distance_map, naive, seeds_from_peaks, watershed};
use std::collections::{BTreeSet, VecDeque};

/// (image, markers, mask) with `levels` distinct grey values (many ties).
fn tied_case() -> impl Strategy<Value = (Image<f32>, Image<u32>, Image<bool>)> {
    (1usize..=18, 1usize..=18, 1u8..=6, 40u8..=100).prop_flat_map(|(w, h, levels, mask_pct)| {
        let n = w * h;
        (
            proptest::collection::vec(0..levels, n),
            proptest::collection::vec(0u8..100, n),
            proptest::collection::vec(0u8..100, n),
        )
            .prop_map(move |(v, m, k)| {
                let image = Image::from_vec(
                    w,
                    h,
                    v.iter()
                        .map(|&x| f32::from(x) / f32::from(levels) - 0.5)
                        .collect(),
                )
                .unwrap();
                // ~8% markers with labels 1..=5 (several markers can share a label).
                let markers = Image::from_vec(
                    w,
                    h,
                    m.iter()
                        .map(|&x| {
                            if x >= 92 {
                                u32::from(x - 91) % 5 + 1
                            } else {
                                0
                            }
                        })
                        .collect(),
                )
                .unwrap();
                let mask =
                    Image::from_vec(w, h, k.iter().map(|&x| x < mask_pct).collect()).unwrap();
                (image, markers, mask)
            })
    })
}

fn continuous_case() -> impl Strategy<Value = (Image<f32>, Image<u32>, Image<bool>)> {
    (1usize..=16, 1usize..=16).prop_flat_map(|(w, h)| {
        let n = w * h;
        (
            proptest::collection::vec(-1.0f32..1.0, n),
            proptest::collection::vec(0u32..40, n),
            proptest::collection::vec(0u8..100, n),
        )
            .prop_map(move |(v, m, k)| {
                let markers = m
                    .iter()
                    .map(|&x| if x >= 36 { x - 35 } else { 0 })
                    .collect();
                (
                    Image::from_vec(w, h, v).unwrap(),
                    Image::from_vec(w, h, markers).unwrap(),
                    Image::from_vec(w, h, k.iter().map(|&x| x < 85).collect()).unwrap(),
                )
            })
    })
}

/// Drops every in-mask marker whose value equals an earlier in-mask marker's value.
fn distinct_marker_values(
    image: &Image<f32>,
    markers: &Image<u32>,
    mask: &Image<bool>,
) -> Image<u32> {
    let mut seen = Vec::new();
    let mut out = markers.clone();
    for (i, m) in out.data_mut().iter_mut().enumerate() {
        if *m != 0 && mask.data()[i] {
            let v = image.data()[i];
            if seen.contains(&v) {
                *m = 0;
            } else {
                seen.push(v);
            }
        }
    }
    out
}

/// Invariants of any seeded flooding without watershed line: labels only inside the mask;
/// markers inside the mask keep their label; a mask component is fully labelled iff it holds
/// a marker; every labelled pixel is joined to a marker of its label through pixels of that
/// label (4-connectivity).
fn check_invariants(
    markers: &Image<u32>,
    mask: &Image<bool>,
    labels: &Image<u32>,
) -> Result<(), TestCaseError> {
    let (w, h) = (labels.width(), labels.height());
    let n = w * h;
    let neighbours = |i: usize| {
        let (x, y) = (i % w, i / w);
        let mut v = Vec::with_capacity(4);
        if y > 0 {
            v.push(i - w);
        }
        if x > 0 {
            v.push(i - 1);
        }
        if x + 1 < w {
            v.push(i + 1);
        }
        if y + 1 < h {
            v.push(i + w);
        }
        v
    };
    let (m, k, l) = (markers.data(), mask.data(), labels.data());
    for i in 0..n {
        prop_assert!(k[i] || l[i] == 0, "label outside mask at {i}");
        if k[i] && m[i] != 0 {
            prop_assert_eq!(l[i], m[i], "marker overwritten at {}", i);
        }
    }
    // Components of the mask: labelled iff they contain a marker.
    let mut comp = vec![usize::MAX; n];
    for s in 0..n {
        if !k[s] || comp[s] != usize::MAX {
            continue;
        }
        let mut members = vec![s];
        comp[s] = s;
        let mut q = VecDeque::from([s]);
        while let Some(i) = q.pop_front() {
            for j in neighbours(i) {
                if k[j] && comp[j] == usize::MAX {
                    comp[j] = s;
                    members.push(j);
                    q.push_back(j);
                }
            }
        }
        let has_marker = members.iter().any(|&i| m[i] != 0);
        for &i in &members {
            prop_assert_eq!(
                l[i] != 0,
                has_marker,
                "pixel {} labelled={} but component has marker={}",
                i,
                l[i] != 0,
                has_marker
            );
        }
    }
    // Each label region is reachable from a marker of that label inside the region.
    let mut reached = vec![false; n];
    let mut q: VecDeque<usize> = (0..n).filter(|&i| k[i] && m[i] != 0).collect();
    for &i in &q {
        reached[i] = true;
    }
    while let Some(i) = q.pop_front() {
        for j in neighbours(i) {
            if !reached[j] && l[j] != 0 && l[j] == l[i] {
                reached[j] = true;
                q.push_back(j);
            }
        }
    }
    for i in 0..n {
        prop_assert!(
            l[i] == 0 || reached[i],
            "pixel {} (label {}) not connected to its marker",
            i,
            l[i]
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, max_global_rejects: 4000, ..ProptestConfig::default() })]

    #[test]
    fn fast_equals_naive_on_tied_maps((image, markers, mask) in tied_case()) {
        let markers = distinct_marker_values(&image, &markers, &mask);
        let fast = watershed(&image, &markers, &mask).unwrap();
        let slow = naive::watershed(&image, &markers, &mask).unwrap();
        prop_assert_eq!(fast.data(), slow.data());
        // The exact heap simulation (used when markers tie) agrees too.
        let heap = naive::watershed_exact_heap(&image, &markers, &mask).unwrap();
        prop_assert_eq!(heap.data(), slow.data());
        check_invariants(&markers, &mask, &fast)?;
    }

    #[test]
    fn fast_equals_naive_on_continuous_maps((image, markers, mask) in continuous_case()) {
        let markers = distinct_marker_values(&image, &markers, &mask);
        let fast = watershed(&image, &markers, &mask).unwrap();
        let slow = naive::watershed(&image, &markers, &mask).unwrap();
        prop_assert_eq!(fast.data(), slow.data());
        check_invariants(&markers, &mask, &fast)?;
    }

    /// Equal-valued markers: the order comes from skimage's heap, which the naive version does
    /// not model. The fast path (exact heap phase on ranks, then buckets) must equal the plain
    /// heap simulation on `f32` values, and the flooding invariants must hold.
    #[test]
    fn fast_equals_exact_heap_with_tied_markers((image, markers, mask) in tied_case()) {
        let fast = watershed(&image, &markers, &mask).unwrap();
        let heap = naive::watershed_exact_heap(&image, &markers, &mask).unwrap();
        prop_assert_eq!(fast.data(), heap.data());
        check_invariants(&markers, &mask, &fast)?;
    }

    /// The whole post-processing against naive flooding of its own seeds, on maps made of a
    /// few quantised paraboloid bumps (plateaus, touching cells, cells on the border).
    #[test]
    fn cells_from_distance_map_equals_naive_flooding(
        (w, h, bumps) in (1usize..=24, 1usize..=24).prop_flat_map(|(w, h)| {
            (Just(w), Just(h), proptest::collection::vec((0..w, 0..h, 1u32..=8, 30u32..=64), 1..=6))
        })
    ) {
        let mut v = vec![0.0f32; w * h];
        for (i, p) in v.iter_mut().enumerate() {
            let (x, y) = ((i % w) as f32, (i / w) as f32);
            let best = bumps.iter().fold(0.0f32, |acc, &(cx, cy, r, height)| {
                let d2 = ((x - cx as f32).powi(2) + (y - cy as f32).powi(2)) / (r * r) as f32;
                acc.max(height as f32 / 64.0 * (1.0 - d2))
            });
            *p = (best * 64.0).floor() / 64.0;
        }
        let dist = Image::from_vec(w, h, v).unwrap();
        let labels = cells_from_distance_map(&dist, 0.47, 0.09).unwrap();
        let seeds = seeds_from_peaks(&dist.map(|x| u8::from(x > 0.47)));
        let neg = dist.map(|x| -x);
        let fill = dist.map(|x| x > 0.09);
        let seed_values: Vec<f32> = (0..w * h).filter(|&i| seeds.data()[i] != 0 && fill.data()[i]).map(|i| neg.data()[i]).collect();
        let distinct: BTreeSet<u32> = seed_values.iter().map(|v| v.to_bits()).collect();
        prop_assume!(distinct.len() == seed_values.len());
        let slow = naive::watershed(&neg, &seeds, &fill).unwrap();
        prop_assert_eq!(labels.data(), slow.data());
        check_invariants(&seeds, &fill, &labels)?;
    }
}
