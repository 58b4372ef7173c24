//! Where training samples come from, the train/validation split and the validation crops.
//!
//! A [`SampleSource`] gives numbered samples `(id, grey u8 image, f32 distance-map target)`.
//! [`TrainSetSource`] reads the training-set format of `samcell prepare` (see the crate docs of
//! `samcell-data`); tests may use [`InMemory`].
//!
//! **Split.** Without an explicit validation set, `round(n * val_fraction)` samples (at least 1
//! when the fraction is > 0 and n >= 2) are held out: the sample indices are shuffled with the
//! stream `(seed, Split, 0, 0)` and the first ones become the validation set; both lists are
//! returned sorted and recorded in the run folder by id.
//!
//! **Validation crops** are deterministic and unaugmented: the inference tiling of each
//! validation image ([`samcell_pipeline::TilePlan`], 256 crop / 32 overlap, BORDER_REFLECT
//! padding), each window read at full `crop x crop` size through the same reflection (identical
//! to the pipeline's crops for images of at least `crop` pixels a side), for image and target
//! alike; with `val_crops_per_image = n > 0`, n evenly spaced tiles of that plan.

use samcell_imaging::{GrayU8, MapF32};
use samcell_pipeline::{TilePlan, TilingConfig};
use std::path::{Path, PathBuf};

use crate::augment::reflect_window;
use crate::rng::{Purpose, Stream};
use crate::TrainError;

/// Numbered training samples.
pub trait SampleSource: Sync {
    /// Number of samples.
    fn len(&self) -> usize;
    /// True without samples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The id of sample `i`.
    fn id(&self, i: usize) -> &str;
    /// Image and target of sample `i` (same size).
    fn load(&self, i: usize) -> Result<(GrayU8, MapF32), TrainError>;
    /// The colour channels of sample `i` (red, green, blue; the image's size), if it kept them.
    fn load_colour(&self, _i: usize) -> Result<Option<[GrayU8; 3]>, TrainError> {
        Ok(None)
    }
    /// Whether sample `i` kept its colour channels ([`SampleSource::load_colour`] gives them).
    fn has_colour(&self, _i: usize) -> bool {
        false
    }
    /// Where the samples come from (for logs).
    fn describe(&self) -> String;
}

/// Samples held in memory.
pub struct InMemory {
    /// Id, image and distance-map target of each sample (image and target of the same size).
    pub samples: Vec<(String, GrayU8, MapF32)>,
}

impl SampleSource for InMemory {
    fn len(&self) -> usize {
        self.samples.len()
    }
    fn id(&self, i: usize) -> &str {
        &self.samples[i].0
    }
    fn load(&self, i: usize) -> Result<(GrayU8, MapF32), TrainError> {
        let (_, img, tg) = &self.samples[i];
        Ok((img.clone(), tg.clone()))
    }
    fn describe(&self) -> String {
        format!("{} in-memory samples", self.samples.len())
    }
}

/// A training set written by `samcell prepare`, read through `samcell_data::TrainSet` (which
/// checks the manifest; images are read with the grey reading `samcell segment` uses, so
/// training and inference see identical pixels).
pub struct TrainSetSource {
    dir: PathBuf,
    set: samcell_data::TrainSet,
    ids: Vec<String>,
}

impl TrainSetSource {
    /// Opens and verifies the set's manifest.
    pub fn open(dir: &Path) -> Result<Self, TrainError> {
        let set = samcell_data::TrainSet::open(dir)
            .map_err(|e| TrainError::Data(crate::error::chain(&e)))?;
        let ids = set.samples().iter().map(|s| s.id.clone()).collect();
        Ok(Self {
            dir: dir.to_path_buf(),
            set,
            ids,
        })
    }
}

impl SampleSource for TrainSetSource {
    fn len(&self) -> usize {
        self.ids.len()
    }
    fn id(&self, i: usize) -> &str {
        &self.ids[i]
    }
    fn load(&self, i: usize) -> Result<(GrayU8, MapF32), TrainError> {
        let s = self.set.load(i).map_err(|e| {
            TrainError::Data(format!(
                "{}: sample {}: {e}",
                self.dir.display(),
                self.ids[i]
            ))
        })?;
        if s.image.shape_hw() != s.target.shape_hw() {
            return Err(TrainError::Data(format!(
                "{}: sample {}: image {:?} and target {:?} differ in size",
                self.dir.display(),
                s.id,
                s.image.shape_hw(),
                s.target.shape_hw()
            )));
        }
        Ok((s.image, s.target))
    }
    fn load_colour(&self, i: usize) -> Result<Option<[GrayU8; 3]>, TrainError> {
        self.set.load_colour(i).map_err(|e| {
            TrainError::Data(format!(
                "{}: sample {}: {e}",
                self.dir.display(),
                self.ids[i]
            ))
        })
    }
    fn has_colour(&self, i: usize) -> bool {
        self.set.samples()[i].colour.is_some()
    }
    fn describe(&self) -> String {
        format!("{} ({} samples)", self.dir.display(), self.ids.len())
    }
}

