use super::*;
use crate::rng::{Purpose, Stream};
use samcell_imaging::Image;

/// A textured image and a smooth target on a `w x h` grid.
fn sample(w: usize, h: usize) -> (GrayU8, MapF32) {
    let t: Vec<f32> = (0..w * h)
        .map(|i| {
            let (x, y) = ((i % w) as f32, (i / w) as f32);
            0.5 + 0.25 * (x * 0.11).sin() + 0.25 * (y * 0.07 + 0.3 * x * 0.05).cos()
        })
        .collect();
    let img: Vec<u8> = t.iter().map(|v| (v * 255.0).round() as u8).collect();
    (
        Image::from_vec(w, h, img).unwrap(),
        Image::from_vec(w, h, t).unwrap(),
    )
}

#[test]
fn reflect_is_opencv_border_reflect() {
    let got: Vec<usize> = (-7..12).map(|i| reflect(i, 5)).collect();
    // fedcba|abcdef|fedcba on 5 pixels: ... 2 1 0 | 0 1 2 3 4 | 4 3 2 ...
    assert_eq!(
        got,
        vec![3, 4, 4, 3, 2, 1, 0, 0, 1, 2, 3, 4, 4, 3, 2, 1, 0, 0, 1]
    );
    assert_eq!(reflect(-3, 1), 0);
}

#[test]
fn identity_is_a_plain_crop_bit_for_bit() {
    let (img, tg) = sample(300, 280);
    let (ci, ct) = apply(&img, &tg, &Augmentation::identity_at(17, 9), 256);
    assert_eq!(ci, img.crop(17, 9, 256, 256).unwrap());
    assert_eq!(ct, tg.crop(17, 9, 256, 256).unwrap());
    // Past the end: reflected exactly like the inference tiling's padding.
    let (ci, _) = apply(&img, &tg, &Augmentation::identity_at(0, 0), 256);
    let small = img.crop(0, 0, 200, 100).unwrap();
    let (cs, _) = apply(
        &small,
        &tg.crop(0, 0, 200, 100).unwrap(),
        &Augmentation::identity_at(0, 0),
        256,
    );
    assert_eq!(cs, reflect_window(&small, 0, 0, 256));
    assert_eq!(cs.get(200, 100), small.get(199, 99));
    assert_eq!(ci.get(5, 5), img.get(5, 5));
}

#[test]
fn flip_and_quarter_turn_move_pixels_where_expected() {
    let n = 64;
    let (img, tg) = sample(n, n);
    let flip = Augmentation {
        flip: true,
        ..Augmentation::identity_at(0, 0)
    };
    let (fi, ft) = apply(&img, &tg, &flip, n);
    let quarter = Augmentation {
        angle_deg: 90.0,
        ..Augmentation::identity_at(0, 0)
    };
    let (qi, qt) = apply(&img, &tg, &quarter, n);
    let half = Augmentation {
        angle_deg: 180.0,
        ..Augmentation::identity_at(0, 0)
    };
    let (hi, ht) = apply(&img, &tg, &half, n);
    for y in 0..n {
        for x in 0..n {
            assert_eq!(fi.get(x, y), img.get(n - 1 - x, y));
            assert_eq!(ft.get(x, y), tg.get(n - 1 - x, y));
            // Quarter turn: canvas (x, y) comes from source (y, n - 1 - x); tolerance 1e-5 for
            // the f64 sin/cos of 90 degrees.
            assert!(
                (qt.get(x, y) - tg.get(y, n - 1 - x)).abs() < 1e-5,
                "quarter turn at {x},{y}"
            );
            assert_eq!(qi.get(x, y), img.get(y, n - 1 - x));
            assert!(
                (ht.get(x, y) - tg.get(n - 1 - x, n - 1 - y)).abs() < 1e-5,
                "half turn at {x},{y}"
            );
            assert_eq!(hi.get(x, y), img.get(n - 1 - x, n - 1 - y));
        }
    }
}

#[test]
fn rescaling_samples_pixel_centres() {
    // A horizontal ramp target t = x: at scale 2 (no rotation), canvas pixel X reads source
    // x = (X + 0.5) / 2 - 0.5 (bilinear is exact on a ramp; tolerance 1e-4 for f32).
    let (w, h) = (100, 90);
    let ramp = Image::from_vec(w, h, (0..w * h).map(|i| (i % w) as f32).collect()).unwrap();
    let img = Image::filled(w, h, 100u8);
    let aug = Augmentation {
        scale: 2.0,
        crop_x: 40,
        crop_y: 30,
        ..Augmentation::identity_at(0, 0)
    };
    let (_, t) = apply(&img, &ramp, &aug, 64);
    for x in 0..64 {
        let want = ((40 + x) as f32 + 0.5) / 2.0 - 0.5;
        assert!(
            (t.get(x, 10) - want).abs() < 1e-4,
            "x {x}: {} vs {want}",
            t.get(x, 10)
        );
    }
}

#[test]
fn random_augmentations_keep_image_and_target_aligned() {
    // The image is round(255 * target): whatever geometry is drawn, the warped image must stay
    // within 1 grey level of 255 * the warped target (0.5 from the source rounding + 0.5 from
    // the output rounding) when brightness and inversion are off.
    let (img, tg) = sample(320, 300);
    let cfg = AugmentConfig {
        brightness: (1.0, 1.0),
        invert_p: 0.0,
        ..AugmentConfig::default()
    };
    let mut seen_flip = false;
    for i in 0..12 {
        let mut rng = Stream::new(3, Purpose::Augment, 0, i);
        let aug = Augmentation::draw(&cfg, &mut rng, 320, 300, 256);
        seen_flip |= aug.flip;
        assert!((0.8..1.2).contains(&aug.scale) && aug.angle_deg.abs() <= 180.0);
        let (cw, ch) = (320.0 * aug.scale, 300.0 * aug.scale);
        assert!(
            aug.crop_x as f64 + 256.0 <= cw.round().max(256.0)
                && aug.crop_y as f64 + 256.0 <= ch.round().max(256.0)
        );
        let (ci, ct) = apply(&img, &tg, &aug, 256);
        for (a, b) in ci.data().iter().zip(ct.data()) {
            assert!(
                (*a as f32 - b * 255.0).abs() <= 1.0 + 1e-3,
                "{aug:?}: {a} vs {}",
                b * 255.0
            );
        }
    }
    assert!(
        seen_flip,
        "12 draws at p = 0.5 should flip at least once with this seed"
    );
}

#[test]
fn brightness_and_inversion_touch_the_image_only() {
    let (img, tg) = sample(280, 260);
    let base = Augmentation::identity_at(3, 4);
    let (bi, bt) = apply(&img, &tg, &base, 256);
    let photo = Augmentation {
        brightness: 1.05,
        invert: true,
        ..base
    };
    let (pi, pt) = apply(&img, &tg, &photo, 256);
    assert_eq!(bt, pt);
    for (a, b) in bi.data().iter().zip(pi.data()) {
        assert_eq!(*b, 255 - ((*a as f32 * 1.05).round().min(255.0) as u8));
    }
}
