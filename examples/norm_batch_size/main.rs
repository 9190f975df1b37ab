//! norm_batch_size: how does BatchNorm fare as the batch shrinks, next to GroupNorm and
//! LayerNorm, which never look across the batch? The small-batch experiment of the
//! GroupNorm paper (Wu & He 2018, Figure 1), on MNIST with the mnist_bn CNN.
//!
//! `cargo run --release --example norm_batch_size` (add `-- --help` for the flags).
//!
//! The setup: the mnist_bn CNN (model.rs) with BatchNorm, GroupNorm (8 channels per group),
//! LayerNorm or no normalisation in mnist_bn's three BN slots, each trained at batch sizes
//! 2, 4, 8, 16, 32 and 64: 24 runs. Every run
//! - starts from the same convolution and linear weights (`--seed`, default 0);
//! - sees the same 12800 training images (`--images`; 3200 with `--quick`) once each, in
//!   the same shuffled order, so a batch-2 run takes 6400 steps and a batch-64 run 200;
//! - trains with SGD, momentum 0.9, at a learning rate scaled linearly with the batch:
//!   `--lr` (default 0.05) at batch 64, lr·B/64 at batch B (0.0015625 at batch 2). A fixed
//!   rate would give a batch-2 run 32 times the total step length of a batch-64 run over
//!   the same images, and the comparison would be about step size as much as about batch
//!   size; scaling keeps the step per image alike, as the GroupNorm paper does;
//! - is scored on the 10000 test images (the first 2000 with `--quick`) in eval mode and,
//!   for BatchNorm, also in training mode: each test batch of the training batch size
//!   normalised by its own statistics.
//!
//! Outputs in `--out` (default runs/norm_batch_size): norm_batch_size.csv, summary.json,
//! norm_batch_size.svg, and a markdown table on stdout. The default run was sized to take
//! under 10 minutes on 2 cores; docs/bn-experiments.md has the measured time and results.
//!
//! This file is the command line and the order of the work; model.rs holds the networks,
//! train.rs one run, report.rs the tables and files, plot.rs the figure.

mod model;
mod plot;
mod report;
mod train;

use std::path::PathBuf;
use std::time::Instant;

use clap::{ArgAction, Parser};
use kindling::data::{Mnist, MnistSplit};

use model::Norm;
use train::Plan;

/// The batch sizes of the study, smallest first.
pub const BATCH_SIZES: [usize; 6] = [2, 4, 8, 16, 32, 64];
/// The learning rate given by `--lr` applies at this batch size.
pub const REFERENCE_BATCH: usize = 64;
/// The budget was sized from measured per-step costs (docs/bn-experiments.md): the whole
/// study stays under 10 minutes of CPU time, and so under 10 minutes on a quiet 2-core
/// machine, where two threads can only shorten it.
pub const DEFAULT_IMAGES: usize = 12_800;
pub const QUICK_IMAGES: usize = 3_200;
/// `--quick` also scores on fewer test images: scoring 24 networks on all 10000 costs
/// about two minutes of CPU time by itself.
const QUICK_TEST_IMAGES: usize = 2_000;
/// One pass over the 60000 training images in whole batches of 64. Runs never go past it,
/// so that every run sees each image at most once, and all of them the same images.
const MAX_IMAGES: usize = 60_000 / 64 * 64;

#[derive(Parser, Debug, Clone)]
#[command(
    name = "norm_batch_size",
    about = "norm_batch_size: BatchNorm, GroupNorm, LayerNorm and no normalisation at batch \
             sizes 2 to 64, on MNIST with the mnist_bn CNN.",
    override_usage = "cargo run --release --example norm_batch_size -- [FLAGS]",
    disable_help_flag = true,
    mut_args = |a| {
        a.hide_default_value(true).hide_possible_values(true).allow_negative_numbers(true)
    }
)]
pub struct Args {
    /// a short version of the study: 3200 images per run instead of 12800, scored on the
    /// first 2000 test images
    #[arg(long)]
    pub quick: bool,
    /// training images per run, a multiple of 64 up to 59968 (default 12800, or 3200 with
    /// --quick)
    #[arg(long, value_name = "N", value_parser = image_count)]
    pub images: Option<usize>,
    /// learning rate at batch 64; batch B trains at lr·B/64 (default 0.05)
    #[arg(long, value_name = "F", default_value_t = 0.05, value_parser = valid_lr)]
    pub lr: f32,
    /// seed for the weights and the order of the images (default 0)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub seed: u64,
    /// score on the first N test images only (default: all 10000, or 2000 with --quick)
    #[arg(long, value_name = "N", value_parser = test_image_count)]
    pub test_images: Option<usize>,
    /// worker threads (default: all cores)
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// MNIST directory (default datasets/mnist, or $KINDLING_MNIST_DIR)
    #[arg(long, value_name = "DIR", default_value_os_t = Mnist::default_dir())]
    pub data: PathBuf,
    /// output directory (default runs/norm_batch_size)
    #[arg(long, value_name = "DIR", default_value = "runs/norm_batch_size")]
    pub out: PathBuf,
    /// this text
    #[arg(long, short, action = ArgAction::Help)]
    help: Option<bool>,
}

