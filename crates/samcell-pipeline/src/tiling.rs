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
//! case like the smaller ones (the whole image is one crop).
//!
//! # Where we depart from the reference: degenerate small and thin images
//!
//! The reference rule above is kept wherever it is sane, and replaced where it is not:
//!
//! - **Shrunken crops with a tiny stride.** With `min(H, W)` just above `2 * overlap` the
//!   reference's stride `c - 2 * overlap` falls to a few pixels (1 at 65 px): a 65x65 image makes
//!   4,225 crops and 1000x65 makes 60,000. The reference rule is kept only while its stride is at
//!   least [`min_reduced_stride`] (`max(2 * overlap, crop / 4)`: 64 px with SAMCell's 256 + 32, so
//!   min sides 128..255 keep the reference's crops; 144 px with samcell-lite's 576 + 32).
//! - **Thin single crops.** With `min(H, W) <= 2 * overlap` the reference makes the whole image
//!   one crop, and blends it with a mask built as a square as wide as the *long* side (a
//!   20000x64 image: a 1.6 GB mask; 100000x1: 40 GB). The reference rule is kept only when the
//!   long side is at most the crop size, so that mask stays within `crop x crop`.
//! - **Instead** ([`TilingMode::Padded`]): along a side of at least `crop` pixels, crops of
//!   `crop` pixels placed exactly as the reference places them (stride `crop - 2 * overlap`);
//!   along a shorter side of `len` pixels, one crop of `min(crop, len + 2 * overlap)` pixels with
//!   the image centred in it (`(size - len) / 2` pixels before it), the rest read through the
//!   same `BORDER_REFLECT` index (repeated as `cv::borderInterpolate` does for offsets beyond one
//!   image length). The crop's map is read back at that offset ([`Tile::map_x`], [`Tile::map_y`]),
//!   so a short side sits on the blending mask's plateau (weight 1) rather than its ramp; the
//!   mask is the reference's cosine mask built for the crop's (possibly non-square) shape
//!   ([`crate::blend::blending_mask_rect`]). A short side keeps the crop's scale (its long side is
//!   still `crop`, so SAM's resize to 1024 enlarges it 4x as usual). The crop count is then
//!   `ceil(W / stride) x ceil(H / stride)` with a short side counting as 1: O(area / stride^2),
//!   and every buffer is O(W x H + crop^2).
//!
//! The reference's fixtures (256x256, 200x150, 48x40, 704x520) all fall in the kept range.

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
        Self {
            crop: 256,
            overlap: 32,
        }
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
    /// Left column, px from the image's left edge.
    pub x: usize,
    /// Top row, px from the image's top edge.
    pub y: usize,
    /// Width in pixels.
    pub w: usize,
    /// Height in pixels.
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
    /// Where the crop's map goes in the original image.
    pub region: Region,
    /// Column of the crop (and of its map) where `region` starts: 0 in the reference's tiling,
    /// the image's offset in the crop along a padded side ([`TilingMode::Padded`]).
    pub map_x: usize,
    /// Row of the crop where `region` starts (see `map_x`).
    pub map_y: usize,
}

/// Which tiling rule a plan follows (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TilingMode {
    /// The reference's crops (`min(H, W) >= crop`, or a reduced crop with a sane stride).
    Reference,
    /// The reference's single whole-image crop (small images).
    Single,
    /// Our rule for degenerate small or thin images: full crops, short sides padded.
    Padded,
}

/// Smallest stride for which the reference's shrunken crops are kept: `max(2 * overlap,
/// crop / 4)` (64 with SAMCell's 256 + 32).
pub fn min_reduced_stride(config: &TilingConfig) -> usize {
    (2 * config.overlap).max(config.crop / 4).max(1)
}

/// One crop position along one axis, in original-image coordinates.
#[derive(Clone, Copy, Debug)]
struct AxisCrop {
    /// Original coordinate of the crop's first pixel (negative when it starts in the padding).
    origin: isize,
    /// Crop size along the axis.
    size: usize,
    /// Region start and length in the original image.
    region: (usize, usize),
    /// Crop coordinate of the region start.
    map_off: usize,
}

/// The reference's positions along one axis of `len` pixels, crop `c`, padding `overlap`.
fn reference_axis(len: usize, crop: usize, overlap: usize) -> Vec<AxisCrop> {
    let stride = crop - 2 * overlap;
    let padded = len + 2 * overlap;
    let n = len.div_ceil(stride).max(1);
    (0..n)
        .map(|i| {
            let start = if i + 1 < n {
                i * stride + overlap
            } else {
                padded - crop
            };
            let (o, l) = region_axis(start, len, crop, overlap);
            AxisCrop {
                origin: start as isize - overlap as isize,
                size: crop.min(padded - start),
                region: (o, l),
                map_off: 0,
            }
        })
        .collect()
}

