//! COCO masks as runs of pixels in column-major order (index = x * h + y), the order of COCO RLE.
//!
//! Polygons are rasterised with the rule of pycocotools 2.0 (`frPyObjects` of a polygon, then
//! `decode`; golden-tested against pycocotools 2.0.11, exact): vertices are scaled by 5 and
//! rounded (`trunc(5 v + 0.5)`), each edge is drawn as a dense digital line in the upsampled grid
//! (stepping the longer axis from the endpoint with the smaller coordinate on it, the other
//! coordinate `trunc(start + slope * t + 0.5)`, points emitted in the edge's own direction);
//! every step where the upsampled x changes between columns c and c + 1 marks a crossing of the
//! original pixel column `X = (c + 0.5) / 5 - 0.5` if that is a whole number in `[0, w - 1]`, at
//! row `Y = ceil(clamp((min(v) + 0.5) / 5 - 0.5, 0, h))`. Each crossing toggles inside/outside
//! at the column-major index `X * h + Y`; a pixel is inside when an odd number of toggles lie
//! at or before its index.
//!
//! Compressed RLE strings are COCO's: each count is written in 5-bit groups, least significant
//! first, as characters `48 + group` with bit 0x20 meaning "more groups follow" and bit 0x10 of
//! the last group the sign; from the third count on, the stored value is the difference to the
//! count two places earlier.

use super::coco::Counts;

/// `len` pixels from column-major index `start`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    pub start: u32,
    pub len: u32,
}

/// Sorted, merged runs.
pub fn union_runs(mut runs: Vec<Run>) -> Vec<Run> {
    runs.retain(|r| r.len > 0);
    runs.sort_by_key(|r| r.start);
    let mut out: Vec<Run> = Vec::with_capacity(runs.len());
    for r in runs {
        if let Some(last) = out.last_mut() {
            let end = last.start + last.len;
            if r.start <= end {
                last.len = end.max(r.start + r.len) - last.start;
                continue;
            }
        }
        out.push(r);
    }
    out
}

fn upsample(v: f64) -> i64 {
    // C's (int)(5 * v + 0.5): truncation toward zero.
    (5.0 * v + 0.5) as i64
}

/// The runs of one polygon `[x0, y0, x1, y1, ...]` on an `h` x `w` image.
pub fn polygon_runs(xy: &[f64], h: usize, w: usize) -> Vec<Run> {
    let k = xy.len() / 2;
    if k == 0 || h == 0 || w == 0 {
        return Vec::new();
    }
    let verts: Vec<(i64, i64)> = (0..k)
        .map(|j| (upsample(xy[2 * j]), upsample(xy[2 * j + 1])))
        .collect();
    // Dense boundary in the upsampled grid.
    let mut pts: Vec<(i64, i64)> = Vec::new();
    for j in 0..k {
        let (xs, ys) = verts[j];
        let (xe, ye) = verts[(j + 1) % k];
        let (dx, dy) = ((xe - xs).abs(), (ye - ys).abs());
        let x_major = dx >= dy;
        let reversed = if x_major { xs > xe } else { ys > ye };
        let ((ax, ay), (bx, by)) = if reversed {
            ((xe, ye), (xs, ys))
        } else {
            ((xs, ys), (xe, ye))
        };
        let n = dx.max(dy);
        let slope = if n == 0 {
            0.0
        } else if x_major {
            (by - ay) as f64 / dx as f64
        } else {
            (bx - ax) as f64 / dy as f64
        };
        for d in 0..=n {
            let t = if reversed { n - d } else { d };
            let minor = |a: i64| (a as f64 + slope * t as f64 + 0.5) as i64;
            pts.push(if x_major {
                (ax + t, minor(ay))
            } else {
                (minor(ax), ay + t)
            });
        }
    }
    // Column crossings -> toggles.
    let hw = (h * w) as u64;
    let mut toggles: Vec<u64> = Vec::new();
    for pair in pts.windows(2) {
        let ((u0, v0), (u1, v1)) = (pair[0], pair[1]);
        if u0 == u1 {
            continue;
        }
        let c = if u1 < u0 { u1 } else { u1 - 1 } as f64;
        let x = (c + 0.5) / 5.0 - 0.5;
        if x.floor() != x || x < 0.0 || x > (w - 1) as f64 {
            continue;
        }
        let y = ((v0.min(v1) as f64 + 0.5) / 5.0 - 0.5)
            .clamp(0.0, h as f64)
            .ceil();
        toggles.push(x as u64 * h as u64 + y as u64);
    }
    toggles.sort_unstable();
    let mut runs = Vec::with_capacity(toggles.len() / 2 + 1);
    for pair in toggles.chunks(2) {
        let s = pair[0].min(hw);
        let e = pair.get(1).copied().unwrap_or(hw).min(hw);
        if e > s {
            runs.push(Run {
                start: s as u32,
                len: (e - s) as u32,
            });
        }
    }
    runs
}

/// Decodes COCO's compressed counts string.
pub fn decode_counts(s: &str) -> Result<Vec<u64>, String> {
    let b = s.as_bytes();
    let mut out: Vec<u64> = Vec::new();
    let mut p = 0;
    while p < b.len() {
        let mut x: i64 = 0;
        let mut shift = 0u32;
        loop {
            let Some(&ch) = b.get(p) else {
                return Err("compressed RLE string ends inside a count".into());
            };
            let c = i64::from(ch) - 48;
            if !(0..64).contains(&c) || shift > 58 {
                return Err(format!(
                    "invalid character {:?} in compressed RLE counts",
                    ch as char
                ));
            }
            x |= (c & 0x1f) << shift;
            shift += 5;
            p += 1;
            if c & 0x20 == 0 {
                if c & 0x10 != 0 {
                    x |= -1i64 << shift;
                }
                break;
            }
        }
        if out.len() > 2 {
            x += out[out.len() - 2] as i64;
        }
        if x < 0 {
            return Err("negative count in compressed RLE".into());
        }
        out.push(x as u64);
    }
    Ok(out)
}

/// The runs of an RLE (column-major, starting with background) of an `h` x `w` image.
pub fn rle_runs(counts: &Counts, h: usize, w: usize) -> Result<Vec<Run>, String> {
    let decoded;
    let cnts: &[u64] = match counts {
        Counts::List(v) => v,
        Counts::Compressed(s) => {
            decoded = decode_counts(s)?;
            &decoded
        }
    };
    let total: u64 = cnts
        .iter()
        .try_fold(0u64, |a, &c| a.checked_add(c))
        .ok_or("RLE counts overflow")?;
    if total != (h * w) as u64 {
        return Err(format!(
            "RLE counts sum to {total}, the image has {} pixels",
            h * w
        ));
    }
    let mut runs = Vec::new();
    let mut pos = 0u64;
    for (i, &c) in cnts.iter().enumerate() {
        if i % 2 == 1 && c > 0 {
            runs.push(Run {
                start: pos as u32,
                len: c as u32,
            });
        }
        pos += c;
    }
    Ok(runs)
}
