//! Warnings about an input as it was read: cases where the run succeeds but the result is
//! likely not what was wanted, so that an empty or partial result never comes without a word.
//! They go to the log, the image's `_run.json` and `run.json` (`warnings` of the image).
//!
//! - **Constant image**: every grey value the same; there is nothing to segment.
//! - **Flattened scaling**: a wider-than-8-bit image whose scaling to 8 bits puts at least
//!   [`FLAT_FRACTION`] of the pixels on one grey level, as when a few extreme values (e.g.
//!   ±3e38 in a float image) stretch the min-max range; `--percentile` is the remedy.
//! - **One page of several**: a multi-page file (TIFF pages, or the channels / Z slices / time
//!   points of an ImageJ or OME stack) of which one page was segmented because no `--page` was
//!   given (with `--page` or `--all-pages` the choice was deliberate, and the log line and the
//!   output name show the page). With `--channel` on a stack whose channels are pages, only the
//!   channel's own pages count: a channel with one page (no Z or T axis) is no warning. When
//!   the stack has several channels and no `--channel` was given, the warning says so.
//! - **Extra samples ignored**: pixels with more than two samples that are not colour (e.g. a
//!   multi-channel page), of which only the first was used (`--channel N` picks another). Grey
//!   with alpha is not reported, nor colour merged to grey (cv2's reading of colour images).
//! - **Out of domain** (built-in model only, after segmenting): [`domain_warnings`]; with the
//!   default `lite`, such an image is segmented by the built-in nuclei model instead and the
//!   warning says so ([`route_warnings`]).

use samcell_imaging::{GrayU8, MapF32};
use samcell_io::{ChannelUse, SourceInfo, StackSource};

/// The built-in model's signs of an out-of-domain image (`samcell_pipeline::domain`: an
/// empty or unsure distance map, an unfamiliar background level) as one warning with the
/// remedy ([`DOMAIN_REMEDY`]); none when the image looks like its training data.
pub fn domain_warnings(image: &GrayU8, map: &MapF32, peak: f32, fill: f32) -> Vec<String> {
    samcell_pipeline::domain_note(Some(image), map, peak, fill, DOMAIN_REMEDY)
        .into_iter()
        .collect()
}

/// The warning on an image the default `lite` model sent to its fallback (the built-in
/// nuclei model) because of `signs`: the signs, the model that segmented it, the remedy.
pub fn route_warnings(
    signs: &[samcell_pipeline::DomainWarning],
    model: &samcell_batch::record::ModelInfo,
) -> Vec<String> {
    let fallback = model
        .fallback
        .as_ref()
        .map_or("the fallback model", |f| f.path.as_str());
    samcell_pipeline::route_message(signs, fallback, DOMAIN_REMEDY)
        .into_iter()
        .collect()
}

/// What the out-of-domain warning suggests on the command line.
pub const DOMAIN_REMEDY: &str = "if cells are missed or wrong, try --model generalist";

/// Share of the pixels on one grey level from which a scaled image counts as flattened.
pub const FLAT_FRACTION: f64 = 0.99;

