//! Module 7, the capstone: the book's MNIST network (the `mnist_bn` example's CNN), built
//! from your own pieces and trained on MNIST to 97% test accuracy and more.
//!
//! Conv2d(1→32, 3×3, padding 1) → BatchNorm2d → ReLU → MaxPool 2 → Conv2d(32→64, 3×3,
//! padding 1) → BatchNorm2d → ReLU → MaxPool 2 → Flatten → Linear(3136→128) → BatchNorm1d
//! → ReLU → Linear(128→10).
//!
//! Every layer runs your code: the convolution is your im2col on kindling's matmul with your
//! backward rule (module 4), the BatchNorm layers are your forward, backward and running
//! statistics (module 5), the linear layers and the loss are modules 2 and 3, and the
//! optimizer is your SGD step (module 6). Only ReLU, reshapes and the matrix product are
//! kindling's. The layers below are given: each wraps your functions from a [`Parts`] into
//! one differentiable op. You write the network's forward (7.1), a training step (7.2) and
//! the training loop (7.3).
//!
//! The capstone needs tasks 2.1 to 6.1 (but 5.5) to pass: its graders say which do not.
//! Grade with `cargo test -p kindling-exercises task_7_ -- --ignored`; the full run to 97%
//! is `cargo run --release -p kindling-exercises --bin capstone`.
//!
//! Read: [docs/getting-started.md](../../docs/getting-started.md) (the training loop) and
//! [docs/batchnorm.md](../../docs/batchnorm.md) (train against eval mode).

use crate::given::{Momentum, Parts, SgdConfig, TrainConfig};
use kindling::autograd::{custom_op, CustomOp};
use kindling::data::MnistSplit;
use kindling::{manual_seed, no_grad, Tensor};

/// BatchNorm's eps and momentum in this network (PyTorch's defaults).
pub const BN_EPS: f32 = 1e-5;
/// See [`BN_EPS`].
pub const BN_MOMENTUM: f32 = 0.1;

/// One BatchNorm layer's state (given): γ and β (trained), and the running statistics
/// (updated in training mode, used in eval mode).
#[derive(Clone, Debug)]
pub struct BnState {
    /// γ `[C]`, starts at 1.
    pub gamma: Tensor,
    /// β `[C]`, starts at 0.
    pub beta: Tensor,
    /// Running mean `[C]`, starts at 0.
    pub running_mean: Tensor,
    /// Running variance `[C]`, starts at 1.
    pub running_var: Tensor,
}

impl BnState {
    fn new(c: usize) -> BnState {
        BnState {
            gamma: Tensor::ones(&[c]).requires_grad(true),
            beta: Tensor::zeros(&[c]).requires_grad(true),
            running_mean: Tensor::zeros(&[c]),
            running_var: Tensor::ones(&[c]),
        }
    }

    fn copy(&self) -> BnState {
        BnState {
            gamma: self.gamma.copy().requires_grad(true),
            beta: self.beta.copy().requires_grad(true),
            running_mean: self.running_mean.copy(),
            running_var: self.running_var.copy(),
        }
    }
}

/// The network's weights (given). Convolution weights are `[O, C, 3, 3]`, linear weights
/// `[out, in]`, as in PyTorch.
#[derive(Clone, Debug)]
pub struct Cnn {
    /// First convolution, `[32, 1, 3, 3]` and `[32]`.
    pub conv1_w: Tensor,
    /// See `conv1_w`.
    pub conv1_b: Tensor,
    /// BatchNorm2d(32).
    pub bn1: BnState,
    /// Second convolution, `[64, 32, 3, 3]` and `[64]`.
    pub conv2_w: Tensor,
    /// See `conv2_w`.
    pub conv2_b: Tensor,
    /// BatchNorm2d(64).
    pub bn2: BnState,
    /// First linear layer, `[128, 3136]` and `[128]`.
    pub fc1_w: Tensor,
    /// See `fc1_w`.
    pub fc1_b: Tensor,
    /// BatchNorm1d(128).
    pub bn3: BnState,
    /// Second linear layer, `[10, 128]` and `[10]`.
    pub fc2_w: Tensor,
    /// See `fc2_w`.
    pub fc2_b: Tensor,
}

impl Cnn {
    /// A fresh network with PyTorch's default initialisation, drawn from `seed` (the same
    /// weights as `kindling::nn` layers built after `manual_seed(seed)`).
    pub fn new(seed: u64) -> Cnn {
        use kindling::nn::{Conv2d, Linear};
        manual_seed(seed);
        let (c1, c2) = (Conv2d::new(1, 32, 3), Conv2d::new(32, 64, 3));
        let (f1, f2) = (Linear::new(3136, 128), Linear::new(128, 10));
        let bias = |b: Option<Tensor>| b.expect("the layers are built with a bias");
        Cnn {
            conv1_w: c1.weight(),
            conv1_b: bias(c1.bias_tensor()),
            bn1: BnState::new(32),
            conv2_w: c2.weight(),
            conv2_b: bias(c2.bias_tensor()),
            bn2: BnState::new(64),
            fc1_w: f1.weight(),
            fc1_b: bias(f1.bias_tensor()),
            bn3: BnState::new(128),
            fc2_w: f2.weight(),
            fc2_b: bias(f2.bias_tensor()),
        }
    }

