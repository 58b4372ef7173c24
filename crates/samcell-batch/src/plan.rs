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

use crate::discover::Input;
use crate::naming::{self, PageOf};
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

/// The jobs for `inputs`: `page` of each (or every page with `all_pages`), named per the module
/// doc; `count_pages` gives a file's page count.
pub fn jobs(
    inputs: &[Input],
    page: usize,
    all_pages: bool,
    count_pages: impl Fn(&Path) -> usize,
) -> Vec<Job> {
    let mut pages_of = Vec::with_capacity(inputs.len());
    for (i, input) in inputs.iter().enumerate() {
        let pages = count_pages(&input.path);
        if all_pages {
            pages_of.extend((0..pages).map(|page| PageOf {
                input: i,
                page,
                pages,
            }));
        } else {
            pages_of.push(PageOf {
                input: i,
                page,
                pages,
            });
        }
    }
    let names = naming::page_names(inputs, &pages_of);
    pages_of
        .iter()
        .zip(names)
        .map(|(p, name)| Job {
            input: inputs[p.input].path.clone(),
            name,
            page: p.page,
            pages: p.pages,
        })
        .collect()
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
