//! The typical size of the objects in a grey image, from the image alone (no model): the scale
//! of the strongest blob-like structure, as in Lindeberg's scale selection.
//!
//! For scales `sigma = 2^(i/4)`, `i = 0..=16` (1 to 16 px), the energy of the scale-normalised
//! Laplacian of Gaussian, `mean((sigma^2 * laplacian(G_sigma * I))^2)`, is computed over the
//! image (scaled to 0..1 by its min and max); the scale with the most energy gives the diameter
//! `2 * sqrt(2) * sigma` (a disc of radius `r` answers most strongly at `sigma = r / sqrt(2)`).
//! Dark objects on a light background answer the same as light ones on a dark background.
//!
//! This is samcell's own measure, not a port: large scales are computed on a 2x2-mean pyramid
//! (the level where `sigma` is 1-2 px: `sigma^2 * laplacian` is the same there in the level's
//! pixels), which keeps the cost at about 200 operations per pixel. [`naive_lap_energy`] is the
//! full-resolution computation it is tested against: both pick the same scale within two steps
//! (a factor of 1.41; the pyramid's energy runs up to ~20% lower at large scales, which moves a
//! nearly flat peak). The small-object rule was measured with this estimate, in its units. The Gaussian is sampled, truncated at
//! 4 sigma and normalised, its second derivative sampled likewise (as `scipy.ndimage.
//! gaussian_laplace` does), with the border reflected (`d c b a | a b c d`); on a pyramid level
//! the sigma is reduced by the blur the 2x2 means already did.
//!
//! On discs the estimate reads 1.0-1.4x their diameter (edges answer too); a rule that uses it
//! is measured in its units. [`crate::Segmenter`] weighs it for a predictor's [`SmallObjects`]
//! rule, whose advice [`small_objects_message`] words (MODEL_CARD.md, "Small objects").

use samcell_imaging::GrayU8;

/// A predictor's small-object rule (`DistanceMapPredictor::small_objects`): for an image whose
/// object diameter estimate ([`estimate_object_diameter`], in its units) is under `below_px`,
/// segmenting at `factor` is suggested.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SmallObjects {
    /// The estimate under which the rule applies, in pixels.
    pub below_px: f32,
    /// The scale suggested for such an image.
    pub factor: f32,
}

/// The advice for an image whose objects measure `px` across, under `rule`'s size, naming the
/// option that sets the scale (`--scale`, `scale=`).
pub fn small_objects_message(px: f32, rule: &SmallObjects, option: &str) -> String {
    format!(
        "the objects measure about {px:.0} px across, under the {below:.0} px the model \
         segments well: if they are merged or missed, try {option}{factor}",
        below = rule.below_px,
        factor = rule.factor
    )
}

/// Number of scales.
pub const N_SCALES: usize = 17;

/// The scale (Gaussian sigma, px) of index `i`: `2^(i/4)`.
pub fn scale_sigma(i: usize) -> f32 {
    2f32.powf(i as f32 / 4.0)
}

/// The diameter of the image's typical object in pixels ([`module doc`](self)); `None` for an
/// image with a single grey level or a side under 8 pixels.
pub fn estimate_object_diameter(image: &GrayU8) -> Option<f32> {
    let energy = lap_energy(image)?;
    let best = argmax(&energy);
    Some(2.0 * std::f32::consts::SQRT_2 * scale_sigma(best))
}

/// The energy of each scale ([`module doc`](self)), with the pyramid.
pub fn lap_energy(image: &GrayU8) -> Option<[f64; N_SCALES]> {
    let level0 = unit_plane(image)?;
    let mut levels = vec![level0];
    let mut out = [0f64; N_SCALES];
    for (i, e) in out.iter_mut().enumerate() {
        let sigma = scale_sigma(i);
        // level l: sigma / 2^l in [1, 2), as long as the level keeps 8 px a side
        let mut l = (sigma.log2().floor() as usize).min(4);
        while levels.len() <= l {
            let next = levels.last().and_then(halve);
            match next {
                Some(p) => levels.push(p),
                None => break,
            }
        }
        l = l.min(levels.len() - 1);
        // in the level's pixels, less the blur the 2x2 means already did (variance
        // (1 - 4^-l) / 12 level px^2 per axis)
        let f = (1u32 << l) as f32;
        let pre = (1.0 - 1.0 / (f * f)) / 12.0;
        let s = ((sigma / f).powi(2) - pre).sqrt();
        *e = energy_at(&levels[l], s);
    }
    Some(out)
}

/// The energies at full resolution for every scale (the reference the pyramid is tested against).
pub fn naive_lap_energy(image: &GrayU8) -> Option<[f64; N_SCALES]> {
    let plane = unit_plane(image)?;
    let mut out = [0f64; N_SCALES];
    for (i, e) in out.iter_mut().enumerate() {
        *e = energy_at(&plane, scale_sigma(i));
    }
    Some(out)
}

/// Index of the largest value (the first of equal ones).
pub fn argmax(values: &[f64]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best
}

/// A float image, row-major.
struct Plane {
    w: usize,
    h: usize,
    data: Vec<f32>,
}

