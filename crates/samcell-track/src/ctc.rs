//! Cell Tracking Challenge result files: `maskTTT.tif` (the frame's cells labelled by track id;
//! 16-bit unsigned when the sequence has at most 65,535 tracks, 32-bit otherwise, so every
//! frame of a sequence has the same type; Deflate-compressed, written atomically) and
//! `res_track.txt` (one `L B E P` line per track), and [`validate`], the rules a result must
//! keep (those py-ctcmetrics' `validate_sequence` checks).

use crate::tracking::Track;
use crate::TrackError;
use samcell_imaging::Labels;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Cursor;
use std::path::{Path, PathBuf};
use tiff::encoder::colortype::{Gray16, Gray32};
use tiff::encoder::compression::DeflateLevel;
use tiff::encoder::{Compression, TiffEncoder};

/// `maskTTT.tif` for frame `t`: three digits, more when the sequence is longer than 1,000
/// frames (the Cell Tracking Challenge's naming).
pub fn mask_name(t: usize, frames: usize) -> String {
    let digits = if frames > 1000 {
        frames.saturating_sub(1).to_string().len()
    } else {
        3
    };
    format!("mask{t:0digits$}.tif")
}

/// Writes `labels` as a result mask: 32-bit when `max_id` (the sequence's largest track id) is
/// above 65,535, 16-bit otherwise.
pub fn write_mask(path: &Path, labels: &Labels, max_id: u32) -> Result<(), TrackError> {
    let (w, h) = (labels.width() as u32, labels.height() as u32);
    let werr = |e: tiff::TiffError| {
        TrackError::Io(samcell_io::IoError::write(
            path,
            format!("cannot encode TIFF: {e}"),
        ))
    };
    let mut bytes = Cursor::new(Vec::new());
    let enc = TiffEncoder::new(&mut bytes)
        .map_err(werr)?
        .with_compression(Compression::Deflate(DeflateLevel::Balanced));
    let mut enc = enc;
    if max_id > u32::from(u16::MAX) {
        enc.write_image::<Gray32>(w, h, labels.data())
            .map_err(werr)?;
    } else {
        let v: Vec<u16> = labels.data().iter().map(|&x| x as u16).collect();
        enc.write_image::<Gray16>(w, h, &v).map_err(werr)?;
    }
    samcell_io::write_atomic(path, bytes.get_ref())?;
    Ok(())
}

/// Writes `res_track.txt` into `dir`.
pub fn write_res_track(dir: &Path, tracks: &[Track]) -> Result<PathBuf, TrackError> {
    let path = dir.join("res_track.txt");
    samcell_io::write_atomic(&path, res_track_text(tracks).as_bytes())?;
    Ok(path)
}

/// `res_track.txt`'s text: one `L B E P` line per track.
pub fn res_track_text(tracks: &[Track]) -> String {
    tracks
        .iter()
        .map(|t| format!("{} {} {} {}\n", t.id, t.start, t.end, t.parent))
        .collect()
}

/// Parses `res_track.txt` text (`L B E P` lines).
pub fn parse_res_track(text: &str) -> Result<Vec<Track>, String> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Vec<u64> = l
                .split_whitespace()
                .map(|x| x.parse::<u64>().map_err(|e| format!("{l:?}: {e}")))
                .collect::<Result<_, _>>()?;
            match v[..] {
                [id, start, end, parent] => Ok(Track {
                    id: id as u32,
                    start: start as usize,
                    end: end as usize,
                    parent: parent as u32,
                }),
                _ => Err(format!("{l:?}: not four numbers 'L B E P'")),
            }
        })
        .collect()
}

/// The problems of a result (empty when valid): `frames[t]` is `maskTTT`, `tracks` the
/// `res_track.txt` lines. Rules: labels are unique lines with B <= E; a track's label is in
/// exactly the frames B..=E; every label in a mask has a line; a parent is 0 or a listed
/// track that ends before its child begins.
pub fn validate(frames: &[Labels], tracks: &[Track]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut by_id: BTreeMap<u32, Track> = BTreeMap::new();
    for t in tracks {
        if t.id == 0 || by_id.insert(t.id, *t).is_some() {
            problems.push(format!("label {} listed twice or 0", t.id));
        }
        if t.start > t.end {
            problems.push(format!("track {} begins after it ends", t.id));
        }
    }
    for t in tracks {
        if t.parent == 0 {
            continue;
        }
        match by_id.get(&t.parent) {
            None => problems.push(format!(
                "track {}: parent {} is not a track",
                t.id, t.parent
            )),
            Some(p) if p.end >= t.start => problems.push(format!(
                "track {}: parent {} ends at {} but the child begins at {}",
                t.id, p.id, p.end, t.start
            )),
            _ => {}
        }
    }
    for (f, labels) in frames.iter().enumerate() {
        let present: BTreeSet<u32> = labels.data().iter().copied().filter(|&l| l > 0).collect();
        for &l in &present {
            match by_id.get(&l) {
                None => problems.push(format!("frame {f}: label {l} has no track")),
                Some(t) if f < t.start || f > t.end => problems.push(format!(
                    "frame {f}: label {l} outside its frames {}..{}",
                    t.start, t.end
                )),
                _ => {}
            }
        }
        for t in by_id.values() {
            if t.start <= f && f <= t.end && !present.contains(&t.id) {
                problems.push(format!("frame {f}: track {} missing", t.id));
            }
        }
    }
    problems
}
