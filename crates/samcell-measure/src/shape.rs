//! The measurement engine behind [`crate::measure_labels`] (definitions: see [`crate::measure`]).
//!
//! 1. Labels are re-indexed densely ([`crate::dense`]).
//! 2. One neighbourhood pass computes three flags per pixel: 4-connected boundary (skimage
//!    `perimeter`'s `image - binary_erosion(image, cross)`), 8-connected outline (centrosome
//!    `outline`, image border included) and "touches another cell in its 8-neighbourhood".
//! 3. One pass over the pixels (row bands in parallel) records, per row, the runs of equal labels
//!    (with the intensity partial sums of each run) and the outline pixels; both are then grouped
//!    by label with a stable counting sort. No per-cell pass over the image happens.
//! 4. Per label, in parallel: moments and bounding box from the runs (exact integer sums), the
//!    perimeter from the boundary pixels' neighbourhood codes, hull and Feret diameters from the
//!    row extremes ([`crate::hull`]), neighbours from the runs and boundary pixels
//!    ([`crate::neighbors`]).

use crate::dense::densify;
use crate::hull::hull_geometry;
use crate::measure::{CellMeasurement, Intensity, IntensityStats};
use crate::neighbors;
use rayon::prelude::*;
use samcell_imaging::Labels;
use samcell_io::RawValues;
use std::f64::consts::PI;

pub(crate) const B4: u8 = 1;
pub(crate) const OUTLINE: u8 = 2;
pub(crate) const TOUCH: u8 = 4;

/// Flags of a pixel of label `l` from its 4-neighbours `n4` and diagonal neighbours `nd`
/// (`None` = outside the image).
#[inline]
fn flags_of(l: u32, n4: [Option<u32>; 4], nd: [Option<u32>; 4]) -> u8 {
    let mut b4 = false;
    let mut outline = false;
    let mut touch = false;
    for v in n4 {
        match v {
            None => {
                b4 = true;
                outline = true;
            }
            Some(v) if v != l => {
                b4 = true;
                outline = true;
                touch |= v != 0;
            }
            _ => {}
        }
    }
    for v in nd {
        match v {
            None => outline = true,
            Some(v) if v != l => {
                outline = true;
                touch |= v != 0;
            }
            _ => {}
        }
    }
    (u8::from(b4) * B4) | (u8::from(outline) * OUTLINE) | (u8::from(touch) * TOUCH)
}

/// Pixel flags (see the module docs) for the dense index image `idx` (`w x h`).
pub(crate) fn pixel_flags(idx: &[u32], w: usize, h: usize) -> Vec<u8> {
    let mut flags = vec![0u8; idx.len()];
    flags.par_chunks_mut(w).enumerate().for_each(|(y, frow)| {
        let mid = &idx[y * w..(y + 1) * w];
        let up = (y > 0).then(|| &idx[(y - 1) * w..y * w]);
        let down = (y + 1 < h).then(|| &idx[(y + 1) * w..(y + 2) * w]);
        for x in 0..w {
            let l = mid[x];
            if l == 0 {
                continue;
            }
            if let (Some(u), Some(d), true) = (up, down, x > 0 && x + 1 < w) {
                // interior of the image: all eight neighbours exist
                let n = [
                    mid[x - 1],
                    mid[x + 1],
                    u[x],
                    d[x],
                    u[x - 1],
                    u[x + 1],
                    d[x - 1],
                    d[x + 1],
                ];
                if n.iter().all(|&v| v == l) {
                    continue;
                }
                frow[x] = flags_of(
                    l,
                    [Some(n[0]), Some(n[1]), Some(n[2]), Some(n[3])],
                    [Some(n[4]), Some(n[5]), Some(n[6]), Some(n[7])],
                );
            } else {
                let at = |dx: isize, dy: isize| -> Option<u32> {
                    let (xx, yy) = (x as isize + dx, y as isize + dy);
                    if xx < 0 || yy < 0 || xx >= w as isize || yy >= h as isize {
                        None
                    } else {
                        Some(idx[yy as usize * w + xx as usize])
                    }
                };
                frow[x] = flags_of(
                    l,
                    [at(-1, 0), at(1, 0), at(0, -1), at(0, 1)],
                    [at(-1, -1), at(1, -1), at(-1, 1), at(1, 1)],
                );
            }
        }
    });
    flags
}

