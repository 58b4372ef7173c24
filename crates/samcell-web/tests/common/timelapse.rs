//! A small synthetic time-lapse for the time-series tests: 80x80 grey frames of bright disks
//! (one cell each for the brightness model of [`super::synthetic`]): cell A moves right, B
//! moves down, C divides between frames 2 and 3. Frame names carry numbers whose natural order
//! is the time order and whose text order is not; [`UPLOAD`] is an upload order that is neither.

/// Numbers in the frame names: natural order (t1 < t2 < t3 < t5 < t10) is frame order, text
/// order is not.
pub const NUMBERS: [u32; 5] = [1, 2, 3, 5, 10];
/// Frames in upload order (indices into the time order).
pub const UPLOAD: [usize; 5] = [4, 1, 0, 3, 2];

/// A `side` x `side` grey PNG with bright disks `(cx, cy, r)` on a dark background (the brightness model
/// makes one cell of each).
pub fn disks_png(side: u32, disks: &[(f64, f64, f64)]) -> Vec<u8> {
    let mut img = image::GrayImage::from_pixel(side, side, image::Luma([10u8]));
    for (x, y, p) in img.enumerate_pixels_mut() {
        for &(cx, cy, r) in disks {
            let d2 = (f64::from(x) - cx).powi(2) + (f64::from(y) - cy).powi(2);
            if d2 < r * r {
                p.0[0] = (250.0 - 110.0 * d2 / (r * r)) as u8;
            }
        }
    }
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("PNG");
    out.into_inner()
}

/// Frame `t` (time order): cell A moves right, B moves down, C divides between frames 2 and 3.
pub fn frame(t: usize) -> Vec<u8> {
    let t_f = t as f64;
    let mut disks = vec![(15.0 + 2.0 * t_f, 18.0, 7.0), (62.0, 15.0 + t_f, 6.0)];
    if t < 3 {
        disks.push((40.0, 56.0, 8.0));
    } else {
        disks.extend([(34.0, 56.0, 5.5), (46.0, 56.0, 5.5)]);
    }
    disks_png(80, &disks)
}

/// The file name of frame `t`.
pub fn name(t: usize) -> String {
    format!("t{}.png", NUMBERS[t])
}

/// Writes the frames as PNG files `name(t)` into `dir`; their paths in [`UPLOAD`] order.
pub fn write_frames(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    UPLOAD
        .iter()
        .map(|&t| {
            let p = dir.join(name(t));
            std::fs::write(&p, frame(t)).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            p
        })
        .collect()
}