/// One crop along a short axis: `min(crop, len + 2 * overlap)` pixels with the `len`-pixel axis
/// centred in it.
fn centred_axis(len: usize, crop: usize, overlap: usize) -> Vec<AxisCrop> {
    let size = crop.min(len + 2 * overlap);
    let off = (size - len) / 2;
    vec![AxisCrop {
        origin: -(off as isize),
        size,
        region: (0, len),
        map_off: off,
    }]
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
    /// Which rule made the plan.
    pub mode: TilingMode,
    /// Effective crop side (`min(H, W)` for small images; for a single-crop image, its larger side).
    pub crop_size: usize,
    /// Effective padding: crop positions `x_start`, `y_start` count from `overlap` pixels before
    /// the image (0 for a single-crop image; for a padded plan, enough for a centred short side).
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
        let (crop, overlap) = (config.crop, config.overlap);
        let min_side = height.min(width);
        let (mode, c) = if min_side >= crop {
            (TilingMode::Reference, crop)
        } else if min_side > 2 * overlap && min_side - 2 * overlap >= min_reduced_stride(config) {
            (TilingMode::Reference, min_side)
        } else if min_side <= 2 * overlap && width.max(height) <= crop {
            return Ok(Self::single(width, height, config));
        } else {
            (TilingMode::Padded, crop)
        };
        let axis = |len: usize| {
            if mode == TilingMode::Padded && len < crop {
                centred_axis(len, crop, overlap)
            } else {
                reference_axis(len, c, overlap)
            }
        };
        let (xs, ys) = (axis(width), axis(height));
        let pad = xs
            .iter()
            .chain(&ys)
            .map(|a| (-a.origin).max(0) as usize)
            .fold(overlap, usize::max);
        let mut tiles = Vec::with_capacity(xs.len() * ys.len());
        for y in &ys {
            for x in &xs {
                // empty regions are dropped, as in the reference
                if x.region.1 == 0 || y.region.1 == 0 {
                    continue;
                }
                tiles.push(Tile {
                    x_start: (x.origin + pad as isize) as usize,
                    y_start: (y.origin + pad as isize) as usize,
                    width: x.size,
                    height: y.size,
                    region: Region {
                        x: x.region.0,
                        y: y.region.0,
                        w: x.region.1,
                        h: y.region.1,
                    },
                    map_x: x.map_off,
                    map_y: y.map_off,
                });
            }
        }
        let unique = c - 2 * overlap;
        Ok(Self {
            image_width: width,
            image_height: height,
            config: *config,
            mode,
            crop_size: c,
            overlap: pad,
            stride: unique,
            grid: (ys.len(), xs.len()),
            tiles,
            unique_region: Region {
                x: overlap,
                y: overlap,
                w: unique,
                h: unique,
            },
        })
    }

    fn single(width: usize, height: usize, config: &TilingConfig) -> Self {
        let whole = Region {
            x: 0,
            y: 0,
            w: width,
            h: height,
        };
        Self {
            image_width: width,
            image_height: height,
            config: *config,
            mode: TilingMode::Single,
            crop_size: width.max(height),
            overlap: 0,
            stride: 0,
            grid: (1, 1),
            tiles: vec![Tile {
                x_start: 0,
                y_start: 0,
                width,
                height,
                region: whole,
                map_x: 0,
                map_y: 0,
            }],
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
            PipelineError::Shape(format!(
                "crop {index} requested from a plan of {} crops",
                self.len()
            ))
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
        let cols: Vec<usize> = (0..tile.width)
            .map(|i| reflect_index(tile.x_start as isize + i as isize - o, w))
            .collect();
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

/// samcell's region arithmetic along one axis for a crop starting at `start` of the padded
/// image: `(offset, length)` in the original image.
fn region_axis(start: usize, len: usize, crop: usize, overlap: usize) -> (usize, usize) {
    let (start, len, crop, overlap) = (
        start as isize,
        len as isize,
        crop as isize,
        overlap as isize,
    );
    let mut o = (start - overlap).max(0);
    let mut l = crop.min(len - o);
    o = o.min(len);
    l = l.min(len - o).max(0);
    (o as usize, l as usize)
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
    Ok(plan
        .tiles
        .iter()
        .map(|t| plan.extract_tile(img, t))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflect_matches_border_reflect() {
        // fedcba|abcdef|fedcba for a 6-pixel axis.
        let got: Vec<usize> = (-6..12).map(|i| reflect_index(i, 6)).collect();
        assert_eq!(
            got,
            vec![5, 4, 3, 2, 1, 0, 0, 1, 2, 3, 4, 5, 5, 4, 3, 2, 1, 0]
        );
        // Beyond one length: periodic with period 2n.
        assert_eq!(reflect_index(-7, 3), reflect_index(-1, 3));
        assert_eq!(reflect_index(-7, 3), 0);
        assert_eq!(reflect_index(5, 1), 0);
    }

    #[test]
    fn stride_zero_is_one_crop_and_bad_config_is_refused() {
        let p = TilePlan::new(64, 200, &TilingConfig::default()).expect("plan");
        assert_eq!((p.len(), p.mode), (1, TilingMode::Single));
        assert_eq!(
            p.tiles[0].region,
            Region {
                x: 0,
                y: 0,
                w: 64,
                h: 200
            }
        );
        assert!(TilePlan::new(
            10,
            10,
            &TilingConfig {
                crop: 64,
                overlap: 32
            }
        )
        .is_err());
        assert!(TilePlan::new(0, 10, &TilingConfig::default()).is_err());
    }

    /// Defect: a thin image (one side <= 64, the other above the crop) was one crop as long as
    /// the image, and a min side just above 64 gave a stride of a few pixels (65x65: 4,225
    /// crops). Now: full-size crops along the long side, one centred crop across the short one.
    #[test]
    fn degenerate_shapes_are_padded_not_shrunk() {
        let cfg = TilingConfig::default();
        for (w, h, crops) in [
            (64, 300, 2),
            (65, 65, 1),
            (70, 70, 1),
            (1000, 65, 6),
            (100_000, 1, 521),
            (1, 100_000, 521),
            (20_000, 64, 105),
        ] {
            let p = TilePlan::new(w, h, &cfg).expect("plan");
            assert_eq!(p.mode, TilingMode::Padded, "{w}x{h}");
            assert_eq!(p.len(), crops, "{w}x{h}: crops");
            for t in &p.tiles {
                assert!(
                    t.width <= cfg.crop && t.height <= cfg.crop,
                    "{w}x{h}: crop {}x{}",
                    t.width,
                    t.height
                );
            }
        }
        // a short side sits in the middle of its crop: 65 px in a 129 px crop, 32 px before it
        let p = TilePlan::new(1000, 65, &cfg).expect("plan");
        assert_eq!(
            (p.tiles[0].height, p.tiles[0].map_y, p.tiles[0].map_x),
            (129, 32, 0)
        );
        // the crop reads the image through the reflection index from 32 px above it
        let img = GrayU8::from_vec(10, 2, (0..20).collect()).expect("img");
        let p = TilePlan::new(
            10,
            2,
            &TilingConfig {
                crop: 8,
                overlap: 1,
            },
        )
        .expect("plan");
        assert_eq!((p.mode, p.len()), (TilingMode::Padded, 2));
        let c = p.extract(&img, 0).expect("crop");
        let t = p.tiles[0];
        assert_eq!((c.width(), c.height(), t.map_x, t.map_y), (8, 4, 0, 1));
        assert_eq!(
            t.region,
            Region {
                x: 0,
                y: 0,
                w: 8,
                h: 2
            }
        );
        let rows: Vec<&[u8]> = (0..4).map(|r| c.row(r)).collect();
        assert_eq!(
            rows,
            [
                &[0, 1, 2, 3, 4, 5, 6, 7][..],
                &[0, 1, 2, 3, 4, 5, 6, 7],
                &[10, 11, 12, 13, 14, 15, 16, 17],
                &[10, 11, 12, 13, 14, 15, 16, 17]
            ]
        );
        // the reference's sane reduced crops are kept: min side 128 -> stride 64
        let p = TilePlan::new(300, 128, &cfg).expect("plan");
        assert_eq!(
            (p.mode, p.crop_size, p.stride),
            (TilingMode::Reference, 128, 64)
        );
        let p = TilePlan::new(300, 127, &cfg).expect("plan");
        assert_eq!(p.mode, TilingMode::Padded);
    }

    #[test]
    fn regions_cover_the_image() {
        for (w, h) in [
            (704, 520),
            (256, 256),
            (200, 150),
            (48, 40),
            (1024, 1022),
            (257, 300),
            (65, 70),
            (64, 300),
            (1, 700),
            (900, 3),
            (127, 127),
        ] {
            let p = TilePlan::new(w, h, &TilingConfig::default()).expect("plan");
            let mut cover = vec![0u32; w * h];
            for t in &p.tiles {
                let r = t.region;
                assert!(r.x + r.w <= w && r.y + r.h <= h);
                assert!(
                    t.width >= r.w && t.height >= r.h,
                    "crop smaller than its region"
                );
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
