//! `samcell summarize OUT`: merges the records of a sharded `samcell segment --shard` run in OUT
//! into `run.json` and `summary.csv` (`samcell_batch::summarize`, whose module doc gives the
//! rules), then says what is missing or failed.
//!
//! Stdout gets one line per unfinished image (`missing\tINPUT\tNAME\tREASON` or
//! `failed\tINPUT\tNAME\tERROR`) and, when there are any, the shards that hold them and the
//! command that redoes them (`rerun\tsamcell segment ...`, shell-quoted); the log (stderr) gets
//! the counts. Exit 0 when every image of the batch is done, 1 when some are missing or failed
//! (the merged files are written all the same) or the records cannot be merged, 2 when OUT has
//! no shard records.

use crate::UsageError;
use anyhow::{anyhow, Result};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

const AFTER: &str = "\
Examples:
  samcell segment data/ --output results --shard 0/3   (and 1/3, 2/3: three processes)
  samcell summarize results

Every shard of `samcell segment --shard I/N` writes run-shard-I-of-N.json and
summary-shard-I-of-N.csv into the output folder. summarize plans the batch again from them and
writes run.json and summary.csv with the rows an unsharded run of the same inputs would write,
in the same order (an earlier run.json and summary.csv in the folder are merged, their rows
kept). Images without a record or without all their outputs are listed as missing, failed ones
as failed, with the shards to re-submit and a command that redoes only them. Running it again
writes the same files.

Stdout, one tab-separated line each: `missing INPUT NAME REASON` and `failed INPUT NAME ERROR`
per image not done, then `shards I/N...` (the shards that hold them) and `rerun COMMAND`.

Exit status: 0 every image is done; 1 images are missing or failed (run.json and summary.csv
are still written for what is there), or the records cannot be merged (e.g. of different shard
counts); 2 usage error (no shard records in OUT).";

/// `samcell summarize`.
#[derive(Debug, Args)]
#[command(after_long_help = AFTER, after_help = "Examples and exit status: samcell summarize --help")]
pub struct SummarizeArgs {
    /// The output folder the shards wrote into (their --output).
    #[arg(value_name = "OUT")]
    pub output: PathBuf,
}

/// Runs `samcell summarize`.
pub fn run(args: SummarizeArgs) -> Result<ExitCode> {
    if !args.output.is_dir() {
        return Err(anyhow!(UsageError(format!(
            "{} is not a folder",
            args.output.display()
        ))));
    }
    let report = samcell_batch::summarize(&args.output).map_err(|e| {
        if e.is_usage() {
            anyhow!(UsageError(samcell_batch::error_chain(&e)))
        } else {
            anyhow::Error::new(e)
        }
    })?;
    for w in &report.warnings {
        tracing::warn!("{w}");
    }
    tracing::info!(
        "{} shard record(s) of {} merged into {}: {} of {} image(s) done",
        report.records.len(),
        report.shards,
        args.output.join("run.json").display(),
        report.done,
        report.planned
    );
    for u in &report.missing {
        println!("missing\t{}\t{}\t{}", u.input.display(), u.name, u.reason);
    }
    for u in &report.failed {
        println!("failed\t{}\t{}\t{}", u.input.display(), u.name, u.reason);
    }
    if report.complete() {
        tracing::info!("every image of the batch is done");
        return Ok(ExitCode::SUCCESS);
    }
    let shards: Vec<String> = report
        .shards_to_redo
        .iter()
        .map(|s| format!("{s}/{}", report.shards))
        .collect();
    println!("shards\t{}", shards.join(" "));
    let command: Vec<String> = report.rerun.iter().map(|a| shell_quote(a)).collect();
    println!("rerun\t{}", command.join(" "));
    tracing::warn!(
        "{} image(s) missing, {} failed (shard(s) {}); to redo only them{}: {}",
        report.missing.len(),
        report.failed.len(),
        shards.join(", "),
        if report.rerun_whole_batch {
            " (with the whole batch's inputs: the files alone would get other output names; \
             complete images are skipped)"
        } else {
            ""
        },
        command.join(" ")
    );
    Ok(ExitCode::FAILURE)
}

/// `s` as one word for a POSIX shell: as it is when it has only safe characters, else in
/// single quotes.
fn shell_quote(s: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_-./:=@%+,".contains(c);
    if !s.is_empty() && s.chars().all(safe) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::shell_quote;

    #[test]
    fn shell_words() {
        assert_eq!(shell_quote("a/b_c-1.png"), "a/b_c-1.png");
        assert_eq!(shell_quote("my file.png"), "'my file.png'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
