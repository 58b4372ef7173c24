//! Merging a sharded batch (`samcell summarize OUT`): the shards' `run-shard-I-of-N.json` and
//! `summary-shard-I-of-N.csv` ([`crate::shard`]), and what an unsharded run left in `run.json`
//! and `summary.csv`, become the folder's `run.json` and `summary.csv`.
//!
//! **The batch** is planned again from the shard records' inputs, working folder and page /
//! channel choices (which must be the same in every record, as must the shard count `N`), the
//! way each shard planned it ([`crate::plan`]). Relative inputs are taken from the records'
//! working folder when `summarize` runs elsewhere.
//!
//! **One record per image**: every source lists records (its `images`, at the run's
//! `started_unix`, and its `earlier_images`, each at its `run_started_unix`); for each output
//! name the latest wins, and on a tie `run.json`'s record, then the lower shard's. `run.json`'s
//! `images` are the winning records of the batch's images in the batch's order (the order an
//! unsharded run of the same inputs writes them), without `run_started_unix`; the records of
//! other images go to `earlier_images` in the order they were first met (`run.json`, then the
//! shards by index), each with its `run_started_unix`. The other top-level fields (version,
//! command line, settings, model) are those of the lowest shard's record; `started_unix` and
//! `finished_unix` span the shard records.
//!
//! **One row per image** in `summary.csv`: the rows of images outside the batch first (in the
//! order first met), then the batch's rows in its order. An image's row comes from the source of
//! its winning record, else from any source that has one; an image whose winning record failed
//! has no row (as in an unsharded run).
//!
//! **Missing** images are those of the batch without a record, or whose record is not failed
//! but whose outputs are not all there ([`crate::OutputSet::complete`]); **failed** ones have a
//! failed winning record. The report names both, the shards that hold them and the command that
//! redoes them: `samcell segment` with their files, or, when those files alone would get other
//! output names ([`crate::naming`]), with the batch's inputs (complete images are skipped).
//!
//! Both files are written atomically, and only from what is on disk, so summarizing twice
//! writes the same bytes, and rows or records that earlier runs wrote are never dropped.

use crate::discover::{self, Input};
use crate::outputs::{Optional, OutputSet};
use crate::plan::{self, Job, Selection};
use crate::record::{self, Summary};
use crate::results::{RUN_JSON, SUMMARY_CSV};
use crate::shard::{self, ShardRecord};
use crate::BatchError;
use records::{batch_inputs, batch_of, rows_of, run_json, shard_records};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// Why the shards of a folder cannot be merged.
#[derive(Debug, thiserror::Error)]
pub enum SummarizeError {
    /// The output folder cannot be listed.
    #[error("cannot list the output folder {}", path.display())]
    List {
        /// The folder.
        path: PathBuf,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// No `run-shard-I-of-N.json` in the folder.
    #[error("no shard records (run-shard-I-of-N.json) in {}: nothing to merge", .0.display())]
    NoRecords(PathBuf),
    /// Records of different shard counts.
    #[error(
        "the shard records in {dir} are of different shard counts ({found}): keep the records \
         of one sharded run and remove the others"
    )]
    ShardCounts {
        /// The folder.
        dir: String,
        /// The records and their counts.
        found: String,
    },
    /// A shard record that cannot be read or is not one.
    #[error("{}: not a shard record: {reason}", path.display())]
    BadRecord {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Records that planned different batches.
    #[error(
        "{first} and {other} describe different batches (their inputs, working folder, \
         --recursive, --page, --all-pages or --channel differ)"
    )]
    DifferentBatches {
        /// The lowest shard's record.
        first: String,
        /// A record that differs from it.
        other: String,
    },
    /// The batch cannot be planned again.
    #[error("cannot plan the batch again from the shard records' inputs")]
    Plan(#[source] BatchError),
    /// `run.json` or `summary.csv` cannot be written (the error names the file).
    #[error(transparent)]
    Write(BatchError),
}

impl SummarizeError {
    /// Whether the error is about what was asked for (a folder without shard records).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            SummarizeError::NoRecords(_) | SummarizeError::List { .. }
        )
    }
}

