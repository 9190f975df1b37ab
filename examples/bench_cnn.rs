//! The project's benchmark: the mnist_bn CNN at batch 64, with and without BatchNorm.
//! Reports the median milliseconds per training step (forward, backward and an SGD step,
//! after warm-up), inference images per second, and peak RSS.
//!
//! `cargo run --release --example bench_cnn -- [--steps N] [--threads N] [--batch N]
//! [--diagnostics K]`: with `--diagnostics K`, `kindling::diagnostics` records every K-th
//! step, and the mean step time (which, unlike the median, includes the recorded steps)
//! is printed too: the overhead averaged over the recording interval.
//! Compare with `tools/bench/torch_ref.py`, run in the same sitting (see docs/performance.md).

use std::time::Instant;

use kindling::nn::functional::cross_entropy;
use kindling::nn::{
    BatchNorm1d, BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential,
};
use kindling::prelude::*;

fn model(bn: bool) -> Sequential {
    manual_seed(0);
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
        .add(Linear::new(3136, 128));
    if bn {
        m.push(BatchNorm1d::new(128));
    }
    m.add(ReLU::new()).add(Linear::new(128, 10))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// The benchmark's flags.
#[derive(clap::Parser)]
#[command(
    name = "bench_cnn",
    about = "The mnist_bn CNN at batch 64, with and without BatchNorm: ms per training step, \
             inference images per second, peak RSS."
)]
struct Args {
    /// Timed training steps, after 5 warm-up steps.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..))]
    steps: u64,
    /// Images per batch: at least 2, since BatchNorm in training needs more than one value
    /// per channel (as in PyTorch).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(2..))]
    batch: u64,
    /// Threads (default: kindling's, one per core).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    threads: Option<u64>,
    /// Record `kindling::diagnostics` every K-th step, and print the overhead.
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u64).range(1..))]
    diagnostics: Option<u64>,
    /// Print a per-op time table of the timed steps.
    #[arg(long)]
    profile: bool,
}

fn main() {
    let args = <Args as clap::Parser>::parse();
    let (steps, batch, profile, diagnostics) = (
        args.steps as usize,
        args.batch as usize,
        args.profile,
        args.diagnostics,
    );
    if let Some(threads) = args.threads {
        kindling::set_num_threads(threads as usize).expect("nothing has used the threads yet");
    }
    println!(
        "kindling bench_cnn: batch {batch}, {steps} timed steps after 5 warm-up, {} thread(s)",
        kindling::num_threads()
    );
    manual_seed(1);
    let x = Tensor::randn(&[batch, 1, 28, 28]);
    let targets: Vec<usize> = (0..batch).map(|i| (i * 7) % 10).collect();
    for bn in [true, false] {
        let mut net = model(bn);
        let mut opt = optim::Sgd::new(net.parameters(), 0.01).momentum(0.9);
        let mut diag =
            diagnostics.map(|k| kindling::diagnostics::Diagnostics::attach(&net).every(k));
        let (mut times, mut recorded) = (Vec::new(), Vec::new());
        for i in 0..steps + 5 {
            // Profile only the timed steps, so the table matches the ms/step figure.
            kindling::profile::enable(profile && i >= 5);
            let t0 = Instant::now();
            if let Some(d) = &mut diag {
                // Counted from the first timed step, so that recorded steps are timed.
                d.begin(i.saturating_sub(5) as u64);
            }
            let loss = cross_entropy(&net.forward(&x), &targets);
            opt.zero_grad();
            loss.backward();
            opt.step();
            if let Some(d) = &mut diag {
                d.end();
            }
            if i >= 5 {
                let ms = t0.elapsed().as_secs_f64() * 1e3;
                times.push(ms);
                if diagnostics.is_some_and(|k| ((i - 5) as u64).is_multiple_of(k)) {
                    recorded.push(ms);
                }
            }
        }
        kindling::profile::enable(false);
        if profile {
            println!(
                "per-op time over {steps} training steps ({}):\n{}",
                if bn { "BN" } else { "no BN" },
                kindling::profile::report()
            );
            kindling::profile::reset();
        }
        net.eval();
        let mut infer = Vec::new();
        no_grad(|| {
            for _ in 0..steps.max(10) {
                let t0 = Instant::now();
                let y = net.forward(&x);
                assert_eq!(y.shape(), &[batch, 10]);
                infer.push(t0.elapsed().as_secs_f64());
            }
        });
        let mean = times.iter().sum::<f64>() / times.len() as f64;
        if let (Some(k), false) = (diagnostics, recorded.is_empty()) {
            // Measured in the same run as the plain steps around them, so load on a shared
            // machine affects both alike: the extra cost of one recorded step, spread over k.
            let (rec, n) = (median(recorded.clone()), recorded.len());
            let plain = median(times.clone());
            println!(
                "{:<8} {n} recorded steps: median {rec:.2} ms; overhead averaged over {k} steps: {:.1}%",
                if bn { "BN" } else { "no BN" },
                100.0 * (rec - plain) / (k as f64 * plain)
            );
        }
        let ms = median(times);
        println!(
            "{:<8} train {:>7.2} ms/step (mean {:>7.2})   inference {:>8.0} img/s   peak RSS {:>6.0} MiB",
            if bn { "BN" } else { "no BN" },
            ms,
            mean,
            batch as f64 / median(infer),
            peak_rss_mib()
        );
    }
}
