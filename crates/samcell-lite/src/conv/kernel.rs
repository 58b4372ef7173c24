//! The convolution kernels on plain slices: forward (also used for the input gradient) and the
//! weight gradient, with an AVX2 + FMA path chosen at run time and a portable path.
//!
//! Both work on a zero-padded copy of the input ([`Padded`]): `k / 2` zero rows and columns on
//! every side, and the row width rounded up to a multiple of [`STRIP`] so every vector load is in
//! bounds. Every output value is computed by one thread in a fixed order, so results do not
//! depend on the number of threads (training is reproducible on any machine with the same path).

use rayon::prelude::*;
use std::borrow::Cow;

/// Pixels per micro-kernel step (three 8-lane vectors).
pub const STRIP: usize = 24;
/// Output channels per micro-kernel.
const CB: usize = 4;
/// Output rows per parallel task.
const ROWS_PER_TASK: usize = 8;

/// Shape of one stride-1 "same" convolution with an odd `k x k` kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geom {
    /// Images in the batch.
    pub batch: usize,
    /// Input channels.
    pub cin: usize,
    /// Output channels.
    pub cout: usize,
    /// Height of input and output, px.
    pub h: usize,
    /// Width of input and output, px.
    pub w: usize,
    /// Kernel side (odd).
    pub k: usize,
}

impl Geom {
    /// Zero rows and columns added on each side (`k / 2`).
    pub fn pad(&self) -> usize {
        self.k / 2
    }
    /// Output row width rounded up to whole strips.
    pub fn wr(&self) -> usize {
        self.w.div_ceil(STRIP) * STRIP
    }
}

/// A zero-padded `(batch, channels, h + 2p, wr + 2p)` view of an NCHW tensor (`+ STRIP` spare
/// zeros at the end so the last strip's shifted loads stay in bounds): a copy, or the tensor
/// itself when it needs no padding (1x1 kernels on widths that are whole strips).
pub struct Padded<'a> {
    /// The padded values, plane after plane.
    pub data: Cow<'a, [f32]>,
    /// Rows per padded plane (`h + 2p`).
    pub hp: usize,
    /// Values per padded row (`wr + 2p`).
    pub wp: usize,
}

impl<'a> Padded<'a> {
    /// Pads `src`, `(batch, c, g.h, g.w)` row-major, for a convolution of geometry `g`.
    pub fn new(src: &'a [f32], batch: usize, c: usize, g: &Geom) -> Self {
        let p = g.pad();
        let (hp, wp) = (g.h + 2 * p, g.wr() + 2 * p);
        if p == 0 && wp == g.w {
            // Every strip load ends at or before its row's end: no spare needed.
            return Self {
                data: Cow::Borrowed(src),
                hp,
                wp,
            };
        }
        let mut data = vec![0f32; batch * c * hp * wp + STRIP];
        data[..batch * c * hp * wp]
            .par_chunks_mut(hp * wp)
            .enumerate()
            .for_each(|(plane, dst)| {
                let s = &src[plane * g.h * g.w..(plane + 1) * g.h * g.w];
                for y in 0..g.h {
                    dst[(y + p) * wp + p..(y + p) * wp + p + g.w]
                        .copy_from_slice(&s[y * g.w..(y + 1) * g.w]);
                }
            });
        Self {
            data: Cow::Owned(data),
            hp,
            wp,
        }
    }

    fn plane(&self, index: usize) -> &[f32] {
        &self.data[index * self.hp * self.wp..]
    }
}

/// Weights `(cout, cin, k, k)` repacked per block of [`CB`] output channels as
/// `[block][ci][ky][kx][c]` (a block's channels adjacent; the last block zero-filled).
fn pack_weights(w: &[f32], g: &Geom) -> Vec<f32> {
    let kk = g.k * g.k;
    let blocks = g.cout.div_ceil(CB);
    let mut out = vec![0f32; blocks * g.cin * kk * CB];
    for co in 0..g.cout {
        let (blk, c) = (co / CB, co % CB);
        for ci in 0..g.cin {
            for t in 0..kk {
                out[((blk * g.cin + ci) * kk + t) * CB + c] = w[(co * g.cin + ci) * kk + t];
            }
        }
    }
    out
}

