//! What a run is to do: one job per image page, each with its own output name.
//!
//! A file with one page (PNG, JPEG, BMP, single-page TIFF) is one job named by
//! [`crate::naming`]. A TIFF with several pages gets the page in its name: `<name>_p<N>` with `N`
//! the page counted from 0 (`stack.tif`, page 1 -> `stack_p1_masks.tif`), so results of
//! different pages never overwrite or "resume" one another. With `all_pages` there is one job
//! per page; otherwise the job is the page asked for (default 0). If a page-suffixed name meets
//! another input's name, the later one gets `_2`, `_3`... ([`crate::naming::page_names`]).
//!
//! Only TIFFs are asked for their page count (`samcell_io::page_count`); other files are
//! recognised from their first bytes and count as one page. A file whose page count cannot be
//! read counts as one page here and fails with the reader's message when it is segmented.
//!
//! **Channels** ([`Selection::channel`], `samcell segment --channel C`): every job reads channel
//! `C` (`samcell_io::ReadOptions::channel`), and the file's layout (`samcell_io::read_layout`)
//! decides what that is and which pages are jobs:
//! - a TIFF whose ImageJ or OME metadata declares several channel planes (a hyperstack, an
//!   OME-TIFF with `SizeC` > 1): the channel is a set of pages. Without a page the job is the
//!   channel's first page (Z 0, T 0); with `all_pages` there is one job per page of the channel
//!   (its Z slices and time points, in file order); an explicit page must be one of the
//!   channel's pages (the read fails otherwise, naming them).
//! - any other file: the channel is a sample of each pixel (R, G or B of a colour image, a band
//!   of a multi-band page), on the page(s) chosen as without a channel.
//!
//! A file with several channels gets `_c<C>` in its names ([`crate::naming`]); a one-channel
//! file keeps its name (channel 0 is the image itself; another channel fails when read).

use crate::discover::Input;
use crate::naming::{self, PageOf};
use samcell_io::{FileLayout, PlaneIndex};
use std::io::Read;
use std::path::{Path, PathBuf};

/// One image page to segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    /// The input file.
    pub input: PathBuf,
    /// Output name prefix.
    pub name: String,
    /// Page to read (0-based).
    pub page: usize,
    /// Pages in the file (1 for non-TIFF files and unreadable ones).
    pub pages: usize,
    /// Channel to read (0-based; `None`: the pixels' samples made grey as usual).
    pub channel: Option<usize>,
    /// The page's channel / Z / time position when the file's ImageJ or OME metadata declares
    /// the planes it holds (known when a channel was asked for).
    pub plane: Option<PlaneIndex>,
}

/// Which pages and channel of each input a run segments.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    /// The page asked for (`--page`); `None`: page 0, or the channel's first page.
    pub page: Option<usize>,
    /// Every page (of the channel, for a channel stack).
    pub all_pages: bool,
    /// The channel asked for (`--channel`), see the module doc.
    pub channel: Option<usize>,
}

/// Whether the file starts like a TIFF or BigTIFF.
fn starts_like_tiff(path: &Path) -> bool {
    let mut head = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && matches!(&head, b"II*\0" | b"MM\0*" | b"II+\0" | b"MM\0+")
}

/// Pages of `path`: the TIFF's page count, else 1.
pub fn page_count(path: &Path) -> usize {
    if !starts_like_tiff(path) {
        return 1;
    }
    samcell_io::page_count(path).unwrap_or(1).max(1)
}

/// The layout of `path` for planning (`samcell_io::read_layout`); `None` when it cannot be read
/// (the job then fails with the reader's message when it is segmented).
pub fn layout(path: &Path) -> Option<FileLayout> {
    samcell_io::read_layout(path).ok()
}

/// The jobs for `inputs`: `page` of each (or every page with `all_pages`), named per the module
/// doc; `count_pages` gives a file's page count. No channel: see [`jobs_for`].
pub fn jobs(
    inputs: &[Input],
    page: usize,
    all_pages: bool,
    count_pages: impl Fn(&Path) -> usize,
) -> Vec<Job> {
    let selection = Selection {
        page: Some(page),
        all_pages,
        channel: None,
    };
    jobs_for(inputs, &selection, count_pages, |_| None)
}

