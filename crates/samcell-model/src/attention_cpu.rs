//! The encoder's attention for CPU inference in one pass per block of query rows:
//! `softmax(qs k^T + rel_h ⊕ rel_w) v` (`train_ops::rel_pos_scores`, a softmax, a product with
//! `v`), with the softmax of `kernels::softmax_row`, but the scores exist only for a block of at most [`BLOCK_ROWS`] query rows at a time, in a per-thread
//! scratch buffer that is reused across heads. The unfused path allocates two 64 MB score-sized
//! tensors per global-attention head, which the operating system hands out as freshly zeroed pages
//! every time (kernel page clearing was ~5% of a crop in `perf`).
//!
//! Products are `matrixmultiply::sgemm` calls, one per block and operand; rows of one block are
//! computed by one thread, blocks (and heads) are spread over the rayon pool.

use crate::cpu_matmul::OutPtr;
use crate::kernels::{f32_slice, softmax_row};
use candle_core::{Result, Storage, Tensor};
use rayon::prelude::*;
use std::cell::RefCell;

/// Query rows per block: large enough that packing `k^T` and `v` for each block (2 x n x hd) is
/// small next to the block's products (4 x rows x n x hd FLOPs), small enough for the scratch
/// (rows x n floats, 8 MB for a 4096-token global attention) to stay in the last-level cache.
const BLOCK_ROWS: usize = 512;

thread_local! {
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// `softmax(qs k^T + rel_h[.., :, None] + rel_w[.., None, :]) v` for f32 CPU tensors.
/// `qs`, `k`, `v`: (len, n, hd) with `n = h w` (queries already scaled); `rel_h`: (len, h, w, h);
/// `rel_w`: (len, h, w, w). Returns (len, n, hd).
///
/// With `bf16`, both products are bf16 products accumulated in f32 (`bf16_gemm`): `k^T` and `v`
/// of each item are packed once, the queries and the probabilities are rounded to bf16 per block;
/// the scores and the softmax stay f32.
#[allow(clippy::too_many_arguments)]
pub fn rel_pos_attention(
    qs: &Tensor,
    k: &Tensor,
    v: &Tensor,
    rel_h: &Tensor,
    rel_w: &Tensor,
    h: usize,
    w: usize,
    bf16: bool,
) -> Result<Tensor> {
    let (len, n, hd) = qs.dims3()?;
    if n != h * w || k.dims() != [len, n, hd] || v.dims() != [len, n, hd] {
        candle_core::bail!(
            "rel-pos attention: q {:?}, k {:?}, v {:?} for a {h}x{w} grid",
            qs.dims(),
            k.dims(),
            v.dims()
        );
    }
    if rel_h.dims() != [len, h, w, h] || rel_w.dims() != [len, h, w, w] {
        candle_core::bail!(
            "rel-pos attention: bias shapes {:?} / {:?}",
            rel_h.dims(),
            rel_w.dims()
        );
    }
    let tensors = [
        qs.contiguous()?,
        k.contiguous()?,
        v.contiguous()?,
        rel_h.contiguous()?,
        rel_w.contiguous()?,
    ];
    let guards: Vec<_> = tensors.iter().map(|t| t.storage_and_layout()).collect();
    let mut slices: Vec<&[f32]> = Vec::with_capacity(5);
    for (g, l) in &guards {
        match &**g {
            Storage::Cpu(st) => slices.push(f32_slice(st, l, "rel-pos attention operand")?),
            _ => candle_core::bail!("rel-pos attention: expected CPU tensors"),
        }
    }
    let (q, k, v, rh, rw) = (slices[0], slices[1], slices[2], slices[3], slices[4]);
    let total = len * n * hd;
    let mut out: Vec<f32> = Vec::with_capacity(total);
    let rows = BLOCK_ROWS.min(n);
    let blocks = n.div_ceil(rows);
    if bf16 {
        bf16_blocks(
            BfArgs {
                q,
                k,
                v,
                rh,
                rw,
                len,
                n,
                hd,
                h,
                w,
                rows,
            },
            &mut out,
        )?;
        drop(guards);
        return Tensor::from_vec(out, (len, n, hd), qs.device());
    }
    let dst = OutPtr(out.spare_capacity_mut().as_mut_ptr().cast::<f32>());
    (0..len * blocks).into_par_iter().for_each(|t| {
        // the whole `OutPtr` (Send) moves into the closure, not just its raw-pointer field
        #[allow(clippy::redundant_locals)]
        let dst = dst;
        let (l, r0) = (t / blocks, (t % blocks) * rows);
        let r = rows.min(n - r0);
        let (ql, kl, vl) = (&q[l * n * hd..], &k[l * n * hd..], &v[l * n * hd..]);
        SCRATCH.with(|s| {
            let mut s = s.borrow_mut();
            if s.len() < r * n {
                s.resize(r * n, 0.0);
            }
            let scores = &mut s[..r * n];
            // SAFETY: q rows r0..r0+r, k (read as k^T through its strides), and the scratch are
            // in bounds; sgemm with beta = 0 does not read its output.
            unsafe {
                matrixmultiply::sgemm(
                    r,
                    hd,
                    n,
                    1.0,
                    ql[r0 * hd..].as_ptr(),
                    hd as isize,
                    1,
                    kl.as_ptr(),
                    1,
                    hd as isize,
                    0.0,
                    scores.as_mut_ptr(),
                    n as isize,
                    1,
                );
            }
            for (i, row) in scores.chunks_exact_mut(n).enumerate() {
                let qi = l * n + r0 + i;
                softmax_row(row, &rh[qi * h..(qi + 1) * h], &rw[qi * w..(qi + 1) * w]);
            }
            // SAFETY: output rows r0..r0+r of item l belong to this task alone; beta = 0.
            unsafe {
                let o = dst.0.add((l * n + r0) * hd);
                matrixmultiply::sgemm(
                    r,
                    n,
                    hd,
                    1.0,
                    scores.as_ptr(),
                    n as isize,
                    1,
                    vl.as_ptr(),
                    hd as isize,
                    1,
                    0.0,
                    o,
                    hd as isize,
                    1,
                );
            }
        });
    });
    // SAFETY: the tasks cover every (item, row) and sgemm wrote each output row in full.
    unsafe { out.set_len(total) };
    drop(guards);
    Tensor::from_vec(out, (len, n, hd), qs.device())
}

/// The operands of [`bf16_blocks`].
struct BfArgs<'a> {
    q: &'a [f32],
    k: &'a [f32],
    v: &'a [f32],
    rh: &'a [f32],
    rw: &'a [f32],
    len: usize,
    n: usize,
    hd: usize,
    h: usize,
    w: usize,
    rows: usize,
}

