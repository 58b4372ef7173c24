//! Property tests: on random small label images (noise, so cells are ragged and fragmented) the
//! optimised one-pass engine agrees with direct, slow implementations of the definitions in
//! `samcell_measure::measure`: neighbours by all pixel pairs, outlines and touching pixels by
//! 8-neighbourhoods, the skimage perimeter by its neighbourhood code over the label's boundary
//! image, the convex image by testing every pixel centre against the hull of all pixels' edge
//! midpoints, the maximum Feret diameter over all contour midpoints, the moments by pixel sums.

use proptest::prelude::*;
use samcell_imaging::Labels;
use samcell_measure::{measure_labels, MeasureConfig};

type P = (i64, i64);

fn cross(o: P, a: P, b: P) -> i64 {
    (a.0 - o.0) * (b.1 - o.1) - (a.1 - o.1) * (b.0 - o.0)
}

/// Counter-clockwise hull by gift wrapping over all points (slow, independent of the crate's).
fn hull(pts: &[P]) -> Vec<P> {
    let mut pts = pts.to_vec();
    pts.sort_unstable();
    pts.dedup();
    if pts.len() < 3 {
        return pts;
    }
    let start = pts[0];
    let mut h = vec![start];
    let mut cur = start;
    loop {
        let mut next = if pts[0] == cur { pts[1] } else { pts[0] };
        for &p in &pts {
            let c = cross(cur, next, p);
            let farther = (p.0 - cur.0).pow(2) + (p.1 - cur.1).pow(2)
                > (next.0 - cur.0).pow(2) + (next.1 - cur.1).pow(2);
            if c < 0 || (c == 0 && farther) {
                next = p;
            }
        }
        if next == start {
            break;
        }
        h.push(next);
        cur = next;
    }
    h
}

struct Brute {
    area: u64,
    perimeter: f64,
    convex_area: u64,
    max_feret: f64,
    cx: f64,
    cy: f64,
    outline: u64,
    touching: u64,
}

fn brute_cell(l: &Labels, k: u32) -> Brute {
    let (w, h) = (l.width() as i64, l.height() as i64);
    let at = |x: i64, y: i64| {
        if x < 0 || y < 0 || x >= w || y >= h {
            None
        } else {
            Some(l.get(x as usize, y as usize))
        }
    };
    let mine = |x: i64, y: i64| at(x, y) == Some(k);
    let border = |x: i64, y: i64| {
        mine(x, y)
            && [(1, 0), (-1, 0), (0, 1), (0, -1)]
                .iter()
                .any(|&(dx, dy)| !mine(x + dx, y + dy))
    };
    let (mut area, mut sx, mut sy, mut outline, mut touching) = (0u64, 0f64, 0f64, 0u64, 0u64);
    let mut counts = [0u64; 50];
    let mut diamond: Vec<P> = Vec::new();
    for y in 0..h {
        for x in 0..w {
            if !mine(x, y) {
                continue;
            }
            area += 1;
            sx += x as f64;
            sy += y as f64;
            diamond.extend_from_slice(&[
                (2 * x - 1, 2 * y),
                (2 * x + 1, 2 * y),
                (2 * x, 2 * y - 1),
                (2 * x, 2 * y + 1),
            ]);
            let n8: Vec<Option<u32>> = (-1..=1)
                .flat_map(|dy| (-1..=1).map(move |dx| (dx, dy)))
                .filter(|&d| d != (0, 0))
                .map(|(dx, dy)| at(x + dx, y + dy))
                .collect();
            if n8.iter().any(|v| *v != Some(k)) {
                outline += 1;
            }
            if n8
                .iter()
                .any(|v| matches!(v, Some(o) if *o != 0 && *o != k))
            {
                touching += 1;
            }
            if border(x, y) {
                let mut code = 1;
                for (dx, dy) in [(1, 0), (-1, 0), (0, 1), (0, -1)] {
                    code += 2 * usize::from(border(x + dx, y + dy));
                }
                for (dx, dy) in [(1, 1), (-1, 1), (1, -1), (-1, -1)] {
                    code += 10 * usize::from(border(x + dx, y + dy));
                }
                counts[code] += 1;
            }
        }
    }
    let s2 = std::f64::consts::SQRT_2;
    let perimeter = [5, 7, 15, 17, 25, 27]
        .iter()
        .map(|&c| counts[c] as f64)
        .sum::<f64>()
        + (counts[21] + counts[33]) as f64 * s2
        + (counts[13] + counts[23]) as f64 * (1.0 + s2) / 2.0;
    let hl = hull(&diamond);
    let inside = |x: i64, y: i64| {
        (0..hl.len()).all(|i| cross(hl[i], hl[(i + 1) % hl.len()], (2 * x, 2 * y)) >= 0)
    };
    let mut convex_area = 0;
    let mut contour: Vec<P> = Vec::new();
    for y in -1..=h {
        for x in -1..=w {
            if inside(x, y) {
                convex_area += 1;
                for (dx, dy) in [(1, 0), (-1, 0), (0, 1), (0, -1)] {
                    if !inside(x + dx, y + dy) {
                        contour.push((2 * x + dx, 2 * y + dy));
                    }
                }
            }
        }
    }
    let mut md = 0i64;
    for a in &contour {
        for b in &contour {
            md = md.max((a.0 - b.0).pow(2) + (a.1 - b.1).pow(2));
        }
    }
    Brute {
        area,
        perimeter,
        convex_area,
        max_feret: (md as f64).sqrt() / 2.0,
        cx: sx / area as f64,
        cy: sy / area as f64,
        outline,
        touching,
    }
}

