//! Seeded watershed with scikit-image 0.25 `watershed(image, markers, mask=mask)` semantics.
//!
//! Reference behaviour matched (label-exact, golden-tested against scikit-image 0.25.2
//! `skimage.segmentation.watershed(image, markers, mask=mask)` with the defaults
//! `connectivity=1`, `offset=None`, `compactness=0`, `watershed_line=False`):
//!
//! * markers outside the mask are removed (`markers * mask`); image values are compared as
//!   doubles (`image.astype(float64)`; an `f32` converts exactly, so comparing the `f32`s is the
//!   same);
//! * 4-connectivity, neighbours visited in the order up, left, right, down (skimage's raveled
//!   offsets `[-W, -1, +1, +W]`), pixels outside the image are never reached;
//! * a binary min-heap of `(value, age, index)` items ordered by `value`, then `age` (a pixel is
//!   "smaller" when its value is smaller, or when the values are equal and its age is smaller;
//!   with NaN neither is smaller). Every marker pixel is pushed first, in raster order, with
//!   age 0; every later push gets the next age (2, 3, ...), so ties between equal values are
//!   settled by insertion order, and ties between *markers* with equal values are settled by
//!   the heap's own arrangement, which `queue::FloodHeap` reproduces by simulating skimage's
//!   array heap step for step (same sift rules);
//! * labels are assigned when a pixel is pushed (the no-compactness, no-watershed-line path):
//!   popping a pixel labels each unlabelled in-mask neighbour with the popped pixel's label and
//!   pushes it with priority `max(image[neighbour], priority of the popped pixel)` (skimage
//!   raises a neighbour's cost to at least its parent's: `if new < parent: new = parent`), so
//!   a pixel's priority is the highest value on the path that flooded it. Markers are pushed
//!   with their own image value.
//!
//! Each pixel is pushed at most once. Without NaN in the mask (the usual case) the values are
//! replaced by their ranks and a bucket queue does the flooding in O(1) per pixel, after a
//! short exact heap phase when markers share values (`crate::ranked`); with NaN the heap
//! simulation runs throughout (O(n log f) for a frontier of f pixels). No allocation per
//! pixel either way.

use crate::queue::FloodHeap;
use crate::ranked::flood_ranked;
use crate::MorphologyError;
use samcell_imaging::Image;

/// Floods `image` from `markers` (0 = unlabelled) inside `mask`, 4-connectivity, priority
/// (value raised to the parent's priority, insertion order), markers outside the mask dropped,
/// no watershed line.
pub fn watershed(
    image: &Image<f32>,
    markers: &Image<u32>,
    mask: &Image<bool>,
) -> Result<Image<u32>, MorphologyError> {
    check_shapes(image.shape_hw(), markers.shape_hw(), mask.shape_hw())?;
    let values = image.data();
    let m = mask.data();
    flood(
        image.width(),
        image.height(),
        |i| values[i],
        &seed_list(markers.data()),
        |i| m[i],
        false,
    )
}

/// The non-zero markers of a marker image as `(raveled index, label)`, raster order.
pub(crate) fn seed_list(markers: &[u32]) -> Vec<(u32, u32)> {
    markers
        .iter()
        .enumerate()
        .filter(|(_, &l)| l != 0)
        .map(|(i, &l)| (i as u32, l))
        .collect()
}

/// `watershed(-dist, markers, mask=dist > fill)` without materialising `-dist`, the mask or
/// a marker image: `seeds` are `(raveled index, label)` pairs in raster order, one per pixel.
pub(crate) fn watershed_negated_sparse(
    dist: &Image<f32>,
    seeds: &[(u32, u32)],
    fill: f32,
) -> Result<Image<u32>, MorphologyError> {
    let values = dist.data();
    flood(
        dist.width(),
        dist.height(),
        |i| -values[i],
        seeds,
        |i| values[i] > fill,
        false,
    )
}

