//! Module 5, plausible wrong solutions: one mistake a learner makes per task, each named
//! in a comment. The crate's tests check that every grader fails them: a grader that cannot
//! fail is a defect.

use kindling::autograd::CustomOp;
use kindling::Tensor;
use kindling_exercises::given::ClassScores;

pub fn batch_norm_train(x: &Tensor, gamma: &Tensor, beta: &Tensor, eps: f32) -> Tensor {
    // MISTAKE: the unbiased variance (divide by N - 1) in the forward. PyTorch normalises
    // with the biased one and keeps the unbiased one for running_var only.
    let n = x.shape()[0] as f32;
    let mean = x.mean_dim(0, true);
    let xc = x - &mean;
    let var = (&xc * &xc).sum_dim(0, true) / (n - 1.0);
    &(&(&xc / &(var + eps).sqrt()) * gamma) + beta
}

pub fn batch_norm_eval(
    x: &Tensor,
    running_mean: &Tensor,
    running_var: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    eps: f32,
) -> Tensor {
    // MISTAKE: eval mode normalising with the batch's own statistics, as in training; the
    // running statistics are ignored (and a batch of one sample becomes all zeros).
    let _ = (running_mean, running_var);
    let mean = x.mean_dim(0, true);
    let xc = x - &mean;
    let var = (&xc * &xc).mean_dim(0, true);
    &(&(&xc / &(var + eps).sqrt()) * gamma) + beta
}

pub fn update_running_stats(
    x: &Tensor,
    running_mean: &Tensor,
    running_var: &Tensor,
    momentum: f32,
) -> (Tensor, Tensor) {
    // MISTAKE: a biased running_var (divide by N), the variance the forward normalises with.
    let mean = x.mean_dim(0, false);
    let xc = x - &mean;
    let var = (&xc * &xc).mean_dim(0, false);
    (
        &(running_mean * (1.0 - momentum)) + &(&mean * momentum),
        &(running_var * (1.0 - momentum)) + &(&var * momentum),
    )
}

pub const EPS: f32 = 1e-5;

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
    fn backward(&self, inputs: &[Tensor], _output: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        // MISTAKE: treats the batch's μ and σ² as constants, as if x̂ = (x - μ)/σ were a plain
        // affine map of x: the two mean terms of the fused formula are missing.
        let (x, gamma) = (&inputs[0], &inputs[1]);
        let mean = x.mean_dim(0, true);
        let xc = x - &mean;
        let inv_std = 1.0 / ((&xc * &xc).mean_dim(0, true) + EPS).sqrt();
        let xhat = &xc * &inv_std;
        vec![
            Some(&(g * gamma) * &inv_std),
            Some((g * &xhat).sum_dim(0, false)),
            Some(g.sum_dim(0, false)),
        ]
    }
}

pub fn class_scores(scores: &Tensor, new_student: &Tensor) -> ClassScores {
    // MISTAKE: the Keras convention for momentum (running = momentum·running +
    // (1 - momentum)·batch) with PyTorch's momentum 0.1: the running statistics move 90% of
    // the way to the batch's instead of 10%. (The rest is right, written out here so that
    // this file's other mistakes do not hide this one.)
    let (n, eps, momentum) = (scores.shape()[0] as f32, 1e-5, 0.1);
    let mean = scores.mean_dim(0, false);
    let xc = scores - &mean;
    let sq = (&xc * &xc).sum_dim(0, false);
    let train_out = &xc / &(&sq / n + eps).sqrt();
    let running_mean = &mean * (1.0 - momentum);
    let running_var = momentum + &(&sq / (n - 1.0) * (1.0 - momentum));
    let eval_out = &(new_student - &running_mean) / &(&running_var + eps).sqrt();
    ClassScores {
        train_out,
        running_mean,
        running_var,
        eval_out,
    }
}
