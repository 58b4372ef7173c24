//! Writers: TIFF round trips through the `tiff` crate (tags a baseline reader needs included),
//! overlay pixels, atomicity.
//!
//! With `SAMCELL_IO_KEEP=DIR` the written TIFFs are also copied to DIR with a `.npy` of the same
//! stem, for `reference/gen_io_fixtures.py --check-written DIR` (tifffile reads them back).

mod common;

use samcell_imaging::{GrayU8, Labels, MapF32};
use samcell_io::write::{
    label_color, label_tiff_bits, overlay_rgb, write_atomic, write_f32_tiff, write_labels_tiff,
    write_overlay_png,
};
use samcell_io::IoError;
use std::io::Cursor;
use std::path::Path;
use tiff::decoder::{Decoder, DecodingResult};
use tiff::tags::Tag;

fn keep<T: npyz::AutoSerialize + Copy>(written: &Path, stem: &str, h: usize, w: usize, data: &[T]) {
    if let Ok(dir) = std::env::var("SAMCELL_IO_KEEP") {
        let dir = Path::new(&dir);
        std::fs::create_dir_all(dir).unwrap();
        std::fs::copy(written, dir.join(format!("{stem}.tif"))).unwrap();
        common::save_npy(&dir.join(format!("{stem}.npy")), h, w, data);
    }
}

/// Decodes `path` and checks the baseline tags; returns the pixels.
fn decode(path: &Path, bits: u16, sample_format: u16) -> DecodingResult {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..4], b"II*\0", "little-endian classic TIFF");
    let mut d = Decoder::new(Cursor::new(bytes)).unwrap();
    let tag = |d: &mut Decoder<Cursor<Vec<u8>>>, t: Tag| {
        d.get_tag_unsigned::<u32>(t)
            .unwrap_or_else(|e| panic!("{t:?}: {e}"))
    };
    assert_eq!(tag(&mut d, Tag::BitsPerSample), u32::from(bits));
    assert_eq!(
        tag(&mut d, Tag::SampleFormat),
        u32::from(sample_format),
        "SampleFormat"
    );
    assert_eq!(tag(&mut d, Tag::SamplesPerPixel), 1);
    assert_eq!(
        tag(&mut d, Tag::PhotometricInterpretation),
        1,
        "BlackIsZero"
    );
    assert_eq!(tag(&mut d, Tag::Compression), 8, "Adobe Deflate");
    assert!(tag(&mut d, Tag::RowsPerStrip) >= 1);
    assert!(!d.more_images(), "one page");
    d.read_image().unwrap()
}

fn labels_with(w: usize, h: usize, f: impl Fn(usize, usize) -> u32) -> Labels {
    let data = (0..h)
        .flat_map(|y| (0..w).map(move |x| (x, y)))
        .map(|(x, y)| f(x, y))
        .collect();
    Labels::from_vec(w, h, data).unwrap()
}

#[test]
fn labels_u16_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m_masks.tif");
    // blocks of labels up to exactly 65535, background 0
    let lab = labels_with(67, 45, |x, y| match (x, y) {
        (66, 44) => 65535,
        _ if (x + y) % 5 == 0 => 0,
        _ => ((x / 4 + 17 * (y / 3)) as u32 * 257) % 65535,
    });
    assert_eq!(*lab.data().iter().max().unwrap(), 65535);
    assert_eq!(label_tiff_bits(&lab), 16);
    write_labels_tiff(&p, &lab).unwrap();
    let DecodingResult::U16(v) = decode(&p, 16, 1) else {
        panic!("expected u16 samples")
    };
    assert_eq!(
        v.iter().map(|&x| u32::from(x)).collect::<Vec<_>>(),
        lab.data()
    );
    let v16: Vec<u16> = lab.data().iter().map(|&x| x as u16).collect();
    keep(&p, "labels_u16", 45, 67, &v16);
}

