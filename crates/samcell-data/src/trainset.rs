//! The training-set folder `samcell prepare` writes and `samcell train` reads:
//!
//! ```text
//! <out>/manifest.json        format "samcell-trainset", version 1, target method, samples,
//!                            skipped inputs with reasons, counts; sha256 of every file
//! <out>/images/<id>.tif      grey u8, exactly what `samcell_io::read_gray` (default options,
//!                            the reader of `samcell segment`) returned for the source image
//! <out>/labels/<id>.tif      instance labels as read (u16 TIFF, u32 when a label > 65535)
//! <out>/targets/<id>.tif     f32 distance-map target (`samcell_io::write_f32_tiff`)
//! <out>/colour/<id>.tif      only for a colour source whose channels differ somewhere: its
//!                            first three channels as an RGB u8 TIFF, each read as
//!                            `samcell_io::ReadOptions::channel` reads one (8-bit samples as
//!                            stored); what the channel-to-grey augmentation of `samcell train`
//!                            mixes. `images/<id>.tif` stays the grey `samcell segment` reads.
//! ```
//!
//! Sets written before `colour/` existed are the same format (version 1): the manifest's
//! `colour` entries are optional.
//!
//! The set is built in `<out>.partial` and renamed to `<out>` only when complete, so a failed or
//! interrupted run never leaves a half-written set at `<out>` (a stale `.partial` is replaced by
//! the next run). A pair is skipped — recorded in `skipped` with a reason, never silently — when
//! its image or labels cannot be read (including RGB label images), their sizes differ, the
//! labels hold no cell, or its id was already used.

use crate::import::Skipped;
use crate::labels::read_labels;
use crate::target::TargetMethod;
use crate::DataError;
use samcell_imaging::{GrayU8, Labels, MapF32};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// `format` of the manifest.
pub const FORMAT: &str = "samcell-trainset";
/// `version` of the manifest this crate writes and reads.
pub const VERSION: u32 = 1;

/// Checksums of one sample's files (hex sha256).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checksums {
    /// Of `images/<id>.tif`.
    pub image: String,
    /// Of `labels/<id>.tif`.
    pub labels: String,
    /// Of `targets/<id>.tif`.
    pub target: String,
    /// Of `colour/<id>.tif`, when the sample has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colour: Option<String>,
}

/// One sample in the manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SampleEntry {
    /// The sample's file name without extension, unique in the set (see
    /// [`crate::import::PairSource::id`]).
    pub id: String,
    /// The grey u8 image, relative to the set's folder (`images/<id>.tif`).
    pub image: String,
    /// The instance labels, relative to the set's folder (`labels/<id>.tif`).
    pub labels: String,
    /// The f32 distance-map target, relative to the set's folder (`targets/<id>.tif`).
    pub target: String,
    /// The source's colour channels, relative to the set's folder (`colour/<id>.tif`); only for
    /// colour sources whose channels differ.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colour: Option<String>,
    /// Width of all three images, in pixels.
    pub width: usize,
    /// Height of all three images, in pixels.
    pub height: usize,
    /// Number of cells (distinct non-zero labels); at least 1.
    pub cells: usize,
    /// The original image path as given.
    pub source: String,
    /// Where the labels came from: the label file's path, or the COCO JSON file and image.
    pub source_labels: String,
    /// Checksums of the three files, checked by [`TrainSet::verify_checksums`].
    pub sha256: Checksums,
}

/// Totals of the manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Samples written (the length of `samples`).
    pub samples: usize,
    /// Cells over all samples.
    pub cells: usize,
    /// Inputs left out (the length of `skipped`).
    pub skipped: usize,
}

/// `manifest.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT`]; anything else is refused on open.
    pub format: String,
    /// [`VERSION`] of the layout; other versions are refused on open.
    pub version: u32,
    /// [`TargetMethod::name`] of the method the targets were computed with.
    pub target: String,
    /// The program that wrote the set, e.g. "samcell 0.1.0".
    pub created_by: String,
    /// The samples, in the order they were added.
    pub samples: Vec<SampleEntry>,
    /// Inputs left out, with the reason.
    pub skipped: Vec<Skipped>,
    /// Totals of `samples` and `skipped`.
    pub counts: Counts,
}

