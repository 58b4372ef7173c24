//! Golden tests against the Python reference: samcell 1.1.4 `cells_from_dist_map` on
//! OpenCV 4.12.0 (`findContours(RETR_EXTERNAL, CHAIN_APPROX_SIMPLE)`, `moments`) and
//! scikit-image 0.25.2 (`watershed`). Fixtures: `reference/gen_morphology_fixtures.py`.
//!
//! Tolerance everywhere: exact. Contours (same contours, order and points), seeds (same pixel)
//! and labels (same id on every pixel; ids are contour index + 1 on both sides, so no
//! relabelling is needed).

use samcell_imaging::Image;
use samcell_morphology::{
    cells_from_distance_map, contour_seed, external_contours, seeds_from_peaks, watershed, Contour,
    DEFAULT_FILL_THRESHOLD, DEFAULT_PEAK_THRESHOLD,
};
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(format!("{name}.npy"))
}

fn npy<T: samcell_testdata::npy::Deserialize>(name: &str) -> (Vec<usize>, Vec<T>) {
    samcell_testdata::npy::read(&fixture(name))
}

/// Contours stored as per-contour lengths plus points packed as `x | y << 16`.
fn stored_contours(prefix: &str) -> Vec<Contour> {
    let (_, lengths) = npy::<i32>(&format!("{prefix}_contour_lengths"));
    let (_, packed) = npy::<i32>(&format!("{prefix}_contour_points"));
    assert_eq!(
        lengths.iter().map(|&n| n as usize).sum::<usize>(),
        packed.len(),
        "{prefix}: fixture lengths"
    );
    let mut points = packed.iter().map(|&p| (p & 0xFFFF, p >> 16));
    lengths
        .iter()
        .map(|&n| points.by_ref().take(n as usize).collect())
        .collect()
}

/// Per-contour seeds `(has_seed, x, y)` as samcell computes them (before clamping).
fn stored_seeds(prefix: &str) -> Vec<Option<(i32, i32)>> {
    let (shape, s) = npy::<i32>(&format!("{prefix}_seeds"));
    assert_eq!(shape.get(1), Some(&3));
    s.chunks(3)
        .map(|c| (c[0] != 0).then_some((c[1], c[2])))
        .collect()
}

/// Labels stored as raster-order runs packed as `label << 20 | length`.
fn stored_labels(name: &str, w: usize, h: usize) -> Image<u32> {
    let (_, runs) = npy::<i32>(&format!("{name}_labels_rle"));
    let mut data = Vec::with_capacity(w * h);
    for r in runs {
        data.extend(std::iter::repeat_n(
            (r >> 20) as u32,
            (r & 0xF_FFFF) as usize,
        ));
    }
    Image::from_vec(w, h, data).expect("fixture labels cover the image")
}

/// The generator's `param_map`, operation for operation (each f64 operation rounds once, so
/// the bits agree with numpy's): `max(0, max_k a * (1 - ((dx*dx*ax + dy*dy*ay) + dx*dy*axy)))`,
/// then `floor(v * quant) / quant` when `quant > 0`, then f32.
fn param_map(name: &str) -> Image<f32> {
    let (_, meta) = npy::<i32>(&format!("{name}_meta"));
    let (h, w, quant) = (meta[0] as usize, meta[1] as usize, meta[2]);
    let (shape, cells) = npy::<f64>(&format!("{name}_cells"));
    assert_eq!(shape[1], 7);
    let mut v = vec![0.0f64; w * h];
    for c in cells.chunks(7) {
        let (cx, cy, ax, ay, axy, r, a) = (c[0], c[1], c[2], c[3], c[4], c[5], c[6]);
        let y0 = (cy - r).ceil().max(0.0) as usize;
        let y1 = ((cy + r).floor() as usize).min(h - 1);
        let x0 = (cx - r).ceil().max(0.0) as usize;
        let x1 = ((cx + r).floor() as usize).min(w - 1);
        for y in y0..=y1 {
            let dy = y as f64 - cy;
            for x in x0..=x1 {
                let dx = x as f64 - cx;
                let t = a * (1.0 - ((dx * dx * ax + dy * dy * ay) + dx * dy * axy));
                let p = &mut v[y * w + x];
                if t > *p {
                    *p = t;
                }
            }
        }
    }
    let q = f64::from(quant);
    let map: Vec<f32> = v
        .iter()
        .map(|&x| if quant > 0 { (x * q).floor() / q } else { x } as f32)
        .collect();
    // Guard the rebuild: the generator's checksum of the f32 bits.
    let (_, check) = npy::<i64>(&format!("{name}_check"));
    let sum = map.iter().enumerate().fold(0u64, |s, (i, x)| {
        s.wrapping_add(u64::from(x.to_bits()).wrapping_mul(i as u64 % 1000 + 1))
    });
    assert_eq!(
        sum, check[0] as u64,
        "{name}: rebuilt distance map differs from numpy's (checksum)"
    );
    Image::from_vec(w, h, map).expect("size")
}

