//! Graders for module 1, autograd: `sum_to` and six backward rules written as `CustomOp`s.

use super::check::{check_backward, compare, run, CLOSE};
use super::Failure;
use kindling::autograd::{custom_op, CustomOp};
use kindling::{manual_seed, Tensor};

const SUM_TO: &str = "docs/tensors.md#the-gradient-of-a-broadcast-is-a-sum";
const CUSTOM_OP: &str = "docs/autograd.md#your-own-differentiable-op-custom_op";

/// kindling's own `sum_to` is private to its core, but a broadcast add's backward runs it:
/// the gradient reaching `x` in `x + zeros(big)` is `g` summed back to `x`'s shape.
fn builtin_sum_to(g: &Tensor, shape: &[usize]) -> Tensor {
    let x = Tensor::zeros(shape).requires_grad(true);
    (&x + &Tensor::zeros(g.shape())).backward_with(g);
    x.grad().expect("x is a leaf that requires grad")
}

/// Task 1.1: `sum_to(g, shape)` on broadcasts that drop leading dims, keep size-1 dims, or
/// both; the square case tells the leading axis from the trailing one.
pub fn grade_sum_to(f: impl Fn(&Tensor, &[usize]) -> Tensor) -> Result<(), Failure> {
    manual_seed(11);
    let cases: [(&[usize], &[usize]); 7] = [
        (&[2, 3], &[2, 3]),
        (&[4, 4], &[4]),
        (&[2, 3, 4], &[3, 4]),
        (&[2, 3, 4], &[2, 1, 4]),
        (&[2, 3, 4], &[3, 1]),
        (&[3, 1, 5], &[1, 5]),
        (&[2, 3], &[]),
    ];
    for (big, small) in cases {
        let g = Tensor::randn(big);
        let check = format!("sum_to of a {big:?} gradient to {small:?}");
        let got = run(&check, || f(&g, small)).map_err(|e| e.hint(SUM_TO))?;
        compare(&check, &builtin_sum_to(&g, small), &got, CLOSE).map_err(|e| e.hint(SUM_TO))?;
    }
    Ok(())
}

/// A binary op's backward, on same-shape inputs from `make_inputs`.
fn grade_binary(
    what: &str,
    op: impl CustomOp + Clone,
    builtin: fn(&Tensor, &Tensor) -> Tensor,
    inputs: [Tensor; 2],
) -> Result<(), Failure> {
    check_backward(
        what,
        |t| custom_op(op.clone(), &[&t[0], &t[1]]),
        |t| builtin(&t[0], &t[1]),
        &inputs,
        &["a", "b"],
    )
    .map_err(|e| e.hint(CUSTOM_OP))
}

fn grade_unary(
    what: &str,
    op: impl CustomOp + Clone,
    builtin: fn(&Tensor) -> Tensor,
    x: Tensor,
) -> Result<(), Failure> {
    check_backward(
        what,
        |t| custom_op(op.clone(), &[&t[0]]),
        |t| builtin(&t[0]),
        &[x],
        &["x"],
    )
    .map_err(|e| e.hint(CUSTOM_OP))
}

/// Task 1.2: the backward rule of `a * b`.
pub fn grade_mul(op: impl CustomOp + Clone) -> Result<(), Failure> {
    manual_seed(12);
    let inputs = [Tensor::randn(&[3, 4]), Tensor::randn(&[3, 4])];
    grade_binary("Mul backward", op, |a, b| a * b, inputs)
}

/// Task 1.3: the backward rule of `a / b`, with `b` kept away from 0.
pub fn grade_div(op: impl CustomOp + Clone) -> Result<(), Failure> {
    manual_seed(13);
    let inputs = [
        Tensor::randn(&[3, 4]),
        super::check::away_from_zero(&[3, 4], 0.5, 2.0),
    ];
    grade_binary("Div backward", op, |a, b| a / b, inputs)
}

/// Task 1.4: the backward rule of `exp`.
pub fn grade_exp(op: impl CustomOp + Clone) -> Result<(), Failure> {
    manual_seed(14);
    grade_unary("Exp backward", op, |x| x.exp(), Tensor::randn(&[3, 4]))
}

/// Task 1.5: the backward rule of `log`, on positive inputs.
pub fn grade_log(op: impl CustomOp + Clone) -> Result<(), Failure> {
    manual_seed(15);
    let x = &(&Tensor::rand(&[3, 4]) * 3.0) + 0.2;
    grade_unary("Log backward", op, |x| x.log(), x)
}

/// Task 1.6: the backward rule of `tanh`.
pub fn grade_tanh(op: impl CustomOp + Clone) -> Result<(), Failure> {
    manual_seed(16);
    grade_unary(
        "Tanh backward",
        op,
        |x| x.tanh(),
        &Tensor::randn(&[3, 4]) * 1.5,
    )
}

/// Task 1.7: the backward rule of `sigmoid`.
pub fn grade_sigmoid(op: impl CustomOp + Clone) -> Result<(), Failure> {
    manual_seed(17);
    grade_unary(
        "Sigmoid backward",
        op,
        |x| x.sigmoid(),
        &Tensor::randn(&[3, 4]) * 2.0,
    )
}
