//! Exact convex-hull geometry for one label, in doubled integer coordinates (`X = 2x`, `Y = 2y`)
//! so that pixel-edge midpoints are integers and every test is exact integer arithmetic.
//!
//! Reference: scikit-image 0.25.2.
//! - `convex_hull_image(image)` (defaults `offset_coordinates=True`, `include_borders=True`):
//!   the hull of the four edge midpoints `(r ± 0.5, c)`, `(r, c ± 0.5)` of the object's pixels,
//!   rasterised as every pixel centre inside the hull *or on its boundary*. Row extremes of the
//!   object are enough to span the same hull (skimage's `possible_hull` keeps row and column
//!   extremes). `area_convex` counts those pixels.
//! - `feret_diameter_max`: `find_contours(pad(image_convex, 2), 0.5)` followed by the largest
//!   pairwise distance. On a binary image the level-0.5 contour points are exactly the midpoints
//!   between 4-adjacent inside/outside pixel pairs; the convex image being convex, those are the
//!   two ends of every row and column of it. The largest distance is found on their hull.
//! - Minimum Feret diameter (not in skimage): the smallest caliper width of the same point set,
//!   i.e. the minimum over hull edges of the largest distance of a hull vertex to the edge line.

/// A point in doubled coordinates.
pub(crate) type P = (i64, i64);

#[inline]
fn cross(o: P, a: P, b: P) -> i64 {
    (a.0 - o.0) * (b.1 - o.1) - (a.1 - o.1) * (b.0 - o.0)
}

/// Andrew's monotone chain: counter-clockwise hull (in x-right/y-down axes: clockwise on screen)
/// without collinear points. `pts` is sorted (unless it already is) and deduplicated in place.
pub(crate) fn convex_hull(pts: &mut Vec<P>) -> Vec<P> {
    if !pts.is_sorted() {
        pts.sort_unstable();
    }
    pts.dedup();
    if pts.len() < 3 {
        return pts.clone();
    }
    let mut h: Vec<P> = Vec::with_capacity(2 * pts.len());
    for &p in pts.iter() {
        while h.len() >= 2 && cross(h[h.len() - 2], h[h.len() - 1], p) <= 0 {
            h.pop();
        }
        h.push(p);
    }
    let lower = h.len() + 1;
    for &p in pts.iter().rev().skip(1) {
        while h.len() >= lower && cross(h[h.len() - 2], h[h.len() - 1], p) <= 0 {
            h.pop();
        }
        h.push(p);
    }
    h.pop();
    h
}

/// For every integer line `k` with `2k` inside the hull's `Y` range: the integer range
/// `[ceil(XL/2), floor(XR/2)]` of `x` with `2x` in the hull's intersection `[XL, XR]` with `Y = 2k`
/// (possibly empty: `lo > hi`). Returns the first `k` and the ranges.
pub(crate) fn scan_extents(hull: &[P]) -> (i64, Vec<(i64, i64)>) {
    let ymin = hull.iter().map(|p| p.1).min().unwrap_or(0);
    let ymax = hull.iter().map(|p| p.1).max().unwrap_or(-1);
    let k0 = ymin.div_euclid(2) + i64::from(ymin.rem_euclid(2) != 0);
    let k1 = ymax.div_euclid(2);
    if k1 < k0 {
        return (k0, Vec::new());
    }
    let mut ext = vec![(i64::MAX, i64::MIN); (k1 - k0 + 1) as usize];
    let n = hull.len();
    for i in 0..n {
        let (mut a, mut b) = (hull[i], hull[(i + 1) % n]);
        if a.1 > b.1 {
            std::mem::swap(&mut a, &mut b);
        }
        let ka = ceil_div(a.1, 2);
        let kb = b.1.div_euclid(2);
        if ka > kb {
            continue;
        }
        if a.1 == b.1 {
            // horizontal edge on the line Y = 2k: both end points
            let slot = &mut ext[(ka - k0) as usize];
            for x in [a.0, b.0] {
                slot.0 = slot.0.min(ceil_div(x, 2));
                slot.1 = slot.1.max(x.div_euclid(2));
            }
            continue;
        }
        // X(k) = a.x + (b.x - a.x) (2k - a.y) / (b.y - a.y) = num / den; x = X / 2 = num / (2 den),
        // stepped without division: num grows by 2 (b.x - a.x) per line
        let (dx, den) = (b.0 - a.0, b.1 - a.1);
        let d = 2 * den;
        let num = a.0 * den + dx * (2 * ka - a.1);
        let (mut q, mut r) = (num.div_euclid(d), num.rem_euclid(d));
        let (sq, sr) = ((2 * dx).div_euclid(d), (2 * dx).rem_euclid(d));
        for k in ka..=kb {
            let slot = &mut ext[(k - k0) as usize];
            slot.0 = slot.0.min(q + i64::from(r != 0));
            slot.1 = slot.1.max(q);
            q += sq;
            r += sr;
            if r >= d {
                r -= d;
                q += 1;
            }
        }
    }
    (k0, ext)
}

