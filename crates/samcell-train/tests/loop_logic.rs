//! The training loop with a small convolutional model (no SAM weights): loss falls, a run
//! interrupted mid-epoch and resumed ends bit-identical to an uninterrupted one, resume refuses
//! another configuration, and the run folder holds its files.

use candle_core::{Device, Tensor, Var};
use samcell_imaging::{GrayU8, Image, MapF32};
use samcell_train::data::{split, InMemory};
use samcell_train::rng::{Purpose, Stream};
use samcell_train::{
    train, AugmentConfig, Observer, RunFolder, RunOptions, RunRecord, Silent, StepInfo,
    TrainConfig, TrainData, TrainableModel,
};
use std::path::Path;

/// conv3x3(1->4) -> relu -> conv3x3(4->1), padding 1: logits at crop resolution.
struct SmallConv {
    w1: Var,
    b1: Var,
    w2: Var,
    b2: Var,
}

impl SmallConv {
    fn new(seed: u64) -> Self {
        let mut rng = Stream::new(seed, Purpose::Init, 0, 0);
        let mut var = |shape: &[usize], scale: f64| {
            let n: usize = shape.iter().product();
            let v: Vec<f32> = (0..n)
                .map(|_| (rng.uniform(-scale, scale)) as f32)
                .collect();
            Var::from_tensor(&Tensor::from_vec(v, shape, &Device::Cpu).unwrap()).unwrap()
        };
        Self {
            w1: var(&[4, 1, 3, 3], 0.5),
            b1: var(&[4], 0.1),
            w2: var(&[1, 4, 3, 3], 0.5),
            b2: var(&[1], 0.1),
        }
    }
}

impl TrainableModel for SmallConv {
    fn describe(&self) -> String {
        "small conv".into()
    }
    fn trainable(&self) -> Vec<(String, Var)> {
        vec![
            ("b1".into(), self.b1.clone()),
            ("b2".into(), self.b2.clone()),
            ("w1".into(), self.w1.clone()),
            ("w2".into(), self.w2.clone()),
        ]
    }
    fn encode(&self, crops: &[GrayU8], device: &Device) -> candle_core::Result<Tensor> {
        let (w, h) = (crops[0].width(), crops[0].height());
        let data: Vec<f32> = crops
            .iter()
            .flat_map(|c| c.data().iter().map(|&v| v as f32 / 255.0))
            .collect();
        Tensor::from_vec(data, (crops.len(), 1, h, w), device)
    }
    fn forward_logits(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let h = x
            .conv2d(self.w1.as_tensor(), 1, 1, 1, 1)?
            .broadcast_add(&self.b1.as_tensor().reshape((1, 4, 1, 1))?)?
            .relu()?;
        let y = h
            .conv2d(self.w2.as_tensor(), 1, 1, 1, 1)?
            .broadcast_add(&self.b2.as_tensor().reshape((1, 1, 1, 1))?)?;
        y.squeeze(1)
    }
    fn save_safetensors(&self, path: &Path) -> candle_core::Result<()> {
        let map: std::collections::HashMap<String, Tensor> = self
            .trainable()
            .into_iter()
            .map(|(k, v)| (k, v.as_tensor().clone()))
            .collect();
        candle_core::safetensors::save(&map, path)
    }
}

/// Blobs: the target is a bump per blob, the image a dark blob on a bright background.
fn samples(n: usize) -> InMemory {
    let (w, h) = (96, 80);
    let samples = (0..n)
        .map(|k| {
            let mut rng = Stream::new(99, Purpose::Init, 1, k as u64);
            let blobs: Vec<(f64, f64, f64)> = (0..4)
                .map(|_| {
                    (
                        rng.uniform(10.0, 86.0),
                        rng.uniform(10.0, 70.0),
                        rng.uniform(5.0, 10.0),
                    )
                })
                .collect();
            let mut t = vec![0f32; w * h];
            for (i, v) in t.iter_mut().enumerate() {
                let (x, y) = ((i % w) as f64, (i / w) as f64);
                for &(cx, cy, r) in &blobs {
                    let d = ((x - cx).powi(2) + (y - cy).powi(2)).sqrt();
                    *v = v.max((1.0 - d / r).max(0.0) as f32);
                }
            }
            let img: Vec<u8> = t
                .iter()
                .map(|&v| (200.0 - 150.0 * v).round() as u8)
                .collect();
            let image: GrayU8 = Image::from_vec(w, h, img).unwrap();
            let target: MapF32 = Image::from_vec(w, h, t).unwrap();
            (format!("s{k}"), image, target)
        })
        .collect();
    InMemory { samples }
}

fn config() -> TrainConfig {
    TrainConfig {
        lr: 0.02,
        warmup: 2,
        batch_size: 2,
        crop: 64,
        min_epochs: 4,
        max_epochs: 4,
        val_fraction: 0.25,
        val_crops_per_image: 2,
        seed: 11,
        augment: AugmentConfig::default(),
        ..TrainConfig::default()
    }
}