/// The image scaled to 0..1 by its min and max; `None` when flat or under 8 px a side.
fn unit_plane(image: &GrayU8) -> Option<Plane> {
    let (w, h) = (image.width(), image.height());
    if w < 8 || h < 8 {
        return None;
    }
    let (lo, hi) = image
        .data()
        .iter()
        .fold((u8::MAX, u8::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    if hi == lo {
        return None;
    }
    let k = 1.0 / f32::from(hi - lo);
    let data = image
        .data()
        .iter()
        .map(|&v| f32::from(v - lo) * k)
        .collect();
    Some(Plane { w, h, data })
}

/// The 2x2 mean of `p` (odd last row / column dropped); `None` under 8 px a side.
fn halve(p: &Plane) -> Option<Plane> {
    let (w, h) = (p.w / 2, p.h / 2);
    if w < 8 || h < 8 {
        return None;
    }
    let mut data = Vec::with_capacity(w * h);
    for y in 0..h {
        let (r0, r1) = (&p.data[2 * y * p.w..], &p.data[(2 * y + 1) * p.w..]);
        for x in 0..w {
            data.push(0.25 * (r0[2 * x] + r0[2 * x + 1] + r1[2 * x] + r1[2 * x + 1]));
        }
    }
    Some(Plane { w, h, data })
}

/// `mean((s^2 * laplacian(G_s * p))^2)` over the plane, the Laplacian of Gaussian as the sum of
/// the two separable second-derivative filterings (`G''(x) G(y) + G(x) G''(y)`).
fn energy_at(p: &Plane, s: f32) -> f64 {
    let (g, g2) = kernels(s);
    let dxx = separable(p, &g2, &g);
    let dyy = separable(p, &g, &g2);
    let s2 = f64::from(s * s);
    let sum: f64 = dxx
        .iter()
        .zip(&dyy)
        .map(|(a, b)| {
            let v = s2 * f64::from(a + b);
            v * v
        })
        .sum();
    sum / (p.w * p.h) as f64
}

/// The sampled Gaussian of `sigma` truncated at 4 sigma and normalised to sum 1, and its second
/// derivative (`(x^2 - sigma^2) / sigma^4` times the first).
fn kernels(sigma: f32) -> (Vec<f32>, Vec<f32>) {
    let r = (4.0 * sigma).ceil() as isize;
    let raw: Vec<f32> = (-r..=r)
        .map(|i| (-((i * i) as f32) / (2.0 * sigma * sigma)).exp())
        .collect();
    let sum: f32 = raw.iter().sum();
    let g: Vec<f32> = raw.iter().map(|v| v / sum).collect();
    let s4 = sigma.powi(4);
    let g2 = (-r..=r)
        .zip(&g)
        .map(|(i, v)| v * ((i * i) as f32 - sigma * sigma) / s4)
        .collect();
    (g, g2)
}

/// Reflects an index into 0..n (`d c b a | a b c d`), for any distance outside.
fn reflect(i: isize, n: usize) -> usize {
    let n = n as isize;
    let period = 2 * n;
    let m = i.rem_euclid(period);
    (if m < n { m } else { period - 1 - m }) as usize
}

/// `p` filtered along x with `kx` and along y with `ky` (odd lengths), borders reflected.
fn separable(p: &Plane, kx: &[f32], ky: &[f32]) -> Vec<f32> {
    let (w, h) = (p.w, p.h);
    let rx = (kx.len() / 2) as isize;
    let ry = (ky.len() / 2) as isize;
    let mut tmp = vec![0f32; w * h];
    let mut padded = vec![0f32; w + 2 * rx as usize];
    for y in 0..h {
        let row = &p.data[y * w..(y + 1) * w];
        for (i, v) in padded.iter_mut().enumerate() {
            *v = row[reflect(i as isize - rx, w)];
        }
        for (x, t) in tmp[y * w..(y + 1) * w].iter_mut().enumerate() {
            *t = kx.iter().zip(&padded[x..]).map(|(k, v)| k * v).sum();
        }
    }
    let mut out = vec![0f32; w * h];
    for y in 0..h {
        for (j, &k) in ky.iter().enumerate() {
            let src = reflect(y as isize + j as isize - ry, h) * w;
            let (dst, row) = (&mut out[y * w..(y + 1) * w], &tmp[src..src + w]);
            for (o, &v) in dst.iter_mut().zip(row) {
                *o += k * v;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflection_mirrors_the_border() {
        let got: Vec<usize> = (-4..8).map(|i| reflect(i, 4)).collect();
        assert_eq!(got, [3, 2, 1, 0, 0, 1, 2, 3, 3, 2, 1, 0]);
        assert_eq!(reflect(-9, 4), 0);
    }

    #[test]
    fn kernel_is_normalised_and_symmetric() {
        for s in [1.0, 1.5, 1.99] {
            let (k, k2) = kernels(s);
            assert!(k2.iter().zip(k2.iter().rev()).all(|(a, b)| a == b));
            assert!((k.iter().sum::<f32>() - 1.0).abs() < 1e-6);
            assert!(k.iter().zip(k.iter().rev()).all(|(a, b)| a == b));
        }
    }

    #[test]
    fn flat_and_tiny_images_have_no_size() {
        let flat = GrayU8::from_vec(32, 32, vec![7; 1024]).expect("image");
        assert_eq!(estimate_object_diameter(&flat), None);
        let tiny = GrayU8::from_vec(7, 40, (0..280).map(|i| i as u8).collect()).expect("image");
        assert_eq!(estimate_object_diameter(&tiny), None);
    }
}
