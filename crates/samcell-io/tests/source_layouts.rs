//! What a file held and how it became grey (`SourceInfo::channel_use`, `SourceInfo::stack`), and
//! the error texts for TIFF layouts that used to be misnamed.
//!
//! Defects covered: a 1-sample float TIFF with 8-bit samples was called "8 samples per pixel";
//! a grey TIFF page with extra bands failed with "internal size error"; a valid volumetric TIFF
//! was called "corrupt"; multi-channel / Z / T stacks were read on page 0 without a word.

mod craft;

use craft::{ascii, page_tags, tiff, LONG, SHORT};
use samcell_io::{decode_gray_with_info, labels, ChannelUse, ReadOptions, StackSource};

fn decode(bytes: &[u8]) -> Result<(samcell_imaging::GrayU8, samcell_io::SourceInfo), String> {
    decode_gray_with_info(bytes, &ReadOptions::default())
}

#[test]
fn float_tiff_with_8_bit_samples_names_the_sample_size() {
    let t = tiff(4, 3, page_tags(1, 8, 3, 1), &[1u8; 12]);
    let e = decode(&t).expect_err("8-bit float is not a sample type");
    assert!(e.contains("8-bit samples"), "{e}");
    assert!(
        !e.contains("samples per pixel"),
        "the sample size is called a sample count: {e}"
    );
}

#[test]
fn grey_tiff_with_extra_bands_uses_the_first_band() {
    // 3 samples per pixel, MinIsBlack, two unspecified extra samples: a 3-channel microscopy page
    let (w, h) = (5u32, 4u32);
    let mut tags = page_tags(3, 16, 1, 1);
    tags.push((338, SHORT, vec![0, 0]));
    let data: Vec<u8> = (0..w * h)
        .flat_map(|i| {
            [100 + i as u16, 7, 60000]
                .into_iter()
                .flat_map(u16::to_le_bytes)
        })
        .collect();
    let (img, info) = decode(&tiff(w, h, tags.clone(), &data)).expect("a valid page");
    assert_eq!(
        (info.channels, info.channel_use),
        (3, ChannelUse::FirstSample)
    );
    assert_eq!(
        info.scaled_from,
        Some((100.0, 119.0)),
        "scaled from the first band only"
    );
    assert_eq!(img.data()[0], 0);
    assert_eq!(img.data()[19], 255);
    assert!(
        info.to_string().contains("first of 3 samples used"),
        "{info}"
    );

    // the same with 8-bit samples (the cv2-compatible path)
    let mut tags8 = page_tags(3, 8, 1, 1);
    tags8.push((338, SHORT, vec![0, 0]));
    let data8: Vec<u8> = (0..w * h).flat_map(|i| [i as u8, 200, 9]).collect();
    let (img, info) = decode(&tiff(w, h, tags8, &data8)).expect("a valid 8-bit page");
    assert_eq!(info.channel_use, ChannelUse::FirstSample);
    assert_eq!(img.data(), &(0..20u8).collect::<Vec<_>>()[..]);
}

#[test]
fn volumetric_tiff_is_called_volumetric_not_corrupt() {
    let mut tags = page_tags(1, 8, 1, 1);
    tags.push((32997, LONG, vec![4])); // ImageDepth: 4 slices in this page
    let t = tiff(4, 3, tags, &[9u8; 48]);
    for e in [
        decode(&t).expect_err("volumetric"),
        labels::decode_labels(&t).expect_err("volumetric"),
    ] {
        assert!(
            e.contains("volumetric") && e.contains("ImageDepth = 4"),
            "{e}"
        );
        assert!(!e.contains("corrupt"), "a valid file called corrupt: {e}");
    }
}

#[test]
fn stack_layout_and_channel_use_are_reported() {
    let mut tags = page_tags(1, 8, 1, 1);
    tags.push((
        270,
        craft::ASCII,
        ascii("ImageJ=1.54f\nimages=6\nchannels=2\nslices=3\nhyperstack=true\nmode=composite\n"),
    ));
    let (_, info) = decode(&tiff(4, 3, tags, &[5u8; 12])).expect("read");
    let s = info.stack.expect("ImageJ dims");
    assert_eq!(
        (s.channels, s.slices, s.frames, s.source),
        (2, 3, 1, StackSource::ImageJ)
    );
    assert!(
        info.to_string()
            .contains("ImageJ stack of 2 channel(s) x 3 slice(s) x 1 frame(s)"),
        "{info}"
    );

    let mut tags = page_tags(1, 8, 1, 1);
    let ome = r#"<?xml version="1.0"?><OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06"><Image ID="Image:0"><Pixels DimensionOrder="XYCZT" ID="Pixels:0" SizeC="1" SizeT="5" SizeX="4" SizeY="3" SizeZ="1" Type="uint8"></Pixels></Image></OME>"#;
    tags.push((270, craft::ASCII, ascii(ome)));
    let (_, info) = decode(&tiff(4, 3, tags, &[5u8; 12])).expect("read");
    let s = info.stack.expect("OME dims");
    assert_eq!(
        (s.channels, s.slices, s.frames, s.source),
        (1, 1, 5, StackSource::Ome)
    );

    let (_, info) = decode(&craft::png(6, 5, 1)).expect("grey png");
    assert_eq!((info.channel_use, info.stack), (ChannelUse::Single, None));
    let (_, info) = decode(&craft::png(6, 5, 3)).expect("rgb png");
    assert_eq!(info.channel_use, ChannelUse::MergedColour);
    let (_, info) = decode(&craft::png(6, 5, 2)).expect("grey+alpha png");
    assert_eq!(info.channel_use, ChannelUse::FirstSample);
    let (_, info) = decode(&craft::jpeg(16, 16, 3)).expect("colour jpeg");
    assert_eq!(info.channel_use, ChannelUse::MergedColour);
    let (_, info) = decode(&craft::bmp(6, 5, 3)).expect("bmp");
    assert_eq!(info.channel_use, ChannelUse::MergedColour);
}
