//! Shared helpers of the model tests: reading `.npy` arrays and comparing float arrays.

/// Reads a `.npy` file: (shape, values in C order).
pub use samcell_testdata::npy::read as npy;

/// ||got - want|| / ||want||, accumulated in f64.
pub fn rel_l2(got: &[f32], want: &[f32]) -> f64 {
    assert_eq!(got.len(), want.len(), "arrays of different lengths");
    let num: f64 = got
        .iter()
        .zip(want)
        .map(|(a, b)| ((a - b) as f64).powi(2))
        .sum();
    let den: f64 = want.iter().map(|b| (*b as f64).powi(2)).sum();
    (num / den).sqrt()
}

/// Largest absolute difference.
pub fn max_abs(got: &[f32], want: &[f32]) -> f32 {
    assert_eq!(got.len(), want.len(), "arrays of different lengths");
    got.iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max)
}
