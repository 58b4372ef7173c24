//! Output names: one rule for every front end (the `samcell segment` command line, the web
//! server's downloads, and any other caller of this crate).
//!
//! An image's outputs are named `<name>_masks.tif`, `<name>_overlay.png`... with `<name>`:
//! - the file **stem** (`cells.png` -> `cells`; a name without a stem, such as `..`, -> `image`);
//! - when stems collide (compared ignoring case, for case-insensitive file systems), each
//!   colliding file's **folder path** relative to the deepest folder the colliding files share is
//!   put in front, joined with `__` (`a/x.png`, `b/x.png` -> `a__x`, `b__x`);
//! - files in the same folder that still collide and differ by **extension** get it appended
//!   (`x.png`, `x.tif` -> `x_png`, `x_tif`);
//! - anything still colliding gets `_2`, `_3`... in input order;
//! - a **channel** read on its own (`samcell segment --channel C`) from a file with several
//!   channels (samples per pixel, or the channel planes of an ImageJ / OME stack) gets `_c<C>`
//!   after the steps above (`cells.png` channel 1 -> `cells_c1`); a file with one channel keeps
//!   its name, so results with and without `--channel 0` of a grey image share it;
//! - a file with several **pages** gets `_p<N>` for page `N` (from 0), after the steps above and
//!   the channel (`stack.tif` page 1 -> `stack_p1`, channel 1 page 3 -> `stack_c1_p3`: `N` is
//!   the page of the file, whatever the channel); a page name that meets another name is
//!   numbered as above;
//! - bytes of a file name that are not UTF-8 are written as `%XX` (a stem `bad` + byte 0xFF ->
//!   `bad%FF`), so that such names stay distinct instead of all becoming the replacement
//!   character.
//!
//! **Uploads** ([`upload_names`]) have no folders: the uploads of one batch count as the files of
//! one folder, in upload order. So the same files named on the command line from one folder, in
//! the same (sorted) order, get the same names from both; two uploads with the very same file
//! name (which one folder cannot hold) are told apart by the last step: `a.png`, `a.png` -> `a`,
//! `a_2`.

use crate::discover::Input;
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// Name of an input whose file name has no stem (e.g. `..`).
pub const NO_STEM_NAME: &str = "image";

/// One page to name: page `page` of input number `input`, which has `pages` pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageOf {
    /// Index of the input.
    pub input: usize,
    /// The page (0-based).
    pub page: usize,
    /// Pages of the input (1 for a one-page file or one whose pages are unknown).
    pub pages: usize,
    /// The channel read on its own, named `_c<C>`: `Some` only for a file with several
    /// channels (see the module doc).
    pub channel: Option<usize>,
}

/// One upload to name (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Upload<'a> {
    /// The file name as uploaded; any folders in it are ignored.
    pub file_name: &'a str,
    /// The page segmented (0-based).
    pub page: usize,
    /// Pages of the file (1 if one page or not known yet).
    pub pages: usize,
}

/// `s` as text: UTF-8 as is, every byte that is not part of valid UTF-8 as `%XX` (upper-case
/// hex), so that names of files with non-UTF-8 names stay distinct and readable.
pub fn escape_os(s: &OsStr) -> String {
    if let Some(t) = s.to_str() {
        return t.to_string();
    }
    let mut out = String::new();
    for chunk in s.as_encoded_bytes().utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A path as text, lossless (see [`escape_os`]).
pub fn escape_path(p: &Path) -> String {
    escape_os(p.as_os_str())
}

/// Unique output names (file name prefixes) for `inputs`, in the same order; see the module doc.
pub fn output_names(inputs: &[Input]) -> Vec<String> {
    let stem = |i: &Input| {
        i.path
            .file_stem()
            .map(escape_os)
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| NO_STEM_NAME.to_string())
    };
    let mut names: Vec<String> = inputs.iter().map(stem).collect();

    // step 1: prefix the folder path relative to the deepest shared folder
    for group in collisions(&names) {
        let parents: Vec<&Path> = group
            .iter()
            .map(|&i| inputs[i].canonical.parent().unwrap_or(Path::new("")))
            .collect();
        let base = common_ancestor(&parents);
        for (&i, parent) in group.iter().zip(&parents) {
            let rel = parent.strip_prefix(&base).unwrap_or(parent);
            let mut parts: Vec<String> =
                rel.components().map(|c| escape_os(c.as_os_str())).collect();
            if !parts.is_empty() {
                parts.push(names[i].clone());
                names[i] = parts.join("__");
            }
        }
    }
    // step 2: same folder, different extension (a group whose extensions are all the same,
    // ignoring case, is left to step 3: the extension would tell nothing apart)
    for group in collisions(&names) {
        let ext = |i: usize| inputs[i].path.extension().map(escape_os);
        let first = ext(group[0]).map(|e| e.to_lowercase());
        if group
            .iter()
            .all(|&i| ext(i).map(|e| e.to_lowercase()) == first)
        {
            continue;
        }
        for i in group {
            if let Some(e) = ext(i) {
                names[i] = format!("{}_{e}", names[i]);
            }
        }
    }
    // step 3: whatever is left (e.g. case-only differences), numbered in path order
    make_unique(&mut names);
    names
}

