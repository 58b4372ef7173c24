//! Building the batches: which samples, their augmented crops, the per-crop pre-processing.
//!
//! **Epoch order.** The training indices are shuffled with the stream `(seed, Shuffle, epoch)`
//! and cut into consecutive batches of `batch_size` (the last one may be smaller, like a
//! PyTorch `DataLoader(shuffle=True, drop_last=False)`): every training image gives exactly one
//! crop per epoch.
//!
//! **Per crop**: load the sample, draw its augmentation from `(seed, Augment, epoch, sample
//! index)`, warp + crop ([`crate::augment`]), then `samcell_pipeline::enhance::enhance` (CLAHE
//! clip 1.0 on 8x8 tiles, then min-max to 0..255): exactly the per-crop pre-processing of
//! `samcell segment`, so there is no train/inference skew; the model's own input encoding
//! (SAM: Pillow-bilinear resize to 1024 + ImageNet normalisation) is
//! [`crate::TrainableModel::encode`], the same function inference uses.

use rayon::prelude::*;
use samcell_imaging::{GrayU8, MapF32};

use crate::augment::{apply, Augmentation};
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
