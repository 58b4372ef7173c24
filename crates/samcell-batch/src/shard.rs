//! Sharded runs: one batch split into `N` shards that run as independent processes (array jobs
//! of a cluster scheduler) into one output folder.
//!
//! **Which shard** ([`Shard`]): `I/N` with `I` counted from 0 and `I < N`, or from a Slurm job
//! array ([`Shard::from_slurm`]): `I = SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN`,
//! `N = SLURM_ARRAY_TASK_COUNT`.
//!
//! **Which jobs** ([`partition`]): every shard plans the whole batch (the same sorted job list,
//! [`crate::plan`]) and takes its share of it, so that shards need not talk to each other. Jobs
//! are balanced by pixel count, read from the files' headers without decoding
//! ([`job_weights`], `samcell_io::page_pixels`); a file whose headers cannot be read weighs its
//! size in bytes (0 when even that is unknown), so that every shard still computes the same
//! partition and the job fails with the reader's message when it is segmented. The greedy rule:
//! jobs in order of weight, heaviest first (ties: earlier in the job list first), each to the
//! shard with the least weight so far (ties: the lowest shard index). The partition depends only
//! on the weights and their order, never on which shard computes it; each shard then runs its
//! jobs in the job list's order.
//!
//! **Which files** ([`Shard::run_json`], [`Shard::summary_csv`]): a shard writes its own
//! `run-shard-I-of-N.json` and `summary-shard-I-of-N.csv` instead of the folder's `run.json` and
//! `summary.csv` (which `samcell summarize` merges from them, [`crate::summarize`]); its run
//! record carries a [`ShardRecord`] with what is needed to plan the batch again.

use crate::plan::Job;
use serde::{Deserialize, Serialize};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::Path;

/// Slurm's variable with the array task's id.
pub const SLURM_TASK_ID: &str = "SLURM_ARRAY_TASK_ID";
/// Slurm's variable with the array's lowest task id.
pub const SLURM_TASK_MIN: &str = "SLURM_ARRAY_TASK_MIN";
/// Slurm's variable with the array's number of tasks.
pub const SLURM_TASK_COUNT: &str = "SLURM_ARRAY_TASK_COUNT";

/// Why a shard cannot be had from what was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    /// Not of the form `I/N`.
    #[error("{0:?} is not a shard: expected I/N (e.g. 0/4, I counted from 0) or slurm")]
    Syntax(String),
    /// `N` is 0.
    #[error("the shard count in {0:?} must be at least 1")]
    NoShards(String),
    /// `I >= N`.
    #[error("shard index {index} is not below the shard count {count} (indices count from 0)")]
    IndexTooLarge {
        /// The index.
        index: usize,
        /// The count.
        count: usize,
    },
    /// A Slurm variable that is not set.
    #[error("{0} is not set (--shard slurm reads the array task from a Slurm job array)")]
    SlurmMissing(&'static str),
    /// A Slurm variable that is not a whole number.
    #[error("{name}={value:?} is not a whole number")]
    SlurmInvalid {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
    },
    /// A task id below the array's lowest.
    #[error("{SLURM_TASK_ID}={id} is below {SLURM_TASK_MIN}={min}")]
    SlurmBelowMin {
        /// The task id.
        id: usize,
        /// The lowest id.
        min: usize,
    },
    /// A task id whose offset is not below the task count (an array with a step or gaps).
    #[error(
        "{SLURM_TASK_ID}={id} minus {SLURM_TASK_MIN}={min} is not below \
         {SLURM_TASK_COUNT}={count}: the array's ids must be consecutive (--array=0-{last}, \
         without a step or gaps)",
        last = count.saturating_sub(1)
    )]
    SlurmOutOfRange {
        /// The task id.
        id: usize,
        /// The lowest id.
        min: usize,
        /// The task count.
        count: usize,
    },
}

/// Shard `index` of `count` (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// This shard, counted from 0.
    pub index: usize,
    /// Shards in all (at least 1).
    pub count: usize,
}

