//! Module 2: the linear layer. Its forward on kindling's matmul, and its backward rule: the
//! three matrix products every dense layer's training step runs.
//!
//! Grade with `cargo test -p kindling-exercises task_2_ -- --ignored`.

use kindling::autograd::CustomOp;
use kindling::Tensor;

/// Task 2.1: y = x·Wᵀ + b, as `torch.nn.functional.linear`. `x` `[N, in]`, `w` `[out, in]`
/// (PyTorch stores a layer's weight with one row per output), `b` `[out]`; returns
/// `[N, out]`. The bias broadcasts over the rows.
///
/// Tools: `matmul`, `t()`.
///
/// Read: [docs/tensors.md, "Matrix products"](../../docs/tensors.md#matrix-products).
pub fn linear(x: &Tensor, w: &Tensor, b: &Tensor) -> Tensor {
    let _ = (x, w, b);
    todo!()
}

/// Task 2.2: the linear op's backward. Inputs `[x, w, b]` as in task 2.1, g = ∂L/∂y
/// `[N, out]`:
/// ∂L/∂x = g·W `[N, in]`, ∂L/∂W = gᵀ·x `[out, in]`, ∂L/∂b = Σₙ g `[out]` (the bias was
/// broadcast over the N rows, so its gradient is a sum over them).
///
/// Read: [docs/tensors.md, "The gradient of a broadcast is a sum"](../../docs/tensors.md#the-gradient-of-a-broadcast-is-a-sum)
/// and [docs/autograd.md, "Your own differentiable op"](../../docs/autograd.md#your-own-differentiable-op-custom_op).
#[derive(Clone, Copy)]
pub struct Linear;

impl CustomOp for Linear {
    fn name(&self) -> &str {
        "Linear"
    }
    fn forward(&self, inputs: &[Tensor]) -> Tensor {
        inputs[0].linear(&inputs[1], Some(&inputs[2]))
    }
    fn backward(&self, inputs: &[Tensor], output: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        let _ = (inputs, output, g);
        todo!()
    }
}
