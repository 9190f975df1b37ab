//! What the study prints and writes, apart from the figure: the plan, a line per finished
//! run, two markdown tables (accuracy; loss and time), a plain-language reading of the
//! numbers, norm_batch_size.csv and summary.json.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use indicatif::ProgressBar;
use kindling::data::Mnist;

use crate::model::Norm;
use crate::train::Outcome;
use crate::{plot, Args, BATCH_SIZES, REFERENCE_BATCH};

/// Makes `dir` and a file in it: a run that cannot save its results should say so before
/// it trains for ten minutes, not after.
pub fn check_writable(dir: &Path) -> Result<(), String> {
    let show = dir.display();
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {show}: {e}"))?;
    let probe = dir.join(format!(".norm_batch_size-probe-{}", std::process::id()));
    let fail = |e: std::io::Error| format!("cannot create a file in {show}: {e}");
    std::fs::File::create_new(&probe).map_err(fail)?;
    std::fs::remove_file(&probe).map_err(fail)
}

/// Loads MNIST and says from where, so a wrong `--data` shows at once.
pub fn load_data(dir: &Path) -> Result<Mnist, String> {
    let t0 = Instant::now();
    let data = Mnist::load(dir).map_err(|e| e.to_string())?;
    println!(
        "MNIST: {} training and {} test images from {} ({:.1} s); {} thread(s) on {}",
        data.train.len(),
        data.test.len(),
        dir.display(),
        t0.elapsed().as_secs_f32(),
        kindling::num_threads(),
        cpu_name()
    );
    Ok(data)
}

pub fn print_plan(args: &Args, test_images: usize) {
    let images = args.images();
    println!(
        "4 normalisations x {} batch sizes ({}), {images} training images per run \
         ({} to {} steps), SGD momentum 0.9, lr {} at batch {REFERENCE_BATCH} scaled \
         linearly ({} at batch {}), seed {}; scored on {test_images} test images\n",
        BATCH_SIZES.len(),
        list(&BATCH_SIZES),
        images / BATCH_SIZES[BATCH_SIZES.len() - 1],
        images / BATCH_SIZES[0],
        args.lr,
        args.lr_at(BATCH_SIZES[0]),
        BATCH_SIZES[0],
        args.seed
    );
}

/// Replaces the run's bar with its one-line result.
pub fn finish_bar(bar: ProgressBar, o: &Outcome) {
    let train_mode = o.test_accuracy_train_mode.map_or(String::new(), |a| {
        format!(" (train mode {:.2}%)", a * 100.0)
    });
    let line = format!(
        "{:>4} batch {:>2}: {:>5} steps in {:>5.1} s ({:.2} ms/step), final loss {:.4}{}, \
         test accuracy {:.2}%{train_mode}",
        o.plan.norm.key(),
        o.plan.batch_size,
        o.steps,
        o.seconds,
        o.ms_per_step(),
        o.final_train_loss,
        if o.diverged { " (diverged)" } else { "" },
        o.test_accuracy_eval * 100.0,
    );
    // Through the bar, so that the line and the bar do not tear each other; a hidden bar
    // (no terminal) prints nothing, so then the line goes straight to stdout.
    if bar.is_hidden() {
        println!("{line}");
    } else {
        bar.println(line);
    }
    bar.finish_and_clear();
}

fn find(outcomes: &[Outcome], norm: Norm, batch_size: usize) -> Option<&Outcome> {
    outcomes
        .iter()
        .find(|o| o.plan.norm == norm && o.plan.batch_size == batch_size)
}

fn pct(a: Option<f32>) -> String {
    a.map_or("-".into(), |a| format!("{:.2}", a * 100.0))
}

