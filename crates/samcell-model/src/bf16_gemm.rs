//! bf16 matrix products with f32 accumulation, for the CPU's `bf16` precision.
//!
//! `C = A B (+ bias)`: both operands are rounded to bf16 (round to nearest, ties to even, as
//! `vcvtne2ps2bf16` and PyTorch's `float -> bfloat16` do), every product of two bf16 values is
//! exact in f32, and the sums are f32. This is what PyTorch's CPU autocast computes for a bf16
//! `linear`/`matmul` (oneDNN accumulates in f32), up to summation order.
//!
//! Layout. The right operand is packed once into panels of [`NR`] = 32 columns; inside a panel,
//! K runs in pairs and each pair holds the 32 columns' two values side by side
//! (`[b(2q, j), b(2q+1, j)]` for `j` in the panel): one 64-byte vector per 16 columns, the operand
//! layout of `vdpbf16ps`. The left operand is converted row by row to bf16 (K padded to even with
//! a zero) in a per-thread scratch. A micro-kernel computes [`MR`] rows x 32 columns over the
//! whole K, so each output value is one fixed sequence of operations whatever the blocking and
//! the thread count.
//!
//! Kernels: AVX512-BF16 (`_mm512_dpbf16_ps`), chosen when [`crate::cpu_path::selected`] allows
//! it, else a portable loop with the same rounding (not bit-identical to the SIMD kernel: the
//! instruction's internal order of the pair sum differs; both are tested against an f64
//! reference).

use crate::cpu_path::{self, CpuPath};
use std::mem::MaybeUninit;

/// Columns per packed panel (two 16-lane vectors).
pub const NR: usize = 32;
/// Rows per micro-kernel call (2 x 12 accumulators + 2 operand vectors + 1 broadcast fit in 32
/// vector registers).
pub const MR: usize = 12;
/// Rows of the left operand converted at a time.
const MC: usize = 96;
/// Panels of the right operand walked per row block (8 x 32 columns x 768 K x 2 bytes = 384 KB,
/// about the second-level cache).
const PANELS_PER_CHUNK: usize = 8;

/// `f32 -> bf16`, round to nearest even; NaN stays a (quiet) NaN.
#[inline]
pub fn to_bf16(x: f32) -> u16 {
    let bits = x.to_bits();
    if x.is_nan() {
        return ((bits >> 16) | 0x40) as u16;
    }
    let round = 0x7fff + ((bits >> 16) & 1);
    (bits.wrapping_add(round) >> 16) as u16
}

/// `bf16 -> f32` (exact).
#[inline]
pub fn from_bf16(b: u16) -> f32 {
    f32::from_bits((b as u32) << 16)
}

/// A read-only f32 matrix: element `(r, c)` is `data[offset + r * row_stride + c * col_stride]`.
#[derive(Clone, Copy, Debug)]
pub struct MatView<'a> {
    /// The storage the matrix lies in (possibly a larger tensor's).
    pub data: &'a [f32],
    /// Index in `data` of element `(0, 0)`.
    pub offset: usize,
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// Distance in `data` between vertically adjacent elements.
    pub row_stride: usize,
    /// Distance in `data` between horizontally adjacent elements (1 when rows are contiguous).
    pub col_stride: usize,
}

