//! The frames of a time series: a folder of images in natural order of their file names
//! (`t2` before `t10`; a Cell Tracking Challenge sequence folder `01/` with `t000.tif`... is
//! such a folder), or a multi-page TIFF whose pages are the frames in page order.

use anyhow::{anyhow, Result};
use samcell_batch::discover::has_image_extension;
use std::cmp::Ordering;
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

/// Natural order of names: runs of digits compare as numbers, the rest as text.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a.chars().peekable(), b.chars().peekable());
    loop {
        match (x.peek().copied(), y.peek().copied()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let take = |it: &mut std::iter::Peekable<std::str::Chars<'_>>| {
                    let mut s = String::new();
                    while let Some(c) = it.peek().copied().filter(char::is_ascii_digit) {
                        s.push(c);
                        it.next();
                    }
                    s
                };
                let (m, n) = (take(&mut x), take(&mut y));
                let (mt, nt) = (m.trim_start_matches('0'), n.trim_start_matches('0'));
                let o = mt.len().cmp(&nt.len()).then_with(|| mt.cmp(nt));
                if o != Ordering::Equal {
                    return o;
                }
            }
            (Some(c), Some(d)) => {
                if c != d {
                    return c.cmp(&d);
                }
                x.next();
                y.next();
            }
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
    let pages = samcell_io::page_count(input)?;
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

    #[test]
    fn numbers_in_names_sort_by_value() {
        let mut v = vec!["t10.tif", "t2.tif", "t1.tif", "t002b.tif", "a.tif"];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(v, ["a.tif", "t1.tif", "t2.tif", "t002b.tif", "t10.tif"]);
        assert_eq!(natural_cmp("t000.tif", "t001.tif"), Ordering::Less);
    }
}