/// Raw output pointer shared by tasks that write disjoint elements.
#[derive(Clone, Copy)]
struct OutPtr(*mut f32);
// SAFETY: tasks write disjoint (block, row) regions of one buffer that outlives them.
unsafe impl Send for OutPtr {}
// SAFETY: as for Send: a shared reference only hands out the pointer.
unsafe impl Sync for OutPtr {}

/// `out = conv(input, w)` without bias: `input (batch, cin, h, w)`, `w (cout, cin, k, k)`,
/// `out (batch, cout, h, w)`, zero padding `k / 2`, stride 1.
pub fn forward(input: &[f32], w: &[f32], g: &Geom) -> Vec<f32> {
    forward_on(input, w, g, Epilogue::default(), simd::available())
}

/// What is applied to each output value after the sum: `+ bias[co]`, then `max(0, .)`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Epilogue<'a> {
    /// One value per output channel added to the sum; `None`: no bias.
    pub bias: Option<&'a [f32]>,
    /// Clamp negative outputs to 0 after the bias.
    pub relu: bool,
}

/// [`forward`] with an [`Epilogue`], on the AVX2 path (`simd`, which must be available) or the
/// portable one.
pub fn forward_on(input: &[f32], w: &[f32], g: &Geom, epi: Epilogue<'_>, simd: bool) -> Vec<f32> {
    if let Some(b) = epi.bias {
        assert_eq!(b.len(), g.cout, "one bias per output channel");
    }
    assert!(g.k == 1 || g.k == 3, "1x1 and 3x3 kernels only");
    assert!(!simd || simd::available(), "no AVX2 + FMA on this CPU");
    assert_eq!(input.len(), g.batch * g.cin * g.h * g.w);
    assert_eq!(w.len(), g.cout * g.cin * g.k * g.k);
    let padded = Padded::new(input, g.batch, g.cin, g);
    let packed = pack_weights(w, g);
    let blocks = g.cout.div_ceil(CB);
    let bands = g.h.div_ceil(ROWS_PER_TASK);
    let mut out = vec![0f32; g.batch * g.cout * g.h * g.w];
    let ptr = OutPtr(out.as_mut_ptr());
    let avx = simd;
    (0..g.batch * blocks * bands)
        .into_par_iter()
        .for_each(|task| {
            let (b, rest) = (task / (blocks * bands), task % (blocks * bands));
            let (blk, band) = (rest / bands, rest % bands);
            // the whole `OutPtr` (Send) moves into the closure, not just its raw-pointer field
            #[allow(clippy::redundant_locals)]
            let ptr = ptr;
            let wblk = &packed[blk * g.cin * g.k * g.k * CB..(blk + 1) * g.cin * g.k * g.k * CB];
            let in_b = padded.plane(b * g.cin);
            let mut acc = [[0f32; STRIP]; CB];
            for y in band * ROWS_PER_TASK..((band + 1) * ROWS_PER_TASK).min(g.h) {
                for x0 in (0..g.w).step_by(STRIP) {
                    if avx {
                        // SAFETY: `available()` checked the CPU features; every load is inside
                        // `padded` (rows are wr + 2p wide with STRIP spare zeros at the end, or,
                        // unpadded, exactly whole strips).
                        unsafe {
                            simd::strip(in_b, padded.hp, padded.wp, wblk, g, y, x0, &mut acc)
                        };
                    } else {
                        strip_portable(in_b, padded.hp, padded.wp, wblk, g, y, x0, &mut acc);
                    }
                    let n = STRIP.min(g.w - x0);
                    for (c, lane) in acc.iter().enumerate() {
                        let co = blk * CB + c;
                        if co >= g.cout {
                            break;
                        }
                        let at = ((b * g.cout + co) * g.h + y) * g.w + x0;
                        let bias = epi.bias.map_or(0.0, |v| v[co]);
                        let mut vals = *lane;
                        for v in &mut vals[..n] {
                            *v += bias;
                            if epi.relu && *v < 0.0 {
                                *v = 0.0;
                            }
                        }
                        // SAFETY: (b, co, y, x0..x0+n) is written by this task only, in bounds.
                        unsafe { std::ptr::copy_nonoverlapping(vals.as_ptr(), ptr.0.add(at), n) };
                    }
                }
            }
        });
    out
}