fn stored_map(name: &str) -> Image<f32> {
    let (shape, data) = npy::<f32>(&format!("{name}_dist"));
    Image::from_vec(shape[1], shape[0], data).expect("size")
}

/// Checks contours, seeds, the marker image and the labels of one distance map.
fn check_case(name: &str, dist: &Image<f32>) {
    let peak = dist.map(|v| u8::from(v > DEFAULT_PEAK_THRESHOLD));
    let contours = external_contours(&peak);
    let expected = stored_contours(name);
    assert_eq!(
        contours.len(),
        expected.len(),
        "{name}: contour count (exact)"
    );
    for (i, (got, exp)) in contours.iter().zip(&expected).enumerate() {
        assert_eq!(got, exp, "{name}: contour {i} points (exact)");
    }
    let seeds = stored_seeds(name);
    assert_eq!(seeds.len(), contours.len());
    for (i, (c, s)) in contours.iter().zip(&seeds).enumerate() {
        assert_eq!(contour_seed(c), *s, "{name}: seed of contour {i} (exact)");
    }

    // Marker image: replay samcell's loop (clamp, later contours overwrite).
    let (w, h) = (dist.width(), dist.height());
    let mut expected_markers = Image::filled(w, h, 0u32);
    for (i, s) in seeds.iter().enumerate() {
        if let Some((x, y)) = *s {
            let (x, y) = (
                x.clamp(0, w as i32 - 1) as usize,
                y.clamp(0, h as i32 - 1) as usize,
            );
            expected_markers.set(x, y, i as u32 + 1);
        }
    }
    let markers = seeds_from_peaks(&peak);
    assert_eq!(markers, expected_markers, "{name}: marker image (exact)");

    let labels = cells_from_distance_map(dist, DEFAULT_PEAK_THRESHOLD, DEFAULT_FILL_THRESHOLD)
        .expect("post-processing");
    let expected_labels = stored_labels(name, w, h);
    let diff = labels
        .data()
        .iter()
        .zip(expected_labels.data())
        .filter(|(a, b)| a != b)
        .count();
    assert_eq!(
        diff, 0,
        "{name}: {diff} pixels differ from samcell's labels (tolerance: exact)"
    );
    assert!(
        expected_labels.data().iter().any(|&l| l != 0),
        "{name}: fixture has cells"
    );

    // The public watershed on the negated map gives the same labels.
    let neg = dist.map(|v| -v);
    let fill = dist.map(|v| v > DEFAULT_FILL_THRESHOLD);
    let again = watershed(&neg, &markers, &fill).expect("watershed");
    assert_eq!(
        again, labels,
        "{name}: watershed(-dist) vs cells_from_distance_map (exact)"
    );
}

#[test]
fn gaussian_blobs_128_match_samcell() {
    check_case("gauss128", &stored_map("gauss128"));
}

