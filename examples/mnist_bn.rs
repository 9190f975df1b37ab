//! The main job: train the same CNN on MNIST with and without BatchNorm, and show the
//! difference. `cargo run --example mnist_bn` (add `-- --help` for the flags).
//!
//! Model: Conv2d(1,32,3,pad 1) → [BN2d] → ReLU → MaxPool2d(2) → Conv2d(32,64,3,pad 1) →
//! [BN2d] → ReLU → MaxPool2d(2) → Flatten → Linear(3136,128) → [BN1d] → ReLU → Linear(128,10).
//! Both variants start from the same seed, so their conv and linear weights are identical
//! (BatchNorm draws no random numbers): any difference comes from the BN layers.
//!
//! Writes to `--out` (default `runs/mnist_bn`): `metrics.csv` (every logged step),
//! `curves.svg` (loss and accuracy curves), `summary.json`, and the training checkpoints
//! `bn.ckpt` and `no_bn.ckpt`, from which `--resume DIR` continues.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use kindling::checkpoint::{self, TrainingCheckpoint};
use kindling::data::{DataLoader, Mnist, MnistSplit};
use kindling::nn::functional::cross_entropy;
use kindling::nn::{
    BatchNorm1d, BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential,
};
use kindling::prelude::*;
use serde::Serialize;

const HELP: &str = "\
mnist_bn: train the same CNN on MNIST with and without BatchNorm, and compare.

USAGE: cargo run --example mnist_bn -- [FLAGS]

  --epochs N          epochs per model (default 2)
  --lr F              learning rate (default 0.01)
  --batch-size N      batch size (default 64)
  --optimizer NAME    sgd (momentum 0.9) or adam (default sgd)
  --seed N            seed for weights and shuffling (default 0)
  --threads N         worker threads (default: all cores)
  --limit N           at most N batches per epoch, for a quick look
  --data DIR          MNIST directory (default datasets/mnist, or $KINDLING_MNIST_DIR)
  --out DIR           output directory (default runs/mnist_bn)
  --lr-sweep          train both variants briefly at lr 0.01, 0.1 and 0.3 and compare
  --resume PATH       continue from PATH/bn.ckpt and PATH/no_bn.ckpt (written by a
                      previous run) up to --epochs; PATH may also be one of the files
  --help              this text";

/// The command-line settings.
#[derive(Debug, Clone)]
struct Args {
    epochs: usize,
    lr: f32,
    batch_size: usize,
    optimizer: String,
    seed: u64,
    threads: Option<usize>,
    limit: Option<usize>,
    data: PathBuf,
    out: PathBuf,
    lr_sweep: bool,
    resume: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        epochs: 2,
        lr: 0.01,
        batch_size: 64,
        optimizer: "sgd".into(),
        seed: 0,
        threads: None,
        limit: None,
        data: Mnist::default_dir(),
        out: PathBuf::from("runs/mnist_bn"),
        lr_sweep: false,
        resume: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .ok_or(format!("{name} needs a value (see --help)"))
        };
        fn num<T: std::str::FromStr>(flag: &str, v: String) -> Result<T, String> {
            v.parse()
                .map_err(|_| format!("{flag}: '{v}' is not a valid number"))
        }
        match flag.as_str() {
            "--epochs" => args.epochs = num(&flag, value(&flag)?)?,
            "--lr" => args.lr = num(&flag, value(&flag)?)?,
            "--batch-size" => args.batch_size = num(&flag, value(&flag)?)?,
            "--optimizer" => args.optimizer = value(&flag)?,
            "--seed" => args.seed = num(&flag, value(&flag)?)?,
            "--threads" => args.threads = Some(num(&flag, value(&flag)?)?),
            "--limit" => args.limit = Some(num(&flag, value(&flag)?)?),
            "--data" => args.data = PathBuf::from(value(&flag)?),
            "--out" => args.out = PathBuf::from(value(&flag)?),
            "--resume" => {
                // A checkpoint file names its directory: both models resume from there.
                let path = PathBuf::from(value(&flag)?);
                let dir = match path.parent() {
                    Some(parent) if path.is_file() => parent.to_path_buf(),
                    _ => path,
                };
                args.resume = Some(dir);
            }
            "--lr-sweep" => args.lr_sweep = true,
            "--help" | "-h" => {
                println!("{HELP}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown flag '{other}' (see --help)")),
        }
    }
    if !["sgd", "adam"].contains(&args.optimizer.as_str()) {
        return Err(format!(
            "--optimizer must be sgd or adam, not '{}'",
            args.optimizer
        ));
    }
    if args.batch_size < 2 {
        return Err(
            "--batch-size must be at least 2: BatchNorm needs more than one sample per channel"
                .into(),
        );
    }
    Ok(args)
}

