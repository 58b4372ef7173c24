//! The training loop: epochs of augmented crops, AdamW steps on the warm-up/linear-decay
//! schedule, validation, early stopping, checkpoints and exact resume.
//!
//! Loss: `mean((sigmoid(logits) - target)^2)` over every pixel of the batch (PyTorch
//! `nn.MSELoss()` with the default 'mean' reduction on `sigmoid(mask token 1 logits)`).
//! The learning rate of optimiser step `i` (0-based) is `lr * schedule(i)` with
//! [`crate::optim::LrSchedule`] over `total = max_epochs * batches_per_epoch` steps (decay to 0
//! at the end of the longest possible run; early stopping ends it sooner).
//!
//! Monitored loss (early stopping, `best.safetensors`): the validation loss, or the training
//! loss when there is no validation data. Validation loss = mean over all validation crops'
//! pixels ([`crate::data`] says which crops).
//!
//! **Resume.** The state ([`crate::run`]) is written at each epoch end and every
//! `checkpoint_every` optimiser steps. Resuming loads the trainable tensors, the AdamW state
//! and the progress, then replays from `(epoch, batch)`: since every random choice is keyed by
//! (seed, epoch, sample), the resumed run computes exactly what the uninterrupted one would
//! (bit-identical on the same machine and thread count).

use candle_core::{Device, Tensor};
use std::collections::HashMap;
use std::time::Instant;

use crate::batch::{batches_per_epoch, epoch_batches, training_batch, validation_batch, Batch};
use crate::config::TrainConfig;
use crate::data::{validation_crops, SampleSource};
use crate::optim::{AdamW, AdamWConfig, LrSchedule};
use crate::run::{read_json, write_json, EpochRecord, RunFolder, RunState};
use crate::stopping::Verdict;
use crate::{TrainError, TrainableModel};

/// The data of a run.
pub struct TrainData<'a> {
    /// Where the training samples are read from.
    pub train: &'a dyn SampleSource,
    /// The samples of `train` trained on (indices into it; must not be empty).
    pub train_indices: Vec<usize>,
    /// Where the validation samples are read from.
    pub val: &'a dyn SampleSource,
    /// The samples of `val` validated on after each epoch (indices into it).
    pub val_indices: Vec<usize>,
}

/// One optimiser step, for progress displays.
#[derive(Clone, Copy, Debug)]
pub struct StepInfo {
    /// 0-based epoch.
    pub epoch: usize,
    /// Batches done in this epoch (1-based count) and per epoch.
    pub batch: usize,
    /// Batches per epoch.
    pub batches: usize,
    /// Optimiser steps done.
    pub iteration: u64,
    /// This step's loss and the epoch's running mean.
    pub loss: f64,
    /// Mean loss per crop over this epoch's steps so far.
    pub running_loss: f64,
    /// Learning rate of this step.
    pub lr: f64,
}

/// Progress hooks (all optional).
pub trait Observer {
    /// An epoch starts (or resumes at batch `first_batch`).
    fn epoch_start(&mut self, _epoch: usize, _batches: usize, _first_batch: usize) {}
    /// After each optimiser step.
    fn step(&mut self, _s: &StepInfo) {}
    /// Validation progress in crops.
    fn validation(&mut self, _done: usize, _total: usize) {}
    /// After each epoch.
    fn epoch_end(&mut self, _r: &EpochRecord, _v: &Verdict) {}
    /// A resume point was written.
    fn checkpoint(&mut self, _iteration: u64) {}
}

/// An observer that does nothing.
pub struct Silent;
impl Observer for Silent {}

/// Runtime options that do not change the numbers.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Also write a resume point every this many optimiser steps (0: only at epoch ends).
    pub checkpoint_every: u64,
}

/// How a run ended.
#[derive(Clone, Debug)]
pub struct Summary {
    /// Epochs completed.
    pub epochs: usize,
    /// Optimiser steps done.
    pub iterations: u64,
    /// Lowest monitored loss and its 1-based epoch.
    pub best: Option<(f64, usize)>,
    /// Why it stopped, in words (max_epochs reached, or early stopping).
    pub reason: String,
    /// One record per completed epoch.
    pub history: Vec<EpochRecord>,
}

/// The paper's loss: `mean((sigmoid(logits) - target)^2)`.
pub fn distance_map_loss(logits: &Tensor, target: &Tensor) -> candle_core::Result<Tensor> {
    candle_nn::ops::sigmoid(logits)?
        .sub(target)?
        .sqr()?
        .mean_all()
}

/// Sum of the per-crop losses of a batch (no gradient) — used for validation.
fn batch_loss_sum(
    model: &dyn TrainableModel,
    device: &Device,
    b: &Batch,
    crop: usize,
) -> Result<f64, TrainError> {
    let (logits, target) = forward(model, device, b, crop)?;
    let loss = distance_map_loss(&logits, &target)?.to_scalar::<f32>()? as f64;
    Ok(loss * b.crops.len() as f64)
}

