//! Module 3: softmax and cross-entropy. A numerically stable log-softmax, the
//! cross-entropy loss on top of it, and its famously simple backward rule p − onehot.
//! The chapter: [docs/softmax-cross-entropy.md](../../docs/softmax-cross-entropy.md).
//!
//! Grade with `cargo test -p kindling-exercises task_3_ -- --ignored`.

use kindling::autograd::CustomOp;
use kindling::Tensor;

/// Task 3.1: log-softmax along the rows of `logits` `[N, C]`, returning `[N, C]`.
///
/// log_softmax(x)ᵢ = xᵢ − log Σⱼ exp(xⱼ). Computed like that, exp(1000) overflows to
/// infinity. Subtract each row's maximum m first: xᵢ − m − log Σⱼ exp(xⱼ − m) is the same
/// number, and every exp is now at most 1. The grader uses logits in the thousands.
///
/// Tools: `max(1)` (values and indices), `reshape`, `exp`, `sum_dim(1, true)`, `log`.
///
/// Read: [docs/softmax-cross-entropy.md](../../docs/softmax-cross-entropy.md) and
/// [docs/tensors.md, "Softmax"](../../docs/tensors.md#softmax).
pub fn log_softmax(logits: &Tensor) -> Tensor {
    let _ = logits;
    todo!()
}

/// Task 3.2: the cross-entropy loss of `logits` `[N, C]` against class indices `targets`
/// (N of them): the mean over the N rows of −log_softmax(logits)[n, targets[n]]. Returns a
/// scalar (shape `[]`), as `torch.nn.functional.cross_entropy` does. Use your
/// [`log_softmax`].
///
/// Read: [docs/softmax-cross-entropy.md](../../docs/softmax-cross-entropy.md),
/// [docs/tensors.md, "Softmax"](../../docs/tensors.md#softmax) and
/// [docs/optimizers.md, "The training loop"](../../docs/optimizers.md#the-training-loop).
pub fn cross_entropy(logits: &Tensor, targets: &[usize]) -> Tensor {
    let _ = (logits, targets);
    todo!()
}

/// Task 3.3: cross-entropy's backward rule. The op's inputs are the logits `[N, C]` and the
/// targets as a tensor of N class indices (floats, `[N]`); its output is the mean loss `[]`.
///
/// With p = softmax(logits) along each row, ∂L/∂logits = (p − onehot(targets)) / N, times
/// the scalar upstream gradient `g`. The targets get no gradient: return `None` for them.
///
/// Read: [docs/softmax-cross-entropy.md](../../docs/softmax-cross-entropy.md) and
/// [docs/autograd.md, "Your own differentiable op"](../../docs/autograd.md#your-own-differentiable-op-custom_op).
#[derive(Clone, Copy)]
pub struct CrossEntropy;

impl CustomOp for CrossEntropy {
    fn name(&self) -> &str {
        "CrossEntropy"
    }
    fn forward(&self, inputs: &[Tensor]) -> Tensor {
        let targets: Vec<usize> = inputs[1].to_vec().iter().map(|&t| t as usize).collect();
        kindling::nn::functional::cross_entropy(&inputs[0], &targets)
    }
    fn backward(&self, inputs: &[Tensor], output: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        let _ = (inputs, output, g);
        todo!()
    }
}