/// The warnings for `image` read from a file described by `info`; `page_chosen`: the page was
/// chosen with `--page` or `--all-pages`; `channel`: the `--channel` read.
pub fn input_warnings(
    image: &GrayU8,
    info: &SourceInfo,
    page_chosen: bool,
    channel: Option<usize>,
) -> Vec<String> {
    let mut out = Vec::new();
    let hist = samcell_pipeline::domain::grey_histogram(image);
    let n = image.data().len() as u64;
    let levels = hist.iter().filter(|&&c| c > 0).count();
    let (top_level, top) = hist
        .iter()
        .enumerate()
        .max_by_key(|(_, &c)| c)
        .map_or((0, 0), |(l, &c)| (l, c));
    if n > 0 && levels == 1 {
        let what = match info.scaled_from {
            Some((lo, _)) => format!("every pixel is {lo}"),
            None => format!("every pixel is {top_level}"),
        };
        out.push(format!(
            "the image is constant ({what}): there is nothing to segment"
        ));
    } else if let Some((lo, hi)) = info.scaled_from {
        let share = top as f64 / n.max(1) as f64;
        if share >= FLAT_FRACTION {
            out.push(format!(
                "scaling the range {lo:e}..{hi:e} to 8 bits put {:.1}% of the pixels on one grey \
                 level ({top_level}): a few extreme values flatten the image; try --percentile 1,99",
                share * 100.0
            ));
        }
    }
    // a stack whose channels are pages, and the page's position in it
    let channel_stack = info
        .stack
        .filter(|s| s.channels > 1 && info.plane.is_some());
    if info.pages > 1 && !page_chosen {
        match (channel, channel_stack) {
            (Some(c), Some(s)) => {
                let of_channel = s.planes() / s.channels;
                if of_channel > 1 {
                    out.push(format!(
                        "channel {c} has {of_channel} pages ({} slice(s) x {} frame(s)); only \
                         page {} was segmented (--all-pages segments every page of the channel, \
                         --page N picks one)",
                        s.slices, s.frames, info.page
                    ));
                }
            }
            _ => {
                let stack = info.stack.map_or(String::new(), |s| {
                    let src = match s.source {
                        StackSource::ImageJ => "ImageJ",
                        StackSource::Ome => "OME",
                    };
                    format!(
                        " ({src} stack: {} channel(s) x {} slice(s) x {} frame(s))",
                        s.channels, s.slices, s.frames
                    )
                });
                let at = info.plane.map_or(String::new(), |p| format!(" ({p})"));
                let channels = if channel_stack.is_some() {
                    ", --channel N picks a channel"
                } else {
                    ""
                };
                out.push(format!(
                    "the file has {} pages{stack}; only page {}{at} was segmented (--page N \
                     picks another, --all-pages segments every page{channels})",
                    info.pages, info.page
                ));
            }
        }
    }
    if info.channel_use == ChannelUse::FirstSample && info.channels > 2 {
        out.push(format!(
            "only the first of the {} samples of each pixel was used; the others are ignored \
             (--channel N picks another)",
            info.channels
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use samcell_io::{Format, SampleType};

    fn info(scaled_from: Option<(f64, f64)>, pages: usize) -> SourceInfo {
        SourceInfo {
            format: Format::Tiff,
            width: 10,
            height: 10,
            channels: 1,
            sample: SampleType::F32,
            pages,
            page: 0,
            scaled_from,
            channel_use: ChannelUse::Single,
            stack: None,
            plane: None,
            calibration: None,
        }
    }

    fn image(values: impl Fn(usize) -> u8) -> GrayU8 {
        GrayU8::from_vec(10, 10, (0..100).map(values).collect()).unwrap()
    }

    #[test]
    fn constant_and_flattened_images_are_reported() {
        let w = input_warnings(&image(|_| 7), &info(None, 1), false, None);
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("constant"), "{w:?}");
        // 99 of 100 pixels on one level after scaling
        let flat = image(|i| if i == 0 { 255 } else { 127 });
        let w = input_warnings(&flat, &info(Some((-3e38, 3e38)), 1), false, None);
        assert!(w.len() == 1 && w[0].contains("--percentile"), "{w:?}");
        // the same picture without scaling (8-bit input) is left alone
        assert!(input_warnings(&flat, &info(None, 1), false, None).is_empty());
        // an ordinary scaled image
        let fine = image(|i| (i * 2) as u8);
        assert!(input_warnings(&fine, &info(Some((0.0, 1.0)), 1), false, None).is_empty());
    }

    #[test]
    fn one_page_of_several_is_reported_unless_chosen() {
        let fine = image(|i| (i * 2) as u8);
        let w = input_warnings(&fine, &info(None, 3), false, None);
        assert!(
            w.len() == 1 && w[0].contains("3 pages") && w[0].contains("--all-pages"),
            "{w:?}"
        );
        assert!(input_warnings(&fine, &info(None, 3), true, None).is_empty());
    }

    #[test]
    fn stacks_with_channels_point_to_channel() {
        use samcell_io::{DimensionOrder, PlaneIndex, StackDims};
        let fine = image(|i| (i * 2) as u8);
        let stack = |frames| StackDims {
            channels: 2,
            slices: 1,
            frames,
            order: DimensionOrder::Czt,
            source: StackSource::Ome,
        };
        let at = |frames, page| SourceInfo {
            stack: Some(stack(frames)),
            plane: stack(frames).plane_of(page),
            page,
            ..info(None, 2 * frames)
        };
        // no --channel: the warning names the page's plane and --channel
        let w = input_warnings(&fine, &at(3, 0), false, None);
        assert!(
            w.len() == 1 && w[0].contains("c 0 z 0 t 0") && w[0].contains("--channel N"),
            "{w:?}"
        );
        // --channel 1 of 2 channels x 1 frame: the channel's one page, nothing to say
        assert!(input_warnings(&fine, &at(1, 1), false, Some(1)).is_empty());
        // --channel 1 of 2 channels x 3 frames: the channel's other pages
        let w = input_warnings(&fine, &at(3, 1), false, Some(1));
        assert!(
            w.len() == 1 && w[0].contains("channel 1 has 3 pages"),
            "{w:?}"
        );
        assert_eq!(at(3, 1).plane, Some(PlaneIndex { c: 1, z: 0, t: 0 }));
        // extra samples of a page: --channel picks another
        let bands = SourceInfo {
            channels: 3,
            channel_use: ChannelUse::FirstSample,
            ..info(None, 1)
        };
        let w = input_warnings(&fine, &bands, false, None);
        assert!(w.len() == 1 && w[0].contains("--channel N"), "{w:?}");
    }
}
