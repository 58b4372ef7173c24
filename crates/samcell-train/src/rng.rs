//! Seeded, portable random streams.
//!
//! Every random choice of a run comes from a ChaCha8 stream (`rand_chacha` 0.9, `ChaCha8Rng`,
//! a specified cipher: the same numbers on every platform) whose 32-byte key is
//! `seed | purpose | epoch | index` (each little-endian u64). A stream therefore depends only on
//! *what* it is for, never on how many numbers were drawn before: the augmentation of sample `i`
//! in epoch `e` is the same whether the run was interrupted or not, which is what makes resume
//! exact without storing any generator position.

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// What a stream is used for (part of its key).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum Purpose {
    /// The train/validation split of the sample ids.
    Split = 1,
    /// The order of the training samples in one epoch.
    Shuffle = 2,
    /// The augmentation and crop position of one sample in one epoch.
    Augment = 3,
    /// Model initialisation from scratch.
    Init = 4,
    /// The additive noise of one augmented crop; its key's seed is a number drawn from that
    /// sample's `Augment` stream (epoch and index 0).
    Noise = 5,
}

/// One stream.
pub struct Stream(ChaCha8Rng);

impl Stream {
    /// The stream for `(seed, purpose, epoch, index)`.
    pub fn new(seed: u64, purpose: Purpose, epoch: u64, index: u64) -> Self {
        let mut key = [0u8; 32];
        for (i, v) in [seed, purpose as u64, epoch, index].into_iter().enumerate() {
            key[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
        }
        Self(ChaCha8Rng::from_seed(key))
    }

    /// A uniform `u64`.
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[lo, hi)` (exactly `lo` when `lo == hi`).
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + self.unit() * (hi - lo)
    }

    /// True with probability `p` (a number is drawn even when `p` is 0 or 1, so that turning
    /// one augmentation off does not shift the others).
    pub fn bernoulli(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Uniform integer in `0..n` (`n > 0`; multiply-shift, bias below 2^-40 for any n used here).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }

    /// Standard normal (Box-Muller on two uniforms, the cosine branch only: one normal per
    /// two numbers).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.unit(); // in (0, 1]
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Fisher-Yates shuffle.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_keyed_and_reproducible() {
        let a: Vec<u64> = (0..4)
            .map(|_| Stream::new(7, Purpose::Augment, 3, 11).next_u64())
            .collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]), "same key, same numbers");
        let mut s = Stream::new(7, Purpose::Augment, 3, 11);
        let first = s.next_u64();
        assert_ne!(first, Stream::new(7, Purpose::Augment, 3, 12).next_u64());
        assert_ne!(first, Stream::new(7, Purpose::Shuffle, 3, 11).next_u64());
        assert_ne!(first, Stream::new(8, Purpose::Augment, 3, 11).next_u64());
        let mut v: Vec<usize> = (0..50).collect();
        s.shuffle(&mut v);
        let mut sorted = v.clone();
        sorted.sort();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        assert_ne!(v, sorted);
        for _ in 0..1000 {
            let u = s.uniform(0.8, 1.2);
            assert!((0.8..1.2).contains(&u));
            assert!(s.below(3) < 3);
        }
        let n = 20_000;
        let z: Vec<f64> = (0..n).map(|_| s.normal()).collect();
        let mean = z.iter().sum::<f64>() / n as f64;
        let var = z.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
        // Standard errors: 0.007 for the mean, 0.01 for the variance.
        assert!(
            mean.abs() < 0.03 && (var - 1.0).abs() < 0.05,
            "{mean} {var}"
        );
    }
}
