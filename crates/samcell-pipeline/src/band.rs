//! Blending in row bands: the same map as [`crate::blend::Blender`], bit for bit, without its
//! two image-sized accumulators.
//!
//! [`BandBlender`] takes the crops in plan order, as `Blender` is fed. For each image row it
//! knows (from the plan) the last crop that touches it; once that crop is added, the row's sums
//! are final, so it is normalised (`accum / weight` where `weight > 1e-4`, samcell 1.1.4
//! `combine_crops`) straight into the output map and dropped from the band. Every pixel gets the
//! same f32 additions in the same order (crops in plan order, the shared
//! `blend::CropPart::accumulate_row`) and the same division as with `Blender`, so the values are
//! identical; the pixels that normalisation does not cover are remembered in a bit grid and
//! filled afterwards by [`fill_from_nearest_bits`], the same rule as
//! [`crate::blend::fill_from_nearest`] (nearest normalised pixel in exact Euclidean distance,
//! ties to the first in raster order) with per-column working arrays only.
//!
//! Memory: the output map (4 bytes per pixel), a bit per pixel for the unnormalised pixels,
//! and two f32 bands of `width x rows` where `rows` is the span of rows between the first
//! unfinished row and the last row touched so far (about two crop heights with the standard
//! plan: 10,000 px wide, 36 MB in all); `Blender` needs 8 bytes per pixel plus a bool per pixel
//! and a 4-byte-per-pixel index array in its fill.

use samcell_imaging::MapF32;

use crate::blend::{crop_blending_mask, touched, CropPart, MIN_WEIGHT};
use crate::tiling::TilePlan;
use crate::PipelineError;

/// One bit per pixel of a `width x height` grid, row-major.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BitGrid {
    width: usize,
    height: usize,
    words: Vec<u64>,
}

impl BitGrid {
    /// All bits clear.
    pub fn new(width: usize, height: usize) -> Self {
        Self {
            width,
            height,
            words: vec![0; (width * height).div_ceil(64)],
        }
    }

    /// Width of the grid.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height of the grid.
    pub fn height(&self) -> usize {
        self.height
    }

    /// Bit of raveled pixel `i`.
    #[inline]
    pub fn get(&self, i: usize) -> bool {
        self.words[i / 64] >> (i % 64) & 1 != 0
    }

    /// Sets the bit of raveled pixel `i`.
    #[inline]
    pub fn set(&mut self, i: usize) {
        self.words[i / 64] |= 1 << (i % 64);
    }

    /// Number of set bits.
    pub fn count(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Whether any bit of row `y` is set.
    pub fn row_any(&self, y: usize) -> bool {
        (y * self.width..(y + 1) * self.width).any(|i| self.get(i))
    }
}

/// `combine_crops` in row bands (see the module doc). Crops must be added in plan order.
#[derive(Debug)]
pub struct BandBlender<'a> {
    plan: &'a TilePlan,
    mask: MapF32,
    /// Per image row: index of the last crop touching it (`u32::MAX`: none).
    last_crop: Vec<u32>,
    /// The next crop expected.
    next_crop: usize,
    /// First row not yet finished; the band holds rows `top..top + rows`.
    top: usize,
    rows: usize,
    accum: Vec<f32>,
    weight: Vec<f32>,
    out: MapF32,
    /// Pixels not normalised (`weight <= 1e-4`).
    unset: BitGrid,
    /// Largest band height so far (rows), for the memory bound.
    peak_rows: usize,
    /// Largest total of the buffers held so far, in bytes.
    peak_bytes: usize,
}

const NO_CROP: u32 = u32::MAX;

impl<'a> BandBlender<'a> {
    /// An empty blender for the image of `plan`; the output map is allocated here.
    pub fn new(plan: &'a TilePlan) -> Result<Self, PipelineError> {
        let mask = crop_blending_mask(plan)?;
        let (w, h) = (plan.image_width, plan.image_height);
        let mut last_crop = vec![NO_CROP; h];
        for (k, tile) in plan.tiles.iter().enumerate() {
            let (mh, mw) = touched(plan, &mask, tile);
            if mh > 0 && mw > 0 {
                let k = u32::try_from(k).map_err(|_| {
                    PipelineError::Shape(format!("plan of {} crops is too large", plan.len()))
                })?;
                for slot in &mut last_crop[tile.region.y..tile.region.y + mh] {
                    *slot = k;
                }
            }
        }
        let mut b = Self {
            plan,
            mask,
            last_crop,
            next_crop: 0,
            top: 0,
            rows: 0,
            accum: Vec::new(),
            weight: Vec::new(),
            out: MapF32::filled(w, h, 0.0),
            unset: BitGrid::new(w, h),
            peak_rows: 0,
            peak_bytes: 0,
        };
        b.note_bytes();
        b.finish_ready_rows();
        Ok(b)
    }

