//! Graders for module 5, BatchNorm: each part against kindling's `batch_norm` (held to
//! PyTorch's BatchNorm1d by the workspace's golden tests) and the lesson against PyTorch.

use super::check::{check_backward, compare, fixture, run, CLOSE};
use super::Failure;
use crate::given::ClassScores;
use kindling::autograd::{custom_op, CustomOp};
use kindling::{manual_seed, Tensor};

const FORMULAS: &str = "docs/batchnorm.md#the-formulas";
const EVAL: &str = "docs/batchnorm.md#train-against-eval";
const RUNNING: &str = "docs/batchnorm.md#biased-against-unbiased-variance";
const BACKWARD: &str = "docs/batchnorm.md#what-backward-does";
const LESSON: &str = "docs/batchnorm.md#kindlings-numbers-next-to-the-code";

/// A batch whose columns have different means and spreads, as real features do.
fn features(n: usize, c: usize) -> Tensor {
    let offsets = Tensor::randn(&[c]) * 5.0;
    let scales = Tensor::rand(&[c]) * 3.0 + 0.5;
    &(&Tensor::randn(&[n, c]) * &scales) + &offsets
}

/// Task 5.1: against kindling's training-mode `batch_norm`, with N = 8 and N = 2 (where
/// the biased and unbiased variances differ by a factor of 2).
pub fn grade_batch_norm_train(
    f: impl Fn(&Tensor, &Tensor, &Tensor, f32) -> Tensor,
) -> Result<(), Failure> {
    manual_seed(51);
    for n in [8, 2] {
        let x = features(n, 5);
        let (gamma, beta) = (Tensor::randn(&[5]), Tensor::randn(&[5]));
        let eps = 1e-5;
        let expected = x.batch_norm(None, None, Some(&gamma), Some(&beta), true, 0.1, eps);
        let check = format!("training-mode BatchNorm of a [{n}, 5] batch");
        let got = run(&check, || f(&x, &gamma, &beta, eps)).map_err(|e| e.hint(FORMULAS))?;
        compare(&check, &expected, &got, CLOSE).map_err(|e| e.hint(FORMULAS))?;
    }
    Ok(())
}

/// Task 5.2: against kindling's eval-mode `batch_norm`, on a batch of 6 and a batch of 1,
/// with running statistics far from the batch's.
pub fn grade_batch_norm_eval(
    f: impl Fn(&Tensor, &Tensor, &Tensor, &Tensor, &Tensor, f32) -> Tensor,
) -> Result<(), Failure> {
    manual_seed(52);
    for n in [6, 1] {
        let x = features(n, 4);
        let rm = Tensor::randn(&[4]);
        let rv = Tensor::rand(&[4]) * 2.0 + 0.1;
        let (gamma, beta) = (Tensor::randn(&[4]), Tensor::randn(&[4]));
        let eps = 1e-3;
        let expected = x.batch_norm(
            Some(&rm),
            Some(&rv),
            Some(&gamma),
            Some(&beta),
            false,
            0.1,
            eps,
        );
        let check = format!("eval-mode BatchNorm of a [{n}, 4] batch");
        let got = run(&check, || f(&x, &rm, &rv, &gamma, &beta, eps)).map_err(|e| e.hint(EVAL))?;
        compare(&check, &expected, &got, CLOSE).map_err(|e| e.hint(EVAL))?;
    }
    Ok(())
}

/// Task 5.3: against the running statistics kindling's `batch_norm` writes, over three
/// steps with two momenta.
pub fn grade_update_running_stats(
    f: impl Fn(&Tensor, &Tensor, &Tensor, f32) -> (Tensor, Tensor),
) -> Result<(), Failure> {
    manual_seed(53);
    for momentum in [0.1, 0.3] {
        let (rm, rv) = (Tensor::zeros(&[3]), Tensor::ones(&[3]));
        let (mut mine_m, mut mine_v) = (rm.copy(), rv.copy());
        for step in 1..=3 {
            let x = features(5, 3);
            x.batch_norm(Some(&rm), Some(&rv), None, None, true, momentum, 1e-5);
            let check = format!("running statistics after step {step}, momentum {momentum}");
            let (m, v) =
                run(&check, || f(&x, &mine_m, &mine_v, momentum)).map_err(|e| e.hint(RUNNING))?;
            compare(&format!("{check}: running_mean"), &rm, &m, CLOSE)
                .map_err(|e| e.hint(RUNNING))?;
            compare(&format!("{check}: running_var"), &rv, &v, CLOSE)
                .map_err(|e| e.hint(RUNNING))?;
            (mine_m, mine_v) = (m, v);
        }
    }
    Ok(())
}

/// Task 5.4: gradients of x, γ and β against kindling's `batch_norm`, then gradcheck.
pub fn grade_batch_norm_backward(op: impl CustomOp + Clone) -> Result<(), Failure> {
    manual_seed(54);
    let inputs = [features(6, 4), Tensor::randn(&[4]), Tensor::randn(&[4])];
    check_backward(
        "BatchNorm backward",
        |t| custom_op(op.clone(), &[&t[0], &t[1], &t[2]]),
        |t| t[0].batch_norm(None, None, Some(&t[1]), Some(&t[2]), true, 0.1, 1e-5),
        &inputs,
        &["x", "gamma", "beta"],
    )
    .map_err(|e| e.hint(BACKWARD))
}

/// Task 5.5: the class-scores lesson against the numbers PyTorch prints.
pub fn grade_class_scores(f: impl Fn(&Tensor, &Tensor) -> ClassScores) -> Result<(), Failure> {
    let case = "class_scores";
    let (scores, student) = (fixture(case, "input"), fixture(case, "new_student"));
    let got =
        run("the class-scores lesson", || f(&scores, &student)).map_err(|e| e.hint(LESSON))?;
    for (key, t) in [
        ("train_out", &got.train_out),
        ("running_mean", &got.running_mean),
        ("running_var", &got.running_var),
        ("eval_out", &got.eval_out),
    ] {
        let check = format!("class scores: {key} (PyTorch's number)");
        compare(&check, &fixture(case, key), t, CLOSE).map_err(|e| e.hint(LESSON))?;
    }
    Ok(())
}
