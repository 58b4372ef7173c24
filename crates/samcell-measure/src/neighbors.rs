//! Neighbour counts (CellProfiler `MeasureObjectNeighbors`, definitions in [`crate::measure`]) and
//! nearest centroids.
//!
//! - Adjacent: labels found among the 4-neighbours of the cell's 4-connected boundary pixels (the
//!   dilation by `strel_disk(1)` adds exactly those pixels).
//! - Within N: the dilation of the cell by `strel_disk(N)` is built row by row from the cell's
//!   runs: a run `x0..=x1` on row `y` covers `x0 - r(dy) ..= x1 + r(dy)` on row `y + dy`, with
//!   `r(dy)` the largest `r` with `r^2 + dy^2 <= N^2`. The merged intervals are scanned for other
//!   labels: about (area + N x perimeter) pixel reads per cell.
//! - PercentTouching: outline pixels carrying the "touches another cell" flag of
//!   [`crate::shape::pixel_flags`] over all outline pixels.

use crate::shape::{Run, B4, TOUCH};

/// Rows `(dy, r)` of `strel_disk(n)`: offsets `(dx, dy)` with `|dx| <= r` are inside.
pub(crate) fn disk_rows(n: u32) -> Vec<(isize, isize)> {
    let n = i64::from(n);
    (-n..=n)
        .map(|dy| {
            let mut r = 0i64;
            while (r + 1) * (r + 1) + dy * dy <= n * n {
                r += 1;
            }
            (dy as isize, r as isize)
        })
        .collect()
}

/// Neighbour statistics of one cell.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Counts {
    pub adjacent: u32,
    pub within: u32,
    pub outline: u64,
    pub touching: u64,
}

/// Neighbours of dense label `k1` from its runs and outline pixels (which include its 4-boundary).
pub(crate) fn count(
    k1: u32,
    runs: &[Run],
    outline: &[u32],
    idx: &[u32],
    flags: &[u8],
    w: usize,
    disk: &[(isize, isize)],
) -> Counts {
    let h = idx.len() / w.max(1);
    let mut adjacent: Vec<u32> = Vec::new();
    let mut touching = 0u64;
    for &p in outline {
        let p = p as usize;
        let f = flags[p];
        if f & TOUCH != 0 {
            touching += 1;
        }
        if f & B4 == 0 || f & TOUCH == 0 {
            continue; // no other cell among the 8 neighbours, so none among the 4
        }
        let (x, y) = (p % w, p / w);
        let n4 = [
            (x > 0).then(|| idx[p - 1]),
            (x + 1 < w).then(|| idx[p + 1]),
            (y > 0).then(|| idx[p - w]),
            (y + 1 < h).then(|| idx[p + w]),
        ];
        for b in n4.into_iter().flatten() {
            if b != 0 && b != k1 && !adjacent.contains(&b) {
                adjacent.push(b);
            }
        }
    }
    // dilation intervals `(first, last)` bucketed by output row (counting sort: runs are sorted by
    // row, so the rows span first run - N ..= last run + N)
    let mut within: Vec<u32> = Vec::new();
    if let (Some(first), Some(last_run)) = (runs.first(), runs.last()) {
        let n = disk.len() as isize / 2;
        let ylo = (first.y as isize - n).max(0);
        let yhi = (last_run.y as isize + n).min(h as isize - 1);
        let ny = (yhi - ylo + 1).max(0) as usize;
        let mut start = vec![0usize; ny + 1];
        for r in runs {
            for &(dy, _) in disk {
                let yy = r.y as isize + dy;
                if yy >= ylo && yy <= yhi {
                    start[(yy - ylo) as usize + 1] += 1;
                }
            }
        }
        for i in 0..ny {
            start[i + 1] += start[i];
        }
        let mut pos = start.clone();
        let mut iv = vec![(0usize, 0usize); start[ny]];
        for r in runs {
            for &(dy, rad) in disk {
                let yy = r.y as isize + dy;
                if yy >= ylo && yy <= yhi {
                    let a = (r.x0 as isize - rad).max(0) as usize;
                    let b = ((r.x1 as isize + rad) as usize).min(w - 1);
                    let slot = &mut pos[(yy - ylo) as usize];
                    iv[*slot] = (a, b);
                    *slot += 1;
                }
            }
        }
        let mut last = 0u32;
        let mut own = 0usize; // first run of the cell on or after the current row
        let mut visit = |lo: usize, hi: usize| {
            for &v in &idx[lo..=hi] {
                if v != 0 && v != k1 && v != last {
                    last = v;
                    if !within.contains(&v) {
                        within.push(v);
                    }
                }
            }
        };
        for i in 0..ny {
            let row = &mut iv[start[i]..start[i + 1]];
            if row.is_empty() {
                continue;
            }
            row.sort_unstable();
            let yy = ylo as usize + i;
            while own < runs.len() && (runs[own].y as usize) < yy {
                own += 1;
            }
            let own_end = own
                + runs[own..]
                    .iter()
                    .take_while(|r| r.y as usize == yy)
                    .count();
            let base = yy * w;
            let (mut ca, mut cb) = row[0];
            for k in 1..=row.len() {
                if k < row.len() && row[k].0 <= cb + 1 {
                    cb = cb.max(row[k].1);
                    continue;
                }
                // scan ca..=cb, skipping the cell's own runs on this row
                let mut x = ca;
                for r in &runs[own..own_end] {
                    let (r0, r1) = (r.x0 as usize, r.x1 as usize);
                    if r1 < x || r0 > cb {
                        continue;
                    }
                    if r0 > x {
                        visit(base + x, base + r0 - 1);
                    }
                    x = r1 + 1;
                }
                if x <= cb {
                    visit(base + x, base + cb);
                }
                if k < row.len() {
                    (ca, cb) = row[k];
                }
            }
        }
    }
    Counts {
        adjacent: adjacent.len() as u32,
        within: within.len() as u32,
        outline: outline.len() as u64,
        touching,
    }
}

