//! SAM's image encoder, matching transformers 4.57 `SamVisionEncoder` (ViT with windowed and
//! global attention, decomposed relative-position bias, convolutional neck).
//!
//! Layout: tokens are kept channels-last `(B, H, W, C)` throughout; the neck's `LayerNorm2d`
//! (normalisation over channels) is therefore a plain last-dimension layer norm. The 16x16 patch
//! convolution and the 1x1 neck convolution are computed as matrix products; the 3x3 neck
//! convolution uses candle's `conv2d`.
//!
//! In inference mode on the CPU the linear layers (with their bias) run through `cpu_matmul`,
//! the attention `softmax(q k^T + bias) v` through `attention_cpu` (fused per block of query
//! rows, with the relative-position softmax of `kernels.rs`), and the MLP's bias + GELU as the
//! fused kernel of `kernels.rs`; on other devices they are written with candle ops:
//! `softmax(scores + rel_h[.., :, None] + rel_w[.., None, :])` with a broadcast add and candle's
//! fused softmax, `gelu_erf(x + b)`. In training mode the attention probabilities come from
//! `train_ops::rel_pos_probs` (same forward, analytic backward, only the probabilities kept
//! for the backward pass) and the GELU from plain ops.

use crate::attention_cpu::rel_pos_attention;
use crate::config::VisionConfig;
use crate::kernels::gelu_bias;
use crate::layers::{softmax, Exec, LayerNorm, Linear, Weights};
use crate::train_ops::{rel_pos_probs, rel_pos_scores};
use candle_core::{Result, Tensor};

struct Attention {
    qkv: Linear,
    proj: Linear,
    heads: usize,
    scale: f64,
    /// Relative-position tables `(2 size - 1, head_dim)` as stored (live parameters in training).
    rel_pos_h: Tensor,
    rel_pos_w: Tensor,
    /// Attention side (window or grid) the tables are gathered for.
    size: usize,
    /// Inference only: gathered tables `(q, k, head_dim)` for this block's attention size.
    gathered: Option<(Tensor, Tensor)>,
    exec: Exec,
}

/// `R[i, j] = table[i - j + size - 1]`, SAM's `get_rel_pos` for equal query and key sizes.
fn gather_rel_pos(table: &Tensor, size: usize) -> Result<Tensor> {
    let idx: Vec<u32> = (0..size)
        .flat_map(|i| (0..size).map(move |j| (i + size - 1 - j) as u32))
        .collect();
    let idx = Tensor::from_vec(idx, size * size, table.device())?;
    let hd = table.dim(1)?;
    table.index_select(&idx, 0)?.reshape((size, size, hd))
}

impl Attention {
    fn load(w: &Weights, hidden: usize, heads: usize, size: usize) -> Result<Self> {
        let hd = hidden / heads;
        let (rel_pos_h, rel_pos_w) = (w.get("rel_pos_h")?, w.get("rel_pos_w")?);
        let gathered = if w.exec.train() {
            None
        } else {
            Some((
                gather_rel_pos(&rel_pos_h, size)?,
                gather_rel_pos(&rel_pos_w, size)?,
            ))
        };
        Ok(Self {
            qkv: Linear::load(&w.pp("qkv"), true)?,
            proj: Linear::load(&w.pp("proj"), true)?,
            heads,
            scale: (hd as f64).powf(-0.5),
            rel_pos_h,
            rel_pos_w,
            size,
            gathered,
            exec: w.exec,
        })
    }

