//! A small test-only decoder of ImageJ `.roi` files, written from the layout ImageJ's
//! `RoiDecoder` reads: enough to check the polygon and composite ROIs samcell writes.
//!
//! [`decode`] reads the header, the vertices or the composite shape array, header 2 and the
//! name, asserting the layout holds together (magic, header 2 right after the data, nothing
//! after the name); [`Roi::rings`] turns the outline back into image-coordinate rings.

/// What a `.roi` file says, decoded the way ImageJ's `RoiDecoder` reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Roi {
    /// The format version (header bytes 4..6).
    pub version: u16,
    /// The ROI type: 0 polygon, 1 rectangle (with a shape array: composite).
    pub kind: u8,
    /// top, left, bottom, right.
    pub bounds: (i32, i32, i32, i32),
    /// Absolute pixel-corner vertices of a polygon ROI (empty for a composite).
    pub vertices: Vec<(i32, i32)>,
    /// The float shape array of a composite ROI: MOVETO (0) x y, LINETO (1) x y, CLOSE (4).
    pub shape: Vec<f32>,
    /// Header field `position` (the stack slice, 0 = none).
    pub position: i32,
    /// Hyperstack channel, slice, frame of header 2.
    pub cztp: (i32, i32, i32),
    /// The name stored in the ROI.
    pub name: String,
}

/// Decodes one `.roi` file; panics when the bytes do not hold together as one.
pub fn decode(b: &[u8]) -> Roi {
    let u16_at = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
    // ImageJ's getShort: signed, but values below -5000 are read as unsigned
    let short = |i: usize| {
        let v = i32::from(u16_at(i) as i16);
        if v < -5000 {
            v + 65536
        } else {
            v
        }
    };
    let int = |i: usize| i32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    assert_eq!(&b[..4], b"Iout", "not an ImageJ ROI");
    let (top, left) = (short(8), short(10));
    let n = usize::from(u16_at(16));
    let shape_size = int(36) as usize;
    let mut vertices = Vec::new();
    let mut shape = Vec::new();
    if shape_size > 0 {
        assert_eq!(n, 0, "a composite ROI has no polygon vertices");
        shape = (0..shape_size)
            .map(|i| f32::from_bits(int(64 + 4 * i) as u32))
            .collect();
    } else {
        for i in 0..n {
            let (x, y) = (short(64 + 2 * i), short(64 + 2 * n + 2 * i));
            vertices.push((left + x.max(0), top + y.max(0)));
        }
    }
    let h2 = int(60) as usize;
    assert_eq!(h2, 64 + 4 * n + 4 * shape_size, "header 2 follows the data");
    let (name_at, name_len) = (int(h2 + 16) as usize, int(h2 + 20) as usize);
    let units: Vec<u16> = (0..name_len).map(|i| u16_at(name_at + 2 * i)).collect();
    assert_eq!(b.len(), h2 + 64 + 2 * name_len, "nothing after the name");
    Roi {
        version: u16_at(4),
        kind: b[6],
        bounds: (top, left, short(12), short(14)),
        vertices,
        shape,
        position: int(56),
        cztp: (int(h2 + 4), int(h2 + 8), int(h2 + 12)),
        name: String::from_utf16(&units).expect("UTF-16 name"),
    }
}

