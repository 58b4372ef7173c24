//! SAM's prompt path without prompts and its mask decoder, matching transformers 4.57
//! `SamPromptEncoder` / `SamMaskDecoder` / `SamTwoWayTransformer` as `SamModel.forward` runs
//! them when only `pixel_values` is given:
//! - no sparse prompt tokens; dense prompt = `no_mask_embed` broadcast over the grid;
//! - tokens = [iou_token, mask_tokens...]; image-wide positional encoding from
//!   `shared_image_embedding` (random Fourier features of pixel-centre coordinates);
//! - two-way transformer, final token-to-image attention, upscaling by two transposed 2x2
//!   convolutions (LayerNorm2d + GELU between, GELU after), hypernetwork MLPs per mask token.
//!
//! Transposed convolutions with kernel 2 and stride 2 are computed as matrix products on
//! channels-last tensors.
//!
//! In training mode every parameter-derived layout (the token table, the transposed-convolution
//! weights) is rebuilt from the live parameters on each forward, and all mask tokens' masks are
//! computed before mask token 1 is selected, as transformers does: the hypernetworks of the
//! unused tokens then get (zero) gradients exactly as in PyTorch, where they are part of the graph.

use crate::config::DecoderConfig;
use crate::layers::{softmax, Exec, LayerNorm, Linear, Weights};
use candle_core::{Result, Tensor};

struct Attention {
    q: Linear,
    k: Linear,
    v: Linear,
    out: Linear,
    heads: usize,
    exec: Exec,
}

impl Attention {
    fn load(w: &Weights, heads: usize) -> Result<Self> {
        Ok(Self {
            q: Linear::load(&w.pp("q_proj"), true)?,
            k: Linear::load(&w.pp("k_proj"), true)?,
            v: Linear::load(&w.pp("v_proj"), true)?,
            out: Linear::load(&w.pp("out_proj"), true)?,
            heads,
            exec: w.exec,
        })
    }

    /// q: (B, Nq, C), k/v: (B, Nk, C) -> (B, Nq, C).
    fn forward(&self, q: &Tensor, k: &Tensor, v: &Tensor) -> Result<Tensor> {
        let q = self.q.forward(q)?;
        let k = self.k.forward(k)?;
        let v = self.v.forward(v)?;
        let (b, nq, inner) = q.dims3()?;
        let nk = k.dim(1)?;
        let hd = inner / self.heads;
        let split = |t: &Tensor, n: usize| -> Result<Tensor> {
            t.reshape((b, n, self.heads, hd))?
                .transpose(1, 2)?
                .contiguous()
        };
        let (q, k, v) = (split(&q, nq)?, split(&k, nk)?, split(&v, nk)?);
        let attn = q.matmul(&k.t()?)?.affine(1.0 / (hd as f64).sqrt(), 0.0)?;
        let attn = softmax(&attn, self.exec)?;
        let o = attn.matmul(&v)?.transpose(1, 2)?.reshape((b, nq, inner))?;
        self.out.forward(&o)
    }
}

struct TwoWayBlock {
    self_attn: Attention,
    ln1: LayerNorm,
    cross_t2i: Attention,
    ln2: LayerNorm,
    lin1: Linear,
    lin2: Linear,
    ln3: LayerNorm,
    ln4: LayerNorm,
    cross_i2t: Attention,
    skip_first_pe: bool,
}

impl TwoWayBlock {
    fn forward(
        &self,
        queries: &Tensor,
        keys: &Tensor,
        qpe: &Tensor,
        kpe: &Tensor,
    ) -> Result<(Tensor, Tensor)> {
        let queries = if self.skip_first_pe {
            self.self_attn.forward(queries, queries, queries)?
        } else {
            let q = (queries + qpe)?;
            (queries + self.self_attn.forward(&q, &q, queries)?)?
        };
        let queries = self.ln1.forward(&queries)?;
        let q = (&queries + qpe)?;
        let k = keys.broadcast_add(kpe)?;
        let queries = (&queries + self.cross_t2i.forward(&q, &k, keys)?)?;
        let queries = self.ln2.forward(&queries)?;
        let m = self.lin2.forward(&self.lin1.forward(&queries)?.relu()?)?;
        let queries = self.ln3.forward(&(queries + m)?)?;
        let q = (&queries + qpe)?;
        let keys = (keys + self.cross_i2t.forward(&k, &q, &queries)?)?;
        let keys = self.ln4.forward(&keys)?;
        Ok((queries, keys))
    }
}