/// A horizontal run of one label: row `y`, columns `x0..=x1`, and its intensity partials.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Run {
    pub k: u32,
    pub y: u32,
    pub x0: u32,
    pub x1: u32,
    /// Mean, sum of squared deviations from the mean, min, max and sum of the intensity over the
    /// run.
    pub stats: [f64; 5],
}

/// Runs and outline pixels, grouped by dense label (CSR: `start[k]..start[k + 1]`).
pub(crate) struct Grouped {
    pub runs: Vec<Run>,
    pub run_start: Vec<usize>,
    pub outline: Vec<u32>,
    pub outline_start: Vec<usize>,
}

fn run_stats(vals: impl Iterator<Item = f64> + Clone, n: usize) -> [f64; 5] {
    let sum = vals.clone().sum::<f64>();
    let mean = sum / n as f64;
    let (mut m2, mut lo, mut hi) = (0.0, f64::INFINITY, f64::NEG_INFINITY);
    for v in vals {
        m2 += (v - mean) * (v - mean);
        lo = lo.min(v);
        hi = hi.max(v);
    }
    [mean, m2, lo, hi, sum]
}

/// The single pass over the pixels, in row bands.
pub(crate) fn scan(
    idx: &[u32],
    flags: &[u8],
    w: usize,
    h: usize,
    n: usize,
    intensity: Option<Intensity<'_>>,
) -> Grouped {
    let bands = (rayon::current_num_threads() * 4).clamp(1, h.max(1));
    let rows_per = h.div_ceil(bands);
    type Band = (Vec<Run>, Vec<(u32, u32)>);
    let parts: Vec<Band> = (0..bands)
        .into_par_iter()
        .map(|b| {
            let mut runs = Vec::new();
            let mut outline = Vec::new();
            for y in b * rows_per..((b + 1) * rows_per).min(h) {
                let row = &idx[y * w..(y + 1) * w];
                let frow = &flags[y * w..(y + 1) * w];
                let mut x = 0;
                while x < w {
                    let k = row[x];
                    let x0 = x;
                    while x < w && row[x] == k {
                        if k != 0 && frow[x] & OUTLINE != 0 {
                            outline.push((k - 1, (y * w + x) as u32));
                        }
                        x += 1;
                    }
                    if k != 0 {
                        let len = x - x0;
                        let base = y * w + x0;
                        let stats = match intensity {
                            None => [0.0; 5],
                            Some(Intensity::U8(img)) => run_stats(
                                img.data()[base..base + len].iter().map(|&v| f64::from(v)),
                                len,
                            ),
                            Some(Intensity::F32(img)) => run_stats(
                                img.data()[base..base + len].iter().map(|&v| f64::from(v)),
                                len,
                            ),
                            Some(Intensity::Raw(img)) => match img.values() {
                                RawValues::U8(v) => run_stats(
                                    v[base..base + len].iter().map(|&v| f64::from(v)),
                                    len,
                                ),
                                RawValues::F32(v) => run_stats(
                                    v[base..base + len].iter().map(|&v| f64::from(v)),
                                    len,
                                ),
                                RawValues::F64(v) => {
                                    run_stats(v[base..base + len].iter().copied(), len)
                                }
                            },
                        };
                        runs.push(Run {
                            k: k - 1,
                            y: y as u32,
                            x0: x0 as u32,
                            x1: (x - 1) as u32,
                            stats,
                        });
                    }
                }
            }
            (runs, outline)
        })
        .collect();
    // stable counting sort by label, bands in order
    let mut run_start = vec![0usize; n + 1];
    let mut out_start = vec![0usize; n + 1];
    for (runs, outline) in &parts {
        for r in runs {
            run_start[r.k as usize + 1] += 1;
        }
        for &(k, _) in outline {
            out_start[k as usize + 1] += 1;
        }
    }
    for k in 0..n {
        run_start[k + 1] += run_start[k];
        out_start[k + 1] += out_start[k];
    }
    let mut rpos = run_start.clone();
    let mut opos = out_start.clone();
    let empty = Run {
        k: 0,
        y: 0,
        x0: 0,
        x1: 0,
        stats: [0.0; 5],
    };
    let mut runs = vec![empty; run_start[n]];
    let mut outline = vec![0u32; out_start[n]];
    for (rs, os) in parts {
        for r in rs {
            runs[rpos[r.k as usize]] = r;
            rpos[r.k as usize] += 1;
        }
        for (k, p) in os {
            outline[opos[k as usize]] = p;
            opos[k as usize] += 1;
        }
    }
    Grouped {
        runs,
        run_start,
        outline,
        outline_start: out_start,
    }
}