/// Test accuracy by batch size and normalisation, then loss and time per step.
pub fn tables(outcomes: &[Outcome]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Test accuracy (%), eval mode unless marked:\n\n\
         | batch | lr | BN | BN, train mode | GN | LN | none |\n\
         |---:|---:|---:|---:|---:|---:|---:|"
    );
    for b in BATCH_SIZES {
        let acc = |n| find(outcomes, n, b).map(|o| o.test_accuracy_eval);
        let bn = find(outcomes, Norm::Batch, b);
        let _ = writeln!(
            s,
            "| {b} | {} | {} | {} | {} | {} | {} |",
            bn.map_or("-".into(), |o| format!("{}", o.plan.lr)),
            pct(acc(Norm::Batch)),
            pct(bn.and_then(|o| o.test_accuracy_train_mode)),
            pct(acc(Norm::Group)),
            pct(acc(Norm::Layer)),
            pct(acc(Norm::None)),
        );
    }
    let _ = writeln!(
        s,
        "\nFinal training loss (mean over the last tenth of the images) and time per step:\n\n\
         | batch | steps | loss BN | loss GN | loss LN | loss none | ms/step BN | ms/step GN | ms/step LN | ms/step none |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for b in BATCH_SIZES {
        let row: Vec<Option<&Outcome>> = Norm::ALL.iter().map(|&n| find(outcomes, n, b)).collect();
        let steps = row.iter().flatten().map(|o| o.steps).max().unwrap_or(0);
        let loss =
            |o: &Option<&Outcome>| o.map_or("-".into(), |o| format!("{:.4}", o.final_train_loss));
        let ms = |o: &Option<&Outcome>| o.map_or("-".into(), |o| format!("{:.2}", o.ms_per_step()));
        let _ = writeln!(
            s,
            "| {b} | {steps} | {} | {} |",
            row.iter().map(loss).collect::<Vec<_>>().join(" | "),
            row.iter().map(ms).collect::<Vec<_>>().join(" | ")
        );
    }
    s
}

/// A plain-language reading of the measured numbers: what the run shows, whichever way it
/// went.
pub fn reading(outcomes: &[Outcome]) -> String {
    let (small, large) = (BATCH_SIZES[0], BATCH_SIZES[BATCH_SIZES.len() - 1]);
    let acc = |n, b| find(outcomes, n, b).map_or(f32::NAN, |o| o.test_accuracy_eval * 100.0);
    let spread = |n| {
        let v: Vec<f32> = BATCH_SIZES.iter().map(|&b| acc(n, b)).collect();
        let max = v.iter().copied().fold(f32::MIN, f32::max);
        let min = v.iter().copied().fold(f32::MAX, f32::min);
        (min, max)
    };
    let mut s = String::from("What this run shows:\n");
    let (bn_small, bn_large) = (acc(Norm::Batch, small), acc(Norm::Batch, large));
    let _ = writeln!(
        s,
        "- BatchNorm (eval mode): {bn_small:.2}% at batch {small}, {bn_large:.2}% at batch {large}: {}",
        match bn_small - bn_large {
            d if d < -0.5 => format!("{:.2} points lost at the smallest batch.", -d),
            d if d > 0.5 => format!("{d:.2} points better at the smallest batch, against the GroupNorm paper's trend."),
            _ => "within half a point.".into(),
        }
    );
    for n in [Norm::Group, Norm::Layer, Norm::None] {
        let (min, max) = spread(n);
        let _ = writeln!(
            s,
            "- {}: between {min:.2}% and {max:.2}% over all batch sizes ({:.2}% at batch {small}).",
            n.label(),
            acc(n, small)
        );
    }
    if let Some(bn) = find(outcomes, Norm::Batch, small) {
        if let Some(train_mode) = bn.test_accuracy_train_mode {
            let _ = writeln!(
                s,
                "- BatchNorm at batch {small}: {:.2}% in train mode (statistics of each test batch of {small}) \
                 against {:.2}% in eval mode (running statistics).",
                train_mode * 100.0,
                bn.test_accuracy_eval * 100.0
            );
        }
    }
    let loss = |n, b| find(outcomes, n, b).map_or(f32::NAN, |o| o.final_train_loss);
    let _ = writeln!(
        s,
        "- Final training loss at batch {small} and {large}: BatchNorm {:.3} and {:.3}, GroupNorm {:.3} and {:.3}.",
        loss(Norm::Batch, small),
        loss(Norm::Batch, large),
        loss(Norm::Group, small),
        loss(Norm::Group, large)
    );
    let (gn_small, ln_small) = (acc(Norm::Group, small), acc(Norm::Layer, small));
    let best_small = if gn_small >= bn_small && gn_small >= ln_small {
        "GroupNorm"
    } else if ln_small >= bn_small {
        "LayerNorm"
    } else {
        "BatchNorm"
    };
    let _ = write!(
        s,
        "- Best of the three normalisations at batch {small}: {best_small}."
    );
    s
}

