//! The fast convolution against a naive 7-loop reference (both code paths) and against candle's
//! `conv2d`, forward and backward, on random shapes including ragged widths.

use super::kernel::{self, Geom};
use super::*;
use proptest::prelude::*;

/// The definition: `out[b][co][y][x] = sum w[co][ci][ky][kx] * in[b][ci][y+ky-p][x+kx-p]`, zero
/// outside the image.
fn naive_forward(input: &[f32], w: &[f32], g: &Geom) -> Vec<f32> {
    let p = g.pad() as isize;
    let mut out = vec![0f32; g.batch * g.cout * g.h * g.w];
    for b in 0..g.batch {
        for co in 0..g.cout {
            for y in 0..g.h {
                for x in 0..g.w {
                    let mut s = 0f64;
                    for ci in 0..g.cin {
                        for ky in 0..g.k {
                            for kx in 0..g.k {
                                let (yy, xx) =
                                    (y as isize + ky as isize - p, x as isize + kx as isize - p);
                                if yy < 0 || xx < 0 || yy >= g.h as isize || xx >= g.w as isize {
                                    continue;
                                }
                                let v = input
                                    [((b * g.cin + ci) * g.h + yy as usize) * g.w + xx as usize];
                                s += f64::from(v)
                                    * f64::from(w[((co * g.cin + ci) * g.k + ky) * g.k + kx]);
                            }
                        }
                    }
                    out[((b * g.cout + co) * g.h + y) * g.w + x] = s as f32;
                }
            }
        }
    }
    out
}

/// The definition of the weight gradient.
fn naive_weight_grad(input: &[f32], gout: &[f32], g: &Geom) -> Vec<f32> {
    let p = g.pad() as isize;
    let mut gw = vec![0f32; g.cout * g.cin * g.k * g.k];
    for co in 0..g.cout {
        for ci in 0..g.cin {
            for ky in 0..g.k {
                for kx in 0..g.k {
                    let mut s = 0f64;
                    for b in 0..g.batch {
                        for y in 0..g.h {
                            for x in 0..g.w {
                                let (yy, xx) =
                                    (y as isize + ky as isize - p, x as isize + kx as isize - p);
                                if yy < 0 || xx < 0 || yy >= g.h as isize || xx >= g.w as isize {
                                    continue;
                                }
                                s += f64::from(gout[((b * g.cout + co) * g.h + y) * g.w + x])
                                    * f64::from(
                                        input[((b * g.cin + ci) * g.h + yy as usize) * g.w
                                            + xx as usize],
                                    );
                            }
                        }
                    }
                    gw[((co * g.cin + ci) * g.k + ky) * g.k + kx] = s as f32;
                }
            }
        }
    }
    gw
}

fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// Largest |a - b| relative to the largest |b| (at least 1).
fn rel_err(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(1f32, |m, v| m.max(v.abs()));
    a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs())) / scale
}

