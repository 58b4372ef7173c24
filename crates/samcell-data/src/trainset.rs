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

use crate::import::{PairSource, Skipped};
use crate::labels::{count_cells, read_labels};
use crate::target::{distance_target, TargetMethod};
use crate::DataError;
use samcell_imaging::{GrayU8, Labels, MapF32};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
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

/// Options of [`TrainSetWriter`].
#[derive(Clone, Debug)]
pub struct WriteOptions {
    /// How the distance-map targets are computed from the labels.
    pub target: TargetMethod,
    /// Replace an existing set at the output path (only when the run succeeds).
    pub overwrite: bool,
    /// `created_by` of the manifest, e.g. "samcell 0.1.0".
    pub created_by: String,
}

/// Builds a training set in `<out>.partial`; [`TrainSetWriter::finish`] moves it to `<out>`.
pub struct TrainSetWriter {
    out: PathBuf,
    partial: PathBuf,
    opts: WriteOptions,
    samples: Vec<SampleEntry>,
    skipped: Vec<Skipped>,
    ids: HashSet<String>,
}

fn partial_path(out: &Path) -> PathBuf {
    let mut s = out.as_os_str().to_os_string();
    s.push(".partial");
    PathBuf::from(s)
}

fn sha256_file(path: &Path) -> Result<String, DataError> {
    let bytes = std::fs::read(path).map_err(|e| DataError::read_io(path, "cannot read", e))?;
    Ok(format!("{:x}", Sha256::digest(&bytes)))
}

fn write_gray_tiff(path: &Path, img: &GrayU8) -> Result<(), DataError> {
    use tiff::encoder::{colortype::Gray8, compression::DeflateLevel, Compression, TiffEncoder};
    let mut buf = std::io::Cursor::new(Vec::new());
    let (w, h) = (img.width() as u32, img.height() as u32);
    TiffEncoder::new(&mut buf)
        .and_then(|e| {
            e.with_compression(Compression::Deflate(DeflateLevel::Balanced))
                .write_image::<Gray8>(w, h, img.data())
        })
        .map_err(|e| DataError::write(path, format!("cannot encode TIFF: {e}")))?;
    samcell_io::write_atomic(path, buf.get_ref())?;
    Ok(())
}

/// Writes three planes of one size as an RGB u8 TIFF.
fn write_rgb_tiff(path: &Path, planes: &[GrayU8; 3]) -> Result<(), DataError> {
    use tiff::encoder::{colortype::RGB8, compression::DeflateLevel, Compression, TiffEncoder};
    let (w, h) = (planes[0].width(), planes[0].height());
    let data: Vec<u8> = (0..w * h)
        .flat_map(|i| planes.iter().map(move |p| p.data()[i]))
        .collect();
    let mut buf = std::io::Cursor::new(Vec::new());
    TiffEncoder::new(&mut buf)
        .and_then(|e| {
            e.with_compression(Compression::Deflate(DeflateLevel::Balanced))
                .write_image::<RGB8>(w as u32, h as u32, &data)
        })
        .map_err(|e| DataError::write(path, format!("cannot encode TIFF: {e}")))?;
    samcell_io::write_atomic(path, buf.get_ref())?;
    Ok(())
}

/// The first three channels of a colour source (as `ReadOptions::channel` reads each), or
/// `None` for a source that is not colour or whose three channels are equal everywhere (grey
/// stored as RGB: nothing for a channel-to-grey augmentation to mix).
fn read_colour(
    path: &Path,
    info: &samcell_io::SourceInfo,
) -> Result<Option<[GrayU8; 3]>, samcell_io::IoError> {
    if info.channel_use != samcell_io::ChannelUse::MergedColour || info.channels < 3 {
        return Ok(None);
    }
    let plane = |c: usize| {
        let opts = samcell_io::ReadOptions {
            channel: Some(c),
            ..Default::default()
        };
        samcell_io::read_gray(path, &opts)
    };
    let planes = [plane(0)?, plane(1)?, plane(2)?];
    if planes[0] == planes[1] && planes[1] == planes[2] {
        return Ok(None);
    }
    Ok(Some(planes))
}

