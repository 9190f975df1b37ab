//! Module 1: autograd by hand. You write `sum_to`, which every broadcasting op's backward
//! needs, and the backward rules of six ops as `CustomOp`s: kindling records them in the
//! graph like its own ops, so `backward()` and `gradcheck` run your rules.
//!
//! Each op's `forward` is given; write its `backward`. Grade with
//! `cargo test -p kindling-exercises task_1_ -- --ignored`, or see all tasks with
//! `cargo run -p kindling-exercises --bin scoreboard`.

use kindling::autograd::CustomOp;
use kindling::Tensor;

/// Task 1.1: sum a broadcast gradient back to the shape of the input it came from.
///
/// When `x` of shape `shape` was broadcast to `g`'s shape in the forward pass, each element
/// of `x` was used once for every position it was copied to, so its gradient is the sum of
/// `g` over those positions. Broadcasting lines shapes up from the right: drop the leading
/// dims `g` has and `shape` does not by summing over them, then sum (keeping the dim) over
/// every dim where `shape` has size 1 and `g` does not.
///
/// Shapes: `g` `[2, 3, 4]` to `[3, 4]` sums dim 0; to `[2, 1, 4]` sums dim 1 keeping it;
/// to `[]` sums everything.
///
/// Tools: `Tensor::sum_dim(dim, keepdim)`, `shape()`, `dim()`.
///
/// Read: [docs/tensors.md, "The gradient of a broadcast is a sum"](../../docs/tensors.md#the-gradient-of-a-broadcast-is-a-sum).
pub fn sum_to(g: &Tensor, shape: &[usize]) -> Tensor {
    let _ = (g, shape);
    todo!()
}

/// Task 1.2: `y = a ⊙ b` (same shapes). Write `backward`: ∂L/∂a = g ⊙ b, ∂L/∂b = g ⊙ a,
/// where `g` is ∂L/∂y. Return one `Some(gradient)` per input, each of its input's shape.
///
/// Read: [docs/autograd.md, "One expression, by hand"](../../docs/autograd.md#one-expression-by-hand)
/// and ["Your own differentiable op"](../../docs/autograd.md#your-own-differentiable-op-custom_op).
#[derive(Clone, Copy)]
pub struct Mul;

impl CustomOp for Mul {
    fn name(&self) -> &str {
        "Mul"
    }
    fn forward(&self, inputs: &[Tensor]) -> Tensor {
        &inputs[0] * &inputs[1]
    }
    fn backward(&self, inputs: &[Tensor], output: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        let _ = (inputs, output, g);
        todo!()
    }
}

/// Task 1.3: `y = a / b` (same shapes). ∂y/∂a = 1/b and ∂y/∂b = −a/b²: multiply each by `g`.
///
/// Read: [docs/autograd.md, "Your own differentiable op"](../../docs/autograd.md#your-own-differentiable-op-custom_op).
#[derive(Clone, Copy)]
pub struct Div;

impl CustomOp for Div {
    fn name(&self) -> &str {
        "Div"
    }
    fn forward(&self, inputs: &[Tensor]) -> Tensor {
        &inputs[0] / &inputs[1]
    }
    fn backward(&self, inputs: &[Tensor], output: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        let _ = (inputs, output, g);
        todo!()
    }
}

/// Task 1.4: `y = exp(x)`. dy/dx = exp(x), which the forward already computed: it is
/// `output`. Do not forget the chain rule's factor `g`.
///
/// Read: [docs/autograd.md, "Your own differentiable op"](../../docs/autograd.md#your-own-differentiable-op-custom_op).
#[derive(Clone, Copy)]
pub struct Exp;

impl CustomOp for Exp {
    fn name(&self) -> &str {
        "Exp"
    }
    fn forward(&self, inputs: &[Tensor]) -> Tensor {
        inputs[0].exp()
    }
    fn backward(&self, inputs: &[Tensor], output: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        let _ = (inputs, output, g);
        todo!()
    }
}

/// Task 1.5: `y = ln(x)` for x > 0. dy/dx = 1/x.
///
/// Read: [docs/autograd.md, "Your own differentiable op"](../../docs/autograd.md#your-own-differentiable-op-custom_op).
#[derive(Clone, Copy)]
pub struct Log;

impl CustomOp for Log {
    fn name(&self) -> &str {
        "Log"
    }
    fn forward(&self, inputs: &[Tensor]) -> Tensor {
        inputs[0].log()
    }
    fn backward(&self, inputs: &[Tensor], output: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        let _ = (inputs, output, g);
        todo!()
    }
}

/// Task 1.6: `y = tanh(x)`. dy/dx = 1 − tanh²(x) = 1 − y²: written with the output, it
/// costs no second `tanh`.
///
/// Read: [docs/autograd.md, "Checking gradients: gradcheck"](../../docs/autograd.md#checking-gradients-gradcheck).
#[derive(Clone, Copy)]
pub struct Tanh;

impl CustomOp for Tanh {
    fn name(&self) -> &str {
        "Tanh"
    }
    fn forward(&self, inputs: &[Tensor]) -> Tensor {
        inputs[0].tanh()
    }
    fn backward(&self, inputs: &[Tensor], output: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        let _ = (inputs, output, g);
        todo!()
    }
}

/// Task 1.7: `y = σ(x) = 1 / (1 + e^−x)`. dy/dx = σ(x)·(1 − σ(x)) = y·(1 − y).
///
/// Read: [docs/autograd.md, "Your own differentiable op"](../../docs/autograd.md#your-own-differentiable-op-custom_op).
#[derive(Clone, Copy)]
pub struct Sigmoid;

impl CustomOp for Sigmoid {
    fn name(&self) -> &str {
        "Sigmoid"
    }
    fn forward(&self, inputs: &[Tensor]) -> Tensor {
        inputs[0].sigmoid()
    }
    fn backward(&self, inputs: &[Tensor], output: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        let _ = (inputs, output, g);
        todo!()
    }
}