/// `proj_in -> relu -> (layer -> relu)* -> proj_out`.
struct Mlp {
    layers: Vec<Linear>,
}

impl Mlp {
    fn load(w: &Weights, n: usize) -> Result<Self> {
        let mut layers = vec![Linear::load(&w.pp("proj_in"), true)?];
        for j in 0..n.saturating_sub(2) {
            layers.push(Linear::load(&w.pp(format!("layers.{j}")), true)?);
        }
        layers.push(Linear::load(&w.pp("proj_out"), true)?);
        Ok(Self { layers })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut x = x.clone();
        let last = self.layers.len() - 1;
        for (i, l) in self.layers.iter().enumerate() {
            x = l.forward(&x)?;
            if i < last {
                x = x.relu()?;
            }
        }
        Ok(x)
    }
}

/// A transposed 2x2 stride-2 convolution as a matrix product on (B, H, W, Cin).
struct Upscale {
    /// (Cin, Cout, 2, 2) as stored.
    weight: Tensor,
    /// Inference only: (Cin, 2*2*Cout) ordered (dy, dx, cout).
    w: Option<Tensor>,
    b: Tensor,
    cout: usize,
}

fn upscale_matrix(weight: &Tensor) -> Result<Tensor> {
    let (cin, cout) = (weight.dim(0)?, weight.dim(1)?);
    weight
        .permute((0, 2, 3, 1))?
        .contiguous()?
        .reshape((cin, 4 * cout))
}