mod write;

pub use write::{TrainSetWriter, WriteOptions};

pub(crate) fn sha256_file(path: &Path) -> Result<String, DataError> {
    let bytes = std::fs::read(path).map_err(|e| DataError::read_io(path, "cannot read", e))?;
    Ok(format!("{:x}", Sha256::digest(&bytes)))
}

/// One loaded sample.
#[derive(Clone, Debug)]
pub struct Sample {
    /// The manifest's [`SampleEntry::id`].
    pub id: String,
    /// The grey input image.
    pub image: GrayU8,
    /// The instance labels (0 background).
    pub labels: Labels,
    /// The distance-map target the model is trained to predict, same size as `image`.
    pub target: MapF32,
}

/// An existing training set.
#[derive(Clone, Debug)]
pub struct TrainSet {
    dir: PathBuf,
    manifest: Manifest,
}

impl TrainSet {
    /// Opens a set: the manifest must be a version-1 `samcell-trainset` whose files all exist.
    pub fn open(dir: &Path) -> Result<TrainSet, DataError> {
        let bad = |reason: String| DataError::TrainSet {
            path: dir.to_path_buf(),
            reason,
        };
        let mp = dir.join("manifest.json");
        let bytes =
            std::fs::read(&mp).map_err(|e| bad(format!("cannot read manifest.json: {e}")))?;
        let manifest: Manifest = serde_json::from_slice(&bytes)
            .map_err(|e| bad(format!("invalid manifest.json: {e}")))?;
        if manifest.format != FORMAT || manifest.version != VERSION {
            return Err(bad(format!(
                "manifest format {:?} version {} (expected {FORMAT:?} version {VERSION})",
                manifest.format, manifest.version
            )));
        }
        if TargetMethod::from_name(&manifest.target).is_none() {
            return Err(bad(format!("unknown target method {:?}", manifest.target)));
        }
        if manifest.counts.samples != manifest.samples.len() {
            return Err(bad(
                "counts.samples differs from the number of samples".into()
            ));
        }
        for s in &manifest.samples {
            if s.colour.is_some() != s.sha256.colour.is_some() {
                return Err(bad(format!(
                    "sample {}: colour file and its checksum must come together",
                    s.id
                )));
            }
            for rel in [&s.image, &s.labels, &s.target]
                .into_iter()
                .chain(s.colour.as_ref())
            {
                let p = Path::new(rel);
                if p.is_absolute()
                    || p.components()
                        .any(|c| matches!(c, std::path::Component::ParentDir))
                {
                    return Err(bad(format!(
                        "sample {}: path {rel} leaves the set's folder",
                        s.id
                    )));
                }
                if !dir.join(p).is_file() {
                    return Err(bad(format!("sample {}: {rel} is missing", s.id)));
                }
            }
        }
        Ok(TrainSet {
            dir: dir.to_path_buf(),
            manifest,
        })
    }

    /// The set's folder, which the manifest's relative paths start from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The parsed and checked `manifest.json`.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The manifest's samples; index `i` here is sample `i` of [`TrainSet::load`].
    pub fn samples(&self) -> &[SampleEntry] {
        &self.manifest.samples
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.manifest.samples.len()
    }

    /// True for a set without samples (a set written by [`TrainSetWriter`] never is).
    pub fn is_empty(&self) -> bool {
        self.manifest.samples.is_empty()
    }

    /// The target method the set was written with.
    pub fn target_method(&self) -> TargetMethod {
        TargetMethod::from_name(&self.manifest.target).unwrap_or_default()
    }

