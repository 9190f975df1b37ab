//! Module 5: BatchNorm, the book's centre. The training-mode forward (batch statistics,
//! biased variance), the eval-mode forward (running statistics), the running-statistics
//! update (unbiased variance, momentum), the fused backward by hand, and the seed lesson:
//! your BatchNorm on a class's exam scores, giving PyTorch's numbers.
//!
//! Every input here is `[N, C]`: N samples (rows), C features (columns), statistics per
//! column. Grade with `cargo test -p kindling-exercises task_5_ -- --ignored`.

use crate::given::ClassScores;
use kindling::autograd::CustomOp;
use kindling::Tensor;

/// Task 5.1: BatchNorm in training mode. For each column c, with the batch's mean μ and
/// *biased* variance σ² = mean((x − μ)²) (divide by N, not N − 1):
/// y = γ·(x − μ)/√(σ² + eps) + β. `x` `[N, C]`, `gamma` and `beta` `[C]`; returns `[N, C]`.
///
/// Tools: `mean_dim(0, true)`, broadcasting arithmetic, `sqrt`.
///
/// Read: [docs/batchnorm.md, "The formulas"](../../docs/batchnorm.md#the-formulas).
pub fn batch_norm_train(x: &Tensor, gamma: &Tensor, beta: &Tensor, eps: f32) -> Tensor {
    let _ = (x, gamma, beta, eps);
    todo!()
}

/// Task 5.2: BatchNorm in eval mode: the same formula with the running statistics in
/// place of the batch's: y = γ·(x − running_mean)/√(running_var + eps) + β. The batch's
/// own statistics play no part (a batch of one sample must work).
///
/// Read: [docs/batchnorm.md, "Train against eval"](../../docs/batchnorm.md#train-against-eval).
pub fn batch_norm_eval(
    x: &Tensor,
    running_mean: &Tensor,
    running_var: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    eps: f32,
) -> Tensor {
    let _ = (x, running_mean, running_var, gamma, beta, eps);
    todo!()
}

/// Task 5.3: the running statistics after one training step on `x` `[N, C]`, returned as
/// `(new_mean, new_var)`, each `[C]`:
/// new_mean = (1 − momentum)·running_mean + momentum·μ,
/// new_var = (1 − momentum)·running_var + momentum·s², where s² is the *unbiased* batch
/// variance Σ(x − μ)²/(N − 1). (The forward normalises with the biased one: PyTorch does both.)
///
/// Read: [docs/batchnorm.md, "Running statistics"](../../docs/batchnorm.md#running-statistics)
/// and ["Biased against unbiased variance"](../../docs/batchnorm.md#biased-against-unbiased-variance).
pub fn update_running_stats(
    x: &Tensor,
    running_mean: &Tensor,
    running_var: &Tensor,
    momentum: f32,
) -> (Tensor, Tensor) {
    let _ = (x, running_mean, running_var, momentum);
    todo!()
}

/// The eps of [`BatchNorm`] (PyTorch's default).
pub const EPS: f32 = 1e-5;

/// Task 5.4: BatchNorm's backward, by hand, in one fused formula. Inputs `[x, gamma, beta]`
/// (`[N, C]`, `[C]`, `[C]`); the forward (training mode, given) returns y `[N, C]`.
///
/// With x̂ = (x − μ)/√(σ² + eps) and g = ∂L/∂y:
/// ∂L/∂β = Σₙ g, ∂L/∂γ = Σₙ g·x̂, and with ĝ = g·γ,
/// ∂L/∂x = (ĝ − mean_n(ĝ) − x̂·mean_n(ĝ·x̂)) / √(σ² + eps).
/// The two subtracted means are there because μ and σ² depend on every x of the column.
///
/// Read: [docs/batchnorm.md, "What backward does"](../../docs/batchnorm.md#what-backward-does).
#[derive(Clone, Copy)]
pub struct BatchNorm;

impl CustomOp for BatchNorm {
    fn name(&self) -> &str {
        "BatchNorm"
    }
    fn forward(&self, inputs: &[Tensor]) -> Tensor {
        let (x, gamma, beta) = (&inputs[0], &inputs[1], &inputs[2]);
        x.batch_norm(None, None, Some(gamma), Some(beta), true, 0.1, EPS)
    }
    fn backward(&self, inputs: &[Tensor], output: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        let _ = (inputs, output, g);
        todo!()
    }
}

/// Task 5.5, the seed lesson: a fresh BatchNorm1d(3) (γ = 1, β = 0, running mean 0,
/// running var 1, momentum 0.1, eps 1e-5) sees the class's `scores` `[4, 3]` once in
/// training mode, then scores `new_student` `[1, 3]` in eval mode. Return the four things
/// PyTorch prints (see [`ClassScores`]), computed with your tasks 5.1 to 5.3. Compare them
/// with `cargo run --example class_scores`, and print them yourself if you like
/// (`cargo test -p kindling-exercises task_5_5 -- --ignored --nocapture`).
///
/// Read: [docs/batchnorm.md, "The picture: a class's exam scores"](../../docs/batchnorm.md#the-picture-a-classs-exam-scores)
/// and ["kindling's numbers, next to the code"](../../docs/batchnorm.md#kindlings-numbers-next-to-the-code).
pub fn class_scores(scores: &Tensor, new_student: &Tensor) -> ClassScores {
    let _ = (scores, new_student);
    todo!()
}
