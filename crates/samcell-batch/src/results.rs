//! The folder-wide results files, `run.json` and `summary.csv`, merged with what earlier runs
//! into the same folder wrote.
//!
//! Both are keyed by the image's output name. Rows and records of images that are not part of
//! this run are kept as they were; those of images that are part of it (segmented, skipped or
//! failed) are replaced. In `run.json` the kept records go to `earlier_images` (each with the
//! `run_started_unix` of the run that wrote it), so `images` and `summary` stay about this run;
//! in `summary.csv` the kept rows come first, in their old order, then this run's rows.
//!
//! A sharded run ([`crate::shard`]) keeps its own pair of files the same way
//! ([`Results::load_files`]); `samcell summarize` merges them into these two
//! ([`crate::summarize`]).
//!
//! An earlier file that cannot be read or understood (not samcell's JSON, a `summary.csv` with
//! other columns) is not merged: a warning says so and the file is replaced. A failure to write
//! either file is an error for the caller to report (the run then exits non-zero).

use crate::record::{self, RunMeta};
use crate::BatchError;
use samcell_measure::csv::{summary_csv_string, SUMMARY_COLUMNS};
use samcell_measure::ImageSummary;
use serde_json::Value;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// `summary.csv` headers written by earlier versions whose rows mean the same as today's without
/// its last column, `cells_per_mm2` (the confluency column was named without its unit; its
/// values were already fractions). Today's header without that column is accepted too.
const LEGACY_SUMMARY_HEADERS: [&str; 1] = ["image,width_px,height_px,cell_count,mean_area_px2,\
     median_area_px2,confluency,mean_neighbors_adjacent,mean_neighbors_within_distance,\
     neighbor_distance_px"];

/// The folder-wide run record.
pub const RUN_JSON: &str = "run.json";
/// The folder-wide summary table.
pub const SUMMARY_CSV: &str = "summary.csv";

/// The results files of an output folder and what earlier runs left in them.
pub struct Results {
    run_json: PathBuf,
    summary_csv: PathBuf,
    /// Records of earlier runs of images not in this run.
    earlier_records: Vec<Value>,
    /// `summary.csv` rows (CSV text, with the line end) of images not in this run.
    earlier_rows: Vec<String>,
}

impl Results {
    /// Reads what earlier runs wrote in `dir`, keeping what is not about `names` (this run's
    /// images). Problems with the old files are logged as warnings.
    pub fn load(dir: &Path, names: &HashSet<String>) -> Self {
        Self::load_files(dir, RUN_JSON, SUMMARY_CSV, names)
    }

    /// [`Results::load`] for results files of other names in `dir`: a shard's
    /// `run-shard-I-of-N.json` and `summary-shard-I-of-N.csv` ([`crate::shard`]), merged with
    /// what earlier runs of that shard wrote the same way.
    pub fn load_files(
        dir: &Path,
        run_json: &str,
        summary_csv: &str,
        names: &HashSet<String>,
    ) -> Self {
        let run_json = dir.join(run_json);
        let summary_csv = dir.join(summary_csv);
        let earlier_records = match old_records(&run_json) {
            Ok(r) => r
                .into_iter()
                .filter(|r| !r["name"].as_str().is_some_and(|n| names.contains(n)))
                .collect(),
            Err(e) => {
                tracing::warn!(
                    "{}: the records of earlier runs are not kept: {}",
                    run_json.display(),
                    crate::error_chain(&e)
                );
                Vec::new()
            }
        };
        let earlier_rows = match old_rows(&summary_csv) {
            Ok(rows) => rows
                .into_iter()
                .filter(|(k, _)| !names.contains(k))
                .map(|(_, row)| row)
                .collect(),
            Err(e) => {
                tracing::warn!(
                    "{}: the rows of earlier runs are not kept: {}",
                    summary_csv.display(),
                    crate::error_chain(&e)
                );
                Vec::new()
            }
        };
        Self {
            run_json,
            summary_csv,
            earlier_records,
            earlier_rows,
        }
    }

    /// Writes `run.json` (this run's `meta` plus the earlier records) and `summary.csv` (the
    /// earlier rows, then `rows`), each atomically. Both are attempted; the first error is
    /// returned.
    pub fn write(&self, meta: &mut RunMeta, rows: &[ImageSummary]) -> Result<(), BatchError> {
        meta.earlier_images.clone_from(&self.earlier_records);
        let json = record::write_json(&self.run_json, meta).map_err(|e| BatchError::WriteResults {
            path: self.run_json.clone(),
            source: Box::new(e),
        });
        meta.earlier_images.clear();
        let csv = self.write_summary(rows);
        json.and(csv)
    }

    fn write_summary(&self, rows: &[ImageSummary]) -> Result<(), BatchError> {
        let mut text = summary_csv_string(rows);
        let body_start = text.find('\n').map_or(text.len(), |i| i + 1);
        let body = text.split_off(body_start);
        for row in &self.earlier_rows {
            text.push_str(row);
        }
        text.push_str(&body);
        samcell_io::write_atomic(&self.summary_csv, text.as_bytes()).map_err(|e| {
            BatchError::WriteResults {
                path: self.summary_csv.clone(),
                source: Box::new(e.into()),
            }
        })
    }
}

