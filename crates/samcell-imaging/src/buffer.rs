//! A plain row-major, single-channel image buffer shared by every stage.
//!
//! Pixel `(x, y)` lives at `data[y * width + x]`. Multi-channel data never reaches the
//! pipeline: decoders convert to one grey channel first (samcell-io's `read_gray`).

use crate::ImagingError;

/// Row-major single-channel image.
#[derive(Clone, Debug, PartialEq)]
pub struct Image<T> {
    width: usize,
    height: usize,
    data: Vec<T>,
}

impl<T: Copy> Image<T> {
    /// Wraps `data` (row-major, `width * height` long).
    pub fn from_vec(width: usize, height: usize, data: Vec<T>) -> Result<Self, ImagingError> {
        if data.len() != width * height {
            return Err(ImagingError::Shape(format!(
                "buffer of {} values cannot be a {width}x{height} image",
                data.len()
            )));
        }
        Ok(Self {
            width,
            height,
            data,
        })
    }

    /// An image filled with `value`.
    pub fn filled(width: usize, height: usize, value: T) -> Self {
        Self {
            width,
            height,
            data: vec![value; width * height],
        }
    }

    /// Columns (pixels per row).
    pub fn width(&self) -> usize {
        self.width
    }

    /// Rows.
    pub fn height(&self) -> usize {
        self.height
    }

    /// `(height, width)`, the order numpy uses.
    pub fn shape_hw(&self) -> (usize, usize) {
        (self.height, self.width)
    }

    /// All pixels, row-major (`width * height` long).
    pub fn data(&self) -> &[T] {
        &self.data
    }

    /// All pixels, row-major, for writing in place (the shape cannot change).
    pub fn data_mut(&mut self) -> &mut [T] {
        &mut self.data
    }

    /// The row-major pixel buffer, without copying.
    pub fn into_vec(self) -> Vec<T> {
        self.data
    }

    /// Pixel `(x, y)`; panics outside the image.
    #[inline]
    pub fn get(&self, x: usize, y: usize) -> T {
        self.data[y * self.width + x]
    }

    /// Writes pixel `(x, y)`; panics outside the image.
    #[inline]
    pub fn set(&mut self, x: usize, y: usize, v: T) {
        self.data[y * self.width + x] = v;
    }

    /// Row `y` (`width` pixels, left to right); panics past the last row.
    pub fn row(&self, y: usize) -> &[T] {
        &self.data[y * self.width..(y + 1) * self.width]
    }

    /// Row `y` for writing in place; panics past the last row.
    pub fn row_mut(&mut self, y: usize) -> &mut [T] {
        let w = self.width;
        &mut self.data[y * w..(y + 1) * w]
    }

    /// Copies the `w x h` rectangle whose top-left corner is `(x0, y0)`.
    pub fn crop(&self, x0: usize, y0: usize, w: usize, h: usize) -> Result<Self, ImagingError> {
        if x0 + w > self.width || y0 + h > self.height {
            return Err(ImagingError::Shape(format!(
                "crop {w}x{h} at ({x0},{y0}) exceeds the {}x{} image",
                self.width, self.height
            )));
        }
        let mut data = Vec::with_capacity(w * h);
        for y in y0..y0 + h {
            data.extend_from_slice(&self.data[y * self.width + x0..y * self.width + x0 + w]);
        }
        Ok(Self {
            width: w,
            height: h,
            data,
        })
    }

    /// Applies `f` to every pixel.
    pub fn map<U: Copy>(&self, f: impl Fn(T) -> U) -> Image<U> {
        Image {
            width: self.width,
            height: self.height,
            data: self.data.iter().map(|&v| f(v)).collect(),
        }
    }
}

/// 8-bit grey image: what the decoders produce and the model's crops are cut from.
pub type GrayU8 = Image<u8>;
/// Floating-point map: a predicted cell distance map (0 = background, up to 1 at cell
/// centres), a blending mask or any other per-pixel value.
pub type MapF32 = Image<f32>;
/// Label image: 0 is background, each cell has its own positive id.
pub type Labels = Image<u32>;
