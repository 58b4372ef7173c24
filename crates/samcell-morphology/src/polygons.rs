//! Pixel-edge outlines of labelled cells, as GeoJSON-style polygons.
//!
//! [`label_polygons`] turns a label image (0 = background, every other value one cell) into one
//! [`LabelPolygons`] per label present, in increasing label order. The outline runs along pixel
//! edges: pixel `(x, y)` is the square `[x, x+1] x [y, y+1]`, vertices sit at pixel corners in
//! pixel coordinates (x to the right, y down, origin at the top-left corner of the image), so a
//! point-in-polygon test (even-odd or non-zero rule, the same here) at the pixel centres
//! `(x + 0.5, y + 0.5)` gives back exactly the label's pixels.
//!
//! - **Connectivity.** Pixels of a label belong together when they are 4-adjacent (share an
//!   edge). Each 4-connected part of a label becomes its own polygon, so a label in several
//!   parts gives several polygons (a GeoJSON MultiPolygon), ordered by each part's first pixel
//!   in raster order. Pixels that touch only at a corner are separate parts (or, when they are
//!   joined the long way round, the part's outline passes the corner twice, see pinches).
//! - **Holes.** A polygon's first ring is the exterior; every further ring is a hole: a region
//!   of other pixels (background or other labels) enclosed by the part. Background is thus
//!   8-connected: a region that reaches the outside only through a corner is not a hole. Other
//!   parts of the same label inside a hole are polygons of their own.
//! - **Orientation.** Coordinates are written as they are (y down). Orientation is that of the
//!   shoelace formula on these numbers, the usual y-up convention of GeoJSON (RFC 7946 section
//!   3.1.6): exteriors are counter-clockwise (positive signed area) and holes clockwise
//!   (negative signed area) when the numbers are plotted with y up; on screen, with y down,
//!   they appear mirrored (exteriors clockwise).
//! - **Rings.** Every ring is closed (its last vertex repeats its first), has no collinear
//!   vertices (only corners where the outline turns), and is simple: it never touches or
//!   crosses itself or the other rings of the label.
//! - **Pinches.** Where two pixels of the same label meet only at a corner (the other two
//!   pixels around that corner are not of the label), an outline through that corner would
//!   touch another ring (or itself). There the corner is cut: the vertex is replaced by two
//!   vertices [`PINCH_CUT`] pixels before and after it along the outline, which keeps every
//!   ring simple and changes no pixel centre's side.
//!
//! Exteriors are traced from the top edge of the part's first pixel in raster order, holes
//! from their first edge in raster order; each ring starts at the first corner after that
//! edge, so the output is deterministic.

use crate::MorphologyError;
use samcell_imaging::Labels;

/// How far (in pixels) a pinch corner's two replacement vertices sit from the corner.
pub const PINCH_CUT: f64 = 1.0 / 64.0;

/// A closed ring of `[x, y]` vertices in pixel coordinates (last vertex == first vertex).
pub type Ring = Vec<[f64; 2]>;

/// A polygon in GeoJSON layout: the exterior ring first, then the holes.
pub type Polygon = Vec<Ring>;

/// The polygons of one label: one per 4-connected part.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelPolygons {
    /// The label value (never 0).
    pub label: u32,
    /// One polygon per 4-connected part, in raster order of the parts' first pixels.
    pub polygons: Vec<Polygon>,
}

/// Unit steps of the four sides of a pixel: up (y - 1), right, down, left, in image rows.
const DIRS: [(i64, i64); 4] = [(0, -1), (1, 0), (0, 1), (-1, 0)];

/// Outline polygons of every label in `labels` (see the module documentation).
pub fn label_polygons(labels: &Labels) -> Result<Vec<LabelPolygons>, MorphologyError> {
    let (w, h) = (labels.width(), labels.height());
    if w.checked_add(1)
        .and_then(|a| a.checked_mul(h + 1))
        .is_none()
        || w * h > u32::MAX as usize
    {
        return Err(MorphologyError::Shape(format!(
            "label image {w}x{h} too large to outline"
        )));
    }
    let t = Tracer {
        w,
        h,
        lab: labels.data(),
        comp: components(labels),
    };
    // Per pixel, the sides (bit s for DIRS[s]) whose edge has been traced.
    let mut done = vec![0u8; w * h];
    // Part number -> (label, rings), parts numbered from 1 in raster order of first pixels.
    let mut parts: Vec<(u32, Polygon)> = Vec::new();
    for p in 0..w * h {
        let c = t.comp[p] as usize;
        if c > parts.len() {
            // The part's first pixel in raster order has nothing of the part above it: its top
            // edge is on the exterior.
            parts.push((t.lab[p], vec![t.trace(p, 0, &mut done)]));
        }
    }
    // Every edge not on an exterior is on a hole of its part.
    for p in 0..w * h {
        if t.lab[p] == 0 {
            continue;
        }
        let (x, y) = ((p % w) as i64, (p / w) as i64);
        for (s, &(dx, dy)) in DIRS.iter().enumerate() {
            let inside = t.at(x + dx, y + dy).is_some_and(|q| t.comp[q] == t.comp[p]);
            if !inside && done[p] & (1 << s) == 0 {
                let ring = t.trace(p, s, &mut done);
                parts[t.comp[p] as usize - 1].1.push(ring);
            }
        }
    }
    parts.sort_by_key(|&(l, _)| l); // stable: parts of a label stay in raster order
    let mut out: Vec<LabelPolygons> = Vec::new();
    for (label, poly) in parts {
        match out.last_mut() {
            Some(last) if last.label == label => last.polygons.push(poly),
            _ => out.push(LabelPolygons {
                label,
                polygons: vec![poly],
            }),
        }
    }
    Ok(out)
}

