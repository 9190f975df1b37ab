//! Module 6, plausible wrong solutions: one mistake a learner makes per task, each named
//! in a comment. The crate's tests check that every grader fails them: a grader that cannot
//! fail is a defect.

use kindling_exercises::given::{AdamConfig, AdamState, SgdConfig};

pub fn sgd_step(param: &mut [f32], grad: &[f32], buf: &mut Option<Vec<f32>>, cfg: &SgdConfig) {
    let mut d: Vec<f32> = grad
        .iter()
        .zip(param.iter())
        .map(|(g, p)| g + cfg.weight_decay * p)
        .collect();
    if cfg.momentum != 0.0 {
        let b = match buf.take() {
            // PyTorch's first momentum step copies the gradient: no dampening yet.
            None => d.clone(),
            Some(mut b) => {
                for (b, g) in b.iter_mut().zip(&d) {
                    *b = cfg.momentum * *b + (1.0 - cfg.dampening) * g;
                }
                b
            }
        };
        // MISTAKE: Nesterov ignored: the step always follows the buffer, where Nesterov's
        // looks ahead along g + μ·buf.
        d.clone_from(&b);
        *buf = Some(b);
    }
    for (p, d) in param.iter_mut().zip(&d) {
        *p -= cfg.lr * d;
    }
}

pub fn adam_step(param: &mut [f32], grad: &[f32], state: &mut AdamState, cfg: &AdamConfig) {
    // MISTAKE: no bias correction: m and v start at 0, so early on m is too small and v far
    // too small, and the first steps are about 3x too long with PyTorch's betas.
    state.step += 1;
    for i in 0..param.len() {
        let g = grad[i] + cfg.weight_decay * param[i];
        state.m[i] = cfg.beta1 * state.m[i] + (1.0 - cfg.beta1) * g;
        state.v[i] = cfg.beta2 * state.v[i] + (1.0 - cfg.beta2) * g * g;
        param[i] -= cfg.lr * state.m[i] / (state.v[i].sqrt() + cfg.eps);
    }
}
