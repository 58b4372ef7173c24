//! `samcell track --labels`: the result folder (a valid Cell Tracking Challenge result, the
//! tables, the growth curve) from generated label images, a clear error for a frame of another
//! size, and, on the shared bacteria time-lapse, the scores of the ground truth's masks with
//! their ids scrambled in every frame (checked with samcell-measure's py-ctcmetrics-exact
//! tracking evaluation).

mod common;

use common::{run, samcell, write_lite_model, write_test_png, LITE_FILL, LITE_PEAK};
use samcell_imaging::Labels;
use samcell_measure::eval::tracking::{evaluate_tracking_dirs, validate_result_dir};
use std::path::Path;

/// A `w` x `h` label image with rectangles `(label, x0, y0, x1, y1)` (x1, y1 excluded).
fn frame(w: usize, h: usize, cells: &[(u32, usize, usize, usize, usize)]) -> Labels {
    let mut v = vec![0u32; w * h];
    for &(l, x0, y0, x1, y1) in cells {
        for y in y0..y1 {
            v[y * w + x0..y * w + x1].fill(l);
        }
    }
    Labels::from_vec(w, h, v).unwrap()
}

fn write_frames(dir: &Path, frames: &[Labels]) {
    std::fs::create_dir_all(dir).unwrap();
    for (t, f) in frames.iter().enumerate() {
        // names sort naturally (t2 before t10), not as text
        samcell_io::write_labels_tiff(&dir.join(format!("t{t}.tif")), f).unwrap();
    }
}

#[test]
fn labels_give_a_valid_result_lineage_and_growth_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let (labels, out) = (tmp.path().join("labels"), tmp.path().join("out"));
    // a rod that divides at frame 2, and a second cell; 11 frames so that t10 sorts last
    let mut frames = vec![frame(60, 40, &[(9, 10, 10, 26, 16), (5, 40, 25, 48, 33)]); 2];
    for t in 2..11 {
        let d = t - 2;
        frames.push(frame(
            60,
            40,
            &[
                (4, 10 - d.min(1), 10, 18 - d.min(1), 16),
                (6, 18 + d.min(1), 10, 26 + d.min(1), 16),
                (5, 40, 25, 48, 33),
            ],
        ));
    }
    write_frames(&labels, &frames);
    let (code, _, err) = run(samcell()
        .args(["track", "--labels"])
        .arg(&labels)
        .arg("--output")
        .arg(&out)
        .args(["--frame-interval", "30min"]));
    assert_eq!(code, 0, "{err}");
    let v = validate_result_dir(&out).unwrap();
    assert!(v.valid, "{:?}", v.problems);
    let res = std::fs::read_to_string(out.join("res_track.txt")).unwrap();
    assert_eq!(res, "1 0 1 0\n2 0 10 0\n3 2 10 1\n4 2 10 1\n");
    let tracks = std::fs::read_to_string(out.join("tracks.csv")).unwrap();
    let mut lines = tracks.lines();
    assert!(lines
        .next()
        .unwrap()
        .starts_with("frame,time_min,track_id,parent,Area_px2,Perimeter_px,"));
    assert!(lines.next().unwrap().starts_with("0,0,1,0,96,"));
    assert_eq!(tracks.lines().count(), 1 + 2 * 2 + 3 * 9);
    assert!(
        tracks.lines().any(|l| l.starts_with("2,60,3,1,48,")),
        "{tracks}"
    );
    let lineage = std::fs::read_to_string(out.join("lineage.csv")).unwrap();
    assert_eq!(
        lineage,
        "track_id,parent,first_frame,last_frame,frames,daughters,generation,fate\n\
         1,0,0,1,2,3;4,0,divided\n2,0,0,10,11,,0,end\n3,1,2,10,9,,1,end\n4,1,2,10,9,,1,end\n"
    );
    let growth = std::fs::read_to_string(out.join("growth.csv")).unwrap();
    assert_eq!(
        growth.lines().next().unwrap(),
        "frame,time_min,count,confluency,mean_area_px2,divisions"
    );
    assert_eq!(
        growth.lines().nth(3).unwrap(),
        "2,60,3,0.06666666666666667,53.333333333333336,1"
    );
    let png = std::fs::read(out.join("growth.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    let summary = std::fs::read_to_string(out.join("summary.txt")).unwrap();
    assert!(
        summary.contains("divisions: 1\n") && summary.contains("30 min per frame"),
        "{summary}"
    );
    // no grey frames: no overlays
    assert!(!out.join("overlays").exists());
}

#[test]
fn grey_frames_give_overlays_whose_colours_follow_the_tracks() {
    let tmp = tempfile::tempdir().unwrap();
    let (labels, grey, out) = (
        tmp.path().join("labels"),
        tmp.path().join("grey"),
        tmp.path().join("out"),
    );
    // the cell moves 2 px per frame; its colour stays
    let frames: Vec<Labels> = (0..3)
        .map(|t| frame(40, 30, &[(t as u32 + 1, 10 + 2 * t, 10, 20 + 2 * t, 20)]))
        .collect();
    write_frames(&labels, &frames);
    std::fs::create_dir_all(&grey).unwrap();
    for t in 0..3 {
        image::GrayImage::from_pixel(40, 30, image::Luma([100]))
            .save(grey.join(format!("t{t}.png")))
            .unwrap();
    }
    let (code, _, err) = run(samcell()
        .arg("track")
        .arg(&grey)
        .arg("--labels")
        .arg(&labels)
        .arg("--output")
        .arg(&out));
    assert_eq!(code, 0, "{err}");
    let colour = |t: usize| {
        let img = image::open(out.join(format!("overlays/frame{t:03}.png")))
            .unwrap()
            .into_rgb8();
        *img.get_pixel(15 + 2 * t as u32, 15)
    };
    assert_ne!(colour(0), image::Rgb([100, 100, 100]));
    assert_eq!(colour(0), colour(1));
    assert_eq!(colour(1), colour(2));
    // time in frames without an interval
    let growth = std::fs::read_to_string(out.join("growth.csv")).unwrap();
    assert!(growth.starts_with("frame,time_frames,"));
}

#[test]
fn a_frame_of_another_size_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let labels = tmp.path().join("labels");
    write_frames(
        &labels,
        &[frame(20, 20, &[]), frame(20, 20, &[]), frame(21, 20, &[])],
    );
    let (code, _, err) = run(samcell()
        .args(["track", "--labels"])
        .arg(&labels)
        .arg("--output")
        .arg(tmp.path().join("out")));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("t2.tif: frame 2 is 21x20 but frame 0 is 20x20"),
        "{err}"
    );
}