/// An image of the batch that is not done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unfinished {
    /// The input file.
    pub input: PathBuf,
    /// The page (0-based).
    pub page: usize,
    /// Its output name.
    pub name: String,
    /// Why it is not done: `no record`, `outputs incomplete`, or a failed record's error.
    pub reason: String,
}

/// What `summarize` found and wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct SummarizeReport {
    /// Shards of the batch (`N`).
    pub shards: usize,
    /// The shard records merged (file names, by shard index).
    pub records: Vec<String>,
    /// Images (jobs) of the batch.
    pub planned: usize,
    /// Images done (outputs complete, record not failed).
    pub done: usize,
    /// Images without a record or without all their outputs, in the batch's order.
    pub missing: Vec<Unfinished>,
    /// Images whose record says they failed, in the batch's order.
    pub failed: Vec<Unfinished>,
    /// The shards that hold the missing and failed images.
    pub shards_to_redo: Vec<usize>,
    /// The command that redoes the missing and failed images (empty when there are none):
    /// `samcell segment FILES... --output OUT SETTINGS...`.
    pub rerun: Vec<String>,
    /// The command names the batch's inputs rather than the unfinished files (which alone would
    /// get other output names).
    pub rerun_whole_batch: bool,
    /// Things worth a warning (settings that differ between shards, inputs that changed).
    pub warnings: Vec<String>,
}

impl SummarizeReport {
    /// Every image of the batch is done.
    pub fn complete(&self) -> bool {
        self.missing.is_empty() && self.failed.is_empty()
    }
}

/// A file whose records and rows are merged.
struct Source {
    /// The record file.
    value: Value,
    /// Its summary rows: (name, row with line end).
    rows: Vec<(String, String)>,
}

/// The winning record of an output name.
struct Winner {
    record: Value,
    time: u64,
    /// Index into the sources; lower wins ties.
    source: usize,
}

/// The merged `run.json`.
#[derive(Serialize)]
struct MergedRun<'a> {
    samcell_version: &'a Value,
    command_line: &'a Value,
    started_unix: u64,
    finished_unix: u64,
    output_dir: &'a Value,
    settings: &'a Value,
    model: &'a Value,
    /// Shards merged.
    shards: usize,
    summary: Summary,
    images: Vec<Value>,
    earlier_images: Vec<Value>,
}