impl Shard {
    /// Shard `index` of `count`, checked (`count >= 1`, `index < count`).
    pub fn new(index: usize, count: usize) -> Result<Self, ShardError> {
        if count == 0 {
            return Err(ShardError::NoShards(format!("{index}/{count}")));
        }
        if index >= count {
            return Err(ShardError::IndexTooLarge { index, count });
        }
        Ok(Self { index, count })
    }

    /// Parses `I/N` (spaces around the numbers allowed).
    pub fn parse(s: &str) -> Result<Self, ShardError> {
        let syntax = || ShardError::Syntax(s.to_string());
        let (i, n) = s.split_once('/').ok_or_else(syntax)?;
        let num = |t: &str| {
            let t = t.trim();
            if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
                return Err(syntax());
            }
            t.parse::<usize>().map_err(|_| syntax())
        };
        let (index, count) = (num(i)?, num(n)?);
        if count == 0 {
            return Err(ShardError::NoShards(s.to_string()));
        }
        Self::new(index, count)
    }

    /// The shard of a Slurm array task, from `var` (the environment, or a stand-in in tests):
    /// `SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN` of `SLURM_ARRAY_TASK_COUNT`.
    pub fn from_slurm(var: impl Fn(&str) -> Option<String>) -> Result<Self, ShardError> {
        let get = |name: &'static str| {
            let value = var(name).ok_or(ShardError::SlurmMissing(name))?;
            value
                .trim()
                .parse::<usize>()
                .map_err(|_| ShardError::SlurmInvalid { name, value })
        };
        let (id, min, count) = (
            get(SLURM_TASK_ID)?,
            get(SLURM_TASK_MIN)?,
            get(SLURM_TASK_COUNT)?,
        );
        if id < min {
            return Err(ShardError::SlurmBelowMin { id, min });
        }
        if count == 0 {
            return Err(ShardError::NoShards(format!("{SLURM_TASK_COUNT}=0")));
        }
        if id - min >= count {
            return Err(ShardError::SlurmOutOfRange { id, min, count });
        }
        Self::new(id - min, count)
    }

    /// `run-shard-I-of-N.json`, the shard's run record.
    pub fn run_json(&self) -> String {
        format!("run-shard-{}-of-{}.json", self.index, self.count)
    }

    /// `summary-shard-I-of-N.csv`, the shard's summary rows.
    pub fn summary_csv(&self) -> String {
        format!("summary-shard-{}-of-{}.csv", self.index, self.count)
    }

    /// The shard whose run record is named `file_name` (`run-shard-I-of-N.json`), if it is one.
    pub fn of_run_json(file_name: &str) -> Option<Self> {
        let rest = file_name
            .strip_prefix("run-shard-")?
            .strip_suffix(".json")?;
        let (i, n) = rest.split_once("-of-")?;
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        if !digits(i) || !digits(n) {
            return None;
        }
        Self::new(i.parse().ok()?, n.parse().ok()?).ok()
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// What a shard's run record (`run-shard-I-of-N.json`, field `shard`) keeps beyond a `run.json`:
/// which shard it was, and how the batch was asked for, so that `samcell summarize` can plan it
/// again and say how to redo what is missing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardRecord {
    /// This shard, counted from 0.
    pub index: usize,
    /// Shards in all.
    pub count: usize,
    /// The inputs as given (files, folders, patterns).
    pub inputs: Vec<String>,
    /// The working folder the inputs are relative to.
    pub working_dir: String,
    /// Folders were searched recursively.
    pub recursive: bool,
    /// `--page`, when given.
    pub page: Option<usize>,
    /// `--all-pages`.
    pub all_pages: bool,
    /// `--channel`, when given.
    pub channel: Option<usize>,
    /// The options that reproduce the run's results (model, thresholds, scaling, outputs), as
    /// command-line arguments for a re-run.
    pub settings_args: Vec<String>,
    /// Jobs (image pages) of the whole batch.
    pub batch_images: usize,
    /// Jobs of this shard.
    pub shard_images: usize,
    /// Pixels of this shard's jobs, in millions (the weights of [`partition`]).
    pub shard_megapixels: f64,
}