    /// `x`: (B, H, W, C) -> (B, H, W, C).
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (b, h, w, c) = x.dims4()?;
        let hd = c / self.heads;
        let n = h * w;
        let qkv = self
            .qkv
            .forward(x)?
            .reshape((b, n, 3, self.heads, hd))?
            .permute((2, 0, 3, 1, 4))?;
        let q = qkv.get(0)?.contiguous()?.reshape((b * self.heads, n, hd))?;
        let k = qkv.get(1)?.contiguous()?.reshape((b * self.heads, n, hd))?;
        let v = qkv.get(2)?.contiguous()?.reshape((b * self.heads, n, hd))?;
        let (rel_h, rel_w) = match &self.gathered {
            Some((a, b)) => (a.clone(), b.clone()),
            None => (
                gather_rel_pos(&self.rel_pos_h, self.size)?,
                gather_rel_pos(&self.rel_pos_w, self.size)?,
            ),
        };
        let bh = b * self.heads;
        if self.exec.cpu_kernels() {
            // fused per block of query rows: the scores never exist for a whole head
            let (rh, rw) = rel_bias(&q, &rel_h, &rel_w, bh, h, w)?;
            let out = rel_pos_attention(
                &q.affine(self.scale, 0.0)?,
                &k,
                &v,
                &rh,
                &rw,
                h,
                w,
                self.exec.bf16,
            )?;
            let out = out
                .reshape((b, self.heads, h, w, hd))?
                .permute((0, 2, 3, 1, 4))?
                .reshape((b, h, w, c))?;
            return self.proj.forward(&out);
        }
        // Large (global) attention is done one head at a time to bound the transient memory (the
        // scores and their softmax exist for one head at a time; training keeps the probabilities).
        let chunk = if n > 1024 { 1 } else { bh };
        let mut outs = Vec::with_capacity(bh.div_ceil(chunk));
        let mut start = 0;
        while start < bh {
            let len = chunk.min(bh - start);
            let qc = q.narrow(0, start, len)?;
            let kc = k.narrow(0, start, len)?;
            let vc = v.narrow(0, start, len)?;
            let qs = qc.affine(self.scale, 0.0)?;
            let (rh, rw) = rel_bias(&qc, &rel_h, &rel_w, len, h, w)?;
            let attn = if self.exec.train() {
                rel_pos_probs(&qs, &kc, &rh, &rw, h, w)?
            } else {
                softmax(&rel_pos_scores(&qs, &kc, &rh, &rw, h, w)?, self.exec)?
            };
            outs.push(attn.matmul(&vc)?);
            start += len;
        }
        let out = if outs.len() == 1 {
            outs.pop().expect("one chunk")
        } else {
            Tensor::cat(&outs, 0)?
        };
        let out = out
            .reshape((b, self.heads, h, w, hd))?
            .permute((0, 2, 3, 1, 4))?
            .reshape((b, h, w, c))?;
        self.proj.forward(&out)
    }
}

/// The two halves of the decomposed relative-position bias, from the unscaled queries:
/// `rel_h` (len, h, w, kh) and `rel_w` (len, h, w, kw), given the gathered tables `(q, k, hd)`.
fn rel_bias(
    q: &Tensor,
    rel_h: &Tensor,
    rel_w: &Tensor,
    len: usize,
    h: usize,
    w: usize,
) -> Result<(Tensor, Tensor)> {
    let hd = q.dim(2)?;
    let q4 = q.reshape((len, h, w, hd))?;
    // rel_h[b, y, x, ky] = sum_c q[b, y, x, c] * Rh[y, ky, c]
    let qh = q4
        .permute((1, 0, 2, 3))?
        .contiguous()?
        .reshape((h, len * w, hd))?;
    let rh = qh
        .matmul(&rel_h.t()?)?
        .reshape((h, len, w, h))?
        .permute((1, 0, 2, 3))?;
    // rel_w[b, y, x, kx] = sum_c q[b, y, x, c] * Rw[x, kx, c]
    let qw = q4
        .permute((2, 0, 1, 3))?
        .contiguous()?
        .reshape((w, len * h, hd))?;
    let rw = qw
        .matmul(&rel_w.t()?)?
        .reshape((w, len, h, w))?
        .permute((1, 2, 0, 3))?;
    Ok((rh.contiguous()?, rw.contiguous()?))
}

struct Block {
    ln1: LayerNorm,
    attn: Attention,
    ln2: LayerNorm,
    /// `mlp.lin1` without its bias, which is fused into the GELU.
    lin1: Linear,
    lin1_bias: Tensor,
    lin2: Linear,
    window: usize,
    exec: Exec,
}

impl Block {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (b, h, w, c) = x.dims4()?;
        let y = self.ln1.forward(x)?;
        let y = if self.window > 0 {
            let ws = self.window;
            let (ph, pw) = ((ws - h % ws) % ws, (ws - w % ws) % ws);
            let yp = y.pad_with_zeros(1, 0, ph)?.pad_with_zeros(2, 0, pw)?;
            let (hp, wp) = (h + ph, w + pw);
            let win = yp
                .reshape((b, hp / ws, ws, wp / ws, ws, c))?
                .permute((0, 1, 3, 2, 4, 5))?
                .contiguous()?
                .reshape((b * (hp / ws) * (wp / ws), ws, ws, c))?;
            let out = self.attn.forward(&win)?;
            out.reshape((b, hp / ws, wp / ws, ws, ws, c))?
                .permute((0, 1, 3, 2, 4, 5))?
                .contiguous()?
                .reshape((b, hp, wp, c))?
                .narrow(1, 0, h)?
                .narrow(2, 0, w)?
        } else {
            self.attn.forward(&y)?
        };
        let x = (x + y)?;
        let hidden = self.lin1.forward_no_bias(&self.ln2.forward(&x)?)?;
        let act = if self.exec.cpu_kernels() {
            gelu_bias(&hidden, &self.lin1_bias)?
        } else {
            hidden.broadcast_add(&self.lin1_bias)?.gelu_erf()?
        };
        let m = self.lin2.forward(&act)?;
        x + m
    }
}

