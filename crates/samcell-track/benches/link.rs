//! Linking speed: 100 frames of about 1,000 touching cells (1024 x 1024 px, cells moving a few
//! pixels per frame with a slow outward drift), linked by [`Tracker`] with the default settings.
//! The frames are made before the clock starts; the time covers everything the linker does
//! per frame (finding the cells, overlaps, assignments, divisions, gap closing).
//!
//! Run: `cargo bench -p samcell-track --bench link` (prints one table row per run).

#[path = "../tests/common/synth.rs"]
#[allow(dead_code)]
mod synth;

use samcell_track::{TrackConfig, Tracker};
use std::time::Instant;

fn main() {
    let (frames, _) = synth::colony(&synth::Colony {
        width: 1024,
        height: 1024,
        frames: 100,
        start_cells: 1024,
        radius: 15.0,
        growth: 0.003,
        jitter: 1.5,
        period: 1_000_000,
        seed: 11,
    });
    let cells: Vec<usize> = frames
        .iter()
        .map(|f| {
            let mut l: Vec<u32> = f.data().iter().copied().filter(|&v| v > 0).collect();
            l.sort_unstable();
            l.dedup();
            l.len()
        })
        .collect();
    println!(
        "| frames | cells per frame | image | runs | best link time (s) | per frame (ms) | tracks |"
    );
    println!("|---|---|---|---|---|---|---|");
    let runs = 3;
    let mut best = f64::INFINITY;
    let mut tracks = 0;
    for _ in 0..runs {
        let start = Instant::now();
        let mut tracker = Tracker::new(TrackConfig::default());
        for f in &frames {
            tracker.push(f).expect("one frame size");
        }
        let t = tracker.finish();
        best = best.min(start.elapsed().as_secs_f64());
        tracks = t.tracks.len();
    }
    println!(
        "| {} | {}-{} | 1024 x 1024 | {runs} | {best:.3} | {:.1} | {tracks} |",
        frames.len(),
        cells.iter().min().unwrap_or(&0),
        cells.iter().max().unwrap_or(&0),
        1e3 * best / frames.len() as f64
    );
}
