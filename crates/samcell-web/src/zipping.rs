//! ZIP downloads: one image's results, or every finished image of a batch with `summary.csv`
//! and `settings.json`. Entries are `<stem>_masks.tif`, `<stem>_overlay.png`, `<stem>_cells.csv`,
//! `<stem>_distmap.tif`, `<stem>.geojson` and `<stem>_rois.zip` (`crate::outlines`), with
//! `<stem>` the upload's name among its batch
//! (`samcell_batch::naming::upload_names`: the batch's uploads in upload order count as the files
//! of one folder, so `samcell segment` on those files names them the same).
//! PNG, TIFF and ZIP entries are stored (already compressed), text is deflated.
//!
//! A job's `summary.csv` written before a column was added (`cells_per_mm2`) gets that column
//! empty in the batch's `summary.csv`, so the rows line up with the header.

use std::io::{Cursor, Write};
use std::path::Path;

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use crate::job::{files, Job};
use crate::outlines::Outline;
use crate::WebError;

/// The per-image download files: (file in the job directory, download suffix).
pub const IMAGE_FILES: [(&str, &str); 4] = [
    (files::MASKS, "_masks.tif"),
    (files::OVERLAY, "_overlay.png"),
    (files::CELLS, "_cells.csv"),
    (files::DISTMAP_TIFF, "_distmap.tif"),
];

fn zerr(e: impl std::fmt::Display) -> WebError {
    WebError::Io(format!("ZIP: {e}"))
}

fn options(name: &str) -> SimpleFileOptions {
    let method = if [".csv", ".json", ".geojson", ".txt"]
        .iter()
        .any(|e| name.ends_with(e))
    {
        CompressionMethod::Deflated
    } else {
        CompressionMethod::Stored
    };
    SimpleFileOptions::default()
        .compression_method(method)
        .large_file(false)
}

fn add(zip: &mut ZipWriter<Cursor<Vec<u8>>>, name: &str, bytes: &[u8]) -> Result<(), WebError> {
    zip.start_file(name, options(name)).map_err(zerr)?;
    zip.write_all(bytes).map_err(zerr)
}

/// The output names of `jobs` (one batch, in upload order): `samcell_batch`'s rule for uploads.
pub fn unique_stems(jobs: &[Job]) -> Vec<String> {
    let uploads: Vec<_> = jobs.iter().map(Job::upload).collect();
    samcell_batch::upload_names(&uploads)
}

/// `summary.csv` of several jobs: samcell-measure's header, then each job's row (image column
/// = the unique stem).
pub fn summary_csv(root: &Path, jobs: &[Job], stems: &[String]) -> Result<String, WebError> {
    let mut out = samcell_measure::csv::SUMMARY_COLUMNS.join(",");
    out.push('\n');
    for (j, stem) in jobs.iter().zip(stems) {
        let path = root.join(&j.id).join(files::SUMMARY);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| WebError::Io(format!("{}: {e}", path.display())))?;
        // columns this file lacks at the end (written by an earlier version)
        let have = text.lines().next().map_or(0, |h| h.split(',').count());
        let missing = ",".repeat(
            samcell_measure::csv::SUMMARY_COLUMNS
                .len()
                .saturating_sub(have),
        );
        for line in text.lines().skip(1).filter(|l| !l.is_empty()) {
            // replace the image column (the job's own stem) by the archive-unique one
            let rest = line
                .strip_prefix(&samcell_measure::csv::quote(&j.stem()))
                .unwrap_or(line);
            let rest = rest.find(',').map(|i| &rest[i..]).unwrap_or(rest);
            out.push_str(&samcell_measure::csv::quote(stem));
            out.push_str(rest);
            out.push_str(&missing);
            out.push('\n');
        }
    }
    Ok(out)
}