/// Merges the shards of `dir` into its `run.json` and `summary.csv` (module doc) and reports
/// what is missing or failed. `dir` is also the `--output` of the re-run command.
pub fn summarize(dir: &Path) -> Result<SummarizeReport, SummarizeError> {
    let shards = shard_records(dir)?;
    let (first, first_value) = &shards[0];
    let batch = batch_of(dir, first_value)?;
    let mut warnings = Vec::new();
    for (shard, value) in &shards[1..] {
        let other = batch_of(dir, value)?;
        // what must agree: the count and how the batch was asked for
        let same = ShardRecord {
            index: other.index,
            settings_args: other.settings_args.clone(),
            batch_images: other.batch_images,
            shard_images: other.shard_images,
            shard_megapixels: other.shard_megapixels,
            ..batch.clone()
        };
        if other.count != batch.count {
            return Err(SummarizeError::ShardCounts {
                dir: dir.display().to_string(),
                found: format!("{}, {}", first.run_json(), shard.run_json()),
            });
        }
        if other != same {
            return Err(SummarizeError::DifferentBatches {
                first: first.run_json(),
                other: shard.run_json(),
            });
        }
        if other.settings_args != batch.settings_args {
            warnings.push(format!(
                "{} was run with other settings than {} ({} / {}); the merged run.json names \
                 those of {}",
                shard.run_json(),
                first.run_json(),
                other.settings_args.join(" "),
                batch.settings_args.join(" "),
                first.run_json()
            ));
        }
    }

    // the batch, planned again as the shards planned it
    let inputs = batch_inputs(&batch);
    let found =
        discover::discover(&inputs, batch.recursive, Some(dir)).map_err(SummarizeError::Plan)?;
    let selection = Selection {
        page: batch.page,
        all_pages: batch.all_pages,
        channel: batch.channel,
    };
    let jobs = plan::jobs_for(&found.inputs, &selection, plan::page_count, plan::layout);
    let recorded = shards
        .iter()
        .map(|(_, v)| batch_of(dir, v).map_or(0, |b| b.batch_images))
        .max()
        .unwrap_or(0);
    if recorded != jobs.len() {
        warnings.push(format!(
            "the inputs now make {} image(s); the shards planned {recorded}: they changed since \
             the shards ran",
            jobs.len()
        ));
    }

    // the sources: an earlier run.json (of an unsharded run, or of an earlier summarize), then
    // the shards by index
    let mut sources = Vec::new();
    if let Some(value) = run_json(dir, &mut warnings) {
        let rows = rows_of(&dir.join(SUMMARY_CSV), &mut warnings);
        sources.push(Source { value, rows });
    }
    for (shard, value) in &shards {
        sources.push(Source {
            value: value.clone(),
            rows: rows_of(&dir.join(shard.summary_csv()), &mut warnings),
        });
    }
    let (winners, met) = winners(&sources);

    let settings = &first_value["settings"];
    let optional = Optional {
        distmap: settings["save_distmap"].as_bool().unwrap_or(false),
        geojson: settings["save_geojson"].as_bool().unwrap_or(false),
        rois: settings["save_rois"].as_bool().unwrap_or(false),
    };
    let planned: HashSet<&str> = jobs.iter().map(|j| j.name.as_str()).collect();
    let mut summary = Summary::default();
    let (mut images, mut missing, mut failed, mut redo) = (vec![], vec![], vec![], vec![]);
    let mut done = 0;
    for (k, job) in jobs.iter().enumerate() {
        let unfinished = |reason: String| Unfinished {
            input: job.input.clone(),
            page: job.page,
            name: job.name.clone(),
            reason,
        };
        let Some(w) = winners.get(&job.name) else {
            missing.push(unfinished("no record".into()));
            redo.push(k);
            continue;
        };
        let mut rec = w.record.clone();
        if let Some(obj) = rec.as_object_mut() {
            obj.remove("run_started_unix");
        }
        match rec["status"].as_str() {
            Some("failed") => {
                summary.failed += 1;
                let error = rec["error"].as_str().unwrap_or("failed").to_string();
                failed.push(unfinished(error));
                redo.push(k);
            }
            status => {
                if status == Some("ok") {
                    summary.ok += 1;
                } else {
                    summary.skipped += 1;
                }
                if OutputSet::with(dir, &job.name, optional).complete() {
                    done += 1;
                } else {
                    missing.push(unfinished("outputs incomplete".into()));
                    redo.push(k);
                }
            }
        }
        images.push(rec);
    }
    let earlier_images: Vec<Value> = met
        .iter()
        .filter(|n| !planned.contains(n.as_str()))
        .filter_map(|n| winners.get(n))
        .map(|w| {
            let mut rec = w.record.clone();
            if let Some(obj) = rec.as_object_mut() {
                obj.entry("run_started_unix").or_insert(w.time.into());
            }
            rec
        })
        .collect();

    // summary.csv: rows of other images first, then the batch's
    let mut csv = samcell_measure::csv::summary_csv_string(&[]);
    let mut written = HashSet::new();
    for source in &sources {
        for (name, row) in &source.rows {
            if !planned.contains(name.as_str()) && written.insert(name.as_str()) {
                csv.push_str(row_of(&sources, winners.get(name), name).unwrap_or(row));
            }
        }
    }
    for job in &jobs {
        let w = winners.get(&job.name);
        if w.is_some_and(|w| w.record["status"] == "failed") {
            continue;
        }
        if let Some(row) = row_of(&sources, w, &job.name) {
            csv.push_str(row);
        }
    }

    let times =
        |key: &str| -> Vec<u64> { shards.iter().filter_map(|(_, v)| v[key].as_u64()).collect() };
    let merged = MergedRun {
        samcell_version: &first_value["samcell_version"],
        command_line: &first_value["command_line"],
        started_unix: times("started_unix").into_iter().min().unwrap_or(0),
        finished_unix: times("finished_unix").into_iter().max().unwrap_or(0),
        output_dir: &first_value["output_dir"],
        settings,
        model: &first_value["model"],
        shards: batch.count,
        summary,
        images,
        earlier_images,
    };
    let run_path = dir.join(RUN_JSON);
    let json = record::write_json(&run_path, &merged).map_err(|e| BatchError::WriteResults {
        path: run_path,
        source: Box::new(e),
    });
    let csv_path = dir.join(SUMMARY_CSV);
    let csv =
        samcell_io::write_atomic(&csv_path, csv.as_bytes()).map_err(|e| BatchError::WriteResults {
            path: csv_path,
            source: Box::new(e.into()),
        });
    json.and(csv).map_err(SummarizeError::Write)?;

    let shards_to_redo = if redo.is_empty() {
        Vec::new()
    } else {
        let shard_of = shard::partition(&shard::job_weights(&jobs), batch.count);
        let set: BTreeSet<usize> = redo.iter().map(|&k| shard_of[k]).collect();
        set.into_iter().collect()
    };
    let (rerun, rerun_whole_batch) = rerun(dir, &batch, &found.inputs, &jobs, &redo, &selection);
    Ok(SummarizeReport {
        shards: batch.count,
        records: shards.iter().map(|(s, _)| s.run_json()).collect(),
        planned: jobs.len(),
        done,
        missing,
        failed,
        shards_to_redo,
        rerun,
        rerun_whole_batch,
        warnings,
    })
}