thread_local! {
    static BF16_ROWS: RefCell<Vec<u16>> = const { RefCell::new(Vec::new()) };
}

/// The bf16 variant of the blocked attention; `out` is empty with capacity `len * n * hd`.
fn bf16_blocks(a: BfArgs, out: &mut Vec<f32>) -> Result<()> {
    use crate::bf16_gemm::{gemm_into, MatView, OutRows, PackedB};
    let BfArgs {
        q,
        k,
        v,
        rh,
        rw,
        len,
        n,
        hd,
        h,
        w,
        rows,
    } = a;
    // k^T (hd x n) and v (n x hd) of every item, packed once
    let packs: Vec<(PackedB, PackedB)> = (0..len)
        .into_par_iter()
        .map(|l| {
            let kt = MatView {
                data: k,
                offset: l * n * hd,
                rows: hd,
                cols: n,
                row_stride: 1,
                col_stride: hd,
            };
            let vv = MatView {
                data: v,
                offset: l * n * hd,
                rows: n,
                cols: hd,
                row_stride: hd,
                col_stride: 1,
            };
            Ok((PackedB::pack(kt)?, PackedB::pack(vv)?))
        })
        .collect::<std::result::Result<_, String>>()
        .map_err(candle_core::Error::Msg)?;
    out.spare_capacity_mut()[..len * n * hd]
        .par_chunks_mut(n * hd)
        .enumerate()
        .try_for_each(|(l, out_l)| {
            out_l
                .par_chunks_mut(rows * hd)
                .enumerate()
                .try_for_each(|(blk, o)| {
                    let r0 = blk * rows;
                    let r = o.len() / hd;
                    SCRATCH.with(|s| {
                        BF16_ROWS.with(|conv| {
                            let (mut s, mut conv) = (s.borrow_mut(), conv.borrow_mut());
                            if s.len() < r * n {
                                s.resize(r * n, 0.0);
                            }
                            let scores = &mut s[..r * n];
                            let qv = MatView {
                                data: q,
                                offset: (l * n + r0) * hd,
                                rows: r,
                                cols: hd,
                                row_stride: hd,
                                col_stride: 1,
                            };
                            gemm_into(qv, &packs[l].0, None, OutRows::new(scores, n), &mut conv)?;
                            for (i, row) in scores.chunks_exact_mut(n).enumerate() {
                                let qi = l * n + r0 + i;
                                softmax_row(
                                    row,
                                    &rh[qi * h..(qi + 1) * h],
                                    &rw[qi * w..(qi + 1) * w],
                                );
                            }
                            gemm_into(
                                MatView::row_major(scores, r, n),
                                &packs[l].1,
                                None,
                                OutRows { data: o, ldc: hd },
                                &mut conv,
                            )
                        })
                    })
                })
        })
        .map_err(candle_core::Error::Msg)?;
    // SAFETY: the chunks cover all len x n x hd values and each product wrote all of its rows.
    unsafe { out.set_len(len * n * hd) };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn equals_the_unfused_computation() {
        let d = Device::Cpu;
        // a 24x23 grid: 552 query rows, two blocks (the second partial), odd sizes; and a
        // window-sized case with several items in one block each
        for (len, h, w, hd) in [(2usize, 24usize, 23usize, 16usize), (5, 14, 14, 8)] {
            let n = h * w;
            let qs = Tensor::randn(0f32, 0.5, (len, n, hd), &d).unwrap();
            let k = Tensor::randn(0f32, 0.5, (len, n, hd), &d).unwrap();
            let v = Tensor::randn(0f32, 1.0, (len, n, hd), &d).unwrap();
            let rh = Tensor::randn(0f32, 1.0, (len, h, w, h), &d).unwrap();
            let rw = Tensor::randn(0f32, 1.0, (len, h, w, w), &d).unwrap();
            let got = rel_pos_attention(&qs, &k, &v, &rh, &rw, h, w, false).unwrap();
            // reference: candle's own ops (scores with the bias, fused softmax, product with v)
            let scores = crate::train_ops::rel_pos_scores(&qs, &k, &rh, &rw, h, w).unwrap();
            let want = candle_nn::ops::softmax_last_dim(&scores)
                .unwrap()
                .matmul(&v)
                .unwrap();
            let diff = (got - &want)
                .unwrap()
                .abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            // tolerance: 1e-5 absolute on outputs of size ~1 (other blocking and exp; probabilities agree
            // to ~1e-7)
            assert!(
                diff <= 1e-5,
                "{len}x{h}x{w}: fused attention differs by {diff}"
            );
            if crate::cpu_path::selected() == crate::cpu_path::CpuPath::Avx512Bf16 {
                let bf = rel_pos_attention(&qs, &k, &v, &rh, &rw, h, w, true).unwrap();
                let d = (&bf - &want)
                    .unwrap()
                    .abs()
                    .unwrap()
                    .max_all()
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap();
                // tolerance: q, k, v and the probabilities rounded to bf16 (2^-9 relative), on
                // outputs of size ~1 that average many values of v
                assert!(
                    d > 0.0 && d <= 2e-2,
                    "{len}x{h}x{w}: bf16 attention differs by {d}"
                );
                let one = rayon::ThreadPoolBuilder::new()
                    .num_threads(1)
                    .build()
                    .unwrap();
                let again = one
                    .install(|| rel_pos_attention(&qs, &k, &v, &rh, &rw, h, w, true))
                    .unwrap();
                assert_eq!(
                    again.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
                    bf.flatten_all().unwrap().to_vec1::<f32>().unwrap()
                );
            } else {
                println!(
                    "bf16 attention: not run (CPU path {})",
                    crate::cpu_path::selected().name()
                );
            }
        }
    }
}