    /// Checks every file's sha256 against the manifest.
    pub fn verify_checksums(&self) -> Result<(), DataError> {
        for s in self.samples() {
            let colour = s.colour.as_ref().zip(s.sha256.colour.as_ref());
            for (rel, want) in [
                (&s.image, &s.sha256.image),
                (&s.labels, &s.sha256.labels),
                (&s.target, &s.sha256.target),
            ]
            .into_iter()
            .chain(colour)
            {
                let got = sha256_file(&self.dir.join(rel))?;
                if &got != want {
                    return Err(DataError::TrainSet {
                        path: self.dir.clone(),
                        reason: format!(
                            "sample {}: {rel} has sha256 {got}, the manifest says {want}",
                            s.id
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// Loads sample `i`; the three images must have the manifest's size.
    pub fn load(&self, i: usize) -> Result<Sample, DataError> {
        let s = self
            .manifest
            .samples
            .get(i)
            .ok_or_else(|| DataError::TrainSet {
                path: self.dir.clone(),
                reason: format!("no sample {i} (the set has {})", self.len()),
            })?;
        let image = samcell_io::read_gray(
            &self.dir.join(&s.image),
            &samcell_io::ReadOptions::default(),
        )?;
        let labels = read_labels(&self.dir.join(&s.labels))?;
        let target = samcell_io::read_f32_tiff(&self.dir.join(&s.target))?;
        let want = (s.height, s.width);
        for (what, got) in [
            ("image", image.shape_hw()),
            ("labels", labels.shape_hw()),
            ("target", target.shape_hw()),
        ] {
            if got != want {
                return Err(DataError::TrainSet {
                    path: self.dir.clone(),
                    reason: format!(
                        "sample {}: {what} is {}x{}, the manifest says {}x{}",
                        s.id, got.1, got.0, s.width, s.height
                    ),
                });
            }
        }
        Ok(Sample {
            id: s.id.clone(),
            image,
            labels,
            target,
        })
    }

    /// The colour channels of sample `i` (red, green, blue planes of the manifest's size), or
    /// `None` when the sample has no `colour/` file.
    pub fn load_colour(&self, i: usize) -> Result<Option<[GrayU8; 3]>, DataError> {
        let Some(s) = self.manifest.samples.get(i) else {
            return Err(DataError::TrainSet {
                path: self.dir.clone(),
                reason: format!("no sample {i} (the set has {})", self.len()),
            });
        };
        let Some(rel) = &s.colour else {
            return Ok(None);
        };
        let bad = |reason: String| DataError::TrainSet {
            path: self.dir.clone(),
            reason: format!("sample {}: {rel}: {reason}", s.id),
        };
        // the RGB u8 TIFF this module writes, decoded once and split into its three planes
        let bytes = std::fs::read(self.dir.join(rel)).map_err(|e| bad(e.to_string()))?;
        let mut d = tiff::decoder::Decoder::new(std::io::Cursor::new(bytes))
            .map_err(|e| bad(format!("cannot decode TIFF: {e}")))?;
        let (w, h) = d
            .dimensions()
            .map_err(|e| bad(format!("cannot decode TIFF: {e}")))?;
        if (h as usize, w as usize) != (s.height, s.width) {
            return Err(bad(format!(
                "{w}x{h}, the manifest says {}x{}",
                s.width, s.height
            )));
        }
        let rgb = match (d.colortype(), d.read_image()) {
            (Ok(tiff::ColorType::RGB(8)), Ok(tiff::decoder::DecodingResult::U8(v)))
                if v.len() == 3 * s.width * s.height =>
            {
                v
            }
            (Err(e), _) | (_, Err(e)) => return Err(bad(format!("cannot decode TIFF: {e}"))),
            (t, _) => return Err(bad(format!("not an 8-bit RGB TIFF ({t:?})"))),
        };
        let plane = |c: usize| {
            let data = rgb.iter().skip(c).step_by(3).copied().collect();
            GrayU8::from_vec(s.width, s.height, data).expect("the size was checked")
        };
        Ok(Some([plane(0), plane(1), plane(2)]))
    }

    /// Number of samples with colour channels (`colour/` files).
    pub fn colour_samples(&self) -> usize {
        self.samples().iter().filter(|s| s.colour.is_some()).count()
    }
}
