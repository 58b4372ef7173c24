//! External contours of a binary mask and one seed per contour.
//!
//! Reference behaviour matched (bit-exact, golden-tested against OpenCV 4.12.0 through
//! opencv-python-headless 4.12.0.88):
//!
//! * [`external_contours`] = `cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)`
//!   on a `uint8` mask (non-zero = foreground): the same contours, in the same order, with the
//!   same points. OpenCV pads the image with a 1-pixel zero frame before tracing, so objects
//!   touching the image border are traced normally and coordinates are image coordinates.
//! * [`polygon_moments`] = the `m00`, `m10`, `m01` of `cv2.moments(contour)` for an `int32`
//!   point array (polygon moments by Green's theorem, not pixel moments), with OpenCV's
//!   floating-point operation order so that the results are the same doubles.
//! * [`contour_seed`] = the seed samcell 1.1.4 `SlidingWindowPipeline.cells_from_dist_map`
//!   places for one contour: `(int(m10/m00), int(m01/m00))`, or the integer mean of the points
//!   when `m00 == 0`, and nothing for contours with fewer than 3 points.
//!
//! The tracer is Suzuki & Abe's border following ("Topological structural analysis of
//! digitized binary images by border following", 1985) restricted to outer borders whose
//! parent is the frame, written from the paper's description:
//!
//! 1. Raster scan (rows top to bottom, pixels left to right). A pixel starts a new outer
//!    border when it is an unvisited foreground pixel whose left neighbour is background, and
//!    the last *visited border* pixel seen earlier on the same row (if any) was marked as a
//!    right edge (negative). A positive mark means the scan is inside an already traced object
//!    (e.g. in one of its holes), so the object found there is not external.
//! 2. Border following, 8-connected foreground: from the current pixel, search its
//!    8-neighbourhood counter-clockwise (directions 0 = +x, 1 = up-right, 2 = up, ...,
//!    7 = down-right, y pointing down) starting just after the direction of the previous border
//!    pixel; the first foreground pixel found is the next border pixel. The previous pixel of
//!    the start pixel is the first foreground neighbour found clockwise from direction 3.
//!    A pixel whose search passed over a background right neighbour (direction 0) is marked
//!    negative, any other visited pixel positive (negative marks are never overwritten).
//!    Following stops when the pixel after the start pixel's predecessor is the start pixel.
//! 3. `CHAIN_APPROX_SIMPLE`: a visited pixel is output when the direction of the step leaving
//!    it differs from the direction of the previous output step (the start pixel's "previous
//!    step" is the reverse of the direction towards its predecessor, so the start pixel is
//!    always output). An isolated pixel gives a one-point contour.
//! 4. OpenCV returns the contours in the reverse of the order in which the scan found them.

use samcell_imaging::Image;

/// A contour as OpenCV returns it: integer (x, y) points.
pub type Contour = Vec<(i32, i32)>;

/// Step offsets for the 8 chain directions (x right, y down); 0 = +x, counter-clockwise.
const DX: [isize; 8] = [1, 1, 0, -1, -1, -1, 0, 1];
const DY: [isize; 8] = [0, -1, -1, -1, 0, 1, 1, 1];

/// Mark of a visited border pixel whose right neighbour is background seen from the border.
const RIGHT_EDGE: i8 = -2;
/// Mark of any other visited border pixel.
const VISITED: i8 = 2;

/// OpenCV `findContours(mask, RETR_EXTERNAL, CHAIN_APPROX_SIMPLE)`: same contours, same order,
/// same points. Non-zero pixels are foreground.
pub fn external_contours(mask: &Image<u8>) -> Vec<Contour> {
    external_contours_where(mask.width(), mask.height(), |y, x| mask.row(y)[x] != 0)
}

