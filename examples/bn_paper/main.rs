//! Figure 1 of the BatchNorm paper (Ioffe & Szegedy 2015, section 4.1), reproduced:
//! the same small sigmoid network trained on MNIST with and without BatchNorm, its test
//! accuracy, and how the input to one sigmoid is distributed over the test set as
//! training goes on.
//!
//! ```text
//! cargo run --release --example bn_paper
//! ```
//!
//! The setup, followed as the paper describes it where it says something:
//! - input: the 784 MNIST pixels, binarised (byte > 127 → 1, else 0);
//! - network: three hidden layers of 100, each Linear → [BatchNorm1d] → sigmoid, then
//!   Linear(100, 10); "bn" has the BatchNorm layers (PyTorch defaults: momentum 0.1,
//!   eps 1e-5), "plain" does not;
//! - initialisation: every Linear weight from N(0, 0.01²), biases 0;
//! - training: cross-entropy, plain SGD (no momentum, no weight decay) at lr 0.5, batches
//!   of 60, 50,000 steps; the 60,000 training images are reshuffled every 1,000 steps;
//! - evaluation: at step 0 (before any training), every 1,000 steps and after the last
//!   step, in eval mode (running statistics), on all 10,000 test images: the accuracy and
//!   the 15th, 50th and 85th percentiles over the test set of the input to the first
//!   sigmoid of the last hidden layer (unit 0 of the third hidden layer's pre-activation:
//!   the BN output in "bn", the Linear output in "plain"). Percentiles interpolate
//!   linearly between ranks, as numpy's and torch.quantile's defaults do.
//!
//! Two random streams, both seeded from `--seed` and nothing else: kindling's global
//! generator, reseeded with `manual_seed(seed)` before each variant is built (it draws
//! `Linear::new`'s default weights, then the N(0, 0.01²) weights that replace them), and
//! the shuffle: one generator per epoch, seeded from (seed, epoch) by
//! `DataLoader::shuffle`. So both variants start from the same weights and see the same
//! batches; nothing random happens during training or evaluation.
//!
//! The two variants train at the same time, one thread each, and kindling's kernels get
//! one worker (`--threads`): the layers are too small to gain from more. The sigmoid input
//! is read by a forward hook registered on the watched layer for each evaluation
//! (train.rs). Writes bn_paper.svg, bn_paper.csv and summary.json to `--out`;
//! `--plot-from summary.json` redraws the figure from any run's summary, PyTorch's twin
//! (tools/experiments/bn_paper.py) included. The chapter is docs/bn-experiments.md.

mod model;
mod plot;
mod train;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{ArgAction, Parser};
use indicatif::MultiProgress;
use kindling::data::Mnist;
use model::PaperNet;
use serde::{Deserialize, Serialize};

/// The paper's batch size and learning rate: the experiment is defined by them.
pub const BATCH: usize = 60;
pub const LR: f32 = 0.5;
/// Test images per forward pass when scoring: large, to pay the per-op cost rarely.
const EVAL_CHUNK: usize = 2500;

#[derive(Parser, Debug, Clone)]
#[command(
    name = "bn_paper",
    about = "bn_paper: Figure 1 of the BatchNorm paper on MNIST, with and without BatchNorm.",
    override_usage = "cargo run --release --example bn_paper -- [FLAGS]",
    disable_help_flag = true,
    mut_args = |a| {
        a.hide_default_value(true).hide_possible_values(true).allow_negative_numbers(true)
    }
)]
pub struct Args {
    /// training steps per variant (default 50000)
    #[arg(long, value_name = "N", default_value_t = 50_000, value_parser = at_least_one)]
    pub steps: usize,
    /// score the test set every N steps, and at step 0 (default 1000)
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = at_least_one)]
    pub eval_every: usize,
    /// score only the first N test images, for a quick look (default all 10000)
    #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = at_least_one)]
    pub test_images: usize,
    /// seed for weights and shuffling (default 0)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub seed: u64,
    /// kindling's worker threads (default 1: the two variants already train side by side)
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = at_least_one)]
    pub threads: usize,
    /// MNIST directory (default datasets/mnist, or $KINDLING_MNIST_DIR)
    #[arg(long, value_name = "DIR", default_value_os_t = Mnist::default_dir())]
    pub data: PathBuf,
    /// output directory (default runs/bn_paper)
    #[arg(long, value_name = "DIR", default_value = "runs/bn_paper")]
    pub out: PathBuf,
    /// train nothing: redraw DIR/bn_paper.svg (--out) from FILE, any run's summary.json
    #[arg(long, value_name = "FILE")]
    pub plot_from: Option<PathBuf>,
    /// who made the numbers, in the figure's title (default kindling)
    #[arg(long, value_name = "TEXT", default_value = "kindling")]
    pub label: String,
    /// this text
    #[arg(long, short, action = ArgAction::Help)]
    help: Option<bool>,
}