#[test]
fn labels_u32_round_trip_over_65535_labels() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("many_masks.tif");
    let (w, h) = (300, 250); // 75000 one-pixel labels, the largest 75000
    let lab = labels_with(w, h, |x, y| (y * w + x + 1) as u32);
    assert_eq!(label_tiff_bits(&lab), 32);
    write_labels_tiff(&p, &lab).unwrap();
    let DecodingResult::U32(v) = decode(&p, 32, 1) else {
        panic!("expected u32 samples")
    };
    assert_eq!(v, lab.data());
    keep(&p, "labels_u32", h, w, lab.data());
    // an all-background image is still a valid (u16) label image
    let zero = Labels::filled(9, 4, 0);
    write_labels_tiff(&p, &zero).unwrap();
    let DecodingResult::U16(v) = decode(&p, 16, 1) else {
        panic!("expected u16 samples")
    };
    assert_eq!(v, vec![0u16; 36]);
}

#[test]
fn labels_tiff_is_compressed() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("big.tif");
    let lab = labels_with(512, 512, |x, y| ((x / 32) + 16 * (y / 32)) as u32);
    write_labels_tiff(&p, &lab).unwrap();
    let size = std::fs::metadata(&p).unwrap().len();
    assert!(
        size < 512 * 512 * 2 / 20,
        "label TIFF of {size} bytes is not compressed (raw 524288)"
    );
}

#[test]
fn f32_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("d_distmap.tif");
    let data: Vec<f32> = (0..37 * 23)
        .map(|i| ((i as f32) * 0.37).sin() * 1.5e-3 + if i == 5 { -0.0 } else { 0.25 })
        .collect();
    let map = MapF32::from_vec(37, 23, data.clone()).unwrap();
    write_f32_tiff(&p, &map).unwrap();
    let DecodingResult::F32(v) = decode(&p, 32, 3) else {
        panic!("expected f32 samples")
    };
    assert_eq!(
        v.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
        data.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
        "bit-exact"
    );
    keep(&p, "distmap_f32", 23, 37, &data);
    // and through our own reader, the counterpart of write_f32_tiff
    let back = samcell_io::read_f32_tiff(&p).unwrap();
    assert_eq!((back.width(), back.height()), (37, 23));
    assert_eq!(
        back.data().iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
        data.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
        "read_f32_tiff: bit-exact"
    );
}

#[test]
fn read_f32_tiff_rejects_integer_tiffs_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("labels_not_a_map.tif");
    write_labels_tiff(&p, &labels_with(4, 3, |x, y| (x + y) as u32)).unwrap();
    let err = samcell_io::read_f32_tiff(&p).unwrap_err().to_string();
    assert!(
        err.contains("labels_not_a_map.tif") && err.contains("32-bit float"),
        "{err}"
    );
    let missing = dir.path().join("missing.tif");
    let err = samcell_io::read_f32_tiff(&missing).unwrap_err().to_string();
    assert!(err.contains("missing.tif"), "{err}");
}

#[test]
fn written_tiffs_read_back_with_read_gray() {
    // our own reader sees a u16 label TIFF as wide data (min-max scaled)
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("l.tif");
    let lab = labels_with(4, 1, |x, _| [0, 1, 2, 3][x]);
    write_labels_tiff(&p, &lab).unwrap();
    let img = samcell_io::read_gray(&p, &Default::default()).unwrap();
    assert_eq!(img.data(), &[0, 85, 170, 255]);
}

fn grey_ramp(w: usize, h: usize) -> GrayU8 {
    GrayU8::from_vec(w, h, (0..w * h).map(|i| (i * 13 % 251) as u8).collect()).unwrap()
}

#[test]
fn overlay_background_is_grey_and_labels_blend() {
    let (w, h) = (20, 10);
    let img = grey_ramp(w, h);
    let lab = labels_with(w, h, |x, y| {
        if (4..12).contains(&x) && (2..8).contains(&y) {
            7
        } else {
            0
        }
    });
    let rgb = overlay_rgb(&img, &lab, false).unwrap();
    let c = label_color(7);
    for i in 0..w * h {
        let g = img.data()[i];
        let px = &rgb[3 * i..3 * i + 3];
        if lab.data()[i] == 0 {
            assert_eq!(px, [g, g, g], "background pixel {i} must be the grey value");
        } else {
            let want: Vec<u8> = c
                .iter()
                .map(|&c| (u16::from(g) + u16::from(c)).div_ceil(2) as u8)
                .collect();
            assert_eq!(
                px,
                &want[..],
                "label pixel {i}: 50% blend of grey {g} and colour {c:?}"
            );
        }
    }
}

