//! Contrast-limited adaptive histogram equalisation (CLAHE) on 8-bit images.
//!
//! Reference matched: OpenCV 4.12 (opencv-python-headless 4.12.0.88, x86-64 build),
//! `cv2.createCLAHE(clipLimit, tileGridSize=(tiles_x, tiles_y)).apply(img)` on a single-channel
//! `uint8` array, byte for byte. samcell 1.1.4 calls it with `clipLimit=1, tileGridSize=(8, 8)` on
//! every crop. The behaviour reproduced, in order:
//!
//! 1. **Tile geometry.** When the width is a multiple of `tiles_x` *and* the height a multiple of
//!    `tiles_y`, tiles are `width / tiles_x` by `height / tiles_y` on the image itself. Otherwise
//!    the image is extended at the right and bottom with `BORDER_REFLECT_101` (`gfedcb|abcdefgh|gfedcb`)
//!    by `tiles - size % tiles` pixels **on both axes**, so an axis that was already divisible gains
//!    one whole extra tile of padding (e.g. 64x50 becomes 72x56 with 9x7 tiles). The padding only
//!    feeds the histograms; the output keeps the input size.
//! 2. **Clip limit.** `clip > 0`: `max(1, trunc(clip * tile_area / 256))` counts per bin (computed
//!    in `f64`); `clip <= 0` disables clipping.
//! 3. **Redistribution.** The clipped excess `E` is spread as `E / 256` per bin, then the remainder
//!    `R = E % 256` adds one count to bins `0, s, 2s, ...` (`s = max(256 / R, 1)`) while `R > 0`.
//! 4. **Look-up tables.** `lut[v] = round_half_even(cumsum(hist)[v] * (255f32 / tile_area))`,
//!    multiplied in `f32`, saturated to 0..=255.
//! 5. **Bilinear blend** of the four surrounding tile LUTs in `f32`, unfused (x86-64 OpenCV does not
//!    contract this loop into FMAs): `tx = x * (1 / tile_w) - 0.5`, `t1 = floor(tx)`, `a = tx - t1`,
//!    tile indices clamped to the grid, `res = (L11*(1-a) + L12*a)*(1-b) + (L21*(1-a) + L22*a)*b`,
//!    rounded half to even and saturated.
//!
//! Why not kornia-imgproc: version 0.2.0 has `kornia_imgproc::clahe::clahe` and states
//! byte-exactness with OpenCV, but evaluates step 5 with fused multiply-adds (calibrated on
//! OpenCV's aarch64 wheels). Measured on this crate's x86-64 golden fixtures it is exact on
//! 256x256 (32-pixel tiles make the weights exact in binary) but off by one grey level on 77 of
//! the 31,931 pixels of the 14 smaller / odd-sized / other-clip cases (0.04-0.8% per case), and it
//! brings kornia-image, kornia-tensor, kornia-algebra and `wide`. So this module is hand-written.
//! Fusing is exactly what the fixtures catch (see `tests/golden_clahe.rs`).

use crate::{GrayU8, ImagingError};

/// Number of grey levels (bins) of an 8-bit histogram.
const BINS: usize = 256;

/// CLAHE settings; the defaults are SAMCell's (clip limit 1, 8x8 tiles).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClaheConfig {
    /// OpenCV `clipLimit`; `<= 0` disables clipping (plain tiled AHE).
    pub clip_limit: f64,
    /// Number of tiles across (OpenCV `tileGridSize.width`).
    pub tiles_x: usize,
    /// Number of tiles down (OpenCV `tileGridSize.height`).
    pub tiles_y: usize,
}

impl Default for ClaheConfig {
    fn default() -> Self {
        Self {
            clip_limit: 1.0,
            tiles_x: 8,
            tiles_y: 8,
        }
    }
}

/// OpenCV's `BORDER_REFLECT_101` index for `p` in `-len..2*len` (folded repeatedly when the
/// padding is wider than the image); `len == 1` maps everything to 0.
fn reflect101(mut p: isize, len: usize) -> usize {
    let n = len as isize;
    if n == 1 {
        return 0;
    }
    while p < 0 || p >= n {
        if p < 0 {
            p = -p;
        } else {
            p = 2 * n - 2 - p;
        }
    }
    p as usize
}

/// Tile layout after OpenCV's padding rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Geometry {
    tile_w: usize,
    tile_h: usize,
    /// Padded width and height (multiples of the grid).
    padded_w: usize,
    padded_h: usize,
}

fn geometry(w: usize, h: usize, tx: usize, ty: usize) -> Geometry {
    let (rem_x, rem_y) = (w % tx, h % ty);
    let (padded_w, padded_h) = if rem_x == 0 && rem_y == 0 {
        (w, h)
    } else {
        (w + tx - rem_x, h + ty - rem_y)
    };
    Geometry {
        tile_w: padded_w / tx,
        tile_h: padded_h / ty,
        padded_w,
        padded_h,
    }
}

