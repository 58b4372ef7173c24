//! A time series whose frames are files: the one way `samcell track --labels` and the web GUI's
//! time-series mode link label images and write the result folder, so that both give the same
//! files for the same frames.
//!
//! - [`natural_cmp`]: the frame order of file names (`t2` before `t10`).
//! - [`link_files`]: reads each frame's label image in the order given and links them with
//!   [`Tracker`] under a [`TrackConfig`]. A frame whose size differs from the first frame's is
//!   [`TrackError::InFile`] naming its file; so is a first frame without pixels and a file
//!   that cannot be read.
//! - [`track_files`]: [`link_files`], then [`crate::output::write_results`] into a folder,
//!   reading each frame's labels again and, where given, its grey image (file and page, read
//!   as `samcell_io::read_gray` reads it) for the overlays and intensity columns.

use crate::output::{self, ResultSummary};
use crate::{Timeline, TrackConfig, TrackError, Tracker, Tracking};
use samcell_imaging::{GrayU8, Labels};
use std::cmp::Ordering;
use std::path::{Path, PathBuf};

/// Natural order of names: runs of ASCII digits compare as numbers (leading zeros ignored, then
/// the plain text breaks ties), the rest character by character.
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

/// One frame on disk: its label image and, optionally, its grey image (file, page).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameFiles {
    /// The label image (TIFF or PNG, any label values, 0 = background).
    pub labels: PathBuf,
    /// The grey image and its page, for the overlays and the intensity columns.
    pub grey: Option<(PathBuf, usize)>,
}

fn in_file(path: &Path, e: TrackError) -> TrackError {
    TrackError::InFile {
        path: path.to_path_buf(),
        source: Box::new(e),
    }
}

fn read_labels(path: &Path) -> Result<Labels, TrackError> {
    Ok(samcell_io::labels::read_labels(path)?)
}

fn read_grey(path: &Path, page: usize) -> Result<GrayU8, TrackError> {
    let opts = samcell_io::ReadOptions {
        page,
        ..samcell_io::ReadOptions::default()
    };
    Ok(samcell_io::read_gray(path, &opts)?)
}

/// Links the label images `labels` (module docs), in the order given.
pub fn link_files(labels: &[PathBuf], config: &TrackConfig) -> Result<Tracking, TrackError> {
    let mut tracker = Tracker::new(config.clone());
    for (t, path) in labels.iter().enumerate() {
        let frame = read_labels(path)?;
        if t == 0 && frame.width() == 0 {
            return Err(in_file(path, TrackError::Invalid("an empty image".into())));
        }
        tracker.push(&frame).map_err(|e| match e {
            e @ TrackError::FrameSize { .. } => in_file(path, e),
            other => other,
        })?;
    }
    Ok(tracker.finish())
}

/// Links `frames` and writes the result folder `dir` (module docs); returns the linking and
/// what was written.
pub fn track_files(
    dir: &Path,
    frames: &[FrameFiles],
    config: &TrackConfig,
    timeline: &Timeline,
    outlines: bool,
) -> Result<(Tracking, ResultSummary), TrackError> {
    let labels: Vec<PathBuf> = frames.iter().map(|f| f.labels.clone()).collect();
    let tracking = link_files(&labels, config)?;
    let summary = output::write_results(dir, &tracking, timeline, outlines, |t| {
        let f = &frames[t];
        let image = match &f.grey {
            Some((path, page)) => Some(read_grey(path, *page)?),
            None => None,
        };
        Ok((read_labels(&f.labels)?, image))
    })?;
    Ok((tracking, summary))
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
        assert_eq!(natural_cmp("t01.tif", "t1.tif"), Ordering::Less);
    }

    #[test]
    fn a_frame_of_another_size_names_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut paths = Vec::new();
        for (k, w) in [20usize, 21].into_iter().enumerate() {
            let mut data = vec![0u32; w * 20];
            data[5 * w + 5] = 1;
            let l = Labels::from_vec(w, 20, data).unwrap();
            let p = dir.path().join(format!("t{k}.tif"));
            samcell_io::write_labels_tiff(&p, &l).unwrap();
            paths.push(p);
        }
        let e = link_files(&paths, &TrackConfig::default()).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("t1.tif: frame 1 is 21x20 but frame 0 is 20x20"),
            "{msg}"
        );
    }
}
