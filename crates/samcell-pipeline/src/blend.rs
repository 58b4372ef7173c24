//! Blending the per-crop distance maps into one map of the image.
//!
//! Reproduces samcell 1.1.4 `SlidingWindowHelper.combine_crops` (slidingWindow.py) bit for bit,
//! except for the pixels it cannot normalise:
//!
//! - **Mask** (`_create_blending_mask`): an f32 square of ones; for `i` in `0..overlap`, rows `i`
//!   and `size-1-i` and columns `i` and `size-1-i` are multiplied (in that order) by
//!   `0.5 * (1 - cos(pi * i / overlap))`, the product taken in f64 and rounded to f32 (numpy 2
//!   promotes `float32_array *= np.float64`). `combine_crops` builds it for the configured crop
//!   size (256), or, when the first crop's shape differs from that, for `max(crop_h, crop_w)`, and
//!   then resizes it with OpenCV 4.12 `cv2.resize(mask, (crop_w, crop_h))` (INTER_LINEAR) when
//!   it is not of the crop's shape (whole-image single crops such as 48x40).
//! - **Accumulation**: each crop's map is first resized to the crop's shape if it differs
//!   (`cv2.resize(..., INTER_LINEAR)`); then over its region `(x, y, w, h)`, with
//!   `mh = min(h, mask_h)`, `mw = min(w, mask_w)` clipped to the image, the top-left `mh x mw`
//!   parts are used: `accum += map * mask` and `weight += mask`, all in f32, crops in plan order.
//! - **Normalisation**: `map = accum / weight` (f32) where `weight > 1e-4` (f32 comparison).
//! - **Our fix for the other pixels** (row 0, column 0 and a few corner pixels with the defaults):
//!   samcell fills them through `cv2.distanceTransformWithLabels(..., DIST_LABEL_PIXEL)` but reads
//!   its labels as flat pixel indices, which picks unrelated pixels. Here each such pixel takes the
//!   value of its nearest normalised pixel in exact Euclidean distance; among equally near ones the
//!   first in raster order (smallest row, then smallest column) wins. If no pixel of the image has
//!   weight above 1e-4 (impossible with valid tilings) the map stays 0 (`accum` is 0 there).
//!
//! Where the reference would raise instead (blending mask for a crop whose larger side is below
//! the overlap: numpy `IndexError`), out-of-range rows/columns are simply skipped.
//!
//! Two additions: a crop of a padded plan ([`crate::tiling::TilingMode::Padded`]) is read from
//! its map and mask at the tile's offset (`map_x`, `map_y`; 0 in the reference's tilings), and
//! a crop map holding NaN or infinite values in the part that is blended is refused
//! ([`PipelineError::NonFiniteMap`]) rather than blended (NaN compares false with both
//! thresholds, so it would silently give no cells).
//! The mask is never larger than the plan's largest crop, which the tiling keeps within
//! `crop x crop`.

use samcell_imaging::{resize, MapF32};

use crate::tiling::TilePlan;
use crate::PipelineError;

/// Pixels whose accumulated weight is not above this are filled from their nearest neighbour.
pub const MIN_WEIGHT: f32 = 1e-4;

/// samcell's cosine blending mask of `size x size` with a ramp of `overlap` pixels.
pub fn blending_mask(size: usize, overlap: usize) -> MapF32 {
    blending_mask_rect(size, size, overlap)
}