#[inline]
fn ceil_div(a: i64, b: i64) -> i64 {
    a.div_euclid(b) + i64::from(a.rem_euclid(b) != 0)
}

/// Hull geometry of one object.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct HullGeometry {
    /// Pixels of skimage's `convex_hull_image` (`area_convex`).
    pub convex_area: u64,
    /// skimage `feret_diameter_max`, px.
    pub max_feret: f64,
    /// Minimum caliper width of the same contour points, px.
    pub min_feret: f64,
}

/// Hull geometry from the object's row extremes `(y, x_min, x_max)`, sorted by `y` (any order
/// works, sorted input skips the sorts).
pub(crate) fn hull_geometry(rows: &[(i64, i64, i64)]) -> HullGeometry {
    // Edge midpoints of the extreme pixels, as levels Y = 2y - 1, 2y, 2y + 1 with their smallest
    // and largest X (points between them on a level are never hull vertices). In (Y, X) order the
    // points come out sorted, so the hull is built in swapped coordinates.
    let mut lv: Vec<(i64, i64, i64)> = Vec::with_capacity(3 * rows.len());
    for &(y, l, r) in rows {
        for (yy, a, b) in [
            (2 * y - 1, 2 * l, 2 * r),
            (2 * y, 2 * l - 1, 2 * r + 1),
            (2 * y + 1, 2 * l, 2 * r),
        ] {
            match lv.last_mut() {
                Some(last) if last.0 == yy => {
                    last.1 = last.1.min(a);
                    last.2 = last.2.max(b);
                }
                _ => lv.push((yy, a, b)),
            }
        }
    }
    let mut pts: Vec<P> = lv
        .iter()
        .flat_map(|&(yy, a, b)| [(yy, a), (yy, b)])
        .collect();
    let hull_s = convex_hull(&mut pts); // (Y, X)
    let hull_o: Vec<P> = hull_s.iter().map(|&(y, x)| (x, y)).collect();
    // rows and columns of the convex image
    let (y0, row_ext) = scan_extents(&hull_o);
    let (x0, col_ext) = scan_extents(&hull_s);
    let mut convex_area = 0u64;
    // contour points on levels Y = 2 y0 - 1 .. = 2 y_last + 1: row ends on even Y, column ends on odd Y
    let nlev = 2 * row_ext.len() + 1;
    let mut lev = vec![(i64::MAX, i64::MIN); nlev];
    let put = |lev: &mut Vec<(i64, i64)>, i: i64, x: i64| {
        if let Some(e) = usize::try_from(i).ok().and_then(|i| lev.get_mut(i)) {
            e.0 = e.0.min(x);
            e.1 = e.1.max(x);
        }
    };
    for (i, &(lo, hi)) in row_ext.iter().enumerate() {
        if lo <= hi {
            convex_area += (hi - lo + 1) as u64;
            put(&mut lev, 2 * i as i64 + 1, 2 * lo - 1);
            put(&mut lev, 2 * i as i64 + 1, 2 * hi + 1);
        }
    }
    for (j, &(top, bottom)) in col_ext.iter().enumerate() {
        if top <= bottom {
            let x = 2 * (x0 + j as i64);
            put(&mut lev, 2 * (top - y0), x);
            put(&mut lev, 2 * (bottom - y0) + 2, x);
        }
    }
    let mut contour: Vec<P> = Vec::with_capacity(2 * nlev);
    for (i, &(a, b)) in lev.iter().enumerate() {
        if a <= b {
            let yy = 2 * y0 - 1 + i as i64;
            contour.push((yy, a));
            contour.push((yy, b));
        }
    }
    // swapped coordinates: a reflection, which keeps distances and widths
    let ch = convex_hull(&mut contour);
    let (max_d2, min_w2) = calipers(&ch);
    HullGeometry {
        convex_area,
        max_feret: (max_d2 as f64).sqrt() / 2.0,
        min_feret: min_w2 / 2.0,
    }
}