/// OpenCV's integer clip limit: 0 means "no clipping".
fn clip_count(clip_limit: f64, tile_area: usize) -> u32 {
    if clip_limit > 0.0 {
        let c = clip_limit * tile_area as f64 / BINS as f64;
        // `as` saturates; a limit above the tile area never clips anyway.
        (c as u64).clamp(1, u32::MAX as u64) as u32
    } else {
        0
    }
}

/// Clips one histogram and redistributes the excess, OpenCV-style.
fn clip_histogram(hist: &mut [u32; BINS], limit: u32) {
    if limit == 0 {
        return;
    }
    let mut excess: u64 = 0;
    for h in hist.iter_mut() {
        if *h > limit {
            excess += u64::from(*h - limit);
            *h = limit;
        }
    }
    let batch = (excess / BINS as u64) as u32;
    let mut residual = (excess % BINS as u64) as usize;
    for h in hist.iter_mut() {
        *h += batch;
    }
    if let Some(step) = BINS.checked_div(residual) {
        let step = step.max(1);
        let mut i = 0;
        while i < BINS && residual > 0 {
            hist[i] += 1;
            i += step;
            residual -= 1;
        }
    }
}

/// Cumulative histogram scaled to 0..=255 with `f32` arithmetic and round-half-even.
fn histogram_lut(hist: &[u32; BINS], scale: f32, lut: &mut [u8]) {
    let mut sum: u32 = 0;
    for (l, &h) in lut.iter_mut().zip(hist.iter()) {
        sum += h;
        *l = (sum as f32 * scale).round_ties_even().clamp(0.0, 255.0) as u8;
    }
}

/// Per-output-coordinate blend weights along one axis: the two tile indices (already multiplied
/// by the LUT stride) and the weights of the first and second tile.
struct AxisWeights {
    first: Vec<usize>,
    second: Vec<usize>,
    w_first: Vec<f32>,
    w_second: Vec<f32>,
}

fn axis_weights(len: usize, tile: usize, tiles: usize, stride: usize) -> AxisWeights {
    let inv = 1.0f32 / tile as f32;
    let mut aw = AxisWeights {
        first: Vec::with_capacity(len),
        second: Vec::with_capacity(len),
        w_first: Vec::with_capacity(len),
        w_second: Vec::with_capacity(len),
    };
    for i in 0..len {
        let t = i as f32 * inv - 0.5f32;
        let t1 = t.floor();
        let a = t - t1;
        let t1 = t1 as isize;
        let first = t1.max(0) as usize;
        let second = ((t1 + 1) as usize).min(tiles - 1);
        aw.first.push(first * stride);
        aw.second.push(second * stride);
        aw.w_first.push(1.0f32 - a);
        aw.w_second.push(a);
    }
    aw
}

/// Applies CLAHE to an 8-bit image, byte-identical to OpenCV 4.12 (see the module docs).
///
/// Errors: an empty image, a zero tile count, or a NaN clip limit.
pub fn clahe(img: &GrayU8, cfg: &ClaheConfig) -> Result<GrayU8, ImagingError> {
    let (w, h) = (img.width(), img.height());
    let (tx, ty) = (cfg.tiles_x, cfg.tiles_y);
    if w == 0 || h == 0 {
        return Err(ImagingError::Shape(format!(
            "CLAHE needs a non-empty image, got {w}x{h}"
        )));
    }
    if tx == 0 || ty == 0 {
        return Err(ImagingError::Invalid(format!(
            "CLAHE tile grid must be at least 1x1, got {tx}x{ty}"
        )));
    }
    if cfg.clip_limit.is_nan() {
        return Err(ImagingError::Invalid("CLAHE clip limit is NaN".into()));
    }
    let g = geometry(w, h, tx, ty);
    let area = g.tile_w * g.tile_h;
    let limit = clip_count(cfg.clip_limit, area);
    let scale = 255.0f32 / area as f32;
    let luts = tile_luts(img, &g, tx, ty, limit, scale);
    Ok(blend(img, &g, tx, ty, &luts))
}

/// Histograms of every tile of the (virtually) padded image, turned into LUTs:
/// `ty * tx` tables of 256 bytes, row-major over tiles.
fn tile_luts(img: &GrayU8, g: &Geometry, tx: usize, ty: usize, limit: u32, scale: f32) -> Vec<u8> {
    let (w, h) = (img.width(), img.height());
    let mut luts = vec![0u8; tx * ty * BINS];
    let mut hists = vec![[0u32; BINS]; tx];
    // Source column of every padded column (identity inside the image).
    let col_src: Vec<usize> = (0..g.padded_w).map(|x| reflect101(x as isize, w)).collect();
    for tile_row in 0..ty {
        for hist in hists.iter_mut() {
            *hist = [0; BINS];
        }
        for py in tile_row * g.tile_h..(tile_row + 1) * g.tile_h {
            let row = img.row(reflect101(py as isize, h));
            for (tile_col, hist) in hists.iter_mut().enumerate() {
                let x0 = tile_col * g.tile_w;
                let x1 = x0 + g.tile_w;
                let inside = x1.min(w);
                if x0 < inside {
                    for &v in &row[x0..inside] {
                        hist[v as usize] += 1;
                    }
                }
                if x1 > w {
                    for &sx in &col_src[x0.max(w)..x1] {
                        hist[row[sx] as usize] += 1;
                    }
                }
            }
        }
        for (tile_col, hist) in hists.iter_mut().enumerate() {
            clip_histogram(hist, limit);
            let t = tile_row * tx + tile_col;
            histogram_lut(hist, scale, &mut luts[t * BINS..(t + 1) * BINS]);
        }
    }
    luts
}