impl Args {
    pub fn images(&self) -> usize {
        self.images.unwrap_or(if self.quick {
            QUICK_IMAGES
        } else {
            DEFAULT_IMAGES
        })
    }

    pub fn test_images(&self) -> Option<usize> {
        self.test_images.or(self.quick.then_some(QUICK_TEST_IMAGES))
    }

    /// The linear scaling rule: the same step per image at every batch size.
    pub fn lr_at(&self, batch_size: usize) -> f32 {
        self.lr * batch_size as f32 / REFERENCE_BATCH as f32
    }
}

/// NaN or below zero makes the optimizer panic, infinity makes NaN weights; 0 is allowed.
fn valid_lr(s: &str) -> Result<f32, String> {
    let lr = s.parse::<f32>().map_err(|e| e.to_string())?;
    (lr.is_finite() && lr >= 0.0)
        .then_some(lr)
        .ok_or("must be a finite number, 0 or more".into())
}

/// Every batch size must divide the budget, or runs would see different images.
fn image_count(s: &str) -> Result<usize, String> {
    let n = s.parse::<usize>().map_err(|e| e.to_string())?;
    if n == 0 || n % REFERENCE_BATCH != 0 {
        return Err(format!(
            "must be a positive multiple of {REFERENCE_BATCH}, so that every batch size \
             sees the same images"
        ));
    }
    (n <= MAX_IMAGES).then_some(n).ok_or(format!(
        "must be at most {MAX_IMAGES}, one pass over the training set in whole batches of 64"
    ))
}

/// Training-mode scoring needs at least one whole batch of the largest size.
fn test_image_count(s: &str) -> Result<usize, String> {
    let n = s.parse::<usize>().map_err(|e| e.to_string())?;
    (n >= REFERENCE_BATCH)
        .then_some(n)
        .ok_or(format!("must be at least {REFERENCE_BATCH}"))
}

fn main() {
    let args = Args::parse();
    if let Err(e) = run(&args) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run(args: &Args) -> Result<(), String> {
    let started = Instant::now();
    if let Some(n) = args.threads {
        kindling::set_num_threads(n)?;
    }
    // Whatever can fail is tried before the first step.
    report::check_writable(&args.out)?;
    let data = report::load_data(&args.data)?;
    let test = test_subset(&data.test, args.test_images());
    report::print_plan(args, test.len());

    let mut outcomes = Vec::new();
    // One buffer for every run's losses: the training loop itself allocates nothing.
    let mut losses = Vec::with_capacity(args.images() / BATCH_SIZES[0]);
    // Batch size outermost, so that the four normalisations at one batch size run next to
    // each other in time and meet the same load on a shared machine.
    for batch_size in BATCH_SIZES {
        for norm in Norm::ALL {
            let plan = Plan {
                norm,
                batch_size,
                images: args.images(),
                lr: args.lr_at(batch_size),
                seed: args.seed,
            };
            let bar = train::progress_bar(&plan);
            let outcome = train::run(plan, &data, &test, &mut losses, &bar)?;
            report::finish_bar(bar, &outcome);
            outcomes.push(outcome);
        }
    }
    let (wall, cpu) = (started.elapsed().as_secs_f32(), report::cpu_seconds());
    println!("\n{}", report::tables(&outcomes));
    println!("{}", report::reading(&outcomes));
    report::write_outputs(args, &outcomes, test.len(), wall, cpu)?;
    println!("{}", report::timing_line(wall, cpu));
    Ok(())
}

/// The first `n` test images, or all of them.
fn test_subset(test: &MnistSplit, n: Option<usize>) -> MnistSplit {
    let n = n.unwrap_or(test.len()).min(test.len());
    let pixels = test.rows * test.cols;
    MnistSplit {
        images: test.images[..n * pixels].to_vec(),
        labels: test.labels[..n].to_vec(),
        rows: test.rows,
        cols: test.cols,
    }
}
