//! Tests of `label_polygons` against the naive even-odd rasteriser (`naive::rasterize_rings`):
//! filling every label's rings at pixel centres gives back exactly that label's pixels; there
//! is one polygon per 4-connected part, exteriors have positive and holes negative shoelace
//! area, rings are closed, without collinear or repeated vertices, and no two segments of a
//! label's rings touch except consecutive segments at their shared vertex. Vertices are pixel
//! corners, or lie `PINCH_CUT` from one where a pinch was cut. Exact: every coordinate is a
//! multiple of 1/64, so the orientation tests below have no rounding.

use proptest::prelude::*;
use samcell_imaging::{Image, Labels};
use samcell_morphology::naive::rasterize_rings;
use samcell_morphology::polygons::{signed_area, PINCH_CUT};
use samcell_morphology::{label_polygons, LabelPolygons};
use std::collections::BTreeSet;

fn orient(a: [f64; 2], b: [f64; 2], c: [f64; 2]) -> f64 {
    ((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])).signum()
}

fn on_segment(a: [f64; 2], b: [f64; 2], p: [f64; 2]) -> bool {
    orient(a, b, p) == 0.0
        && p[0] >= a[0].min(b[0])
        && p[0] <= a[0].max(b[0])
        && p[1] >= a[1].min(b[1])
        && p[1] <= a[1].max(b[1])
}

/// Closed segments `ab` and `cd` share at least one point.
fn touch(a: [f64; 2], b: [f64; 2], c: [f64; 2], d: [f64; 2]) -> bool {
    let (o1, o2, o3, o4) = (
        orient(a, b, c),
        orient(a, b, d),
        orient(c, d, a),
        orient(c, d, b),
    );
    (o1 * o2 < 0.0 && o3 * o4 < 0.0)
        || on_segment(a, b, c)
        || on_segment(a, b, d)
        || on_segment(c, d, a)
        || on_segment(c, d, b)
}

/// Number of 4-connected parts of `mask`, by flood fill.
fn parts(mask: &Image<bool>) -> usize {
    let (w, h) = (mask.width(), mask.height());
    let mut seen = vec![false; w * h];
    let mut n = 0;
    for s in 0..w * h {
        if !mask.data()[s] || seen[s] {
            continue;
        }
        n += 1;
        seen[s] = true;
        let mut stack = vec![s];
        while let Some(p) = stack.pop() {
            let (x, y) = (p % w, p / w);
            let nb = [
                (x > 0).then(|| p - 1),
                (x + 1 < w).then(|| p + 1),
                (y > 0).then(|| p - w),
                (y + 1 < h).then(|| p + w),
            ];
            for q in nb.into_iter().flatten() {
                if mask.data()[q] && !seen[q] {
                    seen[q] = true;
                    stack.push(q);
                }
            }
        }
    }
    n
}

/// Checks every documented property of `label_polygons(labels)` and returns the result.
fn check(labels: &Labels) -> Vec<LabelPolygons> {
    let (w, h) = (labels.width(), labels.height());
    let out = label_polygons(labels).unwrap();
    let present: BTreeSet<u32> = labels.data().iter().copied().filter(|&l| l != 0).collect();
    let got: Vec<u32> = out.iter().map(|l| l.label).collect();
    assert_eq!(got, present.into_iter().collect::<Vec<_>>());
    for lp in &out {
        let mask = labels.map(|v| v == lp.label);
        let all: Vec<&[[f64; 2]]> = lp.polygons.iter().flatten().map(|r| &r[..]).collect();
        assert_eq!(rasterize_rings(&all, w, h), mask, "label {}", lp.label);
        assert_eq!(lp.polygons.len(), parts(&mask), "label {}", lp.label);
        let mut covered = vec![0u32; w * h];
        for poly in &lp.polygons {
            let rings: Vec<&[[f64; 2]]> = poly.iter().map(|r| &r[..]).collect();
            let m = rasterize_rings(&rings, w, h);
            assert_eq!(parts(&m), 1);
            for (c, &v) in covered.iter_mut().zip(m.data()) {
                *c += u32::from(v);
            }
            assert!(
                signed_area(&poly[0]) > 0.0,
                "exterior not counter-clockwise"
            );
            for hole in &poly[1..] {
                assert!(signed_area(hole) < 0.0, "hole not clockwise");
            }
        }
        assert!(covered.iter().all(|&c| c <= 1), "polygons overlap");
        let mut segs = Vec::new();
        for (ri, ring) in all.iter().enumerate() {
            let n = ring.len() - 1;
            assert!(n >= 4 && ring[0] == ring[n], "ring not closed: {ring:?}");
            for i in 0..n {
                let (a, b, c) = (ring[i], ring[(i + 1) % n], ring[(i + 2) % n]);
                assert!(a != b, "repeated vertex");
                assert!(orient(a, b, c) != 0.0, "collinear vertex {b:?}");
                let near = |v: f64| (v - v.round()).abs();
                let (dx, dy) = (near(b[0]), near(b[1]));
                let off = [(0.0, 0.0), (0.0, PINCH_CUT), (PINCH_CUT, 0.0)];
                assert!(
                    off.contains(&(dx, dy)),
                    "vertex {b:?} off the pixel corners"
                );
                segs.push((ri, i, n, a, b));
            }
        }
        for (k, &(r1, i1, n1, a, b)) in segs.iter().enumerate() {
            for &(r2, i2, _, c, d) in &segs[k + 1..] {
                let adjacent = r1 == r2 && (i2 == i1 + 1 || (i1 == 0 && i2 == n1 - 1));
                if !adjacent {
                    assert!(
                        !touch(a, b, c, d),
                        "segments {a:?}-{b:?} and {c:?}-{d:?} touch"
                    );
                }
            }
        }
    }
    out
}