/// samcell's mask construction on a `width x height` rectangle: for `i` in `0..overlap`, rows
/// `i` and `height-1-i`, then columns `i` and `width-1-i`, multiplied by the ramp (f64 product
/// rounded to f32). Equal to [`blending_mask`] for a square.
pub fn blending_mask_rect(width: usize, height: usize, overlap: usize) -> MapF32 {
    let mut m = MapF32::filled(width, height, 1.0);
    if width == 0 || height == 0 {
        return m;
    }
    for i in 0..overlap {
        let w = 0.5 * (1.0 - (std::f64::consts::PI * i as f64 / overlap as f64).cos());
        let scale = |v: &mut f32| *v = (*v as f64 * w) as f32;
        if i < height {
            m.row_mut(i).iter_mut().for_each(scale);
            m.row_mut(height - 1 - i).iter_mut().for_each(scale);
        }
        if i < width {
            for r in 0..height {
                scale(&mut m.data_mut()[r * width + i]);
            }
            for r in 0..height {
                scale(&mut m.data_mut()[r * width + width - 1 - i]);
            }
        }
    }
    m
}

/// The mask `combine_crops` uses for the crops of `plan` (see the module doc); for a padded
/// plan, the mask built for its first crop's shape.
pub fn crop_blending_mask(plan: &TilePlan) -> Result<MapF32, PipelineError> {
    let (ch, cw) = plan.first_crop_hw();
    let cfg = plan.config;
    if plan.mode == crate::tiling::TilingMode::Padded {
        return Ok(blending_mask_rect(cw, ch, cfg.overlap));
    }
    let size = if (ch, cw) != (cfg.crop, cfg.crop) {
        ch.max(cw)
    } else {
        cfg.crop
    };
    let mask = blending_mask(size, cfg.overlap);
    if (mask.height(), mask.width()) != (ch, cw) {
        return resize::opencv_linear_f32(&mask, cw, ch).map_err(PipelineError::imaging);
    }
    Ok(mask)
}

/// The two accumulators of `combine_crops`, filled crop by crop.
#[derive(Debug)]
pub struct Blender<'a> {
    plan: &'a TilePlan,
    mask: MapF32,
    accum: MapF32,
    weight: MapF32,
}

impl<'a> Blender<'a> {
    /// Empty accumulators for the image of `plan`.
    pub fn new(plan: &'a TilePlan) -> Result<Self, PipelineError> {
        let (w, h) = (plan.image_width, plan.image_height);
        Ok(Self {
            plan,
            mask: crop_blending_mask(plan)?,
            accum: MapF32::filled(w, h, 0.0),
            weight: MapF32::filled(w, h, 0.0),
        })
    }

    /// The blending mask in use.
    pub fn mask(&self) -> &MapF32 {
        &self.mask
    }

    /// `sum(map * mask)` so far (the harness's `combine_accum.npy` once all crops are added).
    pub fn accum(&self) -> &MapF32 {
        &self.accum
    }

    /// `sum(mask)` so far (the harness's `combine_weight_map.npy`).
    pub fn weight(&self) -> &MapF32 {
        &self.weight
    }

    /// Pixels that normalisation covers (`weight > 1e-4`), row-major.
    pub fn valid(&self) -> Vec<bool> {
        self.weight.data().iter().map(|&w| w > MIN_WEIGHT).collect()
    }

    /// Adds crop `index`'s distance map (resized to the crop's shape first if it is not).
    pub fn add(&mut self, index: usize, map: &MapF32) -> Result<(), PipelineError> {
        let Some(part) = CropPart::new(self.plan, &self.mask, index, map)? else {
            return Ok(());
        };
        for row in 0..part.h {
            let y = part.y + row;
            let acc = &mut self.accum.row_mut(y)[part.x..part.x + part.w];
            let wgt = &mut self.weight.row_mut(y)[part.x..part.x + part.w];
            part.accumulate_row(&self.mask, row, acc, wgt);
        }
        Ok(())
    }

    /// `accum / weight` where `weight > 1e-4`, the other pixels filled from their nearest
    /// normalised pixel (see the module doc).
    pub fn finish(self) -> MapF32 {
        let valid = self.valid();
        let mut out = self.accum;
        for ((o, &w), &ok) in out
            .data_mut()
            .iter_mut()
            .zip(self.weight.data())
            .zip(&valid)
        {
            if ok {
                *o /= w;
            }
        }
        fill_from_nearest(&mut out, &valid);
        out
    }
}

