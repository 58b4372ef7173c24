//! TIFF compressions, layouts, pyramids and ImageJ / OME stacks as tifffile writes them, against
//! reference/gen_tiff_layout_fixtures.py (fixtures in tests/fixtures-layouts; the manifests'
//! formats and the goldens' definitions are in the generator's docstring).
//!
//! One test per compression (ZSTD, LZW, Deflate, PackBits, JPEG) and per layout (tiles,
//! BigTIFF, big-endian, pyramids read at level 0, 16-bit and float variants, planar samples), the
//! `--channel` reads (a sample of the pixel, or a channel's page of a stack), the (c, z, t) <->
//! page mapping against tifffile's page order, and the refusals of unsupported compressions.

mod craft;

use samcell_io::read::{read_gray_with_info, ReadOptions};
use samcell_io::{
    read_layout, ChannelUse, DimensionOrder, FileLayout, IoError, PlaneIndex, StackSource,
};
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures-layouts")
        .join(name)
}

fn manifest(name: &str) -> Vec<Vec<String>> {
    std::fs::read_to_string(fixture(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

/// One line of layouts.txt.
#[derive(Debug)]
struct Case {
    input: String,
    pages: usize,
    page: usize,
    channel: Option<usize>,
    golden: String,
    max_abs: u8,
    max_pct: f64,
}

fn cases() -> Vec<Case> {
    manifest("layouts.txt")
        .into_iter()
        .map(|f| {
            assert_eq!(f.len(), 8, "bad line {f:?}");
            Case {
                input: f[0].clone(),
                pages: f[1].parse().expect("pages"),
                page: f[2].parse().expect("page"),
                channel: (f[3] != "-").then(|| f[3].parse().expect("channel")),
                golden: f[5].clone(),
                max_abs: f[6].parse().expect("max_abs"),
                max_pct: f[7].parse().expect("max_pct"),
            }
        })
        .collect()
}

/// Reads every case whose input `select` accepts and compares it with its golden within the
/// case's tolerance; returns how many were compared (so a test cannot pass on no case).
fn run(select: impl Fn(&str) -> bool) -> usize {
    let mut n = 0;
    for c in cases().iter().filter(|c| select(&c.input)) {
        let opts = ReadOptions {
            page: c.page,
            channel: c.channel,
            ..ReadOptions::default()
        };
        let (img, info) =
            read_gray_with_info(&fixture(&c.input), &opts).unwrap_or_else(|e| panic!("{c:?}: {e}"));
        let (h, w, want) = samcell_testdata::npy::read_2d(&fixture(&c.golden));
        assert_eq!((img.height(), img.width()), (h, w), "{c:?}");
        assert_eq!(info.pages, c.pages, "{c:?}: pages");
        let diffs: Vec<u8> = img
            .data()
            .iter()
            .zip(&want)
            .map(|(a, b)| a.abs_diff(*b))
            .collect();
        let ndiff = diffs.iter().filter(|&&d| d > 0).count();
        let maxd = diffs.iter().copied().max().unwrap_or(0);
        let pct = 100.0 * ndiff as f64 / diffs.len() as f64;
        eprintln!(
            "{:<36} page {} channel {:?}: {info}: {ndiff}/{} differ ({pct:.2}%), max {maxd}",
            c.input,
            c.page,
            c.channel,
            diffs.len()
        );
        assert!(
            maxd <= c.max_abs && pct <= c.max_pct,
            "{c:?}: {ndiff} pixels differ ({pct:.2}%), max |diff| {maxd}"
        );
        if let Some(ch) = c.channel {
            if info.channels > 1 {
                assert_eq!(info.channel_use, ChannelUse::Picked(ch), "{c:?}");
            }
        }
        n += 1;
    }
    n
}

#[test]
fn zstd_8_and_16_bit_with_and_without_predictor() {
    assert_eq!(run(|f| f.contains("zstd")), 13);
}

#[test]
fn lzw_8_and_16_bit() {
    assert_eq!(run(|f| f.contains("lzw")), 4);
}

#[test]
fn deflate_both_codes_8_and_16_bit() {
    // 8 (Adobe Deflate) and 32946 (old Deflate), and the floating-point predictor
    assert_eq!(run(|f| f.contains("deflate")), 5);
}

#[test]
fn packbits_8_and_16_bit() {
    assert_eq!(run(|f| f.contains("packbits")), 2);
}

#[test]
fn jpeg_grey_and_ycbcr_strips_tiles_and_subsampling() {
    // tolerance |diff| <= 2 on <= 8% of the pixels (measured: <= 1 on <= 1%): zune-jpeg's IDCT
    // against libjpeg-turbo's (see the generator); grey JPEG, YCbCr 4:2:0 in strips and tiles,
    // YCbCr 4:4:4 and its blue channel; the green channel of the 4:2:0 file, whose chroma
    // zune-jpeg upsamples otherwise, within |diff| <= 16 on <= 40%
    assert_eq!(run(|f| f.contains("jpeg") && !f.contains("jpeg2000")), 6);
}

#[test]
fn tiled_layouts() {
    // 16x16 tiles over 40x30: edge tiles cut; uncompressed, ZSTD, LZW in a BigTIFF
    assert_eq!(run(|f| f.contains("tiled") && !f.contains("jpeg")), 4);
}

#[test]
fn bigtiff_and_big_endian() {
    assert_eq!(run(|f| f.contains("bigtiff") || f.contains("bigendian")), 5);
}

#[test]
fn pyramids_read_level_0() {
    // SubIFD levels (tifffile subifds=, OME pyramid) are not pages; a reduced-resolution page in
    // the main chain (NewSubfileType 1) is skipped
    assert_eq!(run(|f| f.starts_with("pyramid")), 4);
    assert_eq!(
        samcell_io::page_count(&fixture("pyramid_chain_u8.tif")).unwrap(),
        1
    );
    let e = read_gray_with_info(
        &fixture("pyramid_chain_u8.tif"),
        &ReadOptions {
            page: 1,
            ..ReadOptions::default()
        },
    )
    .expect_err("the reduced page is not a page");
    assert!(e.to_string().contains("1 page(s)"), "{e}");
}

#[test]
fn page_pixels_are_those_of_the_pages_read() {
    // headers only, the same pages as page_count (pyramid levels and reduced pages left out)
    for f in [
        "pyramid_chain_u8.tif",
        "pyramid_subifds_u16.tif",
        "pyramid_ome_c2.ome.tif",
        "imagej_frames.tif",
        "grey_u16_bigtiff_tiled_lzw.tif",
    ] {
        let path = fixture(f);
        let pixels = samcell_io::page_pixels(&path).unwrap();
        assert_eq!(pixels.len(), samcell_io::page_count(&path).unwrap(), "{f}");
        for (page, &n) in pixels.iter().enumerate() {
            let opts = ReadOptions {
                page,
                ..ReadOptions::default()
            };
            let (_, info) = read_gray_with_info(&path, &opts).unwrap();
            assert_eq!(n, (info.width * info.height) as u64, "{f} page {page}");
        }
    }
}

#[test]
fn channel_picks_a_sample_of_the_pixels() {
    // RGB u8 (each channel as stored), RGB u16 planar (scaled), JPEG YCbCr (after RGB conversion)
    assert_eq!(
        run(|f| f.starts_with("rgb_") || f.starts_with("ome_rgb")),
        12
    );
    // a channel the pixels do not have
    let e = read_gray_with_info(
        &fixture("rgb_u8_zstd.tif"),
        &ReadOptions {
            channel: Some(3),
            ..ReadOptions::default()
        },
    )
    .expect_err("3 channels");
    let msg = e.to_string();
    assert!(
        msg.contains("rgb_u8_zstd.tif") && msg.contains("channel 3") && msg.contains("3 channels"),
        "{msg}"
    );
    // channel 0 of a grey image is the image; channel 1 is an error
    let grey = fixture("grey_u8_zstd.tif");
    let plain = read_gray_with_info(&grey, &ReadOptions::default())
        .unwrap()
        .0;
    let c0 = ReadOptions {
        channel: Some(0),
        ..ReadOptions::default()
    };
    assert_eq!(read_gray_with_info(&grey, &c0).unwrap().0, plain);
    let c1 = ReadOptions {
        channel: Some(1),
        ..ReadOptions::default()
    };
    let e = read_gray_with_info(&grey, &c1).expect_err("one channel");
    assert!(e.to_string().contains("1 channel"), "{e}");
}

#[test]
fn channel_of_a_stack_is_a_set_of_pages() {
    // ImageJ C, Z, T hyperstack: page 3 is c 1 z 1 t 0
    let p = fixture("imagej_tzc.tif");
    let read = |page, channel| {
        read_gray_with_info(
            &p,
            &ReadOptions {
                page,
                channel,
                ..ReadOptions::default()
            },
        )
    };
    let (img, info) = read(3, Some(1)).expect("page 3 is channel 1");
    assert_eq!(info.plane, Some(PlaneIndex { c: 1, z: 1, t: 0 }));
    assert_eq!(info.channel_use, ChannelUse::Single);
    assert_eq!(img.data()[0], 11);
    let e = read(3, Some(0)).expect_err("page 3 is not channel 0");
    let msg = e.to_string();
    assert!(
        msg.contains("imagej_tzc.tif")
            && msg.contains("page 3 is channel 1")
            && msg.contains("0, 2, 4, 6, 8, 10"),
        "{msg}"
    );
    let e = read(0, Some(2)).expect_err("2 channels");
    assert!(e.to_string().contains("2 channels"), "{e}");
    // the pages of a channel, in file order, are its Z slices and time points
    let layout = read_layout(&p).unwrap();
    assert_eq!(layout.channels(), 2);
    for (k, page) in layout.channel_pages(1).into_iter().enumerate() {
        let (img, info) = read(page, Some(1)).unwrap();
        let plane = info.plane.expect("plane");
        assert_eq!((plane.c, plane.z, plane.t), (1, k % 3, k / 3));
        assert_eq!(usize::from(img.data()[0]), 50 * plane.t + 10 * plane.z + 1);
    }
}

#[test]
fn stacks_declare_their_layout_and_page_order_like_tifffile() {
    let stacks = manifest("stacks.txt");
    assert_eq!(stacks.len(), 11);
    let pages = manifest("stack_pages.txt");
    let mut checked = 0;
    for s in &stacks {
        let name = &s[0];
        let layout: FileLayout =
            read_layout(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let n: usize = s[6].parse().unwrap();
        assert_eq!(layout.pages, n, "{name}");
        let dims = layout.stack.unwrap_or_else(|| panic!("{name}: no stack"));
        let source = match s[1].as_str() {
            "OME" => StackSource::Ome,
            _ => StackSource::ImageJ,
        };
        let want = (
            source,
            DimensionOrder::parse_ome(&s[2]).expect("order"),
            s[3].parse::<usize>().unwrap(),
            s[4].parse::<usize>().unwrap(),
            s[5].parse::<usize>().unwrap(),
        );
        assert_eq!(
            (
                dims.source,
                dims.order,
                dims.channels,
                dims.slices,
                dims.frames
            ),
            want,
            "{name}"
        );
        for line in pages.iter().filter(|l| &l[0] == name) {
            let v: Vec<usize> = line[1..].iter().map(|x| x.parse().unwrap()).collect();
            let (page, plane) = (
                v[0],
                PlaneIndex {
                    c: v[1],
                    z: v[2],
                    t: v[3],
                },
            );
            assert_eq!(layout.plane_of(page), Some(plane), "{name} page {page}");
            assert_eq!(
                dims.page_of(plane.c, plane.z, plane.t),
                Some(page),
                "{name}"
            );
            // the page read is that plane (first pixel 50 t + 10 z + c)
            let (img, info) = read_gray_with_info(
                &fixture(name),
                &ReadOptions {
                    page,
                    channel: (dims.channels > 1).then_some(plane.c),
                    ..ReadOptions::default()
                },
            )
            .unwrap_or_else(|e| panic!("{name} page {page}: {e}"));
            assert_eq!(info.plane, Some(plane), "{name} page {page}");
            assert_eq!(
                usize::from(img.data()[0]),
                50 * plane.t + 10 * plane.z + plane.c,
                "{name} page {page}"
            );
            checked += 1;
        }
    }
    // 6 OME orders and the ImageJ hyperstack (12 pages each), ImageJ frames (4) and channels (3)
    assert_eq!(checked, 7 * 12 + 4 + 3);
}

fn read_error(path: &std::path::Path) -> String {
    match read_gray_with_info(path, &ReadOptions::default()) {
        Ok((img, _)) => panic!(
            "{}: read as {}x{}",
            path.display(),
            img.width(),
            img.height()
        ),
        Err(e @ IoError::Read { .. }) => e.to_string(),
        Err(e) => panic!("{e:?}"),
    }
}

#[test]
fn unsupported_compressions_name_the_file_number_and_codec() {
    let names = [("34712", "JPEG 2000"), ("34925", "LZMA")];
    let lines = manifest("unsupported.txt");
    assert_eq!(lines.len(), names.len());
    for (line, (code, codec)) in lines.iter().zip(names) {
        assert_eq!(line[1], code);
        let p = fixture(&line[0]);
        let msg = read_error(&p);
        assert!(
            msg.starts_with(&p.display().to_string())
                && msg.contains(&format!(
                    "TIFF compression {code} ({codec}) is not supported"
                )),
            "{msg}"
        );
    }
    // old-style JPEG (6) and a number no one registered, in hand-made files
    let dir = tempfile::tempdir().unwrap();
    for (code, what) in [(6u32, "old-style JPEG"), (12345, "unknown")] {
        let mut tags = craft::page_tags(1, 8, 1, 1);
        tags.push((259, craft::SHORT, vec![code]));
        let p = dir.path().join(format!("t{code}.tif"));
        std::fs::write(&p, craft::tiff(4, 3, tags, &[7u8; 12])).unwrap();
        let msg = read_error(&p);
        assert!(
            msg.starts_with(&p.display().to_string())
                && msg.contains(&format!(
                    "TIFF compression {code} ({what}) is not supported"
                )),
            "{msg}"
        );
    }
}

#[test]
fn unreadable_planar_configuration_and_bit_depth_are_named() {
    let dir = tempfile::tempdir().unwrap();
    // PlanarConfiguration 3 does not exist
    let mut tags = craft::page_tags(1, 8, 1, 1);
    tags.push((284, craft::SHORT, vec![3]));
    let p = dir.path().join("planar3.tif");
    std::fs::write(&p, craft::tiff(4, 3, tags, &[7u8; 12])).unwrap();
    let msg = read_error(&p);
    assert!(
        msg.starts_with(&p.display().to_string()) && msg.contains("planar configuration 3"),
        "{msg}"
    );
    // 12-bit unsigned samples
    let p = dir.path().join("u12.tif");
    std::fs::write(
        &p,
        craft::tiff(4, 2, craft::page_tags(1, 12, 1, 1), &[7u8; 12]),
    )
    .unwrap();
    let msg = read_error(&p);
    assert!(
        msg.starts_with(&p.display().to_string()) && msg.contains("12-bit samples"),
        "{msg}"
    );
}
