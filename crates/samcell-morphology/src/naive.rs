//! Slow, obviously-correct reference implementations used by the property tests to check the
//! fast code. Not part of the supported API.
//!
//! * [`watershed`] restates scikit-image 0.25 `watershed(image, markers, mask=mask)` (defaults:
//!   4-connectivity, no compactness, no watershed line) with a plain list as the queue: every
//!   step removes the entry with the smallest `(priority, age)` by a linear scan, where a
//!   marker's priority is its value and a flooded pixel's priority is the larger of its value
//!   and its parent's priority. It differs from skimage (and from [`crate::watershed()`]) in
//!   one documented place: when several *markers* share a value, skimage's binary heap decides
//!   their order, while here the earlier marker in raster order goes first. Tests must
//!   therefore give markers distinct values.
//! * [`watershed_exact_heap`] is the step-for-step simulation of skimage's binary heap on the
//!   `f32` values, for checking the fast path where markers share values.
//! * [`external_objects`] finds, by flood fills, the objects whose outer borders
//!   `findContours(RETR_EXTERNAL)` must return: 8-connected foreground components that touch
//!   (4-adjacency) the background component connected to the frame around the image.
//! * [`rasterize_rings`] fills polygon rings back into pixels: a pixel is inside when a ray
//!   from its centre `(x + 0.5, y + 0.5)` to the right crosses the rings an odd number of times
//!   (even-odd rule), tested ring segment by ring segment.

use crate::watershed::check_shapes;
use crate::MorphologyError;
use samcell_imaging::Image;
use std::collections::BTreeSet;

/// The watershed run entirely on the plain simulation of skimage's binary heap with `f32` keys
/// (the fast [`crate::watershed()`] uses a heap only while markers with equal values are
/// queued, or throughout when the mask holds NaN).
pub fn watershed_exact_heap(
    image: &Image<f32>,
    markers: &Image<u32>,
    mask: &Image<bool>,
) -> Result<Image<u32>, MorphologyError> {
    crate::watershed::flood_exact_heap(image, markers, mask)
}

const NEIGHBOURS_4: [(isize, isize); 4] = [(0, -1), (-1, 0), (1, 0), (0, 1)];

/// Seeded watershed by linear-scan priority queue (see the module docs for the one tie rule
/// that differs from skimage).
pub fn watershed(
    image: &Image<f32>,
    markers: &Image<u32>,
    mask: &Image<bool>,
) -> Result<Image<u32>, MorphologyError> {
    check_shapes(image.shape_hw(), markers.shape_hw(), mask.shape_hw())?;
    let (w, h) = (image.width() as isize, image.height() as isize);
    let mut labels = Image::filled(image.width(), image.height(), 0u32);
    // (value, age, x, y) in insertion order.
    let mut queue: Vec<(f32, u64, isize, isize)> = Vec::new();
    for y in 0..h {
        for x in 0..w {
            let (ux, uy) = (x as usize, y as usize);
            if mask.get(ux, uy) && markers.get(ux, uy) != 0 {
                labels.set(ux, uy, markers.get(ux, uy));
                queue.push((image.get(ux, uy), 0, x, y));
            }
        }
    }
    let mut age = 0u64;
    while !queue.is_empty() {
        let mut best = 0;
        for k in 1..queue.len() {
            let (v, a, _, _) = queue[k];
            let (bv, ba, _, _) = queue[best];
            if v < bv || (v == bv && a < ba) {
                best = k;
            }
        }
        let (priority, _, x, y) = queue.remove(best);
        let label = labels.get(x as usize, y as usize);
        for (dx, dy) in NEIGHBOURS_4 {
            let (nx, ny) = (x + dx, y + dy);
            if nx < 0 || ny < 0 || nx >= w || ny >= h {
                continue;
            }
            let (ux, uy) = (nx as usize, ny as usize);
            if mask.get(ux, uy) && labels.get(ux, uy) == 0 {
                age += 1;
                labels.set(ux, uy, label);
                queue.push((image.get(ux, uy).max(priority), age, nx, ny));
            }
        }
    }
    Ok(labels)
}

