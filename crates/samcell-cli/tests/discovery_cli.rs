//! Input discovery and output naming through the binary: folders (flat and `--recursive`),
//! quoted glob patterns, extension filtering, hidden files, the output folder never searched,
//! duplicates, stem collisions. `--dry-run` prints `input<TAB>masks path<TAB>action` per image
//! without loading a model; one real recursive run checks the names on disk.

mod common;

use common::*;
use std::path::{Path, PathBuf};

/// (input, masks file name, action) per line of `--dry-run` output.
fn plan(root: &Path, args: &[&str]) -> (i32, Vec<(String, String, String)>, String) {
    let mut c = samcell();
    c.current_dir(root)
        .args(["segment", "--dry-run", "--output", "results"])
        .args(args);
    let (code, out, err) = run(&mut c);
    let rows = out
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 3, "dry-run line {l:?}");
            let masks = Path::new(f[1])
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (f[0].to_string(), masks, f[2].to_string())
        })
        .collect();
    (code, rows, err)
}

fn touch(root: &Path, rel: &str) -> PathBuf {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, b"content is not read by --dry-run").unwrap();
    p
}

fn pairs(rows: &[(String, String, String)]) -> Vec<(&str, &str)> {
    rows.iter()
        .map(|(i, m, _)| (i.as_str(), m.as_str()))
        .collect()
}

#[test]
fn folders_globs_and_names() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    for f in [
        "d/a.png",
        "d/B.TIF",
        "d/notes.txt",
        "d/.hidden.png",
        "d/sub/a.png",
        "d/sub/deep/c.jpeg",
        "results/x_overlay.png",
        "d/results/y.png",
    ] {
        touch(root, f);
    }

    // flat folder: image extensions only, any case, no hidden files; sorted by path
    let (code, rows, err) = plan(root, &["d"]);
    assert_eq!(code, 0, "stderr:\n{err}");
    assert_eq!(
        pairs(&rows),
        [("d/B.TIF", "B_masks.tif"), ("d/a.png", "a_masks.tif")]
    );

    // recursive: sub-folders too; the two a.png get their relative folder in the name
    let (code, rows, err) = plan(root, &["d", "--recursive"]);
    assert_eq!(code, 0, "stderr:\n{err}");
    assert_eq!(
        pairs(&rows),
        [
            ("d/B.TIF", "B_masks.tif"),
            ("d/a.png", "a_masks.tif"),
            ("d/results/y.png", "y_masks.tif"),
            ("d/sub/a.png", "sub__a_masks.tif"),
            ("d/sub/deep/c.jpeg", "c_masks.tif"),
        ]
    );

    // quoted glob, expanded by samcell; `**` crosses folders; the output folder is never searched
    let (code, rows, err) = plan(root, &["**/*.png"]);
    assert_eq!(code, 0, "stderr:\n{err}");
    assert_eq!(
        pairs(&rows),
        [
            ("d/a.png", "a_masks.tif"),
            ("d/results/y.png", "y_masks.tif"),
            ("d/sub/a.png", "sub__a_masks.tif")
        ]
    );

    // an explicitly named file is taken whatever its extension; the same file twice counts once;
    // a pattern matching nothing is a warning
    let (code, rows, err) = plan(root, &["d/notes.txt", "d/a.png", "d/*.png", "nothing*.tif"]);
    assert_eq!(code, 0, "stderr:\n{err}");
    assert_eq!(
        pairs(&rows),
        [
            ("d/a.png", "a_masks.tif"),
            ("d/notes.txt", "notes_masks.tif")
        ]
    );
    assert!(
        err.contains("nothing*.tif") && err.contains("matched no image files"),
        "stderr:\n{err}"
    );

    // same stem in one folder: the extension tells them apart
    touch(root, "e/x.png");
    touch(root, "e/x.tif");
    let (_, rows, _) = plan(root, &["e"]);
    assert_eq!(
        pairs(&rows),
        [
            ("e/x.png", "x_png_masks.tif"),
            ("e/x.tif", "x_tif_masks.tif")
        ]
    );

    // outputs written beside the inputs are not taken as inputs on the next run
    for f in [
        "f/a.png",
        "f/a_overlay.png",
        "f/a_masks.tif",
        "f/a_distmap.tif",
        "f/a_run.json",
        "f/a_cells.csv",
    ] {
        touch(root, f);
    }
    let mut c = samcell();
    c.current_dir(root)
        .args(["segment", "--dry-run", "f", "--output", "f"]);
    let (code, out, err) = run(&mut c);
    assert_eq!(code, 0, "stderr:\n{err}");
    // (the fake outputs have no readable a_run.json, so the image would be redone)
    assert_eq!(
        out,
        "f/a.png\tf/a_masks.tif\tsegment (a_run.json cannot be read)\n"
    );

    // nothing found: usage error
    let (code, rows, err) = plan(root, &["nothing*.png"]);
    assert_eq!((code, rows.len()), (2, 0), "stderr:\n{err}");
    assert!(err.contains("no input images found"), "stderr:\n{err}");
}