/// The seeded split of `n` samples into (train, validation) indices, both sorted.
pub fn split(n: usize, val_fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut n_val = (n as f64 * val_fraction).round() as usize;
    if val_fraction > 0.0 && n >= 2 {
        n_val = n_val.clamp(1, n - 1);
    }
    let mut idx: Vec<usize> = (0..n).collect();
    Stream::new(seed, Purpose::Split, 0, 0).shuffle(&mut idx);
    let mut val = idx[..n_val].to_vec();
    let mut train = idx[n_val..].to_vec();
    val.sort_unstable();
    train.sort_unstable();
    (train, val)
}

/// Top-left corners (original image coordinates, can be negative) of the validation windows.
pub fn validation_windows(
    width: usize,
    height: usize,
    crop: usize,
    per_image: usize,
) -> Result<Vec<(i64, i64)>, TrainError> {
    // SAMCell: crop 256, overlap 32; other crop sizes keep the same 1/8 ratio.
    let plan = TilePlan::new(
        width,
        height,
        &TilingConfig {
            crop,
            overlap: crop / 8,
        },
    )?;
    let all: Vec<(i64, i64)> = plan
        .tiles
        .iter()
        .map(|t| {
            (
                t.x_start as i64 - plan.overlap as i64,
                t.y_start as i64 - plan.overlap as i64,
            )
        })
        .collect();
    if per_image == 0 || per_image >= all.len() {
        return Ok(all);
    }
    // Evenly spaced: tile round((k + 0.5) * len / n).
    Ok((0..per_image)
        .map(|k| all[((2 * k + 1) * all.len()) / (2 * per_image)])
        .collect())
}

/// The validation crops (image, target) of one image.
pub fn validation_crops(
    image: &GrayU8,
    target: &MapF32,
    crop: usize,
    per_image: usize,
) -> Result<Vec<(GrayU8, MapF32)>, TrainError> {
    Ok(
        validation_windows(image.width(), image.height(), crop, per_image)?
            .into_iter()
            .map(|(x, y)| {
                (
                    reflect_window(image, x, y, crop),
                    reflect_window(target, x, y, crop),
                )
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use samcell_imaging::Image;

    #[test]
    fn split_is_seeded_disjoint_and_complete() {
        let (t, v) = split(20, 0.1, 5);
        assert_eq!((t.len(), v.len()), (18, 2));
        assert_eq!(split(20, 0.1, 5), (t.clone(), v.clone()));
        assert_ne!(
            split(20, 0.1, 6).1,
            v,
            "another seed, another split (for these seeds)"
        );
        let mut all: Vec<usize> = t.iter().chain(&v).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..20).collect::<Vec<_>>());
        assert_eq!(
            split(3, 0.1, 0).1.len(),
            1,
            "at least one validation sample"
        );
        assert_eq!(split(5, 0.0, 0).1.len(), 0);
    }

    #[test]
    fn validation_crops_are_the_inference_tiling() {
        let w = 500;
        let h = 400;
        let img = Image::from_vec(w, h, (0..w * h).map(|i| (i * 7 % 251) as u8).collect()).unwrap();
        let plan = TilePlan::new(w, h, &TilingConfig::default()).unwrap();
        let tg = img.map(|v| v as f32 / 255.0);
        let crops = validation_crops(&img, &tg, 256, 0).unwrap();
        assert_eq!(crops.len(), plan.len());
        for (k, (c, t)) in crops.iter().enumerate() {
            // The pipeline's crop can be ragged (cut at the padded image's end): ours equals it
            // on its extent and continues it by reflection to the full crop size.
            let p = plan.extract(&img, k).unwrap();
            assert_eq!(
                &c.crop(0, 0, p.width(), p.height()).unwrap(),
                &p,
                "crop {k} equals the pipeline's"
            );
            assert_eq!(t.data(), c.map(|v| v as f32 / 255.0).data());
        }
        let sub = validation_windows(w, h, 256, 2).unwrap();
        assert_eq!(sub.len(), 2);
        assert_ne!(sub[0], sub[1]);
    }
}
