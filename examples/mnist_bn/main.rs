//! The main job: train the same CNN on MNIST with and without BatchNorm, and show the
//! difference. `cargo run --example mnist_bn` (add `-- --help` for the flags). This file
//! is the command line and the order of the work; model.rs is the network, train.rs the
//! loop, state.rs what a checkpoint holds, report.rs and plot.rs what a run writes.

mod inside;
mod metrics;
mod model;
mod plot;
mod report;
mod state;
mod sweep;
mod sweep_plot;
mod sweep_summary;
mod train;

use std::path::PathBuf;

use clap::{ArgAction, Parser};
use kindling::data::Mnist;

/// The flags. Each help line reads as in the hand-written help this replaced, defaults
/// included, so clap's own "[default: ...]" notes are hidden rather than said twice.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "mnist_bn",
    about = "mnist_bn: train the same CNN on MNIST with and without BatchNorm, and compare.",
    override_usage = "cargo run --example mnist_bn -- [FLAGS]",
    disable_help_flag = true,
    // A numeric flag takes "-1" as its value, for its check to refuse, not as another flag.
    mut_args = |a| {
        a.hide_default_value(true).hide_possible_values(true).allow_negative_numbers(true)
    }
)]
pub struct Args {
    /// epochs per model (default 2)
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = at_least_one)]
    pub epochs: usize,
    /// learning rate (default 0.01)
    #[arg(long, value_name = "F", default_value_t = 0.01, value_parser = valid_lr)]
    pub lr: f32,
    /// batch size (default 64)
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = batch_size)]
    pub batch_size: usize,
    /// sgd (momentum 0.9) or adam (default sgd)
    #[arg(long, value_name = "NAME", default_value = "sgd", value_parser = ["sgd", "adam"])]
    pub optimizer: String,
    /// seed for weights and shuffling (default 0)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub seed: u64,
    /// worker threads (default: all cores)
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// at most N batches per epoch, for a quick look
    #[arg(long, value_name = "N", value_parser = at_least_one)]
    pub limit: Option<usize>,
    /// MNIST directory (default datasets/mnist, or $KINDLING_MNIST_DIR)
    #[arg(long, value_name = "DIR", default_value_os_t = Mnist::default_dir())]
    pub data: PathBuf,
    /// output directory (default runs/mnist_bn)
    #[arg(long, value_name = "DIR", default_value = "runs/mnist_bn")]
    pub out: PathBuf,
    /// record what happens inside both networks (activations, gradients, updates) and
    /// write diagnostics.csv and diagnostics.svg
    #[arg(long)]
    pub diagnostics: bool,
    /// with --diagnostics, record every N steps (default 25)
    #[arg(long, value_name = "N", default_value_t = 25, value_parser = at_least_one_u64)]
    pub diagnostics_every: u64,
    /// train both variants for 300 steps (or --limit) at each rate of --lr-grid, once per
    /// seed, and compare the median and range of test accuracy
    #[arg(long)]
    pub lr_sweep: bool,
    /// with --lr-sweep, runs per rate and variant, from seeds --seed, --seed + 1, ... (default 3)
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = at_least_one,
          requires = "lr_sweep")]
    pub seeds: usize,
    /// with --lr-sweep, the learning rates, comma-separated (default 0.01,0.1,0.3,0.5,1.0)
    #[arg(long, value_name = "F,...", value_delimiter = ',', default_value = "0.01,0.1,0.3,0.5,1.0",
          value_parser = sweep::grid_rate, requires = "lr_sweep")]
    pub lr_grid: Vec<f32>,
    /// continue from PATH/bn.ckpt and PATH/no_bn.ckpt (written by a previous run) up to
    /// --epochs; PATH may also be one of the files
    #[arg(long, value_name = "PATH")]
    pub resume: Option<PathBuf>,
    /// this text
    #[arg(long, short, action = ArgAction::Help)]
    help: Option<bool>,
}

/// NaN or below zero makes the optimizers panic, infinity makes NaN weights; 0 is allowed.
fn valid_lr(s: &str) -> Result<f32, String> {
    let lr = s.parse::<f32>().map_err(|e| e.to_string())?;
    (lr.is_finite() && lr >= 0.0)
        .then_some(lr)
        .ok_or("must be a finite number, 0 or more".into())
}

/// Zero epochs or batches would train nothing, yet still print a table and write outputs.
fn at_least_one(s: &str) -> Result<usize, String> {
    let n = s.parse::<usize>().map_err(|e| e.to_string())?;
    (n >= 1).then_some(n).ok_or("must be at least 1".into())
}

fn at_least_one_u64(s: &str) -> Result<u64, String> {
    at_least_one(s).map(|n| n as u64)
}

fn batch_size(s: &str) -> Result<usize, String> {
    let n = s.parse::<usize>().map_err(|e| e.to_string())?;
    let why = "must be at least 2: BatchNorm needs more than one sample per channel";
    (n >= 2).then_some(n).ok_or(why.into())
}

fn main() {
    let args = Args::parse();
    if let Err(e) = run(&args) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run(args: &Args) -> Result<(), String> {
    if let Some(n) = args.threads {
        kindling::set_num_threads(n)?;
    }
    // Whatever can fail is tried before the first step: a mistake costs seconds, not an epoch.
    report::check_writable(&args.out)?;
    let data = report::load_data(&args.data)?;
    let per_epoch = train::batches_per_epoch(args, &data)?;
    if args.lr_sweep {
        return sweep::lr_sweep(args, &data);
    }
    let mut bn = state::Variant::new("bn", true, args.lr, args, per_epoch)?;
    let mut no_bn = state::Variant::new("no_bn", false, args.lr, args, per_epoch)?;
    report::print_plan(args);
    let bn_run = train::train(&mut bn, args, &data, true)?;
    let no_bn_run = train::train(&mut no_bn, args, &data, true)?;
    println!("\n{}", report::table(&bn_run, &no_bn_run));
    println!("{}", report::conclusion(&bn_run, &no_bn_run));
    report::write_outputs(args, &bn_run, &no_bn_run)?;
    inside::write(&args.out, &bn, &no_bn)
}
