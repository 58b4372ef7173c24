//! The linker on small synthetic sequences: exact tracks and lineage, and CTC validity.

mod common;

use common::{frame, links_gt, links_of, synth, track, validate};
use samcell_track::{Division, Track, TrackConfig, TrackError, Tracker};

fn tr(id: u32, start: usize, end: usize, parent: u32) -> Track {
    Track {
        id,
        start,
        end,
        parent,
    }
}

#[test]
fn a_single_frame_gives_one_track_per_cell_numbered_by_position() {
    // labels 7 (lower) and 3 (upper): numbered by raster order, not by value
    let f = frame(20, 20, &[(7, 2, 12, 8, 18), (3, 10, 2, 16, 8)]);
    let t = track(std::slice::from_ref(&f), TrackConfig::default());
    assert_eq!(t.tracks, vec![tr(1, 0, 0, 0), tr(2, 0, 0, 0)]);
    assert_eq!(t.cells(0).collect::<Vec<_>>(), vec![(3, 1), (7, 2)]);
    assert!(validate(&[f], &t).is_empty());
}

#[test]
fn an_empty_frame_is_a_gap_closed_with_a_new_track_whose_parent_is_the_old_one() {
    let cell = frame(30, 30, &[(5, 10, 10, 18, 18)]);
    let empty = frame(30, 30, &[]);
    let frames = [cell.clone(), empty.clone(), cell.clone(), cell];
    let t = track(&frames, TrackConfig::default());
    assert_eq!(t.tracks, vec![tr(1, 0, 0, 0), tr(2, 2, 3, 1)]);
    assert!(t.divisions.is_empty());
    assert!(
        validate(&frames, &t).is_empty(),
        "{:?}",
        validate(&frames, &t)
    );
    // with gap closing off, the cell after the gap is a new cell
    let no_gaps = TrackConfig {
        max_gap: 0,
        ..TrackConfig::default()
    };
    assert_eq!(
        track(&frames, no_gaps).tracks,
        vec![tr(1, 0, 0, 0), tr(2, 2, 3, 0)]
    );
    // a sequence of empty frames has no tracks and is valid
    let t = track(&[empty.clone(), empty.clone()], TrackConfig::default());
    assert!(t.tracks.is_empty());
    assert!(validate(&[empty.clone(), empty], &t).is_empty());
}

#[test]
fn a_cell_that_leaves_at_the_border_and_comes_back_is_a_new_track_without_parent() {
    let w = 40;
    let at = |x0: usize, x1: usize| frame(w, 20, &[(1, x0, 8, x1, 14)]);
    // moves right 3 px per frame, leaves at the right edge, is gone two frames, comes back
    let frames = [
        at(30, 36),
        at(33, 39),
        at(36, 40),
        frame(w, 20, &[]),
        frame(w, 20, &[]),
        at(36, 40),
        at(33, 39),
    ];
    let t = track(&frames, TrackConfig::default());
    assert_eq!(t.tracks, vec![tr(1, 0, 2, 0), tr(2, 5, 6, 0)]);
    assert!(t.ended_at_border(1));
    assert!(validate(&frames, &t).is_empty());
    // the same gap away from the border is closed
    let inner = |x0: usize, x1: usize| frame(w, 20, &[(1, x0, 8, x1, 14)]);
    let frames = [
        inner(10, 16),
        inner(12, 18),
        frame(w, 20, &[]),
        frame(w, 20, &[]),
        inner(18, 24),
    ];
    let t = track(&frames, TrackConfig::default());
    assert_eq!(t.tracks, vec![tr(1, 0, 1, 0), tr(2, 4, 4, 1)]);
}

