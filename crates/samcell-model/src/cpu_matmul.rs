//! Matrix products for CPU inference: `matrixmultiply`'s `sgemm` (BLIS-style packing, AVX2+FMA
//! or AVX-512 kernel chosen at run time) on blocks of output rows spread over the rayon pool.
//!
//! Why not candle's `matmul` (the `gemm` crate): on the encoder's shapes, 2 threads of an
//! AVX2-only CPU, this computes the same products 1.1-1.3x faster (the table is printed by
//! `cargo run --release -p samcell-model --example profile_ops`). Operands are read through
//! their strides, so a transposed view (`k.t()`) costs no copy; the output is written without
//! being zeroed first (`sgemm` with beta = 0 does not read C), and a bias can start the
//! accumulation (beta = 1 over rows pre-filled with it), which saves a pass over the output.
//!
//! Summation order differs from candle's (different blocking), so results agree to float
//! rounding, not bit for bit; the model's golden tests hold either way.

use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

/// One operand: base slice, element offset and strides of its (batch, rows, cols) view.
#[derive(Clone, Copy)]
struct Operand<'a> {
    data: &'a [f32],
    offset: usize,
    batch_stride: usize,
    row_stride: usize,
    col_stride: usize,
    batch: usize,
    rows: usize,
    cols: usize,
}

impl<'a> Operand<'a> {
    /// Rank 2 (rows, cols) or rank 3 (batch, rows, cols); strides are taken as they are.
    fn new(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<Self> {
        let data = match s {
            CpuStorage::F32(v) => v.as_slice(),
            _ => candle_core::bail!("{what}: expected f32"),
        };
        let (dims, st) = (l.dims(), l.stride());
        let (batch, batch_stride, rows, cols, row_stride, col_stride) = match (dims, st) {
            ([r, c], [rs, cs]) => (1, 0, *r, *c, *rs, *cs),
            ([b, r, c], [bs, rs, cs]) => (*b, *bs, *r, *c, *rs, *cs),
            _ => candle_core::bail!("{what}: expected a 2-D or 3-D tensor, got {dims:?}"),
        };
        Ok(Self {
            data,
            offset: l.start_offset(),
            batch_stride,
            row_stride,
            col_stride,
            batch,
            rows,
            cols,
        })
    }

    /// Pointer to element (b, r, 0); bounds were established by candle's layout.
    fn ptr(&self, b: usize, r: usize) -> *const f32 {
        let i = self.offset + b * self.batch_stride + r * self.row_stride;
        self.data[i..].as_ptr()
    }
}

/// An output buffer shared by parallel tasks that each write a disjoint set of rows (here and in
/// `attention_cpu`).
#[derive(Clone, Copy)]
pub(crate) struct OutPtr(pub(crate) *mut f32);
// SAFETY: tasks write disjoint row ranges of one allocation that outlives them.
unsafe impl Send for OutPtr {}
// SAFETY: as for Send: shared references only hand out the pointer, and each task writes its own
// rows.
unsafe impl Sync for OutPtr {}

/// `a @ b (+ bias)`: a (B, m, k) or (m, k); b (B, k, n) or (k, n) shared by every batch item.
fn product(a: Operand, b: Operand, bias: Option<&[f32]>) -> Result<Vec<f32>> {
    let (batch, m, k, n) = (a.batch, a.rows, a.cols, b.cols);
    if b.rows != k || (b.batch != 1 && b.batch != batch) {
        candle_core::bail!(
            "matmul: shapes ({batch}, {m}, {k}) and ({}, {}, {n}) do not fit",
            b.batch,
            b.rows
        );
    }
    if bias.is_some_and(|v| v.len() != n) {
        candle_core::bail!("matmul: bias length does not match {n} output columns");
    }
    let total = batch * m * n;
    let mut out: Vec<f32> = Vec::with_capacity(total);
    if total > 0 {
        // Row blocks: about four tasks per thread over the whole batch (work stealing evens them
        // out), at least 32 rows each so that packing the right operand is amortised.
        let threads = rayon::current_num_threads().max(1);
        let rows_per_task = (batch * m).div_ceil(4 * threads).max(32).min(m);
        let blocks_per_item = m.div_ceil(rows_per_task);
        let dst = OutPtr(out.spare_capacity_mut().as_mut_ptr().cast::<f32>());
        (0..batch * blocks_per_item).into_par_iter().for_each(|t| {
            // the whole `OutPtr` (Send) moves into the closure, not just its raw-pointer field
            #[allow(clippy::redundant_locals)]
            let dst = dst;
            let (bi, blk) = (t / blocks_per_item, t % blocks_per_item);
            let r0 = blk * rows_per_task;
            let rows = rows_per_task.min(m - r0);
            // SAFETY: rows r0..r0+rows of item bi are this task's alone, inside the allocation.
            let c = unsafe { dst.0.add((bi * m + r0) * n) };
            let beta = match bias {
                Some(v) => {
                    for r in 0..rows {
                        // SAFETY: as above; the row is written in full before sgemm reads it.
                        unsafe { std::ptr::copy_nonoverlapping(v.as_ptr(), c.add(r * n), n) };
                    }
                    1.0
                }
                None => 0.0,
            };
            let bb = if b.batch == 1 { 0 } else { bi };
            // SAFETY: operand pointers and strides come from candle layouts of live storages;
            // C rows are disjoint per task; with beta = 0 sgemm does not read C.
            unsafe {
                matrixmultiply::sgemm(
                    rows,
                    k,
                    n,
                    1.0,
                    a.ptr(bi, r0),
                    a.row_stride as isize,
                    a.col_stride as isize,
                    b.ptr(bb, 0),
                    b.row_stride as isize,
                    b.col_stride as isize,
                    beta,
                    c,
                    n as isize,
                    1,
                )
            };
        });
        // SAFETY: every task wrote its rows in full (sgemm writes all of C), and the tasks cover
        // all batch * m rows.
        unsafe { out.set_len(total) };
    }
    Ok(out)
}

struct MatMul;

impl CustomOp2 for MatMul {
    fn name(&self) -> &'static str {
        "cpu-matmul"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (a, b) = (
            Operand::new(s1, l1, "matmul lhs")?,
            Operand::new(s2, l2, "matmul rhs")?,
        );
        let shape = match l1.dims().len() {
            3 => Shape::from((a.batch, a.rows, b.cols)),
            _ => Shape::from((a.rows, b.cols)),
        };
        Ok((CpuStorage::F32(product(a, b, None)?), shape))
    }
}

