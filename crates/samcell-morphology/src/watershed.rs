//! Seeded watershed with scikit-image 0.25 `watershed(image, markers, mask=mask)` semantics.

use crate::MorphologyError;
use samcell_imaging::Image;

/// Floods `image` from `markers` (0 = unlabelled) inside `mask`, 4-connectivity, priority
/// (value, insertion order), markers outside the mask dropped, no watershed line.
pub fn watershed(image: &Image<f32>, markers: &Image<u32>, mask: &Image<bool>) -> Result<Image<u32>, MorphologyError> {
    let _ = (image, markers, mask);
    todo!("watershed")
}
