//! Result files: 32-bit masks past 65,535 tracks, and the validity rules.

mod common;

use common::{frame, track};
use samcell_imaging::Labels;
use samcell_track::{ctc, Track, TrackConfig};
use tiff::decoder::Decoder;
use tiff::ColorType;

/// Frames of 1-pixel cells on alternate squares of a checkerboard (the other squares in the
/// next frame), so no cell overlaps one of the frame before: every cell is a new track.
fn checkerboard(side: usize, parity: usize) -> Labels {
    let data = (0..side * side)
        .map(|i| {
            let (x, y) = (i % side, i / side);
            if (x + y) % 2 == parity {
                i as u32 + 1
            } else {
                0
            }
        })
        .collect();
    Labels::from_vec(side, side, data).unwrap()
}

fn bits(path: &std::path::Path) -> ColorType {
    let mut d = Decoder::new(std::fs::File::open(path).unwrap()).unwrap();
    d.colortype().unwrap()
}

#[test]
fn more_than_65535_tracks_are_written_as_32_bit_masks() {
    // 4 frames of 20,000 cells: 80,000 tracks (those of frames 2 and 3 continue the ones of
    // frames 0 and 1 across a one-frame gap, each as a new track)
    let frames: Vec<Labels> = (0..4).map(|t| checkerboard(200, t % 2)).collect();
    let tracking = track(&frames, TrackConfig::default());
    assert_eq!(tracking.max_id(), 80_000);
    let dir = tempfile::tempdir().unwrap();
    let masks: Vec<Labels> = (0..4)
        .map(|t| tracking.relabel(t, &frames[t]).unwrap())
        .collect();
    for (t, m) in masks.iter().enumerate() {
        ctc::write_mask(&dir.path().join(ctc::mask_name(t, 4)), m, tracking.max_id()).unwrap();
    }
    // frame 0 has only ids up to 20,000 but is 32-bit like the others
    for t in 0..4 {
        assert_eq!(
            bits(&dir.path().join(format!("mask{t:03}.tif"))),
            ColorType::Gray(32)
        );
    }
    let back = samcell_io::labels::read_labels(&dir.path().join("mask003.tif")).unwrap();
    assert_eq!(back, masks[3]);
    assert!(ctc::validate(&masks, &tracking.tracks).is_empty());
    // at most 65,535 tracks: 16-bit
    let small = frame(10, 10, &[(3, 1, 1, 4, 4)]);
    ctc::write_mask(&dir.path().join("small.tif"), &small, 65_535).unwrap();
    assert_eq!(bits(&dir.path().join("small.tif")), ColorType::Gray(16));
}

#[test]
fn validation_names_each_broken_rule() {
    let f = |l: u32| frame(10, 10, &[(l, 1, 1, 4, 4)]);
    let t = |id, start, end, parent| Track {
        id,
        start,
        end,
        parent,
    };
    let masks = [f(1), f(2), f(2)];
    assert!(ctc::validate(&masks, &[t(1, 0, 0, 0), t(2, 1, 2, 1)]).is_empty());
    // the parent must end before the child begins
    let p = ctc::validate(&masks, &[t(1, 0, 1, 0), t(2, 1, 2, 1)]);
    assert!(p.iter().any(|p| p.contains("parent 1 ends at 1")), "{p:?}");
    // a label outside its frames, a track missing from a frame, an unknown parent
    let p = ctc::validate(&masks, &[t(1, 0, 0, 0), t(2, 2, 2, 7)]);
    assert!(
        p.iter().any(|p| p.contains("frame 1: label 2 outside")),
        "{p:?}"
    );
    assert!(
        p.iter().any(|p| p.contains("parent 7 is not a track")),
        "{p:?}"
    );
    let p = ctc::validate(&masks, &[t(1, 0, 1, 0), t(2, 1, 2, 0)]);
    assert!(
        p.iter().any(|p| p.contains("frame 1: track 1 missing")),
        "{p:?}"
    );
    // res_track.txt round trip
    let tracks = [t(1, 0, 0, 0), t(2, 1, 2, 1)];
    assert_eq!(
        ctc::parse_res_track(&ctc::res_track_text(&tracks)).unwrap(),
        tracks
    );
}
