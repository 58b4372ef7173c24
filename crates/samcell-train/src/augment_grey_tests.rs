//! Channel-to-grey: its draws come after every other one, its weights, and the mixing.

use super::*;
use crate::rng::{Purpose, Stream};
use proptest::prelude::*;
use samcell_imaging::Image;

fn draw(cfg: &AugmentConfig, i: u64) -> Augmentation {
    let mut rng = Stream::new(11, Purpose::Augment, 2, i);
    Augmentation::draw(cfg, &mut rng, 300, 280, 128)
}

/// Turning channel-to-grey on moves no other draw, and off it draws no weights.
#[test]
fn its_draws_come_after_all_others() {
    let on = AugmentConfig {
        channel_grey_p: 1.0,
        ..AugmentConfig::wide()
    };
    for i in 0..16 {
        let a = draw(&AugmentConfig::wide(), i);
        let b = draw(&on, i);
        assert_eq!(a.grey_weights, None);
        assert!(b.grey_weights.is_some());
        assert_eq!(
            a,
            Augmentation {
                grey_weights: None,
                ..b
            },
            "sample {i}"
        );
    }
}

/// Weights are non-negative and sum to 1; about half are one channel alone (each channel in
/// turn), the others a mix; a probability of 0.3 draws about 30%.
#[test]
fn weights_are_one_channel_or_a_mix() {
    let on = AugmentConfig {
        channel_grey_p: 1.0,
        ..AugmentConfig::none()
    };
    let (mut single, mut per_channel, n) = (0, [0; 3], 2000);
    for i in 0..n {
        let w = draw(&on, i).grey_weights.unwrap();
        assert!(w.iter().all(|&v| (0.0..=1.0).contains(&v)), "{w:?}");
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12, "{w:?}");
        if let Some(c) = w.iter().position(|&v| v == 1.0) {
            single += 1;
            per_channel[c] += 1;
        } else {
            assert!(w.iter().filter(|&&v| v > 0.0).count() >= 2, "{w:?}");
        }
    }
    assert!((900..1100).contains(&single), "{single} of {n} one channel");
    assert!(per_channel.iter().all(|&k| k > 250), "{per_channel:?}");
    let some = AugmentConfig {
        channel_grey_p: 0.3,
        ..AugmentConfig::none()
    };
    let drawn = (0..n)
        .filter(|&i| draw(&some, i).grey_weights.is_some())
        .count();
    assert!((500..700).contains(&drawn), "{drawn} of {n} at p 0.3");
}

fn planes(w: usize, h: usize) -> [GrayU8; 3] {
    let plane = |f: fn(usize, usize) -> u8| {
        Image::from_vec(w, h, (0..w * h).map(|i| f(i % w, i / w)).collect()).unwrap()
    };
    [
        plane(|x, _| (x * 9 % 256) as u8),
        plane(|x, y| ((x + 3 * y) % 256) as u8),
        plane(|_, y| (255 - y * 5 % 256) as u8),
    ]
}

#[test]
fn mixing_is_the_weighted_sum_rounded_half_away() {
    let p = planes(20, 10);
    for c in 0..3 {
        let mut w = [0.0; 3];
        w[c] = 1.0;
        assert_eq!(channels_to_grey(&p, w), p[c], "one-hot picks channel {c}");
    }
    let w = [0.2, 0.5, 0.3];
    let got = channels_to_grey(&p, w);
    for i in 0..200 {
        let v =
            0.2 * p[0].data()[i] as f64 + 0.5 * p[1].data()[i] as f64 + 0.3 * p[2].data()[i] as f64;
        assert_eq!(got.data()[i], v.round() as u8);
    }
    let half = [
        Image::filled(1, 1, 1u8),
        Image::filled(1, 1, 2u8),
        Image::filled(1, 1, 0u8),
    ];
    assert_eq!(
        channels_to_grey(&half, [0.5, 0.5, 0.0]).data(),
        &[2],
        "1.5 -> 2"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]
    /// A grey image stored as three equal planes comes back unchanged under any weights, so a
    /// sample without colour would gain nothing from the augmentation.
    #[test]
    fn equal_planes_give_the_plane(seed in any::<u64>(), v in prop::collection::vec(any::<u8>(), 48)) {
        let img = Image::from_vec(8, 6, v).unwrap();
        let cfg = AugmentConfig { channel_grey_p: 1.0, ..AugmentConfig::none() };
        let mut rng = Stream::new(seed, Purpose::Augment, 0, 0);
        let w = Augmentation::draw(&cfg, &mut rng, 8, 6, 8).grey_weights.unwrap();
        prop_assert_eq!(channels_to_grey(&[img.clone(), img.clone(), img.clone()], w), img);
    }
}