    /// Every trained tensor, in a fixed order (the order of [`Momentum`]'s buffers).
    pub fn parameters(&self) -> Vec<Tensor> {
        vec![
            self.conv1_w.clone(),
            self.conv1_b.clone(),
            self.bn1.gamma.clone(),
            self.bn1.beta.clone(),
            self.conv2_w.clone(),
            self.conv2_b.clone(),
            self.bn2.gamma.clone(),
            self.bn2.beta.clone(),
            self.fc1_w.clone(),
            self.fc1_b.clone(),
            self.bn3.gamma.clone(),
            self.bn3.beta.clone(),
            self.fc2_w.clone(),
            self.fc2_b.clone(),
        ]
    }

    /// An independent copy: new storage for every tensor.
    pub fn copy(&self) -> Cnn {
        let p = |t: &Tensor| t.copy().requires_grad(true);
        Cnn {
            conv1_w: p(&self.conv1_w),
            conv1_b: p(&self.conv1_b),
            bn1: self.bn1.copy(),
            conv2_w: p(&self.conv2_w),
            conv2_b: p(&self.conv2_b),
            bn2: self.bn2.copy(),
            fc1_w: p(&self.fc1_w),
            fc1_b: p(&self.fc1_b),
            bn3: self.bn3.copy(),
            fc2_w: p(&self.fc2_w),
            fc2_b: p(&self.fc2_b),
        }
    }
}

/// A differentiable op made of a forward and a backward function: how each given layer
/// plugs your functions into autograd.
struct Yours<F, B> {
    name: &'static str,
    forward: F,
    backward: B,
}

impl<F, B> CustomOp for Yours<F, B>
where
    F: Fn(&[Tensor]) -> Tensor + Send + Sync + 'static,
    B: Fn(&[Tensor], &Tensor, &Tensor) -> Vec<Option<Tensor>> + Send + Sync + 'static,
{
    fn name(&self) -> &str {
        self.name
    }
    fn forward(&self, inputs: &[Tensor]) -> Tensor {
        (self.forward)(inputs)
    }
    fn backward(&self, inputs: &[Tensor], output: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        (self.backward)(inputs, output, g)
    }
}

/// Given: your 3×3 convolution with padding 1 (tasks 4.3 and 4.4), `[N, C, H, W]` →
/// `[N, O, H, W]`.
pub fn conv(parts: &Parts, x: &Tensor, w: &Tensor, b: &Tensor) -> Tensor {
    let p = *parts;
    let op = Yours {
        name: "YourConv2d",
        forward: move |t: &[Tensor]| (p.conv2d)(&t[0], &t[1], &t[2], 1, 1),
        backward: move |i: &[Tensor], o: &Tensor, g: &Tensor| (p.conv2d_backward)(1, 1, i, o, g),
    };
    custom_op(op, &[x, w, b])
}

/// Given: your 2×2 max pooling with stride 2 (tasks 4.5 and 4.6), halving H and W.
pub fn pool(parts: &Parts, x: &Tensor) -> Tensor {
    let p = *parts;
    let op = Yours {
        name: "YourMaxPool2d",
        forward: move |t: &[Tensor]| (p.max_pool2d)(&t[0], 2, 2).0,
        backward: move |i: &[Tensor], o: &Tensor, g: &Tensor| {
            (p.max_pool2d_backward)(2, 2, i, o, g)
        },
    };
    custom_op(op, &[x])
}

/// Given: your linear layer (tasks 2.1 and 2.2), `[N, in]` → `[N, out]`.
pub fn linear(parts: &Parts, x: &Tensor, w: &Tensor, b: &Tensor) -> Tensor {
    let p = *parts;
    let op = Yours {
        name: "YourLinear",
        forward: move |t: &[Tensor]| (p.linear)(&t[0], &t[1], &t[2]),
        backward: p.linear_backward,
    };
    custom_op(op, &[x, w, b])
}

