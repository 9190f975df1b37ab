//! `--lr-sweep`: both variants for a short run at each learning rate of `--lr-grid`, once
//! per seed of `--seeds`. At large rates the plain network can stop learning while the one
//! with BatchNorm trains on, but near the rate where that starts one run decides little: the
//! order of a GEMM's sums follows the CPU's caches, so a run that lands on one side of the
//! edge on one machine can land on the other elsewhere. Hence several seeds, the median and
//! the range, and a default grid that reaches well past the edge. This file runs the sweep
//! and writes its files; sweep_summary.rs reads the numbers and sweep_plot.rs draws them.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use kindling::data::Mnist;

use crate::sweep_summary::{self, Setting};
use crate::{state::Variant, sweep_plot, train, Args};

/// Steps per run when `--limit` does not say: at batch 64 the no-BN network at lr 0.01
/// reaches about 97% by then, so a rate that ends far below has failed, not run short.
pub const STEPS: usize = 300;

/// A rate of `--lr-grid`: finite and above 0, since a rate of 0 trains nothing and the
/// plot's logarithmic axis has no place for it.
pub fn grid_rate(s: &str) -> Result<f32, String> {
    let lr = s.trim().parse::<f32>().map_err(|e| e.to_string())?;
    (lr.is_finite() && lr > 0.0)
        .then_some(lr)
        .ok_or("must be a finite number above 0".into())
}

/// One trained model: a row of lr_sweep.csv.
#[derive(Debug, Clone)]
pub struct Run {
    pub lr: f32,
    pub bn: bool,
    pub seed: u64,
    /// The mean over the run's steps; NaN if the loss ever was.
    pub train_loss: f32,
    pub test_accuracy: f32,
    /// The loss became NaN or infinite at some step.
    pub diverged: bool,
}

impl Run {
    pub fn variant(&self) -> &'static str {
        if self.bn {
            "bn"
        } else {
            "no_bn"
        }
    }
}

pub fn lr_sweep(args: &Args, data: &Mnist) -> Result<(), String> {
    let steps = args.limit.unwrap_or(STEPS);
    // Sorted, so that "the first rate at which ..." means the smallest.
    let mut rates = args.lr_grid.clone();
    rates.sort_by(f32::total_cmp);
    rates.dedup();
    let seeds = (0..args.seeds as u64)
        .map(|i| args.seed.checked_add(i))
        .collect::<Option<Vec<u64>>>()
        .ok_or_else(|| {
            format!(
                "--seed {} with --seeds {} runs past the largest seed",
                args.seed, args.seeds
            )
        })?;
    let total = rates.len() * seeds.len() * 2;
    println!(
        "Learning-rate sweep: {} rate(s) x 2 variants x {} seed(s) ({}) = {total} runs of \
         {steps} steps of {}, batch {}, each tested on the {} test images\n",
        rates.len(),
        seeds.len(),
        seed_list(&seeds),
        args.optimizer,
        args.batch_size,
        data.test.len()
    );
    let started = Instant::now();
    let mut runs = Vec::with_capacity(total);
    for &lr in &rates {
        for &seed in &seeds {
            for bn in [true, false] {
                let eta = eta(started.elapsed(), runs.len(), total);
                let run = one_run(args, data, steps, lr, bn, seed, &eta)?;
                println!(
                    "[{:>2}/{total}] lr {lr:<5} {:<6} seed {seed:<3} train loss {:>8.4}  \
                     test accuracy {:>6.2}%{}",
                    runs.len() + 1,
                    run.variant(),
                    run.train_loss,
                    run.test_accuracy * 100.0,
                    if run.diverged {
                        "  (loss became NaN)"
                    } else {
                        ""
                    }
                );
                runs.push(run);
            }
        }
    }
    let took = started.elapsed().as_secs_f32();
    let settings = sweep_summary::settings(&rates, &runs);
    println!("\n{}", sweep_summary::table(&settings));
    println!("{}", sweep_summary::conclusion(&settings, seeds.len()));
    println!(
        "The sweep took {}m {:02}s ({} thread(s)).",
        (took / 60.0) as u32,
        (took % 60.0) as u32,
        kindling::num_threads()
    );
    write_outputs(&args.out, &runs, &settings)
}

/// Trains one variant at `lr` from `seed` for `steps` steps and tests it.
fn one_run(
    args: &Args,
    data: &Mnist,
    steps: usize,
    lr: f32,
    bn: bool,
    seed: u64,
    eta: &str,
) -> Result<Run, String> {
    let run_args = Args {
        epochs: 1,
        limit: Some(steps),
        seed,
        resume: None,
        // Recording every layer would slow each run and write nothing the sweep reports.
        diagnostics: false,
        ..args.clone()
    };
    let name = if bn { "bn" } else { "no_bn" };
    let bar = ProgressBar::new_spinner();
    bar.set_message(format!("lr {lr}, seed {seed}: training {name} ...{eta}"));
    bar.enable_steady_tick(Duration::from_millis(200));
    let mut variant = Variant::new(name, bn, lr, &run_args, steps)?;
    let r = train::train(&mut variant, &run_args, data, false)?;
    bar.finish_and_clear();
    let e = r.epochs.last().ok_or("no epoch ran")?;
    Ok(Run {
        lr,
        bn,
        seed,
        train_loss: e.train_loss,
        test_accuracy: e.test_accuracy,
        diverged: r.diverged,
    })
}

/// The time left, guessed from the runs so far: a run takes about as long as the last ones.
fn eta(elapsed: Duration, done: usize, total: usize) -> String {
    if done == 0 {
        return String::new();
    }
    let left = elapsed.as_secs_f32() / done as f32 * (total - done) as f32;
    format!(
        " (about {}m {:02}s left)",
        (left / 60.0) as u32,
        (left % 60.0) as u32
    )
}

fn seed_list(seeds: &[u64]) -> String {
    match seeds {
        [one] => format!("seed {one}"),
        [first, .., last] => format!("seeds {first} to {last}"),
        [] => "no seed".into(),
    }
}

/// lr_sweep.csv (a row per run), lr_sweep_summary.csv (a row per rate and variant) and
/// lr_sweep.svg.
fn write_outputs(out: &Path, runs: &[Run], settings: &[Setting]) -> Result<(), String> {
    let io = |p: &Path, e: std::io::Error| format!("cannot write {}: {e}", p.display());
    let mut csv = String::from("lr,variant,seed,train_loss,test_accuracy,diverged\n");
    for r in runs {
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{}",
            r.lr,
            r.variant(),
            r.seed,
            r.train_loss,
            r.test_accuracy,
            r.diverged
        );
    }
    let path = out.join("lr_sweep.csv");
    std::fs::write(&path, csv).map_err(|e| io(&path, e))?;

    let path = out.join("lr_sweep_summary.csv");
    std::fs::write(&path, sweep_summary::csv(settings)).map_err(|e| io(&path, e))?;

    let path = out.join("lr_sweep.svg");
    sweep_plot::draw(&path, settings)
        .map_err(|e| format!("cannot draw {}: {e}", path.display()))?;
    println!(
        "\nWrote {}: lr_sweep.csv, lr_sweep_summary.csv, lr_sweep.svg",
        out.display()
    );
    Ok(())
}
