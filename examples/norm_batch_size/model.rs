//! The four networks under study: the mnist_bn CNN with one kind of normalisation in the
//! three slots where mnist_bn puts BatchNorm.
//!
//! Conv2d(1,32,3,pad 1) → [norm 32] → ReLU → MaxPool2d(2) → Conv2d(32,64,3,pad 1) →
//! [norm 64] → ReLU → MaxPool2d(2) → Flatten → Linear(3136,128) → [norm 128] → ReLU →
//! Linear(128,10), where the slots hold
//!
//! | variant | after conv 1      | after conv 2      | after Linear(3136,128) |
//! |---------|-------------------|-------------------|------------------------|
//! | bn      | BatchNorm2d(32)   | BatchNorm2d(64)   | BatchNorm1d(128)       |
//! | gn      | GroupNorm(4, 32)  | GroupNorm(8, 64)  | GroupNorm(1, 128)      |
//! | ln      | GroupNorm(1, 32)  | GroupNorm(1, 64)  | LayerNorm(&[128])      |
//! | none    | -                 | -                 | -                      |
//!
//! GroupNorm here has 8 channels per group. The "ln" conv slots use GroupNorm(1, C): it
//! standardises each image over all of (C, H, W), exactly as LayerNorm(&[C, H, W]) would,
//! but keeps one γ and β per channel instead of one per element. That makes "gn" and "ln"
//! differ only in the group size, with the same parameter count, and it is how the
//! GroupNorm paper runs its LayerNorm baseline. On the [N, 128] output of the Linear layer
//! GroupNorm(1, 128) and LayerNorm(&[128]) are the same computation (the only way to
//! normalise a vector per sample), so "gn" and "ln" share it.

use kindling::nn::{
    BatchNorm1d, BatchNorm2d, Conv2d, Flatten, GroupNorm, LayerNorm, Linear, MaxPool2d, ReLU,
    Sequential,
};
use kindling::prelude::*;

/// The kind of normalisation in the three slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Norm {
    Batch,
    Group,
    Layer,
    None,
}

impl Norm {
    pub const ALL: [Norm; 4] = [Norm::Batch, Norm::Group, Norm::Layer, Norm::None];

    /// The short name used in the CSV, the JSON and on the command line's output.
    pub fn key(self) -> &'static str {
        match self {
            Norm::Batch => "bn",
            Norm::Group => "gn",
            Norm::Layer => "ln",
            Norm::None => "none",
        }
    }

    /// The name in the table and on the plot.
    pub fn label(self) -> &'static str {
        match self {
            Norm::Batch => "BatchNorm",
            Norm::Group => "GroupNorm (8 ch/group)",
            Norm::Layer => "LayerNorm",
            Norm::None => "no normalisation",
        }
    }

    /// Only BatchNorm computes differently in training and eval mode.
    pub fn has_running_stats(self) -> bool {
        self == Norm::Batch
    }

    /// What goes after a convolution with `channels` output channels.
    fn after_conv(self, channels: usize, seq: &mut Sequential) {
        match self {
            Norm::Batch => seq.push(BatchNorm2d::new(channels)),
            Norm::Group => seq.push(GroupNorm::new(channels / 8, channels)),
            Norm::Layer => seq.push(GroupNorm::new(1, channels)),
            Norm::None => {}
        }
    }

    /// What goes after the hidden Linear layer's `features` outputs.
    fn after_linear(self, features: usize, seq: &mut Sequential) {
        match self {
            Norm::Batch => seq.push(BatchNorm1d::new(features)),
            Norm::Group => seq.push(GroupNorm::new(1, features)),
            Norm::Layer => seq.push(LayerNorm::new(&[features])),
            Norm::None => {}
        }
    }
}

/// The network with `norm` in its slots. The four weighted layers are all drawn from the
/// seed before any normalisation layer is made, so every variant, at every batch size,
/// starts from the same convolution and linear weights, whether or not some norm layer
/// were ever to draw random numbers of its own.
pub fn build(norm: Norm, seed: u64) -> Sequential {
    manual_seed(seed);
    let conv1 = Conv2d::new(1, 32, 3).padding(1);
    let conv2 = Conv2d::new(32, 64, 3).padding(1);
    let fc1 = Linear::new(64 * 7 * 7, 128);
    let fc2 = Linear::new(128, 10);

    let mut m = Sequential::new().add(conv1);
    norm.after_conv(32, &mut m);
    m = m.add(ReLU::new()).add(MaxPool2d::new(2)).add(conv2);
    norm.after_conv(64, &mut m);
    m = m
        .add(ReLU::new())
        .add(MaxPool2d::new(2))
        .add(Flatten::new())
        .add(fc1);
    norm.after_linear(128, &mut m);
    m.add(ReLU::new()).add(fc2)
}

/// SGD with momentum 0.9, as in mnist_bn.
pub fn optimizer(lr: f32, params: Vec<Tensor>) -> optim::Sgd {
    optim::Sgd::new(params, lr).momentum(0.9)
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