fn min_d2(l: &Labels, a: u32, b: u32) -> i64 {
    let pts = |k: u32| -> Vec<P> {
        (0..l.height())
            .flat_map(|y| (0..l.width()).map(move |x| (x, y)))
            .filter(|&(x, y)| l.get(x, y) == k)
            .map(|(x, y)| (x as i64, y as i64))
            .collect()
    };
    let (pa, pb) = (pts(a), pts(b));
    let mut m = i64::MAX;
    for p in &pa {
        for q in &pb {
            m = m.min((p.0 - q.0).pow(2) + (p.1 - q.1).pow(2));
        }
    }
    m
}

fn labels_strategy() -> impl Strategy<Value = Labels> {
    (1usize..14, 1usize..12).prop_flat_map(|(w, h)| {
        proptest::collection::vec(prop_oneof![3 => Just(0u32), 1 => Just(1u32), 1 => Just(2u32), 1 => Just(7u32), 1 => Just(40u32)], w * h)
            .prop_map(move |v| Labels::from_vec(w, h, v).expect("labels"))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(160))]

    #[test]
    fn engine_matches_direct_definitions(l in labels_strategy(), nd in 1u32..4) {
        let m = measure_labels(&l, None, &MeasureConfig { neighbor_distance: nd }).expect("measure");
        let ids: Vec<u32> = m.cells.iter().map(|c| c.label).collect();
        for c in &m.cells {
            let b = brute_cell(&l, c.label);
            prop_assert_eq!(c.area, b.area);
            prop_assert!((c.perimeter - b.perimeter).abs() < 1e-9, "perimeter {} vs {}", c.perimeter, b.perimeter);
            prop_assert_eq!(c.convex_area, b.convex_area, "convex area of {}", c.label);
            prop_assert!((c.max_feret - b.max_feret).abs() < 1e-12, "max feret {} vs {}", c.max_feret, b.max_feret);
            prop_assert!(c.min_feret <= c.max_feret + 1e-12 && c.min_feret > 0.0);
            prop_assert!((c.center_x - b.cx).abs() < 1e-9 && (c.center_y - b.cy).abs() < 1e-9);
            prop_assert!(c.minor_axis_length <= c.major_axis_length + 1e-12);
            let pt = 100.0 * b.touching as f64 / b.outline as f64;
            prop_assert!((c.percent_touching - pt).abs() < 1e-12, "percent touching {} vs {}", c.percent_touching, pt);
            let (mut adj, mut within) = (0, 0);
            for &o in &ids {
                if o == c.label {
                    continue;
                }
                let d = min_d2(&l, c.label, o);
                adj += u32::from(d <= 1);
                within += u32::from(d <= i64::from(nd * nd));
            }
            prop_assert_eq!(c.neighbors_adjacent, adj, "adjacent neighbours of {}", c.label);
            prop_assert_eq!(c.neighbors_within, within, "neighbours within {} of {}", nd, c.label);
        }
    }
}
