//! Writing a whole result folder ([`write_results`]): per frame `maskTTT.tif` (see
//! [`crate::ctc`]) and, when the frame's grey image is given, `overlays/frameTTT.png` (each
//! track in its own colour, the same in every frame: samcell-io's overlay with the track id as
//! the label); then `res_track.txt`, `tracks.csv`, `lineage.csv`, `growth.csv` (see
//! [`crate::tables`]), `growth.png` (see [`crate::growth`]) and `summary.txt` (frames, tracks,
//! divisions and the doubling-time fit in words). Frames are read one at a time through the
//! caller's function, so a long sequence is never held in memory.

use crate::growth::{self, DoublingFit};
use crate::interval::Timeline;
use crate::tables::{self, GrowthRow};
use crate::{ctc, TrackError, Tracking};
use samcell_imaging::{GrayU8, Labels};
use samcell_measure::{measure_labels, Intensity, MeasureConfig};
use std::path::Path;

/// What [`write_results`] wrote, in numbers.
#[derive(Clone, Debug)]
pub struct ResultSummary {
    /// The rows of `growth.csv`.
    pub growth: Vec<GrowthRow>,
    /// The doubling-time fit, when there is one.
    pub fit: Option<DoublingFit>,
    /// The `summary.txt` text.
    pub text: String,
}

/// One frame as [`write_results`] reads it: its label image (as pushed to the tracker) and,
/// for overlays and intensity columns, its grey image.
pub type FrameData = (Labels, Option<GrayU8>);

/// Writes the result folder of the module docs into `dir` (created if needed); `frame(t)`
/// gives frame t. With `outlines`, overlays draw each cell's outline in its full colour.
pub fn write_results(
    dir: &Path,
    tracking: &Tracking,
    timeline: &Timeline,
    outlines: bool,
    mut frame: impl FnMut(usize) -> Result<FrameData, TrackError>,
) -> Result<ResultSummary, TrackError> {
    let mkdir = |d: &Path| {
        std::fs::create_dir_all(d)
            .map_err(|e| samcell_io::IoError::write_io(d, "cannot create the folder", e))
    };
    mkdir(dir)?;
    let n = tracking.frames();
    let max_id = tracking.max_id();
    let mut tracks_csv = String::new();
    let mut rows = Vec::with_capacity(n);
    for t in 0..n {
        let (labels, image) = frame(t)?;
        let relabelled = tracking.relabel(t, &labels)?;
        ctc::write_mask(&dir.join(ctc::mask_name(t, n)), &relabelled, max_id)?;
        let m = measure_labels(
            &relabelled,
            image.as_ref().map(Intensity::U8),
            &MeasureConfig::default(),
        )?;
        if t == 0 {
            tracks_csv = tables::tracks_csv_header(&m, timeline);
        }
        tracks_csv.push_str(&tables::tracks_csv_rows(t, timeline, &m, tracking));
        rows.push(GrowthRow::new(t, timeline, &m, tracking));
        if let Some(image) = &image {
            mkdir(&dir.join("overlays"))?;
            let name = ctc::mask_name(t, n)
                .replace("mask", "frame")
                .replace(".tif", ".png");
            samcell_io::write_overlay_png(
                &dir.join("overlays").join(name),
                image,
                &relabelled,
                outlines,
            )?;
        }
    }
    ctc::write_res_track(dir, &tracking.tracks)?;
    let write = |name: &str, text: &str| samcell_io::write_atomic(&dir.join(name), text.as_bytes());
    write("tracks.csv", &tracks_csv)?;
    write("lineage.csv", &tables::lineage_csv(tracking))?;
    write("growth.csv", &tables::growth_csv(&rows, timeline))?;
    let fit = growth::fit_doubling(&rows);
    samcell_io::write_atomic(
        &dir.join("growth.png"),
        &growth::render_png(&rows, fit.as_ref(), timeline)?,
    )?;
    let text = format!(
        "frames: {n}\ntracks: {}\ndivisions: {}\ntime: {}\n{}\n",
        tracking.tracks.len(),
        tracking.divisions.len(),
        match timeline.0 {
            Some(i) => format!("{} {} per frame", i.value, i.unit),
            None => "in frames (no frame interval given)".into(),
        },
        growth::describe(fit.as_ref(), timeline)
    );
    write("summary.txt", &text)?;
    Ok(ResultSummary {
        growth: rows,
        fit,
        text,
    })
}
