//! Graders for module 3: stable log-softmax, cross-entropy, and its backward rule.

use super::check::{check_backward, compare, fixture, run, CLOSE};
use super::Failure;
use kindling::autograd::{custom_op, CustomOp};
use kindling::nn::functional;
use kindling::{manual_seed, Tensor};

const SOFTMAX: &str = "docs/softmax-cross-entropy.md (and docs/tensors.md#softmax)";
const CUSTOM_OP: &str =
    "docs/softmax-cross-entropy.md (and docs/autograd.md#your-own-differentiable-op-custom_op)";

/// Task 3.1: random logits against kindling's `log_softmax`, then PyTorch's answer on
/// logits large enough to overflow an unshifted exp.
pub fn grade_log_softmax(f: impl Fn(&Tensor) -> Tensor) -> Result<(), Failure> {
    manual_seed(31);
    let x = &Tensor::randn(&[4, 6]) * 3.0;
    let check = "log_softmax of random [4, 6] logits";
    let got = run(check, || f(&x)).map_err(|e| e.hint(SOFTMAX))?;
    compare(check, &x.log_softmax(1), &got, CLOSE).map_err(|e| e.hint(SOFTMAX))?;

    let big = fixture("log_softmax_large", "input");
    let check = "log_softmax of logits up to 1000 (PyTorch's answer)";
    let got = run(check, || f(&big)).map_err(|e| e.hint(SOFTMAX))?;
    compare(check, &fixture("log_softmax_large", "output"), &got, CLOSE)
        .map_err(|e| e.hint(SOFTMAX))
}

/// Task 3.2: PyTorch's loss on its fixture, then kindling's `cross_entropy` on random logits.
pub fn grade_cross_entropy(f: impl Fn(&Tensor, &[usize]) -> Tensor) -> Result<(), Failure> {
    let logits = fixture("cross_entropy", "logits");
    let targets: Vec<usize> = fixture("cross_entropy", "targets")
        .to_vec()
        .iter()
        .map(|&t| t as usize)
        .collect();
    let check = "cross_entropy of [5, 7] logits (PyTorch's answer)";
    let got = run(check, || f(&logits, &targets)).map_err(|e| e.hint(SOFTMAX))?;
    compare(check, &fixture("cross_entropy", "loss"), &got, CLOSE).map_err(|e| e.hint(SOFTMAX))?;

    manual_seed(32);
    let x = &Tensor::randn(&[8, 3]) * 2.0;
    let targets = [0, 2, 1, 1, 0, 2, 2, 1];
    let check = "cross_entropy of random [8, 3] logits";
    let got = run(check, || f(&x, &targets)).map_err(|e| e.hint(SOFTMAX))?;
    compare(check, &functional::cross_entropy(&x, &targets), &got, CLOSE)
        .map_err(|e| e.hint(SOFTMAX))
}

/// Task 3.3: the gradient PyTorch computed, then kindling's gradient for a random upstream,
/// then gradcheck. The targets are held fixed: a nudged class index means nothing.
pub fn grade_cross_entropy_backward(op: impl CustomOp + Clone) -> Result<(), Failure> {
    let logits = fixture("cross_entropy", "logits");
    let targets = fixture("cross_entropy", "targets");
    let check = "CrossEntropy backward on PyTorch's [5, 7] case";
    let got = run(check, || {
        let x = logits.detach().requires_grad(true);
        custom_op(op.clone(), &[&x, &targets]).backward();
        x.grad()
    })
    .map_err(|e| e.hint(CUSTOM_OP))?;
    let Some(got) = got else {
        return Err(Failure::wrong(check, "the logits got no gradient").hint(CUSTOM_OP));
    };
    compare(check, &fixture("cross_entropy", "grad"), &got, CLOSE)
        .map_err(|e| e.hint(CUSTOM_OP))?;

    manual_seed(33);
    let x = &Tensor::randn(&[6, 4]) * 2.0;
    let labels = [3usize, 0, 1, 3, 2, 0];
    let t = Tensor::from_vec(labels.iter().map(|&l| l as f32).collect(), &[6]);
    check_backward(
        "CrossEntropy backward",
        |i| custom_op(op.clone(), &[&i[0], &t]),
        |i| functional::cross_entropy(&i[0], &labels),
        &[x],
        &["logits"],
    )
    .map_err(|e| e.hint(CUSTOM_OP))
}