fn forward(
    model: &dyn TrainableModel,
    device: &Device,
    b: &Batch,
    crop: usize,
) -> Result<(Tensor, Tensor), TrainError> {
    let input = model.encode(&b.crops, device)?;
    let logits = model.forward_logits(&input)?;
    let n = b.crops.len();
    if logits.dims() != [n, crop, crop] {
        return Err(TrainError::Config(format!(
            "{} returns logits {:?}, the loss needs ({n}, {crop}, {crop}): the crop size does not fit this model",
            model.describe(),
            logits.dims()
        )));
    }
    let target = Tensor::from_vec(b.target_data(), (n, crop, crop), device)?;
    Ok((logits, target))
}

/// Mean validation loss over the validation crops (None without validation samples).
pub fn validate(
    model: &dyn TrainableModel,
    device: &Device,
    data: &TrainData,
    cfg: &TrainConfig,
    obs: &mut dyn Observer,
) -> Result<Option<f64>, TrainError> {
    if data.val_indices.is_empty() {
        return Ok(None);
    }
    let mut crops = Vec::new();
    for &i in &data.val_indices {
        let (img, tg) = data.val.load(i)?;
        crops.extend(validation_crops(
            &img,
            &tg,
            cfg.crop,
            cfg.val_crops_per_image,
        )?);
    }
    let total = crops.len();
    let (mut sum, mut done) = (0.0, 0);
    let mut it = crops.into_iter().peekable();
    while it.peek().is_some() {
        let chunk: Vec<_> = it.by_ref().take(cfg.batch_size).collect();
        let b = validation_batch(chunk)?;
        sum += batch_loss_sum(model, device, &b, cfg.crop)?;
        done += b.crops.len();
        obs.validation(done, total);
    }
    Ok(Some(sum / total as f64))
}

fn params_map(model: &dyn TrainableModel) -> HashMap<String, Tensor> {
    model
        .trainable()
        .into_iter()
        .map(|(k, v)| (k, v.as_tensor().clone()))
        .collect()
}

/// Loads trainable tensors saved by [`save_state`] into the model's variables.
fn load_params(
    model: &dyn TrainableModel,
    path: &std::path::Path,
    device: &Device,
) -> Result<(), TrainError> {
    let saved = candle_core::safetensors::load(path, device)?;
    for (k, var) in model.trainable() {
        let t = saved
            .get(&k)
            .ok_or_else(|| TrainError::io(path, format!("resume point lacks parameter {k}")))?;
        var.set(t)?;
    }
    Ok(())
}

/// Writes a complete resume point and makes it current.
fn save_state(
    run: &RunFolder,
    model: &dyn TrainableModel,
    opt: &AdamW,
    state: &RunState,
) -> Result<(), TrainError> {
    let dir = run.new_checkpoint_dir(state.iteration)?;
    candle_core::safetensors::save(&params_map(model), dir.join("params.safetensors"))?;
    opt.save_state(&dir.join("optim.safetensors"))?;
    write_json(&dir.join("progress.json"), state)?;
    run.commit_checkpoint(&dir)
}

/// Saves the whole model atomically (temporary file + rename).
fn save_model(model: &dyn TrainableModel, path: &std::path::Path) -> Result<(), TrainError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.partial"));
    model.save_safetensors(&tmp)?;
    std::fs::rename(&tmp, path).map_err(|e| TrainError::system(path, e))
}

/// Says how many training samples the channel-to-grey augmentation can act on, with a warning
/// when it is on and none can (a set prepared from grey sources, or before colour was kept).
fn report_channel_grey(data: &TrainData, cfg: &TrainConfig) {
    let p = cfg.augment.channel_grey_p;
    if p <= 0.0 {
        return;
    }
    let n = data.train_indices.len();
    let colour = data
        .train_indices
        .iter()
        .filter(|&&i| data.train.has_colour(i))
        .count();
    if colour == 0 {
        tracing::warn!(
            "channel-to-grey augmentation (p {p}) changes nothing: none of the {n} training samples kept colour channels (samcell prepare keeps them for colour sources whose channels differ)"
        );
    } else {
        tracing::info!("channel-to-grey augmentation (p {p}) on the {colour} of {n} training samples that kept colour channels");
    }
}