/// [`external_contours`] of the `width x height` mask whose foreground pixels are those where
/// `foreground(y, x)` is true, without materialising the mask (one byte per pixel of working
/// memory, the tracer's own framed copy).
pub fn external_contours_where(
    width: usize,
    height: usize,
    foreground: impl Fn(usize, usize) -> bool,
) -> Vec<Contour> {
    let (w, h) = (width, height);
    if w == 0 || h == 0 {
        return Vec::new();
    }
    // Work on a copy framed by one background pixel on every side (OpenCV does the same), so
    // every neighbour of an image pixel exists and border pixels need no special case.
    let pw = w + 2;
    let mut buf = vec![0i8; pw * (h + 2)];
    for y in 0..h {
        let dst = &mut buf[(y + 1) * pw + 1..(y + 1) * pw + 1 + w];
        for (x, d) in dst.iter_mut().enumerate() {
            *d = i8::from(foreground(y, x));
        }
    }
    let offsets: [isize; 8] = std::array::from_fn(|d| DY[d] * pw as isize + DX[d]);

    let mut found = Vec::new();
    for y in 1..=h {
        let row = y * pw;
        let mut prev = 0i8;
        // Sign of the last visited border pixel met on this row; 0 = none yet (the frame).
        let mut last_mark = 0i8;
        for x in 1..=w {
            let idx = row + x;
            let p = buf[idx];
            if p == prev {
                continue;
            }
            if prev == 0 && p == 1 && last_mark <= 0 {
                found.push(follow_border(&mut buf, pw, &offsets, idx));
            }
            prev = buf[idx];
            if prev != 0 && prev != 1 {
                last_mark = prev;
            }
        }
    }
    found.reverse();
    found
}

/// Follows the outer border that starts at padded index `start`, marking visited pixels, and
/// returns its `CHAIN_APPROX_SIMPLE` points in image coordinates.
fn follow_border(buf: &mut [i8], pw: usize, offsets: &[isize; 8], start: usize) -> Contour {
    let point = |idx: usize| ((idx % pw) as i32 - 1, (idx / pw) as i32 - 1);
    let step = |idx: usize, d: usize| idx.wrapping_add_signed(offsets[d]);

    // The start pixel's predecessor: first foreground neighbour clockwise from direction 3.
    let first = (0..8)
        .map(|k| (11 - k) & 7)
        .find(|&d| buf[step(start, d)] != 0);
    let Some(mut s) = first else {
        buf[start] = RIGHT_EDGE;
        return vec![point(start)];
    };
    let before_start = step(start, s);
    let mut prev_dir = s ^ 4;
    let mut cur = start;
    let mut contour = Vec::new();
    loop {
        // Counter-clockwise search starting just after the direction of the previous pixel.
        // `k` runs over s+1 ..= s+8; the previous pixel itself (k = s+8) is foreground, so the
        // search always ends. Passing k = 8 (direction 0) means the right neighbour was
        // examined and found to be background.
        let mut k = s + 1;
        while buf[step(cur, k & 7)] == 0 {
            k += 1;
        }
        let d = k & 7;
        if k > 8 {
            buf[cur] = RIGHT_EDGE;
        } else if buf[cur] == 1 {
            buf[cur] = VISITED;
        }
        if d != prev_dir {
            contour.push(point(cur));
            prev_dir = d;
        }
        let next = step(cur, d);
        if next == start && cur == before_start {
            break;
        }
        cur = next;
        s = (d + 4) & 7;
    }
    contour
}

/// The spatial moments `(m00, m10, m01)` of `cv2.moments` on an `int32` contour: polygon
/// moments by Green's theorem over the closed polygon through the points, made positive
/// whatever the orientation, and all zero when `|2 m00| <= FLT_EPSILON`.
pub fn polygon_moments(contour: &[(i32, i32)]) -> (f64, f64, f64) {
    let Some(&(lx, ly)) = contour.last() else {
        return (0.0, 0.0, 0.0);
    };
    let (mut a00, mut a10, mut a01) = (0.0f64, 0.0f64, 0.0f64);
    let (mut xp, mut yp) = (f64::from(lx), f64::from(ly));
    for &(x, y) in contour {
        let (x, y) = (f64::from(x), f64::from(y));
        let cross = xp * y - x * yp;
        a00 += cross;
        a10 += cross * (xp + x);
        a01 += cross * (yp + y);
        xp = x;
        yp = y;
    }
    if a00.abs() <= f64::from(f32::EPSILON) {
        return (0.0, 0.0, 0.0);
    }
    let (half, sixth) = if a00 > 0.0 {
        (0.5, 1.0 / 6.0)
    } else {
        (-0.5, -1.0 / 6.0)
    };
    (a00 * half, a10 * sixth, a01 * sixth)
}