/// A ZIP with every result of `jobs` (all done), named `stems`, the summary and the settings.
pub fn results_zip(
    root: &Path,
    jobs: &[Job],
    stems: &[String],
    settings: &serde_json::Value,
) -> Result<Vec<u8>, WebError> {
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    for (j, stem) in jobs.iter().zip(stems) {
        for (file, suffix) in IMAGE_FILES {
            let path = root.join(&j.id).join(file);
            let bytes = std::fs::read(&path)
                .map_err(|e| WebError::Io(format!("{}: {e}", path.display())))?;
            add(&mut zip, &format!("{stem}{suffix}"), &bytes)?;
        }
        for o in Outline::ALL {
            let bytes = o.bytes(&root.join(&j.id), j)?;
            add(&mut zip, &format!("{stem}{}", o.suffix()), &bytes)?;
        }
    }
    add(
        &mut zip,
        "summary.csv",
        summary_csv(root, jobs, stems)?.as_bytes(),
    )?;
    let settings = serde_json::to_vec_pretty(settings).map_err(zerr)?;
    add(&mut zip, "settings.json", &settings)?;
    Ok(zip.finish().map_err(zerr)?.into_inner())
}

/// A ZIP of the files of folder `dir` and of its subfolders (one level deep, as a tracking
/// result's `overlays/`), named by their paths under `dir` with `/`, in natural order of names;
/// files first, then each subfolder.
pub fn folder_zip(dir: &Path) -> Result<Vec<u8>, WebError> {
    let list = |d: &Path| -> Result<(Vec<String>, Vec<String>), WebError> {
        let (mut files, mut dirs) = (Vec::new(), Vec::new());
        let entries =
            std::fs::read_dir(d).map_err(|e| WebError::Io(format!("{}: {e}", d.display())))?;
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            match e.file_type() {
                Ok(t) if t.is_dir() => dirs.push(name),
                Ok(t) if t.is_file() => files.push(name),
                _ => {}
            }
        }
        let order = |a: &String, b: &String| samcell_track::series::natural_cmp(a, b);
        files.sort_by(order);
        dirs.sort_by(order);
        Ok((files, dirs))
    };
    let read =
        |p: &Path| std::fs::read(p).map_err(|e| WebError::Io(format!("{}: {e}", p.display())));
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    let (files, dirs) = list(dir)?;
    for f in files {
        add(&mut zip, &f, &read(&dir.join(&f))?)?;
    }
    for d in dirs {
        let (files, _) = list(&dir.join(&d))?;
        for f in files {
            add(
                &mut zip,
                &format!("{d}/{f}"),
                &read(&dir.join(&d).join(&f))?,
            )?;
        }
    }
    Ok(zip.finish().map_err(zerr)?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_rows_written_before_a_column_get_it_empty() {
        let root = tempfile::tempdir().expect("tempdir");
        let cols = samcell_measure::csv::SUMMARY_COLUMNS;
        let mut jobs = Vec::new();
        // the first job's summary.csv lacks the last column (an earlier version wrote it)
        for (k, n) in [(0, cols.len() - 1), (1, cols.len())] {
            let j = Job::queued(crate::job::new_id(), "b".into(), format!("img{k}.png"));
            let dir = root.path().join(&j.id);
            std::fs::create_dir_all(&dir).expect("mkdir");
            let row: Vec<String> = std::iter::once(j.stem())
                .chain((1..n).map(|i| i.to_string()))
                .collect();
            let text = format!("{}\n{}\n", cols[..n].join(","), row.join(","));
            std::fs::write(dir.join(files::SUMMARY), text).expect("write");
            jobs.push(j);
        }
        let csv = summary_csv(root.path(), &jobs, &["a".into(), "b".into()]).expect("csv");
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], cols.join(","));
        for l in &lines[1..] {
            assert_eq!(l.split(',').count(), cols.len(), "{l}");
        }
        assert!(
            lines[1].starts_with("a,1,") && lines[1].ends_with(','),
            "{}",
            lines[1]
        );
        assert!(
            lines[2].starts_with("b,1,") && !lines[2].ends_with(','),
            "{}",
            lines[2]
        );
    }
}
