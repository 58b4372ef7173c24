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

/// FNV-1a 64 of a crop's grey values and its target's f32 bit patterns.
fn crop_hash(img: &GrayU8, tg: &MapF32) -> u64 {
    let bytes = img
        .data()
        .iter()
        .copied()
        .chain(tg.data().iter().flat_map(|v| v.to_bits().to_le_bytes()));
    bytes.fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Crops with the default configuration, hashed before the photometric augmentations were
/// added: their draws come after the paper's, so these crops must never change (a change here
/// would silently alter every existing run on resume). Covers a canvas larger and one smaller
/// than the crop.
#[test]
fn default_crops_are_pinned() {
    let mut hashes = Vec::new();
    for (w, h) in [(300, 280), (120, 90)] {
        let (img, tg) = sample(w, h);
        for i in 0..4 {
            let mut rng = Stream::new(11, Purpose::Augment, 2, i);
            let aug = Augmentation::draw(&AugmentConfig::default(), &mut rng, w, h, 256);
            let (ci, ct) = apply(&img, &tg, &aug, 256);
            hashes.push(crop_hash(&ci, &ct));
        }
    }
    assert_eq!(
        hashes,
        [
            0x9b8329643729d323,
            0x979ab0aa909f85a4,
            0x0e04e4fd46782f94,
            0x90790a9a94aaa024,
            0x2e873400c33a78ba,
            0x8600c69b552cd7c1,
            0xe2330af9bca6dce9,
            0xd488908f0393326b,
        ]
    );
}

/// Turning the added augmentations on does not move the paper's draws (flip, angle, scale,
/// brightness, invert, crop position).
#[test]
fn added_draws_come_after_the_papers() {
    for i in 0..8 {
        let draw = |cfg: &AugmentConfig| {
            let mut rng = Stream::new(5, Purpose::Augment, 1, i);
            Augmentation::draw(cfg, &mut rng, 300, 280, 128)
        };
        let a = draw(&AugmentConfig::default());
        let b = draw(&AugmentConfig {
            scale: AugmentConfig::default().scale,
            ..AugmentConfig::wide()
        });
        assert_eq!(
            (
                a.flip,
                a.angle_deg,
                a.scale,
                a.brightness,
                a.invert,
                a.crop_x,
                a.crop_y
            ),
            (
                b.flip,
                b.angle_deg,
                b.scale,
                b.brightness,
                b.invert,
                b.crop_x,
                b.crop_y
            )
        );
        assert_eq!(
            (a.gamma, a.contrast, a.blur_sigma, a.noise_sigma),
            (1.0, 1.0, 0.0, 0.0)
        );
        assert_eq!(a.noise_seed, b.noise_seed);
        assert!((0.5..2.0).contains(&b.gamma) && (0.5..1.5).contains(&b.contrast));
        assert!(b.blur_sigma == 0.0 || (0.5..2.0).contains(&b.blur_sigma));
        assert!(b.noise_sigma == 0.0 || (1.0..8.0).contains(&b.noise_sigma));
    }
}

/// A flat 64 x 64 crop of grey `v` through `aug` (no geometry).
fn flat(v: u8, aug: Augmentation) -> GrayU8 {
    let img = Image::filled(64, 64, v);
    let tg = Image::filled(64, 64, 0.5f32);
    apply(&img, &tg, &aug, 64).0
}

#[test]
fn photometric_identities_change_nothing() {
    let (img, tg) = sample(120, 100);
    let base = Augmentation::identity_at(5, 7);
    let off = Augmentation {
        gamma: 1.0,
        contrast: 1.0,
        blur_sigma: 0.0,
        noise_sigma: 0.0,
        noise_seed: 99,
        ..base
    };
    assert_eq!(apply(&img, &tg, &off, 64), apply(&img, &tg, &base, 64));
    assert_eq!(
        apply(&img, &tg, &base, 64).0,
        img.crop(5, 7, 64, 64).unwrap()
    );
}

#[test]
fn gamma_is_monotonic_with_fixed_endpoints() {
    // A ramp 0..255 along x.
    let ramp = Image::from_vec(256, 4, (0..1024).map(|i| (i % 256) as u8).collect()).unwrap();
    let tg = Image::filled(256, 4, 0f32);
    for g in [0.5, 0.8, 1.7, 2.0] {
        let aug = Augmentation {
            gamma: g,
            ..Augmentation::identity_at(0, 0)
        };
        // crop 4 rows: the 256 x 256 crop reflects the 4 rows; row 0 is the ramp.
        let (out, _) = apply(&ramp, &tg, &aug, 256);
        let row = out.row(0);
        assert_eq!((row[0], row[255]), (0, 255), "gamma {g}");
        assert!(row.windows(2).all(|w| w[0] <= w[1]), "gamma {g}: {row:?}");
        let mid = row[128] as f64;
        let want = 255.0 * (128.0f64 / 255.0).powf(g);
        assert!(
            (mid - want).abs() <= 0.5 + 1e-3,
            "gamma {g}: {mid} vs {want}"
        );
        // Below 1 brightens, above 1 darkens.
        assert_eq!(mid > 128.0, g < 1.0, "gamma {g}");
    }
}

#[test]
fn contrast_keeps_the_mean() {
    let (img, tg) = sample(100, 100);
    // Grey values squeezed into 64..192 so that no factor below clips at 0 or 255.
    let img = Image::from_vec(100, 100, img.data().iter().map(|&v| 64 + v / 2).collect()).unwrap();
    let base = Augmentation::identity_at(10, 10);
    let plain = apply(&img, &tg, &base, 64).0;
    let mean = |i: &GrayU8| i.data().iter().map(|&v| v as f64).sum::<f64>() / i.data().len() as f64;
    let spread = |i: &GrayU8| {
        let m = mean(i);
        i.data().iter().map(|&v| (v as f64 - m).abs()).sum::<f64>()
    };
    for c in [0.5, 0.8, 1.3] {
        let out = apply(
            &img,
            &tg,
            &Augmentation {
                contrast: c,
                ..base
            },
            64,
        )
        .0;
        // No clipping at these factors: only rounding moves the mean.
        assert!((mean(&out) - mean(&plain)).abs() < 0.5, "contrast {c}");
        let ratio = spread(&out) / spread(&plain);
        assert!(
            (ratio - c).abs() < 0.02,
            "contrast {c}: spread ratio {ratio}"
        );
    }
    assert!(flat(
        90,
        Augmentation {
            contrast: 0.0,
            ..base
        }
    )
    .data()
    .iter()
    .all(|&v| v == 90));
}

#[test]
fn blur_keeps_constants_and_the_sum_and_smooths() {
    for sigma in [0.5, 1.3, 2.0, 7.0] {
        let out = flat(
            77,
            Augmentation {
                blur_sigma: sigma,
                ..Augmentation::identity_at(0, 0)
            },
        );
        assert!(out.data().iter().all(|&v| v == 77), "sigma {sigma}");
    }
    // A single bright pixel: the sum is kept (reflected borders far away) and spread out.
    let side = 33;
    let mut vals = vec![0f32; side * side];
    vals[16 * side + 16] = 1000.0;
    gaussian_blur(&mut vals, side, 1.5);
    let sum: f32 = vals.iter().sum();
    assert!((sum - 1000.0).abs() < 0.01, "sum {sum}");
    assert!(vals[16 * side + 16] < 100.0 && vals[16 * side + 17] > 50.0);
    assert_eq!(vals[16 * side + 15], vals[16 * side + 17], "symmetric");
    assert!(
        (vals[15 * side + 16] - vals[16 * side + 15]).abs() < 1e-3,
        "isotropic"
    );
    // Next to a border the reflected padding loses little.
    let mut edge = vec![0f32; side * side];
    edge[side + 1] = 1000.0;
    gaussian_blur(&mut edge, side, 1.0);
    let sum: f32 = edge.iter().sum();
    assert!((sum - 1000.0).abs() < 50.0, "edge sum {sum}");
}

#[test]
fn noise_has_the_drawn_sigma_and_is_seeded() {
    let (img, tg) = (
        Image::filled(256, 256, 128u8),
        Image::filled(256, 256, 0f32),
    );
    for sigma in [2.0, 6.0] {
        let aug = Augmentation {
            noise_sigma: sigma,
            noise_seed: 42,
            ..Augmentation::identity_at(0, 0)
        };
        let out = apply(&img, &tg, &aug, 256).0;
        let d: Vec<f64> = out.data().iter().map(|&v| v as f64 - 128.0).collect();
        let n = d.len() as f64;
        let mean = d.iter().sum::<f64>() / n;
        let sd = (d.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
        // Rounding adds a variance of 1/12; standard error of sd about sigma / 362.
        let want = (sigma * sigma + 1.0 / 12.0).sqrt();
        assert!(mean.abs() < 0.1, "sigma {sigma}: mean {mean}");
        assert!((sd - want).abs() < 0.06, "sigma {sigma}: sd {sd} vs {want}");
        assert_eq!(apply(&img, &tg, &aug, 256).0, out, "same seed, same noise");
        let other = Augmentation {
            noise_seed: 43,
            ..aug
        };
        assert_ne!(apply(&img, &tg, &other, 256).0, out);
    }
}

#[test]
fn photometric_augmentations_leave_the_target_alone() {
    let (img, tg) = sample(150, 140);
    let base = Augmentation {
        angle_deg: 33.0,
        scale: 1.4,
        ..Augmentation::identity_at(20, 12)
    };
    let photo = Augmentation {
        gamma: 0.6,
        contrast: 1.4,
        blur_sigma: 1.2,
        noise_sigma: 5.0,
        noise_seed: 7,
        ..base
    };
    let (bi, bt) = apply(&img, &tg, &base, 96);
    let (pi, pt) = apply(&img, &tg, &photo, 96);
    assert_eq!(bt, pt);
    assert_ne!(bi, pi);
}

/// Scales at the ends of the `wide` range: a canvas half the size of an image smaller than the
/// crop (crop at 0, reflected) and a canvas twice the size of a large image.
#[test]
fn scale_half_and_double_crop_inside_the_canvas() {
    for (w, h, s) in [
        (100, 90, 0.5),
        (300, 280, 2.0),
        (600, 40, 0.5),
        (40, 600, 2.0),
    ] {
        let (img, tg) = sample(w, h);
        let (tmin, tmax) = tg
            .data()
            .iter()
            .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
        let cfg = AugmentConfig {
            scale: (s, s),
            ..AugmentConfig::wide()
        };
        for i in 0..6 {
            let mut rng = Stream::new(1, Purpose::Augment, 0, i);
            let aug = Augmentation::draw(&cfg, &mut rng, w, h, 256);
            let (cw, ch) = (
                (w as f64 * s).round() as usize,
                (h as f64 * s).round() as usize,
            );
            assert!(aug.crop_x + 256 <= cw.max(256) && aug.crop_y + 256 <= ch.max(256));
            if cw < 256 {
                assert_eq!(aug.crop_x, 0);
            }
            let (ci, ct) = apply(&img, &tg, &aug, 256);
            assert_eq!(ci.shape_hw(), (256, 256));
            assert!(ct
                .data()
                .iter()
                .all(|&v| v >= tmin - 1e-5 && v <= tmax + 1e-5));
        }
    }
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
        /// Any seed and image size (smaller or larger than the crop) under the `wide` ranges:
        /// the draw stays in its ranges, the crop has its size and is the same every time, and
        /// the target stays within the source target's range (grey values are clamped to
        /// 0..255 by the u8 conversion).
        #[test]
        fn wide_crops_are_deterministic_and_bounded(
            seed in any::<u64>(),
            index in 0u64..1000,
            w in 8usize..200,
            h in 8usize..200,
        ) {
            let (img, tg) = sample(w, h);
            let cfg = AugmentConfig { blur_p: 0.5, noise_p: 0.5, ..AugmentConfig::wide() };
            let draw = || {
                let mut rng = Stream::new(seed, Purpose::Augment, 0, index);
                Augmentation::draw(&cfg, &mut rng, w, h, 48)
            };
            let aug = draw();
            prop_assert_eq!(aug, draw());
            let (ci, ct) = apply(&img, &tg, &aug, 48);
            let (ci2, ct2) = apply(&img, &tg, &aug, 48);
            prop_assert_eq!(&ci, &ci2);
            prop_assert_eq!(&ct, &ct2);
            prop_assert_eq!(ci.shape_hw(), (48, 48));
            prop_assert!(ct.data().iter().all(|v| v.is_finite() && (-1e-5..=1.0 + 1e-5).contains(v)));
            prop_assert!(aug.gamma.is_finite() && aug.gamma >= 0.5 && aug.gamma <= 2.0);
            prop_assert!((0.5..2.0).contains(&aug.scale) && (0.5..1.5).contains(&aug.contrast));
            prop_assert!(aug.blur_sigma == 0.0 || (0.5..2.0).contains(&aug.blur_sigma));
            prop_assert!(aug.noise_sigma == 0.0 || (1.0..8.0).contains(&aug.noise_sigma));
            let (cw, ch) = canvas(w, h, aug.scale);
            prop_assert!(aug.crop_x + 48 <= cw.max(48) && aug.crop_y + 48 <= ch.max(48));
        }
    }
}