    /// Bytes of every buffer the blender holds now (capacities, not lengths).
    pub fn buffer_bytes(&self) -> usize {
        let f = std::mem::size_of::<f32>();
        (self.mask.data().len()
            + self.out.data().len()
            + self.accum.capacity()
            + self.weight.capacity())
            * f
            + self.last_crop.capacity() * std::mem::size_of::<u32>()
            + self.unset.words.capacity() * std::mem::size_of::<u64>()
    }

    /// The largest [`Self::buffer_bytes`] so far: the blender's peak memory (the crop maps it
    /// is given, and their resized copies, one crop at a time, come on top).
    pub fn peak_buffer_bytes(&self) -> usize {
        self.peak_bytes
    }

    fn note_bytes(&mut self) {
        self.peak_bytes = self.peak_bytes.max(self.buffer_bytes());
    }

    /// The blending mask in use.
    pub fn mask(&self) -> &MapF32 {
        &self.mask
    }

    /// Largest number of rows the band has held so far.
    pub fn peak_band_rows(&self) -> usize {
        self.peak_rows
    }

    /// Adds crop `index`'s distance map; `index` must be the next crop of the plan.
    pub fn add(&mut self, index: usize, map: &MapF32) -> Result<(), PipelineError> {
        if index != self.next_crop {
            return Err(PipelineError::CropMap {
                index,
                total: self.plan.len(),
                reason: format!(
                    "crops must be blended in plan order; expected crop {}",
                    self.next_crop
                ),
            });
        }
        if let Some(part) = CropPart::new(self.plan, &self.mask, index, map)? {
            // Rows above `top` are finished, so no later crop touches them (`last_crop`).
            debug_assert!(part.y >= self.top);
            let w = self.plan.image_width;
            let end = part.y + part.h - self.top;
            if end > self.rows {
                self.accum.resize(end * w, 0.0);
                self.weight.resize(end * w, 0.0);
                self.rows = end;
                self.peak_rows = self.peak_rows.max(end);
            }
            for row in 0..part.h {
                let start = (part.y + row - self.top) * w + part.x;
                let acc = &mut self.accum[start..start + part.w];
                let wgt = &mut self.weight[start..start + part.w];
                part.accumulate_row(&self.mask, row, acc, wgt);
            }
            self.note_bytes();
        }
        self.next_crop += 1;
        self.finish_ready_rows();
        Ok(())
    }

    /// Normalises the rows whose last crop has been added into the output and drops them.
    fn finish_ready_rows(&mut self) {
        let (w, h) = (self.plan.image_width, self.plan.image_height);
        let mut done = 0;
        while self.top + done < h {
            let last = self.last_crop[self.top + done];
            if last != NO_CROP && last as usize >= self.next_crop {
                break;
            }
            let y = self.top + done;
            let out = self.out.row_mut(y);
            if done < self.rows {
                let acc = &self.accum[done * w..(done + 1) * w];
                let wgt = &self.weight[done * w..(done + 1) * w];
                for (x, ((o, &a), &k)) in out.iter_mut().zip(acc).zip(wgt).enumerate() {
                    // `Blender::finish`: accum / weight where valid, accum (0 unless tiny
                    // weights) elsewhere until the fill.
                    if k > MIN_WEIGHT {
                        *o = a / k;
                    } else {
                        *o = a;
                        self.unset.set(y * w + x);
                    }
                }
            } else {
                // A row no crop touches: accum and weight are 0.
                for i in y * w..(y + 1) * w {
                    self.unset.set(i);
                }
            }
            done += 1;
        }
        if done > 0 {
            let held = done.min(self.rows);
            self.accum.drain(..held * w);
            self.weight.drain(..held * w);
            self.rows -= held;
            self.top += done;
        }
    }