/// 4-connected parts: pixels with the same non-zero label joined by shared edges get the same
/// part number (numbered from 1 in raster order of first pixels); background gets 0.
fn components(labels: &Labels) -> Vec<u32> {
    let (w, h) = (labels.width(), labels.height());
    let lab = labels.data();
    let mut comp = vec![0u32; w * h];
    let mut next = 0u32;
    let mut stack = Vec::new();
    for start in 0..w * h {
        if lab[start] == 0 || comp[start] != 0 {
            continue;
        }
        next += 1;
        comp[start] = next;
        stack.push(start);
        while let Some(p) = stack.pop() {
            let (x, y) = (p % w, p / w);
            let mut visit = |q: usize| {
                if lab[q] == lab[p] && comp[q] == 0 {
                    comp[q] = next;
                    stack.push(q);
                }
            };
            if x > 0 {
                visit(p - 1);
            }
            if x + 1 < w {
                visit(p + 1);
            }
            if y > 0 {
                visit(p - w);
            }
            if y + 1 < h {
                visit(p + w);
            }
        }
    }
    comp
}

struct Tracer<'a> {
    w: usize,
    h: usize,
    lab: &'a [u32],
    comp: Vec<u32>,
}

impl Tracer<'_> {
    /// Index of pixel `(x, y)`, or `None` outside the image.
    fn at(&self, x: i64, y: i64) -> Option<usize> {
        (x >= 0 && y >= 0 && (x as usize) < self.w && (y as usize) < self.h)
            .then(|| y as usize * self.w + x as usize)
    }

    /// Follows the outline from the edge on side `side` of pixel `p` until it closes, marking
    /// the traced edges in `done`. The part lies to the left of the walking direction in y-up
    /// orientation (to the right on screen).
    fn trace(&self, p0: usize, side0: usize, done: &mut [u8]) -> Ring {
        let c = self.comp[p0];
        let in_part = |x: i64, y: i64| self.at(x, y).is_some_and(|q| self.comp[q] == c);
        let label = self.lab[p0];
        let same_label = |x: i64, y: i64| self.at(x, y).is_some_and(|q| self.lab[q] == label);
        let mut ring: Ring = Vec::new();
        let (mut p, mut side) = (p0, side0);
        loop {
            done[p] |= 1 << side;
            let (x, y) = ((p % self.w) as i64, (p / self.w) as i64);
            // The edge on `side` runs along direction d = DIRS[side + 1] (y down: up side goes
            // right, right side goes down...); n = DIRS[side] points out of the part.
            let (n, d) = (DIRS[side], DIRS[(side + 1) % 4]);
            // End corner of the edge: the pixel's corner between sides `side` and `side + 1`.
            let vx = x as f64 + 0.5 + 0.5 * (n.0 + d.0) as f64;
            let vy = y as f64 + 0.5 + 0.5 * (n.1 + d.1) as f64;
            let (ax, ay) = (x + d.0, y + d.1); // ahead
            let (bx, by) = (ax + n.0, ay + n.1); // ahead and outside (diagonal)
            if !in_part(ax, ay) {
                // Turn: the next edge is the same pixel's next side.
                let next_side = (side + 1) % 4;
                let d2 = DIRS[(next_side + 1) % 4];
                if same_label(bx, by) {
                    // Pinch: cut the corner.
                    ring.push([vx - PINCH_CUT * d.0 as f64, vy - PINCH_CUT * d.1 as f64]);
                    ring.push([vx + PINCH_CUT * d2.0 as f64, vy + PINCH_CUT * d2.1 as f64]);
                } else {
                    ring.push([vx, vy]);
                }
                side = next_side;
            } else if !in_part(bx, by) {
                // Straight on along the pixel ahead: no vertex.
                p = (ay as usize) * self.w + ax as usize;
            } else {
                // Turn the other way, onto the diagonal pixel's side facing back.
                ring.push([vx, vy]);
                p = (by as usize) * self.w + bx as usize;
                side = (side + 3) % 4;
            }
            if p == p0 && side == side0 {
                break;
            }
        }
        // Start at the first edge's end (the ring was built from there); close it.
        ring.push(ring[0]);
        ring
    }
}

/// Signed area of a closed ring by the shoelace formula on the coordinates as written
/// (positive = counter-clockwise with y up).
pub fn signed_area(ring: &[[f64; 2]]) -> f64 {
    ring.windows(2)
        .map(|s| s[0][0] * s[1][1] - s[1][0] * s[0][1])
        .sum::<f64>()
        / 2.0
}