fn record(cfg: &TrainConfig, src: &InMemory, tr: &[usize], va: &[usize]) -> RunRecord {
    use samcell_train::data::SampleSource;
    RunRecord {
        created_by: "test".into(),
        config: cfg.clone(),
        model: serde_json::json!({"arch": "small conv", "seed": 1}),
        train_ids: tr.iter().map(|&i| src.id(i).to_string()).collect(),
        val_ids: va.iter().map(|&i| src.id(i).to_string()).collect(),
        info: serde_json::json!({}),
    }
}

/// Panics (a stand-in for a kill) after `at` optimiser steps.
struct KillAt(u64);
impl Observer for KillAt {
    fn step(&mut self, s: &StepInfo) {
        if s.iteration == self.0 {
            panic!("simulated kill at step {}", s.iteration);
        }
    }
}

fn run_to_end(
    dir: &Path,
    cfg: &TrainConfig,
    src: &InMemory,
    resume: bool,
    obs: &mut dyn Observer,
    every: u64,
) -> samcell_train::Summary {
    let (tr, va) = split(src.samples.len(), cfg.val_fraction, cfg.seed);
    let rec = record(cfg, src, &tr, &va);
    let run = if resume {
        RunFolder::resume(dir, &rec).unwrap()
    } else {
        RunFolder::create(dir, &rec).unwrap()
    };
    let data = TrainData {
        train: src,
        train_indices: tr,
        val: src,
        val_indices: va,
    };
    let mut model = SmallConv::new(1);
    train(
        &mut model,
        &Device::Cpu,
        &data,
        cfg,
        &run,
        &RunOptions {
            checkpoint_every: every,
        },
        obs,
    )
    .unwrap()
}

#[test]
fn loss_falls_and_the_run_folder_is_complete() {
    let src = samples(8);
    let dir = tempfile::tempdir().unwrap();
    let cfg = TrainConfig {
        augment: AugmentConfig::none(),
        max_epochs: 6,
        min_epochs: 6,
        ..config()
    };
    let s = run_to_end(dir.path(), &cfg, &src, false, &mut Silent, 0);
    assert_eq!(
        (s.epochs, s.iterations),
        (6, 18),
        "6 train images, batch 2: 3 steps per epoch"
    );
    let first = s.history[0].val_loss.unwrap();
    let (best, _) = s.best.unwrap();
    assert!(
        best < 0.8 * first,
        "validation loss should fall: first {first}, best {best}"
    );
    for f in [
        "config.json",
        "log.csv",
        "loss.png",
        "best.safetensors",
        "last.safetensors",
        "state/latest",
    ] {
        assert!(dir.path().join(f).is_file(), "{f} missing");
    }
    let log = std::fs::read_to_string(dir.path().join("log.csv")).unwrap();
    assert_eq!(
        log.lines().next().unwrap(),
        "epoch,iteration,lr,train_loss,val_loss,seconds"
    );
    assert_eq!(log.lines().count(), 7);
}

#[test]
fn an_interrupted_run_resumes_to_identical_weights() {
    let src = samples(8);
    let cfg = config();
    let a = tempfile::tempdir().unwrap();
    let sa = run_to_end(a.path(), &cfg, &src, false, &mut Silent, 0);
    let b = tempfile::tempdir().unwrap();
    // Killed at step 5 (epoch 2, batch 2 of 3); resume points every 2 steps: resumes from step 4.
    let killed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_to_end(b.path(), &cfg, &src, false, &mut KillAt(5), 2);
    }));
    assert!(killed.is_err());
    let latest = std::fs::read_to_string(b.path().join("state/latest")).unwrap();
    assert_eq!(latest.trim(), "ckpt-0000000004");
    let sb = run_to_end(b.path(), &cfg, &src, true, &mut Silent, 2);
    assert_eq!(sa.iterations, sb.iterations);
    let strip = |h: &[samcell_train::EpochRecord]| {
        h.iter()
            .map(|r| (r.epoch, r.iteration, r.lr, r.train_loss, r.val_loss))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        strip(&sa.history),
        strip(&sb.history),
        "identical losses epoch by epoch"
    );
    for f in ["last.safetensors", "best.safetensors"] {
        assert_eq!(
            std::fs::read(a.path().join(f)).unwrap(),
            std::fs::read(b.path().join(f)).unwrap(),
            "{f} bit-identical"
        );
    }
}

#[test]
fn resume_refuses_another_configuration() {
    let src = samples(4);
    let cfg = TrainConfig {
        max_epochs: 1,
        min_epochs: 1,
        ..config()
    };
    let dir = tempfile::tempdir().unwrap();
    run_to_end(dir.path(), &cfg, &src, false, &mut Silent, 0);
    let (tr, va) = split(4, cfg.val_fraction, cfg.seed);
    let other = TrainConfig {
        lr: 0.5,
        ..cfg.clone()
    };
    let err = RunFolder::resume(dir.path(), &record(&other, &src, &tr, &va))
        .unwrap_err()
        .to_string();
    assert!(err.contains("lr: run has 0.02, now 0.5"), "{err}");
    let err = RunFolder::create(dir.path(), &record(&cfg, &src, &tr, &va))
        .unwrap_err()
        .to_string();
    assert!(err.contains("--resume"), "{err}");
    // Resuming a finished run does nothing more.
    let s = run_to_end(dir.path(), &cfg, &src, true, &mut Silent, 0);
    assert_eq!(s.epochs, 1);
}