/// A pair read and checked, ready to write.
struct Prepared {
    image: GrayU8,
    colour: Option<[GrayU8; 3]>,
    labels: Labels,
    cells: usize,
}

impl TrainSetWriter {
    /// Starts a set at `out`. Errors if `out` exists and `overwrite` is off.
    pub fn create(out: &Path, opts: WriteOptions) -> Result<Self, DataError> {
        if out.exists() && !opts.overwrite {
            return Err(DataError::Invalid(format!(
                "{} already exists (use --overwrite to replace it)",
                out.display()
            )));
        }
        let partial = partial_path(out);
        if partial.exists() {
            std::fs::remove_dir_all(&partial)
                .map_err(|e| DataError::write_io(&partial, "cannot remove stale partial set", e))?;
        }
        for sub in ["images", "labels", "targets"] {
            let d = partial.join(sub);
            std::fs::create_dir_all(&d)
                .map_err(|e| DataError::write_io(&d, "cannot create folder", e))?;
        }
        Ok(Self {
            out: out.to_path_buf(),
            partial,
            opts,
            samples: Vec::new(),
            skipped: Vec::new(),
            ids: HashSet::new(),
        })
    }

    /// Records an input that was left out.
    pub fn skip(&mut self, s: Skipped) {
        self.skipped.push(s);
    }

    /// Skipped inputs so far.
    pub fn skipped(&self) -> &[Skipped] {
        &self.skipped
    }

    /// Samples written so far.
    pub fn samples(&self) -> &[SampleEntry] {
        &self.samples
    }

    /// Reads, checks and writes one pair. `Ok(Err(skipped))`: the pair was bad and is recorded
    /// as skipped; `Err`: writing failed (the set cannot be completed).
    pub fn add(&mut self, pair: &PairSource) -> Result<Result<&SampleEntry, Skipped>, DataError> {
        match self.prepare(pair) {
            Ok(p) => {
                let e = self.write_sample(pair, &p)?;
                self.ids.insert(pair.id.clone());
                self.samples.push(e);
                Ok(Ok(self.samples.last().expect("just pushed")))
            }
            Err(reason) => {
                let s = Skipped::new(pair.image.display().to_string(), reason);
                self.skipped.push(s.clone());
                Ok(Err(s))
            }
        }
    }

    fn prepare(&self, pair: &PairSource) -> Result<Prepared, String> {
        if self.ids.contains(&pair.id) {
            return Err(format!(
                "duplicate id {} (another input has the same name)",
                pair.id
            ));
        }
        let (image, info) =
            samcell_io::read_gray_with_info(&pair.image, &samcell_io::ReadOptions::default())
                .map_err(|e| format!("unreadable image: {}", crate::error_text(&e)))?;
        let colour = read_colour(&pair.image, &info)
            .map_err(|e| format!("unreadable colour channel: {}", crate::error_text(&e)))?;
        let labels = pair
            .load_labels()
            .map_err(|e| format!("unreadable labels: {}", crate::error_text(&e)))?;
        if image.shape_hw() != labels.shape_hw() {
            return Err(format!(
                "size mismatch: image {}x{}, labels {}x{} ({})",
                image.width(),
                image.height(),
                labels.width(),
                labels.height(),
                pair.labels_description()
            ));
        }
        let cells = count_cells(&labels);
        if cells == 0 {
            return Err(format!(
                "empty mask: no cells in {}",
                pair.labels_description()
            ));
        }
        Ok(Prepared {
            image,
            colour,
            labels,
            cells,
        })
    }

