//! What a run prints and writes, apart from the plot: where the data came from, the plan,
//! the progress bar and a line per epoch while it trains; then the side-by-side table, a
//! plain-language conclusion, metrics.csv and summary.json.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use kindling::data::Mnist;

use crate::metrics::{EpochStats, RunResult};
use crate::{plot, Args};

/// Makes `dir` and a file in it: a run that cannot save its results should say so before
/// it trains, not after.
pub fn check_writable(dir: &Path) -> Result<(), String> {
    let show = dir.display();
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {show}: {e}"))?;
    let probe = dir.join(format!(".mnist_bn-probe-{}", std::process::id()));
    let fail = |e: std::io::Error| format!("cannot create a file in {show}: {e}");
    std::fs::File::create_new(&probe).map_err(fail)?;
    std::fs::remove_file(&probe).map_err(fail)
}

/// Loads MNIST and says from where: a wrong `--data` or environment variable shows at once.
pub fn load_data(dir: &Path) -> Result<Mnist, String> {
    let t0 = Instant::now();
    let data = Mnist::load(dir).map_err(|e| e.to_string())?;
    println!(
        "MNIST: {} training and {} test images from {} ({:.1} s); {} thread(s)",
        data.train.len(),
        data.test.len(),
        dir.display(),
        t0.elapsed().as_secs_f32(),
        kindling::num_threads()
    );
    Ok(data)
}

pub fn print_plan(args: &Args) {
    println!(
        "Training the same CNN twice, {} epoch(s) each, {} lr {}, batch {}{}\n",
        args.epochs,
        args.optimizer,
        args.lr,
        args.batch_size,
        args.limit.map_or(String::new(), |l| format!(
            ", at most {l} batches per epoch"
        ))
    );
}

/// The bar for one epoch of one variant; hidden when `show` is off.
pub fn progress_bar(name: &str, epoch: usize, batches: usize, show: bool) -> ProgressBar {
    let bar = if show {
        ProgressBar::new(batches as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{prefix:>14} [{bar:30}] {pos:>4}/{len} {msg}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(format!("{name} ep {}", epoch + 1));
    bar
}

/// Clears the epoch's bar, first printing the epoch's numbers if `show` is on.
pub fn close_bar(bar: ProgressBar, name: &str, e: &EpochStats, show: bool) {
    if !show {
        return bar.finish_and_clear();
    }
    let line = format!(
        "{name:>6} epoch {}: train loss {:.4}, test accuracy {:.2}%, {:.1} s, RSS {:.0} MiB",
        e.epoch,
        e.train_loss,
        e.test_accuracy * 100.0,
        e.seconds,
        e.rss_mib
    );
    // Through the bar, so the line and the bar do not tear each other; a hidden bar (no
    // terminal) prints nothing, so then it goes straight to stdout.
    if bar.is_hidden() {
        println!("{line}");
    } else {
        bar.println(line);
    }
    bar.finish_and_clear();
}

/// The per-epoch side-by-side table.
pub fn table(bn: &RunResult, no_bn: &RunResult) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "| epoch | train loss (BN) | train loss (no BN) | test acc (BN) | test acc (no BN) | time (BN) | time (no BN) |");
    let _ = writeln!(s, "|------:|----------------:|-------------------:|--------------:|-----------------:|----------:|-------------:|");
    for (a, b) in bn.epochs.iter().zip(&no_bn.epochs) {
        let _ = writeln!(
            s,
            "| {:>5} | {:>15.4} | {:>18.4} | {:>12.2}% | {:>15.2}% | {:>8.1}s | {:>11.1}s |",
            a.epoch,
            a.train_loss,
            b.train_loss,
            a.test_accuracy * 100.0,
            b.test_accuracy * 100.0,
            a.seconds,
            b.seconds
        );
    }
    let _ = write!(
        s,
        "median time per training step: {:.1} ms with BN, {:.1} ms without",
        bn.ms_per_step, no_bn.ms_per_step
    );
    s
}

