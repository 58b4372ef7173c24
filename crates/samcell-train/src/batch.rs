//! Building the batches: which samples, their augmented crops, the per-crop pre-processing.
//!
//! **Epoch order.** The training indices are shuffled with the stream `(seed, Shuffle, epoch)`
//! and cut into consecutive batches of `batch_size` (the last one may be smaller, like a
//! PyTorch `DataLoader(shuffle=True, drop_last=False)`): every training image gives exactly one
//! crop per epoch.
//!
//! **Per crop**: load the sample, draw its augmentation from `(seed, Augment, epoch, sample
//! index)`, make the grey image anew from the sample's colour channels when channel-to-grey was
//! drawn and the sample has them, warp + crop ([`crate::augment`]), then
//! `samcell_pipeline::enhance::enhance` (CLAHE clip 1.0 on 8x8 tiles, then min-max to 0..255):
//! exactly the per-crop pre-processing of `samcell segment`, so there is no train/inference skew;
//! the model's own input encoding (SAM: Pillow-bilinear resize to 1024 + ImageNet normalisation) is
//! [`crate::TrainableModel::encode`], the same function inference uses.

use rayon::prelude::*;
use samcell_imaging::{GrayU8, MapF32};

use crate::augment::{apply, channels_to_grey, Augmentation};
use crate::config::TrainConfig;
use crate::data::SampleSource;
use crate::rng::{Purpose, Stream};
use crate::TrainError;

/// One batch: enhanced crops and their targets, in sample order.
pub struct Batch {
    /// The CLAHE-enhanced crops (augmented in training batches, plain in validation ones).
    pub crops: Vec<GrayU8>,
    /// Each crop's distance-map target, of its crop's size (warped like it when augmented).
    pub targets: Vec<MapF32>,
}

impl Batch {
    /// Targets flattened `(B, crop, crop)` row-major.
    pub fn target_data(&self) -> Vec<f32> {
        self.targets
            .iter()
            .flat_map(|t| t.data().iter().copied())
            .collect()
    }
}

/// The batches of epoch `epoch` (0-based) as lists of sample indices.
pub fn epoch_batches(train: &[usize], cfg: &TrainConfig, epoch: usize) -> Vec<Vec<usize>> {
    let mut order = train.to_vec();
    Stream::new(cfg.seed, Purpose::Shuffle, epoch as u64, 0).shuffle(&mut order);
    order.chunks(cfg.batch_size).map(|c| c.to_vec()).collect()
}

/// Number of batches per epoch.
pub fn batches_per_epoch(n_train: usize, batch_size: usize) -> usize {
    n_train.div_ceil(batch_size)
}

/// The augmented, pre-processed crop of sample `index` in epoch `epoch`.
pub fn training_crop(
    src: &dyn SampleSource,
    index: usize,
    cfg: &TrainConfig,
    epoch: usize,
) -> Result<(GrayU8, MapF32), TrainError> {
    let (image, target) = src.load(index)?;
    let mut rng = Stream::new(cfg.seed, Purpose::Augment, epoch as u64, index as u64);
    let aug = Augmentation::draw(
        &cfg.augment,
        &mut rng,
        image.width(),
        image.height(),
        cfg.crop,
    );
    let image = match aug.grey_weights {
        Some(w) => match src.load_colour(index)? {
            Some(planes) if planes[0].shape_hw() == image.shape_hw() => {
                channels_to_grey(&planes, w)
            }
            Some(planes) => {
                return Err(TrainError::Data(format!(
                    "sample {}: colour channels {:?} and image {:?} differ in size",
                    src.id(index),
                    planes[0].shape_hw(),
                    image.shape_hw()
                )))
            }
            None => image,
        },
        None => image,
    };
    let (crop, tcrop) = apply(&image, &target, &aug, cfg.crop);
    Ok((samcell_pipeline::enhance::enhance(&crop)?, tcrop))
}

/// The training batch made of `indices` (loaded and augmented in parallel; the result does not
/// depend on the thread count).
pub fn training_batch(
    src: &dyn SampleSource,
    indices: &[usize],
    cfg: &TrainConfig,
    epoch: usize,
) -> Result<Batch, TrainError> {
    let items: Vec<(GrayU8, MapF32)> = indices
        .par_iter()
        .map(|&i| training_crop(src, i, cfg, epoch))
        .collect::<Result<_, _>>()?;
    let (crops, targets) = items.into_iter().unzip();
    Ok(Batch { crops, targets })
}

