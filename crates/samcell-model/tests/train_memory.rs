//! Memory of the training-mode attention: the heap that one global-attention softmax keeps
//! between its forward and backward passes, and the peak over forward + backward, for
//! `train_ops::rel_pos_probs` (analytic backward, keeps the probabilities) against the plain-op
//! reference `rel_pos_probs_plain` (keeps every score-sized intermediate).
//!
//! Measured by a counting global allocator (this test binary only; one test, so nothing else
//! allocates concurrently). Shape: 4 heads of a 32x32 token grid (n = 1024), f32, so one
//! score-sized tensor is 16 MiB. Measured: plain keeps 6.1 such tensors and peaks at 15.2; the
//! fused op keeps 1.1 and peaks at 5.6. Asserted: kept <= 1.5 score tensors and <= 0.3x the
//! plain figure, peak <= 0.6x the plain peak. Layer norm likewise, over 4096 tokens x 256
//! channels: plain ops keep 5 token-sized tensors, the fused op 1 (its result).

use candle_core::{Device, Tensor, Var};
use samcell_model::train_ops::{layer_norm, rel_pos_probs, rel_pos_probs_plain};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grow(n: usize) {
    let now = CURRENT.fetch_add(n, Relaxed) + n;
    PEAK.fetch_max(now, Relaxed);
}

// SAFETY: every call is forwarded unchanged to the system allocator; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's guarantees for `alloc` are passed on unchanged.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grow(layout.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's guarantees for `alloc_zeroed` are passed on unchanged.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grow(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        // SAFETY: the caller's guarantees for `dealloc` are passed on unchanged.
        unsafe { System.dealloc(p, layout) };
        CURRENT.fetch_sub(layout.size(), Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's guarantees for `realloc` are passed on unchanged.
        let q = unsafe { System.realloc(p, layout, new_size) };
        if !q.is_null() {
            CURRENT.fetch_sub(layout.size(), Relaxed);
            grow(new_size);
        }
        q
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// (bytes kept from the end of the forward pass to the backward pass, peak bytes over both),
/// both above what was allocated before the forward pass.
fn measure(fused: bool, vars: &[Var], values: &Tensor, h: usize, w: usize) -> (usize, usize) {
    let f = if fused {
        rel_pos_probs
    } else {
        rel_pos_probs_plain
    };
    let base = CURRENT.load(Relaxed);
    PEAK.store(base, Relaxed);
    let p = f(
        vars[0].as_tensor(),
        vars[1].as_tensor(),
        vars[2].as_tensor(),
        vars[3].as_tensor(),
        h,
        w,
    )
    .unwrap();
    let loss = p.matmul(values).unwrap().sum_all().unwrap();
    let kept = CURRENT.load(Relaxed) - base;
    let grads = loss.backward().unwrap();
    let peak = PEAK.load(Relaxed) - base;
    assert!(grads.get(vars[0].as_tensor()).is_some());
    (kept, peak)
}

#[test]
fn training_ops_keep_only_their_results() {
    let (len, h, w, hd) = (4, 32, 32, 16);
    let n = h * w;
    let dev = Device::Cpu;
    let vars: Vec<Var> = [
        Tensor::randn(0f32, 0.5, (len, n, hd), &dev).unwrap(),
        Tensor::randn(0f32, 0.5, (len, n, hd), &dev).unwrap(),
        Tensor::randn(0f32, 0.5, (len, h, w, h), &dev).unwrap(),
        Tensor::randn(0f32, 0.5, (len, h, w, w), &dev).unwrap(),
    ]
    .iter()
    .map(|t| Var::from_tensor(t).unwrap())
    .collect();
    // The loss is sum(P v), as the attention uses P.
    let values = Tensor::randn(0f32, 1.0, (len, n, hd), &dev).unwrap();
    let score = len * n * n * 4;
    let (plain_kept, plain_peak) = measure(false, &vars, &values, h, w);
    let (kept, peak) = measure(true, &vars, &values, h, w);
    let s = |b: usize| b as f64 / score as f64;
    eprintln!(
        "score-sized tensors kept / peak: plain {:.2} / {:.2}, fused {:.2} / {:.2}",
        s(plain_kept),
        s(plain_peak),
        s(kept),
        s(peak)
    );
    assert!(
        s(plain_kept) >= 4.0,
        "the plain reference should keep its intermediates: {:.2}",
        s(plain_kept)
    );
    assert!(
        s(kept) <= 1.5,
        "fused op keeps {:.2} score-sized tensors",
        s(kept)
    );
    assert!(kept as f64 <= 0.3 * plain_kept as f64);
    assert!(
        peak as f64 <= 0.6 * plain_peak as f64,
        "peak {:.2} vs plain {:.2}",
        s(peak),
        s(plain_peak)
    );

    // Layer norm over (4096 tokens, 256 channels): the plain ops keep 5 token-sized tensors
    // beside the input (measured 5.0), the fused op 1, its result (measured 1.0).
    let x = Var::from_tensor(&Tensor::randn(1f32, 2.0, (4096, 256), &dev).unwrap()).unwrap();
    let w = Var::from_tensor(&Tensor::randn(1f32, 0.1, 256, &dev).unwrap()).unwrap();
    let b = Var::from_tensor(&Tensor::randn(0f32, 0.1, 256, &dev).unwrap()).unwrap();
    let tokens = 4096 * 256 * 4;
    let ln_kept = |fused: bool| {
        let base = CURRENT.load(Relaxed);
        let f = if fused {
            layer_norm
        } else {
            samcell_model::train_ops::layer_norm_plain
        };
        let y = f(x.as_tensor(), w.as_tensor(), b.as_tensor(), 1e-6).unwrap();
        let loss = y.sum_all().unwrap();
        let kept = (CURRENT.load(Relaxed) - base) as f64 / tokens as f64;
        let grads = loss.backward().unwrap();
        assert!(grads.get(x.as_tensor()).is_some());
        kept
    };
    let (plain, fused) = (ln_kept(false), ln_kept(true));
    eprintln!("token-sized tensors kept by layer norm: plain {plain:.2}, fused {fused:.2}");
    assert!(
        plain >= 4.0 && fused <= 1.2,
        "layer norm keeps {fused:.2} (plain {plain:.2})"
    );
}