/// A plain-language reading of the measured numbers.
pub fn conclusion(bn: &RunResult, no_bn: &RunResult) -> String {
    let (Some(a), Some(b)) = (bn.epochs.last(), no_bn.epochs.last()) else {
        return "No epoch finished, so there is nothing to compare.".into();
    };
    let (Some(a1), Some(b1)) = (bn.epochs.first(), no_bn.epochs.first()) else {
        unreachable!()
    };
    let mut s = String::from("What this run shows:\n");
    let gap = (a.test_accuracy - b.test_accuracy) * 100.0;
    let verdict = if gap > 0.05 {
        format!(
            "BatchNorm ends {gap:.2} points ahead in test accuracy ({:.2}% against {:.2}%).",
            a.test_accuracy * 100.0,
            b.test_accuracy * 100.0
        )
    } else if gap < -0.05 {
        format!(
            "Here the model without BatchNorm ends {:.2} points ahead ({:.2}% against {:.2}%).",
            -gap,
            b.test_accuracy * 100.0,
            a.test_accuracy * 100.0
        )
    } else {
        format!(
            "Both end at about the same test accuracy ({:.2}% and {:.2}%).",
            a.test_accuracy * 100.0,
            b.test_accuracy * 100.0
        )
    };
    let _ = writeln!(s, "- {verdict}");
    let _ = writeln!(
        s,
        "- After the first epoch the training loss was {:.4} with BN and {:.4} without: {}",
        a1.train_loss,
        b1.train_loss,
        if a1.train_loss < b1.train_loss {
            "BN learned faster from the start."
        } else {
            "BN did not learn faster here."
        }
    );
    let cost = bn.ms_per_step / no_bn.ms_per_step.max(1e-6);
    let _ = writeln!(
        s,
        "- A BN step cost {:.2}x a plain step ({:.1} ms against {:.1} ms).",
        cost, bn.ms_per_step, no_bn.ms_per_step
    );
    if no_bn.diverged && !bn.diverged {
        let _ = writeln!(
            s,
            "- Without BN the loss diverged (became NaN or infinite); with BN it did not."
        );
    }
    let _ = write!(
        s,
        "- Try `--lr-sweep` to see what happens at larger learning rates."
    );
    s
}

/// metrics.csv, summary.json and curves.svg; the checkpoints were saved after each epoch.
pub fn write_outputs(args: &Args, bn: &RunResult, no_bn: &RunResult) -> Result<(), String> {
    let out = &args.out;
    let io = |p: &Path, e: std::io::Error| format!("cannot write {}: {e}", p.display());
    let mut csv = String::from("variant,step,mean_loss_last_10_steps,running_accuracy\n");
    for (name, r) in [("bn", bn), ("no_bn", no_bn)] {
        for (step, loss, acc) in &r.log {
            let _ = writeln!(csv, "{name},{step},{loss},{acc}");
        }
    }
    let path = out.join("metrics.csv");
    std::fs::write(&path, csv).map_err(|e| io(&path, e))?;

    let summary = serde_json::json!({
        "settings": { "epochs": args.epochs, "lr": args.lr, "batch_size": args.batch_size, "optimizer": args.optimizer,
                      "seed": args.seed, "limit": args.limit, "threads": kindling::num_threads() },
        "bn": summary_of(bn),
        "no_bn": summary_of(no_bn),
    });
    let path = out.join("summary.json");
    std::fs::write(&path, serde_json::to_string_pretty(&summary).unwrap())
        .map_err(|e| io(&path, e))?;

    let path = out.join("curves.svg");
    plot::curves(&path, bn, no_bn).map_err(|e| format!("cannot draw {}: {e}", path.display()))?;
    println!(
        "\nWrote {}: metrics.csv, summary.json, curves.svg, bn.ckpt, no_bn.ckpt",
        out.display()
    );
    Ok(())
}

fn summary_of(r: &RunResult) -> serde_json::Value {
    serde_json::json!({
        "test_accuracy": r.epochs.iter().map(|e| e.test_accuracy).collect::<Vec<_>>(),
        "train_loss": r.epochs.iter().map(|e| e.train_loss).collect::<Vec<_>>(),
        "epoch_seconds": r.epochs.iter().map(|e| e.seconds).collect::<Vec<_>>(),
        "rss_mib": r.epochs.iter().map(|e| e.rss_mib).collect::<Vec<_>>(),
        "ms_per_step": r.ms_per_step,
    })
}
