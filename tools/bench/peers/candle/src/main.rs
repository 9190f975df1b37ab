//! candle twin of kindling's `examples/bench_cnn.rs` (and of `tools/bench/torch_ref.py`):
//! the mnist_bn CNN at batch 64, with and without BatchNorm, on the CPU.
//!
//!   conv 1→32 3×3 pad 1, BatchNorm2d, ReLU, MaxPool 2, conv 32→64 3×3 pad 1, BatchNorm2d,
//!   ReLU, MaxPool 2, flatten, Linear 3136→128, BatchNorm1d, ReLU, Linear 128→10,
//!   cross-entropy, SGD lr 0.01 momentum 0.9.
//!
//! Input: random normal data of shape [64, 1, 28, 28] and the targets (i * 7) % 10, as
//! bench_cnn and torch_ref use. Prints the median ms per training step (forward, backward,
//! SGD step; 5 warm-up steps are not timed) and inference images/s (eval mode), in
//! bench_cnn's line format, so that `tools/bench/compare.sh` parses it.
//!
//! Substitutions (see ../README.md):
//! - candle-nn's `SGD` has no momentum, so the step is written here with the same
//!   semantics as PyTorch's SGD (v = μ·v + g; p -= lr·v, no dampening, no weight decay).
//! - BatchNorm: candle-nn's `BatchNorm` with `forward_t(x, train)`; it normalises over every
//!   dim but the channel dim 1, so it serves as BatchNorm1d on [N, C] as well as
//!   BatchNorm2d on [N, C, H, W]. Running statistics are updated in training mode.
//! - candle has no no-grad mode: inference runs the eval-mode forward on the same
//!   variables (candle records the graph, but computes no gradient unless asked).
//!
//! Threads: candle's CPU kernels (gemm, rayon) read RAYON_NUM_THREADS; `--threads N`
//! (default 2) sets it before any pool starts.
//!
//!   cargo run --release -- [--steps N] [--threads N] [--batch N]

use std::time::Instant;

use candle_core::{DType, Device, Result, Tensor, Var};
use candle_nn::{
    batch_norm, conv2d, linear, loss::cross_entropy, BatchNorm, BatchNormConfig, Conv2d,
    Conv2dConfig, Linear, Module, ModuleT, VarBuilder, VarMap,
};

struct Net {
    c1: Conv2d,
    b1: Option<BatchNorm>,
    c2: Conv2d,
    b2: Option<BatchNorm>,
    l1: Linear,
    b3: Option<BatchNorm>,
    l2: Linear,
}

fn bn_t(b: &Option<BatchNorm>, x: Tensor, train: bool) -> Result<Tensor> {
    match b {
        Some(b) => b.forward_t(&x, train),
        None => Ok(x),
    }
}

impl Net {
    fn new(bn: bool, vb: VarBuilder) -> Result<Self> {
        let pad = Conv2dConfig { padding: 1, ..Default::default() };
        // PyTorch's defaults: eps 1e-5, momentum 0.1, affine.
        let cfg = BatchNormConfig { eps: 1e-5, remove_mean: true, affine: true, momentum: 0.1 };
        let opt_bn = |n: usize, name: &str| -> Result<Option<BatchNorm>> {
            if bn {
                Ok(Some(batch_norm(n, cfg, vb.pp(name))?))
            } else {
                Ok(None)
            }
        };
        Ok(Self {
            c1: conv2d(1, 32, 3, pad, vb.pp("c1"))?,
            b1: opt_bn(32, "b1")?,
            c2: conv2d(32, 64, 3, pad, vb.pp("c2"))?,
            b2: opt_bn(64, "b2")?,
            l1: linear(3136, 128, vb.pp("l1"))?,
            b3: opt_bn(128, "b3")?,
            l2: linear(128, 10, vb.pp("l2"))?,
        })
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let x = bn_t(&self.b1, self.c1.forward(x)?, train)?.relu()?.max_pool2d(2)?;
        let x = bn_t(&self.b2, self.c2.forward(&x)?, train)?.relu()?.max_pool2d(2)?;
        let x = self.l1.forward(&x.flatten_from(1)?)?;
        let x = bn_t(&self.b3, x, train)?.relu()?;
        self.l2.forward(&x)
    }
}

/// PyTorch's SGD with momentum (dampening 0, no weight decay, not Nesterov).
struct SgdMomentum {
    vars: Vec<(Var, Option<Tensor>)>,
    lr: f64,
    momentum: f64,
}

impl SgdMomentum {
    fn new(vars: Vec<Var>, lr: f64, momentum: f64) -> Self {
        Self { vars: vars.into_iter().map(|v| (v, None)).collect(), lr, momentum }
    }

    fn backward_step(&mut self, loss: &Tensor) -> Result<()> {
        let grads = loss.backward()?;
        for (var, buf) in self.vars.iter_mut() {
            // Running statistics are variables of the map too, but get no gradient.
            let Some(g) = grads.get(var) else { continue };
            let v = match buf.take() {
                None => g.clone(),
                Some(b) => ((b * self.momentum)? + g)?,
            };
            var.set(&(var.as_tensor() - (&v * self.lr)?)?)?;
            *buf = Some(v);
        }
        Ok(())
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

fn main() -> Result<()> {
    let (mut steps, mut batch, mut threads) = (50usize, 64usize, 2usize);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value: usize = args
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{flag} needs a number"));
        match flag.as_str() {
            "--steps" => steps = value,
            "--batch" => batch = value,
            "--threads" => threads = value,
            other => panic!("unknown flag {other}; use --steps N, --batch N, --threads N"),
        }
    }
    // Before the first kernel: candle and gemm size their rayon work from this variable.
    std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
    println!(
        "candle {} bench: batch {batch}, {steps} timed steps after 5 warm-up, {} thread(s)",
        "0.11.1",
        candle_core::utils::get_num_threads()
    );
    let dev = Device::Cpu;
    let x = Tensor::randn(0f32, 1f32, (batch, 1, 28, 28), &dev)?;
    let targets: Vec<u32> = (0..batch).map(|i| ((i * 7) % 10) as u32).collect();
    let targets = Tensor::new(targets.as_slice(), &dev)?;
    for bn in [true, false] {
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &dev);
        let net = Net::new(bn, vb)?;
        let mut opt = SgdMomentum::new(varmap.all_vars(), 0.01, 0.9);
        let mut times = Vec::new();
        for i in 0..steps + 5 {
            let t0 = Instant::now();
            let loss = cross_entropy(&net.forward_t(&x, true)?, &targets)?;
            opt.backward_step(&loss)?;
            if i >= 5 {
                times.push(t0.elapsed().as_secs_f64() * 1e3);
            }
        }
        let mut infer = Vec::new();
        for _ in 0..steps.max(10) {
            let t0 = Instant::now();
            let y = net.forward_t(&x, false)?;
            assert_eq!(y.dims(), &[batch, 10]);
            infer.push(t0.elapsed().as_secs_f64());
        }
        let mean = times.iter().sum::<f64>() / times.len() as f64;
        println!(
            "{:<8} train {:>7.2} ms/step (mean {:>7.2})   inference {:>8.0} img/s   peak RSS {:>6.0} MiB",
            if bn { "BN" } else { "no BN" },
            median(times),
            mean,
            batch as f64 / median(infer),
            peak_rss_mib()
        );
    }
    Ok(())
}
