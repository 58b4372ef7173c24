//! External contours of a binary mask and one seed per contour.

use samcell_imaging::Image;

/// A contour as OpenCV returns it: integer (x, y) points.
pub type Contour = Vec<(i32, i32)>;

/// OpenCV `findContours(mask, RETR_EXTERNAL, CHAIN_APPROX_SIMPLE)`: same contours, same order,
/// same points. Non-zero pixels are foreground.
pub fn external_contours(mask: &Image<u8>) -> Vec<Contour> {
    let _ = mask;
    todo!("contours")
}

/// The seed samcell places for a contour: `(int(m10/m00), int(m01/m00))` of the polygon
/// moments, or the integer mean of the points when `m00 == 0`; `None` for < 3 points.
pub fn contour_seed(contour: &Contour) -> Option<(i32, i32)> {
    let _ = contour;
    todo!("seed")
}