/// The part of one crop's map that `combine_crops` adds: its top-left `h x w` pixels (the crop
/// map resized to the crop's shape first if needed) go to image rows `y..y + h`, columns
/// `x..x + w`.
pub(crate) struct CropPart<'m> {
    pub map: std::borrow::Cow<'m, MapF32>,
    pub x: usize,
    pub y: usize,
    pub w: usize,
    pub h: usize,
    /// Column and row of the map (and mask) where the part starts (the tile's `map_x`, `map_y`).
    pub map_x: usize,
    pub map_y: usize,
}

impl<'m> CropPart<'m> {
    /// The part crop `index` of `plan` contributes with `map` (None when it covers nothing).
    pub fn new(
        plan: &TilePlan,
        mask: &MapF32,
        index: usize,
        map: &'m MapF32,
    ) -> Result<Option<Self>, PipelineError> {
        let total = plan.len();
        let tile = *plan
            .tiles
            .get(index)
            .ok_or_else(|| PipelineError::CropMap {
                index,
                total,
                reason: "no such crop in the plan".into(),
            })?;
        let map = if (map.width(), map.height()) != (tile.width, tile.height) {
            if map.width() == 0 || map.height() == 0 {
                return Err(PipelineError::CropMap {
                    index,
                    total,
                    reason: "empty distance map".into(),
                });
            }
            std::borrow::Cow::Owned(
                resize::opencv_linear_f32(map, tile.width, tile.height)
                    .map_err(PipelineError::imaging_on(index))?,
            )
        } else {
            std::borrow::Cow::Borrowed(map)
        };
        let (mh, mw) = touched(plan, mask, &tile);
        if mh == 0 || mw == 0 {
            return Ok(None);
        }
        let (mx, my) = (tile.map_x, tile.map_y);
        if map.height() < my + mh || map.width() < mx + mw {
            return Err(PipelineError::CropMap {
                index,
                total,
                reason: format!(
                    "map {}x{} smaller than its {mw}x{mh} region at ({mx}, {my})",
                    map.width(),
                    map.height()
                ),
            });
        }
        // only the part that is blended counts (pixels outside it are never read)
        let bad: usize = (my..my + mh)
            .map(|r| {
                map.row(r)[mx..mx + mw]
                    .iter()
                    .filter(|v| !v.is_finite())
                    .count()
            })
            .sum();
        if bad > 0 {
            return Err(PipelineError::NonFiniteMap {
                index,
                total,
                count: bad,
            });
        }
        Ok(Some(Self {
            map,
            x: tile.region.x,
            y: tile.region.y,
            w: mw,
            h: mh,
            map_x: mx,
            map_y: my,
        }))
    }

    /// `acc += map * mask`, `wgt += mask` over row `row` of the part (f32, in this order).
    #[inline]
    pub fn accumulate_row(&self, mask: &MapF32, row: usize, acc: &mut [f32], wgt: &mut [f32]) {
        let cols = self.map_x..self.map_x + self.w;
        let m = &self.map.row(self.map_y + row)[cols.clone()];
        let k = &mask.row(self.map_y + row)[cols];
        for ((a, &v), &kv) in acc.iter_mut().zip(m).zip(k) {
            *a += v * kv;
        }
        for (a, &kv) in wgt.iter_mut().zip(k) {
            *a += kv;
        }
    }
}

/// Rows and columns `(mh, mw)` of `tile`'s region that blending touches: the region clipped to
/// the mask's shape (from the tile's map offset on) and the image.
pub(crate) fn touched(
    plan: &TilePlan,
    mask: &MapF32,
    tile: &crate::tiling::Tile,
) -> (usize, usize) {
    let r = tile.region;
    let mask_h = mask.height().saturating_sub(tile.map_y);
    let mask_w = mask.width().saturating_sub(tile.map_x);
    let mh = (r.y + r.h.min(mask_h))
        .min(plan.image_height)
        .saturating_sub(r.y);
    let mw = (r.x + r.w.min(mask_w))
        .min(plan.image_width)
        .saturating_sub(r.x);
    (mh, mw)
}

