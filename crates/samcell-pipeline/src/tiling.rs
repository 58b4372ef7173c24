//! The sliding-window tiling plan.
//!
//! Reproduces samcell 1.1.4 `SlidingWindowHelper.seperate_into_crops` (slidingWindow.py, as called
//! by `SlidingWindowPipeline.predict_on_full_img` with `crop_size=256` and the helper's fixed
//! `overlap_size=32`) exactly, crop for crop:
//!
//! - **Effective crop size.** If `min(H, W) < crop`, the crop size becomes `c = min(H, W)`
//!   (square crops, overlap kept); if that is `< 2 * overlap`, the whole image is one crop of its
//!   own (non-square) shape, with no padding. Otherwise `c = crop`.
//! - **Padding.** The image is padded by `overlap` on all sides with OpenCV 4.12
//!   `cv2.copyMakeBorder(..., cv2.BORDER_REFLECT)` (edge pixel repeated: `fedcba|abcdef`). The
//!   padded image is never materialised here: crop pixels are read through the reflection index.
//! - **Positions.** `stride = c - 2 * overlap`; `ceil(H / stride)` rows x `ceil(W / stride)`
//!   columns of crops in raster order; crop `(i, j)` starts in the padded image at
//!   `i * stride + overlap` (resp. `j * ...`), except the last row/column, which is aligned to the
//!   padded image's end (`H + 2 * overlap - c`).
//! - **Ragged crops.** A crop is the numpy slice `padded[y:y+c, x:x+c]`, which is silently cut
//!   at the padded image's end: with small strides (e.g. a 200x150 image: c = 150, stride 86) some
//!   crops are narrower than `c` (150x146 there).
//! - **Regions.** Crop `k` maps back to the original image at
//!   `(max(0, x - overlap), max(0, y - overlap))`, width `min(c, W - x0)` and height
//!   `min(c, H - y0)` (clamped at 0), which is `crop_regions.json`'s `orig_regions_xywh` of the
//!   reference harness. Crops with an empty region are dropped, as in the reference. The blending
//!   step puts the crop's top-left `h x w` part at that region.
//!
//! One deliberate difference: when the effective crop size is exactly `2 * overlap` (a 64-pixel
//! min side with the defaults) the reference divides by a zero stride and fails; we treat that
//! case like the smaller ones (the whole image is one crop). Note that the reference rule makes
//! very many crops when `min(H, W)` is only a little above `2 * overlap` (stride 1 at 65 px); this
//! is reproduced as is.

use samcell_imaging::GrayU8;

use crate::PipelineError;

/// Crop size and overlap of the sliding window; the defaults are samcell's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TilingConfig {
    /// Side of the square crops (samcell: 256).
    pub crop: usize,
    /// Padding and blending ramp width (samcell: 32).
    pub overlap: usize,
}

impl Default for TilingConfig {
    fn default() -> Self {
        Self { crop: 256, overlap: 32 }
    }
}

impl TilingConfig {
    /// Checks that crops advance: `crop > 2 * overlap`.
    pub fn validate(&self) -> Result<(), PipelineError> {
        if self.crop == 0 || self.crop <= 2 * self.overlap {
            return Err(PipelineError::Config(format!(
                "crop size {} must be larger than twice the overlap {}",
                self.crop, self.overlap
            )));
        }
        Ok(())
    }
}

/// A rectangle of the original image, `(x, y, w, h)` as samcell's `orig_regions`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Region {
    pub x: usize,
    pub y: usize,
    pub w: usize,
    pub h: usize,
}

impl Region {
    /// `[x, y, w, h]`, the order of `crop_regions.json`.
    pub fn xywh(&self) -> [usize; 4] {
        [self.x, self.y, self.w, self.h]
    }
}

/// One crop of the plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tile {
    /// Left edge of the crop in the padded image.
    pub x_start: usize,
    /// Top edge of the crop in the padded image.
    pub y_start: usize,
    /// Width of the crop (can be less than the crop size, see the module doc).
    pub width: usize,
    /// Height of the crop.
    pub height: usize,
    /// Where the crop's top-left part goes in the original image.
    pub region: Region,
}

