//! Early stopping and best-checkpoint bookkeeping (paper: "early stopping over a range of 35 to
//! 100 epochs, with a patience of 7 epochs and a minimum improvement threshold of 0.0001 ... take
//! the version with the lowest loss").
//!
//! Rules (Keras `EarlyStopping(min_delta, patience, mode="min")` semantics, plus the epoch
//! range): an epoch *improves* when its loss is below `reference - min_delta`; the reference is
//! the loss of the last improving epoch (the first epoch always improves). After `patience`
//! epochs in a row without improvement training stops, but never before `min_epochs` epochs and
//! always after `max_epochs`. Independently, the *best checkpoint* is the epoch with the lowest
//! loss of all (any decrease, like a `ModelCheckpoint(save_best_only=True)`), so the saved model
//! is the lowest-loss one even when the decrease was below `min_delta`.

use serde::{Deserialize, Serialize};

/// Early-stopping state (serialised with the run state for resume).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EarlyStopping {
    /// Loss of the last improving epoch.
    pub reference: Option<f64>,
    /// Epochs since that one.
    pub bad_epochs: usize,
    /// Lowest loss so far and its epoch (0-based).
    pub best: Option<(f64, usize)>,
}

/// What to do after an epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// This epoch has the lowest loss so far: save it as the best checkpoint.
    pub new_best: bool,
    /// Stop training after this epoch.
    pub stop: bool,
}

impl EarlyStopping {
    /// Records the loss of epoch `epoch` (0-based).
    pub fn update(
        &mut self,
        epoch: usize,
        loss: f64,
        patience: usize,
        min_delta: f64,
        min_epochs: usize,
        max_epochs: usize,
    ) -> Verdict {
        let new_best = self.best.is_none_or(|(b, _)| loss < b);
        if new_best {
            self.best = Some((loss, epoch));
        }
        match self.reference {
            Some(r) if loss >= r - min_delta => self.bad_epochs += 1,
            _ => {
                self.reference = Some(loss);
                self.bad_epochs = 0;
            }
        }
        let done = epoch + 1;
        let stop = done >= max_epochs || (done >= min_epochs && self.bad_epochs >= patience);
        Verdict { new_best, stop }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        losses: &[f64],
        patience: usize,
        min_epochs: usize,
        max_epochs: usize,
    ) -> (usize, EarlyStopping) {
        let mut es = EarlyStopping::default();
        for (e, &l) in losses.iter().enumerate() {
            if es.update(e, l, patience, 1e-4, min_epochs, max_epochs).stop {
                return (e + 1, es);
            }
        }
        (losses.len(), es)
    }

    #[test]
    fn stops_after_patience_epochs_without_a_significant_improvement() {
        // Improves until epoch 2, then only by less than min_delta: stops after 3 bad epochs.
        let l = [1.0, 0.5, 0.4, 0.39995, 0.39991, 0.39992, 0.1];
        let (epochs, es) = run(&l, 3, 0, 100);
        assert_eq!(epochs, 6);
        // The best checkpoint follows every decrease, even sub-threshold ones.
        assert_eq!(es.best, Some((0.39991, 4)));
        assert_eq!(es.reference, Some(0.4));
    }

    #[test]
    fn epoch_range_bounds_stopping() {
        let flat = [1.0; 20];
        assert_eq!(
            run(&flat, 2, 0, 100).0,
            3,
            "patience 2: epochs 2 and 3 are bad"
        );
        assert_eq!(run(&flat, 2, 10, 100).0, 10, "never before min_epochs");
        assert_eq!(
            run(&[3.0, 2.0, 1.0, 0.5, 0.2], 2, 0, 4).0,
            4,
            "always at max_epochs"
        );
    }

    #[test]
    fn an_improvement_resets_the_counter() {
        let l = [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5];
        assert_eq!(run(&l, 3, 0, 100).0, 7);
        let mut es = EarlyStopping::default();
        let v = es.update(0, 2.0, 7, 1e-4, 35, 100);
        assert_eq!(
            v,
            Verdict {
                new_best: true,
                stop: false
            }
        );
        assert!(!es.update(1, 2.5, 7, 1e-4, 35, 100).new_best);
    }
}
