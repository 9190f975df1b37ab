//! The network under study and how it is scored.
//!
//! Conv2d(1,32,3,pad 1) → [BN2d] → ReLU → MaxPool2d(2) → Conv2d(32,64,3,pad 1) → [BN2d] →
//! ReLU → MaxPool2d(2) → Flatten → Linear(3136,128) → [BN1d] → ReLU → Linear(128,10).
//! Both variants start from the same seed, so their conv and linear weights are identical
//! (BatchNorm draws no random numbers): any difference comes from the BN layers.

use kindling::data::{DataLoader, MnistSplit};
use kindling::nn::{
    BatchNorm1d, BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential,
};
use kindling::prelude::*;

/// The reference CNN, with or without BatchNorm. The layers before a BN keep their bias
/// (BN's β makes it redundant), so that the two variants differ only in the BN layers.
pub fn build(bn: bool, seed: u64) -> Sequential {
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

/// `sgd` gets momentum 0.9, as most CNN recipes use; `adam` keeps PyTorch's defaults.
pub fn optimizer(name: &str, lr: f32, params: Vec<Tensor>) -> Box<dyn Optimizer> {
    match name {
        "adam" => Box::new(optim::Adam::new(params, lr)),
        _ => Box::new(optim::Sgd::new(params, lr).momentum(0.9)),
    }
}

/// How many rows of `logits` pick their label as the highest score.
pub fn count_correct(logits: &Tensor, labels: &[usize]) -> usize {
    let predicted = logits.argmax(1).to_vec();
    predicted
        .iter()
        .zip(labels)
        .filter(|&(&p, &label)| p as usize == label)
        .count()
}

/// Test-set accuracy in eval mode (running statistics). It uses the training batch size:
/// larger batches would be faster per image but would allocate buffers of new sizes and
/// grow the process's memory between epochs.
pub fn test_accuracy(model: &mut Sequential, test: &MnistSplit, batch_size: usize) -> f32 {
    model.eval();
    let correct: usize = no_grad(|| {
        DataLoader::new(test, batch_size)
            .epoch(0)
            .map(|batch| count_correct(&model.forward(&batch.images), &batch.labels))
            .sum()
    });
    model.train();
    correct as f32 / test.len() as f32
}