/// For each point, the index of the nearest other point and the distance (ties: smaller index);
/// `None` when there is no other point. A uniform grid keeps this near-linear.
pub(crate) fn nearest_centroids(pts: &[(f64, f64)]) -> Vec<Option<(usize, f64)>> {
    let n = pts.len();
    if n < 2 {
        return vec![None; n];
    }
    let (mut x0, mut y0, mut x1, mut y1) = (
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    );
    for &(x, y) in pts {
        x0 = x0.min(x);
        y0 = y0.min(y);
        x1 = x1.max(x);
        y1 = y1.max(y);
    }
    let (wx, wy) = ((x1 - x0).max(1.0), (y1 - y0).max(1.0));
    // about two points per cell
    let cell = ((wx * wy) / n as f64 * 2.0).sqrt().max(1e-9);
    let gx = ((wx / cell).floor() as usize + 1).min(4096);
    let gy = ((wy / cell).floor() as usize + 1).min(4096);
    let cell = (wx / gx as f64).max(wy / gy as f64).max(cell);
    let cell_of = |x: f64, y: f64| -> (usize, usize) {
        (
            (((x - x0) / cell) as usize).min(gx - 1),
            (((y - y0) / cell) as usize).min(gy - 1),
        )
    };
    let mut start = vec![0usize; gx * gy + 1];
    for &(x, y) in pts {
        let (cx, cy) = cell_of(x, y);
        start[cy * gx + cx + 1] += 1;
    }
    for i in 0..gx * gy {
        start[i + 1] += start[i];
    }
    let mut pos = start.clone();
    let mut members = vec![0usize; n];
    for (i, &(x, y)) in pts.iter().enumerate() {
        let (cx, cy) = cell_of(x, y);
        members[pos[cy * gx + cx]] = i;
        pos[cy * gx + cx] += 1;
    }
    use rayon::prelude::*;
    (0..n)
        .into_par_iter()
        .map(|i| {
            let (px, py) = pts[i];
            let (cx, cy) = cell_of(px, py);
            let mut best: Option<(f64, usize)> = None;
            let max_ring = gx.max(gy);
            for r in 0..=max_ring {
                let (rx0, rx1) = (cx as isize - r as isize, cx as isize + r as isize);
                let (ry0, ry1) = (cy as isize - r as isize, cy as isize + r as isize);
                for yy in ry0.max(0)..=ry1.min(gy as isize - 1) {
                    for xx in rx0.max(0)..=rx1.min(gx as isize - 1) {
                        // only the ring's border cells
                        if yy != ry0 && yy != ry1 && xx != rx0 && xx != rx1 {
                            continue;
                        }
                        let c = yy as usize * gx + xx as usize;
                        for &j in &members[start[c]..start[c + 1]] {
                            if j == i {
                                continue;
                            }
                            let (dx, dy) = (pts[j].0 - px, pts[j].1 - py);
                            let d2 = dx * dx + dy * dy;
                            let better = match best {
                                None => true,
                                Some((bd, bj)) => d2 < bd || (d2 == bd && j < bj),
                            };
                            if better {
                                best = Some((d2, j));
                            }
                        }
                    }
                }
                // anything in ring r + 1 or beyond is at least r * cell away
                if let Some((bd, _)) = best {
                    let reach = r as f64 * cell;
                    if bd < reach * reach {
                        break;
                    }
                }
            }
            best.map(|(d2, j)| (j, d2.sqrt()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_matches_brute_force() {
        // deterministic pseudo-random points, some duplicates and collinear ones
        let mut s = 12345u64;
        let mut rnd = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 33) as f64 / (1u64 << 31) as f64
        };
        let mut pts: Vec<(f64, f64)> = (0..500).map(|_| (rnd() * 300.0, rnd() * 40.0)).collect();
        pts.push(pts[3]);
        pts.push((1000.0, 1000.0));
        let got = nearest_centroids(&pts);
        for (i, g) in got.iter().enumerate() {
            let mut best: Option<(f64, usize)> = None;
            for (j, q) in pts.iter().enumerate() {
                if j == i {
                    continue;
                }
                let d2 = (q.0 - pts[i].0).powi(2) + (q.1 - pts[i].1).powi(2);
                if best.is_none_or(|(bd, _)| d2 < bd) {
                    best = Some((d2, j));
                }
            }
            let (bd, bj) = best.expect("other points");
            let (gj, gd) = g.expect("a neighbour");
            assert_eq!(gj, bj, "point {i}: nearest index");
            assert_eq!(gd, bd.sqrt(), "point {i}: distance");
        }
        assert_eq!(nearest_centroids(&[(1.0, 2.0)]), vec![None]);
    }

    #[test]
    fn disk_is_strel_disk() {
        // centrosome strel_disk(1): the cross; strel_disk(5): 81 pixels
        assert_eq!(disk_rows(1), vec![(-1, 0), (0, 1), (1, 0)]);
        assert_eq!(
            disk_rows(5).iter().map(|&(_, r)| 2 * r + 1).sum::<isize>(),
            81
        );
        assert_eq!(disk_rows(0), vec![(0, 0)]);
    }
}