/// skimage `perimeter` weights by neighbourhood code `1 + 2 (4-neighbours) + 10 (diagonals)`:
/// class 1 = weight 1, 2 = sqrt(2), 3 = (1 + sqrt(2)) / 2, 0 = nothing.
fn weight_class(code: usize) -> usize {
    match code {
        5 | 7 | 15 | 17 | 25 | 27 => 1,
        21 | 33 => 2,
        13 | 23 => 3,
        _ => 0,
    }
}

/// skimage perimeter of label `k + 1` from its outline pixels (the 4-boundary is a subset).
fn perimeter(k1: u32, outline: &[u32], idx: &[u32], flags: &[u8], w: usize, h: usize) -> f64 {
    let mut counts = [0u64; 4];
    for &p in outline {
        let p = p as usize;
        if flags[p] & B4 == 0 {
            continue;
        }
        let (x, y) = ((p % w) as isize, (p / w) as isize);
        let mut code = 1usize;
        for (dx, dy, wgt) in [
            (-1, 0, 2),
            (1, 0, 2),
            (0, -1, 2),
            (0, 1, 2),
            (-1, -1, 10),
            (1, -1, 10),
            (-1, 1, 10),
            (1, 1, 10),
        ] {
            let (xx, yy) = (x + dx, y + dy);
            if xx < 0 || yy < 0 || xx >= w as isize || yy >= h as isize {
                continue;
            }
            let q = yy as usize * w + xx as usize;
            if idx[q] == k1 && flags[q] & B4 != 0 {
                code += wgt;
            }
        }
        counts[weight_class(code)] += 1;
    }
    let s2 = std::f64::consts::SQRT_2;
    counts[1] as f64 + counts[2] as f64 * s2 + counts[3] as f64 * ((1.0 + s2) / 2.0)
}

/// Shape features of one label from its runs (sorted by row, then column).
pub(crate) struct Moments {
    pub area: u64,
    pub cx: f64,
    pub cy: f64,
    pub bbox: [u32; 4],
    pub eccentricity: f64,
    pub major: f64,
    pub minor: f64,
    pub orientation_deg: f64,
    /// Row extremes `(y, x_min, x_max)`.
    pub rows: Vec<(i64, i64, i64)>,
    pub intensity: IntensityStats,
}