#[test]
fn overlay_outlines_use_full_colour() {
    let (w, h) = (12, 9);
    let img = grey_ramp(w, h);
    // label 3 in x 2..10, y 1..8; label 4 touching it on the right half of rows 4..6
    let lab = labels_with(w, h, |x, y| match (x, y) {
        (6..=9, 4..=5) => 4,
        (2..=9, 1..=7) => 3,
        _ => 0,
    });
    let rgb = overlay_rgb(&img, &lab, true).unwrap();
    let at = |x: usize, y: usize| {
        [
            rgb[3 * (y * w + x)],
            rgb[3 * (y * w + x) + 1],
            rgb[3 * (y * w + x) + 2],
        ]
    };
    assert_eq!(
        at(2, 4),
        label_color(3),
        "left edge of label 3 (next to background)"
    );
    assert_eq!(at(5, 4), label_color(3), "label 3 next to label 4");
    assert_eq!(at(6, 4), label_color(4), "label 4 next to label 3");
    assert_eq!(
        at(9, 5),
        label_color(4),
        "label 4 at the right edge of the region"
    );
    let g = img.get(4, 3);
    let c = label_color(3);
    let blended = [0, 1, 2].map(|k| (u16::from(g) + u16::from(c[k])).div_ceil(2) as u8);
    assert_eq!(
        at(4, 3),
        blended,
        "interior pixel of label 3 is blended, not outlined"
    );
    assert_eq!(
        at(0, 0),
        [img.get(0, 0); 3],
        "background unchanged with outlines"
    );
    // labels touching the image border are not outlined there
    let full = Labels::filled(w, h, 5);
    let rgb = overlay_rgb(&img, &full, true).unwrap();
    assert_eq!(rgb, overlay_rgb(&img, &full, false).unwrap());
}

const PINNED: [[u8; 3]; 4] = [
    [99, 173, 222],
    [47, 126, 221],
    [233, 192, 104],
    [246, 93, 48],
];

#[test]
fn label_colours_are_fixed_distinct_and_vivid() {
    // pinned values: the colour of a cell id must not change between runs or versions
    assert_eq!(
        [
            label_color(1),
            label_color(2),
            label_color(3),
            label_color(65536)
        ],
        PINNED
    );
    // distinct colours for 2000 ids, hues spread over all six sextants of the colour wheel
    let cols: Vec<[u8; 3]> = (1..=2000).map(label_color).collect();
    let mut uniq = cols.clone();
    uniq.sort();
    uniq.dedup();
    assert!(
        uniq.len() > 1990,
        "only {} distinct colours for 2000 ids",
        uniq.len()
    );
    let mut sectors = [0usize; 6];
    for c in &cols {
        let [r, g, b] = c.map(f64::from);
        let (mx, mn) = (r.max(g).max(b), r.min(g).min(b));
        assert!(
            mx >= 200.0 && mx - mn >= 80.0,
            "colour {c:?} is too dark or too grey"
        );
        let hue = if mx == r {
            ((g - b) / (mx - mn)).rem_euclid(6.0)
        } else if mx == g {
            (b - r) / (mx - mn) + 2.0
        } else {
            (r - g) / (mx - mn) + 4.0
        };
        sectors[(hue.floor() as usize).min(5)] += 1;
    }
    for s in sectors {
        assert!(s > 200, "hue sectors unevenly used: {sectors:?}");
    }
}

