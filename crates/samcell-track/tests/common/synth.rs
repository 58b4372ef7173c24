//! Synthetic time-lapse sequences with known lineage: a colony of touching cells (each pixel
//! belongs to the nearest cell centre within a cell's radius, a Voronoi tiling clipped to
//! discs) that expands outward from the image centre, so cells at its edge move further per
//! frame than their own size, with jitter, and whose cells divide into two daughters that
//! share the parent's place.

use samcell_imaging::Labels;

/// splitmix64: a small seeded generator (tests need no random crate).
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[derive(Clone, Debug)]
struct Cell {
    id: u32,
    x: f64,
    y: f64,
    r: f64,
    /// frames until it divides
    timer: u32,
}

/// Settings of [`colony`].
pub struct Colony {
    pub width: usize,
    pub height: usize,
    pub frames: usize,
    /// cells at the start, on a jittered grid around the centre
    pub start_cells: usize,
    /// cell radius, px
    pub radius: f64,
    /// outward expansion per frame (a point at distance d from the centre moves d * growth)
    pub growth: f64,
    /// random displacement per frame, px (uniform in ±jitter)
    pub jitter: f64,
    /// frames between divisions (each cell's first timer is drawn in 1..=period)
    pub period: u32,
    pub seed: u64,
}

/// Ground-truth tracks `(id, first frame, last frame, parent)`.
pub type GtTrack = (u32, usize, usize, u32);

/// The frames (labels are the ground-truth track ids, unique over the sequence) and the
/// ground-truth tracks `(id, first, last, parent)`.
pub fn colony(c: &Colony) -> (Vec<Labels>, Vec<GtTrack>) {
    let mut rng = Rng(c.seed);
    let (cx, cy) = (c.width as f64 / 2.0, c.height as f64 / 2.0);
    let side = (c.start_cells as f64).sqrt().ceil() as usize;
    let step = 1.8 * c.radius;
    let mut cells = Vec::new();
    let mut tracks: Vec<GtTrack> = Vec::new();
    for i in 0..c.start_cells {
        let (gx, gy) = ((i % side) as f64, (i / side) as f64);
        let id = tracks.len() as u32 + 1;
        tracks.push((id, 0, 0, 0));
        cells.push(Cell {
            id,
            x: cx + (gx - side as f64 / 2.0) * step + (rng.unit() - 0.5),
            y: cy + (gy - side as f64 / 2.0) * step + (rng.unit() - 0.5),
            r: c.radius,
            timer: 1 + (rng.next_u64() % u64::from(c.period)) as u32,
        });
    }
    let mut frames = Vec::new();
    for t in 0..c.frames {
        if t > 0 {
            let mut next = Vec::new();
            for cell in cells.drain(..) {
                let (dx, dy) = (cell.x - cx, cell.y - cy);
                let (mut x, mut y) = (
                    cell.x + dx * c.growth + (rng.unit() - 0.5) * 2.0 * c.jitter,
                    cell.y + dy * c.growth + (rng.unit() - 0.5) * 2.0 * c.jitter,
                );
                x = x.clamp(-50.0, c.width as f64 + 50.0);
                y = y.clamp(-50.0, c.height as f64 + 50.0);
                if cell.timer <= 1 {
                    let a = rng.unit() * std::f64::consts::PI;
                    let (ox, oy) = (a.cos() * cell.r * 0.5, a.sin() * cell.r * 0.5);
                    for s in [-1.0, 1.0] {
                        let id = tracks.len() as u32 + 1;
                        tracks.push((id, t, t, cell.id));
                        next.push(Cell {
                            id,
                            x: x + s * ox,
                            y: y + s * oy,
                            r: cell.r * 0.75,
                            timer: c.period,
                        });
                    }
                } else {
                    next.push(Cell {
                        x,
                        y,
                        r: (cell.r * 1.03).min(c.radius),
                        timer: cell.timer - 1,
                        ..cell
                    });
                }
            }
            cells = next;
        }
        frames.push(render(&cells, c.width, c.height));
        // tracks last to the last frame in which they have a pixel
        let present: std::collections::HashSet<u32> = frames[t]
            .data()
            .iter()
            .copied()
            .filter(|&l| l > 0)
            .collect();
        for &id in &present {
            tracks[id as usize - 1].2 = t;
        }
    }
    (frames, tracks)
}

/// Each pixel to the nearest centre whose disc holds it.
fn render(cells: &[Cell], w: usize, h: usize) -> Labels {
    let mut best = vec![f64::INFINITY; w * h];
    let mut out = vec![0u32; w * h];
    for c in cells {
        let (x0, x1) = (
            (c.x - c.r).floor().max(0.0) as usize,
            (c.x + c.r).ceil().min(w as f64 - 1.0),
        );
        let (y0, y1) = (
            (c.y - c.r).floor().max(0.0) as usize,
            (c.y + c.r).ceil().min(h as f64 - 1.0),
        );
        if x1 < 0.0 || y1 < 0.0 {
            continue;
        }
        for y in y0..=y1 as usize {
            for x in x0..=x1 as usize {
                let d = (x as f64 - c.x).powi(2) + (y as f64 - c.y).powi(2);
                if d <= c.r * c.r && d < best[y * w + x] {
                    best[y * w + x] = d;
                    out[y * w + x] = c.id;
                }
            }
        }
    }
    Labels::from_vec(w, h, out).unwrap()
}