fn img(rows: &[&[u32]]) -> Labels {
    let w = rows[0].len();
    Image::from_vec(w, rows.len(), rows.concat()).unwrap()
}

#[test]
fn one_pixel_cell() {
    let out = check(&img(&[&[0, 0, 0], &[0, 7, 0], &[0, 0, 0]]));
    let ring = vec![[2.0, 1.0], [2.0, 2.0], [1.0, 2.0], [1.0, 1.0], [2.0, 1.0]];
    assert_eq!(out[0].label, 7);
    assert_eq!(out[0].polygons, vec![vec![ring]]);
}

#[test]
fn cell_with_a_hole() {
    let out = check(&img(&[&[1, 1, 1], &[1, 0, 1], &[1, 1, 1]]));
    assert_eq!(out[0].polygons.len(), 1);
    let poly = &out[0].polygons[0];
    assert_eq!(poly.len(), 2);
    assert_eq!(signed_area(&poly[0]), 9.0);
    assert_eq!(signed_area(&poly[1]), -1.0);
    // Another label inside the hole is a hole for label 1 and a polygon of its own.
    let out = check(&img(&[&[1, 1, 1], &[1, 2, 1], &[1, 1, 1]]));
    assert_eq!(out[0].polygons[0].len(), 2);
    assert_eq!(
        out[1].polygons,
        vec![vec![vec![
            [2.0, 1.0],
            [2.0, 2.0],
            [1.0, 2.0],
            [1.0, 1.0],
            [2.0, 1.0]
        ]]]
    );
}

#[test]
fn pinch_between_two_parts_is_cut() {
    let out = check(&img(&[&[3, 0], &[0, 3]]));
    assert_eq!(
        out[0].polygons.len(),
        2,
        "diagonal pixels are separate parts"
    );
    let c = PINCH_CUT;
    assert!(out[0].polygons[0][0].contains(&[1.0, 1.0 - c]));
    assert!(out[0].polygons[1][0].contains(&[1.0, 1.0 + c]));
    assert!(!out[0]
        .polygons
        .iter()
        .flatten()
        .flatten()
        .any(|v| *v == [1.0, 1.0]));
}

#[test]
fn pinch_of_a_part_with_itself_is_cut() {
    // A ring of pixels closed only through a corner: one part, no hole (the inside reaches
    // the outside through the corner), its outline passes the corner twice and is cut there.
    let out = check(&img(&[
        &[0, 1, 1, 1],
        &[1, 0, 0, 1],
        &[1, 0, 0, 1],
        &[1, 1, 1, 1],
    ]));
    assert_eq!(out[0].polygons.len(), 1);
    assert_eq!(out[0].polygons[0].len(), 1);
    assert_eq!(
        signed_area(&out[0].polygons[0][0]),
        11.0 - PINCH_CUT * PINCH_CUT
    );
}

#[test]
fn cells_touching_the_border() {
    let out = check(&img(&[&[5, 5, 6], &[5, 6, 6]]));
    assert_eq!(signed_area(&out[0].polygons[0][0]), 3.0);
    assert_eq!(out[0].polygons[0][0][0], [2.0, 0.0]);
    let out = check(&Image::filled(4, 3, 9u32));
    assert_eq!(
        out[0].polygons,
        vec![vec![vec![
            [4.0, 0.0],
            [4.0, 3.0],
            [0.0, 3.0],
            [0.0, 0.0],
            [4.0, 0.0]
        ]]]
    );
    assert!(check(&Image::filled(3, 2, 0u32)).is_empty());
}

/// Random label images: few labels on small images, so holes, pinches, multi-part labels and
/// border contact are all frequent.
fn labels() -> impl Strategy<Value = Labels> {
    (1usize..=12, 1usize..=12, 1u32..=4).prop_flat_map(|(w, h, k)| {
        proptest::collection::vec(0..=k, w * h).prop_map(move |v| Image::from_vec(w, h, v).unwrap())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn polygons_fill_back_to_the_labels(l in labels()) {
        check(&l);
    }
}