/// The seed samcell places for a contour: `(int(m10/m00), int(m01/m00))` of the polygon
/// moments, or the integer mean of the points when `m00 == 0`; `None` for < 3 points.
/// The seed is not clamped into the image (see [`crate::seeds_from_peaks`]).
pub fn contour_seed(contour: &Contour) -> Option<(i32, i32)> {
    if contour.len() < 3 {
        return None;
    }
    let (m00, m10, m01) = polygon_moments(contour);
    if m00 != 0.0 {
        // Python's int() truncates toward zero, as does `as` (saturating far outside i32).
        return Some(((m10 / m00) as i32, (m01 / m00) as i32));
    }
    // np.mean over integer coordinates: an exact f64 sum divided by the count.
    let n = contour.len() as f64;
    let sx: f64 = contour.iter().map(|p| f64::from(p.0)).sum();
    let sy: f64 = contour.iter().map(|p| f64::from(p.1)).sum();
    Some(((sx / n) as i32, (sy / n) as i32))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(rows: &[&str]) -> Image<u8> {
        let h = rows.len();
        let w = rows[0].len();
        let data = rows
            .iter()
            .flat_map(|r| r.bytes().map(|b| u8::from(b == b'#')))
            .collect();
        Image::from_vec(w, h, data).expect("consistent rows")
    }

    #[test]
    fn full_image_is_one_rectangle_at_the_border() {
        // cv2 4.12: np.ones((4,5)) -> [[0,0],[0,3],[4,3],[4,0]]
        let m = Image::filled(5, 4, 1u8);
        assert_eq!(
            external_contours(&m),
            vec![vec![(0, 0), (0, 3), (4, 3), (4, 0)]]
        );
    }

    #[test]
    fn reverse_scan_order_and_diagonal_connectivity() {
        // cv2 4.12 output for this mask (checked by hand against opencv-python 4.12.0.88).
        let m = mask(&[
            "#......", ".####..", ".####..", ".####..", ".......", "......#",
        ]);
        assert_eq!(
            external_contours(&m),
            vec![
                vec![(6, 5)],
                vec![(0, 0), (1, 1), (1, 3), (4, 3), (4, 1), (1, 1)]
            ]
        );
    }

    #[test]
    fn ring_gives_one_contour_and_island_in_hole_is_skipped() {
        let m = mask(&["#####", "#...#", "#.#.#", "#...#", "#####"]);
        assert_eq!(
            external_contours(&m),
            vec![vec![(0, 0), (0, 4), (4, 4), (4, 0)]]
        );
    }

    #[test]
    fn moments_and_seed_of_hexagon() {
        // cv2.moments([[1,0],[0,1],[1,2],[3,2],[4,1],[3,0]]): m00 6, m10 12, m01 6.
        let c = vec![(1, 0), (0, 1), (1, 2), (3, 2), (4, 1), (3, 0)];
        assert_eq!(polygon_moments(&c), (6.0, 12.0, 6.0));
        assert_eq!(contour_seed(&c), Some((2, 1)));
    }

    #[test]
    fn degenerate_contours() {
        assert_eq!(contour_seed(&vec![(3, 3)]), None);
        assert_eq!(contour_seed(&vec![(0, 0), (5, 0)]), None);
        // Zero area: integer mean of the points, truncated: (0+0+2+0)/4 = 0.5 -> 0, (0+2+2+2)/4 = 1.5 -> 1.
        assert_eq!(
            contour_seed(&vec![(0, 0), (0, 2), (2, 2), (0, 2)]),
            Some((0, 1))
        );
    }
}