fn at_least_one(s: &str) -> Result<usize, String> {
    let n = s.parse::<usize>().map_err(|e| e.to_string())?;
    (n >= 1).then_some(n).ok_or("must be at least 1".into())
}

/// One variant's curves: a point per evaluation. summary.json holds one per variant and
/// nothing else, in the shape the PyTorch twin writes too.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Curves {
    pub step: Vec<usize>,
    pub test_accuracy: Vec<f64>,
    pub p15: Vec<f64>,
    pub p50: Vec<f64>,
    pub p85: Vec<f64>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Summary {
    pub bn: Curves,
    pub plain: Curves,
}

impl Summary {
    /// A summary read from a file must have points, and as many of each kind.
    fn check(&self) -> Result<(), String> {
        for (name, c) in [("bn", &self.bn), ("plain", &self.plain)] {
            let n = c.step.len();
            let lens = [c.test_accuracy.len(), c.p15.len(), c.p50.len(), c.p85.len()];
            if n == 0 || lens.iter().any(|&l| l != n) {
                return Err(format!(
                    "\"{name}\" needs step, test_accuracy, p15, p50 and p85 of one length, \
                     at least 1; they have {n}, {lens:?}"
                ));
            }
        }
        Ok(())
    }
}

fn main() {
    let args = Args::parse();
    if let Err(e) = run(&args) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run(args: &Args) -> Result<(), String> {
    check_writable(&args.out)?;
    if let Some(from) = &args.plot_from {
        let text = std::fs::read_to_string(from)
            .map_err(|e| format!("cannot read {}: {e}", from.display()))?;
        let summary: Summary = serde_json::from_str(&text)
            .map_err(|e| format!("{} is not a bn_paper summary.json: {e}", from.display()))?;
        summary
            .check()
            .map_err(|e| format!("{}: {e}", from.display()))?;
        let path = draw(args, &summary)?;
        println!("Drew {} from {}", path.display(), from.display());
        return Ok(());
    }
    // Layers of 100 units on batches of 60 are too small to split across threads: a second
    // worker mostly spins, and takes CPU time from the other variant's thread.
    kindling::set_num_threads(args.threads)?;
    let t0 = Instant::now();
    let data = Mnist::load(&args.data).map_err(|e| e.to_string())?;
    let test = model::TestSet::new(&data.test, args.test_images, EVAL_CHUNK);
    println!(
        "MNIST from {} ({:.1} s); {} thread(s). {} steps of {BATCH} per variant at lr {LR}, \
         {} test images scored every {} steps.",
        args.data.display(),
        t0.elapsed().as_secs_f32(),
        kindling::num_threads(),
        args.steps,
        test.len,
        args.eval_every
    );
    // Both networks are built here, one after the other, because each seeds the one global
    // generator; then each trains on a thread of its own. The two runs share nothing but
    // the data they read, so two cores can run them at once.
    let nets = [
        ("bn", PaperNet::new(true, args.seed)),
        ("plain", PaperNet::new(false, args.seed)),
    ];
    let bars = MultiProgress::new();
    let runs: Vec<(&str, Curves, train::Timing)> = std::thread::scope(|scope| {
        let jobs: Vec<_> = nets
            .into_iter()
            .map(|(name, net)| {
                let bar = bars.add(train::progress_bar(name, args.steps));
                let (data, test) = (&data, &test);
                (
                    name,
                    scope.spawn(move || train::run(net, bar, args, data, test)),
                )
            })
            .collect();
        jobs.into_iter()
            .map(|(name, job)| {
                let (curves, time) = job.join().expect("a training thread panicked");
                (name, curves, time)
            })
            .collect()
    });
    for (name, curves, time) in &runs {
        let i = curves.step.len() - 1;
        println!(
            "{name:>5}: test accuracy {:.2}% after {} steps; p15/p50/p85 {:.3}/{:.3}/{:.3}; \
             training {:.1} s ({:.3} ms/step), {} evaluations {:.1} s",
            curves.test_accuracy[i] * 100.0,
            curves.step[i],
            curves.p15[i],
            curves.p50[i],
            curves.p85[i],
            time.train.as_secs_f64(),
            time.train.as_secs_f64() * 1000.0 / time.steps as f64,
            curves.step.len(),
            time.eval.as_secs_f64()
        );
    }
    let mut runs = runs.into_iter().map(|(_, curves, _)| curves);
    let (bn, plain) = (
        runs.next().expect("two runs"),
        runs.next().expect("two runs"),
    );
    let summary = Summary { bn, plain };
    println!("\n{}", table(&summary));
    write_outputs(args, &summary)?;
    println!("total {:.1} s", t0.elapsed().as_secs_f32());
    Ok(())
}

/// Makes `dir` and a file in it, so that a run that cannot save says so before training.
fn check_writable(dir: &Path) -> Result<(), String> {
    let show = dir.display();
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {show}: {e}"))?;
    let probe = dir.join(format!(".bn_paper-probe-{}", std::process::id()));
    let fail = |e: std::io::Error| format!("cannot create a file in {show}: {e}");
    std::fs::File::create_new(&probe).map_err(fail)?;
    std::fs::remove_file(&probe).map_err(fail)
}

/// A few rows of both runs side by side: the first, the tenths of the run and the last.
fn table(s: &Summary) -> String {
    let mut out = String::from(
        "|  step | acc bn | acc plain | bn p15 / p50 / p85      | plain p15 / p50 / p85   |\n\
         |------:|-------:|----------:|-------------------------|-------------------------|\n",
    );
    let n = s.bn.step.len().min(s.plain.step.len());
    let mut rows: Vec<usize> = (0..=10).map(|k| k * (n - 1) / 10).collect();
    rows.dedup();
    for i in rows {
        let (b, p) = (&s.bn, &s.plain);
        let _ = writeln!(
            out,
            "| {:>5} | {:>5.2}% | {:>8.2}% | {:>6.3} / {:>6.3} / {:>6.3} | {:>6.3} / {:>6.3} / {:>6.3} |",
            b.step[i],
            b.test_accuracy[i] * 100.0,
            p.test_accuracy[i] * 100.0,
            b.p15[i],
            b.p50[i],
            b.p85[i],
            p.p15[i],
            p.p50[i],
            p.p85[i]
        );
    }
    out.pop();
    out
}

/// bn_paper.csv, summary.json and bn_paper.svg in `--out`.
fn write_outputs(args: &Args, s: &Summary) -> Result<(), String> {
    let io = |p: &Path, e: std::io::Error| format!("cannot write {}: {e}", p.display());
    let mut csv = String::from("variant,step,test_accuracy,p15,p50,p85\n");
    for (name, c) in [("bn", &s.bn), ("plain", &s.plain)] {
        for i in 0..c.step.len() {
            let _ = writeln!(
                csv,
                "{name},{},{},{},{},{}",
                c.step[i], c.test_accuracy[i], c.p15[i], c.p50[i], c.p85[i]
            );
        }
    }
    let path = args.out.join("bn_paper.csv");
    std::fs::write(&path, csv).map_err(|e| io(&path, e))?;
    let path = args.out.join("summary.json");
    let json = serde_json::to_string_pretty(s).expect("numbers and lists serialise");
    std::fs::write(&path, json).map_err(|e| io(&path, e))?;
    draw(args, s)?;
    println!(
        "\nWrote {}: bn_paper.csv, summary.json, bn_paper.svg",
        args.out.display()
    );
    Ok(())
}

fn draw(args: &Args, s: &Summary) -> Result<PathBuf, String> {
    let path = args.out.join("bn_paper.svg");
    plot::figure(&path, s, &args.label)
        .map_err(|e| format!("cannot draw {}: {e}", path.display()))?;
    Ok(path)
}