pub(crate) fn moments(runs: &[Run]) -> Moments {
    let (mut n, mut sx, mut sy, mut sxx, mut syy, mut sxy) =
        (0u128, 0u128, 0u128, 0u128, 0u128, 0u128);
    let mut bbox = [u32::MAX, u32::MAX, 0, 0];
    let mut rows: Vec<(i64, i64, i64)> = Vec::new();
    // intensity: Chan et al. pairwise merge of (count, mean, M2)
    let (mut icount, mut imean, mut im2, mut imin, mut imax, mut isum) =
        (0f64, 0f64, 0f64, f64::INFINITY, f64::NEG_INFINITY, 0f64);
    for r in runs {
        let (y, x0, x1) = (u128::from(r.y), u128::from(r.x0), u128::from(r.x1));
        let m = x1 - x0 + 1;
        let s1 = (x0 + x1) * m / 2;
        // sum of x^2 for x in x0..=x1
        let s2 = |k: u128| k * (k + 1) * (2 * k + 1) / 6;
        let sq = s2(x1) - if x0 > 0 { s2(x0 - 1) } else { 0 };
        n += m;
        sx += s1;
        sy += y * m;
        sxx += sq;
        syy += y * y * m;
        sxy += y * s1;
        bbox[0] = bbox[0].min(r.x0);
        bbox[1] = bbox[1].min(r.y);
        bbox[2] = bbox[2].max(r.x1 + 1);
        bbox[3] = bbox[3].max(r.y + 1);
        match rows.last_mut() {
            Some(last) if last.0 == i64::from(r.y) => {
                last.1 = last.1.min(i64::from(r.x0));
                last.2 = last.2.max(i64::from(r.x1));
            }
            _ => rows.push((i64::from(r.y), i64::from(r.x0), i64::from(r.x1))),
        }
        let [mean, m2, lo, hi, sum] = r.stats;
        isum += sum;
        let c = m as f64;
        let total = icount + c;
        let delta = mean - imean;
        imean += delta * c / total;
        im2 += m2 + delta * delta * icount * c / total;
        icount = total;
        imin = imin.min(lo);
        imax = imax.max(hi);
    }
    let nf = n as f64;
    // exact central second moments scaled by n^2: n*S2 - S1^2
    let mx = (n * sxx - sx * sx) as f64; // n^2 var_x
    let my = (n * syy - sy * sy) as f64; // n^2 var_y
    let mxy_i = (n * sxy) as i128 - (sx * sy) as i128; // n^2 cov
    let mxy = mxy_i as f64;
    let nn = nf * nf;
    let tr = mx + my;
    let disc = ((mx - my) * (mx - my) + 4.0 * mxy * mxy).sqrt();
    let l1 = ((tr + disc) / 2.0 / nn).max(0.0);
    // product form for the small eigenvalue: l1 l2 = det
    let det = (n * sxx - sx * sx) as i128 as f64 * (n * syy - sy * sy) as f64 - mxy * mxy;
    let det_exact = exact_det(n, sx, sy, sxx, syy, mxy_i);
    let l2 = if tr + disc > 0.0 {
        (2.0 * det_exact.unwrap_or(det) / (tr + disc) / nn).max(0.0)
    } else {
        0.0
    };
    let eccentricity = if l1 > 0.0 {
        (1.0 - l2 / l1).sqrt()
    } else {
        f64::NAN
    };
    let var_x_eq_var_y = n * sxx - sx * sx == n * syy - sy * sy;
    let orientation = if var_x_eq_var_y {
        // skimage: a - c == 0 -> +-pi/4 by the sign of the covariance; isotropic -> undefined
        match mxy_i.signum() {
            1 => PI / 4.0,
            -1 => -PI / 4.0,
            _ => f64::NAN,
        }
    } else {
        0.5 * (2.0 * mxy).atan2(my - mx)
    };
    let intensity = IntensityStats {
        mean: imean,
        std: (im2 / icount).max(0.0).sqrt(),
        min: imin,
        max: imax,
        // the exact sum of the run sums (mean * count per run would add rounding)
        integrated: isum,
    };
    Moments {
        area: n as u64,
        cx: sx as f64 / nf,
        cy: sy as f64 / nf,
        bbox,
        eccentricity,
        major: 4.0 * l1.sqrt(),
        minor: 4.0 * l2.sqrt(),
        orientation_deg: orientation * (180.0 / PI),
        rows,
        intensity,
    }
}