impl Roi {
    /// The outline as rings of image-coordinate vertices, each closed (its first vertex repeated
    /// at the end): the polygon's one ring, or the composite's rings in shape-array order.
    /// Panics on a type that does not match the data or a malformed shape array.
    pub fn rings(&self) -> Vec<Vec<[f64; 2]>> {
        let close = |mut ring: Vec<[f64; 2]>| {
            assert!(!ring.is_empty(), "empty ring");
            ring.push(ring[0]);
            ring
        };
        if self.shape.is_empty() {
            assert_eq!(self.kind, 0, "polygon ROI type");
            let ring = self
                .vertices
                .iter()
                .map(|&(x, y)| [f64::from(x), f64::from(y)])
                .collect();
            return vec![close(ring)];
        }
        assert_eq!(self.kind, 1, "composite ROI type");
        let f = |i: usize| f64::from(self.shape[i]);
        let (mut rings, mut ring) = (Vec::new(), Vec::new());
        let mut i = 0;
        while i < self.shape.len() {
            match f(i) as u32 {
                0 | 1 => {
                    if f(i) == 0.0 {
                        assert!(ring.is_empty(), "MOVETO inside an open ring");
                    }
                    ring.push([f(i + 1), f(i + 2)]);
                    i += 3;
                }
                4 => {
                    rings.push(close(std::mem::take(&mut ring)));
                    i += 1;
                }
                s => panic!("segment type {s}"),
            }
        }
        assert!(ring.is_empty(), "unclosed ring");
        rings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `.roi` file laid out by hand: header, `data`, header 2 with the position and the name.
    fn roi_bytes(kind: u8, n: u16, data: &[u8], shape_size: i32, name: &str) -> Vec<u8> {
        let mut b = vec![0u8; 64];
        b[..4].copy_from_slice(b"Iout");
        b[4..6].copy_from_slice(&228u16.to_be_bytes());
        b[6] = kind;
        for (at, v) in [(8, 3u16), (10, 2), (12, 7), (14, 5), (16, n)] {
            b[at..at + 2].copy_from_slice(&v.to_be_bytes());
        }
        b[36..40].copy_from_slice(&shape_size.to_be_bytes());
        b[56..60].copy_from_slice(&4i32.to_be_bytes());
        let h2 = 64 + data.len();
        b[60..64].copy_from_slice(&(h2 as i32).to_be_bytes());
        b.extend(data);
        let mut header2 = vec![0u8; 64];
        header2[16..20].copy_from_slice(&((h2 + 64) as i32).to_be_bytes());
        header2[20..24].copy_from_slice(&(name.len() as i32).to_be_bytes());
        b.extend(header2);
        b.extend(name.encode_utf16().flat_map(u16::to_be_bytes));
        b
    }

    #[test]
    fn polygon_vertices_are_absolute_and_the_ring_closed() {
        let (xs, ys) = ([0u16, 3, 3, 0], [0u16, 0, 4, 4]);
        let data: Vec<u8> = xs.iter().chain(&ys).flat_map(|v| v.to_be_bytes()).collect();
        let roi = decode(&roi_bytes(0, 4, &data, 0, "0007"));
        assert_eq!((roi.version, roi.kind), (228, 0));
        assert_eq!(roi.bounds, (3, 2, 7, 5));
        assert_eq!(roi.vertices, [(2, 3), (5, 3), (5, 7), (2, 7)]);
        assert_eq!((roi.position, roi.cztp), (4, (0, 0, 0)));
        assert_eq!(roi.name, "0007");
        let square = [[2., 3.], [5., 3.], [5., 7.], [2., 7.], [2., 3.]];
        assert_eq!(roi.rings(), [square.to_vec()]);
    }

    #[test]
    fn composite_shape_gives_one_ring_per_close() {
        #[rustfmt::skip]
        let shape: [f32; 20] = [
            0., 2., 3., 1., 5., 3., 1., 5., 7., 4.,
            0., 3., 4., 1., 4., 4., 1., 4., 5., 4.,
        ];
        let data: Vec<u8> = shape
            .iter()
            .flat_map(|v| v.to_bits().to_be_bytes())
            .collect();
        let roi = decode(&roi_bytes(1, 0, &data, 20, "c"));
        assert_eq!(roi.shape, shape);
        assert_eq!(
            roi.rings(),
            [
                vec![[2., 3.], [5., 3.], [5., 7.], [2., 3.]],
                vec![[3., 4.], [4., 4.], [4., 5.], [3., 4.]],
            ]
        );
    }

    #[test]
    #[should_panic(expected = "not an ImageJ ROI")]
    fn other_bytes_are_refused() {
        decode(&[0u8; 128]);
    }
}