fn geom_strategy() -> impl Strategy<Value = Geom> {
    (
        1usize..3,
        1usize..10,
        1usize..10,
        1usize..24,
        1usize..40,
        prop_oneof![Just(1usize), Just(3usize)],
    )
        .prop_map(|(batch, cin, cout, h, w, k)| Geom {
            batch,
            cin,
            cout,
            h,
            w,
            k,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Forward and weight gradient equal the definition to 1e-5 of the largest value (f32 sums
    /// of at most 81 products per output; the weight gradient sums rows in f64), on both paths.
    #[test]
    fn kernels_match_the_definition(g in geom_strategy(), seed in 0u64..1000) {
        let input = values(g.batch * g.cin * g.h * g.w, seed);
        let w = values(g.cout * g.cin * g.k * g.k, seed + 1);
        let gout = values(g.batch * g.cout * g.h * g.w, seed + 2);
        let want = naive_forward(&input, &w, &g);
        let want_gw = naive_weight_grad(&input, &gout, &g);
        let mut paths = vec![false];
        if kernel::simd_path() {
            paths.push(true);
        }
        for simd in paths {
            let got = kernel::forward_on(&input, &w, &g, kernel::Epilogue::default(), simd);
            prop_assert!(rel_err(&got, &want) < 1e-5, "forward simd={simd} {g:?}: {}", rel_err(&got, &want));
            let gw = kernel::weight_grad_on(&input, &gout, &g, simd);
            prop_assert!(rel_err(&gw, &want_gw) < 1e-5, "weight grad simd={simd} {g:?}: {}", rel_err(&gw, &want_gw));
        }
    }
}

type Grads = (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>);

/// Output and the gradients of x, w, b of `sum(act(conv(x, w) + b) * r)`, by this module's op
/// (`fast`) or by candle's conv2d + broadcast_add + relu.
fn grads(x: &Tensor, w: &Tensor, b: &Tensor, r: &Tensor, relu: bool, fast: bool) -> Grads {
    let xv = candle_core::Var::from_tensor(x).unwrap();
    let wv = candle_core::Var::from_tensor(w).unwrap();
    let bv = candle_core::Var::from_tensor(b).unwrap();
    let (xt, wt, bt) = (xv.as_tensor(), wv.as_tensor(), bv.as_tensor());
    let y = if fast {
        conv_bias_act(xt, wt, bt, relu).unwrap()
    } else {
        let y = xt
            .conv2d(wt, w.dim(2).unwrap() / 2, 1, 1, 1)
            .unwrap()
            .broadcast_add(&bt.reshape((1, (), 1, 1)).unwrap())
            .unwrap();
        if relu {
            y.relu().unwrap()
        } else {
            y
        }
    };
    let loss = (&y * r).unwrap().sum_all().unwrap();
    let g = loss.backward().unwrap();
    let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    (
        flat(&y),
        flat(g.get(xt).unwrap()),
        flat(g.get(wt).unwrap()),
        flat(g.get(bt).unwrap()),
    )
}

/// Output and the gradients of input, weight and bias equal candle's `conv2d` + bias + ReLU and
/// their backward to 1e-5 of the largest value, for the U-Net's layer shapes at a small size with
/// ragged widths and widths of whole strips.
#[test]
fn forward_and_backward_match_candle_conv2d() {
    let dev = Device::Cpu;
    for (i, &(b, cin, cout, h, w, k)) in [
        (2, 1, 8, 37, 45, 3),
        (1, 16, 8, 20, 33, 3),
        (2, 8, 16, 18, 18, 3),
        (1, 8, 1, 21, 19, 1),
        (2, 32, 16, 9, 9, 1),
        // widths of whole strips: the unpadded input and output gradient are used in place
        (2, 16, 8, 7, 48, 1),
        (1, 8, 8, 10, 48, 3),
    ]
    .iter()
    .enumerate()
    {
        let seed = 10 * i as u64;
        let x = Tensor::from_vec(values(b * cin * h * w, seed), (b, cin, h, w), &dev).unwrap();
        let wt = Tensor::from_vec(
            values(cout * cin * k * k, seed + 1),
            (cout, cin, k, k),
            &dev,
        )
        .unwrap();
        let r =
            Tensor::from_vec(values(b * cout * h * w, seed + 2), (b, cout, h, w), &dev).unwrap();
        let bias = Tensor::from_vec(values(cout, seed + 3), cout, &dev).unwrap();
        for relu in [false, true] {
            let (y0, gx0, gw0, gb0) = grads(&x, &wt, &bias, &r, relu, false);
            let (y1, gx1, gw1, gb1) = grads(&x, &wt, &bias, &r, relu, true);
            let shape = (b, cin, cout, h, w, k, relu);
            assert!(
                rel_err(&y1, &y0) < 1e-5,
                "{shape:?} forward {}",
                rel_err(&y1, &y0)
            );
            assert!(
                rel_err(&gx1, &gx0) < 1e-5,
                "{shape:?} input grad {}",
                rel_err(&gx1, &gx0)
            );
            assert!(
                rel_err(&gw1, &gw0) < 1e-5,
                "{shape:?} weight grad {}",
                rel_err(&gw1, &gw0)
            );
            assert!(
                rel_err(&gb1, &gb0) < 1e-5,
                "{shape:?} bias grad {}",
                rel_err(&gb1, &gb0)
            );
        }
    }
}

/// One thread or two give bit-identical results (training is reproducible across machines with
/// the same instruction path).
#[test]
fn results_do_not_depend_on_the_thread_count() {
    let g = Geom {
        batch: 2,
        cin: 8,
        cout: 12,
        h: 40,
        w: 50,
        k: 3,
    };
    let input = values(g.batch * g.cin * g.h * g.w, 5);
    let w = values(g.cout * g.cin * 9, 6);
    let gout = values(g.batch * g.cout * g.h * g.w, 7);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            (
                kernel::forward(&input, &w, &g),
                kernel::weight_grad(&input, &gout, &g),
            )
        })
    };
    assert_eq!(run(1), run(2));
}

