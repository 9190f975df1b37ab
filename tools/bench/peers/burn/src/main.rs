//! burn twin of kindling's `examples/bench_cnn.rs` (and of `tools/bench/torch_ref.py`):
//! the mnist_bn CNN at batch 64, with and without BatchNorm, on a CPU backend of burn
//! with autodiff.
//!
//!   conv 1→32 3×3 pad 1, BatchNorm2d, ReLU, MaxPool 2, conv 32→64 3×3 pad 1, BatchNorm2d,
//!   ReLU, MaxPool 2, flatten, Linear 3136→128, BatchNorm1d, ReLU, Linear 128→10,
//!   cross-entropy, SGD lr 0.01 momentum 0.9 (dampening 0, as PyTorch's).
//!
//! Input: random normal data of shape [64, 1, 28, 28] and the targets (i * 7) % 10, as
//! bench_cnn and torch_ref use. Prints the median ms per training step (forward, backward,
//! SGD step; 5 warm-up steps are not timed) and inference images/s (the model's `valid()`
//! snapshot: no autodiff, BatchNorm on running statistics), in bench_cnn's line format, so
//! that `tools/bench/compare.sh` parses it.
//!
//! Backends (one binary, both compiled in): `--backend ndarray` (default; deprecated in burn
//! 0.22 but still the classic CPU backend) or `--backend flex` (burn 0.22's new pure-Rust
//! CPU backend, SIMD via macerator, gemm for matmul). The header line names the backend.
//!
//! Substitutions: none needed. burn's `BatchNorm` normalises over every dim but dim 1, so
//! one layer type serves as BatchNorm2d on [N, C, H, W] and as BatchNorm1d on [N, C]; it
//! uses batch statistics (and updates the running ones) on an autodiff device while its
//! training flag is on. burn's `SgdConfig` momentum defaults to dampening 0.1, set to 0 here.
//!
//! Threads: `--threads N` (default 2) sets RAYON_NUM_THREADS (rayon, gemm) and
//! MATMUL_NUM_THREADS (matrixmultiply, ndarray's matmul) before any pool starts.
//!
//!   cargo run --release -- [--backend ndarray|flex] [--steps N] [--threads N] [--batch N]

#![allow(deprecated)] // Device::ndarray: deprecated in 0.22 in favour of flex, measured anyway

use std::time::Instant;

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, SgdConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};

#[derive(Module, Debug)]
struct Net {
    c1: Conv2d,
    b1: Option<BatchNorm>,
    c2: Conv2d,
    b2: Option<BatchNorm>,
    pool: MaxPool2d,
    l1: Linear,
    b3: Option<BatchNorm>,
    l2: Linear,
}

fn bn<const D: usize>(b: &Option<BatchNorm>, x: Tensor<D>) -> Tensor<D> {
    match b {
        Some(b) => b.forward(x),
        None => x,
    }
}

impl Net {
    fn new(with_bn: bool, device: &Device) -> Self {
        let conv = |i: usize, o: usize| {
            Conv2dConfig::new([i, o], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device)
        };
        let norm = |n: usize| with_bn.then(|| BatchNormConfig::new(n).init(device));
        Self {
            c1: conv(1, 32),
            b1: norm(32),
            c2: conv(32, 64),
            b2: norm(64),
            pool: MaxPool2dConfig::new([2, 2]).init(),
            l1: LinearConfig::new(3136, 128).init(device),
            b3: norm(128),
            l2: LinearConfig::new(128, 10).init(device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = self.pool.forward(relu(bn(&self.b1, self.c1.forward(x))));
        let x = self.pool.forward(relu(bn(&self.b2, self.c2.forward(x))));
        let x: Tensor<2> = x.flatten(1, 3);
        let x = relu(bn(&self.b3, self.l1.forward(x)));
        self.l2.forward(x)
    }
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

fn main() {
    let (mut steps, mut batch, mut threads) = (50usize, 64usize, 2usize);
    let mut backend = String::from("ndarray");
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        let number = || value.parse::<usize>().unwrap_or_else(|_| panic!("{flag} needs a number"));
        match flag.as_str() {
            "--steps" => steps = number(),
            "--batch" => batch = number(),
            "--threads" => threads = number(),
            "--backend" => backend = value.clone(),
            other => panic!(
                "unknown flag {other}; use --backend ndarray|flex, --steps N, --batch N, --threads N"
            ),
        }
    }
    // Before the first kernel: rayon's global pool, gemm and matrixmultiply read these.
    std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
    std::env::set_var("MATMUL_NUM_THREADS", threads.to_string());
    let plain = match backend.as_str() {
        "ndarray" => Device::ndarray(),
        "flex" => Device::flex(),
        other => panic!("unknown backend {other}; use ndarray or flex"),
    };
    let device = plain.clone().autodiff();
    println!(
        "burn 0.22.1 ({backend}) bench: batch {batch}, {steps} timed steps after 5 warm-up, {threads} thread(s)"
    );
    let x = Tensor::<4>::random([batch, 1, 28, 28], Distribution::Normal(0.0, 1.0), &device);
    let x_plain = x.clone().without_autodiff();
    let targets: Vec<i64> = (0..batch).map(|i| ((i * 7) % 10) as i64).collect();
    let targets = Tensor::<1, Int>::from_data(TensorData::new(targets, [batch]), &device);
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    for with_bn in [true, false] {
        let mut net = Net::new(with_bn, &device);
        let mut opt = SgdConfig::new()
            .with_momentum(Some(MomentumConfig::new().with_momentum(0.9).with_dampening(0.0)))
            .init();
        let mut times = Vec::new();
        for i in 0..steps + 5 {
            let t0 = Instant::now();
            let loss = loss_fn.forward(net.forward(x.clone()), targets.clone());
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            net = opt.step(0.01, net, grads);
            // The CPU backends run eagerly; the sync makes sure no work is left queued.
            device.sync().expect("sync");
            if i >= 5 {
                times.push(t0.elapsed().as_secs_f64() * 1e3);
            }
        }
        let eval = net.valid();
        let mut infer = Vec::new();
        for _ in 0..steps.max(10) {
            let t0 = Instant::now();
            let y = eval.forward(x_plain.clone());
            plain.sync().expect("sync");
            assert_eq!(y.dims(), [batch, 10]);
            infer.push(t0.elapsed().as_secs_f64());
        }
        let mean = times.iter().sum::<f64>() / times.len() as f64;
        println!(
            "{:<8} train {:>7.2} ms/step (mean {:>7.2})   inference {:>8.0} img/s   peak RSS {:>6.0} MiB",
            if with_bn { "BN" } else { "no BN" },
            median(times),
            mean,
            batch as f64 / median(infer),
            peak_rss_mib()
        );
    }
}
