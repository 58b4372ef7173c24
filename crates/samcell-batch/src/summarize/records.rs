//! The files `summarize` reads: the shard records of a folder, the batch they describe, an
//! earlier `run.json`, and summary tables.

use super::SummarizeError;
use crate::results::{old_rows, RUN_JSON};
use crate::shard::{Shard, ShardRecord};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The shard records of `dir`, by index, parsed; all of one shard count.
pub(super) fn shard_records(dir: &Path) -> Result<Vec<(Shard, Value)>, SummarizeError> {
    let list_err = |source| SummarizeError::List {
        path: dir.to_path_buf(),
        source,
    };
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(list_err)? {
        let entry = entry.map_err(list_err)?;
        if let Some(shard) = entry.file_name().to_str().and_then(Shard::of_run_json) {
            found.push(shard);
        }
    }
    found.sort_by_key(|s| (s.count, s.index));
    if found.is_empty() {
        return Err(SummarizeError::NoRecords(dir.to_path_buf()));
    }
    let counts: BTreeSet<usize> = found.iter().map(|s| s.count).collect();
    if counts.len() > 1 {
        let names: Vec<String> = found.iter().map(Shard::run_json).collect();
        return Err(SummarizeError::ShardCounts {
            dir: dir.display().to_string(),
            found: names.join(", "),
        });
    }
    found
        .into_iter()
        .map(|shard| {
            let path = dir.join(shard.run_json());
            let bad = |reason: String| SummarizeError::BadRecord {
                path: path.clone(),
                reason,
            };
            let text = std::fs::read_to_string(&path).map_err(|e| bad(e.to_string()))?;
            let value: Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
            if !value["images"].is_array() || !value["started_unix"].is_u64() {
                return Err(bad("no images or started_unix".into()));
            }
            let record = batch_of(dir, &value)?;
            if (record.index, record.count) != (shard.index, shard.count) {
                return Err(bad(format!(
                    "it says it is shard {}/{}",
                    record.index, record.count
                )));
            }
            Ok((shard, value))
        })
        .collect()
}

/// The `shard` field of a shard record.
pub(super) fn batch_of(dir: &Path, value: &Value) -> Result<ShardRecord, SummarizeError> {
    serde_json::from_value(value["shard"].clone()).map_err(|e| SummarizeError::BadRecord {
        path: dir.join(
            value["shard"]["index"]
                .as_u64()
                .zip(value["shard"]["count"].as_u64())
                .map_or("run-shard-?.json".to_string(), |(i, n)| {
                    format!("run-shard-{i}-of-{n}.json")
                }),
        ),
        reason: format!("its shard field: {e}"),
    })
}

/// The batch's inputs: relative ones from the records' working folder unless this is it.
pub(super) fn batch_inputs(batch: &ShardRecord) -> Vec<PathBuf> {
    let working = Path::new(&batch.working_dir);
    let here = std::env::current_dir().is_ok_and(|d| d == working);
    batch
        .inputs
        .iter()
        .map(|i| {
            let p = PathBuf::from(i);
            if here || p.is_absolute() {
                p
            } else {
                working.join(p)
            }
        })
        .collect()
}

/// The folder's `run.json`, if there is one that is samcell's (otherwise a warning: it is
/// replaced).
pub(super) fn run_json(dir: &Path, warnings: &mut Vec<String>) -> Option<Value> {
    let path = dir.join(RUN_JSON);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            warnings.push(format!("{}: not merged: {e}", path.display()));
            return None;
        }
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(v) if v["images"].is_array() && v["started_unix"].is_u64() => Some(v),
        _ => {
            warnings.push(format!(
                "{}: not merged: not a samcell run.json",
                path.display()
            ));
            None
        }
    }
}

/// The rows of a summary table (none when there is none; a warning when it is not samcell's).
pub(super) fn rows_of(path: &Path, warnings: &mut Vec<String>) -> Vec<(String, String)> {
    old_rows(path).unwrap_or_else(|e| {
        warnings.push(format!(
            "{}: not merged: {}",
            path.display(),
            crate::error_chain(&e)
        ));
        Vec::new()
    })
}
