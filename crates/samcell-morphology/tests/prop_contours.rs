//! Property tests of the contour tracer against `naive::external_objects` (flood fills):
//! `findContours(RETR_EXTERNAL, CHAIN_APPROX_SIMPLE)` must return one contour per 8-connected
//! object touching the outer background (objects inside holes excluded), in reverse raster
//! order of the objects' first pixels, starting at that first pixel; the chain between the
//! points must run in straight 8-direction steps over the object's pixels and visit exactly
//! the object's outer border pixels. Seeds must be the truncated polygon centroid. Exact.

use proptest::prelude::*;
use samcell_imaging::Image;
use samcell_morphology::{contour_seed, external_contours, naive, seeds_from_peaks};
use std::collections::BTreeSet;

/// Random masks: salt noise of random density, or random filled/hollow rectangles.
fn mask() -> impl Strategy<Value = Image<u8>> {
    let noise = (1usize..=24, 1usize..=24, 5u8..=95).prop_flat_map(|(w, h, p)| {
        proptest::collection::vec(0u8..100, w * h).prop_map(move |v| {
            Image::from_vec(w, h, v.iter().map(|&x| u8::from(x < p)).collect()).unwrap()
        })
    });
    let rects = (1usize..=24, 1usize..=24).prop_flat_map(|(w, h)| {
        proptest::collection::vec((0..w, 0..h, 1..=w, 1..=h, any::<bool>()), 1..6).prop_map(
            move |rs| {
                let mut m = Image::filled(w, h, 0u8);
                for (x0, y0, rw, rh, hollow) in rs {
                    let (x1, y1) = ((x0 + rw).min(w), (y0 + rh).min(h));
                    for y in y0..y1 {
                        for x in x0..x1 {
                            let edge = x == x0 || y == y0 || x + 1 == x1 || y + 1 == y1;
                            // Hollow rectangles toggle their border: rings, holes, islands in holes.
                            let v = if hollow {
                                u8::from(edge) ^ m.get(x, y)
                            } else {
                                1
                            };
                            m.set(x, y, v);
                        }
                    }
                }
                m
            },
        )
    });
    prop_oneof![noise, rects]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    #[test]
    fn contours_trace_exactly_the_outer_borders(m in mask()) {
        let contours = external_contours(&m);
        let objects = naive::external_objects(&m);
        prop_assert_eq!(contours.len(), objects.len(), "one contour per external object");
        for (c, o) in contours.iter().zip(&objects) {
            prop_assert_eq!(c[0], o.first, "contour starts at the object's first pixel");
            let chain = naive::expand_chain(c);
            prop_assert!(chain.is_some(), "points joined by straight 8-direction runs: {:?}", c);
            let chain = chain.unwrap_or_default();
            for p in &chain {
                prop_assert!(o.pixels.contains(p), "chain pixel {:?} outside its object", p);
            }
            for pair in chain.windows(2) {
                let (d, e) = ((pair[1].0 - pair[0].0).abs(), (pair[1].1 - pair[0].1).abs());
                prop_assert!((d <= 1 && e <= 1 && (d, e) != (0, 0)) || chain.len() == 1);
            }
            let visited: BTreeSet<(i32, i32)> = chain.iter().copied().collect();
            prop_assert_eq!(&visited, &o.border, "chain visits exactly the outer border pixels");
        }
    }

    #[test]
    fn seeds_are_truncated_polygon_centroids(m in mask()) {
        let contours = external_contours(&m);
        for c in &contours {
            let seed = contour_seed(c);
            if c.len() < 3 {
                prop_assert_eq!(seed, None);
                continue;
            }
            // Exact integer shoelace sums: 2*area and 6*area*centroid.
            let (mut a, mut sx, mut sy) = (0i64, 0i64, 0i64);
            for k in 0..c.len() {
                let (x0, y0) = (i64::from(c[(k + c.len() - 1) % c.len()].0), i64::from(c[(k + c.len() - 1) % c.len()].1));
                let (x1, y1) = (i64::from(c[k].0), i64::from(c[k].1));
                let cross = x0 * y1 - x1 * y0;
                a += cross;
                sx += cross * (x0 + x1);
                sy += cross * (y0 + y1);
            }
            let (sx_, sy_) = seed.unwrap_or((i32::MIN, i32::MIN));
            if a == 0 {
                let n = c.len() as i64;
                prop_assert_eq!((sx_, sy_), ((c.iter().map(|p| i64::from(p.0)).sum::<i64>() / n) as i32, (c.iter().map(|p| i64::from(p.1)).sum::<i64>() / n) as i32));
            } else {
                // Centroid = s / (3a); the seed truncates it toward zero. When the quotient is an
                // exact integer, float rounding may land one below: accept either then.
                for (s, got) in [(sx, sx_), (sy, sy_)] {
                    let q = s / (3 * a);
                    let exact = s % (3 * a) == 0;
                    prop_assert!(i64::from(got) == q || (exact && i64::from(got) == q - 1), "seed {} vs centroid {}/{}", got, s, 3 * a);
                }
            }
        }
    }

    #[test]
    fn marker_ids_are_contour_indices(m in mask()) {
        let contours = external_contours(&m);
        let markers = seeds_from_peaks(&m);
        let ids: BTreeSet<u32> = markers.data().iter().copied().filter(|&v| v != 0).collect();
        let with_seed: BTreeSet<u32> = contours.iter().enumerate().filter(|(_, c)| c.len() >= 3).map(|(i, _)| i as u32 + 1).collect();
        prop_assert!(ids.is_subset(&with_seed), "{:?} not within {:?}", ids, with_seed);
        // The last contour with a seed is never overwritten.
        if let Some(&last) = with_seed.iter().max() {
            prop_assert!(ids.contains(&last));
        }
    }
}
