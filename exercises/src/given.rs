//! Types the track gives you, shared by your code, the graders and the reference
//! solutions: the optimizers' settings and state, and the numbers of the BatchNorm lesson.

use kindling::Tensor;

/// SGD's settings, with PyTorch's meanings (`torch.optim.SGD`).
#[derive(Clone, Copy, Debug)]
pub struct SgdConfig {
    /// Learning rate.
    pub lr: f32,
    /// Momentum factor μ (0 for plain SGD).
    pub momentum: f32,
    /// Dampening τ of the momentum buffer's update (from the second step on).
    pub dampening: f32,
    /// L2 penalty λ, added to the gradient as λ·p.
    pub weight_decay: f32,
    /// Nesterov momentum: step along g + μ·buf instead of buf.
    pub nesterov: bool,
}

/// Adam's settings, with PyTorch's meanings (`torch.optim.Adam`, `amsgrad=False`).
#[derive(Clone, Copy, Debug)]
pub struct AdamConfig {
    /// Learning rate.
    pub lr: f32,
    /// Decay of the first moment m.
    pub beta1: f32,
    /// Decay of the second moment v.
    pub beta2: f32,
    /// Added to √v̂ so that a tiny v does not blow the step up.
    pub eps: f32,
    /// L2 penalty λ, added to the gradient as λ·p (Adam's, not AdamW's, weight decay).
    pub weight_decay: f32,
}

/// Adam's state for one parameter tensor.
#[derive(Clone, Debug)]
pub struct AdamState {
    /// First moment (running mean of gradients), one per element.
    pub m: Vec<f32>,
    /// Second moment (running mean of squared gradients), one per element.
    pub v: Vec<f32>,
    /// Steps taken so far (0 before the first).
    pub step: u32,
}

impl AdamState {
    /// Zero moments for a parameter of `n` elements, before its first step.
    pub fn new(n: usize) -> AdamState {
        AdamState {
            m: vec![0.0; n],
            v: vec![0.0; n],
            step: 0,
        }
    }
}

/// What the BatchNorm lesson prints (task 5.5).
#[derive(Clone, Debug)]
pub struct ClassScores {
    /// The scores normalised in training mode, `[4, 3]`.
    pub train_out: Tensor,
    /// The running mean after that one training step, `[3]`.
    pub running_mean: Tensor,
    /// The running variance after that one training step, `[3]`.
    pub running_var: Tensor,
    /// The new student normalised in eval mode, `[1, 3]`.
    pub eval_out: Tensor,
}

/// The gradients a [`CustomOp`](kindling::autograd::CustomOp)'s backward returns, given the
/// op's inputs, its output and the upstream gradient.
pub type BackwardFn = fn(&[Tensor], &Tensor, &Tensor) -> Vec<Option<Tensor>>;

/// A backward rule of an op with two settings (stride and padding, or kernel and stride).
pub type BackwardWithFn = fn(usize, usize, &[Tensor], &Tensor, &Tensor) -> Vec<Option<Tensor>>;

/// One SGD step on a parameter's values, as task 6.1.
pub type SgdStepFn = fn(&mut [f32], &[f32], &mut Option<Vec<f32>>, &SgdConfig);

/// Your pieces from modules 2 to 6, which the capstone (module 7) builds its network from.
/// [`Parts::yours`] collects them from your files; the crate's own tests fill one in from
/// the reference solutions instead.
#[derive(Clone, Copy)]
pub struct Parts {
    /// Task 2.1.
    pub linear: fn(&Tensor, &Tensor, &Tensor) -> Tensor,
    /// Task 2.2: `Linear`'s backward.
    pub linear_backward: BackwardFn,
    /// Task 3.2.
    pub cross_entropy: fn(&Tensor, &[usize]) -> Tensor,
    /// Task 3.3: `CrossEntropy`'s backward.
    pub cross_entropy_backward: BackwardFn,
    /// Task 4.3.
    pub conv2d: fn(&Tensor, &Tensor, &Tensor, usize, usize) -> Tensor,
    /// Task 4.4: `Conv2d::new(stride, padding)`'s backward.
    pub conv2d_backward: BackwardWithFn,
    /// Task 4.5.
    pub max_pool2d: fn(&Tensor, usize, usize) -> (Tensor, Vec<usize>),
    /// Task 4.6: `MaxPool2d::new(kernel, stride)`'s backward.
    pub max_pool2d_backward: BackwardWithFn,
    /// Task 5.1.
    pub batch_norm_train: fn(&Tensor, &Tensor, &Tensor, f32) -> Tensor,
    /// Task 5.2.
    pub batch_norm_eval: fn(&Tensor, &Tensor, &Tensor, &Tensor, &Tensor, f32) -> Tensor,
    /// Task 5.3.
    pub update_running_stats: fn(&Tensor, &Tensor, &Tensor, f32) -> (Tensor, Tensor),
    /// Task 5.4: `BatchNorm`'s backward.
    pub batch_norm_backward: BackwardFn,
    /// Task 6.1.
    pub sgd_step: SgdStepFn,
}

impl Parts {
    /// Your own code, from `src/m2_linear.rs` to `src/m6_optim.rs`.
    pub fn yours() -> Parts {
        use crate::{m2_linear, m3_softmax, m4_conv, m5_batchnorm, m6_optim};
        use kindling::autograd::CustomOp;
        Parts {
            linear: m2_linear::linear,
            linear_backward: |i, o, g| m2_linear::Linear.backward(i, o, g),
            cross_entropy: m3_softmax::cross_entropy,
            cross_entropy_backward: |i, o, g| m3_softmax::CrossEntropy.backward(i, o, g),
            conv2d: m4_conv::conv2d,
            conv2d_backward: |s, p, i, o, g| m4_conv::Conv2d::new(s, p).backward(i, o, g),
            max_pool2d: m4_conv::max_pool2d,
            max_pool2d_backward: |k, s, i, o, g| m4_conv::MaxPool2d::new(k, s).backward(i, o, g),
            batch_norm_train: m5_batchnorm::batch_norm_train,
            batch_norm_eval: m5_batchnorm::batch_norm_eval,
            update_running_stats: m5_batchnorm::update_running_stats,
            batch_norm_backward: |i, o, g| m5_batchnorm::BatchNorm.backward(i, o, g),
            sgd_step: m6_optim::sgd_step,
        }
    }
}

/// One SGD momentum buffer per parameter, in the order of `Cnn::parameters` (module 7);
/// `None` before the first step, as [`sgd_step`](crate::m6_optim::sgd_step) expects.
pub type Momentum = Vec<Option<Vec<f32>>>;

/// How the capstone trains (task 7.3).
#[derive(Clone, Copy, Debug)]
pub struct TrainConfig {
    /// Training steps (mini-batches) in all; an epoch of MNIST is 60000 / batch_size.
    pub steps: usize,
    /// Images per mini-batch.
    pub batch_size: usize,
    /// The optimizer's settings.
    pub sgd: SgdConfig,
    /// Seeds the initial weights (`Cnn::new`) and the order of the batches.
    pub seed: u64,
}
