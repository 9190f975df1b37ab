//! A CNN with BatchNorm, trained on MNIST: the smallest complete kindling program a course
//! can start from. `cargo run` (or `cargo run -- 300` for 300 steps).
//!
//! MNIST comes from `KINDLING_MNIST_DIR`, or the kindling checkout's `datasets/mnist`.

use std::time::Instant;

use kindling::data::{DataLoader, Mnist};
use kindling::nn::{BatchNorm1d, BatchNorm2d, Conv2d, Linear, Module};
use kindling::prelude::*;

/// conv → BN → ReLU → pool, twice, then a hidden layer with BN: the mnist_bn CNN, written
/// as a struct. `#[derive(Module)]` registers the layers (names, train/eval, checkpoints).
#[derive(Module)]
struct Cnn {
    conv1: Conv2d,
    bn1: BatchNorm2d,
    conv2: Conv2d,
    bn2: BatchNorm2d,
    fc1: Linear,
    bn3: BatchNorm1d,
    fc2: Linear,
}

impl Cnn {
    fn new() -> Self {
        Cnn {
            conv1: Conv2d::new(1, 32, 3).padding(1),
            bn1: BatchNorm2d::new(32),
            conv2: Conv2d::new(32, 64, 3).padding(1),
            bn2: BatchNorm2d::new(64),
            fc1: Linear::new(64 * 7 * 7, 128),
            bn3: BatchNorm1d::new(128),
            fc2: Linear::new(128, 10),
        }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let x = self.bn1.call(&self.conv1.call(x)).relu().max_pool2d(2, 2);
        let x = self.bn2.call(&self.conv2.call(&x)).relu().max_pool2d(2, 2);
        let x = self.bn3.call(&self.fc1.call(&x.flatten_from(1))).relu();
        self.fc2.call(&x)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let steps: usize = std::env::args().nth(1).map_or(Ok(200), |s| s.parse())?;
    manual_seed(0);
    let mnist = Mnist::load(Mnist::default_dir())?;
    let mut model = Cnn::new();
    println!("{model}");
    let mut opt = optim::Sgd::new(model.parameters(), 0.01).momentum(0.9);

    let loader = DataLoader::new(&mnist.train, 64).shuffle(0).drop_last(true);
    let start = Instant::now();
    for (step, batch) in loader.epoch(0).take(steps).enumerate() {
        let loss = nn::functional::cross_entropy(&model.forward(&batch.images), &batch.labels);
        opt.zero_grad();
        loss.backward();
        opt.step();
        if (step + 1) % 50 == 0 {
            println!("step {:>4}: loss {:.4}", step + 1, loss.item());
        }
    }
    let ms = start.elapsed().as_secs_f64() * 1e3 / steps.max(1) as f64;
    println!("{ms:.1} ms per training step");

    model.eval();
    let correct: usize = no_grad(|| {
        DataLoader::new(&mnist.test, 500)
            .epoch(0)
            .map(|b| {
                let predicted = model.forward(&b.images).argmax(1).to_vec();
                predicted.iter().zip(&b.labels).filter(|(p, l)| **p as usize == **l).count()
            })
            .sum()
    });
    println!("test accuracy: {:.2}%", 100.0 * correct as f64 / mnist.test.len() as f64);
    Ok(())
}
