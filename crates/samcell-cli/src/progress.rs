//! Progress display: indicatif bars on stderr when it is a terminal (and not `--quiet`),
//! nothing otherwise (the per-image log lines then carry the progress).
//!
//! Log lines and bars share stderr through [`Terminal::suspend`], which clears the bars, runs the
//! write and redraws them, so log output never tears a bar.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use samcell_pipeline::ProgressFn;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

/// The process's stderr, with or without progress bars.
#[derive(Clone)]
pub struct Terminal {
    mp: MultiProgress,
    bars: bool,
}

impl Terminal {
    /// Bars are drawn when stderr is a terminal and `quiet` is off.
    pub fn new(quiet: bool) -> Self {
        let bars = !quiet && std::io::stderr().is_terminal();
        let target = if bars {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        Self {
            mp: MultiProgress::with_draw_target(target),
            bars,
        }
    }

    /// Runs `f` (which writes to stderr) with the bars cleared.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        self.mp.suspend(f)
    }

    /// A byte-count bar for a download of `len` bytes (unknown: a spinner); hidden without bars.
    pub fn download_bar(&self, len: Option<u64>, what: &str) -> ProgressBar {
        if !self.bars {
            return ProgressBar::hidden();
        }
        let pb = match len {
            Some(n) => ProgressBar::new(n).with_style(style(
                "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )),
            None => ProgressBar::new_spinner()
                .with_style(style("{spinner} {msg} {bytes} {bytes_per_sec}")),
        };
        let pb = self.mp.add(pb.with_message(what.to_string()));
        pb.enable_steady_tick(Duration::from_millis(200));
        pb
    }

    /// One bar counting `n` files (absent without a terminal or with `--quiet`).
    pub fn file_bar(&self, n: usize, what: &str) -> Option<ProgressBar> {
        if !self.bars {
            return None;
        }
        let bar = self
            .mp
            .add(ProgressBar::new(n as u64).with_style(style(&format!(
                "{what} [{{bar:30}}] {{pos}}/{{len}} {{elapsed_precise}} eta {{eta}} {{wide_msg}}"
            ))));
        bar.enable_steady_tick(Duration::from_millis(250));
        Some(bar)
    }

    /// Bars for a run over `n_images` images.
    pub fn run_bars(&self, n_images: usize) -> RunBars {
        if !self.bars {
            return RunBars {
                images: None,
                crops: None,
            };
        }
        let images = self
            .mp
            .add(ProgressBar::new(n_images as u64).with_style(style(
                "images [{bar:30}] {pos}/{len} {elapsed_precise} eta {eta} {msg}",
            )));
        let crops = self
            .mp
            .add(ProgressBar::new(0).with_style(style("crops  [{bar:30}] {pos}/{len} {wide_msg}")));
        images.enable_steady_tick(Duration::from_millis(250));
        RunBars {
            images: Some(images),
            crops: Some(crops),
        }
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

/// The image bar and the crop bar of the image in progress (both absent without a terminal).
pub struct RunBars {
    images: Option<ProgressBar>,
    crops: Option<ProgressBar>,
}

impl RunBars {
    /// Marks the start of an image: the crop bar is reset and shows its name.
    pub fn start_image(&self, name: &str) {
        if let Some(c) = &self.crops {
            c.reset();
            c.set_length(0);
            c.set_message(name.to_string());
        }
    }

    /// Sets the number of crops of the image in progress (known once it is read).
    pub fn set_crops(&self, total: usize) {
        if let Some(c) = &self.crops {
            c.set_length(total as u64);
            c.set_position(0);
        }
    }

    /// The hook the segmenter calls after each batch of crops.
    pub fn crop_hook(&self) -> Arc<ProgressFn> {
        let crops = self.crops.clone();
        Arc::new(move |done, total| {
            if let Some(c) = &crops {
                c.set_length(total as u64);
                c.set_position(done as u64);
            }
        })
    }

    /// Marks an image as finished (done, skipped or failed).
    pub fn finish_image(&self) {
        if let Some(i) = &self.images {
            i.inc(1);
        }
    }

    /// Removes the bars.
    pub fn finish(&self) {
        for b in [&self.crops, &self.images].into_iter().flatten() {
            b.finish_and_clear();
        }
    }
}