/// The winning record of each output name (module doc), and the names in the order met.
fn winners(sources: &[Source]) -> (HashMap<String, Winner>, Vec<String>) {
    let mut best: HashMap<String, Winner> = HashMap::new();
    let mut met = Vec::new();
    for (s, source) in sources.iter().enumerate() {
        let started = source.value["started_unix"].as_u64().unwrap_or(0);
        let earlier = source.value["earlier_images"].as_array().into_iter();
        let earlier = earlier.flatten().map(|r| {
            let t = r["run_started_unix"].as_u64().unwrap_or(started);
            (r, t)
        });
        let images = source.value["images"].as_array().into_iter().flatten();
        for (rec, time) in earlier.chain(images.map(|r| (r, started))) {
            let Some(name) = rec["name"].as_str() else {
                continue;
            };
            match best.get(name) {
                None => met.push(name.to_string()),
                // later wins; a tie keeps the earlier source's
                Some(w) if w.time >= time => continue,
                Some(_) => {}
            }
            let winner = Winner {
                record: rec.clone(),
                time,
                source: s,
            };
            best.insert(name.to_string(), winner);
        }
    }
    (best, met)
}

/// The summary row of `name`: from the source of its winning record, else the first source
/// that has one.
fn row_of<'a>(sources: &'a [Source], winner: Option<&Winner>, name: &str) -> Option<&'a str> {
    let find = |s: &'a Source| {
        s.rows
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, r)| r.as_str())
    };
    winner
        .and_then(|w| find(&sources[w.source]))
        .or_else(|| sources.iter().find_map(find))
}

/// The command that redoes jobs `redo` (module doc), and whether it names the whole batch.
fn rerun(
    dir: &Path,
    batch: &ShardRecord,
    inputs: &[Input],
    jobs: &[Job],
    redo: &[usize],
    selection: &Selection,
) -> (Vec<String>, bool) {
    if redo.is_empty() {
        return (Vec::new(), false);
    }
    let files: Vec<&Path> = {
        let mut seen = HashSet::new();
        redo.iter()
            .map(|&k| jobs[k].input.as_path())
            .filter(|p| seen.insert(*p))
            .collect()
    };
    let subset: Vec<Input> = inputs
        .iter()
        .filter(|i| files.contains(&i.path.as_path()))
        .cloned()
        .collect();
    let alone = plan::jobs_for(&subset, selection, plan::page_count, plan::layout);
    let theirs: Vec<&str> = jobs
        .iter()
        .filter(|j| files.contains(&j.input.as_path()))
        .map(|j| j.name.as_str())
        .collect();
    let same_names = alone.iter().map(|j| j.name.as_str()).eq(theirs);
    let mut cmd = vec!["samcell".to_string(), "segment".to_string()];
    if same_names {
        cmd.extend(files.iter().map(|p| p.display().to_string()));
    } else {
        cmd.extend(batch_inputs(batch).iter().map(|p| p.display().to_string()));
        if batch.recursive {
            cmd.push("--recursive".into());
        }
    }
    cmd.push("--output".into());
    cmd.push(dir.display().to_string());
    cmd.extend(batch.settings_args.iter().cloned());
    (cmd, !same_names)
}

mod records;
#[cfg(test)]
mod tests;
