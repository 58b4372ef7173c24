//! Times the ViT-B encoder's heavy operations in isolation (one crop's worth each), to see where
//! a forward pass spends its time; with a checkpoint path, also one whole crop's forward pass
//! (best of 3 after a warm-up).
//!
//! `cargo run --release -p samcell-model --example profile_ops [-- reference/weights/sam_vitb_scaled.safetensors [bf16]]`

use candle_core::{Device, Tensor};
use mimalloc::MiMalloc;
use std::time::Instant;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

fn time(name: &str, reps: usize, f: impl Fn() -> Tensor) {
    let _ = f();
    let t = Instant::now();
    for _ in 0..reps {
        let _ = f();
    }
    println!(
        "{name:<44} {:>8.1} ms",
        t.elapsed().as_secs_f64() * 1e3 / reps as f64
    );
}

fn main() {
    let d = Device::Cpu;
    let x = Tensor::randn(0f32, 1.0, (4900, 768), &d).unwrap();
    let w1 = Tensor::randn(0f32, 0.03, (768, 3072), &d).unwrap();
    let b1 = Tensor::randn(0f32, 0.03, 3072, &d).unwrap();
    let h = x.matmul(&w1).unwrap();
    time("matmul 4900x768 @ 768x3072", 3, || x.matmul(&w1).unwrap());
    {
        use rayon::prelude::*;
        use samcell_model::bf16_gemm::{gemm_into, MatView, OutRows, PackedB};
        let (xv, wv) = (
            x.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            w1.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
        );
        let packed = PackedB::pack(MatView::row_major(&wv, 768, 3072)).unwrap();
        let mut out = vec![0f32; 4900 * 3072];
        let run = |out: &mut Vec<f32>| {
            out.par_chunks_mut(96 * 3072)
                .enumerate()
                .for_each(|(t, c)| {
                    let a = MatView {
                        offset: t * 96 * 768,
                        rows: c.len() / 3072,
                        ..MatView::row_major(&xv, 4900, 768)
                    };
                    gemm_into(a, &packed, None, OutRows::new(c, 3072), &mut Vec::new()).unwrap();
                })
        };
        run(&mut out);
        let t = Instant::now();
        for _ in 0..3 {
            run(&mut out);
        }
        let s = t.elapsed().as_secs_f64() / 3.0;
        println!(
            "{:<44} {:>8.1} ms  ({:.0} GFLOP/s)",
            "bf16 gemm 4900x768 @ 768x3072",
            s * 1e3,
            2.0 * 4900.0 * 768.0 * 3072.0 / s / 1e9
        );
    }
    time("bias add 4900x3072", 3, || h.broadcast_add(&b1).unwrap());
    time("gelu_erf 4900x3072", 3, || h.gelu_erf().unwrap());
    time("gelu (tanh) 4900x3072", 3, || h.gelu().unwrap());
    let ln_w = Tensor::ones(768, candle_core::DType::F32, &d).unwrap();
    let ln_b = Tensor::zeros(768, candle_core::DType::F32, &d).unwrap();
    time("layer_norm 4900x768", 3, || {
        candle_nn::ops::layer_norm(&x, &ln_w, &ln_b, 1e-6).unwrap()
    });
    let q = Tensor::randn(0f32, 1.0, (1, 4096, 64), &d).unwrap();
    let k = Tensor::randn(0f32, 1.0, (1, 4096, 64), &d).unwrap();
    let a = q.matmul(&k.t().unwrap()).unwrap();
    time("global qk^T one head 4096x4096", 3, || {
        q.matmul(&k.t().unwrap()).unwrap()
    });
    time("softmax one head 4096x4096", 3, || {
        candle_nn::ops::softmax_last_dim(&a).unwrap()
    });
    let rh = Tensor::randn(0f32, 1.0, (1, 64, 64, 64, 1), &d).unwrap();
    let rw = Tensor::randn(0f32, 1.0, (1, 64, 64, 1, 64), &d).unwrap();
    time("rel bias build one head", 3, || {
        rh.broadcast_add(&rw).unwrap()
    });
    let bias = rh.broadcast_add(&rw).unwrap();
    time("attn + bias one head", 3, || {
        a.reshape((1, 64, 64, 64, 64)).unwrap().add(&bias).unwrap()
    });
    time("attn @ v one head", 3, || a.matmul(&q).unwrap());

    if let Some(path) = std::env::args().nth(1) {
        // the second argument `bf16` selects the CPU's bf16 precision
        let dtype = match std::env::args().nth(2).as_deref() {
            Some("bf16") => candle_core::DType::BF16,
            _ => candle_core::DType::F32,
        };
        let model =
            samcell_model::SamModel::load_as(std::path::Path::new(&path), None, &d, dtype).unwrap();
        let x = Tensor::randn(0f32, 1.0, (1, 3, 1024, 1024), &d).unwrap();
        let _ = model.forward(&x).unwrap();
        let best = (0..3)
            .map(|_| {
                let t = Instant::now();
                let _ = model.forward(&x).unwrap();
                t.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min);
        println!(
            "{:<44} {:>8.1} ms",
            format!("whole forward, one crop ({})", model.config.variant()),
            best * 1e3
        );
    }
}
