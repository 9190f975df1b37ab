//! The mnist_bn CNN trained on MNIST in one screen: no command line, plot or checkpoint.
//!
//! It sits between `tiny_mlp` (XOR, a few neurons) and `mnist_bn` (the full experiment):
//! load the data, build the model, loop over batches (forward, loss, backward, step), then
//! measure test accuracy in eval mode. One epoch reaches about 98.8% (docs/getting-started.md).
//!
//! `cargo run --release --example mnist_minimal`

use kindling::data::{DataLoader, Mnist};
use kindling::nn::functional::cross_entropy;
use kindling::nn::{
    BatchNorm1d, BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, Module, ReLU, Sequential,
};
use kindling::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    manual_seed(0);
    // 60,000 training and 10,000 test images of 28×28 pixels, labels 0-9.
    let mnist = Mnist::load(Mnist::default_dir())?;

    // Two conv → BatchNorm → ReLU → pool blocks, then a hidden layer: 28×28 → 14×14 → 7×7.
    let mut model = Sequential::new()
        .add(Conv2d::new(1, 32, 3).padding(1))
        .add(BatchNorm2d::new(32))
        .add(ReLU::new())
        .add(MaxPool2d::new(2))
        .add(Conv2d::new(32, 64, 3).padding(1))
        .add(BatchNorm2d::new(64))
        .add(ReLU::new())
        .add(MaxPool2d::new(2))
        .add(Flatten::new())
        .add(Linear::new(64 * 7 * 7, 128))
        .add(BatchNorm1d::new(128))
        .add(ReLU::new())
        .add(Linear::new(128, 10));
    let mut opt = optim::Sgd::new(model.parameters(), 0.05).momentum(0.9);

    // One pass over the training set in shuffled batches of 64.
    let train = DataLoader::new(&mnist.train, 64).shuffle(0).drop_last(true);
    for (step, batch) in train.epoch(0).enumerate() {
        let loss = cross_entropy(&model.forward(&batch.images), &batch.labels);
        opt.zero_grad(); // gradients add up across backward calls: clear them first
        loss.backward();
        opt.step();
        if step % 100 == 0 {
            println!("step {step:>4}/{}: loss {:.4}", train.len(), loss.item());
        }
    }

    // Eval mode: BatchNorm uses its running statistics instead of the batch's.
    model.eval();
    let correct: usize = no_grad(|| {
        DataLoader::new(&mnist.test, 1000)
            .epoch(0)
            .map(|batch| {
                let predicted = model.forward(&batch.images).argmax(1).to_vec();
                let labels = batch.labels.iter();
                predicted
                    .iter()
                    .zip(labels)
                    .filter(|(p, l)| **p as usize == **l)
                    .count()
            })
            .sum()
    });
    let accuracy = 100.0 * correct as f64 / mnist.test.len() as f64;
    println!("test accuracy: {accuracy:.2}%");
    Ok(())
}