impl<'a> MatView<'a> {
    /// A row-major `rows x cols` matrix.
    pub fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self {
            data,
            offset: 0,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// The transpose (no copy).
    pub fn t(self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }

    #[inline]
    fn get(&self, r: usize, c: usize) -> f32 {
        self.data[self.offset + r * self.row_stride + c * self.col_stride]
    }

    /// Checks that every element lies inside `data`.
    fn check(&self, what: &str) -> Result<(), String> {
        if self.rows == 0 || self.cols == 0 {
            return Ok(());
        }
        let last =
            self.offset + (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride;
        if last >= self.data.len() {
            return Err(format!(
                "{what}: a {}x{} view reaches element {last} of {}",
                self.rows,
                self.cols,
                self.data.len()
            ));
        }
        Ok(())
    }
}

/// The right operand (`k x n`) in bf16 panels; see the module doc.
#[derive(Clone, Debug, Default)]
pub struct PackedB {
    k: usize,
    n: usize,
    data: Vec<u16>,
}

impl PackedB {
    /// Packs `b` (`k x n`, any strides).
    pub fn pack(b: MatView) -> Result<Self, String> {
        let mut p = Self::default();
        p.repack(b)?;
        Ok(p)
    }

    /// Packs `b` into this buffer, reusing its allocation.
    pub fn repack(&mut self, b: MatView) -> Result<(), String> {
        b.check("bf16 product, right operand")?;
        let (k, n) = (b.rows, b.cols);
        let (kp, panels) = (k.div_ceil(2), n.div_ceil(NR));
        self.k = k;
        self.n = n;
        self.data.clear();
        self.data.resize(panels * kp * 2 * NR, 0);
        for p in 0..panels {
            let panel = &mut self.data[p * kp * 2 * NR..(p + 1) * kp * 2 * NR];
            let cols = NR.min(n - p * NR);
            if b.row_stride == 1 && b.col_stride != 1 {
                // transposed storage (e.g. k^T): each column of b is k contiguous values
                for j in 0..cols {
                    let start = b.offset + (p * NR + j) * b.col_stride;
                    for (kk, &v) in b.data[start..start + k].iter().enumerate() {
                        panel[(kk / 2) * 2 * NR + 2 * j + kk % 2] = to_bf16(v);
                    }
                }
                continue;
            }
            for kk in 0..k {
                let (q, e) = (kk / 2, kk % 2);
                let dst = &mut panel[q * 2 * NR..(q + 1) * 2 * NR];
                if b.col_stride == 1 {
                    let start = b.offset + kk * b.row_stride + p * NR;
                    for (j, &v) in b.data[start..start + cols].iter().enumerate() {
                        dst[2 * j + e] = to_bf16(v);
                    }
                } else {
                    for j in 0..cols {
                        dst[2 * j + e] = to_bf16(b.get(kk, p * NR + j));
                    }
                }
            }
        }
        Ok(())
    }

    /// Rows of the packed operand (the products' inner dimension).
    pub fn k(&self) -> usize {
        self.k
    }

    /// Columns of the packed operand (the products' output columns).
    pub fn n(&self) -> usize {
        self.n
    }

    fn k_pairs(&self) -> usize {
        self.k.div_ceil(2)
    }

    fn panel(&self, p: usize) -> &[u16] {
        let len = self.k_pairs() * 2 * NR;
        &self.data[p * len..(p + 1) * len]
    }
}

/// Converts rows `r0..r0 + rows` of `a` to bf16, row-major with `lda = 2 * ceil(k / 2)` (the pad
/// column is 0).
fn convert_rows(a: &MatView, r0: usize, rows: usize, buf: &mut Vec<u16>, simd: bool) -> usize {
    let k = a.cols;
    let lda = k.div_ceil(2) * 2;
    buf.clear();
    buf.resize(rows * lda, 0);
    for (i, dst) in buf.chunks_exact_mut(lda).enumerate() {
        let r = r0 + i;
        if a.col_stride == 1 {
            let start = a.offset + r * a.row_stride;
            let src = &a.data[start..start + k];
            #[cfg(target_arch = "x86_64")]
            if simd {
                // SAFETY: `simd` is set only when the CPU has AVX-512F and AVX512-BF16.
                unsafe { avx512::convert(src, &mut dst[..k]) };
                continue;
            }
            for (d, &v) in dst.iter_mut().zip(src) {
                *d = to_bf16(v);
            }
        } else {
            for (c, d) in dst.iter_mut().take(k).enumerate() {
                *d = to_bf16(a.get(r, c));
            }
        }
    }
    lda
}

/// Output rows for [`gemm_into`]: `c[i * ldc + j]` is `C(i, j)`.
/// The storage may be uninitialised: the product writes every `C(i, j)` and nothing else.
pub struct OutRows<'a> {
    /// The output storage, at least `(m - 1) * ldc + n` values for an `m x n` product.
    pub data: &'a mut [MaybeUninit<f32>],
    /// Distance in `data` between the starts of consecutive output rows (at least `n`).
    pub ldc: usize,
}

impl<'a> OutRows<'a> {
    /// Over initialised storage.
    pub fn new(data: &'a mut [f32], ldc: usize) -> Self {
        // SAFETY: MaybeUninit<f32> has the layout of f32, and only initialised f32 values are
        // ever written through the view.
        let data = unsafe { &mut *(data as *mut [f32] as *mut [MaybeUninit<f32>]) };
        Self { data, ldc }
    }
}

/// `C = A B (+ bias)` for all rows of `a` (`m x k`), serially on the calling thread. `scratch`
/// holds the converted rows between calls.
pub fn gemm_into(
    a: MatView,
    b: &PackedB,
    bias: Option<&[f32]>,
    c: OutRows,
    scratch: &mut Vec<u16>,
) -> Result<(), String> {
    gemm_into_on(cpu_path::selected(), a, b, bias, c, scratch)
}

/// [`gemm_into`] on a given path (lowered to what the CPU supports).
pub fn gemm_into_on(
    path: CpuPath,
    a: MatView,
    b: &PackedB,
    bias: Option<&[f32]>,
    c: OutRows,
    scratch: &mut Vec<u16>,
) -> Result<(), String> {
    let (m, k, n) = (a.rows, a.cols, b.n);
    a.check("bf16 product, left operand")?;
    if k != b.k {
        return Err(format!("bf16 product: {m}x{k} by {}x{n} do not fit", b.k));
    }
    if bias.is_some_and(|v| v.len() != n) {
        return Err(format!(
            "bf16 product: bias of {} for {n} columns",
            bias.map_or(0, |v| v.len())
        ));
    }
    if m > 0 && (c.ldc < n || c.data.len() < (m - 1) * c.ldc + n) {
        return Err(format!(
            "bf16 product: output of {} values for {m}x{n} (ldc {})",
            c.data.len(),
            c.ldc
        ));
    }
    let simd = path.min(cpu_path::detected()) == CpuPath::Avx512Bf16;
    let panels = n.div_ceil(NR);
    for r0 in (0..m).step_by(MC) {
        let rows = MC.min(m - r0);
        let lda = convert_rows(&a, r0, rows, scratch, simd);
        for p0 in (0..panels).step_by(PANELS_PER_CHUNK) {
            for i0 in (0..rows).step_by(MR) {
                let mr = MR.min(rows - i0);
                for p in p0..panels.min(p0 + PANELS_PER_CHUNK) {
                    let cols = NR.min(n - p * NR);
                    let out_off = (r0 + i0) * c.ldc + p * NR;
                    let tile = Tile {
                        a: &scratch[i0 * lda..(i0 + mr) * lda],
                        lda,
                        mr,
                        b: b.panel(p),
                        cols,
                        bias: bias.map(|v| &v[p * NR..p * NR + cols]),
                    };
                    let out = &mut c.data[out_off..];
                    if simd {
                        #[cfg(target_arch = "x86_64")]
                        // SAFETY: `simd` is true only when the CPU has AVX-512F and AVX512-BF16
                        // (`cpu_path::detected`); the tile's slices hold mr rows of lda values,
                        // k/2 pairs x 64 panel values, and `out` reaches (mr - 1) * ldc + cols
                        // values (checked above).
                        unsafe {
                            avx512::tile(&tile, out, c.ldc)
                        };
                    } else {
                        portable_tile(&tile, out, c.ldc);
                    }
                }
            }
        }
    }
    Ok(())
}

/// One micro-kernel call: `mr` rows x `cols` (<= 32) columns over the whole K.
struct Tile<'a> {
    /// `mr` converted rows, `lda` values each.
    a: &'a [u16],
    lda: usize,
    mr: usize,
    /// One panel: K pairs x 32 columns x 2.
    b: &'a [u16],
    cols: usize,
    /// The panel's `cols` bias values, if any.
    bias: Option<&'a [f32]>,
}