/// Segmentation mode: each frame of a folder is segmented with the model options of `samcell
/// segment` (an untrained samcell-lite model here), the masks are kept, and the result is valid
/// with overlays on the grey frames.
#[test]
fn frames_are_segmented_with_the_model_then_linked() {
    let tmp = tempfile::tempdir().unwrap();
    let (frames, out) = (tmp.path().join("frames"), tmp.path().join("out"));
    std::fs::create_dir_all(&frames).unwrap();
    for t in 0..3 {
        write_test_png(&frames.join(format!("t{t}.png")), 64, 5);
    }
    let model = write_lite_model(tmp.path());
    let (code, _, err) = run(samcell()
        .arg("track")
        .arg(&frames)
        .arg("--model")
        .arg(format!("lite:{}", model.display()))
        .args([
            "--peak",
            LITE_PEAK,
            "--fill",
            LITE_FILL,
            "--threads",
            "2",
            "--output",
        ])
        .arg(&out));
    assert_eq!(code, 0, "{err}");
    for t in 0..3 {
        assert!(out
            .join(format!("segmentation/frame{t:03}_masks.tif"))
            .is_file());
        assert!(out.join(format!("overlays/frame{t:03}.png")).is_file());
    }
    let v = validate_result_dir(&out).unwrap();
    assert!(v.valid, "{:?}", v.problems);
    // the same image three times: every cell is one track through all frames
    let res = std::fs::read_to_string(out.join("res_track.txt")).unwrap();
    assert!(!res.is_empty());
    assert!(res.lines().all(|l| l.ends_with(" 0 2 0")), "{res}");
    // intensity columns come with the grey frames
    let tracks = std::fs::read_to_string(out.join("tracks.csv")).unwrap();
    assert!(tracks.lines().next().unwrap().contains("MeanIntensity"));
}