impl Upscale {
    fn load(w: &Weights) -> Result<Self> {
        let weight = w.get("weight")?; // (Cin, Cout, 2, 2)
        let cout = weight.dim(1)?;
        let w2 = if w.exec.train() {
            None
        } else {
            Some(upscale_matrix(&weight)?)
        };
        Ok(Self {
            weight,
            w: w2,
            b: w.get("bias")?,
            cout,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (b, h, w, cin) = x.dims4()?;
        let m = match &self.w {
            Some(m) => m.clone(),
            None => upscale_matrix(&self.weight)?,
        };
        let y = x.reshape((b * h * w, cin))?.matmul(&m)?;
        let y = y
            .reshape((b, h, w, 2, 2, self.cout))?
            .permute((0, 1, 3, 2, 4, 5))?
            .contiguous()?
            .reshape((b, 2 * h, 2 * w, self.cout))?;
        y.broadcast_add(&self.b)
    }
}

/// Output of the mask decoder for the multimask tokens.
pub struct DecoderOutput {
    /// Low-resolution mask logits of mask tokens 1..=3, (B, 3, 4g, 4g).
    pub masks: Tensor,
    /// IoU predictions for mask tokens 1..=3, (B, 3).
    pub iou: Tensor,
}

/// The no-prompt prompt path plus the mask decoder.
pub struct MaskDecoder {
    iou_token: Tensor,   // (1, C)
    mask_tokens: Tensor, // (mask_tokens, C)
    /// Inference only: [iou_token; mask_tokens], (1 + mask_tokens, C).
    tokens: Option<Tensor>,
    exec: Exec,
    no_mask: Tensor,  // (1, 1, C) channels-last broadcast
    image_pe: Tensor, // (g*g, C)
    blocks: Vec<TwoWayBlock>,
    final_attn: Attention,
    ln_final: LayerNorm,
    up1: Upscale,
    up_ln: LayerNorm,
    up2: Upscale,
    hyper: Vec<Mlp>,
    iou_head: Mlp,
}

/// transformers' `get_image_wide_positional_embeddings` for a g x g grid, channels-last (g*g, C).
fn image_pe(gaussian: &Tensor, g: usize) -> Result<Tensor> {
    let mut coords = Vec::with_capacity(g * g * 2);
    for y in 0..g {
        for x in 0..g {
            // cumsum - 0.5 of a ones grid, divided by the size, then mapped to [-1, 1]
            let cx = ((x as f32 + 1.0) - 0.5) / g as f32;
            let cy = ((y as f32 + 1.0) - 0.5) / g as f32;
            coords.push(2.0 * cx - 1.0);
            coords.push(2.0 * cy - 1.0);
        }
    }
    // coordinates in f32 as transformers computes them, then in the table's precision
    let c = Tensor::from_vec(coords, (g * g, 2), gaussian.device())?.to_dtype(gaussian.dtype())?;
    let proj = c
        .matmul(gaussian)?
        .affine(2.0 * std::f64::consts::PI, 0.0)?;
    Tensor::cat(&[proj.sin()?, proj.cos()?], 1)
}

impl MaskDecoder {
    pub fn load(root: &Weights, cfg: &DecoderConfig, grid: usize, eps: f32) -> Result<Self> {
        let w = root.pp("mask_decoder");
        let (iou_token, mask_tokens) = (w.get("iou_token.weight")?, w.get("mask_tokens.weight")?);
        let tokens = if w.exec.train() {
            None
        } else {
            Some(Tensor::cat(&[&iou_token, &mask_tokens], 0)?)
        };
        let no_mask = root
            .get("prompt_encoder.no_mask_embed.weight")?
            .reshape((1, 1, cfg.hidden))?;
        let image_pe = image_pe(
            &root.get("shared_image_embedding.positional_embedding")?,
            grid,
        )?;
        let t = w.pp("transformer");
        let mut blocks = Vec::new();
        for i in 0..cfg.layers {
            let b = t.pp(format!("layers.{i}"));
            blocks.push(TwoWayBlock {
                self_attn: Attention::load(&b.pp("self_attn"), cfg.heads)?,
                ln1: LayerNorm::load(&b.pp("layer_norm1"), eps)?,
                cross_t2i: Attention::load(&b.pp("cross_attn_token_to_image"), cfg.heads)?,
                ln2: LayerNorm::load(&b.pp("layer_norm2"), eps)?,
                lin1: Linear::load(&b.pp("mlp.lin1"), true)?,
                lin2: Linear::load(&b.pp("mlp.lin2"), true)?,
                ln3: LayerNorm::load(&b.pp("layer_norm3"), eps)?,
                ln4: LayerNorm::load(&b.pp("layer_norm4"), eps)?,
                cross_i2t: Attention::load(&b.pp("cross_attn_image_to_token"), cfg.heads)?,
                skip_first_pe: i == 0,
            });
        }
        let hyper = (0..cfg.mask_tokens)
            .map(|i| {
                Mlp::load(
                    &w.pp(format!("output_hypernetworks_mlps.{i}")),
                    cfg.hyper_layers,
                )
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            iou_token,
            mask_tokens,
            tokens,
            exec: w.exec,
            no_mask,
            image_pe,
            blocks,
            final_attn: Attention::load(&t.pp("final_attn_token_to_image"), cfg.heads)?,
            ln_final: LayerNorm::load(&t.pp("layer_norm_final_attn"), eps)?,
            up1: Upscale::load(&w.pp("upscale_conv1"))?,
            up_ln: LayerNorm::load(&w.pp("upscale_layer_norm"), eps)?,
            up2: Upscale::load(&w.pp("upscale_conv2"))?,
            hyper,
            iou_head: Mlp::load(&w.pp("iou_prediction_head"), cfg.iou_layers)?,
        })
    }

    /// The image-wide positional encoding, channels-first (C, g, g) as transformers returns it.
    pub fn image_positional_embeddings(&self, grid: usize) -> Result<Tensor> {
        let c = self.image_pe.dim(1)?;
        self.image_pe
            .reshape((grid, grid, c))?
            .permute((2, 0, 1))?
            .contiguous()
    }

    /// Runs the two-way transformer and the upscaling, then the hypernetworks of the mask
    /// tokens in `tokens` only. Returns the masks (B, len(tokens), 4g, 4g) and the final queries.
    fn run(
        &self,
        image_embeddings: &Tensor,
        tokens: std::ops::Range<usize>,
    ) -> Result<(Tensor, Tensor)> {
        let (b, c, g, _) = image_embeddings.dims4()?;
        let all_tokens = match &self.tokens {
            Some(t) => t.clone(),
            None => Tensor::cat(&[&self.iou_token, &self.mask_tokens], 0)?,
        };
        let n_tok = all_tokens.dim(0)?;
        let keys0 = image_embeddings
            .permute((0, 2, 3, 1))?
            .reshape((b, g * g, c))?
            .broadcast_add(&self.no_mask)?;
        let qpe = all_tokens
            .unsqueeze(0)?
            .broadcast_as((b, n_tok, c))?
            .contiguous()?;
        let kpe = self.image_pe.unsqueeze(0)?;
        let mut queries = qpe.clone();
        let mut keys = keys0;
        for blk in &self.blocks {
            let (q, k) = blk.forward(&queries, &keys, &qpe, &kpe)?;
            queries = q;
            keys = k;
        }
        let q = (&queries + &qpe)?;
        let k = keys.broadcast_add(&kpe)?;
        let queries = self
            .ln_final
            .forward(&(&queries + self.final_attn.forward(&q, &k, &keys)?)?)?;

        let x = keys.reshape((b, g, g, c))?;
        let x = self.up_ln.forward(&self.up1.forward(&x)?)?.gelu_erf()?;
        let x = self.up2.forward(&x)?.gelu_erf()?; // (B, 4g, 4g, C2)
        let (_, hh, ww, c2) = x.dims4()?;
        let x = x.reshape((b, hh * ww, c2))?;
        // training: every token's hypernetwork is in the graph, as in transformers
        let computed = if self.exec.train() {
            0..self.hyper.len()
        } else {
            tokens.clone()
        };
        let mut hyps = Vec::with_capacity(computed.len());
        for t in computed.clone() {
            let tok = queries.narrow(1, 1 + t, 1)?; // mask token t, (B, 1, C)
            hyps.push(self.hyper[t].forward(&tok)?); // (B, 1, C2)
        }
        let hyp = Tensor::cat(&hyps, 1)?; // (B, T, C2)
        let masks = x.matmul(&hyp.transpose(1, 2)?.contiguous()?)?; // (B, HW, T)
        let masks = masks
            .transpose(1, 2)?
            .reshape((b, computed.len(), hh, ww))?;
        let masks = masks.narrow(1, tokens.start - computed.start, tokens.len())?;
        Ok((masks, queries))
    }

    /// The multimask outputs (mask tokens 1..) and their IoU predictions.
    /// `image_embeddings`: (B, C, g, g) channels-first.
    pub fn forward(&self, image_embeddings: &Tensor) -> Result<DecoderOutput> {
        let (masks, queries) = self.run(image_embeddings, 1..self.hyper.len())?;
        let iou = self
            .iou_head
            .forward(&queries.narrow(1, 0, 1)?)?
            .squeeze(1)?; // (B, mask_tokens)
        let iou = iou.narrow(1, 1, iou.dim(1)? - 1)?;
        Ok(DecoderOutput { masks, iou })
    }

    /// Only mask token 1 (what SAMCell uses), (B, 4g, 4g) logits.
    pub fn forward_token1(&self, image_embeddings: &Tensor) -> Result<Tensor> {
        self.run(image_embeddings, 1..2)?.0.squeeze(1)
    }
}