/// The portable micro-kernel: bf16 products (exact in f32) accumulated in f32, pair by pair.
fn portable_tile(t: &Tile, out: &mut [MaybeUninit<f32>], ldc: usize) {
    let kp = t.lda / 2;
    for r in 0..t.mr {
        let mut acc = [0f32; NR];
        if let Some(b) = t.bias {
            acc[..t.cols].copy_from_slice(b);
        }
        let a = &t.a[r * t.lda..(r + 1) * t.lda];
        for q in 0..kp {
            let (a0, a1) = (from_bf16(a[2 * q]), from_bf16(a[2 * q + 1]));
            let b = &t.b[q * 2 * NR..(q + 1) * 2 * NR];
            for (j, acc) in acc.iter_mut().enumerate() {
                *acc += a0 * from_bf16(b[2 * j]) + a1 * from_bf16(b[2 * j + 1]);
            }
        }
        for (o, &v) in out[r * ldc..r * ldc + t.cols].iter_mut().zip(&acc) {
            o.write(v);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{Tile, MR, NR};
    use std::arch::x86_64::*;
    use std::mem::MaybeUninit;

    /// `f32 -> bf16` of a row, 32 values per `vcvtne2ps2bf16` (round to nearest even, as
    /// [`super::to_bf16`]; the instruction also flushes f32 denormals to zero), the tail by
    /// [`super::to_bf16`].
    ///
    /// # Safety
    /// The CPU must support AVX-512F and AVX512-BF16; `dst` is as long as `src`.
    #[target_feature(enable = "avx512f,avx512bf16")]
    pub(super) unsafe fn convert(src: &[f32], dst: &mut [u16]) {
        debug_assert_eq!(src.len(), dst.len());
        let n = src.len().min(dst.len());
        let mut i = 0;
        while i + 32 <= n {
            // SAFETY: values i..i+32 exist in both slices.
            unsafe {
                let lo = _mm512_loadu_ps(src.as_ptr().add(i));
                let hi = _mm512_loadu_ps(src.as_ptr().add(i + 16));
                let v: __m512i = std::mem::transmute(_mm512_cvtne2ps_pbh(hi, lo));
                _mm512_storeu_si512(dst.as_mut_ptr().add(i).cast(), v);
            }
            i += 32;
        }
        for j in i..n {
            dst[j] = super::to_bf16(src[j]);
        }
    }

    /// Dispatches on the row count to a kernel with the rows as a constant, so the
    /// accumulators live in registers.
    ///
    /// # Safety
    /// The CPU must support AVX-512F and AVX512-BF16; see `kernel` for the slice sizes.
    #[target_feature(enable = "avx512f,avx512bf16")]
    pub(super) unsafe fn tile(t: &Tile, out: &mut [MaybeUninit<f32>], ldc: usize) {
        debug_assert!(t.mr >= 1 && t.mr <= MR && t.cols >= 1 && t.cols <= NR);
        debug_assert!(out.len() >= (t.mr - 1) * ldc + t.cols);
        debug_assert!(t.bias.is_none_or(|b| b.len() == t.cols));
        debug_assert!(t.a.len() >= t.mr * t.lda && t.b.len() >= t.lda / 2 * 2 * NR);
        // SAFETY: (all arms) the caller guarantees the CPU features and the sizes above.
        unsafe {
            match t.mr {
                12 => kernel::<12>(t, out, ldc),
                11 => kernel::<11>(t, out, ldc),
                10 => kernel::<10>(t, out, ldc),
                9 => kernel::<9>(t, out, ldc),
                8 => kernel::<8>(t, out, ldc),
                7 => kernel::<7>(t, out, ldc),
                6 => kernel::<6>(t, out, ldc),
                5 => kernel::<5>(t, out, ldc),
                4 => kernel::<4>(t, out, ldc),
                3 => kernel::<3>(t, out, ldc),
                2 => kernel::<2>(t, out, ldc),
                _ => kernel::<1>(t, out, ldc),
            }
        }
    }

    /// `R` rows x 32 columns: 2R accumulators; per K pair, two panel vectors and one broadcast
    /// pair of `a` per row feed `vdpbf16ps`.
    ///
    /// # Safety
    /// AVX-512F and AVX512-BF16; `t.a` holds `R * t.lda` values, `t.b` `t.lda / 2 * 64`, and
    /// `out` `(R - 1) * ldc + t.cols`.
    #[target_feature(enable = "avx512f,avx512bf16")]
    unsafe fn kernel<const R: usize>(t: &Tile, out: &mut [MaybeUninit<f32>], ldc: usize) {
        let kp = t.lda / 2;
        let lo: __mmask16 = if t.cols >= 16 {
            0xffff
        } else {
            (1u32 << t.cols) as u16 - 1
        };
        let hi: __mmask16 = if t.cols >= 32 {
            0xffff
        } else if t.cols > 16 {
            (1u32 << (t.cols - 16)) as u16 - 1
        } else {
            0
        };
        let (init0, init1) = match t.bias {
            // SAFETY: the bias slice has `cols` values; the masks load exactly those (an empty
            // mask reads nothing, so the second pointer may lie past a short slice).
            Some(b) => unsafe {
                (
                    _mm512_maskz_loadu_ps(lo, b.as_ptr()),
                    _mm512_maskz_loadu_ps(hi, b.as_ptr().wrapping_add(16)),
                )
            },
            None => (_mm512_setzero_ps(), _mm512_setzero_ps()),
        };
        let mut acc0 = [init0; R];
        let mut acc1 = [init1; R];
        let (a, b) = (t.a.as_ptr(), t.b.as_ptr());
        for q in 0..kp {
            // SAFETY: pair q of the panel is values q*64 .. q*64+64 of `t.b` (size above).
            let (b0, b1) = unsafe {
                (
                    _mm512_loadu_si512(b.add(q * 64).cast()),
                    _mm512_loadu_si512(b.add(q * 64 + 32).cast()),
                )
            };
            // SAFETY: both are 512-bit vectors; the bits are read as 32 bf16 pairs.
            let (b0, b1): (__m512bh, __m512bh) = unsafe {
                (
                    std::mem::transmute::<__m512i, __m512bh>(b0),
                    std::mem::transmute::<__m512i, __m512bh>(b1),
                )
            };
            for r in 0..R {
                // SAFETY: values 2q, 2q+1 of row r lie inside row r (lda = 2 kp).
                let pair = unsafe { a.add(r * t.lda + 2 * q).cast::<i32>().read_unaligned() };
                // SAFETY: a 512-bit vector read as 32 bf16 pairs.
                let av =
                    unsafe { std::mem::transmute::<__m512i, __m512bh>(_mm512_set1_epi32(pair)) };
                acc0[r] = _mm512_dpbf16_ps(acc0[r], av, b0);
                acc1[r] = _mm512_dpbf16_ps(acc1[r], av, b1);
            }
        }
        let o = out.as_mut_ptr().cast::<f32>();
        for r in 0..R {
            // SAFETY: row r's first `cols` values are inside `out` (size above); the masks
            // cover exactly those columns.
            unsafe {
                _mm512_mask_storeu_ps(o.add(r * ldc), lo, acc0[r]);
                if hi != 0 {
                    _mm512_mask_storeu_ps(o.add(r * ldc + 16), hi, acc1[r]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: &mut u64) -> f32 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((*seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    /// f64 product of the bf16-rounded operands, and the f64 sum of |a||b| (the error scale).
    fn reference(a: &MatView, b: &MatView, bias: Option<&[f32]>) -> (Vec<f64>, Vec<f64>) {
        let (m, k, n) = (a.rows, a.cols, b.cols);
        let mut c = vec![0f64; m * n];
        let mut s = vec![0f64; m * n];
        for i in 0..m {
            for j in 0..n {
                let (mut acc, mut mag) = (
                    bias.map_or(0.0, |v| v[j] as f64),
                    bias.map_or(0.0, |v| v[j].abs() as f64),
                );
                for kk in 0..k {
                    let p = from_bf16(to_bf16(a.get(i, kk))) as f64
                        * from_bf16(to_bf16(b.get(kk, j))) as f64;
                    acc += p;
                    mag += p.abs();
                }
                c[i * n + j] = acc;
                s[i * n + j] = mag;
            }
        }
        (c, s)
    }

    fn paths() -> Vec<CpuPath> {
        let mut v = vec![CpuPath::Portable];
        if CpuPath::Avx512Bf16.supported() {
            v.push(CpuPath::Avx512Bf16);
        } else {
            println!(
                "bf16 products: this CPU cannot run the avx512-bf16 kernel; portable kernel only"
            );
        }
        v
    }

    #[test]
    fn rounding_is_nearest_even() {
        assert_eq!(to_bf16(1.0), 0x3f80);
        // 1 + 2^-8 is half-way between bf16 neighbours 1 and 1 + 2^-7: ties to even (1.0)
        assert_eq!(to_bf16(1.0 + 1.0 / 256.0), 0x3f80);
        // 1 + 3 * 2^-8 is half-way between 1 + 2^-7 (odd) and 1 + 2^-6: to 1 + 2^-6
        assert_eq!(to_bf16(1.0 + 3.0 / 256.0), 0x3f82);
        assert_eq!(from_bf16(to_bf16(-2.5)), -2.5);
        assert!(from_bf16(to_bf16(f32::NAN)).is_nan());
        assert_eq!(from_bf16(to_bf16(f32::INFINITY)), f32::INFINITY);
        // the largest finite values round to infinity only above bf16's maximum
        assert_eq!(from_bf16(to_bf16(f32::MAX)), f32::INFINITY);
    }

    /// Odd shapes (remainders in M, N and K), strided and transposed operands, with and without
    /// bias, on every kernel this CPU can run, against the f64 product of the rounded operands.
    #[test]
    fn kernels_match_the_f64_reference_on_odd_shapes() {
        let mut seed = 7u64;
        for &(m, k, n) in &[
            (1, 1, 1),
            (13, 7, 33),
            (25, 64, 70),
            (97, 129, 31),
            (12, 768, 64),
            (7, 2, 100),
        ] {
            let abuf: Vec<f32> = (0..m * k * 2 + 5).map(|_| lcg(&mut seed)).collect();
            let bbuf: Vec<f32> = (0..k * n * 2 + 3).map(|_| lcg(&mut seed)).collect();
            let bias: Vec<f32> = (0..n).map(|_| lcg(&mut seed)).collect();
            // a: every other column of a wider matrix, offset 5
            let a = MatView {
                data: &abuf,
                offset: 5,
                rows: m,
                cols: k,
                row_stride: 2 * k,
                col_stride: 2,
            };
            // b stored transposed (n x k), row-major (k x n), and with both strides > 1
            let layouts = [
                MatView {
                    data: &bbuf,
                    offset: 3,
                    rows: n,
                    cols: k,
                    row_stride: k,
                    col_stride: 1,
                }
                .t(),
                MatView {
                    data: &bbuf,
                    offset: 3,
                    rows: k,
                    cols: n,
                    row_stride: n,
                    col_stride: 1,
                },
                MatView {
                    data: &bbuf,
                    offset: 1,
                    rows: k,
                    cols: n,
                    row_stride: 2 * n,
                    col_stride: 2,
                },
            ];
            for (b, bias) in layouts
                .iter()
                .flat_map(|b| [(*b, None), (*b, Some(bias.as_slice()))])
            {
                let packed = PackedB::pack(b).unwrap();
                let (want, mag) = reference(&a, &b, bias);
                for path in paths() {
                    let ldc = n + 3;
                    let mut c = vec![f32::NAN; m * ldc];
                    let mut scratch = Vec::new();
                    gemm_into_on(
                        path,
                        a,
                        &packed,
                        bias,
                        OutRows::new(&mut c, ldc),
                        &mut scratch,
                    )
                    .unwrap();
                    for i in 0..m {
                        for j in 0..n {
                            let (got, w, s) =
                                (c[i * ldc + j] as f64, want[i * n + j], mag[i * n + j]);
                            // tolerance: f32 accumulation of k exact products, k * 2^-23 relative
                            // to the sum of magnitudes (with margin for the pair sums)
                            let tol = 2.0 * (k as f64 + 2.0) * f32::EPSILON as f64 * s.max(1e-30);
                            assert!(
                                (got - w).abs() <= tol,
                                "{} {m}x{k}x{n} ({i},{j}): {got} vs {w}",
                                path.name()
                            );
                        }
                        for j in n..ldc {
                            assert!(
                                c[i * ldc + j].is_nan(),
                                "{}: wrote past column {n}",
                                path.name()
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn vector_conversion_equals_the_scalar_rounding() {
        if !CpuPath::Avx512Bf16.supported() {
            println!("bf16 conversion: this CPU has no vcvtne2ps2bf16; scalar rounding only");
            return;
        }
        let mut seed = 3u64;
        // normal numbers of many magnitudes, exact ties, signed zeros, infinities
        let mut src: Vec<f32> = (0..1000)
            .map(|i| lcg(&mut seed) * 10f32.powi(i % 30 - 15))
            .collect();
        src.extend([
            1.0 + 1.0 / 256.0,
            1.0 + 3.0 / 256.0,
            -0.0,
            0.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            3.0e38,
        ]);
        let mut got = vec![0u16; src.len()];
        // SAFETY: the CPU has AVX-512F and AVX512-BF16 (checked above); equal lengths.
        #[cfg(target_arch = "x86_64")]
        unsafe {
            avx512::convert(&src, &mut got)
        };
        for (i, (&g, &x)) in got.iter().zip(&src).enumerate() {
            assert_eq!(g, to_bf16(x), "value {i}: {x:e}");
        }
    }

    #[test]
    fn results_do_not_depend_on_row_blocking() {
        // the same rows computed as one call and as separate calls of a few rows each
        let mut seed = 11u64;
        let (m, k, n) = (40, 50, 45);
        let abuf: Vec<f32> = (0..m * k).map(|_| lcg(&mut seed)).collect();
        let bbuf: Vec<f32> = (0..k * n).map(|_| lcg(&mut seed)).collect();
        let packed = PackedB::pack(MatView::row_major(&bbuf, k, n)).unwrap();
        let mut whole = vec![0f32; m * n];
        let mut scratch = Vec::new();
        gemm_into(
            MatView::row_major(&abuf, m, k),
            &packed,
            None,
            OutRows::new(&mut whole, n),
            &mut scratch,
        )
        .unwrap();
        for r0 in (0..m).step_by(7) {
            let rows = 7.min(m - r0);
            let a = MatView {
                data: &abuf,
                offset: r0 * k,
                rows,
                cols: k,
                row_stride: k,
                col_stride: 1,
            };
            let mut part = vec![0f32; rows * n];
            gemm_into(a, &packed, None, OutRows::new(&mut part, n), &mut scratch).unwrap();
            assert_eq!(&part[..], &whole[r0 * n..(r0 + rows) * n]);
        }
    }

    #[test]
    fn bad_shapes_are_errors() {
        let v = vec![0f32; 12];
        let packed = PackedB::pack(MatView::row_major(&v, 3, 4)).unwrap();
        let mut out = vec![0f32; 8];
        let mut s = Vec::new();
        assert!(gemm_into(
            MatView::row_major(&v, 2, 6),
            &packed,
            None,
            OutRows::new(&mut out, 4),
            &mut s
        )
        .is_err());
        assert!(gemm_into(
            MatView::row_major(&v, 3, 3),
            &packed,
            None,
            OutRows::new(&mut out, 4),
            &mut s
        )
        .is_err());
        let wide = MatView {
            data: &v,
            offset: 4,
            rows: 3,
            cols: 4,
            row_stride: 4,
            col_stride: 1,
        };
        assert!(PackedB::pack(wide).is_err());
    }
}
