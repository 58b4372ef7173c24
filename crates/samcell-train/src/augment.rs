//! Training augmentation and the random crop (paper: "Data augmentation"; the settings and their
//! defaults are in [`crate::config`]).
//!
//! Per sample and epoch, from its own random stream ([`crate::rng`]): horizontal flip (p 0.5),
//! rotation by U(-180°, 180°) about the image centre, isotropic rescaling by U(0.8, 1.2),
//! brightness x U(0.95, 1.05) and inversion (p 0.5); then one random `crop` x `crop` window.
//! Only that window is computed (inverse mapping of its pixels), never the whole warped image.
//! Beyond the paper, off by default ([`AugmentConfig::wide`] turns them on): gamma, contrast,
//! Gaussian blur and additive Gaussian noise, all on the image only. Also off by default and in
//! no preset: channel-to-grey ([`AugmentConfig::channel_grey_p`]).
//!
//! **Draws.** Always the same amount of numbers in this order: flip, angle, scale, brightness,
//! invert, crop x, crop y (the paper's, unchanged), then gamma, contrast, blur yes/no, blur
//! sigma, noise yes/no, noise sigma, noise seed, then channel-to-grey yes/no, one channel or a
//! mix, which channel, three mixing numbers. The later draws never shift the earlier ones, so
//! with the added augmentations off a crop is bit-identical to one made before they existed.
//!
//! **Channel-to-grey** (when drawn, and only for a sample that kept its colour channels, see
//! `samcell_data`'s `colour/` files): before anything else the grey image is replaced by
//! `round(w_r R + w_g G + w_b B)` (f64, half away from zero, clamped to 0..255) of the
//! sample's channels. Half of the draws take one channel alone (`w` one-hot: a channel exported
//! on its own), the other half weights uniform on the simplex (`w_i = -ln(1 - u_i)` normalised:
//! the unweighted mean of ImageJ's RGB-to-8-bit, luma-like mixes and everything between). The
//! target is unaffected. At inference a colour file is always made grey with the luma weights
//! (`samcell_io::read_gray`); this teaches the model the nuclei that other conversions give,
//! e.g. a blue DAPI channel stored alone.
//!
//! **Geometry.** The augmented canvas is the rescaled image, `round(W s) x round(H s)`, rotated
//! about its centre without expanding (like `torchvision`'s `rotate(expand=False)`). The crop's
//! top-left corner is uniform over the integer positions that keep it inside that canvas (0 when
//! the canvas is smaller than the crop). A crop pixel is mapped back (pixel centres, undo
//! rotation, undo scale, undo flip) to a real source position and sampled **bilinearly**.
//!
//! **Target.** The precomputed distance-map target is warped with the *same* mapping, bilinearly,
//! as the paper does ("the associated distance map, augmented by mirroring, rotation and
//! rescaling only" — distance maps are invariant to rotation/mirroring and scale-covariant, and
//! per-cell normalisation makes them scale-invariant); labels are not re-rasterised. Brightness
//! and inversion touch the image only.
//!
//! **Outside the image** (rotated corners, canvases smaller than the crop): both image and
//! target are read through OpenCV `BORDER_REFLECT` indexing (`fedcba|abcdef`), the padding the
//! inference tiling uses ([`samcell_pipeline::tiling`]), so the model is trained on the same kind
//! of border content it sees at inference, and no artificial constant corners appear.
//!
//! **Image values**, in f32, in this order (a step whose value is its identity is skipped, so it
//! cannot change a single bit):
//! 1. geometry: bilinear interpolation on the u8 image;
//! 2. brightness: `v * b`;
//! 3. gamma: `255 (max(v, 0) / 255)^g`, `g` log-uniform in the configured range (0 and 255 stay);
//! 4. contrast: `m + c (v - m)`, `m` the mean of the crop after step 3 (summed in f64, row-major),
//!    so the mean is kept;
//! 5. blur (when drawn): separable Gaussian, kernel `exp(-d² / 2σ²)` for `|d| <= ceil(3σ)`
//!    normalised to sum 1, rows then columns, `BORDER_REFLECT` at the crop's edges;
//! 6. noise (when drawn): `+ σ z` per pixel, row-major, `z` standard normal from the stream
//!    `(noise seed, Noise)` ([`crate::rng::Purpose::Noise`]), the seed drawn from the sample's
//!    own stream;
//! 7. rounded half away from zero, clamped to 0..255;
//! 8. inverted (`255 - v`) if drawn.
//!
//! With every augmentation off the crop is bit-identical to a plain crop of the image.

