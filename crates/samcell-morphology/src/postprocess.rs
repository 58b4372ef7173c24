//! samcell 1.1.4 `SlidingWindowPipeline.cells_from_dist_map`, the whole post-processing:
//!
//! ```python
//! cells_max = (dist_map > 0.47).astype(np.uint8)          # strict, compared in float32
//! cell_fill = (dist_map > 0.09).astype(np.uint8)
//! contours, _ = cv2.findContours(cells_max, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
//! mask = np.zeros(dist_map.shape, np.int32)
//! for i, contour in enumerate(contours):                  # contours with < 3 points: no seed
//!     M = cv2.moments(contour)                            # polygon moments
//!     cX, cY = int(M["m10"] / M["m00"]), int(M["m01"] / M["m00"])  # or the mean if m00 == 0
//!     mask[clamp(cY), clamp(cX)] = i + 1                  # later contours overwrite
//! labels = skimage.segmentation.watershed(-dist_map, mask, mask=cell_fill)  # all 0 if no seed
//! ```
//!
//! (OpenCV 4.12.0, scikit-image 0.25.2, numpy 2.2: the Python-float thresholds are weak
//! scalars, so the comparison happens in float32, which is what the `f32` thresholds here do.)

use crate::contours::{contour_seed, external_contours, external_contours_where};
use crate::watershed::watershed_negated_sparse;
use crate::MorphologyError;
use samcell_imaging::Image;

/// samcell's `cells_max_threshold`.
pub const DEFAULT_PEAK_THRESHOLD: f32 = 0.47;
/// samcell's `cell_fill_threshold`.
pub const DEFAULT_FILL_THRESHOLD: f32 = 0.09;

/// The marker image exactly as samcell builds it from the peak mask (non-zero = peak): contour
/// `i` of [`external_contours`] puts id `i + 1` at its [`contour_seed`], clamped into the
/// image; contours with fewer than 3 points leave a gap in the ids; a later contour overwrites
/// an earlier one on the same pixel.
pub fn seeds_from_peaks(peak: &Image<u8>) -> Image<u32> {
    let (w, h) = (peak.width(), peak.height());
    let mut markers = Image::filled(w, h, 0u32);
    if w == 0 || h == 0 {
        return markers;
    }
    for (i, contour) in external_contours(peak).iter().enumerate() {
        if let Some((x, y)) = contour_seed(contour) {
            let x = (x.max(0) as usize).min(w - 1);
            let y = (y.max(0) as usize).min(h - 1);
            // Contour indices fit in u32: there are fewer contours than pixels (< 2^32 checked
            // by the watershed; a larger id would only occur for > 4e9-pixel images).
            markers.set(x, y, u32::try_from(i + 1).unwrap_or(u32::MAX));
        }
    }
    markers
}

/// The seeds of [`seeds_from_peaks`] as `(raveled index, label)` pairs in raster order (one
/// per pixel: where contours share a seed pixel the later contour's id is kept, as the marker
/// image keeps it), for the peak mask `peak(y, x)` of a `width x height` image.
pub fn seed_list_from_peaks(
    width: usize,
    height: usize,
    peak: impl Fn(usize, usize) -> bool,
) -> Vec<(u32, u32)> {
    if width == 0 || height == 0 {
        return Vec::new();
    }
    let mut seeds: Vec<(u32, u32)> = Vec::new();
    for (i, contour) in external_contours_where(width, height, peak)
        .iter()
        .enumerate()
    {
        if let Some((x, y)) = contour_seed(contour) {
            let x = (x.max(0) as usize).min(width - 1);
            let y = (y.max(0) as usize).min(height - 1);
            // Ids and indices fit in u32: the watershed refuses images of 2^31 pixels or more.
            let id = u32::try_from(i + 1).unwrap_or(u32::MAX);
            seeds.push((u32::try_from(y * width + x).unwrap_or(u32::MAX), id));
        }
    }
    // Stable sort by pixel: entries of one pixel stay in contour order, the last one wins.
    seeds.sort_by_key(|s| s.0);
    let mut out: Vec<(u32, u32)> = Vec::with_capacity(seeds.len());
    for s in seeds {
        match out.last_mut() {
            Some(last) if last.0 == s.0 => *last = s,
            _ => out.push(s),
        }
    }
    out
}

/// The whole samcell post-processing of a distance map: peak mask `dist > peak`, fill mask
/// `dist > fill` (both strict), seeds from [`seeds_from_peaks`], then
/// `watershed(-dist, seeds, mask=fill)`; all zeros when there is no seed. Label ids are the
/// seeds' ids (contour index + 1), so they can have gaps.
///
/// Memory: neither mask nor the marker image is built (the seeds are a sparse list, the masks
/// are comparisons made where needed); besides the distance map and the labels returned, the
/// working set is 1 byte per pixel for contour tracing, then at most 12 bytes per pixel in the
/// watershed (see `crate::ranked`). The result is the same as building them (the property
/// tests compare with [`seeds_from_peaks`] + [`crate::watershed()`]).
pub fn cells_from_distance_map(
    dist: &Image<f32>,
    peak: f32,
    fill: f32,
) -> Result<Image<u32>, MorphologyError> {
    let (w, h) = (dist.width(), dist.height());
    let values = dist.data();
    let seeds = seed_list_from_peaks(w, h, |y, x| values[y * w + x] > peak);
    if seeds.is_empty() {
        return Ok(Image::filled(w, h, 0));
    }
    watershed_negated_sparse(dist, &seeds, fill)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_images_give_empty_results() {
        for (w, h) in [(0, 0), (0, 3), (4, 0)] {
            let dist = Image::filled(w, h, 0.9f32);
            let labels = cells_from_distance_map(&dist, 0.47, 0.09).expect("empty is fine");
            assert_eq!(labels.shape_hw(), (h, w));
            assert_eq!(seeds_from_peaks(&dist.map(|_| 1u8)).shape_hw(), (h, w));
        }
    }

    #[test]
    fn one_pixel_and_one_row_maps() {
        // samcell 1.1.4 gives the same: [[0]], [[0]*5], [[1,1],[1,1]].
        // A single peak pixel is a 1-point contour: no seed, so no cell.
        let one = Image::filled(1, 1, 0.9f32);
        assert_eq!(
            cells_from_distance_map(&one, 0.47, 0.09).unwrap().data(),
            &[0]
        );
        // A 1x5 peak row is a 2-point contour: no seed either.
        let row = Image::filled(5, 1, 0.9f32);
        assert_eq!(
            cells_from_distance_map(&row, 0.47, 0.09).unwrap().data(),
            &[0; 5]
        );
        // A 2x2 peak has 4 points and a seed at int(0.5) = 0: everything is cell 1.
        let square = Image::filled(2, 2, 0.9f32);
        assert_eq!(
            cells_from_distance_map(&square, 0.47, 0.09).unwrap().data(),
            &[1; 4]
        );
    }
}