pub(crate) fn check_shapes(
    image: (usize, usize),
    markers: (usize, usize),
    mask: (usize, usize),
) -> Result<(), MorphologyError> {
    if image != markers || image != mask {
        return Err(MorphologyError::Shape(format!(
            "watershed needs equal shapes (height, width): image {image:?}, markers {markers:?}, mask {mask:?}"
        )));
    }
    Ok(())
}

/// The flooding itself; `value(i)` is the priority of raveled pixel `i`, `in_mask(i)` whether
/// it may be flooded, `seeds` the markers as `(raveled index, label)` in raster order (labels
/// non-zero; seeds outside the mask are dropped). Without NaN in the mask the rank-based path
/// runs (`crate::ranked`); with NaN (whose comparisons skimage's heap takes as they come), or
/// with `heap_only`, the plain heap simulation on `f32` values.
///
/// Working memory of the rank-based path: 12 bytes per pixel during the flood (rank and label
/// per pixel, the FIFO links), 8 bytes per in-mask pixel while the ranks are computed before.
fn flood(
    width: usize,
    height: usize,
    value: impl Fn(usize) -> f32,
    seeds: &[(u32, u32)],
    in_mask: impl Fn(usize) -> bool,
    heap_only: bool,
) -> Result<Image<u32>, MorphologyError> {
    let n = width * height;
    // skimage stores ages as int32 (they would wrap beyond 2^31 pushes); at most one push per
    // pixel, so below 2^31 - 1 pixels u32 ages and indices reproduce it exactly.
    if n >= i32::MAX as usize {
        return Err(MorphologyError::Shape(format!(
            "{width}x{height} image is too large for the watershed (max 2^31 - 2 pixels)"
        )));
    }
    if let Some(&(i, _)) = seeds.iter().find(|s| s.0 as usize >= n) {
        return Err(MorphologyError::Shape(format!(
            "seed at raveled index {i} outside the {width}x{height} image"
        )));
    }
    let has_nan = (0..n).any(|i| in_mask(i) && value(i).is_nan());
    let out = if heap_only || has_nan {
        let mut out = vec![0u32; n];
        for &(i, label) in seeds {
            if in_mask(i as usize) {
                out[i as usize] = label;
            }
        }
        flood_f32_heap(width, height, &value, out, &in_mask)
    } else {
        flood_ranked(width, height, &value, seeds, &in_mask)
    };
    Image::from_vec(width, height, out).map_err(|e| MorphologyError::Shape(e.to_string()))
}

/// skimage's flooding loop, step for step, on its heap with `f32` keys.
pub(crate) fn flood_f32_heap(
    width: usize,
    height: usize,
    value: &impl Fn(usize) -> f32,
    mut out: Vec<u32>,
    in_mask: &impl Fn(usize) -> bool,
) -> Vec<u32> {
    let mut heap = FloodHeap::with_capacity(1024);
    for (i, &label) in out.iter().enumerate() {
        if label != 0 {
            heap.push(value(i), 0, i as u32);
        }
    }
    let mut age = 1u32;
    while let Some(item) = heap.pop() {
        let i = item.index as usize;
        let label = out[i];
        for j in neighbours(i, width, height) {
            if in_mask(j) && out[j] == 0 {
                age += 1;
                out[j] = label;
                let v = value(j);
                // Literally skimage's `if new < parent: new = parent` (NaN keeps `new`).
                let v = if v < item.key { item.key } else { v };
                heap.push(v, age, j as u32);
            }
        }
    }
    out
}

/// The 4-neighbours of raveled pixel `i` inside the image, in skimage's order: up, left,
/// right, down (its raveled offsets `[-W, -1, +1, +W]` on the padded image).
#[inline]
pub(crate) fn neighbours(i: usize, width: usize, height: usize) -> impl Iterator<Item = usize> {
    let (y, x) = (i / width, i % width);
    [
        (y > 0).then(|| i - width),
        (x > 0).then(|| i - 1),
        (x + 1 < width).then(|| i + 1),
        (y + 1 < height).then(|| i + width),
    ]
    .into_iter()
    .flatten()
}