#[test]
fn a_division_ends_the_parent_and_starts_two_daughters() {
    // a rod 16 px long splits into two 8 px halves, which then drift apart
    let frames = [
        frame(40, 30, &[(9, 10, 10, 26, 16)]),
        frame(40, 30, &[(9, 10, 10, 26, 16)]),
        frame(40, 30, &[(4, 10, 10, 18, 16), (6, 18, 10, 26, 16)]),
        frame(40, 30, &[(4, 9, 10, 17, 16), (6, 19, 10, 27, 16)]),
    ];
    let t = track(&frames, TrackConfig::default());
    assert_eq!(
        t.tracks,
        vec![tr(1, 0, 1, 0), tr(2, 2, 3, 1), tr(3, 2, 3, 1)]
    );
    assert_eq!(
        t.divisions,
        vec![Division {
            frame: 2,
            parent: 1,
            daughters: [2, 3]
        }]
    );
    assert_eq!(t.generations(), vec![0, 1, 1]);
    assert!(validate(&frames, &t).is_empty());
}

#[test]
fn frames_of_different_sizes_are_an_error_naming_the_frame() {
    let mut tracker = Tracker::new(TrackConfig::default());
    tracker.push(&frame(20, 20, &[])).unwrap();
    tracker.push(&frame(20, 20, &[])).unwrap();
    let e = tracker.push(&frame(20, 21, &[])).unwrap_err();
    assert!(matches!(e, TrackError::FrameSize { frame: 2, .. }));
    assert_eq!(
        e.to_string(),
        "frame 2 is 20x21 but frame 0 is 20x20; all frames must have one size"
    );
    assert_eq!(tracker.frames(), 2);
}

#[test]
fn ids_of_the_input_do_not_change_the_tracks() {
    let a = [
        frame(30, 30, &[(1, 2, 2, 10, 10), (2, 12, 2, 20, 10)]),
        frame(30, 30, &[(1, 3, 2, 11, 10), (2, 13, 2, 21, 10)]),
    ];
    let b = [
        frame(30, 30, &[(50, 2, 2, 10, 10), (40, 12, 2, 20, 10)]),
        frame(30, 30, &[(7, 3, 2, 11, 10), (900, 13, 2, 21, 10)]),
    ];
    let (ta, tb) = (
        track(&a, TrackConfig::default()),
        track(&b, TrackConfig::default()),
    );
    assert_eq!(ta.tracks, tb.tracks);
    for t in 0..2 {
        let ka: Vec<u32> = ta.cells(t).map(|c| c.1).collect();
        let kb: Vec<u32> = tb.cells(t).map(|c| c.1).collect();
        assert_eq!(ka, kb);
    }
}

/// Missed and extra frame-to-frame links of `config` on `frames` against ground truth.
fn link_errors(
    frames: &[samcell_imaging::Labels],
    gt: &[(u32, usize, usize, u32)],
    config: TrackConfig,
) -> (usize, usize, usize) {
    let want = links_gt(frames, gt);
    let t = track(frames, config);
    assert!(validate(frames, &t).is_empty());
    let got = links_of(frames, &t);
    (
        want.difference(&got).count(),
        got.difference(&want).count(),
        want.len(),
    )
}

/// A dense colony of touching cells whose edge moves about a cell diameter per frame, and
/// which divide every 6 frames: nearly every link and division is found with the default
/// settings, while overlap of the cells where they lie (no motion prediction, no drift
/// refinement) misses many at the edge.
#[test]
fn a_dense_expanding_colony_is_tracked() {
    let (frames, gt) = synth::colony(&synth::Colony {
        width: 256,
        height: 256,
        frames: 10,
        start_cells: 100,
        radius: 6.0,
        growth: 0.08,
        jitter: 1.0,
        period: 6,
        seed: 7,
    });
    let divisions = gt.iter().filter(|g| g.3 > 0).count() / 2;
    assert!(
        frames[9]
            .data()
            .iter()
            .collect::<std::collections::HashSet<_>>()
            .len()
            > 300
    );
    assert!(divisions > 150, "{divisions} divisions");
    let (missed, extra, n) = link_errors(&frames, &gt, TrackConfig::default());
    assert!(
        missed + extra <= n / 200,
        "{missed} missed and {extra} extra of {n} links"
    );
    let plain = TrackConfig {
        predict_motion: false,
        drift_passes: 0,
        ..TrackConfig::default()
    };
    let (missed, extra, _) = link_errors(&frames, &gt, plain);
    assert!(
        missed + extra > n / 10,
        "plain overlap: only {missed} missed and {extra} extra of {n} links"
    );
}
