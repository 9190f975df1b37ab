//! What one variant carries from epoch to epoch, and so what its checkpoint holds: the
//! model, its optimizer, the epoch and step counters, the random generator and the table's
//! earlier rows. Built fresh from the seed, or restored from a previous run's checkpoint.

use std::path::{Path, PathBuf};

use kindling::checkpoint::{self, TrainingCheckpoint};
use kindling::diagnostics::Diagnostics;
use kindling::nn::Sequential;
use kindling::prelude::*;
use kindling::rng::{get_rng_state, set_rng_state, Xoshiro256};

use crate::metrics::{EpochStats, RunResult};
use crate::{model, Args};

pub struct Variant {
    /// "bn" or "no_bn": the checkpoint's file name and the label on every printed line.
    pub name: &'static str,
    pub model: Sequential,
    pub opt: Box<dyn Optimizer>,
    /// The first epoch still to train (0-based), which is also how many are done.
    pub first_epoch: usize,
    pub step: u64,
    history: Vec<EpochStats>,
    /// Nothing in training draws from it today, but a checkpoint that resumes "exactly"
    /// must hand back the generator as this variant left it, whichever variant ran last.
    rng: Xoshiro256,
    resumed_from: Option<PathBuf>,
    /// With `--diagnostics`: what the layers did, recorded every `--diagnostics-every` steps.
    pub diagnostics: Option<Diagnostics>,
}

impl Variant {
    /// The variant at its start, or where `args.resume` left it, checked to be able to
    /// go on for `args.epochs` epochs of `per_epoch` steps.
    pub fn new(
        name: &'static str,
        bn: bool,
        lr: f32,
        args: &Args,
        per_epoch: usize,
    ) -> Result<Self, String> {
        let model = model::build(bn, args.seed);
        let opt = model::optimizer(&args.optimizer, lr, model.parameters());
        let mut v = Variant {
            name,
            model,
            opt,
            first_epoch: 0,
            step: 0,
            history: Vec::new(),
            rng: get_rng_state(),
            resumed_from: None,
            diagnostics: None,
        };
        if args.diagnostics {
            let every = args.diagnostics_every;
            v.diagnostics = Some(Diagnostics::attach(&v.model).every(every));
        }
        if let Some(path) = &args.resume {
            // A checkpoint file names its directory: both variants resume from there.
            let dir = match path.parent() {
                Some(parent) if path.is_file() => parent,
                _ => path,
            };
            v.restore(&dir.join(format!("{name}.ckpt")))?;
        }
        v.check_steps_left(args.epochs, per_epoch)?;
        Ok(v)
    }

    fn restore(&mut self, path: &Path) -> Result<(), String> {
        let ckpt = checkpoint::load_training(path).map_err(|e| e.to_string())?;
        let at = |e: String| format!("{}: {e}", path.display());
        ckpt.restore(&mut self.model, self.opt.as_mut())
            .map_err(|e| at(e.to_string()))?;
        let history = ckpt.extra.get("history").ok_or_else(|| {
            at("it holds no training history (mnist_bn writes one into each checkpoint)".into())
        })?;
        self.history = serde_json::from_str(history)
            .map_err(|e| at(format!("its training history is unreadable: {e}")))?;
        // The counters come from a file: trust them only where they agree with each other.
        if u64::try_from(self.history.len()) != Ok(ckpt.epoch) {
            return Err(at(format!(
                "epoch {} does not match its history of {} epoch(s)",
                ckpt.epoch,
                self.history.len()
            )));
        }
        for (i, e) in self.history.iter().enumerate() {
            if e.epoch != i + 1 || !(0.0..=1.0).contains(&e.test_accuracy) {
                return Err(at(format!(
                    "epoch {} of its training history is damaged",
                    i + 1
                )));
            }
        }
        self.first_epoch = self.history.len();
        self.step = ckpt.step;
        self.rng = ckpt.rng;
        self.resumed_from = Some(path.to_path_buf());
        Ok(())
    }

    /// Fails, before any training, when the step counter (read from a checkpoint) cannot
    /// count every step up to `epochs` epochs of `per_epoch` steps: a checkpoint holds
    /// counts up to `MAX_COUNTER` (2^53), so a run must end at or below it.
    fn check_steps_left(&self, epochs: usize, per_epoch: usize) -> Result<(), String> {
        let epochs_left = epochs.saturating_sub(self.first_epoch);
        let steps_left = epochs_left
            .checked_mul(per_epoch)
            .and_then(|n| u64::try_from(n).ok());
        let last = steps_left.and_then(|n| self.step.checked_add(n));
        if last.is_some_and(|s| s <= kindling::optim::MAX_COUNTER) {
            return Ok(());
        }
        let source = self.resumed_from.as_deref().unwrap_or(Path::new(self.name));
        Err(format!(
            "{}: at step {} there is no room to count {epochs_left} more epoch(s) of {per_epoch} \
             step(s)",
            source.display(),
            self.step
        ))
    }

    /// Hands the generator back to this variant and opens its run where it stands.
    pub fn start(&mut self) -> RunResult {
        set_rng_state(self.rng.clone());
        if let Some(path) = &self.resumed_from {
            println!(
                "{}: resumed from {} at epoch {}, step {}",
                self.name,
                path.display(),
                self.first_epoch,
                self.step
            );
        }
        RunResult::continuing(std::mem::take(&mut self.history))
    }

    /// Saves the checkpoint after the last epoch in `history` to `out/<name>.ckpt`.
    pub fn save(&self, out: &Path, history: &[EpochStats]) -> Result<(), String> {
        let epoch = u64::try_from(history.len()).map_err(|e| e.to_string())?;
        let ckpt = TrainingCheckpoint::capture(&self.model, self.opt.as_ref(), epoch, self.step)
            .with_extra(
                "history",
                serde_json::to_string(history).map_err(|e| e.to_string())?,
            )
            .with_extra("variant", self.name);
        let path = out.join(format!("{}.ckpt", self.name));
        checkpoint::save_training(&ckpt, &path).map_err(|e| e.to_string())
    }
}