use samcell_imaging::{GrayU8, MapF32};

use crate::config::AugmentConfig;
use crate::rng::{Purpose, Stream};

/// The drawn augmentation of one sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Augmentation {
    /// Mirror the image horizontally.
    pub flip: bool,
    /// Rotation in degrees.
    pub angle_deg: f64,
    /// Isotropic scale factor (1: unchanged).
    pub scale: f64,
    /// Factor the grey values are multiplied by (1: unchanged).
    pub brightness: f64,
    /// Invert the image (`255 - v`) after the brightness change; the target is unaffected.
    pub invert: bool,
    /// Column of the crop's top-left corner in the augmented canvas, px.
    pub crop_x: usize,
    /// Row of the crop's top-left corner in the augmented canvas, px.
    pub crop_y: usize,
    /// Gamma exponent (1: unchanged).
    pub gamma: f64,
    /// Contrast factor about the crop's mean (1: unchanged).
    pub contrast: f64,
    /// Gaussian blur sigma, px (0: no blur).
    pub blur_sigma: f64,
    /// Additive Gaussian noise sigma, grey levels (0: no noise).
    pub noise_sigma: f64,
    /// Seed of the noise stream.
    pub noise_seed: u64,
    /// Channel-to-grey weights (red, green, blue; sum 1), when drawn.
    pub grey_weights: Option<[f64; 3]>,
}

impl Augmentation {
    /// The identity with the crop at `(x, y)`.
    pub fn identity_at(crop_x: usize, crop_y: usize) -> Self {
        Self {
            flip: false,
            angle_deg: 0.0,
            scale: 1.0,
            brightness: 1.0,
            invert: false,
            crop_x,
            crop_y,
            gamma: 1.0,
            contrast: 1.0,
            blur_sigma: 0.0,
            noise_sigma: 0.0,
            noise_seed: 0,
            grey_weights: None,
        }
    }

    /// Draws the augmentation of a `width x height` image (always the same amount of numbers,
    /// in the fixed order of the module docs).
    pub fn draw(
        cfg: &AugmentConfig,
        rng: &mut Stream,
        width: usize,
        height: usize,
        crop: usize,
    ) -> Self {
        let flip = rng.bernoulli(cfg.flip_p);
        let angle_deg = rng.uniform(-cfg.rotate_max_deg, cfg.rotate_max_deg);
        let scale = rng.uniform(cfg.scale.0, cfg.scale.1);
        let brightness = rng.uniform(cfg.brightness.0, cfg.brightness.1);
        let invert = rng.bernoulli(cfg.invert_p);
        let (cw, ch) = canvas(width, height, scale);
        let crop_x = rng.below(cw.saturating_sub(crop) + 1);
        let crop_y = rng.below(ch.saturating_sub(crop) + 1);
        // Log-uniform; the number is drawn even for a fixed exponent.
        let u = rng.unit();
        let (glo, ghi) = cfg.gamma;
        let gamma = if glo == ghi {
            glo
        } else {
            (glo.ln() + u * (ghi.ln() - glo.ln())).exp()
        };
        let contrast = rng.uniform(cfg.contrast.0, cfg.contrast.1);
        let blur = rng.bernoulli(cfg.blur_p);
        let blur_sigma = rng.uniform(cfg.blur_sigma.0, cfg.blur_sigma.1);
        let noise = rng.bernoulli(cfg.noise_p);
        let noise_sigma = rng.uniform(cfg.noise_sigma.0, cfg.noise_sigma.1);
        let noise_seed = rng.next_u64();
        let grey_weights = draw_grey_weights(cfg.channel_grey_p, rng);
        Self {
            flip,
            angle_deg,
            scale,
            brightness,
            invert,
            crop_x,
            crop_y,
            gamma,
            contrast,
            blur_sigma: if blur { blur_sigma } else { 0.0 },
            noise_sigma: if noise { noise_sigma } else { 0.0 },
            noise_seed,
            grey_weights,
        }
    }
}

