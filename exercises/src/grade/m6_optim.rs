//! Graders for module 6: the learner's optimizer steps next to kindling's `optim::Sgd` and
//! `optim::Adam`, step for step, on the same parameters and gradients.

use super::check::{compare_values, run, Tol};
use super::Failure;
use crate::given::{AdamConfig, AdamState, SgdConfig};
use kindling::optim::{Adam, Optimizer, Sgd};
use kindling::{manual_seed, Tensor};

const SGD: &str = "docs/optimizers.md#sgd";
const ADAM: &str = "docs/optimizers.md#adam";

/// kindling fuses multiply-adds as PyTorch does; a learner's plain `a * b + c` differs in
/// the last bits, so the comparison allows a few roundings per step.
const STEPS: Tol = Tol {
    atol: 1e-6,
    rtol: 1e-5,
};

const N: usize = 7;
const STEP_COUNT: usize = 6;

/// Runs `STEP_COUNT` steps of the learner's `step` next to kindling's optimizer `opt` on
/// the leaf `p`, comparing the parameter after each step.
fn side_by_side(
    what: &str,
    p: &Tensor,
    opt: &mut dyn Optimizer,
    mut step: impl FnMut(&mut [f32], &[f32]),
    hint: &'static str,
) -> Result<(), Failure> {
    let mut mine = p.to_vec();
    for k in 1..=STEP_COUNT {
        let g = Tensor::randn(&[N]);
        p.set_grad(Some(g.copy()));
        opt.step();
        let check = format!("{what}, after step {k}");
        let g = g.to_vec();
        run(&check, || step(&mut mine, &g)).map_err(|e| e.hint(hint))?;
        compare_values(&check, &p.to_vec(), &mine, &[N], STEPS).map_err(|e| e.hint(hint))?;
    }
    Ok(())
}

/// Task 6.1: four settings, from plain SGD to Nesterov momentum with weight decay.
pub fn grade_sgd(
    f: impl Fn(&mut [f32], &[f32], &mut Option<Vec<f32>>, &SgdConfig),
) -> Result<(), Failure> {
    manual_seed(61);
    let configs = [
        (0.1, 0.0, 0.0, 0.0, false),
        (0.1, 0.9, 0.0, 0.0, false),
        (0.05, 0.9, 0.5, 0.01, false),
        (0.05, 0.8, 0.0, 0.01, true),
    ];
    for (lr, momentum, dampening, weight_decay, nesterov) in configs {
        let cfg = SgdConfig {
            lr,
            momentum,
            dampening,
            weight_decay,
            nesterov,
        };
        let p = Tensor::randn(&[N]).requires_grad(true);
        let mut opt = Sgd::new(vec![p.clone()], lr)
            .momentum(momentum)
            .dampening(dampening)
            .weight_decay(weight_decay)
            .nesterov(nesterov);
        let mut buf = None;
        let what = format!("SGD with {cfg:?}");
        side_by_side(&what, &p, &mut opt, |w, g| f(w, g, &mut buf, &cfg), SGD)?;
    }
    Ok(())
}

/// Task 6.2: PyTorch's defaults, then other betas with weight decay.
pub fn grade_adam(
    f: impl Fn(&mut [f32], &[f32], &mut AdamState, &AdamConfig),
) -> Result<(), Failure> {
    manual_seed(62);
    let configs = [(1e-3, 0.9, 0.999, 1e-8, 0.0), (1e-2, 0.8, 0.99, 1e-6, 0.01)];
    for (lr, beta1, beta2, eps, weight_decay) in configs {
        let cfg = AdamConfig {
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
        };
        let p = Tensor::randn(&[N]).requires_grad(true);
        let mut opt = Adam::new(vec![p.clone()], lr)
            .betas(beta1, beta2)
            .eps(eps)
            .weight_decay(weight_decay);
        let mut state = AdamState::new(N);
        let what = format!("Adam with {cfg:?}");
        side_by_side(&what, &p, &mut opt, |w, g| f(w, g, &mut state, &cfg), ADAM)?;
    }
    Ok(())
}
