//! The run folder (`--out DIR`) and what is written into it.
//!
//! - `config.json`: [`RunRecord`] — the [`TrainConfig`], the model's identity (architecture and
//!   initial weights), the train/validation sample ids, plus informational fields (sources,
//!   device, program version) that are not compared on resume.
//! - `log.csv`: one row per epoch (`epoch,iteration,lr,train_loss,val_loss,seconds`), rewritten
//!   atomically at each epoch end from the history kept in the state.
//! - `loss.png`: the curves ([`crate::plot`]).
//! - `best.safetensors` (lowest monitored loss), `last.safetensors` (end of the latest epoch):
//!   the whole model in its own key layout (SAM: Hugging Face `SamModel`).
//! - `state/`: the resume point, one folder `ckpt-<iteration>` holding `params.safetensors`
//!   (trainable tensors), `optim.safetensors` (AdamW moments and step) and `progress.json`
//!   ([`RunState`]), made complete first; then `state/latest` (written atomically) names it and
//!   older folders are removed. A kill at any moment leaves a complete resume point.
//!
//! Random generator positions are not stored: every stream is keyed by (seed, purpose, epoch,
//! sample) ([`crate::rng`]), so `(epoch, batch)` is the whole random state.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

use crate::config::TrainConfig;
use crate::stopping::EarlyStopping;
use crate::TrainError;

/// What a run was started with (`config.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Program that wrote the run ("samcell 0.1.0").
    pub created_by: String,
    /// The training settings (compared on resume).
    pub config: TrainConfig,
    /// Architecture and initial weights, e.g. `{"arch": "sam", "init": {"sha256": ...}}`
    /// (compared on resume).
    pub model: serde_json::Value,
    /// Training sample ids (compared on resume).
    pub train_ids: Vec<String>,
    /// Validation sample ids (compared on resume).
    pub val_ids: Vec<String>,
    /// Informational: where the data and weights came from, the device (not compared).
    pub info: serde_json::Value,
}

impl RunRecord {
    /// The fields that differ between two records, for the resume error ("" when none).
    pub fn differences(&self, other: &RunRecord) -> String {
        let mut out = Vec::new();
        let a = serde_json::to_value(&self.config).unwrap_or_default();
        let b = serde_json::to_value(&other.config).unwrap_or_default();
        if let (Some(a), Some(b)) = (a.as_object(), b.as_object()) {
            for (k, va) in a {
                if b.get(k) != Some(va) {
                    out.push(format!(
                        "{k}: run has {va}, now {}",
                        b.get(k).cloned().unwrap_or_default()
                    ));
                }
            }
        }
        if self.model != other.model {
            out.push(format!(
                "model: run has {}, now {}",
                self.model, other.model
            ));
        }
        if self.train_ids != other.train_ids || self.val_ids != other.val_ids {
            out.push("training/validation samples differ".into());
        }
        out.join("; ")
    }
}

/// One row of `log.csv`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch.
    pub epoch: usize,
    /// Optimiser steps done at the end of the epoch.
    pub iteration: u64,
    /// Learning rate of the epoch's last step.
    pub lr: f64,
    /// Mean training loss over the epoch's crops.
    pub train_loss: f64,
    /// Mean validation loss over the validation crops (none without validation data).
    pub val_loss: Option<f64>,
    /// Wall-clock seconds since the start of the run (all sessions).
    pub seconds: f64,
}

/// The resume point (`progress.json`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    /// Current epoch, 0-based.
    pub epoch: usize,
    /// Next batch of the current epoch.
    pub batch: usize,
    /// Optimiser steps done.
    pub iteration: u64,
    /// Sum over the epoch's crops so far of their loss (for the epoch mean).
    pub epoch_loss_sum: f64,
    /// Crops so far in the epoch.
    pub epoch_crops: usize,
    /// Wall-clock seconds so far.
    pub seconds: f64,
    /// Early stopping and best-checkpoint state.
    pub stopping: EarlyStopping,
    /// Completed epochs.
    pub history: Vec<EpochRecord>,
    /// Why the run ended (None while it runs).
    pub finished: Option<String>,
}

/// Paths of a run folder.
#[derive(Clone, Debug)]
pub struct RunFolder {
    /// The run folder (`--out`).
    pub dir: PathBuf,
}

impl RunFolder {
    /// `config.json`: the [`RunRecord`].
    pub fn config(&self) -> PathBuf {
        self.dir.join("config.json")
    }
    /// `log.csv`: one row per epoch.
    pub fn log(&self) -> PathBuf {
        self.dir.join("log.csv")
    }
    /// `loss.png`: the loss curves.
    pub fn plot(&self) -> PathBuf {
        self.dir.join("loss.png")
    }
    /// `best.safetensors`: the model at the lowest monitored loss.
    pub fn best(&self) -> PathBuf {
        self.dir.join("best.safetensors")
    }
    /// `last.safetensors`: the model at the end of the latest epoch.
    pub fn last(&self) -> PathBuf {
        self.dir.join("last.safetensors")
    }
    /// `state/`: the resume points.
    pub fn state_dir(&self) -> PathBuf {
        self.dir.join("state")
    }