/// Portable micro-kernel: `acc[c][i] = sum_{ci,ky,kx} w * in[ci][y+ky][x0+i+kx]`.
#[allow(clippy::too_many_arguments)]
fn strip_portable(
    input: &[f32],
    hp: usize,
    wp: usize,
    wblk: &[f32],
    g: &Geom,
    y: usize,
    x0: usize,
    acc: &mut [[f32; STRIP]; CB],
) {
    *acc = [[0f32; STRIP]; CB];
    let k = g.k;
    for ci in 0..g.cin {
        for ky in 0..k {
            let row = &input[(ci * hp + y + ky) * wp + x0..];
            for kx in 0..k {
                let wv = &wblk[((ci * k + ky) * k + kx) * CB..][..CB];
                let v = &row[kx..kx + STRIP];
                for c in 0..CB {
                    for i in 0..STRIP {
                        acc[c][i] += wv[c] * v[i];
                    }
                }
            }
        }
    }
}

/// The weight gradient: `gw[co][ci][ky][kx] = sum_{b,y,x} gout[b][co][y][x] *
/// in_pad[b][ci][y+ky][x+kx]` for `input (batch, cin, h, w)` and `gout (batch, cout, h, w)`.
pub fn weight_grad(input: &[f32], gout: &[f32], g: &Geom) -> Vec<f32> {
    weight_grad_on(input, gout, g, simd::available())
}

/// [`weight_grad`] on the AVX2 path (`simd`, which must be available) or the portable one.
pub fn weight_grad_on(input: &[f32], gout: &[f32], g: &Geom, simd: bool) -> Vec<f32> {
    assert!(g.k == 1 || g.k == 3, "1x1 and 3x3 kernels only");
    assert!(!simd || simd::available(), "no AVX2 + FMA on this CPU");
    assert_eq!(input.len(), g.batch * g.cin * g.h * g.w);
    assert_eq!(gout.len(), g.batch * g.cout * g.h * g.w);
    let padded = Padded::new(input, g.batch, g.cin, g);
    // The output gradient at strip width with zero tails (tails then add nothing); as it is when
    // the width is whole strips already.
    let wr = g.wr();
    let gr: Cow<[f32]> = if wr == g.w {
        Cow::Borrowed(gout)
    } else {
        let mut gr = vec![0f32; g.batch * g.cout * g.h * wr];
        gr.par_chunks_mut(wr)
            .zip(gout.par_chunks(g.w))
            .for_each(|(d, s)| d[..g.w].copy_from_slice(s));
        Cow::Owned(gr)
    };
    let kk = g.k * g.k;
    let avx = simd;
    let mut gw = vec![0f32; g.cout * g.cin * kk];
    gw.par_chunks_mut(kk).enumerate().for_each(|(pair, out)| {
        let (co, ci) = (pair / g.cin, pair % g.cin);
        let mut sums = [0f64; 9];
        for b in 0..g.batch {
            let gplane = &gr[(b * g.cout + co) * g.h * wr..][..g.h * wr];
            let iplane = padded.plane(b * g.cin + ci);
            let part = if avx {
                // SAFETY: features checked; loads stay inside the padded plane and its spare.
                unsafe { simd::wgrad_plane(iplane, padded.wp, gplane, wr, g) }
            } else {
                wgrad_plane_portable(iplane, padded.wp, gplane, wr, g)
            };
            for t in 0..kk {
                sums[t] += f64::from(part[t]);
            }
        }
        for t in 0..kk {
            out[t] = sums[t] as f32;
        }
    });
    gw
}