/// The ViT image encoder with its neck.
pub struct VisionEncoder {
    patch_w: Linear,
    patch: usize,
    pos: Tensor,
    blocks: Vec<Block>,
    neck_conv1: Linear,
    neck_ln1: LayerNorm,
    neck_conv2: Tensor,
    neck_ln2: LayerNorm,
}

impl VisionEncoder {
    pub fn load(w: &Weights, cfg: &VisionConfig, eps: f32) -> Result<Self> {
        let grid = cfg.image_size / cfg.patch;
        let pe = w.pp("patch_embed.projection");
        // the 16x16 stride-16 convolution as a matrix product: (C, 3, p, p) -> (C, 3*p*p)
        let pw = pe
            .get("weight")?
            .reshape((cfg.hidden, 3 * cfg.patch * cfg.patch))?;
        let patch_w = Linear::new(&pw, Some(pe.get("bias")?), w.exec)?;
        let mut blocks = Vec::with_capacity(cfg.layers);
        for i in 0..cfg.layers {
            let bw = w.pp(format!("layers.{i}"));
            let global = cfg.global_layers.contains(&i);
            let size = if global { grid } else { cfg.window };
            blocks.push(Block {
                ln1: LayerNorm::load(&bw.pp("layer_norm1"), eps)?,
                attn: Attention::load(&bw.pp("attn"), cfg.hidden, cfg.heads, size)?,
                ln2: LayerNorm::load(&bw.pp("layer_norm2"), eps)?,
                lin1: Linear::load(&bw.pp("mlp.lin1"), false)?,
                lin1_bias: bw.get("mlp.lin1.bias")?,
                lin2: Linear::load(&bw.pp("mlp.lin2"), true)?,
                window: if global { 0 } else { cfg.window },
                exec: w.exec,
            });
        }
        let neck = w.pp("neck");
        let c1 = neck.get("conv1.weight")?;
        let (n, hidden) = (c1.dim(0)?, c1.dim(1)?);
        let neck_conv1 = Linear::new(&c1.reshape((n, hidden))?, None, w.exec)?;
        Ok(Self {
            patch_w,
            patch: cfg.patch,
            pos: w.get("pos_embed")?,
            blocks,
            neck_conv1,
            neck_ln1: LayerNorm::load(&neck.pp("layer_norm1"), eps)?,
            neck_conv2: neck.get("conv2.weight")?,
            neck_ln2: LayerNorm::load(&neck.pp("layer_norm2"), eps)?,
        })
    }

    /// `pixel_values` (B, 3, S, S) -> image embeddings (B, N, g, g) channels-first, as
    /// transformers returns them.
    pub fn forward(&self, pixel_values: &Tensor) -> Result<Tensor> {
        let x = self.forward_tokens(pixel_values)?;
        self.neck(&x)
    }

    /// Patch embedding + position embedding + all blocks: (B, g, g, C).
    pub fn forward_tokens(&self, pixel_values: &Tensor) -> Result<Tensor> {
        let (b, ch, s, _) = pixel_values.dims4()?;
        let p = self.patch;
        let g = s / p;
        let cols = pixel_values
            .reshape((b, ch, g, p, g, p))?
            .permute((0, 2, 4, 1, 3, 5))?
            .contiguous()?
            .reshape((b, g, g, ch * p * p))?;
        let mut x = self.patch_w.forward(&cols)?.broadcast_add(&self.pos)?;
        for blk in &self.blocks {
            x = blk.forward(&x)?;
        }
        Ok(x)
    }

    fn neck(&self, x: &Tensor) -> Result<Tensor> {
        let y = self.neck_ln1.forward(&self.neck_conv1.forward(x)?)?; // (B, g, g, N)
        let y = y.permute((0, 3, 1, 2))?.contiguous()?; // (B, N, g, g)
        let y = y.conv2d(&self.neck_conv2, 1, 1, 1, 1)?;
        let y = self.neck_ln2.forward(&y.permute((0, 2, 3, 1))?)?;
        y.permute((0, 3, 1, 2))?.contiguous()
    }
}
