//! The cells of one frame: every non-zero label of a label image is one cell (its pixels need
//! not be connected). Cells are numbered in the raster order of their first pixel (top row
//! first, left to right), so the numbering, and everything the linker derives from it, does not
//! depend on the label values.

use samcell_imaging::Labels;
use std::collections::HashMap;

/// One cell of a frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cell {
    /// Its value in the frame's label image.
    pub label: u32,
    /// Pixel count.
    pub area: u64,
    /// Centroid column, px.
    pub cx: f64,
    /// Centroid row, px.
    pub cy: f64,
    /// A pixel lies within the border margin of the image edge.
    pub touches_border: bool,
    /// Bounding box: smallest and largest column and row of its pixels (inclusive).
    pub bbox: [usize; 4],
}

/// The cells of one frame with their pixels.
#[derive(Clone, Debug)]
pub struct FrameCells {
    /// Image width, px.
    pub width: usize,
    /// Image height, px.
    pub height: usize,
    /// The cells, numbered in raster order of their first pixel.
    pub cells: Vec<Cell>,
    /// Per pixel: the cell number + 1, 0 for background.
    index: Vec<u32>,
    /// Pixel offsets of cell k are `pixels[start[k]..start[k + 1]]`.
    start: Vec<usize>,
    pixels: Vec<u32>,
}

impl FrameCells {
    /// The cells of `labels`; `border_margin` as in [`crate::TrackConfig::border_margin`].
    pub fn new(labels: &Labels, border_margin: usize) -> Self {
        let (w, h) = (labels.width(), labels.height());
        let mut number: HashMap<u32, u32> = HashMap::new();
        let mut cells: Vec<Cell> = Vec::new();
        let mut sums: Vec<(u64, u64)> = Vec::new();
        let mut index = vec![0u32; w * h];
        let mut last: (u32, u32) = (0, 0);
        for (i, &l) in labels.data().iter().enumerate() {
            if l == 0 {
                continue;
            }
            let k = if last.0 == l {
                last.1
            } else {
                let next = cells.len() as u32;
                let k = *number.entry(l).or_insert(next);
                if k == next {
                    cells.push(Cell {
                        label: l,
                        area: 0,
                        cx: 0.0,
                        cy: 0.0,
                        touches_border: false,
                        bbox: [usize::MAX, 0, usize::MAX, 0],
                    });
                    sums.push((0, 0));
                }
                last = (l, k);
                k
            };
            let (x, y) = (i % w, i / w);
            let c = &mut cells[k as usize];
            c.area += 1;
            c.bbox = [
                c.bbox[0].min(x),
                c.bbox[1].max(x),
                c.bbox[2].min(y),
                c.bbox[3].max(y),
            ];
            if x < border_margin
                || y < border_margin
                || x + border_margin >= w
                || y + border_margin >= h
            {
                c.touches_border = true;
            }
            sums[k as usize].0 += x as u64;
            sums[k as usize].1 += y as u64;
            index[i] = k + 1;
        }
        for (c, s) in cells.iter_mut().zip(&sums) {
            c.cx = s.0 as f64 / c.area as f64;
            c.cy = s.1 as f64 / c.area as f64;
        }
        let mut start = Vec::with_capacity(cells.len() + 1);
        let mut acc = 0usize;
        start.push(0);
        for c in &cells {
            acc += c.area as usize;
            start.push(acc);
        }
        let mut fill = start.clone();
        let mut pixels = vec![0u32; acc];
        for (i, &k) in index.iter().enumerate() {
            if k > 0 {
                let f = &mut fill[k as usize - 1];
                pixels[*f] = i as u32;
                *f += 1;
            }
        }
        Self {
            width: w,
            height: h,
            cells,
            index,
            start,
            pixels,
        }
    }

    /// The equivalent diameter (sqrt(4 area / pi)) of the median cell area; 0 without cells.
    pub fn median_diameter(&self) -> f64 {
        let mut areas: Vec<u64> = self.cells.iter().map(|c| c.area).collect();
        if areas.is_empty() {
            return 0.0;
        }
        areas.sort_unstable();
        (4.0 * areas[areas.len() / 2] as f64 / std::f64::consts::PI).sqrt()
    }

    /// Overlaps of cell `k` of this frame, shifted by `(dx, dy)` px, with the cells of `next`
    /// (same size): `(cell of next, overlapping pixels)`, in order of first contact. Shifted
    /// pixels outside the image count for nothing.
    pub fn overlaps(&self, k: usize, (dx, dy): (i64, i64), next: &FrameCells) -> Vec<(u32, u64)> {
        let mut out: Vec<(u32, u64)> = Vec::new();
        let mut count = |j: u32| {
            if j > 0 {
                match out.iter_mut().find(|(c, _)| *c == j - 1) {
                    Some(e) => e.1 += 1,
                    None => out.push((j - 1, 1)),
                }
            }
        };
        let (w, h) = (self.width as i64, self.height as i64);
        let pixels = &self.pixels[self.start[k]..self.start[k + 1]];
        let [x0, x1, y0, y1] = self.cells[k].bbox.map(|v| v as i64);
        if x0 + dx >= 0 && x1 + dx < w && y0 + dy >= 0 && y1 + dy < h {
            // the whole cell stays inside: a shift is a constant offset of the pixel index
            let offset = dy * w + dx;
            for &p in pixels {
                count(next.index[(i64::from(p) + offset) as usize]);
            }
        } else {
            for &p in pixels {
                let (x, y) = (
                    (p as usize % self.width) as i64 + dx,
                    (p as usize / self.width) as i64 + dy,
                );
                if x >= 0 && y >= 0 && x < w && y < h {
                    count(next.index[(y * w + x) as usize]);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_numbered_in_raster_order_whatever_their_labels() {
        let l = Labels::from_vec(4, 3, vec![0, 9, 9, 0, 5, 5, 0, 0, 0, 0, 0, 7]).unwrap();
        let f = FrameCells::new(&l, 0);
        let labels: Vec<u32> = f.cells.iter().map(|c| c.label).collect();
        assert_eq!(labels, [9, 5, 7]);
        assert_eq!(f.cells[0].area, 2);
        assert_eq!((f.cells[0].cx, f.cells[0].cy), (1.5, 0.0));
        let g = FrameCells::new(&l, 1);
        assert!(g.cells.iter().all(|c| c.touches_border));
        // shifted one pixel down, cell 9 lands on cell 5's row: one pixel overlaps
        assert_eq!(f.overlaps(0, (0, 1), &f), vec![(1, 1)]);
        assert_eq!(f.overlaps(2, (0, 1), &f), vec![]);
    }
}
