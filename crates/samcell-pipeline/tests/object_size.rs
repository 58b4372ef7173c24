//! `samcell_pipeline::size`: the diameter estimate on images of discs of known size, and the
//! pyramid computation against the full-resolution one.

use proptest::prelude::*;
use samcell_imaging::GrayU8;
use samcell_pipeline::size::{argmax, estimate_object_diameter, lap_energy, naive_lap_energy};

/// Discs of diameter `d` on a square lattice of pitch `pitch`, `fg` on `bg`, offset by `shift`.
fn discs(w: usize, h: usize, d: f32, pitch: f32, shift: f32, fg: u8, bg: u8) -> GrayU8 {
    let r2 = (d / 2.0) * (d / 2.0);
    let data = (0..w * h)
        .map(|i| {
            let (x, y) = ((i % w) as f32 + shift, (i / w) as f32 + shift);
            let (cx, cy) = (
                (x / pitch).floor() * pitch + pitch / 2.0,
                (y / pitch).floor() * pitch + pitch / 2.0,
            );
            if (x - cx).powi(2) + (y - cy).powi(2) <= r2 {
                fg
            } else {
                bg
            }
        })
        .collect();
    GrayU8::from_vec(w, h, data).expect("image")
}

#[test]
fn discs_are_measured_in_order_and_near_their_size() {
    // The energy peaks at or a little above the discs' own scale (their edges answer too):
    // measured 1.0-1.4x the diameter. The rule that uses the estimate is measured in its units.
    let mut last = 0.0;
    for d in [6.0f32, 9.0, 14.0, 20.0, 30.0, 45.0] {
        let light = estimate_object_diameter(&discs(384, 320, d, 2.5 * d, 0.0, 220, 20));
        let dark = estimate_object_diameter(&discs(384, 320, d, 2.5 * d, 0.0, 40, 200));
        assert_eq!(light, dark, "light and dark objects measure the same");
        let est = light.expect("size");
        assert!(
            est >= d * 0.95 && est <= d * 1.45,
            "discs of {d} px: estimated {est}"
        );
        assert!(est > last, "discs of {d} px: {est} after {last}");
        last = est;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// The pyramid picks the full-resolution computation's scale within two steps (1.41x), on
    /// images of at least 3 lattice periods a side. One step, as first stated, failed in CI: the
    /// pyramid's energy runs up to ~20% lower at large scales, so near a flat peak it picks up to
    /// two steps away (seen: 20.7 px discs at pitch 64 on 106 x 120, steps 14 vs 12; 11 vs 13).
    #[test]
    fn the_pyramid_agrees_with_full_resolution(
        d in 5.0f32..24.0,
        pitch in 2.2f32..3.2,
        shift in 0.0f32..10.0,
        extra_w in 0usize..60,
        extra_h in 0usize..60,
    ) {
        let side = (3.0 * pitch * d).ceil() as usize;
        let (w, h) = (side.max(96) + extra_w, side.max(96) + extra_h);
        let img = discs(w, h, d, pitch * d, shift, 230, 15);
        let fast = lap_energy(&img).expect("energy");
        let naive = naive_lap_energy(&img).expect("energy");
        let (a, b) = (argmax(&fast), argmax(&naive));
        prop_assert!(a.abs_diff(b) <= 2, "pyramid {a} vs full {b}: {fast:?} {naive:?}");
    }
}