#[test]
fn touching_labels_get_distinct_colours_and_overlay_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let (w, h) = (64, 48);
    let img = grey_ramp(w, h);
    // a 16 x 12 grid of touching 4x4 cells, ids 1..=192
    let lab = labels_with(w, h, |x, y| (1 + x / 4 + 16 * (y / 4)) as u32);
    for y in 0..h {
        for x in 0..w {
            let l = lab.get(x, y);
            for (nx, ny) in [(x + 1, y), (x, y + 1)] {
                if nx < w && ny < h && lab.get(nx, ny) != l {
                    assert_ne!(
                        label_color(l),
                        label_color(lab.get(nx, ny)),
                        "labels {l} and {} touch",
                        lab.get(nx, ny)
                    );
                }
            }
        }
    }
    let (a, b) = (dir.path().join("a.png"), dir.path().join("b.png"));
    write_overlay_png(&a, &img, &lab, true).unwrap();
    write_overlay_png(&b, &img, &lab, true).unwrap();
    assert_eq!(
        std::fs::read(&a).unwrap(),
        std::fs::read(&b).unwrap(),
        "same input, same bytes"
    );
    // the file is an 8-bit RGB PNG holding exactly overlay_rgb
    let dec = image::ImageReader::open(&a)
        .unwrap()
        .with_guessed_format()
        .unwrap()
        .decode()
        .unwrap();
    assert_eq!(dec.color(), image::ColorType::Rgb8);
    assert_eq!(dec.into_bytes(), overlay_rgb(&img, &lab, true).unwrap());
}

#[test]
fn overlay_size_mismatch_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("o.png");
    let err = write_overlay_png(&p, &grey_ramp(5, 5), &Labels::filled(5, 4, 1), false).unwrap_err();
    assert!(
        matches!(&err, IoError::Write { path, .. } if path == &p),
        "{err:?}"
    );
    assert!(err.to_string().contains("5x4"), "{err}");
    assert!(!p.exists());
}

fn dir_entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn atomic_write_replaces_and_leaves_no_temporary_files() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("out.bin");
    write_atomic(&p, b"first").unwrap();
    write_atomic(&p, b"second version").unwrap();
    assert_eq!(std::fs::read(&p).unwrap(), b"second version");
    assert_eq!(dir_entries(dir.path()), vec!["out.bin".to_string()]);
    #[cfg(unix)]
    {
        // like a file created normally (0666 minus the umask), without write bits for others
        use std::os::unix::fs::PermissionsExt;
        let plain = dir.path().join("plain");
        std::fs::File::create(&plain).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(
            mode(&p),
            mode(&plain) & 0o644,
            "{:o} vs {:o}",
            mode(&p),
            mode(&plain)
        );
        std::fs::remove_file(&plain).unwrap();
    }
}

#[test]
fn failed_write_leaves_target_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("keep_masks.tif");
    std::fs::write(&p, b"old content").unwrap();
    // a zero-size label image cannot be encoded: the old file stays, no temporary file is left
    let err = write_labels_tiff(&p, &Labels::from_vec(0, 0, vec![]).unwrap()).unwrap_err();
    assert!(
        err.to_string().contains("keep_masks.tif") && err.to_string().contains("zero-size"),
        "{err}"
    );
    assert_eq!(std::fs::read(&p).unwrap(), b"old content");
    assert_eq!(dir_entries(dir.path()), vec!["keep_masks.tif".to_string()]);
    // a missing directory: error naming the path, nothing created
    let q = dir.path().join("no_such_dir").join("x.tif");
    let err = write_atomic(&q, b"x").unwrap_err();
    assert!(
        matches!(&err, IoError::Write { path, .. } if path == &q),
        "{err:?}"
    );
    assert!(!q.exists() && !dir.path().join("no_such_dir").exists());
    // a directory at the target path is not replaced
    let d = dir.path().join("adir");
    std::fs::create_dir(&d).unwrap();
    assert!(write_atomic(&d, b"x").is_err());
    assert!(d.is_dir());
    assert_eq!(
        dir_entries(dir.path()),
        vec!["adir".to_string(), "keep_masks.tif".to_string()]
    );
}
