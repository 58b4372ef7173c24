//! A small synthetic time-lapse for the time-series tests: 80x80 grey frames of bright disks
//! (one cell each for the brightness model of [`super::synthetic`]): cell A moves right, B
//! moves down, C divides between frames 2 and 3. Frame names carry numbers whose natural order
//! is the time order and whose text order is not; [`UPLOAD`] is an upload order that is neither.
//! [`lite_frame`] draws the scene as the built-in samcell-lite model sees cells: larger, flat
//! bright disks on a mid-grey background.

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

/// Frame `t` for the built-in samcell-lite model: the scene of [`frame`] with larger, flat
/// cells (200) on a 128x128 mid-grey (128) background, away from the border.
pub fn lite_frame(t: usize) -> Vec<u8> {
    let t_f = t as f64;
    let mut disks = vec![
        (32.0 + 3.0 * t_f, 38.0, 14.0),
        (92.0, 34.0 + 2.0 * t_f, 13.0),
    ];
    if t < 3 {
        disks.push((64.0, 92.0, 15.0));
    } else {
        disks.extend([(54.0, 92.0, 9.0), (74.0, 92.0, 9.0)]);
    }
    let mut img = image::GrayImage::from_pixel(128, 128, image::Luma([128u8]));
    for (x, y, p) in img.enumerate_pixels_mut() {
        for &(cx, cy, r) in &disks {
            if (f64::from(x) - cx).powi(2) + (f64::from(y) - cy).powi(2) < r * r {
                p.0[0] = 200;
            }
        }
    }
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("PNG");
    out.into_inner()
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