/// Rotating calipers on a counter-clockwise hull without collinear points: the largest squared
/// distance between two vertices and the smallest width (both in the hull's units).
pub(crate) fn calipers(h: &[P]) -> (i64, f64) {
    let n = h.len();
    match n {
        0 => return (0, f64::NAN),
        1 => return (0, 0.0),
        2 => return (d2(h[0], h[1]), 0.0),
        _ => {}
    }
    let mut max_d2 = 0i64;
    let mut min_w = f64::INFINITY;
    let mut j = 1usize;
    for i in 0..n {
        let a = h[i];
        let b = h[(i + 1) % n];
        // advance j to the vertex farthest from the line a-b
        while cross(a, b, h[(j + 1) % n]) > cross(a, b, h[j]) {
            j = (j + 1) % n;
        }
        let w = cross(a, b, h[j]) as f64 / (d2(a, b) as f64).sqrt();
        min_w = min_w.min(w);
        max_d2 = max_d2.max(d2(a, h[j])).max(d2(b, h[j]));
    }
    (max_d2, min_w)
}

#[inline]
fn d2(a: P, b: P) -> i64 {
    let dx = a.0 - b.0;
    let dy = a.1 - b.1;
    dx * dx + dy * dy
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn brute(h: &[P]) -> (i64, f64) {
        let mut md = 0;
        for a in h {
            for b in h {
                md = md.max(d2(*a, *b));
            }
        }
        let n = h.len();
        let mut mw = f64::INFINITY;
        for i in 0..n {
            let (a, b) = (h[i], h[(i + 1) % n]);
            let far = h.iter().map(|&p| cross(a, b, p)).max().unwrap_or(0);
            mw = mw.min(far as f64 / (d2(a, b) as f64).sqrt());
        }
        (md, mw)
    }

    proptest! {
        #[test]
        fn calipers_match_brute_force(pts in proptest::collection::vec((-40i64..40, -40i64..40), 3..40)) {
            let mut p = pts.clone();
            let h = convex_hull(&mut p);
            prop_assume!(h.len() >= 3);
            let (a, b) = calipers(&h);
            let (c, d) = brute(&h);
            prop_assert_eq!(a, c, "max squared distance, exact");
            prop_assert!((b - d).abs() <= 1e-9 * d.max(1.0), "min width {} vs brute force {}", b, d);
        }

        #[test]
        fn scan_counts_match_point_test(pts in proptest::collection::vec((-30i64..30, -30i64..30), 3..25)) {
            let mut p = pts.clone();
            let h = convex_hull(&mut p);
            prop_assume!(h.len() >= 3);
            let (k0, ext) = scan_extents(&h);
            // brute force: even points (2x, 2k) inside or on the boundary of the polygon
            for (i, &(lo, hi)) in ext.iter().enumerate() {
                let k = k0 + i as i64;
                for x in -20i64..=20 {
                    let q = (2 * x, 2 * k);
                    let n = h.len();
                    let inside = (0..n).all(|e| cross(h[e], h[(e + 1) % n], q) >= 0);
                    prop_assert_eq!(inside, x >= lo && x <= hi, "x {} line {}", x, k);
                }
            }
        }
    }

    #[test]
    fn single_pixel_hull() {
        let g = hull_geometry(&[(5, 3, 3)]);
        assert_eq!(g.convex_area, 1);
        assert_eq!(g.max_feret, 1.0);
        // the contour points form a diamond of half-diagonal 0.5: width sqrt(2) / 2
        assert!((g.min_feret - 0.5f64.sqrt()).abs() < 1e-15);
    }

    #[test]
    fn rectangle_hull() {
        // 4 rows x 10 columns
        let rows: Vec<_> = (0..4).map(|y| (y, 2, 11)).collect();
        let g = hull_geometry(&rows);
        assert_eq!(g.convex_area, 40);
        assert_eq!(g.min_feret, 4.0);
        // contour corners at (1.5, 0) .. (11.5, 3) etc: farthest pair is (x=1.5,y=0)-(x=11.5,y=3)
        // or (x=2,y=-0.5)-(x=11,y=3.5): sqrt(10^2 + 3^2) vs sqrt(9^2 + 4^2)
        assert!((g.max_feret - 109f64.sqrt()).abs() < 1e-12);
    }
}