/// Portable weight-gradient of one (input plane, output-gradient plane) pair, per row summed in
/// f32 and rows summed in f64.
fn wgrad_plane_portable(
    iplane: &[f32],
    wp: usize,
    gplane: &[f32],
    wr: usize,
    g: &Geom,
) -> [f32; 9] {
    let k = g.k;
    let mut total = [0f64; 9];
    for y in 0..g.h {
        let grow = &gplane[y * wr..(y + 1) * wr];
        for ky in 0..k {
            let irow = &iplane[(y + ky) * wp..];
            for kx in 0..k {
                let s: f32 = grow
                    .iter()
                    .zip(&irow[kx..kx + wr])
                    .map(|(a, b)| a * b)
                    .sum();
                total[ky * k + kx] += f64::from(s);
            }
        }
    }
    total.map(|v| v as f32)
}

#[cfg(target_arch = "x86_64")]
mod simd {
    use super::{Geom, CB, STRIP};
    use std::arch::x86_64::*;

    /// AVX2 and FMA are present.
    pub fn available() -> bool {
        is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
    }

    /// Vectors per strip.
    const NV: usize = STRIP / 8;

    /// AVX2 version of `strip_portable`: 4 output channels x 3 vectors of 8 pixels (12
    /// accumulators) in registers; per tap 3 loads + 4 broadcasts feed 12 FMAs.
    ///
    /// # Safety
    /// The CPU must have AVX2 and FMA; `input` holds `g.cin` planes of `hp x wp` with every
    /// strip's loads (`x0 + k - 1 + STRIP` columns of rows `y..y + k`) inside it; `wblk` holds
    /// `g.cin * k * k * CB` packed weights.
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn strip(
        input: &[f32],
        hp: usize,
        wp: usize,
        wblk: &[f32],
        g: &Geom,
        y: usize,
        x0: usize,
        acc: &mut [[f32; STRIP]; CB],
    ) {
        debug_assert!(input.len() >= g.cin * hp * wp);
        // SAFETY: the caller's guarantees are strip_k's.
        unsafe {
            if g.k == 3 {
                strip_k::<3>(input, hp, wp, wblk, g.cin, y, x0, acc)
            } else {
                strip_k::<1>(input, hp, wp, wblk, g.cin, y, x0, acc)
            }
        }
    }

    /// # Safety
    /// As [`strip`], with `K` the kernel side.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    #[allow(clippy::too_many_arguments)]
    unsafe fn strip_k<const K: usize>(
        input: &[f32],
        hp: usize,
        wp: usize,
        wblk: &[f32],
        cin: usize,
        y: usize,
        x0: usize,
        acc: &mut [[f32; STRIP]; CB],
    ) {
        let mut a = [[_mm256_setzero_ps(); NV]; CB];
        let ip = input.as_ptr();
        let wptr = wblk.as_ptr();
        for ci in 0..cin {
            for ky in 0..K {
                // SAFETY: rows y..y+K of plane ci, columns x0..x0+K-1+STRIP, lie inside `input`,
                // and taps (ci, ky, kx) x CB inside `wblk` (the caller's guarantee).
                let row = unsafe { ip.add((ci * hp + y + ky) * wp + x0) };
                // SAFETY: as above.
                let wrow = unsafe { wptr.add((ci * K + ky) * K * CB) };
                for kx in 0..K {
                    // SAFETY: as above.
                    unsafe {
                        let v = [
                            _mm256_loadu_ps(row.add(kx)),
                            _mm256_loadu_ps(row.add(kx + 8)),
                            _mm256_loadu_ps(row.add(kx + 16)),
                        ];
                        let wv = wrow.add(kx * CB);
                        for (c, ac) in a.iter_mut().enumerate() {
                            let s = _mm256_broadcast_ss(&*wv.add(c));
                            for n in 0..NV {
                                ac[n] = _mm256_fmadd_ps(s, v[n], ac[n]);
                            }
                        }
                    }
                }
            }
        }
        for (row, ac) in acc.iter_mut().zip(&a) {
            for (n, v) in ac.iter().enumerate() {
                // SAFETY: lanes 8n..8n+8 of a STRIP-long row (NV * 8 = STRIP).
                unsafe { _mm256_storeu_ps(row.as_mut_ptr().add(8 * n), *v) };
            }
        }
    }