/// The channel-to-grey draws (always six numbers): yes/no, one channel or a mix, which
/// channel, three mixing numbers.
fn draw_grey_weights(p: f64, rng: &mut Stream) -> Option<[f64; 3]> {
    let on = rng.bernoulli(p);
    let single = rng.bernoulli(0.5);
    let channel = rng.below(3);
    let e = [rng.unit(), rng.unit(), rng.unit()].map(|u| -(1.0 - u).ln());
    if !on {
        return None;
    }
    if single {
        let mut w = [0.0; 3];
        w[channel] = 1.0;
        return Some(w);
    }
    let sum: f64 = e.iter().sum();
    Some(if sum > 0.0 {
        e.map(|v| v / sum)
    } else {
        [1.0 / 3.0; 3]
    })
}

/// The grey image `round(w_r R + w_g G + w_b B)` of three planes of one size (f64, rounded half
/// away from zero, clamped to 0..255).
pub fn channels_to_grey(planes: &[GrayU8; 3], w: [f64; 3]) -> GrayU8 {
    let [r, g, b] = planes;
    debug_assert!(r.shape_hw() == g.shape_hw() && g.shape_hw() == b.shape_hw());
    let data = r
        .data()
        .iter()
        .zip(g.data())
        .zip(b.data())
        .map(|((&r, &g), &b)| {
            let v = w[0] * f64::from(r) + w[1] * f64::from(g) + w[2] * f64::from(b);
            v.round().clamp(0.0, 255.0) as u8
        })
        .collect();
    GrayU8::from_vec(r.width(), r.height(), data).expect("planes of one size")
}

/// Size of the rescaled canvas.
fn canvas(width: usize, height: usize, scale: f64) -> (usize, usize) {
    (
        ((width as f64 * scale).round() as usize).max(1),
        ((height as f64 * scale).round() as usize).max(1),
    )
}

/// OpenCV `BORDER_REFLECT` index (`fedcba|abcdef`), for any integer position.
pub fn reflect(i: i64, n: usize) -> usize {
    let n = n as i64;
    if n == 1 {
        return 0;
    }
    let period = 2 * n;
    let m = i.rem_euclid(period);
    (if m < n { m } else { period - 1 - m }) as usize
}

/// Bilinear sample at a real position with reflected borders.
fn bilinear(data: &[f32], w: usize, h: usize, x: f64, y: f64) -> f32 {
    let x0 = x.floor();
    let y0 = y.floor();
    let fx = (x - x0) as f32;
    let fy = (y - y0) as f32;
    let (x0, y0) = (x0 as i64, y0 as i64);
    let (xa, xb) = (reflect(x0, w), reflect(x0 + 1, w));
    let (ya, yb) = (reflect(y0, h), reflect(y0 + 1, h));
    let top = data[ya * w + xa] * (1.0 - fx) + data[ya * w + xb] * fx;
    let bot = data[yb * w + xa] * (1.0 - fx) + data[yb * w + xb] * fx;
    top * (1.0 - fy) + bot * fy
}

/// The source position of every crop pixel, row-major.
fn source_positions(
    aug: &Augmentation,
    width: usize,
    height: usize,
    crop: usize,
) -> Vec<(f64, f64)> {
    let (cw, ch) = canvas(width, height, aug.scale);
    let (cx, cy) = ((cw as f64 - 1.0) / 2.0, (ch as f64 - 1.0) / 2.0);
    let t = aug.angle_deg.to_radians();
    let (sin, cos) = t.sin_cos();
    let mut out = Vec::with_capacity(crop * crop);
    for v in 0..crop {
        for u in 0..crop {
            let dx = (aug.crop_x + u) as f64 - cx;
            let dy = (aug.crop_y + v) as f64 - cy;
            // Undo the rotation (canvas = C + R(t) (q - C)).
            let qx = cx + cos * dx + sin * dy;
            let qy = cy - sin * dx + cos * dy;
            // Undo the scale (pixel centres), then the flip.
            let mut x = (qx + 0.5) / aug.scale - 0.5;
            let y = (qy + 0.5) / aug.scale - 0.5;
            if aug.flip {
                x = width as f64 - 1.0 - x;
            }
            out.push((x, y));
        }
    }
    out
}

