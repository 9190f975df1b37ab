//! One run of the study: a fresh network with one normalisation, trained at one batch size
//! on the run's image budget, then scored on the test set.
//!
//! Every run draws its batches from epoch 0 of the same seeded shuffle, so all runs see the
//! same images in the same order; only how they are grouped into batches differs. The
//! score is the test accuracy in eval mode and, for BatchNorm, also in training mode (batch
//! statistics at the training batch size), which is what the network saw while it learned.

use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use kindling::data::{DataLoader, Mnist, MnistSplit};
use kindling::nn::functional::cross_entropy;
use kindling::nn::Sequential;
use kindling::prelude::*;

use crate::model::{self, Norm};
use crate::report;

/// Eval-mode scoring does not depend on the batch, so it uses batches far larger than the
/// smallest training ones, where per-call costs would dominate. Not larger than this:
/// measured on the whole study, batches of 50, 100 and 250 took the same CPU time, while
/// batches of 1000 made activations of hundreds of MB that go back to the system after
/// every batch (peak RSS 810 MB against 160 MB, and 20 s of extra kernel time).
const EVAL_BATCH: usize = 100;

/// What one run sets out to do.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub norm: Norm,
    pub batch_size: usize,
    pub images: usize,
    pub lr: f32,
    pub seed: u64,
}

/// What one run produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub plan: Plan,
    pub steps: usize,
    /// Test accuracy with the model in eval mode (BatchNorm uses its running statistics).
    pub test_accuracy_eval: f32,
    /// BatchNorm only: test accuracy in training mode, normalising each test batch of the
    /// training batch size by its own statistics.
    pub test_accuracy_train_mode: Option<f32>,
    /// How many test images the training-mode score covers (whole batches only).
    pub train_mode_images: usize,
    /// Mean loss over the last tenth of the run's images, the same images in every run.
    pub final_train_loss: f32,
    /// Whether the loss became NaN or infinite; training stops there.
    pub diverged: bool,
    /// Wall time of the training steps alone.
    pub seconds: f32,
    /// CPU time of the same steps, all threads (see `report::cpu_seconds`).
    pub cpu_seconds: Option<f32>,
    /// Wall time of the scoring that followed.
    pub eval_seconds: f32,
}

impl Outcome {
    pub fn ms_per_step(&self) -> f32 {
        self.seconds * 1000.0 / self.steps.max(1) as f32
    }
}

/// Trains and scores one network. `losses` is the caller's buffer, reused from run to run
/// so that the loop books a step's loss without allocating.
pub fn run(
    plan: Plan,
    data: &Mnist,
    test: &MnistSplit,
    losses: &mut Vec<f32>,
    bar: &ProgressBar,
) -> Result<Outcome, String> {
    let mut net = model::build(plan.norm, plan.seed);
    let mut opt = model::optimizer(plan.lr, net.parameters());
    let steps = plan.images / plan.batch_size;
    let loader = DataLoader::new(&data.train, plan.batch_size)
        .shuffle(plan.seed)
        .drop_last(true);
    if loader.len() < steps {
        return Err(format!(
            "{} images at batch {} need {steps} batches; one pass over the training set has {}",
            plan.images,
            plan.batch_size,
            loader.len()
        ));
    }

    losses.clear();
    losses.reserve(steps);
    // Redrawing the bar every step would cost more than a step at batch 2.
    let tick = (256 / plan.batch_size).max(1);
    let mut diverged = false;
    let (t0, cpu0) = (Instant::now(), report::cpu_seconds());
    for (i, batch) in loader.epoch(0).take(steps).enumerate() {
        let logits = net.forward(&batch.images);
        let loss = cross_entropy(&logits, &batch.labels);
        opt.zero_grad();
        loss.backward();
        opt.step();
        let value = loss.item();
        losses.push(value);
        if !value.is_finite() {
            diverged = true;
            break;
        }
        if (i + 1) % tick == 0 {
            bar.inc(tick as u64);
        }
    }
    let seconds = t0.elapsed().as_secs_f32();
    let cpu_seconds = report::cpu_seconds()
        .zip(cpu0)
        .map(|(end, start)| end - start);

    let t1 = Instant::now();
    let test_accuracy_eval = accuracy_eval_mode(&mut net, test);
    let (test_accuracy_train_mode, train_mode_images) = if plan.norm.has_running_stats() {
        let (acc, n) = accuracy_train_mode(&net, plan, test)?;
        (Some(acc), n)
    } else {
        (None, 0)
    };
    let eval_seconds = t1.elapsed().as_secs_f32();

    let tail = (losses.len() / 10).max(1);
    let last = &losses[losses.len() - tail..];
    let final_train_loss = last.iter().map(|&l| l as f64).sum::<f64>() / last.len() as f64;
    Ok(Outcome {
        plan,
        steps: losses.len(),
        test_accuracy_eval,
        test_accuracy_train_mode,
        train_mode_images,
        final_train_loss: final_train_loss as f32,
        diverged,
        seconds,
        cpu_seconds,
        eval_seconds,
    })
}

/// Eval mode on the whole of `test`. For GroupNorm, LayerNorm and no normalisation this is
/// the same computation as training mode; for BatchNorm it uses the running statistics.
fn accuracy_eval_mode(net: &mut Sequential, test: &MnistSplit) -> f32 {
    net.eval();
    let correct: usize = no_grad(|| {
        DataLoader::new(test, EVAL_BATCH)
            .epoch(0)
            .map(|b| model::count_correct(&net.forward(&b.images), &b.labels))
            .sum()
    });
    correct as f32 / test.len() as f32
}

/// BatchNorm in training mode on the test set, in shuffled batches of the training batch
/// size: each image is normalised with the statistics of the batch it lands in, as every
/// training image was. A training-mode forward also moves the running statistics, so this
/// runs on a copy (a fresh network loaded with the trained state) and the trained network
/// keeps its own. Only whole batches are scored, so that every batch has the training size
/// (10000 test images leave 16 out at batch 32 and 64).
fn accuracy_train_mode(
    trained: &Sequential,
    plan: Plan,
    test: &MnistSplit,
) -> Result<(f32, usize), String> {
    let mut copy = model::build(plan.norm, plan.seed);
    copy.load_state_dict(&trained.state_dict())
        .map_err(|e| format!("copying the trained {} network: {e}", plan.norm.key()))?;
    copy.train();
    let loader = DataLoader::new(test, plan.batch_size)
        .shuffle(plan.seed)
        .drop_last(true);
    let scored = loader.len() * plan.batch_size;
    let correct: usize = no_grad(|| {
        loader
            .epoch(0)
            .map(|b| model::count_correct(&copy.forward(&b.images), &b.labels))
            .sum()
    });
    Ok((correct as f32 / scored.max(1) as f32, scored))
}

/// The bar for one run, counting steps; indicatif hides it when stderr is not a terminal.
pub fn progress_bar(plan: &Plan) -> ProgressBar {
    let bar = ProgressBar::new((plan.images / plan.batch_size) as u64);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>12} [{bar:30}] {pos:>5}/{len} steps {elapsed}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(format!("{} b{}", plan.norm.key(), plan.batch_size));
    bar
}