/// Makes `names` unique ignoring case: the second, third... of equal names get `_2`, `_3`...;
/// repeated in case a numbered name meets an existing one (each round makes every group unique).
pub fn make_unique(names: &mut [String]) {
    loop {
        let groups = collisions(names);
        if groups.is_empty() {
            return;
        }
        for group in groups {
            for (k, &i) in group.iter().enumerate().skip(1) {
                names[i] = format!("{}_{}", names[i], k + 1);
            }
        }
    }
}

/// Groups (of two or more indices, ascending) whose names are equal ignoring case.
fn collisions(names: &[String]) -> Vec<Vec<usize>> {
    let mut by_key: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, n) in names.iter().enumerate() {
        by_key.entry(n.to_lowercase()).or_default().push(i);
    }
    by_key.into_values().filter(|g| g.len() > 1).collect()
}

fn common_ancestor(paths: &[&Path]) -> PathBuf {
    let mut base: PathBuf = paths.first().map(|p| p.to_path_buf()).unwrap_or_default();
    for p in &paths[1.min(paths.len())..] {
        while !p.starts_with(&base) {
            if !base.pop() {
                return PathBuf::new();
            }
        }
    }
    base
}

/// Unique names of image pages: the input's name ([`output_names`]), with `_c<C>` for a channel
/// read on its own and `_p<N>` when its file has several pages, made unique again
/// ([`make_unique`]).
pub fn page_names(inputs: &[Input], pages: &[PageOf]) -> Vec<String> {
    let base = output_names(inputs);
    let mut names: Vec<String> = pages
        .iter()
        .map(|p| {
            let mut name = base[p.input].clone();
            if let Some(c) = p.channel {
                name.push_str(&format!("_c{c}"));
            }
            if p.pages > 1 {
                name.push_str(&format!("_p{}", p.page));
            }
            name
        })
        .collect();
    make_unique(&mut names);
    names
}