/// One object whose outer border `findContours(RETR_EXTERNAL)` must report.
#[derive(Clone, Debug)]
pub struct ExternalObject {
    /// First pixel of the object in raster order (where OpenCV starts the contour).
    pub first: (i32, i32),
    /// Every pixel of the 8-connected component, holes and their contents excluded.
    pub pixels: BTreeSet<(i32, i32)>,
    /// The pixels of the component with a 4-neighbour in the outer background (the frame
    /// counts as outer background).
    pub border: BTreeSet<(i32, i32)>,
}

/// The external objects of `mask` (non-zero = foreground), in the order OpenCV returns their
/// contours: the reverse of the raster order of their first pixels.
pub fn external_objects(mask: &Image<u8>) -> Vec<ExternalObject> {
    let (w, h) = (mask.width() as i32, mask.height() as i32);
    let fg = |x: i32, y: i32| {
        x >= 0 && y >= 0 && x < w && y < h && mask.get(x as usize, y as usize) != 0
    };
    // Outer background: 4-connected flood of background from the frame (coordinates -1..=w).
    let mut outer = BTreeSet::new();
    let mut stack = vec![(-1, -1)];
    while let Some((x, y)) = stack.pop() {
        if x < -1 || y < -1 || x > w || y > h || fg(x, y) || !outer.insert((x, y)) {
            continue;
        }
        for (dx, dy) in NEIGHBOURS_4 {
            stack.push((x + dx as i32, y + dy as i32));
        }
    }
    let mut seen = BTreeSet::new();
    let mut objects = Vec::new();
    for y in 0..h {
        for x in 0..w {
            if !fg(x, y) || seen.contains(&(x, y)) {
                continue;
            }
            let mut pixels = BTreeSet::new();
            let mut stack = vec![(x, y)];
            while let Some((px, py)) = stack.pop() {
                if !fg(px, py) || !pixels.insert((px, py)) {
                    continue;
                }
                for dy in -1..=1 {
                    for dx in -1..=1 {
                        stack.push((px + dx, py + dy));
                    }
                }
            }
            seen.extend(pixels.iter().copied());
            let border: BTreeSet<_> = pixels
                .iter()
                .copied()
                .filter(|&(px, py)| {
                    NEIGHBOURS_4
                        .iter()
                        .any(|&(dx, dy)| outer.contains(&(px + dx as i32, py + dy as i32)))
                })
                .collect();
            if !border.is_empty() {
                objects.push(ExternalObject {
                    first: (x, y),
                    pixels,
                    border,
                });
            }
        }
    }
    objects.reverse();
    objects
}

/// Expands a `CHAIN_APPROX_SIMPLE` contour into every pixel of its closed chain, or `None`
/// when two consecutive points are not joined by a straight 8-direction run.
pub fn expand_chain(contour: &[(i32, i32)]) -> Option<Vec<(i32, i32)>> {
    let mut out = Vec::new();
    for (k, &(x0, y0)) in contour.iter().enumerate() {
        let (x1, y1) = contour[(k + 1) % contour.len()];
        let (dx, dy) = (x1 - x0, y1 - y0);
        if dx != 0 && dy != 0 && dx.abs() != dy.abs() {
            return None;
        }
        let steps = dx.abs().max(dy.abs());
        out.push((x0, y0));
        for t in 1..steps {
            out.push((x0 + t * dx.signum(), y0 + t * dy.signum()));
        }
    }
    Some(out)
}

/// Pixels of a `w` x `h` image whose centres lie inside `rings` by the even-odd rule (every ring
/// of every polygon counts, so holes and separate parts need no special case).
pub fn rasterize_rings(rings: &[&[[f64; 2]]], w: usize, h: usize) -> Image<bool> {
    let mut out = Image::filled(w, h, false);
    for y in 0..h {
        for x in 0..w {
            let (px, py) = (x as f64 + 0.5, y as f64 + 0.5);
            let mut inside = false;
            for ring in rings {
                for s in ring.windows(2) {
                    let ([x0, y0], [x1, y1]) = (s[0], s[1]);
                    if (y0 > py) != (y1 > py) && px < x0 + (py - y0) * (x1 - x0) / (y1 - y0) {
                        inside = !inside;
                    }
                }
            }
            out.set(x, y, inside);
        }
    }
    out
}