/// The reference CNN, with or without BatchNorm. The layers before a BN keep their bias
/// (BN's β makes it redundant), so that the two variants differ only in the BN layers.
fn build_model(bn: bool, seed: u64) -> Sequential {
    manual_seed(seed);
    let mut m = Sequential::new().add(Conv2d::new(1, 32, 3).padding(1));
    if bn {
        m.push(BatchNorm2d::new(32));
    }
    m = m
        .add(ReLU::new())
        .add(MaxPool2d::new(2))
        .add(Conv2d::new(32, 64, 3).padding(1));
    if bn {
        m.push(BatchNorm2d::new(64));
    }
    m = m
        .add(ReLU::new())
        .add(MaxPool2d::new(2))
        .add(Flatten::new())
        .add(Linear::new(64 * 7 * 7, 128));
    if bn {
        m.push(BatchNorm1d::new(128));
    }
    m.add(ReLU::new()).add(Linear::new(128, 10))
}

fn build_optimizer(args: &Args, lr: f32, params: Vec<Tensor>) -> Box<dyn Optimizer> {
    match args.optimizer.as_str() {
        "adam" => Box::new(optim::Adam::new(params, lr)),
        _ => Box::new(optim::Sgd::new(params, lr).momentum(0.9)),
    }
}

/// Test-set accuracy in eval mode (running statistics). It uses the training batch size:
/// larger batches would be faster per image but would allocate buffers of new sizes and
/// grow the process's memory between epochs.
fn evaluate(model: &mut Sequential, test: &MnistSplit, batch_size: usize) -> f32 {
    model.eval();
    let correct: usize = no_grad(|| {
        DataLoader::new(test, batch_size)
            .epoch(0)
            .map(|batch| {
                let logits = model.forward(&batch.images);
                argmax_rows(&logits)
                    .iter()
                    .zip(&batch.labels)
                    .filter(|(p, t)| p == t)
                    .count()
            })
            .sum()
    });
    model.train();
    correct as f32 / test.len() as f32
}

fn argmax_rows(logits: &Tensor) -> Vec<usize> {
    let classes = logits.shape()[1];
    logits
        .to_vec()
        .chunks(classes)
        .map(|row| {
            row.iter()
                .enumerate()
                .fold(0, |best, (i, &v)| if v > row[best] { i } else { best })
        })
        .collect()
}