/// `(n Sxx - Sx^2)(n Syy - Sy^2) - (n Sxy - Sx Sy)^2` in exact integers when it fits in i128.
fn exact_det(n: u128, sx: u128, sy: u128, sxx: u128, syy: u128, mxy: i128) -> Option<f64> {
    let a = i128::try_from(n.checked_mul(sxx)? - sx.checked_mul(sx)?).ok()?;
    let c = i128::try_from(n.checked_mul(syy)? - sy.checked_mul(sy)?).ok()?;
    let d = a.checked_mul(c)?.checked_sub(mxy.checked_mul(mxy)?)?;
    Some(d as f64)
}

/// Measures every label (see [`crate::measure`]).
pub(crate) fn measure_all(
    labels: &Labels,
    intensity: Option<Intensity<'_>>,
    ndist: u32,
) -> Vec<CellMeasurement> {
    let (w, h) = (labels.width(), labels.height());
    if w == 0 || h == 0 {
        return Vec::new();
    }
    let dense = densify(labels.data());
    let n = dense.len();
    if n == 0 {
        return Vec::new();
    }
    let idx = &dense.index;
    let flags = pixel_flags(idx, w, h);
    let g = scan(idx, &flags, w, h, n, intensity);
    let disk = neighbors::disk_rows(ndist);
    let per_label: Vec<(Moments, f64, crate::hull::HullGeometry, neighbors::Counts)> = (0..n)
        .into_par_iter()
        .map(|k| {
            let runs = &g.runs[g.run_start[k]..g.run_start[k + 1]];
            let outline = &g.outline[g.outline_start[k]..g.outline_start[k + 1]];
            let m = moments(runs);
            let p = perimeter(k as u32 + 1, outline, idx, &flags, w, h);
            let hg = hull_geometry(&m.rows);
            let c = neighbors::count(k as u32 + 1, runs, outline, idx, &flags, w, &disk);
            (m, p, hg, c)
        })
        .collect();
    let centroids: Vec<(f64, f64)> = per_label.iter().map(|(m, ..)| (m.cx, m.cy)).collect();
    let closest = neighbors::nearest_centroids(&centroids);
    per_label
        .into_iter()
        .zip(closest)
        .enumerate()
        .map(|(k, ((m, p, hg, c), near))| {
            let a = m.area as f64;
            let bbox_area = f64::from(m.bbox[2] - m.bbox[0]) * f64::from(m.bbox[3] - m.bbox[1]);
            CellMeasurement {
                label: dense.ids[k],
                area: m.area,
                perimeter: p,
                convex_area: hg.convex_area,
                solidity: if hg.convex_area > 0 {
                    a / hg.convex_area as f64
                } else {
                    f64::NAN
                },
                extent: a / bbox_area,
                eccentricity: m.eccentricity,
                major_axis_length: m.major,
                minor_axis_length: m.minor,
                orientation: m.orientation_deg,
                equivalent_diameter: (4.0 * a / PI).sqrt(),
                form_factor: if p > 0.0 {
                    4.0 * PI * a / (p * p)
                } else {
                    f64::NAN
                },
                compactness: p * p / (4.0 * PI * a),
                center_x: m.cx,
                center_y: m.cy,
                bbox_min_x: m.bbox[0],
                bbox_max_x: m.bbox[2],
                bbox_min_y: m.bbox[1],
                bbox_max_y: m.bbox[3],
                min_feret: hg.min_feret,
                max_feret: hg.max_feret,
                intensity: intensity.map(|_| m.intensity),
                neighbors_adjacent: c.adjacent,
                neighbors_within: c.within,
                percent_touching: if c.outline > 0 {
                    100.0 * c.touching as f64 / c.outline as f64
                } else {
                    f64::NAN
                },
                first_closest_label: near.map(|(j, _)| dense.ids[j]),
                first_closest_distance: near.map_or(f64::NAN, |(_, d)| d),
            }
        })
        .collect()
}