/// The plain `f32` heap simulation whatever the input (a test hook for `naive`).
pub(crate) fn flood_exact_heap(
    image: &Image<f32>,
    markers: &Image<u32>,
    mask: &Image<bool>,
) -> Result<Image<u32>, MorphologyError> {
    check_shapes(image.shape_hw(), markers.shape_hw(), mask.shape_hw())?;
    let values = image.data();
    let m = mask.data();
    flood(
        image.width(),
        image.height(),
        |i| values[i],
        &seed_list(markers.data()),
        |i| m[i],
        true,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img<T: Copy>(w: usize, h: usize, v: Vec<T>) -> Image<T> {
        Image::from_vec(w, h, v).expect("size")
    }

    #[test]
    fn equal_valued_markers_follow_heap_order_not_raster_order() {
        // skimage 0.25.2: watershed(np.zeros((1,5)), [[1,0,2,0,3]]) == [[1,1,2,3,3]]
        // (marker 3 leaves the heap before marker 2).
        let out = watershed(
            &img(5, 1, vec![0.0; 5]),
            &img(5, 1, vec![1, 0, 2, 0, 3]),
            &img(5, 1, vec![true; 5]),
        )
        .unwrap();
        assert_eq!(out.data(), &[1, 1, 2, 3, 3]);
    }

    #[test]
    fn markers_wait_for_their_own_value() {
        // skimage 0.25.2: watershed([[-0.5,-0.9,-0.91,-0.95]], [[1,0,0,2]]) == [[1,2,2,2]]
        let out = watershed(
            &img(4, 1, vec![-0.5, -0.9, -0.91, -0.95]),
            &img(4, 1, vec![1, 0, 0, 2]),
            &img(4, 1, vec![true; 4]),
        )
        .unwrap();
        assert_eq!(out.data(), &[1, 2, 2, 2]);
    }

    #[test]
    fn pushed_priority_is_raised_to_the_parents() {
        // skimage 0.25.2: watershed([[0.5,0,0,0.5,0.1]], [[3,0,0,0,2]]) == [[3,3,2,2,2]]. Pixel 1
        // (value 0) is pushed by marker 3 with priority max(0, 0.5) = 0.5, so it waits behind
        // pixel 3 (priority 0.5, age 2 < 3), which takes pixel 2. With the plain value pixel 1
        // would leave first and pixel 2 would get label 3.
        let img = img(5, 1, vec![0.5, 0.0, 0.0, 0.5, 0.1]);
        let out = watershed(&img, &img_u(vec![3, 0, 0, 0, 2]), &img_b(5)).unwrap();
        assert_eq!(out.data(), &[3, 3, 2, 2, 2]);
    }

    fn img_u(v: Vec<u32>) -> Image<u32> {
        Image::from_vec(v.len(), 1, v).expect("size")
    }

    fn img_b(n: usize) -> Image<bool> {
        Image::filled(n, 1, true)
    }

    #[test]
    fn markers_outside_mask_are_dropped_and_mask_blocks_flooding() {
        let mask = img(5, 1, vec![true, true, false, true, true]);
        let out = watershed(
            &img(5, 1, vec![0.0; 5]),
            &img(5, 1, vec![1, 0, 7, 0, 0]),
            &mask,
        )
        .unwrap();
        assert_eq!(out.data(), &[1, 1, 0, 0, 0]);
    }

    #[test]
    fn shape_mismatch_is_an_error() {
        let r = watershed(
            &img(2, 2, vec![0.0; 4]),
            &img(4, 1, vec![1, 0, 0, 0]),
            &img(2, 2, vec![true; 4]),
        );
        assert!(matches!(r, Err(MorphologyError::Shape(_))));
    }
}