/// Given: your BatchNorm (tasks 5.1 to 5.4) on `[N, C]`, or per channel on `[N, C, H, W]`
/// (BatchNorm2d: every pixel of every image is a sample of its channel, so the input is
/// laid out as `[N·H·W, C]` for your code and back). In training mode it normalises with
/// the batch's statistics and updates `bn`'s running statistics; in eval mode it uses them.
pub fn batch_norm(parts: &Parts, x: &Tensor, bn: &BnState, training: bool) -> Tensor {
    let p = *parts;
    let shape = x.shape().to_vec();
    let rows = match shape.len() {
        2 => x.clone(),
        4 => x
            .permute(&[0, 2, 3, 1])
            .reshape(&[shape[0] * shape[2] * shape[3], shape[1]]),
        _ => panic!("batch_norm: expects [N, C] or [N, C, H, W], got {shape:?}"),
    };
    let y = if training {
        let (m, v) = no_grad(|| {
            (p.update_running_stats)(&rows, &bn.running_mean, &bn.running_var, BN_MOMENTUM)
        });
        bn.running_mean.copy_from(&m);
        bn.running_var.copy_from(&v);
        let op = Yours {
            name: "YourBatchNorm",
            forward: move |t: &[Tensor]| (p.batch_norm_train)(&t[0], &t[1], &t[2], BN_EPS),
            backward: p.batch_norm_backward,
        };
        custom_op(op, &[&rows, &bn.gamma, &bn.beta])
    } else {
        (p.batch_norm_eval)(
            &rows,
            &bn.running_mean,
            &bn.running_var,
            &bn.gamma,
            &bn.beta,
            BN_EPS,
        )
    };
    match shape.len() {
        2 => y,
        _ => y
            .reshape(&[shape[0], shape[2], shape[3], shape[1]])
            .permute(&[0, 3, 1, 2]),
    }
}

/// Given: your cross-entropy loss (tasks 3.2 and 3.3), the mean over the batch, shape `[]`.
pub fn loss(parts: &Parts, logits: &Tensor, labels: &[usize]) -> Tensor {
    let p = *parts;
    let targets = Tensor::from_vec(labels.iter().map(|&l| l as f32).collect(), &[labels.len()]);
    let op = Yours {
        name: "YourCrossEntropy",
        forward: move |t: &[Tensor]| {
            let labels: Vec<usize> = t[1].to_vec().iter().map(|&l| l as usize).collect();
            (p.cross_entropy)(&t[0], &labels)
        },
        backward: p.cross_entropy_backward,
    };
    custom_op(op, &[logits, &targets])
}

/// Task 7.1: the network's forward pass, images `x` `[N, 1, 28, 28]` → logits `[N, 10]`,
/// with the layers above (ReLU is kindling's `relu()`):
///
/// conv(conv1) → batch_norm(bn1) → relu → pool → conv(conv2) → batch_norm(bn2) → relu →
/// pool → reshape to `[N, 3136]` → linear(fc1) → batch_norm(bn3) → relu → linear(fc2).
///
/// `training` goes to every BatchNorm: true while training (batch statistics, running
/// statistics updated), false to evaluate (running statistics only).
///
/// Read: [docs/batchnorm.md](../../docs/batchnorm.md) and the model in
/// `examples/mnist_bn/model.rs`.
pub fn forward(parts: &Parts, model: &Cnn, x: &Tensor, training: bool) -> Tensor {
    let _ = (parts, model, x, training);
    todo!()
}

/// Task 7.2: one training step on a mini-batch, returning the loss before the step:
/// 1. the forward pass in training mode and the [`loss`] against `labels`;
/// 2. clear every parameter's gradient (`set_grad(None)`), then `backward()` the loss:
///    backward *adds* into `.grad`, so without clearing, every step would also carry the
///    gradients of all the steps before it;
/// 3. your SGD step (`parts.sgd_step`) on every parameter of `model.parameters()`, with
///    its buffer in `momentum` (same order): the values are `p.data_mut()`, the gradient
///    `p.grad()`.
///
/// Read: [docs/getting-started.md](../../docs/getting-started.md) (the five steps of a
/// training loop) and [docs/optimizers.md, "SGD"](../../docs/optimizers.md#sgd).
pub fn train_step(
    parts: &Parts,
    model: &Cnn,
    momentum: &mut Momentum,
    images: &Tensor,
    labels: &[usize],
    sgd: &SgdConfig,
) -> f32 {
    let _ = (parts, model, momentum, images, labels, sgd);
    todo!()
}

/// Task 7.3: train a fresh `Cnn::new(cfg.seed)` for `cfg.steps` steps of your
/// [`train_step`] and return it. Take the mini-batches from
/// `kindling::data::DataLoader::new(data, cfg.batch_size).shuffle(cfg.seed).drop_last(true)`:
/// `loader.epoch(e)` is epoch e's batches (each with `.images` and `.labels`), in a new
/// order every epoch; go on to the next epoch when one runs out. Print the loss now and
/// then if you like.
///
/// Read: [docs/getting-started.md](../../docs/getting-started.md).
pub fn train(parts: &Parts, data: &MnistSplit, cfg: &TrainConfig) -> Cnn {
    let _ = (parts, data, cfg);
    todo!()
}