/// Unique names of uploads, in upload order: the uploads count as the files of one folder (see
/// the module doc), named as [`page_names`] names files found on disk.
pub fn upload_names(uploads: &[Upload]) -> Vec<String> {
    let inputs: Vec<Input> = uploads
        .iter()
        .map(|u| {
            let base = u.file_name.rsplit(['/', '\\']).next().unwrap_or("");
            Input::assumed(PathBuf::from(base))
        })
        .collect();
    let pages: Vec<PageOf> = uploads
        .iter()
        .enumerate()
        .map(|(input, u)| PageOf {
            input,
            page: u.page,
            pages: u.pages,
            channel: None,
        })
        .collect();
    page_names(&inputs, &pages)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn input(p: &str) -> Input {
        Input {
            path: PathBuf::from(p),
            canonical: PathBuf::from(p),
        }
    }

    fn names(paths: &[&str]) -> Vec<String> {
        output_names(&paths.iter().map(|p| input(p)).collect::<Vec<_>>())
    }

    #[test]
    fn unique_stems_are_kept() {
        assert_eq!(names(&["/d/a.png", "/d/sub/b.tif"]), ["a", "b"]);
    }

    #[test]
    fn colliding_stems_get_their_relative_folder() {
        assert_eq!(
            names(&["/d/a.png", "/d/sub/a.png", "/d/sub/x/a.png"]),
            ["a", "sub__a", "sub__x__a"]
        );
        assert_eq!(
            names(&["/d/p/a.png", "/d/q/a.png", "/e/b.png"]),
            ["p__a", "q__a", "b"]
        );
    }

    #[test]
    fn same_folder_collisions_get_the_extension_then_a_number() {
        assert_eq!(names(&["/d/a.png", "/d/a.tif"]), ["a_png", "a_tif"]);
        assert_eq!(names(&["/d/A.png", "/d/a.png"]), ["A", "a_2"]);
        assert_eq!(
            names(&["/d/a.png", "/d/A.PNG", "/d/a.tif"]),
            ["a_png", "A_PNG_2", "a_tif"]
        );
    }

    #[test]
    fn a_prefixed_name_that_hits_a_real_stem_is_still_unique() {
        let n = names(&["/d/a.png", "/d/s/a.png", "/d/s__a.png"]);
        let set: HashSet<String> = n.iter().map(|s| s.to_lowercase()).collect();
        assert_eq!(set.len(), 3, "{n:?}");
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_names_are_escaped_losslessly() {
        use std::os::unix::ffi::OsStrExt;
        let bad = OsStr::from_bytes(b"bad\xff\xfeok");
        assert_eq!(escape_os(bad), "bad%FF%FEok");
        assert_eq!(escape_os(OsStr::new("caf\u{e9}")), "caf\u{e9}");
        let a = PathBuf::from(OsStr::from_bytes(b"/d/bad\xff.png"));
        let b = PathBuf::from(OsStr::from_bytes(b"/d/bad\xfe.png"));
        let n = output_names(&[
            Input {
                path: a.clone(),
                canonical: a,
            },
            Input {
                path: b.clone(),
                canonical: b,
            },
        ]);
        assert_eq!(n, ["bad%FF", "bad%FE"]);
    }

    fn uploads(names: &[&str]) -> Vec<String> {
        let u: Vec<Upload> = names
            .iter()
            .map(|n| Upload {
                file_name: n,
                page: 0,
                pages: 1,
            })
            .collect();
        upload_names(&u)
    }

    #[test]
    fn uploads_are_named_as_files_of_one_folder_in_upload_order() {
        assert_eq!(uploads(&["a.png", "b.png"]), ["a", "b"]);
        assert_eq!(
            uploads(&["a.png", "a.tif"]),
            names(&["/d/a.png", "/d/a.tif"])
        );
        assert_eq!(uploads(&["a.png", "a.png", "a.png"]), ["a", "a_2", "a_3"]);
        assert_eq!(uploads(&["C:\\x\\a.png", "dir/b c.png"]), ["a", "b c"]);
        assert_eq!(uploads(&[".."]), [NO_STEM_NAME]);
        let paged = upload_names(&[Upload {
            file_name: "stack.tif",
            page: 2,
            pages: 3,
        }]);
        assert_eq!(paged, ["stack_p2"]);
    }

    #[test]
    fn pages_are_named_only_for_multi_page_files() {
        let ins = [input("/d/a.png"), input("/d/s.tif"), input("/d/s_p0.png")];
        let p = |input, page, pages| PageOf {
            input,
            page,
            pages,
            channel: None,
        };
        let n = page_names(&ins, &[p(0, 0, 1), p(1, 0, 2), p(1, 1, 2), p(2, 0, 1)]);
        assert_eq!(n, ["a", "s_p0", "s_p1", "s_p0_2"]);
    }

    #[test]
    fn channels_come_before_pages_and_only_when_asked_for() {
        let ins = [
            input("/d/rgb.png"),
            input("/d/s.tif"),
            input("/d/s_c1_p1.png"),
        ];
        let p = |input, page, pages, channel| PageOf {
            input,
            page,
            pages,
            channel,
        };
        let n = page_names(
            &ins,
            &[
                p(0, 0, 1, Some(2)),
                p(1, 1, 6, Some(1)),
                p(1, 3, 6, Some(1)),
                p(2, 0, 1, None),
            ],
        );
        assert_eq!(n, ["rgb_c2", "s_c1_p1", "s_c1_p3", "s_c1_p1_2"]);
    }
}