/// The jobs for `inputs` as `selection` asks (see the module doc), named per the module doc:
/// `count_pages` gives a file's page count when no channel is asked for; `layout_of` gives its
/// layout when one is (`None`: unknown, taken as one page of one channel).
pub fn jobs_for(
    inputs: &[Input],
    selection: &Selection,
    count_pages: impl Fn(&Path) -> usize,
    layout_of: impl Fn(&Path) -> Option<FileLayout>,
) -> Vec<Job> {
    let mut pages_of = Vec::with_capacity(inputs.len());
    let mut planes = Vec::with_capacity(inputs.len());
    for (i, input) in inputs.iter().enumerate() {
        let (pages, list, channel, layout) = match selection.channel {
            None => {
                let pages = count_pages(&input.path);
                (pages, page_list(selection, pages, None), None, None)
            }
            Some(c) => {
                let layout = layout_of(&input.path);
                let pages = layout.map_or(1, |l| l.pages.max(1));
                let channels = layout.map_or(1, |l| l.channels());
                let theirs = layout.and_then(|l| l.channel_stack().map(|_| l.channel_pages(c)));
                let list = page_list(selection, pages, theirs);
                (pages, list, (channels > 1).then_some(c), layout)
            }
        };
        for page in list {
            pages_of.push(PageOf {
                input: i,
                page,
                pages,
                channel,
            });
            planes.push(layout.and_then(|l| l.plane_of(page)));
        }
    }
    let names = naming::page_names(inputs, &pages_of);
    pages_of
        .iter()
        .zip(names)
        .zip(planes)
        .map(|((p, name), plane)| Job {
            input: inputs[p.input].path.clone(),
            name,
            page: p.page,
            pages: p.pages,
            channel: selection.channel,
            plane,
        })
        .collect()
}

