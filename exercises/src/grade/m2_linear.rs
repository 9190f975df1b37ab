//! Graders for module 2: the linear layer's forward and backward against kindling's
//! `linear` (the op behind `nn::Linear`), on a non-square weight so that a missing
//! transpose cannot pass.

use super::check::{check_backward, compare, run, CLOSE};
use super::Failure;
use kindling::autograd::{custom_op, CustomOp};
use kindling::{manual_seed, Tensor};

const MATMUL: &str = "docs/tensors.md#matrix-products";
const BACKWARD: &str = "docs/tensors.md#the-gradient-of-a-broadcast-is-a-sum";

/// Task 2.1.
pub fn grade_linear(f: impl Fn(&Tensor, &Tensor, &Tensor) -> Tensor) -> Result<(), Failure> {
    manual_seed(21);
    let (x, w, b) = (
        Tensor::randn(&[5, 3]),
        Tensor::randn(&[4, 3]),
        Tensor::randn(&[4]),
    );
    let check = "linear of x [5, 3] with W [4, 3], b [4]";
    let got = run(check, || f(&x, &w, &b)).map_err(|e| e.hint(MATMUL))?;
    compare(check, &x.linear(&w, Some(&b)), &got, CLOSE).map_err(|e| e.hint(MATMUL))
}

/// Task 2.2.
pub fn grade_linear_backward(op: impl CustomOp + Clone) -> Result<(), Failure> {
    manual_seed(22);
    let inputs = [
        Tensor::randn(&[5, 3]),
        Tensor::randn(&[4, 3]),
        Tensor::randn(&[4]),
    ];
    check_backward(
        "Linear backward",
        |t| custom_op(op.clone(), &[&t[0], &t[1], &t[2]]),
        |t| t[0].linear(&t[1], Some(&t[2])),
        &inputs,
        &["x", "w", "b"],
    )
    .map_err(|e| e.hint(BACKWARD))
}