/// The shared sequence's ground-truth masks with their ids scrambled in every frame (so the
/// ground truth's own numbering is no help) are linked back: TRA >= 0.995, LNK >= 0.97.
#[test]
fn scrambled_ground_truth_of_the_bacteria_timelapse_is_linked_back() {
    let Some(set) = samcell_testdata::require_data("bacteria-timelapse") else {
        return;
    };
    let gt = set.join("01_GT");
    let tmp = tempfile::tempdir().unwrap();
    let (labels, out) = (tmp.path().join("labels"), tmp.path().join("res"));
    std::fs::create_dir_all(&labels).unwrap();
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    for t in 0..40 {
        let m =
            samcell_io::labels::read_labels(&gt.join(format!("TRA/man_track{t:03}.tif"))).unwrap();
        // a fresh random id for every label of the frame
        let mut ids: Vec<u32> = m.data().iter().copied().filter(|&l| l > 0).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut fresh: Vec<u32> = (1..=60_000).collect();
        for i in (1..fresh.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            fresh.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let map: std::collections::HashMap<u32, u32> = ids.iter().copied().zip(fresh).collect();
        let data = m
            .data()
            .iter()
            .map(|l| if *l == 0 { 0 } else { map[l] })
            .collect();
        let s = Labels::from_vec(m.width(), m.height(), data).unwrap();
        samcell_io::write_labels_tiff(&labels.join(format!("frame{t:03}.tif")), &s).unwrap();
    }
    let (code, _, err) = run(samcell()
        .args(["track", "--labels"])
        .arg(&labels)
        .arg("--output")
        .arg(&out));
    assert_eq!(code, 0, "{err}");
    let report = evaluate_tracking_dirs(&out, &gt).unwrap();
    assert!(report.validation.valid, "{:?}", report.validation.problems);
    let m = report.measures.unwrap();
    eprintln!(
        "TRA {:.4} LNK {:.4} divisions {:?} of {}",
        m.tra, m.lnk, m.divisions[0], m.gt_divisions
    );
    assert!(m.tra >= 0.995, "TRA {}", m.tra);
    assert!(m.lnk >= 0.97, "LNK {}", m.lnk);
}

/// A multi-page ImageJ TIFF whose description says `finterval=1800` (seconds, ImageJ's default
/// time unit): without --frame-interval the times are in minutes, 0, 30, 60; the option wins.
#[test]
fn the_frame_interval_comes_from_imagej_metadata() {
    use tiff::encoder::{colortype::Gray8, TiffEncoder};
    use tiff::tags::Tag;
    let tmp = tempfile::tempdir().unwrap();
    let stack = tmp.path().join("stack.tif");
    let png = tmp.path().join("frame.png");
    write_test_png(&png, 64, 5);
    let img = image::open(&png).unwrap().to_luma8();
    let mut enc = TiffEncoder::new(std::fs::File::create(&stack).unwrap()).unwrap();
    for _ in 0..3 {
        let mut page = enc.new_image::<Gray8>(64, 64).unwrap();
        page.encoder()
            .write_tag(
                Tag::ImageDescription,
                "ImageJ=1.54f\nimages=3\nframes=3\nfinterval=1800.0\n",
            )
            .unwrap();
        page.write_data(img.as_raw()).unwrap();
    }
    drop(enc);
    let model = write_lite_model(tmp.path());
    let track = |out: &Path, extra: &[&str]| {
        let (code, _, err) = run(samcell()
            .arg("track")
            .arg(&stack)
            .arg("--model")
            .arg(format!("lite:{}", model.display()))
            .args(["--peak", LITE_PEAK, "--fill", LITE_FILL, "--threads", "2"])
            .args(extra)
            .arg("--output")
            .arg(out));
        assert_eq!(code, 0, "{err}");
        let growth = std::fs::read_to_string(out.join("growth.csv")).unwrap();
        let times: Vec<String> = growth
            .lines()
            .skip(1)
            .map(|l| l.split(',').nth(1).unwrap().to_string())
            .collect();
        (growth.lines().next().unwrap().to_string(), times, err)
    };
    let (header, times, err) = track(&tmp.path().join("meta"), &[]);
    assert!(header.contains("time_min"), "{header}");
    assert_eq!(times, ["0", "30", "60"]);
    assert!(
        err.contains("frame interval 30 min from the file's metadata"),
        "{err}"
    );
    let (header, times, _) = track(&tmp.path().join("given"), &["--frame-interval", "10s"]);
    assert!(header.contains("time_s"), "{header}");
    assert_eq!(times, ["0", "10", "20"]);
}

/// With the default `lite`, one model segments the whole time-lapse: a phase-contrast frame
/// (a corner of a Usiigaci image, which the cell model keeps) between two fluorescence-like
/// frames (which go to the nuclei model) is segmented again with the nuclei model, and the log
/// says so. Skipped, with a line saying so, in builds without both built-in models and without
/// the Usiigaci images.
#[test]
fn the_default_model_segments_a_time_lapse_with_one_model() {
    if !common::builtin_pair_present() {
        return;
    }
    if !common::have(&[], &[common::USIIGACI]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (frames, out) = (tmp.path().join("frames"), tmp.path().join("out"));
    std::fs::create_dir_all(&frames).unwrap();
    let src = common::data().join("usiigaci-phc/train/images/set1.tif");
    let grey = samcell_io::read_gray(&src, &samcell_io::ReadOptions::default()).unwrap();
    let side = 256usize;
    let corner = image::GrayImage::from_fn(side as u32, side as u32, |x, y| {
        image::Luma([grey.data()[y as usize * grey.width() + x as usize]])
    });
    corner.save(frames.join("t1.png")).unwrap();
    let centres = [(60.0, 60.0), (150.0, 80.0), (90.0, 170.0), (200.0, 200.0)];
    let nuclei = image::GrayImage::from_fn(side as u32, side as u32, |x, y| {
        let v = centres.iter().fold(8.0f64, |acc, &(cx, cy)| {
            let d2 = (f64::from(x) - cx).powi(2) + (f64::from(y) - cy).powi(2);
            acc + 220.0 * (-d2 / (2.0 * 9.0f64.powi(2))).exp()
        });
        image::Luma([v.min(250.0) as u8 + ((x * 7 + y * 13) % 5) as u8])
    });
    nuclei.save(frames.join("t0.png")).unwrap();
    nuclei.save(frames.join("t2.png")).unwrap();
    let mut c = samcell();
    c.env_remove("SAMCELL_LITE_WEIGHTS");
    let (code, _, err) = run(c
        .arg("track")
        .arg(&frames)
        .args(["--threads", "2", "--output"])
        .arg(&out));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(
            "2 of 3 frames look unlike phase-contrast cells: segmenting the other 1 again with \
             samcell-lite-nuclei (built-in), so that one model segments the whole time-lapse"
        ),
        "{err}"
    );
    assert!(err.contains("t1.png: "), "{err}");
    let v = validate_result_dir(&out).unwrap();
    assert!(v.valid, "{:?}", v.problems);
}

/// Nuclei a few pixels across: `samcell track` with the built-in nuclei model says once for the
/// time-lapse that they measure under the size it segments well and suggests `--scale 2`;
/// with `--scale 2` nothing is suggested and the masks keep the frames' size. Skipped in
/// builds without the built-in models.
#[test]
fn small_nuclei_get_the_scale_advice_once_and_scale_applies() {
    if !common::builtin_pair_present() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let frames = tmp.path().join("frames");
    std::fs::create_dir_all(&frames).unwrap();
    // bright blurred dots about 6 px across, 14 px apart, on a dark background
    let img = image::GrayImage::from_fn(200, 160, |x, y| {
        let (dx, dy) = (f64::from(x % 14) - 7.0, f64::from(y % 14) - 7.0);
        let v = 10.0 + 220.0 * (-(dx * dx + dy * dy) / (2.0 * 2.5f64.powi(2))).exp();
        image::Luma([v as u8])
    });
    for t in 0..3 {
        img.save(frames.join(format!("t{t}.png"))).unwrap();
    }
    let track = |out: &Path, extra: &[&str]| {
        let (code, _, err) = run(samcell()
            .arg("track")
            .arg(&frames)
            .args(["--model", "lite-nuclei", "--threads", "2"])
            .args(extra)
            .arg("--output")
            .arg(out));
        assert_eq!(code, 0, "{err}");
        err
    };
    let err = track(&tmp.path().join("plain"), &[]);
    let advice = "try --scale 2";
    assert_eq!(err.matches(advice).count(), 1, "said once:\n{err}");
    assert!(
        err.contains("3 of 3 frames: the objects measure about"),
        "{err}"
    );
    let out = tmp.path().join("scaled");
    let err = track(&out, &["--scale", "2"]);
    assert!(!err.contains(advice), "{err}");
    let labels = samcell_data::read_labels(&out.join("segmentation/frame000_masks.tif")).unwrap();
    assert_eq!(labels.shape_hw(), (160, 200), "the frames' size");
    let v = validate_result_dir(&out).unwrap();
    assert!(v.valid, "{:?}", v.problems);
    let (code, _, err) = run(samcell()
        .arg("track")
        .arg(&frames)
        .args(["--scale", "9", "--output"])
        .arg(tmp.path().join("bad")));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--scale"), "{err}");
}