struct LinearBias;

impl CustomOp3 for LinearBias {
    fn name(&self) -> &'static str {
        "cpu-linear-bias"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let bias = crate::kernels::f32_slice(s3, l3, "linear bias")?;
        let (x, w) = (
            Operand::new(s1, l1, "linear input")?,
            Operand::new(s2, l2, "linear weight")?,
        );
        if x.batch != 1 || w.batch != 1 {
            candle_core::bail!("linear: expected 2-D input and weight");
        }
        let shape = Shape::from((x.rows, w.cols));
        Ok((CpuStorage::F32(product(x, w, Some(bias))?), shape))
    }
}

/// `a @ b` for f32 CPU tensors: (m, k) @ (k, n), or (B, m, k) @ (B, k, n) / (k, n). Any strides.
pub fn matmul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    a.apply_op2_no_bwd(b, &MatMul)
}

/// `x @ w + bias` for f32 CPU tensors: x (m, k), w (k, n) (any strides), bias (n).
pub fn linear(x: &Tensor, w: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    match bias {
        Some(b) => x.apply_op3_no_bwd(w, b, &LinearBias),
        None => x.apply_op2_no_bwd(w, &MatMul),
    }
}

/// `x @ W + bias` with the bf16 products of [`crate::bf16_gemm`]: the weight packed once at
/// load, the input's rows converted per block of rows, blocks over the rayon pool.
pub(crate) struct LinearBf16 {
    pub(crate) packed: std::sync::Arc<crate::bf16_gemm::PackedB>,
    pub(crate) bias: Option<std::sync::Arc<[f32]>>,
}

/// Packs a linear layer's (in, out) weight for [`LinearBf16`].
pub(crate) fn pack_weight(w_t: &Tensor) -> Result<crate::bf16_gemm::PackedB> {
    let w_t = w_t.contiguous()?;
    let (g, l) = w_t.storage_and_layout();
    let data = match &*g {
        candle_core::Storage::Cpu(s) => crate::kernels::f32_slice(s, l, "linear weight")?,
        _ => candle_core::bail!("bf16 linear: the weight is not on the CPU"),
    };
    let (k, n) = w_t.dims2()?;
    crate::bf16_gemm::PackedB::pack(crate::bf16_gemm::MatView::row_major(data, k, n))
        .map_err(candle_core::Error::Msg)
}

