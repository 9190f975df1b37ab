//! Module 6, the reference solutions: compiled only by the crate's own tests
//! (tests/graders.rs), which check that every grader passes them. Delete this folder
//! before handing the track out.

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
        if cfg.nesterov {
            for (d, b) in d.iter_mut().zip(&b) {
                *d += cfg.momentum * b;
            }
        } else {
            d.clone_from(&b);
        }
        *buf = Some(b);
    }
    for (p, d) in param.iter_mut().zip(&d) {
        *p -= cfg.lr * d;
    }
}

pub fn adam_step(param: &mut [f32], grad: &[f32], state: &mut AdamState, cfg: &AdamConfig) {
    state.step += 1;
    let t = state.step as i32;
    // The corrections in f64, as PyTorch computes them with Python floats.
    let bc1 = 1.0 - (cfg.beta1 as f64).powi(t);
    let bc2 = 1.0 - (cfg.beta2 as f64).powi(t);
    for i in 0..param.len() {
        let g = grad[i] + cfg.weight_decay * param[i];
        state.m[i] = cfg.beta1 * state.m[i] + (1.0 - cfg.beta1) * g;
        state.v[i] = cfg.beta2 * state.v[i] + (1.0 - cfg.beta2) * g * g;
        let m_hat = state.m[i] as f64 / bc1;
        let v_hat = state.v[i] as f64 / bc2;
        param[i] -= (cfg.lr as f64 * m_hat / (v_hat.sqrt() + cfg.eps as f64)) as f32;
    }
}