const NONE: u32 = u32::MAX;

/// Gives each pixel with `valid == false` the value of its nearest valid pixel (exact Euclidean
/// distance; ties to the first in raster order). Returns how many pixels were filled; does
/// nothing when no pixel is valid.
///
/// Method: per column, the nearest valid row above and below each pixel (a column can only
/// contribute its nearest pixel), then for each invalid pixel a search over columns outwards
/// from its own, stopped once the horizontal distance alone exceeds the best found.
pub fn fill_from_nearest(map: &mut MapF32, valid: &[bool]) -> usize {
    let (w, h) = (map.width(), map.height());
    assert_eq!(valid.len(), w * h, "valid mask does not match the map");
    let n_invalid = valid.iter().filter(|&&v| !v).count();
    if n_invalid == 0 || n_invalid == valid.len() {
        return 0;
    }
    // down[y * w + x]: first valid row >= y in column x.
    let mut down = vec![NONE; w * h];
    let mut next = vec![NONE; w];
    for y in (0..h).rev() {
        for x in 0..w {
            if valid[y * w + x] {
                next[x] = y as u32;
            }
        }
        down[y * w..(y + 1) * w].copy_from_slice(&next);
    }
    let mut up = vec![NONE; w];
    let data = map.data_mut();
    for y in 0..h {
        for x in 0..w {
            if valid[y * w + x] {
                up[x] = y as u32;
            }
        }
        if valid[y * w..(y + 1) * w].iter().all(|&v| v) {
            continue;
        }
        // Nearest valid pixel of column x to row y: (dy^2, row); ties to the upper one.
        let column_best = |x: usize| -> Option<(u64, usize)> {
            let u = up[x];
            let d = down[y * w + x];
            let du = (u != NONE).then(|| (y - u as usize) as u64);
            let dd = (d != NONE).then(|| (d as usize - y) as u64);
            match (du, dd) {
                (Some(a), Some(b)) if b < a => Some((b * b, d as usize)),
                (Some(a), _) => Some((a * a, u as usize)),
                (None, Some(b)) => Some((b * b, d as usize)),
                (None, None) => None,
            }
        };
        for x in 0..w {
            if valid[y * w + x] {
                continue;
            }
            let mut best: Option<(u64, usize, usize)> = None;
            for r in 0..w {
                let r2 = (r as u64) * (r as u64);
                if best.is_some_and(|b| r2 > b.0) {
                    break;
                }
                let left = x.checked_sub(r);
                let right = if r > 0 && x + r < w {
                    Some(x + r)
                } else {
                    None
                };
                for col in [left, right].into_iter().flatten() {
                    if let Some((dy2, row)) = column_best(col) {
                        let key = (dy2 + r2, row, col);
                        if best.is_none_or(|b| key < b) {
                            best = Some(key);
                        }
                    }
                }
            }
            if let Some((_, row, col)) = best {
                data[y * w + x] = data[row * w + col];
            }
        }
    }
    n_invalid
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_shape_of_the_ramp() {
        let m = blending_mask(256, 32);
        assert_eq!(m.get(0, 100), 0.0);
        assert_eq!(m.get(255, 100), 0.0);
        assert_eq!(m.get(128, 128), 1.0);
        assert_eq!(m.get(40, 100), 1.0);
        // Symmetric.
        for (x, y) in [(3, 7), (10, 200), (31, 31)] {
            assert_eq!(m.get(x, y), m.get(y, x));
            assert_eq!(m.get(x, y), m.get(255 - x, 255 - y));
        }
        // Small masks: no panic, out-of-range rows skipped.
        let s = blending_mask(20, 32);
        assert_eq!(s.get(0, 5), 0.0);
        assert!(s.get(10, 10) > 0.0);
    }
}
