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