    /// The blended map, once every crop has been added; the pixels that normalisation does
    /// not cover are filled from their nearest normalised pixel.
    pub fn finish(self) -> Result<MapF32, PipelineError> {
        if self.next_crop != self.plan.len() || self.top != self.plan.image_height {
            return Err(PipelineError::Shape(format!(
                "blending finished after {} of {} crops",
                self.next_crop,
                self.plan.len()
            )));
        }
        let mut out = self.out;
        fill_from_nearest_bits(&mut out, &self.unset);
        Ok(out)
    }
}

const NONE: u32 = u32::MAX;
/// `down[x]` not known for the current row.
const STALE: u32 = u32::MAX - 1;

/// [`crate::blend::fill_from_nearest`] with the invalid pixels given as set bits of `invalid`
/// (the result is the same: each gets the value of its nearest valid pixel, exact Euclidean
/// distance, ties to the first in raster order); returns how many pixels were filled, and
/// does nothing when no pixel or every pixel is valid.
///
/// Same search as `fill_from_nearest` (per column the nearest valid row above and below, then
/// columns outwards, stopped once the horizontal distance alone exceeds the best found), but
/// "below" is found lazily per column, so the working memory is two per-column arrays instead
/// of one index per pixel.
pub fn fill_from_nearest_bits(map: &mut MapF32, invalid: &BitGrid) -> usize {
    let (w, h) = (map.width(), map.height());
    assert_eq!(
        (invalid.width(), invalid.height()),
        (w, h),
        "invalid mask does not match the map"
    );
    let n_invalid = invalid.count();
    if n_invalid == 0 || n_invalid == w * h {
        return 0;
    }
    // up[x]: last valid row <= y in column x; down[x]: first valid row >= y (NONE: none,
    // STALE: to be looked up), kept while it is still >= y.
    let mut up = vec![NONE; w];
    let mut down = vec![STALE; w];
    let data = map.data_mut();
    for y in 0..h {
        for (x, u) in up.iter_mut().enumerate() {
            if !invalid.get(y * w + x) {
                *u = y as u32;
            }
        }
        if !invalid.row_any(y) {
            continue;
        }
        for x in 0..w {
            if !invalid.get(y * w + x) {
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
                    if let Some((dy2, row)) = column_best(invalid, &up, &mut down, col, y) {
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

/// Nearest valid pixel of column `x` to row `y`: `(dy^2, row)`, ties to the upper one.
#[inline]
fn column_best(
    invalid: &BitGrid,
    up: &[u32],
    down: &mut [u32],
    x: usize,
    y: usize,
) -> Option<(u64, usize)> {
    let w = invalid.width();
    if down[x] == STALE || (down[x] != NONE && (down[x] as usize) < y) {
        down[x] = (y..invalid.height())
            .find(|&r| !invalid.get(r * w + x))
            .map_or(NONE, |r| r as u32);
    }
    let (u, d) = (up[x], down[x]);
    let du = (u != NONE).then(|| (y - u as usize) as u64);
    let dd = (d != NONE).then(|| (d as usize - y) as u64);
    match (du, dd) {
        (Some(a), Some(b)) if b < a => Some((b * b, d as usize)),
        (Some(a), _) => Some((a * a, u as usize)),
        (None, Some(b)) => Some((b * b, d as usize)),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blend::{fill_from_nearest, Blender};
    use crate::tiling::TilingConfig;
    use proptest::prelude::*;

    /// A crop map with values that differ from crop to crop and pixel to pixel (some crops
    /// returned at the model's 256x256 size, so the blender resizes them).
    fn crop_map(plan: &TilePlan, k: usize, seed: u64, model_size: bool) -> MapF32 {
        let t = plan.tiles[k];
        let (w, h) = if model_size {
            (256, 256)
        } else {
            (t.width, t.height)
        };
        let mut s = seed ^ (k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let data = (0..w * h)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (s >> 40) as f32 / (1u64 << 24) as f32
            })
            .collect();
        MapF32::from_vec(w, h, data).expect("map")
    }

    fn both(
        w: usize,
        h: usize,
        cfg: TilingConfig,
        seed: u64,
        resize_every: usize,
    ) -> (MapF32, MapF32, usize) {
        let plan = TilePlan::new(w, h, &cfg).expect("plan");
        let mut whole = Blender::new(&plan).expect("blender");
        let mut band = BandBlender::new(&plan).expect("band blender");
        for k in 0..plan.len() {
            let m = crop_map(&plan, k, seed, resize_every > 0 && k % resize_every == 0);
            whole.add(k, &m).expect("add");
            band.add(k, &m).expect("band add");
        }
        let rows = band.peak_band_rows();
        (whole.finish(), band.finish().expect("finish"), rows)
    }

    fn bits(m: &MapF32) -> Vec<u32> {
        m.data().iter().map(|v| v.to_bits()).collect()
    }

    #[test]
    fn band_equals_whole_image_blend_on_standard_plans() {
        // Ragged last rows/columns (700, 1000), single-crop (48x40), small crops (200x150),
        // exact multiples of the stride (576).
        for (w, h) in [
            (704, 520),
            (1000, 700),
            (48, 40),
            (200, 150),
            (576, 576),
            (65, 300),
            (300, 65),
        ] {
            let (a, b, rows) = both(w, h, TilingConfig::default(), 7, 3);
            assert_eq!(
                bits(&a),
                bits(&b),
                "{w}x{h}: band blend differs from Blender (tolerance 0)"
            );
            assert!(rows <= 2 * 256 || h <= 512, "{w}x{h}: band of {rows} rows");
        }
    }

    #[test]
    fn band_holds_about_two_crop_rows() {
        let (_, _, rows) = both(300, 2000, TilingConfig::default(), 1, 0);
        assert!(rows <= 256 + 192, "band grew to {rows} rows");
    }

    #[test]
    fn out_of_order_and_missing_crops_are_errors() {
        let plan = TilePlan::new(600, 500, &TilingConfig::default()).expect("plan");
        let mut band = BandBlender::new(&plan).expect("band");
        assert!(band.add(1, &crop_map(&plan, 1, 0, false)).is_err());
        band.add(0, &crop_map(&plan, 0, 0, false))
            .expect("first crop");
        assert!(
            band.finish().is_err(),
            "finish before the last crop must fail"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Any plan (crop 16..80, overlap up to just below half) and image size: the band
        /// blender's map is bit-identical to `Blender::finish` (tolerance 0).
        #[test]
        fn band_equals_whole_image_blend(w in 1usize..180, h in 1usize..180, crop in 16usize..80,
                                          ov in 0usize..40, seed in any::<u64>(), resize_every in 0usize..4) {
            let overlap = ov.min((crop - 1) / 2);
            let cfg = TilingConfig { crop, overlap };
            let plan = TilePlan::new(w, h, &cfg).expect("plan");
            let mut whole = Blender::new(&plan).expect("blender");
            let mut band = BandBlender::new(&plan).expect("band");
            for k in 0..plan.len() {
                let t = plan.tiles[k];
                let m = if resize_every > 0 && k % resize_every == 0 {
                    let mut s = crop_map(&plan, k, seed, false);
                    // a different size than the crop: the blender resizes it
                    s = MapF32::from_vec(t.width + 3, t.height + 1, vec![0.25; (t.width + 3) * (t.height + 1)]).unwrap_or(s);
                    s
                } else {
                    crop_map(&plan, k, seed, false)
                };
                whole.add(k, &m).expect("add");
                band.add(k, &m).expect("band add");
            }
            prop_assert_eq!(bits(&whole.finish()), bits(&band.finish().expect("finish")));
        }

        /// The bit-grid fill equals `fill_from_nearest` on random masks (tolerance 0),
        /// including empty and full columns.
        #[test]
        fn bit_fill_equals_fill_from_nearest(w in 1usize..40, h in 1usize..40, density in 0u32..100, seed in any::<u64>()) {
            let mut s = seed;
            let mut rnd = || { s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407); (s >> 33) as u32 };
            let valid: Vec<bool> = (0..w * h).map(|_| rnd() % 100 < density).collect();
            let values: Vec<f32> = (0..w * h).map(|i| i as f32 + 0.5).collect();
            let mut a = MapF32::from_vec(w, h, values.clone()).expect("map");
            let mut b = MapF32::from_vec(w, h, values).expect("map");
            let mut grid = BitGrid::new(w, h);
            for (i, &v) in valid.iter().enumerate() {
                if !v { grid.set(i); }
            }
            let na = fill_from_nearest(&mut a, &valid);
            let nb = fill_from_nearest_bits(&mut b, &grid);
            prop_assert_eq!(na, nb);
            prop_assert_eq!(bits(&a), bits(&b));
        }
    }
}