/// The pages to segment of a file of `pages` pages; `channel_pages`: the pages of the channel
/// asked for when the file's channels are sets of pages (empty: no such channel, one job on the
/// first page, which the reader refuses naming the channels there are).
fn page_list(selection: &Selection, pages: usize, channel_pages: Option<Vec<usize>>) -> Vec<usize> {
    match (selection.page, selection.all_pages, channel_pages) {
        (_, true, Some(theirs)) if theirs.is_empty() => vec![0],
        (_, true, Some(theirs)) => theirs,
        (_, true, None) => (0..pages).collect(),
        (Some(page), false, _) => vec![page],
        (None, false, Some(theirs)) => vec![theirs.first().copied().unwrap_or(0)],
        (None, false, None) => vec![0],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(dir: &Path, files: &[&str]) -> Vec<Input> {
        for f in files {
            std::fs::write(dir.join(f), b"x").unwrap();
        }
        let args: Vec<PathBuf> = files.iter().map(|f| dir.join(f)).collect();
        crate::discover::discover(&args, false, None)
            .unwrap()
            .inputs
    }

    fn names(jobs: &[Job]) -> Vec<(&str, usize)> {
        jobs.iter().map(|j| (j.name.as_str(), j.page)).collect()
    }

    #[test]
    fn pages_are_named_only_for_multi_page_files() {
        let tmp = tempfile::tempdir().unwrap();
        let ins = inputs(tmp.path(), &["a.png", "stack.tif"]);
        let pages = |p: &Path| if p.ends_with("stack.tif") { 3 } else { 1 };
        assert_eq!(
            names(&jobs(&ins, 1, false, pages)),
            [("a", 1), ("stack_p1", 1)]
        );
        assert_eq!(
            names(&jobs(&ins, 0, true, pages)),
            [("a", 0), ("stack_p0", 0), ("stack_p1", 1), ("stack_p2", 2)]
        );
    }

    #[test]
    fn a_page_name_meeting_another_input_stays_unique() {
        let tmp = tempfile::tempdir().unwrap();
        let ins = inputs(tmp.path(), &["s.tif", "s_p0.png"]);
        let pages = |p: &Path| if p.ends_with("s.tif") { 2 } else { 1 };
        let j = jobs(&ins, 0, false, pages);
        let mut n: Vec<String> = j.iter().map(|j| j.name.to_lowercase()).collect();
        n.sort();
        n.dedup();
        assert_eq!(n.len(), 2, "{j:?}");
    }

    #[test]
    fn a_channel_of_a_stack_is_its_pages_and_a_sample_otherwise() {
        use samcell_io::{DimensionOrder, Format, StackDims, StackSource};
        let tmp = tempfile::tempdir().unwrap();
        let ins = inputs(
            tmp.path(),
            &["grey.png", "rgb.png", "hyper.tif", "short.tif"],
        );
        // hyper.tif: 2 channels x 3 frames (CZT); short.tif declares 2 x 3 but has 2 pages
        let stack = StackDims {
            channels: 2,
            slices: 1,
            frames: 3,
            order: DimensionOrder::Czt,
            source: StackSource::ImageJ,
        };
        let layout = |p: &Path| {
            let name = p.file_name()?.to_str()?;
            let (pages, samples, stack) = match name {
                "grey.png" => (1, 1, None),
                "rgb.png" => (1, 3, None),
                "hyper.tif" => (6, 1, Some(stack)),
                _ => (2, 1, Some(stack)),
            };
            let format = if name.ends_with("png") {
                Format::Png
            } else {
                Format::Tiff
            };
            Some(FileLayout {
                format,
                pages,
                samples,
                stack,
            })
        };
        let run = |page, all_pages| {
            let sel = Selection {
                page,
                all_pages,
                channel: Some(1),
            };
            jobs_for(&ins, &sel, |_| unreachable!("layouts are read"), layout)
        };
        let j = run(None, false);
        assert_eq!(
            names(&j),
            [
                ("grey", 0),
                ("hyper_c1_p1", 1),
                ("rgb_c1", 0),
                ("short_p0", 0)
            ]
        );
        assert!(j.iter().all(|j| j.channel == Some(1)));
        let hyper = j.iter().find(|j| j.name.starts_with("hyper")).unwrap();
        assert_eq!(hyper.plane, Some(PlaneIndex { c: 1, z: 0, t: 0 }));
        // every page of channel 1: its time points
        let j = run(None, true);
        let hyper: Vec<_> = names(&j)
            .into_iter()
            .filter(|n| n.0.starts_with("hyper"))
            .collect();
        assert_eq!(
            hyper,
            [("hyper_c1_p1", 1), ("hyper_c1_p3", 3), ("hyper_c1_p5", 5)]
        );
        let t: Vec<usize> = j.iter().filter_map(|j| j.plane.map(|p| p.t)).collect();
        assert_eq!(t, [0, 1, 2]);
        assert_eq!(
            names(&j)
                .iter()
                .filter(|n| n.0.starts_with("short"))
                .count(),
            2
        );
        // an explicit page is taken as it is (the reader checks its channel)
        let j = run(Some(2), false);
        assert!(names(&j).contains(&("hyper_c1_p2", 2)), "{j:?}");
        // a channel the stack does not have: one job, to fail once
        let sel = Selection {
            page: None,
            all_pages: true,
            channel: Some(5),
        };
        let j = jobs_for(&ins, &sel, |_| 1, layout);
        assert_eq!(j.iter().filter(|j| j.name.starts_with("hyper")).count(), 1);
    }

    #[test]
    fn tiff_magic_decides_whether_pages_are_counted() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("x.tif");
        std::fs::write(&p, b"\x89PNG\r\n\x1a\n").unwrap();
        assert!(!starts_like_tiff(&p));
        assert_eq!(page_count(&p), 1);
        std::fs::write(&p, b"II*\0garbage").unwrap();
        assert!(starts_like_tiff(&p));
        assert_eq!(page_count(&p), 1, "an unreadable TIFF counts as one page");
    }
}