/// Pooling and up-sampling: forward equal to candle's `max_pool2d(2)` and the broadcast
/// up-sampling; backward equal to the definition (pooling: the output gradient at each window's
/// maximum — note candle 0.11's own `max_pool2d` backward divides it by the window area, 4) and
/// to candle's broadcast backward (up-sampling: the 2x2 sums).
#[test]
fn pool_and_up_match_candle() {
    use super::pointwise::{max_pool2, up2};
    let dev = Device::Cpu;
    let (b, c, h, w) = (2, 3, 10, 14);
    let x = Tensor::from_vec(values(b * c * h * w, 91), (b, c, h, w), &dev).unwrap();
    let xv = candle_core::Var::from_tensor(&x).unwrap();
    let r = Tensor::from_vec(values(b * c * h * w / 4, 92), (b, c, h / 2, w / 2), &dev).unwrap();
    let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let ours = max_pool2(xv.as_tensor()).unwrap();
    let theirs = xv.as_tensor().max_pool2d(2).unwrap();
    assert_eq!(flat(&ours), flat(&theirs));
    let g0 = (&ours * &r).unwrap().sum_all().unwrap().backward().unwrap();
    let (xs, rs) = (flat(&x), flat(&r));
    let mut want = vec![0f32; xs.len()];
    for p in 0..b * c {
        for y in 0..h / 2 {
            for xx in 0..w / 2 {
                let at = |dy: usize, dx: usize| p * h * w + (2 * y + dy) * w + 2 * xx + dx;
                let best = [at(0, 0), at(0, 1), at(1, 0), at(1, 1)]
                    .into_iter()
                    .fold(at(0, 0), |m, i| if xs[i] > xs[m] { i } else { m });
                want[best] = rs[p * (h / 2) * (w / 2) + y * (w / 2) + xx];
            }
        }
    }
    assert_eq!(flat(g0.get(xv.as_tensor()).unwrap()), want);

    let r2 = Tensor::from_vec(values(b * c * h * w * 4, 93), (b, c, 2 * h, 2 * w), &dev).unwrap();
    let ours = up2(xv.as_tensor()).unwrap();
    let theirs = xv
        .as_tensor()
        .reshape((b, c, h, 1, w, 1))
        .unwrap()
        .broadcast_as((b, c, h, 2, w, 2))
        .unwrap()
        .reshape((b, c, 2 * h, 2 * w))
        .unwrap();
    assert_eq!(flat(&ours), flat(&theirs));
    let g0 = (&ours * &r2)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let g1 = (&theirs * &r2)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    assert!(
        rel_err(
            &flat(g0.get(xv.as_tensor()).unwrap()),
            &flat(g1.get(xv.as_tensor()).unwrap())
        ) < 1e-6
    );

    // Ties: the gradient goes to the first maximum of the window only (PyTorch's rule).
    let t = Tensor::from_vec(vec![1f32, 1.0, 0.0, 1.0], (1, 1, 2, 2), &dev).unwrap();
    let tv = candle_core::Var::from_tensor(&t).unwrap();
    let g = max_pool2(tv.as_tensor())
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    assert_eq!(
        flat(g.get(tv.as_tensor()).unwrap()),
        vec![1.0, 0.0, 0.0, 0.0]
    );
}

/// GroupNorm + ReLU: output and the gradients of input, weight and bias equal candle's ops of
/// the same function (`norm::group_norm_act_reference`) to 1e-4 of the largest value (the
/// reference sums in f32, ours in f64).
#[test]
fn group_norm_matches_candle_ops() {
    use super::norm::{group_norm_act, group_norm_act_reference};
    let dev = Device::Cpu;
    let (b, c, h, w, groups) = (2, 8, 9, 13, 4);
    let x = Tensor::from_vec(values(b * c * h * w, 71), (b, c, h, w), &dev).unwrap();
    let gamma = Tensor::from_vec(
        values(c, 72).iter().map(|v| 1.0 + v).collect::<Vec<f32>>(),
        c,
        &dev,
    )
    .unwrap();
    let beta = Tensor::from_vec(values(c, 73), c, &dev).unwrap();
    let r = Tensor::from_vec(values(b * c * h * w, 74), (b, c, h, w), &dev).unwrap();
    let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    for relu in [false, true] {
        let run = |fast: bool| {
            let (xv, gv, bv) = (
                candle_core::Var::from_tensor(&x).unwrap(),
                candle_core::Var::from_tensor(&gamma).unwrap(),
                candle_core::Var::from_tensor(&beta).unwrap(),
            );
            let f = if fast {
                group_norm_act
            } else {
                group_norm_act_reference
            };
            let y = f(
                xv.as_tensor(),
                gv.as_tensor(),
                bv.as_tensor(),
                groups,
                1e-5,
                relu,
            )
            .unwrap();
            let gr = (&y * &r).unwrap().sum_all().unwrap().backward().unwrap();
            let get = |v: &candle_core::Var| flat(gr.get(v.as_tensor()).unwrap());
            (flat(&y), get(&xv), get(&gv), get(&bv))
        };
        let (a, b2) = (run(true), run(false));
        for (name, p, q) in [
            ("output", &a.0, &b2.0),
            ("dx", &a.1, &b2.1),
            ("dgamma", &a.2, &b2.2),
            ("dbeta", &a.3, &b2.3),
        ] {
            assert!(
                rel_err(p, q) < 1e-4,
                "relu={relu} {name}: {}",
                rel_err(p, q)
            );
        }
    }
}