/// Every crop of one image, in the reference's order.
#[derive(Clone, Debug, PartialEq)]
pub struct TilePlan {
    /// Width of the original image.
    pub image_width: usize,
    /// Height of the original image.
    pub image_height: usize,
    /// The configuration the plan was made with (its `crop` is also the size the blending mask
    /// is compared with, as `combine_crops` compares with the helper's `crop_size`).
    pub config: TilingConfig,
    /// Effective crop side (`min(H, W)` for small images; for a single-crop image, its larger side).
    pub crop_size: usize,
    /// Effective padding (0 for a single-crop image).
    pub overlap: usize,
    /// Distance between consecutive crops (0 for a single-crop image).
    pub stride: usize,
    /// Number of crop rows and columns before empty regions are dropped.
    pub grid: (usize, usize),
    /// The crops, raster order.
    pub tiles: Vec<Tile>,
    /// samcell's `crop_unique_region` `(overlap, overlap, c - 2 overlap, c - 2 overlap)`, or the
    /// whole image for a single crop (informational; the reference does not use it).
    pub unique_region: Region,
}

impl TilePlan {
    /// Plans the crops of a `width x height` image.
    pub fn new(width: usize, height: usize, config: &TilingConfig) -> Result<Self, PipelineError> {
        config.validate()?;
        if width == 0 || height == 0 {
            return Err(PipelineError::EmptyImage { width, height });
        }
        let (crop, overlap) = if height < config.crop || width < config.crop {
            let c = height.min(width);
            if c <= 2 * config.overlap {
                return Ok(Self::single(width, height, config));
            }
            (c, config.overlap)
        } else {
            (config.crop, config.overlap)
        };
        let stride = crop - 2 * overlap;
        let padded_w = width + 2 * overlap;
        let padded_h = height + 2 * overlap;
        let ny = height.div_ceil(stride).max(1);
        let nx = width.div_ceil(stride).max(1);
        let mut tiles = Vec::with_capacity(nx * ny);
        for yi in 0..ny {
            for xi in 0..nx {
                let y_start = if yi + 1 < ny { yi * stride + overlap } else { padded_h - crop };
                let x_start = if xi + 1 < nx { xi * stride + overlap } else { padded_w - crop };
                let region = orig_region(x_start, y_start, crop, overlap, width, height);
                if region.w == 0 || region.h == 0 {
                    continue;
                }
                tiles.push(Tile {
                    x_start,
                    y_start,
                    width: crop.min(padded_w - x_start),
                    height: crop.min(padded_h - y_start),
                    region,
                });
            }
        }
        let unique = crop - 2 * overlap;
        Ok(Self {
            image_width: width,
            image_height: height,
            config: *config,
            crop_size: crop,
            overlap,
            stride,
            grid: (ny, nx),
            tiles,
            unique_region: Region { x: overlap, y: overlap, w: unique, h: unique },
        })
    }

    fn single(width: usize, height: usize, config: &TilingConfig) -> Self {
        let whole = Region { x: 0, y: 0, w: width, h: height };
        Self {
            image_width: width,
            image_height: height,
            config: *config,
            crop_size: width.max(height),
            overlap: 0,
            stride: 0,
            grid: (1, 1),
            tiles: vec![Tile { x_start: 0, y_start: 0, width, height, region: whole }],
            unique_region: whole,
        }
    }

    /// Number of crops.
    pub fn len(&self) -> usize {
        self.tiles.len()
    }

    /// True when the plan has no crops (never for a valid plan).
    pub fn is_empty(&self) -> bool {
        self.tiles.is_empty()
    }

    /// `(height, width)` of the first crop: the shape `combine_crops` builds its blending mask for.
    pub fn first_crop_hw(&self) -> (usize, usize) {
        self.tiles.first().map_or((0, 0), |t| (t.height, t.width))
    }

    /// Copies crop `index` out of `img` (reflect-padded reads), equal to the reference's crop.
    pub fn extract(&self, img: &GrayU8, index: usize) -> Result<GrayU8, PipelineError> {
        self.check_image(img)?;
        let tile = self.tiles.get(index).ok_or_else(|| {
            PipelineError::Shape(format!("crop {index} requested from a plan of {} crops", self.len()))
        })?;
        Ok(self.extract_tile(img, tile))
    }

    fn check_image(&self, img: &GrayU8) -> Result<(), PipelineError> {
        if img.width() != self.image_width || img.height() != self.image_height {
            return Err(PipelineError::Shape(format!(
                "image is {}x{} but the plan was made for {}x{}",
                img.width(),
                img.height(),
                self.image_width,
                self.image_height
            )));
        }
        Ok(())
    }