/// One epoch's numbers for the table and summary.json.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
struct EpochStats {
    epoch: usize,
    train_loss: f32,
    test_accuracy: f32,
    seconds: f32,
    /// Resident memory at the end of the epoch: it should stay flat from epoch to epoch.
    #[serde(default)]
    rss_mib: f32,
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

/// Everything a variant's run produced.
#[derive(Debug, Clone, Default, Serialize)]
struct RunResult {
    epochs: Vec<EpochStats>,
    ms_per_step: f32,
    /// (global step, mean loss over the last `LOG_EVERY` steps, running accuracy).
    #[serde(skip)]
    log: Vec<(usize, f32, f32)>,
    diverged: bool,
}

const LOG_EVERY: usize = 10;

/// Trains one variant for `args.epochs` epochs (or resumes it), evaluating after each.
fn train_variant(
    name: &str,
    bn: bool,
    lr: f32,
    args: &Args,
    data: &Mnist,
    show: bool,
) -> Result<RunResult, String> {
    let mut model = build_model(bn, args.seed);
    let mut opt = build_optimizer(args, lr, model.parameters());
    let loader = DataLoader::new(&data.train, args.batch_size)
        .shuffle(args.seed)
        .drop_last(true);
    let per_epoch = args.limit.map_or(loader.len(), |l| l.min(loader.len()));
    let mut result = RunResult::default();
    let (mut first_epoch, mut step) = (0, 0);

    if let Some(dir) = &args.resume {
        let path = dir.join(format!("{name}.ckpt"));
        let ckpt = checkpoint::load_training(&path).map_err(|e| e.to_string())?;
        ckpt.restore(&mut model, opt.as_mut())
            .map_err(|e| e.to_string())?;
        first_epoch = ckpt.epoch as usize;
        step = ckpt.step as usize;
        if let Some(history) = ckpt.extra.get("history") {
            result.epochs = serde_json::from_str(history).unwrap_or_default();
        }
        println!(
            "{name}: resumed from {} at epoch {first_epoch}, step {step}",
            path.display()
        );
    }

    let mut step_times = Vec::new();
    for epoch in first_epoch..args.epochs {
        let bar = if show {
            ProgressBar::new(per_epoch as u64)
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template("{prefix:>14} [{bar:30}] {pos:>4}/{len} {msg}")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(format!("{name} ep {}", epoch + 1));
        let started = Instant::now();
        let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
        let mut window = 0.0f32;
        for batch in loader.epoch(epoch).take(per_epoch) {
            let t0 = Instant::now();
            let logits = model.forward(&batch.images);
            let loss = cross_entropy(&logits, &batch.labels);
            opt.zero_grad();
            loss.backward();
            opt.step();
            step_times.push(t0.elapsed().as_secs_f32() * 1000.0);
            step += 1;

            let l = loss.item();
            if !l.is_finite() {
                result.diverged = true;
            }
            loss_sum += l as f64;
            window += l;
            correct += argmax_rows(&logits)
                .iter()
                .zip(&batch.labels)
                .filter(|(p, t)| p == t)
                .count();
            seen += batch.labels.len();
            let acc = correct as f32 / seen as f32;
            if step % LOG_EVERY == 0 {
                result.log.push((step, window / LOG_EVERY as f32, acc));
                window = 0.0;
            }
            let rate = seen as f32 / started.elapsed().as_secs_f32();
            bar.set_message(format!(
                "loss {l:.4}  acc {:.2}%  {rate:.0} img/s",
                acc * 100.0
            ));
            bar.inc(1);
        }
        bar.set_message("evaluating on the test set ...");
        let batches = per_epoch.max(1);
        let train_loss = (loss_sum / batches as f64) as f32;
        let test_accuracy = evaluate(&mut model, &data.test, args.batch_size);
        let seconds = started.elapsed().as_secs_f32();
        let rss_mib = rss_mib();
        if show {
            let line = format!(
                "{name:>6} epoch {}: train loss {train_loss:.4}, test accuracy {:.2}%, {seconds:.1} s, RSS {rss_mib:.0} MiB",
                epoch + 1,
                test_accuracy * 100.0
            );
            // Through the bar, so the line and the bar do not tear each other; a hidden bar
            // (no terminal) prints nothing, so then it goes straight to stdout.
            if bar.is_hidden() {
                println!("{line}");
            } else {
                bar.println(line);
            }
        }
        bar.finish_and_clear();
        result.epochs.push(EpochStats {
            epoch: epoch + 1,
            train_loss,
            test_accuracy,
            seconds,
            rss_mib,
        });

        if show {
            let mut ckpt =
                TrainingCheckpoint::capture(&model, opt.as_ref(), epoch as u64 + 1, step as u64);
            ckpt.extra.insert(
                "history".into(),
                serde_json::to_string(&result.epochs).unwrap_or_default(),
            );
            ckpt.extra.insert("variant".into(), name.into());
            let path = args.out.join(format!("{name}.ckpt"));
            checkpoint::save_training(&ckpt, &path).map_err(|e| e.to_string())?;
        }
    }
    result.ms_per_step = median(&mut step_times);
    Ok(result)
}

fn median(v: &mut [f32]) -> f32 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&args) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run(args: &Args) -> Result<(), String> {
    if let Some(n) = args.threads {
        kindling::set_num_threads(n)?;
    }
    let t0 = Instant::now();
    let data = Mnist::load(&args.data).map_err(|e| e.to_string())?;
    println!(
        "MNIST: {} training and {} test images from {} ({:.1} s); {} thread(s)",
        data.train.len(),
        data.test.len(),
        args.data.display(),
        t0.elapsed().as_secs_f32(),
        kindling::num_threads()
    );
    std::fs::create_dir_all(&args.out)
        .map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;
    if args.lr_sweep {
        return lr_sweep(args, &data);
    }
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
    let bn = train_variant("bn", true, args.lr, args, &data, true)?;
    let no_bn = train_variant("no_bn", false, args.lr, args, &data, true)?;

    println!("\n{}", table(&bn, &no_bn));
    println!("{}", conclusion(&bn, &no_bn));
    write_outputs(args, &bn, &no_bn)?;
    Ok(())
}

/// The per-epoch side-by-side table.
fn table(bn: &RunResult, no_bn: &RunResult) -> String {
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
fn conclusion(bn: &RunResult, no_bn: &RunResult) -> String {
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

fn write_outputs(args: &Args, bn: &RunResult, no_bn: &RunResult) -> Result<(), String> {
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

/// `--lr-sweep`: both variants for a short run at each learning rate.
fn lr_sweep(args: &Args, data: &Mnist) -> Result<(), String> {
    let steps = args.limit.unwrap_or(300);
    let rates = [0.01f32, 0.1, 0.3];
    println!(
        "Learning-rate sweep: {steps} steps of {} per run, batch {}\n",
        args.optimizer, args.batch_size
    );
    let sweep_args = Args {
        epochs: 1,
        limit: Some(steps),
        resume: None,
        ..args.clone()
    };
    let mut rows = Vec::new();
    for &lr in &rates {
        for (name, bn) in [("bn", true), ("no_bn", false)] {
            let bar = ProgressBar::new_spinner();
            bar.set_message(format!("lr {lr}: training {name} ..."));
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
            let r = train_variant(name, bn, lr, &sweep_args, data, false)?;
            bar.finish_and_clear();
            let e = r.epochs.last().cloned().ok_or("no epoch ran")?;
            println!(
                "lr {lr:<5} {name:<6} final train loss {:>8.4}  test accuracy {:>6.2}%",
                e.train_loss,
                e.test_accuracy * 100.0
            );
            rows.push((lr, name, e.train_loss, e.test_accuracy, r.diverged));
        }
    }
    println!("\n| lr | test acc (BN) | test acc (no BN) |\n|---:|---:|---:|");
    for pair in rows.chunks(2) {
        println!(
            "| {} | {:.2}% | {:.2}% |",
            pair[0].0,
            pair[0].3 * 100.0,
            pair[1].3 * 100.0
        );
    }
    let high = rows.iter().filter(|r| r.0 == 0.3).collect::<Vec<_>>();
    if let [bn, no_bn] = high[..] {
        println!(
            "\nAt lr 0.3 the model with BN reaches {:.1}% and the one without {:.1}%{}.",
            bn.3 * 100.0,
            no_bn.3 * 100.0,
            if no_bn.3 < 0.5 && bn.3 > 0.9 {
                ": without BN training collapses (chance is 10%), with BN it trains. BN keeps each layer's inputs at a steady scale, so a large step does not blow the activations up"
            } else {
                ""
            }
        );
    }
    let mut csv = String::from("lr,variant,train_loss,test_accuracy,diverged\n");
    for (lr, name, loss, acc, div) in &rows {
        let _ = writeln!(csv, "{lr},{name},{loss},{acc},{div}");
    }
    let path = args.out.join("lr_sweep.csv");
    std::fs::write(&path, csv).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    println!("Wrote {}", path.display());
    Ok(())
}

/// The SVG plot: training loss per logged step (left), test accuracy per epoch (right).
mod plot {
    use super::RunResult;
    use plotters::prelude::*;
    use std::path::Path;

    pub fn curves(
        path: &Path,
        bn: &RunResult,
        no_bn: &RunResult,
    ) -> Result<(), Box<dyn std::error::Error>> {
        let root = SVGBackend::new(path, (1100, 440)).into_drawing_area();
        root.fill(&WHITE)?;
        let (left, right) = root.split_horizontally(560);
        let colors = [
            ("with BatchNorm", bn, BLUE),
            ("without BatchNorm", no_bn, RED),
        ];

        let max_step = bn
            .log
            .iter()
            .chain(&no_bn.log)
            .map(|l| l.0)
            .max()
            .unwrap_or(1) as f32;
        let max_loss = bn
            .log
            .iter()
            .chain(&no_bn.log)
            .map(|l| l.1)
            .filter(|l| l.is_finite())
            .fold(0.5f32, f32::max)
            .min(3.0);
        let mut chart = ChartBuilder::on(&left)
            .caption("training loss", ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(0f32..max_step, 0f32..max_loss)?;
        chart
            .configure_mesh()
            .x_desc("step")
            .y_desc("mean loss over 10 steps")
            .draw()?;
        for (label, r, color) in &colors {
            chart
                .draw_series(LineSeries::new(
                    r.log.iter().map(|&(s, l, _)| (s as f32, l.min(max_loss))),
                    color,
                ))?
                .label(*label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color));
        }
        chart
            .configure_series_labels()
            .border_style(BLACK)
            .background_style(WHITE)
            .draw()?;

        let epochs = bn.epochs.len().max(no_bn.epochs.len()).max(1) as f32;
        let min_acc = bn
            .epochs
            .iter()
            .chain(&no_bn.epochs)
            .map(|e| e.test_accuracy * 100.0)
            .fold(100.0f32, f32::min);
        let floor = (min_acc - 1.0).clamp(0.0, 98.0).floor();
        let mut chart = ChartBuilder::on(&right)
            .caption("test accuracy after each epoch", ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(0.5f32..epochs + 0.5, floor..100f32)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc("accuracy (%)")
            .x_labels(epochs as usize + 2)
            .x_label_formatter(&|x| {
                if x.fract().abs() < 1e-3 {
                    format!("{x:.0}")
                } else {
                    String::new()
                }
            })
            .draw()?;
        for (label, r, color) in &colors {
            let points: Vec<(f32, f32)> = r
                .epochs
                .iter()
                .map(|e| (e.epoch as f32, e.test_accuracy * 100.0))
                .collect();
            chart
                .draw_series(LineSeries::new(points.clone(), color))?
                .label(*label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color));
            chart.draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 4, color.filled())),
            )?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .border_style(BLACK)
            .background_style(WHITE)
            .draw()?;
        root.present()?;
        Ok(())
    }
}
