//! Module 5, the reference solutions: compiled only by the crate's own tests
//! (tests/graders.rs), which check that every grader passes them. Delete this folder
//! before handing the track out.

use kindling::autograd::CustomOp;
use kindling::Tensor;
use kindling_exercises::given::ClassScores;

pub fn batch_norm_train(x: &Tensor, gamma: &Tensor, beta: &Tensor, eps: f32) -> Tensor {
    let mean = x.mean_dim(0, true);
    let xc = x - &mean;
    // The biased variance: divide by N, as PyTorch's forward does.
    let var = (&xc * &xc).mean_dim(0, true);
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
    let xhat = &(x - running_mean) / &(running_var + eps).sqrt();
    &(&xhat * gamma) + beta
}

pub fn update_running_stats(
    x: &Tensor,
    running_mean: &Tensor,
    running_var: &Tensor,
    momentum: f32,
) -> (Tensor, Tensor) {
    let n = x.shape()[0] as f32;
    let mean = x.mean_dim(0, false);
    let xc = x - &mean;
    // The unbiased variance: the running estimate stands for the whole population.
    let var = (&xc * &xc).sum_dim(0, false) / (n - 1.0);
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
        let (x, gamma) = (&inputs[0], &inputs[1]);
        let mean = x.mean_dim(0, true);
        let xc = x - &mean;
        let inv_std = 1.0 / ((&xc * &xc).mean_dim(0, true) + EPS).sqrt();
        let xhat = &xc * &inv_std;
        let gh = g * gamma;
        // The two means carry the paths through μ and σ², which every x of the column feeds.
        let dx = &(&(&gh - &gh.mean_dim(0, true)) - &(&xhat * &(&gh * &xhat).mean_dim(0, true)))
            * &inv_std;
        vec![
            Some(dx),
            Some((g * &xhat).sum_dim(0, false)),
            Some(g.sum_dim(0, false)),
        ]
    }
}

pub fn class_scores(scores: &Tensor, new_student: &Tensor) -> ClassScores {
    let c = scores.shape()[1];
    let (gamma, beta) = (Tensor::ones(&[c]), Tensor::zeros(&[c]));
    let (eps, momentum) = (1e-5, 0.1);
    let train_out = batch_norm_train(scores, &gamma, &beta, eps);
    let (running_mean, running_var) =
        update_running_stats(scores, &Tensor::zeros(&[c]), &Tensor::ones(&[c]), momentum);
    let eval_out = batch_norm_eval(new_student, &running_mean, &running_var, &gamma, &beta, eps);
    ClassScores {
        train_out,
        running_mean,
        running_var,
        eval_out,
    }
}