/// The image records of an existing `run.json` (its `earlier_images`, then its `images`, each
/// tagged with the run that wrote it), latest per name; none when there is no file.
fn old_records(path: &Path) -> Result<Vec<Value>, BatchError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(BatchError::OldUnreadable(e)),
    };
    let old: Value = serde_json::from_str(&text).map_err(BatchError::OldNotJson)?;
    let (Some(images), Some(started)) = (old["images"].as_array(), old.get("started_unix")) else {
        return Err(BatchError::NotRunJson);
    };
    let mut out: Vec<Value> = old["earlier_images"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for rec in images {
        let mut rec = rec.clone();
        if let Some(obj) = rec.as_object_mut() {
            obj.entry("run_started_unix")
                .or_insert_with(|| started.clone());
        }
        out.push(rec);
    }
    // a name met again (an image of the last run also among older ones): the latest wins
    let mut seen = HashSet::new();
    let mut latest: Vec<Value> = out
        .into_iter()
        .rev()
        .filter(|r| match r["name"].as_str() {
            Some(n) => seen.insert(n.to_string()),
            None => false,
        })
        .collect();
    latest.reverse();
    Ok(latest)
}

/// The rows of an existing `summary.csv` as (image name, row text with line end); none when
/// there is no file.
pub(crate) fn old_rows(path: &Path) -> Result<Vec<(String, String)>, BatchError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(BatchError::OldUnreadable(e)),
    };
    let mut records = split_records(&text).into_iter();
    let Some(header) = records.next() else {
        return Ok(Vec::new());
    };
    let header = header.trim_end_matches(['\r', '\n']);
    // headers without the last column (cells_per_mm2): their rows get it empty
    let without_density = SUMMARY_COLUMNS[..SUMMARY_COLUMNS.len() - 1].join(",");
    let pad = header == without_density || LEGACY_SUMMARY_HEADERS.contains(&header);
    if header != SUMMARY_COLUMNS.join(",") && !pad {
        return Err(BatchError::ForeignSummary);
    }
    Ok(records
        .filter(|r| !r.trim().is_empty())
        .map(|r| {
            let mut row = r.trim_end_matches(['\r', '\n']).to_string();
            if pad {
                row.push(',');
            }
            row.push('\n');
            (first_field(r), row)
        })
        .collect())
}

/// Splits CSV text into records (a line end inside a quoted field does not end a record); each
/// record keeps its line end.
fn split_records(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '\n' if !quoted => {
                out.push(&text[start..=i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// The first field of a CSV record, unquoted.
fn first_field(record: &str) -> String {
    let record = record.trim_end_matches(['\r', '\n']);
    let Some(rest) = record.strip_prefix('"') else {
        return record.split(',').next().unwrap_or("").to_string();
    };
    let mut out = String::new();
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '"' {
            if chars.peek() == Some(&'"') {
                out.push('"');
                chars.next();
            } else {
                break;
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_records_and_first_fields() {
        let text = "h1,h2\na,1\n\"b,\"\"x\"\"\ny\",2\nc,3";
        let r = split_records(text);
        assert_eq!(r, ["h1,h2\n", "a,1\n", "\"b,\"\"x\"\"\ny\",2\n", "c,3"]);
        assert_eq!(first_field(r[1]), "a");
        assert_eq!(first_field(r[2]), "b,\"x\"\ny");
        assert_eq!(first_field(r[3]), "c");
    }

    #[test]
    fn rows_without_the_density_column_are_kept_with_it_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.csv");
        let old = SUMMARY_COLUMNS[..SUMMARY_COLUMNS.len() - 1].join(",");
        std::fs::write(
            &path,
            format!("{old}\na,64,64,3,1,1,0.1,0,0,5\r\n\"b,c\",1,1,0,NaN,NaN,0,NaN,NaN,5"),
        )
        .unwrap();
        let rows = old_rows(&path).unwrap();
        assert_eq!(rows[0], ("a".into(), "a,64,64,3,1,1,0.1,0,0,5,\n".into()));
        assert_eq!(rows[1].0, "b,c");
        assert!(rows[1].1.ends_with(",5,\n"), "{:?}", rows[1]);
        for (_, row) in &rows {
            assert_eq!(split_fields(row), SUMMARY_COLUMNS.len());
        }
        std::fs::write(
            &path,
            format!(
                "{}\na,64,64,3,1,1,0.1,0,0,5,732.4\n",
                SUMMARY_COLUMNS.join(",")
            ),
        )
        .unwrap();
        assert_eq!(
            old_rows(&path).unwrap()[0].1,
            "a,64,64,3,1,1,0.1,0,0,5,732.4\n"
        );
    }

    /// Fields of a CSV record (quoted commas not counted).
    fn split_fields(record: &str) -> usize {
        let mut quoted = false;
        1 + record
            .chars()
            .filter(|&c| {
                if c == '"' {
                    quoted = !quoted;
                }
                c == ',' && !quoted
            })
            .count()
    }

    #[test]
    fn legacy_header_has_todays_columns_but_one_name() {
        let today = SUMMARY_COLUMNS[..SUMMARY_COLUMNS.len() - 1].join(",");
        let legacy = LEGACY_SUMMARY_HEADERS[0];
        assert_eq!(today.split(',').count(), legacy.split(',').count());
        let differ: Vec<(&str, &str)> = today
            .split(',')
            .zip(legacy.split(','))
            .filter(|(a, b)| a != b)
            .collect();
        assert_eq!(differ.len(), 1, "{differ:?}");
    }
}