    /// Starts a new run in `dir` (created if needed); refuses a folder that already holds a run.
    pub fn create(dir: &Path, record: &RunRecord) -> Result<Self, TrainError> {
        let run = Self {
            dir: dir.to_path_buf(),
        };
        if run.config().exists() {
            return Err(TrainError::Config(format!(
                "{} already holds a training run: continue it with --resume, or choose another --out",
                dir.display()
            )));
        }
        std::fs::create_dir_all(run.state_dir()).map_err(|e| TrainError::system(dir, e))?;
        let text =
            serde_json::to_string_pretty(record).map_err(|e| TrainError::io(&run.config(), e))?;
        write_atomic(&run.config(), text.as_bytes())?;
        Ok(run)
    }

    /// Opens an existing run for `--resume`; its `config.json` must match `record`.
    pub fn resume(dir: &Path, record: &RunRecord) -> Result<Self, TrainError> {
        let run = Self {
            dir: dir.to_path_buf(),
        };
        let path = run.config();
        let text = std::fs::read_to_string(&path).map_err(|e| {
            TrainError::Config(format!(
                "cannot resume {}: {e} (no run was started there)",
                dir.display()
            ))
        })?;
        let saved: RunRecord = serde_json::from_str(&text).map_err(|e| TrainError::io(&path, e))?;
        let diff = saved.differences(record);
        if !diff.is_empty() {
            return Err(TrainError::ConfigMismatch {
                dir: dir.to_path_buf(),
                diff,
            });
        }
        std::fs::create_dir_all(run.state_dir()).map_err(|e| TrainError::system(dir, e))?;
        Ok(run)
    }

    /// The folder of the latest complete resume point, if any.
    pub fn latest_checkpoint(&self) -> Result<Option<PathBuf>, TrainError> {
        let pointer = self.state_dir().join("latest");
        match std::fs::read_to_string(&pointer) {
            Ok(name) => {
                let p = self.state_dir().join(name.trim());
                if p.is_dir() {
                    Ok(Some(p))
                } else {
                    Err(TrainError::io(
                        &pointer,
                        format!("names {} which is missing", p.display()),
                    ))
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(TrainError::system(&pointer, e)),
        }
    }

    /// A fresh folder for a resume point at `iteration` (removed first if a killed run left it).
    pub fn new_checkpoint_dir(&self, iteration: u64) -> Result<PathBuf, TrainError> {
        let p = self.state_dir().join(format!("ckpt-{iteration:010}"));
        if p.exists() {
            std::fs::remove_dir_all(&p).map_err(|e| TrainError::system(&p, e))?;
        }
        std::fs::create_dir_all(&p).map_err(|e| TrainError::system(&p, e))?;
        Ok(p)
    }

    /// Makes `ckpt` the resume point and removes the others.
    pub fn commit_checkpoint(&self, ckpt: &Path) -> Result<(), TrainError> {
        let name = ckpt
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // Make the folder's files durable before the pointer names it.
        for f in std::fs::read_dir(ckpt)
            .map_err(|e| TrainError::system(ckpt, e))?
            .flatten()
        {
            if let Ok(file) = std::fs::File::open(f.path()) {
                let _ = file.sync_all();
            }
        }
        write_atomic(&self.state_dir().join("latest"), name.as_bytes())?;
        for e in std::fs::read_dir(self.state_dir())
            .map_err(|e| TrainError::system(&self.state_dir(), e))?
            .flatten()
        {
            let p = e.path();
            if p.is_dir()
                && p.file_name()
                    .map(|n| n.to_string_lossy() != name)
                    .unwrap_or(false)
            {
                std::fs::remove_dir_all(&p).map_err(|e| TrainError::system(&p, e))?;
            }
        }
        Ok(())
    }

    /// Rewrites `log.csv` and `loss.png` from the history.
    pub fn write_logs(&self, history: &[EpochRecord]) -> Result<(), TrainError> {
        let mut csv = String::from("epoch,iteration,lr,train_loss,val_loss,seconds\n");
        for r in history {
            let val = r.val_loss.map(|v| format!("{v:.9e}")).unwrap_or_default();
            csv.push_str(&format!(
                "{},{},{:.9e},{:.9e},{},{:.3}\n",
                r.epoch, r.iteration, r.lr, r.train_loss, val, r.seconds
            ));
        }
        write_atomic(&self.log(), csv.as_bytes())?;
        let epochs: Vec<usize> = history.iter().map(|r| r.epoch).collect();
        let train: Vec<f64> = history.iter().map(|r| r.train_loss).collect();
        let val: Vec<Option<f64>> = history.iter().map(|r| r.val_loss).collect();
        let png =
            crate::plot::png(&epochs, &train, &val).map_err(|e| TrainError::io(&self.plot(), e))?;
        write_atomic(&self.plot(), &png)
    }
}

/// Atomic file write (temporary file in the same folder, fsync, rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    // samcell-io's error names the file already
    Ok(samcell_io::write_atomic(path, bytes)?)
}

/// Writes a JSON value atomically.
pub fn write_json<T: Serialize>(path: &Path, v: &T) -> Result<(), TrainError> {
    let text = serde_json::to_string_pretty(v).map_err(|e| TrainError::io(path, e))?;
    write_atomic(path, text.as_bytes())
}

/// Reads a JSON file.
pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, TrainError> {
    let text = std::fs::read_to_string(path).map_err(|e| TrainError::system(path, e))?;
    serde_json::from_str(&text).map_err(|e| TrainError::io(path, e))
}
