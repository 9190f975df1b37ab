//! The numbers one variant's run collects: every step's time, loss and hits, folded into a
//! point of the loss curve every `LOG_EVERY` steps and a row of the table every epoch.
//! Kept apart from the loop so that train.rs shows the training step and little else.

use std::time::Instant;

use kindling::prelude::*;
use serde::{Deserialize, Deserializer, Serialize};

use crate::model;

/// Steps per point of the loss curve (metrics.csv and curves.svg).
pub const LOG_EVERY: u64 = 10;

/// One epoch's numbers for the table and summary.json. Each checkpoint carries the list of
/// them, so that a resumed run still reports the epochs before it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EpochStats {
    pub epoch: usize,
    /// A diverged run's loss is NaN, which JSON can only write as null.
    #[serde(deserialize_with = "nan_if_null")]
    pub train_loss: f32,
    pub test_accuracy: f32,
    pub seconds: f32,
    /// Resident memory at the end of the epoch: it should stay flat from epoch to epoch.
    #[serde(default)]
    pub rss_mib: f32,
}

fn nan_if_null<'de, D: Deserializer<'de>>(d: D) -> Result<f32, D::Error> {
    Ok(Option::<f32>::deserialize(d)?.unwrap_or(f32::NAN))
}

/// Everything a variant's run produced.
#[derive(Debug, Clone, Default)]
pub struct RunResult {
    pub epochs: Vec<EpochStats>,
    /// The median, so that a slow first step (buffers being allocated) does not count.
    pub ms_per_step: f32,
    /// (global step, mean loss over the last `LOG_EVERY` steps, running accuracy).
    pub log: Vec<(u64, f32, f32)>,
    pub diverged: bool,
    step_ms: Vec<f32>,
    epoch: EpochSums,
}

/// The running sums of the epoch in progress.
#[derive(Debug, Clone, Default)]
struct EpochSums {
    started: Option<Instant>,
    steps: usize,
    loss_sum: f64,
    window: f32,
    correct: usize,
    seen: usize,
}

impl RunResult {
    /// A run that goes on from the epochs in `history`.
    pub fn continuing(history: Vec<EpochStats>) -> Self {
        RunResult {
            epochs: history,
            ..Default::default()
        }
    }

    pub fn start_epoch(&mut self) {
        self.epoch = EpochSums {
            started: Some(Instant::now()),
            ..Default::default()
        };
    }

    /// Books one training step that began at `t0`; returns the progress bar's message.
    pub fn record(
        &mut self,
        step: u64,
        t0: Instant,
        loss: f32,
        logits: &Tensor,
        labels: &[usize],
    ) -> String {
        self.step_ms.push(t0.elapsed().as_secs_f32() * 1000.0);
        self.diverged |= !loss.is_finite();
        let e = &mut self.epoch;
        e.steps += 1;
        e.loss_sum += loss as f64;
        e.window += loss;
        e.correct += model::count_correct(logits, labels);
        e.seen += labels.len();
        let acc = e.correct as f32 / e.seen as f32;
        if step.is_multiple_of(LOG_EVERY) {
            self.log.push((step, e.window / LOG_EVERY as f32, acc));
            e.window = 0.0;
        }
        let rate = e.seen as f32 / self.elapsed();
        format!("loss {loss:.4}  acc {:.2}%  {rate:.0} img/s", acc * 100.0)
    }

    /// Closes the epoch numbered `epoch` (from 1) with its test-set accuracy.
    pub fn end_epoch(&mut self, epoch: usize, test_accuracy: f32) -> &EpochStats {
        let e = &self.epoch;
        self.epochs.push(EpochStats {
            epoch,
            train_loss: (e.loss_sum / e.steps.max(1) as f64) as f32,
            test_accuracy,
            seconds: self.elapsed(),
            rss_mib: rss_mib(),
        });
        &self.epochs[self.epochs.len() - 1]
    }

    pub fn finish(&mut self) {
        self.step_ms.sort_by(f32::total_cmp);
        self.ms_per_step = self
            .step_ms
            .get(self.step_ms.len() / 2)
            .copied()
            .unwrap_or(0.0);
    }

    fn elapsed(&self) -> f32 {
        self.epoch
            .started
            .map_or(0.0, |t| t.elapsed().as_secs_f32())
    }
}

/// The process's resident memory in MiB (Linux; 0 elsewhere).
fn rss_mib() -> f32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse::<f32>().ok()
        })
        .map_or(0.0, |kib| kib / 1024.0)
}