/// Enhances raw validation crops into a batch.
pub fn validation_batch(items: Vec<(GrayU8, MapF32)>) -> Result<Batch, TrainError> {
    let (raw, targets): (Vec<GrayU8>, Vec<MapF32>) = items.into_iter().unzip();
    let crops = samcell_pipeline::enhance::enhance_all(&raw, 0)?;
    Ok(Batch { crops, targets })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::augment::channels_to_grey;
    use crate::data::InMemory;
    use crate::AugmentConfig;
    use samcell_imaging::Image;

    /// One sample whose colour channels differ from its grey image.
    struct Coloured(InMemory, [GrayU8; 3]);

    impl SampleSource for Coloured {
        fn len(&self) -> usize {
            1
        }
        fn id(&self, i: usize) -> &str {
            self.0.id(i)
        }
        fn load(&self, i: usize) -> Result<(GrayU8, MapF32), TrainError> {
            self.0.load(i)
        }
        fn load_colour(&self, _i: usize) -> Result<Option<[GrayU8; 3]>, TrainError> {
            Ok(Some(self.1.clone()))
        }
        fn has_colour(&self, _i: usize) -> bool {
            true
        }
        fn describe(&self) -> String {
            "coloured".into()
        }
    }

    /// With channel-to-grey drawn, the crop is the crop of the drawn mix of the sample's
    /// channels; a sample without colour gives the crop it gives with the augmentation off.
    #[test]
    fn channel_to_grey_crops_the_mixed_channels() {
        let (w, h) = (90, 70);
        let plane = |f: &dyn Fn(usize, usize) -> u8| {
            Image::from_vec(w, h, (0..w * h).map(|i| f(i % w, i / w)).collect()).unwrap()
        };
        let grey = plane(&|x, y| ((x + y) % 200) as u8);
        let target = grey.map(|v| v as f32 / 255.0);
        let colour = [
            plane(&|x, _| (x * 2) as u8),
            plane(&|_, y| (y * 3) as u8),
            plane(&|x, y| (x * y % 251) as u8),
        ];
        let mem = || InMemory {
            samples: vec![("a".into(), grey.clone(), target.clone())],
        };
        let cfg = |p: f64| TrainConfig {
            crop: 64,
            augment: AugmentConfig {
                channel_grey_p: p,
                ..AugmentConfig::wide()
            },
            ..TrainConfig::default()
        };
        let src = Coloured(mem(), colour.clone());
        for epoch in 0..4 {
            let mut rng = Stream::new(cfg(1.0).seed, Purpose::Augment, epoch as u64, 0);
            let aug = Augmentation::draw(&cfg(1.0).augment, &mut rng, w, h, 64);
            let mixed = channels_to_grey(&colour, aug.grey_weights.unwrap());
            let (want, want_t) = apply(&mixed, &target, &aug, 64);
            let got = training_crop(&src, 0, &cfg(1.0), epoch).unwrap();
            assert_eq!(got.0, samcell_pipeline::enhance::enhance(&want).unwrap());
            assert_eq!(got.1, want_t);
            assert_eq!(
                training_crop(&mem(), 0, &cfg(1.0), epoch).unwrap(),
                training_crop(&mem(), 0, &cfg(0.0), epoch).unwrap(),
                "no colour: unchanged"
            );
        }
    }

    #[test]
    fn every_sample_once_per_epoch_in_a_seeded_order() {
        let cfg = TrainConfig {
            batch_size: 3,
            ..TrainConfig::default()
        };
        let train: Vec<usize> = vec![0, 2, 3, 5, 6, 7, 9];
        let b0 = epoch_batches(&train, &cfg, 0);
        assert_eq!(
            b0.iter().map(|b| b.len()).collect::<Vec<_>>(),
            vec![3, 3, 1]
        );
        let mut flat: Vec<usize> = b0.concat();
        flat.sort_unstable();
        assert_eq!(flat, train);
        assert_eq!(epoch_batches(&train, &cfg, 0), b0);
        assert_ne!(
            epoch_batches(&train, &cfg, 1),
            b0,
            "another epoch, another order"
        );
        assert_eq!(batches_per_epoch(7, 3), 3);
    }
}