    fn write_sample(&self, pair: &PairSource, p: &Prepared) -> Result<SampleEntry, DataError> {
        let (image, labels, cells) = (&p.image, &p.labels, p.cells);
        let target = distance_target(labels, self.opts.target);
        let rel = |sub: &str| format!("{sub}/{}.tif", pair.id);
        let (ri, rl, rt) = (rel("images"), rel("labels"), rel("targets"));
        let (pi, pl, pt) = (
            self.partial.join(&ri),
            self.partial.join(&rl),
            self.partial.join(&rt),
        );
        write_gray_tiff(&pi, image)?;
        samcell_io::write_labels_tiff(&pl, labels)?;
        samcell_io::write_f32_tiff(&pt, &target)?;
        let colour = match &p.colour {
            Some(planes) => {
                let rc = rel("colour");
                let pc = self.partial.join(&rc);
                if let Some(dir) = pc.parent() {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| DataError::write_io(dir, "cannot create folder", e))?;
                }
                write_rgb_tiff(&pc, planes)?;
                Some((rc, sha256_file(&pc)?))
            }
            None => None,
        };
        Ok(SampleEntry {
            id: pair.id.clone(),
            image: ri,
            labels: rl,
            target: rt,
            colour: colour.as_ref().map(|c| c.0.clone()),
            width: image.width(),
            height: image.height(),
            cells,
            source: pair.image.display().to_string(),
            source_labels: pair.labels_description(),
            sha256: Checksums {
                image: sha256_file(&pi)?,
                labels: sha256_file(&pl)?,
                target: sha256_file(&pt)?,
                colour: colour.map(|c| c.1),
            },
        })
    }

    /// Writes the manifest and moves the set to its place. With no sample the partial set is
    /// removed and an error returned (nothing is created at `out`).
    pub fn finish(self) -> Result<Manifest, DataError> {
        if self.samples.is_empty() {
            let _ = std::fs::remove_dir_all(&self.partial);
            return Err(DataError::Invalid(format!(
                "no sample could be imported ({} input(s) skipped); nothing written to {}",
                self.skipped.len(),
                self.out.display()
            )));
        }
        let manifest = Manifest {
            format: FORMAT.into(),
            version: VERSION,
            target: self.opts.target.name().into(),
            created_by: self.opts.created_by.clone(),
            counts: Counts {
                samples: self.samples.len(),
                cells: self.samples.iter().map(|s| s.cells).sum(),
                skipped: self.skipped.len(),
            },
            samples: self.samples,
            skipped: self.skipped,
        };
        let json = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| DataError::write(&self.partial, format!("cannot encode manifest: {e}")))?;
        samcell_io::write_atomic(&self.partial.join("manifest.json"), &json)?;
        if self.out.exists() {
            // overwrite was checked in create(); move the old set aside first so that a failed
            // rename leaves it in place.
            let mut old = self.out.as_os_str().to_os_string();
            old.push(".old");
            let old = PathBuf::from(old);
            if old.exists() {
                std::fs::remove_dir_all(&old)
                    .map_err(|e| DataError::write_io(&old, "cannot remove", e))?;
            }
            std::fs::rename(&self.out, &old)
                .map_err(|e| DataError::write_io(&self.out, "cannot move the old set aside", e))?;
            std::fs::rename(&self.partial, &self.out).map_err(|e| {
                DataError::write_io(&self.out, "cannot move the new set in place", e)
            })?;
            let remove = if old.is_dir() {
                std::fs::remove_dir_all(&old)
            } else {
                std::fs::remove_file(&old)
            };
            remove.map_err(|e| DataError::write_io(&old, "cannot remove the old set", e))?;
        } else {
            std::fs::rename(&self.partial, &self.out)
                .map_err(|e| DataError::write_io(&self.out, "cannot move the set in place", e))?;
        }
        Ok(manifest)
    }
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
        let path = self.dir.join(rel);
        let plane = |c: usize| -> Result<GrayU8, DataError> {
            let opts = samcell_io::ReadOptions {
                channel: Some(c),
                ..Default::default()
            };
            let p = samcell_io::read_gray(&path, &opts)?;
            if p.shape_hw() != (s.height, s.width) {
                return Err(DataError::TrainSet {
                    path: self.dir.clone(),
                    reason: format!(
                        "sample {}: {rel} is {}x{}, the manifest says {}x{}",
                        s.id,
                        p.width(),
                        p.height(),
                        s.width,
                        s.height
                    ),
                });
            }
            Ok(p)
        };
        Ok(Some([plane(0)?, plane(1)?, plane(2)?]))
    }

    /// Number of samples with colour channels (`colour/` files).
    pub fn colour_samples(&self) -> usize {
        self.samples().iter().filter(|s| s.colour.is_some()).count()
    }
}