    fn extract_tile(&self, img: &GrayU8, tile: &Tile) -> GrayU8 {
        let (w, h) = (img.width(), img.height());
        let o = self.overlap as isize;
        let cols: Vec<usize> =
            (0..tile.width).map(|i| reflect_index(tile.x_start as isize + i as isize - o, w)).collect();
        let mut out = GrayU8::filled(tile.width, tile.height, 0);
        for r in 0..tile.height {
            let src = img.row(reflect_index(tile.y_start as isize + r as isize - o, h));
            for (d, &c) in out.row_mut(r).iter_mut().zip(&cols) {
                *d = src[c];
            }
        }
        out
    }
}

/// samcell's region arithmetic for a crop starting at `(x_start, y_start)` of the padded image.
fn orig_region(x_start: usize, y_start: usize, crop: usize, overlap: usize, width: usize, height: usize) -> Region {
    let axis = |start: usize, len: usize| -> (usize, usize) {
        let (start, len, crop, overlap) = (start as isize, len as isize, crop as isize, overlap as isize);
        let mut o = (start - overlap).max(0);
        let mut l = crop.min(len - o);
        o = o.min(len);
        l = l.min(len - o).max(0);
        (o as usize, l as usize)
    };
    let (x, w) = axis(x_start, width);
    let (y, h) = axis(y_start, height);
    Region { x, y, w, h }
}

/// OpenCV `BORDER_REFLECT` index (`fedcba|abcdef|fedcba`), repeated for offsets beyond one
/// image length, as `cv::borderInterpolate` does; a length-1 axis always maps to 0.
pub(crate) fn reflect_index(mut i: isize, len: usize) -> usize {
    let n = len as isize;
    if n <= 1 {
        return 0;
    }
    loop {
        if i < 0 {
            i = -i - 1;
        } else if i >= n {
            i = 2 * n - i - 1;
        } else {
            return i as usize;
        }
    }
}

/// All crops of `img` in plan order (the harness's `crops_u8`).
pub fn extract_crops(img: &GrayU8, plan: &TilePlan) -> Result<Vec<GrayU8>, PipelineError> {
    plan.check_image(img)?;
    Ok(plan.tiles.iter().map(|t| plan.extract_tile(img, t)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflect_matches_border_reflect() {
        // fedcba|abcdef|fedcba for a 6-pixel axis.
        let got: Vec<usize> = (-6..12).map(|i| reflect_index(i, 6)).collect();
        assert_eq!(got, vec![5, 4, 3, 2, 1, 0, 0, 1, 2, 3, 4, 5, 5, 4, 3, 2, 1, 0]);
        // Beyond one length: periodic with period 2n.
        assert_eq!(reflect_index(-7, 3), reflect_index(-1, 3));
        assert_eq!(reflect_index(-7, 3), 0);
        assert_eq!(reflect_index(5, 1), 0);
    }

    #[test]
    fn stride_zero_is_one_crop_and_bad_config_is_refused() {
        let p = TilePlan::new(64, 300, &TilingConfig::default()).expect("plan");
        assert_eq!(p.len(), 1);
        assert_eq!(p.tiles[0].region, Region { x: 0, y: 0, w: 64, h: 300 });
        assert!(TilePlan::new(10, 10, &TilingConfig { crop: 64, overlap: 32 }).is_err());
        assert!(TilePlan::new(0, 10, &TilingConfig::default()).is_err());
    }

    #[test]
    fn regions_cover_the_image() {
        for (w, h) in [(704, 520), (256, 256), (200, 150), (48, 40), (1024, 1022), (257, 300), (65, 70)] {
            let p = TilePlan::new(w, h, &TilingConfig::default()).expect("plan");
            let mut cover = vec![0u32; w * h];
            for t in &p.tiles {
                let r = t.region;
                assert!(r.x + r.w <= w && r.y + r.h <= h);
                assert!(t.width >= r.w && t.height >= r.h, "crop smaller than its region");
                for y in r.y..r.y + r.h {
                    for x in r.x..r.x + r.w {
                        cover[y * w + x] += 1;
                    }
                }
            }
            assert!(cover.iter().all(|&c| c > 0), "{w}x{h} not covered");
        }
    }
}