/// norm_batch_size.csv, summary.json and norm_batch_size.svg.
pub fn write_outputs(
    args: &Args,
    outcomes: &[Outcome],
    test_images: usize,
    wall: f32,
    cpu: Option<f32>,
) -> Result<(), String> {
    let out = &args.out;
    let io = |p: &Path, e: std::io::Error| format!("cannot write {}: {e}", p.display());
    let mut csv = String::from(
        "norm,batch_size,test_accuracy_eval,test_accuracy_train_mode,final_train_loss,steps,seconds\n",
    );
    for o in outcomes {
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{},{:.3}",
            o.plan.norm.key(),
            o.plan.batch_size,
            o.test_accuracy_eval,
            o.test_accuracy_train_mode
                .map_or(String::new(), |a| a.to_string()),
            o.final_train_loss,
            o.steps,
            o.seconds
        );
    }
    let path = out.join("norm_batch_size.csv");
    std::fs::write(&path, csv).map_err(|e| io(&path, e))?;

    let runs: Vec<serde_json::Value> = outcomes
        .iter()
        .map(|o| {
            serde_json::json!({
                "norm": o.plan.norm.key(),
                "batch_size": o.plan.batch_size,
                "lr": short(o.plan.lr),
                "steps": o.steps,
                "test_accuracy_eval": short(o.test_accuracy_eval),
                "test_accuracy_train_mode": o.test_accuracy_train_mode.and_then(short),
                "train_mode_test_images": o.test_accuracy_train_mode.map(|_| o.train_mode_images),
                "final_train_loss": short(o.final_train_loss),
                "diverged": o.diverged,
                "seconds": short(o.seconds),
                "ms_per_step": short(o.ms_per_step()),
                "cpu_seconds": o.cpu_seconds.and_then(short),
                "eval_seconds": short(o.eval_seconds),
            })
        })
        .collect();
    let summary = serde_json::json!({
        "settings": {
            "images_per_run": args.images(),
            "batch_sizes": BATCH_SIZES,
            "lr_at_batch_64": short(args.lr),
            "lr_rule": "linear: lr * batch_size / 64",
            "optimizer": "sgd, momentum 0.9",
            "seed": args.seed,
            "test_images": test_images,
            "threads": kindling::num_threads(),
            "quick": args.quick,
        },
        "norms": {
            "bn": "BatchNorm2d(32), BatchNorm2d(64), BatchNorm1d(128)",
            "gn": "GroupNorm(4, 32), GroupNorm(8, 64), GroupNorm(1, 128)",
            "ln": "GroupNorm(1, 32), GroupNorm(1, 64), LayerNorm([128])",
            "none": "no normalisation",
        },
        "cpu": cpu_name(),
        "wall_seconds": short(wall),
        "cpu_seconds": cpu.and_then(short),
        "runs": runs,
    });
    let path = out.join("summary.json");
    let text = serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())?;
    std::fs::write(&path, text).map_err(|e| io(&path, e))?;

    let path = out.join("norm_batch_size.svg");
    plot::accuracy_by_batch(&path, outcomes)
        .map_err(|e| format!("cannot draw {}: {e}", path.display()))?;
    println!(
        "\nWrote {}: norm_batch_size.csv, summary.json, norm_batch_size.svg",
        out.display()
    );
    Ok(())
}

/// The whole study's wall time and where it ran: on a shared machine the time says as
/// much about the other tenants as about the code, so it always comes with the CPU.
pub fn timing_line(wall: f32, cpu: Option<f32>) -> String {
    format!(
        "Whole study: {} wall, {} CPU time (user + system), {} thread(s), {}",
        min_s(wall),
        cpu.map_or("unknown".into(), min_s),
        kindling::num_threads(),
        cpu_name()
    )
}

fn min_s(seconds: f32) -> String {
    let s = seconds.round() as u64;
    format!("{} min {:02} s", s / 60, s % 60)
}

/// CPU time this process has used so far, user plus system, all threads (Linux; `None`
/// elsewhere). On a shared machine it is the better measure of the work done: other jobs
/// stretch the wall time, hardly the CPU time. The kernel counts it in ticks of 1/100 s,
/// the value of `getconf CLK_TCK` on every Linux system in use.
pub fn cpu_seconds() -> Option<f32> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name, in parentheses, may hold spaces; the fields after it do not.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<u64>().ok();
    // utime and stime are fields 14 and 15 of the line, 11 and 12 after the name.
    Some((ticks(11)? + ticks(12)?) as f32 / 100.0)
}

/// The CPU's model name (Linux); "unknown CPU" elsewhere.
pub fn cpu_name() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("model name"))?;
            Some(line.split_once(':')?.1.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// An f32 as the f64 with the same shortest decimal form: JSON holds f64, and the f32
/// 0.05 widened as it is would be written 0.05000000074505806.
fn short(x: f32) -> Option<f64> {
    x.is_finite().then(|| x.to_string().parse().ok()).flatten()
}

fn list(v: &[usize]) -> String {
    v.iter()
        .map(|b| b.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