#[test]
fn plateaus_and_odd_peaks_96_match_samcell() {
    // Ties on 1/8-step plateaus, seedless 1- and 2-point contours (gaps in the ids), a
    // zero-area contour (mean seed), border peaks, a peak in a ring's hole, a seed collision.
    let dist = stored_map("plateau96");
    check_case("plateau96", &dist);
    let ids: std::collections::BTreeSet<u32> = cells_from_distance_map(&dist, 0.47, 0.09)
        .expect("labels")
        .data()
        .iter()
        .copied()
        .collect();
    let max = *ids.iter().max().expect("labels");
    assert!(
        ids.len() - 1 < max as usize,
        "ids must have gaps here: {ids:?}"
    );
}

#[test]
fn quantised_grid_256_matches_samcell() {
    check_case("grid256q", &param_map("grid256q"));
}

#[test]
fn real_scale_520x704_matches_samcell() {
    let dist = param_map("cells520x704");
    assert_eq!(dist.shape_hw(), (520, 704));
    check_case("cells520x704", &dist);
}

#[test]
fn contours_and_seeds_match_opencv_on_random_masks() {
    let (shape, packed) = npy::<u8>("masks");
    assert_eq!(&shape[1..], &[32, 4], "32x32 masks, bit-packed rows");
    let (_, counts) = npy::<i32>("masks_contour_counts");
    let expected = stored_contours("masks");
    let seeds = stored_seeds("masks");
    let mut next = 0;
    for (m, bits) in packed.chunks(32 * 4).enumerate() {
        let data: Vec<u8> = (0..32 * 32)
            .map(|i| (bits[i / 8] >> (7 - i % 8)) & 1)
            .collect();
        let mask = Image::from_vec(32, 32, data).expect("size");
        let got = external_contours(&mask);
        let n = counts[m] as usize;
        assert_eq!(got.len(), n, "mask {m}: contour count (exact)");
        for (k, c) in got.iter().enumerate() {
            assert_eq!(
                c,
                &expected[next + k],
                "mask {m}: contour {k} points (exact)"
            );
            assert_eq!(
                contour_seed(c),
                seeds[next + k],
                "mask {m}: contour {k} seed (exact)"
            );
        }
        next += n;
    }
    assert_eq!(next, expected.len(), "every stored contour was compared");
}

#[test]
fn no_peak_gives_all_zero_labels() {
    let dist = Image::filled(7, 5, 0.3f32);
    let labels = cells_from_distance_map(&dist, 0.47, 0.09).expect("labels");
    assert!(labels.data().iter().all(|&l| l == 0));
    assert_eq!(labels.shape_hw(), (5, 7));
}

#[test]
fn watershed_matches_skimage_on_tied_random_inputs() {
    // skimage 0.25.2 watershed(level / 4, markers, mask) on 20x20 maps with 5 grey levels,
    // plateaus, several markers per value (their order comes from skimage's heap) and holes in
    // the mask. Tolerance: exact labels.
    let (shape, levels) = npy::<u8>("ws_image");
    let (_, markers) = npy::<u8>("ws_markers");
    let (_, expected) = npy::<u8>("ws_labels");
    assert_eq!(&shape[1..], &[20, 20]);
    let n = 400;
    for k in 0..shape[0] {
        let lv = &levels[k * n..(k + 1) * n];
        let image =
            Image::from_vec(20, 20, lv.iter().map(|&v| f32::from(v) / 4.0).collect()).unwrap();
        let mask = Image::from_vec(20, 20, lv.iter().map(|&v| v != 255).collect()).unwrap();
        let marks = Image::from_vec(
            20,
            20,
            markers[k * n..(k + 1) * n]
                .iter()
                .map(|&m| u32::from(m))
                .collect(),
        )
        .unwrap();
        let got = watershed(&image, &marks, &mask).expect("watershed");
        let exp: Vec<u32> = expected[k * n..(k + 1) * n]
            .iter()
            .map(|&l| u32::from(l))
            .collect();
        assert_eq!(
            got.data(),
            &exp[..],
            "case {k}: labels differ from skimage (tolerance: exact)"
        );
    }
}