/// Bilinear interpolation between the LUTs of the four nearest tile centres.
fn blend(img: &GrayU8, g: &Geometry, tx: usize, ty: usize, luts: &[u8]) -> GrayU8 {
    let (w, h) = (img.width(), img.height());
    let xs = axis_weights(w, g.tile_w, tx, BINS);
    let ys = axis_weights(h, g.tile_h, ty, tx * BINS);
    let mut out = GrayU8::filled(w, h, 0);
    for y in 0..h {
        let lut1 = &luts[ys.first[y]..ys.first[y] + tx * BINS];
        let lut2 = &luts[ys.second[y]..ys.second[y] + tx * BINS];
        let (wy1, wy2) = (ys.w_first[y], ys.w_second[y]);
        let src = img.row(y);
        let dst = out.row_mut(y);
        for x in 0..w {
            let v = src[x] as usize;
            let (i1, i2) = (xs.first[x] + v, xs.second[x] + v);
            let (wx1, wx2) = (xs.w_first[x], xs.w_second[x]);
            let top = lut1[i1] as f32 * wx1 + lut1[i2] as f32 * wx2;
            let bottom = lut2[i1] as f32 * wx1 + lut2[i2] as f32 * wx2;
            let res = top * wy1 + bottom * wy2;
            dst[x] = res.round_ties_even().clamp(0.0, 255.0) as u8;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflect101_folds_like_opencv() {
        // gfedcb|abcdefgh|gfedcba
        assert_eq!(reflect101(-1, 8), 1);
        assert_eq!(reflect101(8, 8), 6);
        assert_eq!(reflect101(9, 8), 5);
        // padding wider than the image folds again: len 3 -> 0 1 2 1 0 1 2 1
        let seq: Vec<usize> = (0..8).map(|p| reflect101(p, 3)).collect();
        assert_eq!(seq, vec![0, 1, 2, 1, 0, 1, 2, 1]);
        assert_eq!(reflect101(5, 1), 0);
    }

    #[test]
    fn geometry_pads_both_axes_when_one_is_not_divisible() {
        assert_eq!(
            geometry(256, 256, 8, 8),
            Geometry {
                tile_w: 32,
                tile_h: 32,
                padded_w: 256,
                padded_h: 256
            }
        );
        assert_eq!(
            geometry(64, 50, 8, 8),
            Geometry {
                tile_w: 9,
                tile_h: 7,
                padded_w: 72,
                padded_h: 56
            }
        );
        assert_eq!(
            geometry(5, 3, 8, 8),
            Geometry {
                tile_w: 1,
                tile_h: 1,
                padded_w: 8,
                padded_h: 8
            }
        );
    }

    #[test]
    fn clip_count_matches_opencv_rule() {
        assert_eq!(clip_count(1.0, 1024), 4);
        assert_eq!(clip_count(0.5, 120), 1); // trunc(0.23) = 0 -> at least 1
        assert_eq!(clip_count(0.0, 1024), 0);
        assert_eq!(clip_count(-3.0, 1024), 0);
        assert_eq!(clip_count(2.5, 63), 1);
        assert_eq!(clip_count(1e300, 4), u32::MAX);
    }

    #[test]
    fn redistribution_spreads_the_residual_with_a_stride() {
        let mut hist = [0u32; BINS];
        hist[10] = 4 + 256 * 2 + 3; // excess = 515 = 2 * 256 + 3
        clip_histogram(&mut hist, 4);
        assert_eq!(hist[10], 4 + 2);
        // residual 3 -> stride 85: bins 0, 85, 170 get one more
        assert_eq!((hist[0], hist[85], hist[170], hist[1]), (3, 3, 3, 2));
        assert_eq!(hist.iter().map(|&v| v as u64).sum::<u64>(), 4 + 256 * 2 + 3);
    }

    #[test]
    fn rejects_bad_arguments() {
        let img = GrayU8::filled(4, 4, 1);
        assert!(clahe(
            &img,
            &ClaheConfig {
                tiles_x: 0,
                ..Default::default()
            }
        )
        .is_err());
        assert!(clahe(
            &img,
            &ClaheConfig {
                clip_limit: f64::NAN,
                ..Default::default()
            }
        )
        .is_err());
        assert!(clahe(&GrayU8::filled(0, 3, 0), &ClaheConfig::default()).is_err());
    }
}
