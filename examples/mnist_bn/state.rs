//! What one variant carries from epoch to epoch, and so what its checkpoint holds: the
//! model, its optimizer, the epoch and step counters, the random generator and the table's
//! earlier rows. Built fresh from the seed, or restored from a previous run's checkpoint.

use std::path::{Path, PathBuf};

use kindling::checkpoint::{self, TrainingCheckpoint};
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
}

impl Variant {
    /// The variant at its start, or where `args.resume` left it.
    pub fn new(name: &'static str, bn: bool, lr: f32, args: &Args) -> Result<Self, String> {
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
        };
        if let Some(path) = &args.resume {
            // A checkpoint file names its directory: both variants resume from there.
            let dir = match path.parent() {
                Some(parent) if path.is_file() => parent,
                _ => path,
            };
            v.restore(&dir.join(format!("{name}.ckpt")))?;
        }
        Ok(v)
    }

    fn restore(&mut self, path: &Path) -> Result<(), String> {
        let ckpt = checkpoint::load_training(path).map_err(|e| e.to_string())?;
        ckpt.restore(&mut self.model, self.opt.as_mut())
            .map_err(|e| e.to_string())?;
        self.first_epoch = ckpt.epoch as usize;
        self.step = ckpt.step;
        if let Some(history) = ckpt.extra.get("history") {
            self.history = serde_json::from_str(history).unwrap_or_default();
        }
        self.rng = ckpt.rng;
        self.resumed_from = Some(path.to_path_buf());
        Ok(())
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
