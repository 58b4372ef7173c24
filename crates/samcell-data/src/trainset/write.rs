//! Writing a training set ([`TrainSetWriter`]): the layout and its guarantees are in the parent
//! module's docs.

use super::{sha256_file, Checksums, Counts, Manifest, SampleEntry, FORMAT, VERSION};
use crate::import::{PairSource, Skipped};
use crate::labels::count_cells;
use crate::target::{distance_target, TargetMethod};
use crate::DataError;
use samcell_imaging::{GrayU8, Labels};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

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