/// A real recursive run: two images with the same stem in different folders get distinct
/// output sets, named as `--dry-run` says.
#[test]
fn recursive_run_writes_disambiguated_outputs() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write_test_png(&root.join("plate/a.png"), 64, 0);
    write_test_png(&root.join("plate/well2/a.png"), 64, 1);
    let model = write_lite_model(root);
    let (code, rows, _) = plan(root, &["plate", "-r"]);
    assert_eq!(code, 0);
    assert_eq!(
        pairs(&rows),
        [
            ("plate/a.png", "a_masks.tif"),
            ("plate/well2/a.png", "well2__a_masks.tif")
        ]
    );

    let mut c = samcell();
    c.current_dir(root)
        .args([
            "segment",
            "plate",
            "-r",
            "--threads",
            "2",
            "--output",
            "results",
            "--model",
        ])
        .arg(format!("lite:{}", model.display()));
    let (code, _, err) = run(&mut c);
    assert_eq!(code, 0, "stderr:\n{err}");
    let meta = json(&root.join("results/run.json"));
    let recs = meta["images"].as_array().unwrap();
    assert_eq!(recs.len(), 2);
    for (rec, name) in recs.iter().zip(["a", "well2__a"]) {
        assert_eq!(rec["name"], name);
        let (_, _, labels) = read_labels(&root.join(format!("results/{name}_masks.tif")));
        assert_eq!(rec["n_cells"].as_u64(), Some(count_labels(&labels) as u64));
        assert_eq!(rec["n_crops"], 1, "a 64x64 image is one crop");
    }
    // different images -> the second did not overwrite the first (the overlays show the images)
    assert_ne!(
        std::fs::read(root.join("results/a_overlay.png")).unwrap(),
        std::fs::read(root.join("results/well2__a_overlay.png")).unwrap()
    );
}

/// Folder entries that are passed over are named in the log with the reason (a dangling link
/// as a warning, a FIFO at info level, the rest at -v); a symbolic link to a folder is followed
/// with --recursive, and a link loop is searched once.
#[cfg(unix)]
#[test]
fn skipped_entries_are_logged_and_linked_folders_followed() {
    use std::os::unix::fs::symlink;
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    touch(root, "d/a.png");
    touch(root, "d/notes.txt");
    touch(root, "elsewhere/b.png");
    symlink(root.join("missing.png"), root.join("d/gone.png")).unwrap();
    symlink(root.join("elsewhere"), root.join("d/linked")).unwrap();
    symlink(root.join("d"), root.join("d/loop")).unwrap();
    let fifo = root.join("d/pipe.png");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success());

    let (code, rows, err) = plan(root, &["d", "--recursive", "-v"]);
    assert_eq!(code, 0, "stderr:\n{err}");
    assert_eq!(
        pairs(&rows),
        [
            ("d/a.png", "a_masks.tif"),
            ("d/linked/b.png", "b_masks.tif")
        ],
        "the linked folder is searched, the loop once; stderr:\n{err}"
    );
    let line = |needle: &str| err.lines().find(|l| l.contains(needle)).map(str::to_string);
    let gone = line("gone.png").unwrap_or_else(|| panic!("dangling link logged:\n{err}"));
    assert!(
        gone.contains("WARN") && gone.contains("target is missing"),
        "{gone}"
    );
    let looped = line("d/loop").unwrap_or_else(|| panic!("loop logged:\n{err}"));
    assert!(looped.contains("already searched"), "{looped}");
    let notes = line("notes.txt").unwrap_or_else(|| panic!("-v names other files:\n{err}"));
    assert!(notes.contains("no image extension"), "{notes}");
    if made {
        let pipe = line("pipe.png").unwrap_or_else(|| panic!("FIFO logged:\n{err}"));
        assert!(pipe.contains("FIFO"), "{pipe}");
    }

    // without --recursive the sub-folders are named as not searched
    let (_, rows, err) = plan(root, &["d"]);
    assert_eq!(pairs(&rows), [("d/a.png", "a_masks.tif")]);
    assert!(
        err.lines()
            .any(|l| l.contains("d/linked") && l.contains("--recursive")),
        "stderr:\n{err}"
    );
}