thread_local! {
    static BF16_ROWS: std::cell::RefCell<Vec<u16>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl candle_core::CustomOp1 for LinearBf16 {
    fn name(&self) -> &'static str {
        "cpu-linear-bf16"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        use crate::bf16_gemm::{gemm_into, MatView, OutRows};
        let x = Operand::new(s, l, "linear input")?;
        if x.batch != 1 {
            candle_core::bail!("bf16 linear: expected a 2-D input");
        }
        let (m, n) = (x.rows, self.packed.n());
        if m * n == 0 {
            return Ok((CpuStorage::F32(Vec::new()), Shape::from((m, n))));
        }
        // Not zeroed: the product writes every value (a zeroing pass over fresh pages was ~10% of
        // a bf16 crop).
        let mut out: Vec<f32> = Vec::with_capacity(m * n);
        // about four tasks per thread, whole micro-kernel row groups each
        let threads = rayon::current_num_threads().max(1);
        let mr = crate::bf16_gemm::MR;
        let rows_per_task = m.div_ceil(4 * threads).div_ceil(mr).max(1) * mr;
        let view = MatView {
            data: x.data,
            offset: x.offset,
            rows: m,
            cols: x.cols,
            row_stride: x.row_stride,
            col_stride: x.col_stride,
        };
        out.spare_capacity_mut()[..m * n]
            .par_chunks_mut(rows_per_task * n)
            .enumerate()
            .try_for_each(|(t, c)| {
                let r0 = t * rows_per_task;
                let a = MatView {
                    offset: view.offset + r0 * view.row_stride,
                    rows: c.len() / n,
                    ..view
                };
                BF16_ROWS.with(|buf| {
                    gemm_into(
                        a,
                        &self.packed,
                        self.bias.as_deref(),
                        OutRows { data: c, ldc: n },
                        &mut buf.borrow_mut(),
                    )
                })
            })
            .map_err(candle_core::Error::Msg)?;
        // SAFETY: the chunks cover all m x n values and gemm_into wrote every one of them.
        unsafe { out.set_len(m * n) };
        Ok((CpuStorage::F32(out), Shape::from((m, n))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, IndexOp};

    fn max_rel(a: &Tensor, b: &Tensor) -> f32 {
        let d = (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        let s = b
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        d / s
    }

    #[test]
    fn products_equal_candle_for_every_layout() {
        let d = Device::Cpu;
        // odd sizes (not multiples of the kernel's 8x8 tiles), more rows than one task takes
        let a = Tensor::randn(0f32, 1.0, (3, 77, 19), &d).unwrap();
        let b = Tensor::randn(0f32, 1.0, (3, 19, 41), &d).unwrap();
        let bt = Tensor::randn(0f32, 1.0, (3, 41, 19), &d).unwrap();
        let w = Tensor::randn(0f32, 1.0, (19, 41), &d).unwrap();
        let bias = Tensor::randn(0f32, 1.0, 41, &d).unwrap();
        // tolerance: 1e-5 relative to the largest entry (f32 sums of 19 products, other order)
        let tol = 1e-5;
        assert!(
            max_rel(&matmul(&a, &b).unwrap(), &a.matmul(&b).unwrap()) < tol,
            "batched"
        );
        let (t_ours, t_ref) = (
            matmul(&a, &bt.t().unwrap()).unwrap(),
            a.matmul(&bt.t().unwrap()).unwrap(),
        );
        assert!(
            max_rel(&t_ours, &t_ref) < tol,
            "transposed right operand (a @ k^T)"
        );
        let a0 = a.i(1).unwrap();
        assert!(
            max_rel(&matmul(&a0, &w).unwrap(), &a0.matmul(&w).unwrap()) < tol,
            "2-D"
        );
        let lin = linear(&a0, &w, Some(&bias)).unwrap();
        let want = a0.matmul(&w).unwrap().broadcast_add(&bias).unwrap();
        assert_eq!(lin.dims(), &[77, 41]);
        assert!(max_rel(&lin, &want) < tol, "linear with bias");
        let nar = a.narrow(1, 5, 60).unwrap();
        assert!(
            max_rel(&matmul(&nar, &b).unwrap(), &nar.matmul(&b).unwrap()) < tol,
            "offset rows"
        );
        assert!(
            matmul(&a, &w.t().unwrap()).is_err(),
            "mismatched inner sizes are an error"
        );
    }
}
