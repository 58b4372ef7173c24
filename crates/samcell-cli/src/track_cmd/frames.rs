//! The frames of a time series: a folder of images in natural order of their file names
//! (`t2` before `t10`; a Cell Tracking Challenge sequence folder `01/` with `t000.tif`... is
//! such a folder), or a multi-page TIFF whose pages are the frames in page order. An ImageJ or
//! OME hyperstack with several channels or Z slices is walked along its T axis: channel 0,
//! slice 0 of each time point, said in a warning; one without several time points is refused.

use anyhow::{anyhow, Result};
use samcell_batch::discover::has_image_extension;
use samcell_track::series::natural_cmp;
use std::path::{Path, PathBuf};

/// One frame: a file, and its page for a multi-page TIFF.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// The file.
    pub path: PathBuf,
    /// Its page (0 for a single-page file).
    pub page: usize,
}

impl std::fmt::Display for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.page > 0 {
            write!(f, "{} page {}", self.path.display(), self.page)
        } else {
            write!(f, "{}", self.path.display())
        }
    }
}

/// The image files of folder `dir` (by extension) in natural order; an error when it has none.
pub fn folder_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| anyhow!("cannot list {}: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && has_image_extension(p))
        .collect();
    files.sort_by(|a, b| natural_cmp(&a.to_string_lossy(), &b.to_string_lossy()));
    if files.is_empty() {
        return Err(anyhow!(crate::UsageError(format!(
            "no images in {} (frames are its png/jpg/tif/tiff/bmp files)",
            dir.display()
        ))));
    }
    Ok(files)
}

/// The frames of `input`: a folder's images, or the pages of a file.
pub fn frames(input: &Path) -> Result<Vec<Frame>> {
    if input.is_dir() {
        return Ok(folder_files(input)?
            .into_iter()
            .map(|path| Frame { path, page: 0 })
            .collect());
    }
    if !input.is_file() {
        return Err(anyhow!(crate::UsageError(format!(
            "{}: no such file or folder",
            input.display()
        ))));
    }
    let layout = samcell_io::read_layout(input)?;
    let pages = layout.pages;
    if let Some(s) = layout
        .stack
        .as_ref()
        .filter(|s| s.fits(pages) && (s.channels > 1 || s.slices > 1))
    {
        if s.frames < 2 {
            return Err(anyhow!(crate::UsageError(format!(
                "{}: a {} stack of {} channel(s) x {} Z slice(s) with one time point is not a time \
                 series (track follows the T axis)",
                input.display(),
                s.source,
                s.channels,
                s.slices
            ))));
        }
        tracing::warn!(
            "{}: {} hyperstack of {} channel(s) x {} Z slice(s) x {} time points: tracking \
             channel 0, slice 0 of each time point",
            input.display(),
            s.source,
            s.channels,
            s.slices,
            s.frames
        );
        return (0..s.frames)
            .map(|t| {
                let page = layout
                    .page_of(0, 0, t)
                    .ok_or_else(|| anyhow!("{}: no page for time point {t}", input.display()))?;
                Ok(Frame {
                    path: input.to_path_buf(),
                    page,
                })
            })
            .collect();
    }
    Ok((0..pages)
        .map(|page| Frame {
            path: input.to_path_buf(),
            page,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout_fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../samcell-io/tests/fixtures-layouts")
            .join(name)
    }

    /// The pages of (c 0, z 0, t) for t = 0, 1... in the tifffile-written page table
    /// (`stack_pages.txt`: file, page, c, z, t).
    fn golden_frame_pages(name: &str) -> Vec<usize> {
        let table = std::fs::read_to_string(layout_fixture("stack_pages.txt")).unwrap();
        let mut rows: Vec<(usize, usize)> = table
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .filter(|f| f.len() == 5 && f[0] == name && f[2] == "0" && f[3] == "0")
            .map(|f| (f[4].parse().unwrap(), f[1].parse().unwrap()))
            .collect();
        rows.sort_unstable();
        rows.into_iter().map(|(_, page)| page).collect()
    }

    /// tifffile's hyperstacks of 2 channels x 3 slices x 2 time points: the frames are the pages
    /// of (c 0, z 0, t), in each axis order; a T-only stack is its pages; no T axis is refused.
    #[test]
    fn hyperstacks_are_walked_along_t() {
        for name in [
            "imagej_tzc.tif",
            "ome_czt.ome.tif",
            "ome_tzc.ome.tif",
            "ome_zct.ome.tif",
        ] {
            let want = golden_frame_pages(name);
            assert_eq!(want.len(), 2, "{name}: two time points in the table");
            let f = frames(&layout_fixture(name)).unwrap();
            assert_eq!(f.iter().map(|f| f.page).collect::<Vec<_>>(), want, "{name}");
        }
        let f = frames(&layout_fixture("imagej_frames.tif")).unwrap();
        assert_eq!(f.iter().map(|f| f.page).collect::<Vec<_>>(), [0, 1, 2, 3]);
        let e = frames(&layout_fixture("imagej_channels_zstd.tif")).unwrap_err();
        assert!(
            format!("{e:#}").contains("3 channel(s) x 1 Z slice(s) with one time point"),
            "{e:#}"
        );
    }
}
