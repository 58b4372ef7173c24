//! SAM's input encoding of an enhanced crop, and the way back from SAM's 256x256 output.
//!
//! **Input.** Matches transformers 4.57 `SamImageProcessor.__call__` with its defaults, as samcell
//! 1.1.4 `_preprocess` calls it on the `COLOR_GRAY2BGR` crop (three equal channels):
//! 1. resize so the longest side is 1024: size from `SamImageProcessor._get_preprocess_shape`
//!    (`int(side * 1024 / longest + 0.5)`, via `samcell_imaging::resize::sam_resize_shape`),
//!    Pillow 11.3 `Image.resize(..., BILINEAR)` on u8 (`resize::pillow_bilinear_u8`);
//! 2. `rescale`: `(u8 as f64 * (1/255 as f64)) as f32` (transformers upcasts to float64 first);
//! 3. `normalize`: `(x - mean_f32) / std_f32` in f32 with mean (0.485, 0.456, 0.406) and std
//!    (0.229, 0.224, 0.225) cast to f32 (numpy `np.array(mean, dtype=float32)`);
//! 4. `pad_image`: zeros at the bottom/right up to 1024x1024;
//!
//! output CHW f32 `(3, 1024, 1024)`, channel order R, G, B (equal inputs, different mean/std).
//! Steps 2-3 depend only on the u8 value and the channel, so they are a 3x256 table computed with
//! exactly the reference's operations: the result is bit-identical, not just close.
//!
//! **Output.** samcell's `predict_on_full_img` resizes `sigmoid(pred_masks[0, 0, 0])` (256x256)
//! with `cv2.resize(map, (crop_size, crop_size))` (`crop_size` = the pipeline's 256, so an exact
//! copy), and `combine_crops` resizes it with `cv2.resize(..., INTER_LINEAR)` to the crop's own
//! shape when that differs (small images, ragged crops). [`sam_output_to_crop`] does both with
//! OpenCV 4.12 INTER_LINEAR semantics (`resize::opencv_linear_f32`).
//!
//! Both belong to SAM, not to the generic pipeline: [`crate::SamPredictor`] applies them around
//! the network, and training encodes its crops with [`write_pixel_values`] too.

use samcell_imaging::{resize, GrayU8, MapF32};

use crate::ModelError;

/// Side of SAM's square input.
pub const SAM_INPUT_SIZE: usize = 1024;
/// Number of f32 values of one encoded crop (`3 * 1024 * 1024`).
pub const PIXEL_VALUES_LEN: usize = 3 * SAM_INPUT_SIZE * SAM_INPUT_SIZE;
/// Side of SAM's low-resolution mask output, and samcell's pipeline `crop_size`.
pub const SAM_MASK_SIZE: usize = 256;
/// transformers' `IMAGENET_DEFAULT_MEAN`.
pub const IMAGE_MEAN: [f64; 3] = [0.485, 0.456, 0.406];
/// transformers' `IMAGENET_DEFAULT_STD`.
pub const IMAGE_STD: [f64; 3] = [0.229, 0.224, 0.225];

/// The value each u8 takes in each channel after rescale + normalize, computed as the reference
/// does (f64 rescale, cast to f32, f32 subtract and divide).
fn value_table() -> [[f32; 256]; 3] {
    let scale: f64 = 1.0 / 255.0;
    let mut t = [[0f32; 256]; 3];
    for (c, row) in t.iter_mut().enumerate() {
        let mean = IMAGE_MEAN[c] as f32;
        let std = IMAGE_STD[c] as f32;
        for (v, out) in row.iter_mut().enumerate() {
            let x = (v as f64 * scale) as f32;
            *out = (x - mean) / std;
        }
    }
    t
}

/// Encodes an enhanced crop as SAM's `pixel_values` (CHW, `3 x 1024 x 1024`).
pub fn pixel_values(crop: &GrayU8) -> Result<Vec<f32>, ModelError> {
    let mut out = vec![0f32; PIXEL_VALUES_LEN];
    write_pixel_values(crop, &mut out)?;
    Ok(out)
}

/// [`pixel_values`] into a caller buffer of exactly [`PIXEL_VALUES_LEN`] values (one slot of a
/// batch); every value is written, padding included.
pub fn write_pixel_values(crop: &GrayU8, out: &mut [f32]) -> Result<(), ModelError> {
    if out.len() != PIXEL_VALUES_LEN {
        return Err(ModelError::Shape(format!(
            "pixel_values buffer has {} values, expected {PIXEL_VALUES_LEN}",
            out.len()
        )));
    }
    if crop.width() == 0 || crop.height() == 0 {
        return Err(ModelError::EmptyCrop {
            width: crop.width(),
            height: crop.height(),
        });
    }
    let (nw, nh) = resize::sam_resize_shape(crop.width(), crop.height(), SAM_INPUT_SIZE);
    if nw > SAM_INPUT_SIZE || nh > SAM_INPUT_SIZE {
        return Err(ModelError::Shape(format!(
            "resized crop {nw}x{nh} exceeds {SAM_INPUT_SIZE}"
        )));
    }
    let resized = resize::pillow_bilinear_u8(crop, nw, nh).map_err(ModelError::Imaging)?;
    let table = value_table();
    let plane = SAM_INPUT_SIZE * SAM_INPUT_SIZE;
    for (c, chan) in out.chunks_exact_mut(plane).enumerate() {
        let lut = &table[c];
        for (y, row) in chan.chunks_exact_mut(SAM_INPUT_SIZE).enumerate() {
            if y < nh {
                let src = resized.row(y);
                for (d, &s) in row[..nw].iter_mut().zip(src) {
                    *d = lut[s as usize];
                }
                row[nw..].fill(0.0);
            } else {
                row.fill(0.0);
            }
        }
    }
    Ok(())
}

/// From SAM's 256x256 sigmoid map to the map blended for a `crop_w x crop_h` crop, as the
/// reference does it: resize to 256x256 if it is not already (`predict_on_full_img`), then to the
/// crop's shape if that differs (`combine_crops`), both OpenCV INTER_LINEAR. A 256x256 map for a
/// 256x256 crop is returned unchanged.
pub fn sam_output_to_crop(
    map_256: &MapF32,
    crop_w: usize,
    crop_h: usize,
) -> Result<MapF32, ModelError> {
    let at_256 = if map_256.width() == SAM_MASK_SIZE && map_256.height() == SAM_MASK_SIZE {
        None
    } else {
        Some(
            resize::opencv_linear_f32(map_256, SAM_MASK_SIZE, SAM_MASK_SIZE)
                .map_err(ModelError::Imaging)?,
        )
    };
    let m = at_256.as_ref().unwrap_or(map_256);
    if m.width() == crop_w && m.height() == crop_h {
        return Ok(at_256.unwrap_or_else(|| map_256.clone()));
    }
    resize::opencv_linear_f32(m, crop_w, crop_h).map_err(ModelError::Imaging)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_extremes() {
        let t = value_table();
        // 0 maps to -mean/std, 255 to (1 - mean)/std, computed in f32.
        assert_eq!(t[0][0], (0f32 - 0.485f32) / 0.229f32);
        assert_eq!(t[2][255], (1f32 - 0.406f32) / 0.225f32);
        // Monotonic in the u8 value.
        for row in &t {
            assert!(row.windows(2).all(|w| w[0] < w[1]));
        }
    }

    #[test]
    fn wrong_buffer_is_refused() {
        let crop = GrayU8::filled(4, 4, 7);
        let mut small = vec![0f32; 10];
        assert!(matches!(
            write_pixel_values(&crop, &mut small),
            Err(ModelError::Shape(_))
        ));
    }
}
