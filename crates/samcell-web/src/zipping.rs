//! ZIP downloads: one image's results, or every finished image of a batch with `summary.csv`
//! and `settings.json`. Entries are `<stem>_masks.tif`, `<stem>_overlay.png`, `<stem>_cells.csv`,
//! `<stem>_distmap.tif`, with `<stem>` the upload's name among its batch
//! (`samcell_batch::naming::upload_names`: the batch's uploads in upload order count as the files
//! of one folder, so `samcell segment` on those files names them the same).
//! PNG and TIFF entries are stored (already compressed), text is deflated.

use std::io::{Cursor, Write};
use std::path::Path;

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use crate::job::{files, Job};
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
    let method = if name.ends_with(".csv") || name.ends_with(".json") {
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
        for line in text.lines().skip(1).filter(|l| !l.is_empty()) {
            // replace the image column (the job's own stem) by the archive-unique one
            let rest = line
                .strip_prefix(&samcell_measure::csv::quote(&j.stem()))
                .unwrap_or(line);
            let rest = rest.find(',').map(|i| &rest[i..]).unwrap_or(rest);
            out.push_str(&samcell_measure::csv::quote(stem));
            out.push_str(rest);
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
