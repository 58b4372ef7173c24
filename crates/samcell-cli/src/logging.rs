//! Log setup: `tracing` events to stderr, routed around the progress bars.
//!
//! Levels: `--quiet` warn; default info; `-v` debug for the samcell crates; `-vv` trace for them
//! and debug for the rest. `RUST_LOG`, when set, replaces all of that (env-filter syntax).

use crate::progress::Terminal;
use std::io::{IsTerminal, Write};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

const CRATES: [&str; 11] = [
    "samcell",
    "samcell_data",
    "samcell_lite",
    "samcell_train",
    "samcell_io",
    "samcell_pipeline",
    "samcell_model",
    "samcell_morphology",
    "samcell_imaging",
    "samcell_measure",
    "samcell_web",
];

fn default_filter(quiet: bool, verbose: u8) -> String {
    let (ours, rest) = match (quiet, verbose) {
        (true, _) => return "warn".into(),
        (false, 0) => return "info".into(),
        (false, 1) => ("debug", "info"),
        (false, _) => ("trace", "debug"),
    };
    let mut f = rest.to_string();
    for c in CRATES {
        f.push_str(&format!(",{c}={ours}"));
    }
    f
}

/// Installs the global subscriber.
pub fn init(quiet: bool, verbose: u8, term: &Terminal) {
    let filter = match std::env::var("RUST_LOG") {
        Ok(s) if !s.trim().is_empty() => EnvFilter::new(s),
        _ => EnvFilter::new(default_filter(quiet, verbose)),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(BarSafeStderr(term.clone()))
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(verbose > 0);
    // timestamps only help when looking at detail
    let result = if verbose > 0 {
        builder.try_init()
    } else {
        builder.without_time().try_init()
    };
    if let Err(e) = result {
        eprintln!("warning: logging not set up: {e}");
    }
}

/// `MakeWriter` for stderr that clears the progress bars while a line is written.
struct BarSafeStderr(Terminal);

impl<'a> MakeWriter<'a> for BarSafeStderr {
    type Writer = BarSafeWriter<'a>;
    fn make_writer(&'a self) -> Self::Writer {
        BarSafeWriter(&self.0)
    }
}

struct BarSafeWriter<'a>(&'a Terminal);

impl Write for BarSafeWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // the fmt layer writes each event with one write_all of the formatted line
        self.0.suspend(|| std::io::stderr().lock().write_all(buf))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::default_filter;

    #[test]
    fn levels_follow_flags() {
        assert_eq!(default_filter(true, 0), "warn");
        assert_eq!(default_filter(false, 0), "info");
        let v = default_filter(false, 1);
        assert!(
            v.starts_with("info,") && v.contains("samcell_pipeline=debug"),
            "{v}"
        );
        assert!(default_filter(false, 3).contains("samcell=trace"));
    }
}
