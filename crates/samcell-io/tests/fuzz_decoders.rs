//! Property-based fuzzing of every image decoder: small valid PNG (grey, RGB, grey+alpha,
//! 16-bit), JPEG (grey, colour), TIFF (u8, u16 extra bands, f32, ImageJ stack) and BMP files,
//! built here, and tifffile's JPEG-in-TIFF (YCbCr tiles), ZSTD tiles, OME stack and SubIFD
//! pyramid fixtures (tests/fixtures-layouts), are mutated (bit flips, byte overwrites, truncation, insertions, header fields set
//! to extreme values, splices between files) and decoded by `decode_gray_with_info` (with and
//! without a channel), `decode_layout` and the label reader. Every outcome must be `Ok` or `Err`: a panic fails the test.
//!
//! CI runs 60,000 cases (a few seconds); `SAMCELL_FUZZ_CASES=200000 cargo test --release -p
//! samcell-io --test fuzz_decoders` runs a longer campaign. Decodes run under a 4-megapixel limit
//! so that a mutated header cannot make a case slow.

mod craft;

use craft::{ascii, page_tags, tiff, SHORT};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};
use samcell_io::{decode_gray_with_info, labels, ReadOptions, Scaling};
use samcell_testdata::mutate::{self, Mutation};

fn seeds() -> Vec<Vec<u8>> {
    let mut extra = page_tags(3, 16, 1, 1);
    extra.push((338, SHORT, vec![0, 2]));
    let u16_bands: Vec<u8> = (0..6 * 5 * 3)
        .flat_map(|i: u16| (i * 331).to_le_bytes())
        .collect();
    let f32_page: Vec<u8> = (0..7 * 3)
        .flat_map(|i| (i as f32 * 0.37 - 2.0).to_le_bytes())
        .collect();
    let mut imagej = page_tags(1, 8, 1, 1);
    imagej.push((
        270,
        craft::ASCII,
        ascii("ImageJ=1.54f\nimages=4\nchannels=2\nslices=2\n"),
    ));
    vec![
        craft::png(9, 7, 1),
        craft::png(9, 7, 3),
        craft::png(5, 6, 2),
        craft::png16(8, 5),
        craft::jpeg(16, 8, 1),
        craft::jpeg(17, 9, 3),
        tiff(8, 6, page_tags(1, 8, 1, 1), &craft::pixels(8, 6, 1)),
        tiff(6, 5, extra, &u16_bands),
        tiff(7, 3, page_tags(1, 32, 3, 1), &f32_page),
        tiff(4, 4, imagej, &craft::pixels(4, 4, 1)),
        tiff(5, 4, page_tags(3, 8, 1, 2), &craft::pixels(5, 4, 3)),
        craft::bmp(7, 5, 3),
        craft::bmp(6, 4, 4),
        layout_fixture("rgb_u8_jpeg_tiled.tif"),
        layout_fixture("grey_u16_tiled_zstd.tif"),
        layout_fixture("ome_zct.ome.tif"),
        layout_fixture("pyramid_subifds_u16.tif"),
    ]
}

fn layout_fixture(name: &str) -> Vec<u8> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures-layouts");
    std::fs::read(p.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let extreme = prop_oneof![
        Just(0u32),
        Just(1),
        Just(0xFF),
        Just(0xFFFF),
        Just(0x7FFF_FFFF),
        Just(0xFFFF_FFFF),
        any::<u32>()
    ];
    // 4 bytes set to an extreme value (sizes, offsets, counts in headers), either byte order;
    // header fields sit in the first ~200 bytes of these small files
    let field =
        (0usize..200, extreme, any::<bool>()).prop_map(|(at, value, big_endian)| Mutation::Field {
            at,
            bytes: if big_endian {
                value.to_be_bytes()
            } else {
                value.to_le_bytes()
            }
            .to_vec(),
        });
    // splices take bytes from another seed
    prop_oneof![
        mutate::flip(),
        mutate::set(),
        mutate::truncate(),
        mutate::insert(16),
        field,
        mutate::splice(64)
    ]
}

fn cases() -> u32 {
    std::env::var("SAMCELL_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60_000)
}

#[test]
fn seeds_decode() {
    for (i, s) in seeds().iter().enumerate() {
        let r = decode_gray_with_info(s, &ReadOptions::default());
        assert!(r.is_ok(), "seed {i} does not decode: {:?}", r.err());
    }
}

proptest! {
    #![proptest_config(Config {
        cases: cases(),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..Config::default()
    })]

    #[test]
    fn mutated_images_never_panic(seed in 0usize..17, muts in prop::collection::vec(mutation(), 1..5),
                                  page in 0usize..3, percentile in any::<bool>(),
                                  channel in prop::option::of(0usize..4)) {
        let seeds = seeds();
        let bytes = muts.iter().fold(seeds[seed % seeds.len()].clone(), |b, m| mutate::apply(b, m, &seeds));
        let opts = ReadOptions {
            page,
            scaling: if percentile { Scaling::Percentile(1.0, 99.0) } else { Scaling::MinMax },
            max_pixels: Some(4 << 20),
            channel,
        };
        // Ok or Err, both fine; a panic fails the case
        if let Ok((img, info)) = decode_gray_with_info(&bytes, &opts) {
            prop_assert_eq!((img.width(), img.height()), (info.width, info.height));
        }
        let _ = samcell_io::decode_layout(&bytes);
        let _ = labels::decode_labels_limited(&bytes, 4 << 20);
    }
}