/// The weight of each job for [`partition`]: the pixels of its page from the file's headers
/// (`samcell_io::page_pixels`), else the file's size in bytes, else 0. Each file's headers are
/// read once.
pub fn job_weights(jobs: &[Job]) -> Vec<u64> {
    let mut last: Option<(&Path, Option<Vec<u64>>)> = None;
    jobs.iter()
        .map(|job| {
            let fresh = !matches!(&last, Some((p, _)) if *p == job.input.as_path());
            if fresh {
                let pages = samcell_io::page_pixels(&job.input).ok();
                last = Some((job.input.as_path(), pages));
            }
            let pages = last.as_ref().and_then(|(_, p)| p.as_ref());
            pages
                .and_then(|p| p.get(job.page).copied())
                .unwrap_or_else(|| fallback_weight(&job.input))
        })
        .collect()
}

/// The weight of a file whose page sizes are unknown: its size in bytes, 0 if that is unknown.
fn fallback_weight(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// The shard of each job (index into `weights`, the jobs' weights in job-list order) under the
/// greedy rule of the module doc. `count` must be at least 1.
pub fn partition(weights: &[u64], count: usize) -> Vec<usize> {
    let count = count.max(1);
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by_key(|&j| (Reverse(weights[j]), j));
    // the lightest shard on top; ties: the lowest index
    let mut loads: BinaryHeap<Reverse<(u128, usize)>> =
        (0..count).map(|s| Reverse((0u128, s))).collect();
    let mut shard_of = vec![0; weights.len()];
    for j in order {
        let Some(Reverse((load, s))) = loads.pop() else {
            break;
        };
        shard_of[j] = s;
        loads.push(Reverse((load + u128::from(weights[j]), s)));
    }
    shard_of
}

/// The jobs of `shard` (indices into the job list, in its order) given each job's shard.
pub fn jobs_of(shard_of: &[usize], shard: usize) -> Vec<usize> {
    (0..shard_of.len())
        .filter(|&j| shard_of[j] == shard)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn shard_syntax() {
        assert_eq!(Shard::parse("0/1"), Ok(Shard { index: 0, count: 1 }));
        assert_eq!(Shard::parse(" 2 / 3 "), Ok(Shard { index: 2, count: 3 }));
        assert!(matches!(
            Shard::parse("3/3"),
            Err(ShardError::IndexTooLarge { .. })
        ));
        assert!(matches!(Shard::parse("0/0"), Err(ShardError::NoShards(_))));
        for bad in ["", "1", "a/2", "1/b", "-1/2", "1/2/3", "+1/2", "1.0/2"] {
            assert!(
                matches!(Shard::parse(bad), Err(ShardError::Syntax(_))),
                "{bad}"
            );
        }
        let e = Shard::parse("4/4").unwrap_err().to_string();
        assert!(e.contains("index 4") && e.contains("count 4"), "{e}");
    }

    #[test]
    fn slurm_variables() {
        let env = |id: &str, min: &str, count: &str| {
            let vars = [
                (SLURM_TASK_ID, id.to_string()),
                (SLURM_TASK_MIN, min.to_string()),
                (SLURM_TASK_COUNT, count.to_string()),
            ];
            move |k: &str| {
                vars.iter()
                    .find(|(n, v)| *n == k && !v.is_empty())
                    .map(|(_, v)| v.clone())
            }
        };
        assert_eq!(
            Shard::from_slurm(env("5", "3", "4")),
            Ok(Shard { index: 2, count: 4 })
        );
        let e = Shard::from_slurm(env("", "0", "4")).unwrap_err();
        assert_eq!(e, ShardError::SlurmMissing(SLURM_TASK_ID));
        assert!(e.to_string().contains(SLURM_TASK_ID));
        let e = Shard::from_slurm(env("1", "0", "x"))
            .unwrap_err()
            .to_string();
        assert!(e.contains(SLURM_TASK_COUNT) && e.contains("\"x\""), "{e}");
        assert!(matches!(
            Shard::from_slurm(env("1", "2", "4")),
            Err(ShardError::SlurmBelowMin { .. })
        ));
        // --array=0-6:2 has ids 0, 2, 4, 6 and a count of 4
        let e = Shard::from_slurm(env("6", "0", "4"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("consecutive"), "{e}");
        assert!(matches!(
            Shard::from_slurm(env("0", "0", "0")),
            Err(ShardError::NoShards(_))
        ));
    }

    #[test]
    fn record_file_names_round_trip() {
        let s = Shard {
            index: 1,
            count: 12,
        };
        assert_eq!(s.run_json(), "run-shard-1-of-12.json");
        assert_eq!(s.summary_csv(), "summary-shard-1-of-12.csv");
        assert_eq!(Shard::of_run_json(&s.run_json()), Some(s));
        for other in [
            "run.json",
            "run-shard-1-of-12.json.tmp",
            "run-shard-3-of-3.json",
            "run-shard--of-3.json",
            "run-shard-a-of-3.json",
            "x_run.json",
        ] {
            assert_eq!(Shard::of_run_json(other), None, "{other}");
        }
    }

    #[test]
    fn heaviest_first_to_the_least_loaded_shard() {
        // 10 to shard 0, 8 to 1, 6 to 2, then 5 to the lightest (2: 6), 1 to 1 (8 < 10, 11)
        assert_eq!(partition(&[5, 10, 1, 8, 6], 3), [2, 0, 1, 1, 2]);
        // equal weights: dealt out in job order
        assert_eq!(partition(&[7; 5], 2), [0, 1, 0, 1, 0]);
        // more shards than jobs: the last shards get nothing
        assert_eq!(partition(&[1, 2], 4), [1, 0]);
        assert_eq!(jobs_of(&[1, 0, 1], 1), [0, 2]);
        assert!(partition(&[], 3).is_empty());
    }

    #[test]
    fn unreadable_headers_weigh_their_file_size() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.png");
        std::fs::write(&bad, b"\x89PNG\r\n\x1a\nshort").unwrap();
        let job = |path: &Path, page| Job {
            input: path.to_path_buf(),
            name: "x".into(),
            page,
            pages: 1,
            channel: None,
            plane: None,
        };
        let gone = dir.path().join("gone.png");
        assert_eq!(job_weights(&[job(&bad, 0), job(&gone, 0)]), [13, 0]);
    }

    proptest! {
        #[test]
        fn every_job_in_exactly_one_shard_the_same_from_every_shard(
            weights in proptest::collection::vec(0u64..1_000_000, 0..60),
            count in 1usize..9,
        ) {
            let shard_of = partition(&weights, count);
            prop_assert_eq!(shard_of.len(), weights.len());
            prop_assert!(shard_of.iter().all(|&s| s < count));
            // each shard computes the partition on its own: the same answer every time
            let mut seen = vec![0usize; weights.len()];
            for s in 0..count {
                prop_assert_eq!(&partition(&weights, count), &shard_of);
                let mine = jobs_of(&shard_of, s);
                prop_assert!(mine.windows(2).all(|w| w[0] < w[1]), "in job-list order");
                for j in mine {
                    seen[j] += 1;
                }
            }
            prop_assert!(seen.iter().all(|&n| n == 1), "{:?}", seen);
            // greedy balance: no shard exceeds the mean by more than the heaviest job
            let mut loads = vec![0u64; count];
            for (j, &s) in shard_of.iter().enumerate() {
                loads[s] += weights[j];
            }
            let total: u64 = weights.iter().sum();
            let heaviest = weights.iter().copied().max().unwrap_or(0);
            let mean = total.div_ceil(count as u64);
            prop_assert!(loads.iter().all(|&l| l <= mean + heaviest), "{:?}", loads);
        }
    }
}