    fn hsum(v: __m256) -> f32 {
        let mut l = [0f32; 8];
        // SAFETY: l has 8 lanes.
        unsafe { _mm256_storeu_ps(l.as_mut_ptr(), v) };
        ((l[0] + l[4]) + (l[1] + l[5])) + ((l[2] + l[6]) + (l[3] + l[7]))
    }

    /// AVX2 weight gradient of one plane pair: per row, 9 (or 1) vector accumulators; row sums
    /// are added in f64.
    ///
    /// # Safety
    /// The CPU must have AVX2 and FMA; `iplane` holds `g.h + k - 1` rows of `wp` with columns
    /// up to `wr + k - 1` readable, and `gplane` holds `g.h` rows of `wr` (a multiple of 8).
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn wgrad_plane(
        iplane: &[f32],
        wp: usize,
        gplane: &[f32],
        wr: usize,
        g: &Geom,
    ) -> [f32; 9] {
        let k = g.k;
        let mut total = [0f64; 9];
        let ip = iplane.as_ptr();
        let gp = gplane.as_ptr();
        for y in 0..g.h {
            let mut a = [_mm256_setzero_ps(); 9];
            // SAFETY: every row and column read below lies inside the planes (the caller's
            // guarantee).
            unsafe {
                let grow = gp.add(y * wr);
                for x in (0..wr).step_by(8) {
                    let gv = _mm256_loadu_ps(grow.add(x));
                    if k == 3 {
                        for ky in 0..3 {
                            let r = ip.add((y + ky) * wp + x);
                            a[ky * 3] = _mm256_fmadd_ps(gv, _mm256_loadu_ps(r), a[ky * 3]);
                            a[ky * 3 + 1] =
                                _mm256_fmadd_ps(gv, _mm256_loadu_ps(r.add(1)), a[ky * 3 + 1]);
                            a[ky * 3 + 2] =
                                _mm256_fmadd_ps(gv, _mm256_loadu_ps(r.add(2)), a[ky * 3 + 2]);
                        }
                    } else {
                        for ky in 0..k {
                            for kx in 0..k {
                                let r = ip.add((y + ky) * wp + x + kx);
                                a[ky * k + kx] =
                                    _mm256_fmadd_ps(gv, _mm256_loadu_ps(r), a[ky * k + kx]);
                            }
                        }
                    }
                }
            }
            for t in 0..k * k {
                total[t] += f64::from(hsum(a[t]));
            }
        }
        total.map(|v| v as f32)
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod simd {
    use super::{Geom, CB, STRIP};
    pub fn available() -> bool {
        false
    }
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn strip(
        _: &[f32],
        _: usize,
        _: usize,
        _: &[f32],
        _: &Geom,
        _: usize,
        _: usize,
        _: &mut [[f32; STRIP]; CB],
    ) {
        unreachable!("no SIMD path on this architecture")
    }
    pub unsafe fn wgrad_plane(_: &[f32], _: usize, _: &[f32], _: usize, _: &Geom) -> [f32; 9] {
        unreachable!("no SIMD path on this architecture")
    }
}

/// Whether the AVX2 + FMA path is used on this machine (for logs and benchmarks).
pub fn simd_path() -> bool {
    simd::available()
}