/// Trains `model` in `run` (a folder made by [`RunFolder::create`] or [`RunFolder::resume`];
/// an existing resume point there is continued).
pub fn train(
    model: &mut dyn TrainableModel,
    device: &Device,
    data: &TrainData,
    cfg: &TrainConfig,
    run: &RunFolder,
    opts: &RunOptions,
    obs: &mut dyn Observer,
) -> Result<Summary, TrainError> {
    cfg.validate().map_err(TrainError::Config)?;
    if data.train_indices.is_empty() {
        return Err(TrainError::Data("no training samples".into()));
    }
    report_channel_grey(data, cfg);
    let n_batches = batches_per_epoch(data.train_indices.len(), cfg.batch_size);
    let schedule = LrSchedule {
        base_lr: cfg.lr,
        warmup: cfg.warmup,
        total: cfg.max_epochs * n_batches,
    };
    let mut opt = AdamW::new(
        model.trainable(),
        AdamWConfig {
            lr: cfg.lr,
            beta1: cfg.betas.0,
            beta2: cfg.betas.1,
            eps: cfg.eps,
            weight_decay: cfg.weight_decay,
        },
    );
    let mut state = RunState::default();
    if let Some(ckpt) = run.latest_checkpoint()? {
        load_params(model, &ckpt.join("params.safetensors"), device)?;
        opt.load_state(&ckpt.join("optim.safetensors"))?;
        state = read_json(&ckpt.join("progress.json"))?;
        tracing::info!(
            epoch = state.epoch + 1,
            iteration = state.iteration,
            "resuming from {}",
            ckpt.display()
        );
    }
    let session = Instant::now();
    let base_seconds = state.seconds;
    while state.finished.is_none() {
        let epoch = state.epoch;
        let batches = epoch_batches(&data.train_indices, cfg, epoch);
        obs.epoch_start(epoch, batches.len(), state.batch);
        let mut lr = 0.0;
        while state.batch < batches.len() {
            let b = training_batch(data.train, &batches[state.batch], cfg, epoch)?;
            lr = schedule.lr(state.iteration as usize);
            let (logits, target) = forward(model, device, &b, cfg.crop)?;
            let loss_t = distance_map_loss(&logits, &target)?;
            let loss = loss_t.to_scalar::<f32>()? as f64;
            if !loss.is_finite() {
                return Err(TrainError::NonFinite {
                    loss,
                    iteration: state.iteration,
                    epoch: epoch + 1,
                });
            }
            let grads = loss_t.backward()?;
            opt.set_lr(lr);
            opt.step(&grads)?;
            state.iteration += 1;
            state.batch += 1;
            state.epoch_loss_sum += loss * b.crops.len() as f64;
            state.epoch_crops += b.crops.len();
            state.seconds = base_seconds + session.elapsed().as_secs_f64();
            obs.step(&StepInfo {
                epoch,
                batch: state.batch,
                batches: batches.len(),
                iteration: state.iteration,
                loss,
                running_loss: state.epoch_loss_sum / state.epoch_crops as f64,
                lr,
            });
            if opts.checkpoint_every > 0
                && state.iteration % opts.checkpoint_every == 0
                && state.batch < batches.len()
            {
                save_state(run, model, &opt, &state)?;
                obs.checkpoint(state.iteration);
            }
        }
        if lr == 0.0 && state.iteration > 0 {
            lr = schedule.lr(state.iteration as usize - 1);
        }
        let train_loss = state.epoch_loss_sum / state.epoch_crops.max(1) as f64;
        let val_loss = validate(model, device, data, cfg, obs)?;
        let monitored = val_loss.unwrap_or(train_loss);
        let verdict = state.stopping.update(
            epoch,
            monitored,
            cfg.patience,
            cfg.min_delta,
            cfg.min_epochs,
            cfg.max_epochs,
        );
        if verdict.new_best {
            save_model(model, &run.best())?;
        }
        save_model(model, &run.last())?;
        state.seconds = base_seconds + session.elapsed().as_secs_f64();
        let record = EpochRecord {
            epoch: epoch + 1,
            iteration: state.iteration,
            lr,
            train_loss,
            val_loss,
            seconds: state.seconds,
        };
        state.history.push(record.clone());
        run.write_logs(&state.history)?;
        tracing::info!(
            epoch = epoch + 1,
            train_loss,
            val_loss = val_loss
                .map(|v| format!("{v:.6}"))
                .unwrap_or_else(|| "-".into()),
            lr,
            best = verdict.new_best,
            "epoch done"
        );
        obs.epoch_end(&record, &verdict);
        state.epoch += 1;
        state.batch = 0;
        state.epoch_loss_sum = 0.0;
        state.epoch_crops = 0;
        if verdict.stop {
            state.finished = Some(if state.epoch >= cfg.max_epochs {
                format!("reached max_epochs ({})", cfg.max_epochs)
            } else {
                format!(
                    "early stopping: no improvement above {} for {} epochs",
                    cfg.min_delta, cfg.patience
                )
            });
        }
        save_state(run, model, &opt, &state)?;
        obs.checkpoint(state.iteration);
    }
    Ok(Summary {
        epochs: state.epoch,
        iterations: state.iteration,
        best: state.stopping.best.map(|(l, e)| (l, e + 1)),
        reason: state.finished.clone().unwrap_or_default(),
        history: state.history,
    })
}