/// The augmented `crop x crop` image and target of one sample (`image` and `target` must have
/// the same size).
pub fn apply(image: &GrayU8, target: &MapF32, aug: &Augmentation, crop: usize) -> (GrayU8, MapF32) {
    let (w, h) = (image.width(), image.height());
    debug_assert_eq!(target.shape_hw(), image.shape_hw());
    let img_f: Vec<f32> = image.data().iter().map(|&v| v as f32).collect();
    let pos = source_positions(aug, w, h, crop);
    let bright = aug.brightness as f32;
    let mut vals: Vec<f32> = pos
        .iter()
        .map(|&(x, y)| bilinear(&img_f, w, h, x, y) * bright)
        .collect();
    photometric(&mut vals, aug, crop);
    let px = vals
        .iter()
        .map(|v| {
            let v = v.round().clamp(0.0, 255.0) as u8;
            if aug.invert {
                255 - v
            } else {
                v
            }
        })
        .collect();
    let tg = pos
        .iter()
        .map(|&(x, y)| bilinear(target.data(), w, h, x, y))
        .collect();
    (image_of(crop, px), image_of(crop, tg))
}

/// Steps 3-6 of the image values (gamma, contrast, blur, noise) on a `side x side` crop.
fn photometric(vals: &mut [f32], aug: &Augmentation, side: usize) {
    if aug.gamma != 1.0 {
        let g = aug.gamma as f32;
        for v in vals.iter_mut() {
            *v = 255.0 * (v.max(0.0) / 255.0).powf(g);
        }
    }
    if aug.contrast != 1.0 && !vals.is_empty() {
        let mean = (vals.iter().map(|&v| v as f64).sum::<f64>() / vals.len() as f64) as f32;
        let c = aug.contrast as f32;
        for v in vals.iter_mut() {
            *v = mean + c * (*v - mean);
        }
    }
    if aug.blur_sigma > 0.0 {
        gaussian_blur(vals, side, aug.blur_sigma);
    }
    if aug.noise_sigma > 0.0 {
        let mut rng = Stream::new(aug.noise_seed, Purpose::Noise, 0, 0);
        for v in vals.iter_mut() {
            *v += (aug.noise_sigma * rng.normal()) as f32;
        }
    }
}

/// The normalised Gaussian kernel of radius `ceil(3 sigma)` (`sigma > 0`).
fn gaussian_kernel(sigma: f64) -> Vec<f32> {
    let r = (3.0 * sigma).ceil() as i64;
    let k: Vec<f64> = (-r..=r)
        .map(|d| (-((d * d) as f64) / (2.0 * sigma * sigma)).exp())
        .collect();
    let sum: f64 = k.iter().sum();
    k.iter().map(|v| (v / sum) as f32).collect()
}

/// Separable Gaussian blur of a `side x side` buffer in place (rows, then columns), with
/// `BORDER_REFLECT` borders.
pub(crate) fn gaussian_blur(vals: &mut [f32], side: usize, sigma: f64) {
    let k = gaussian_kernel(sigma);
    let r = (k.len() / 2) as i64;
    let mut tmp = vec![0f32; vals.len()];
    for y in 0..side {
        let row = &vals[y * side..(y + 1) * side];
        for x in 0..side {
            tmp[y * side + x] = k
                .iter()
                .enumerate()
                .map(|(i, w)| w * row[reflect(x as i64 + i as i64 - r, side)])
                .sum();
        }
    }
    for y in 0..side {
        for x in 0..side {
            vals[y * side + x] = k
                .iter()
                .enumerate()
                .map(|(i, w)| w * tmp[reflect(y as i64 + i as i64 - r, side) * side + x])
                .sum();
        }
    }
}

fn image_of<T: Copy>(side: usize, data: Vec<T>) -> samcell_imaging::Image<T> {
    samcell_imaging::Image::from_vec(side, side, data).expect("side x side buffer")
}

/// A `crop x crop` window of an image whose top-left pixel is `(x0, y0)` (may be negative or
/// run past the end: reflected), no interpolation.
pub fn reflect_window<T: Copy>(
    img: &samcell_imaging::Image<T>,
    x0: i64,
    y0: i64,
    crop: usize,
) -> samcell_imaging::Image<T> {
    let (w, h) = (img.width(), img.height());
    let mut out = Vec::with_capacity(crop * crop);
    for v in 0..crop as i64 {
        let row = img.row(reflect(y0 + v, h));
        out.extend((0..crop as i64).map(|u| row[reflect(x0 + u, w)]));
    }
    image_of(crop, out)
}

#[cfg(test)]
#[path = "augment_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "augment_grey_tests.rs"]
mod grey_tests;
