//! One small case per update rule, worked out by hand (the arithmetic is in the comments),
//! so that each rule can be checked without PyTorch at all.

use kindling_core::Tensor;
use kindling_optim::{Adam, AdamW, Optimizer, Sgd};

fn scalar_param(value: f32) -> Tensor {
    Tensor::from_vec(vec![value], &[1]).requires_grad(true)
}

/// Sets the gradient of `p` to each of `grads` in turn, steps, and returns the values.
fn trajectory(opt: &mut dyn Optimizer, p: &Tensor, grads: &[f32]) -> Vec<f32> {
    grads
        .iter()
        .map(|&g| {
            p.set_grad(Some(Tensor::from_vec(vec![g], &[1])));
            opt.step();
            p.item()
        })
        .collect()
}

fn assert_close(got: &[f32], want: &[f64]) {
    assert_eq!(got.len(), want.len());
    for (step, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            (f64::from(g) - w).abs() <= 1e-6 * w.abs().max(1e-3),
            "step {}: got {g}, by hand {w}",
            step + 1
        );
    }
}

#[test]
fn sgd_plain() {
    // θ = 1, lr 0.1, g = 2 then −1: θ = 1 − 0.2 = 0.8, then 0.8 + 0.1 = 0.9.
    let p = scalar_param(1.0);
    let mut opt = Sgd::new(vec![p.clone()], 0.1);
    assert_close(&trajectory(&mut opt, &p, &[2.0, -1.0]), &[0.8, 0.9]);
}

#[test]
fn sgd_momentum() {
    // θ = 1, lr 0.1, μ 0.9, g = 1, 1.
    // step 1: b = g = 1 (the raw gradient, no dampening): θ = 1 − 0.1·1 = 0.9
    // step 2: b = 0.9·1 + 1 = 1.9: θ = 0.9 − 0.1·1.9 = 0.71
    let p = scalar_param(1.0);
    let mut opt = Sgd::new(vec![p.clone()], 0.1).momentum(0.9);
    assert_close(&trajectory(&mut opt, &p, &[1.0, 1.0]), &[0.9, 0.71]);
}

#[test]
fn sgd_momentum_with_dampening() {
    // θ = 0, lr 0.5, μ 0.5, τ 0.5, g = 4, 2, 2.
    // step 1: b = 4 (dampening not applied yet): θ = −2
    // step 2: b = 0.5·4 + 0.5·2 = 3: θ = −2 − 1.5 = −3.5
    // step 3: b = 0.5·3 + 0.5·2 = 2.5: θ = −3.5 − 1.25 = −4.75
    // (with dampening on step 1 too, b would be 2 and θ₁ = −1)
    let p = scalar_param(0.0);
    let mut opt = Sgd::new(vec![p.clone()], 0.5).momentum(0.5).dampening(0.5);
    assert_eq!(
        trajectory(&mut opt, &p, &[4.0, 2.0, 2.0]),
        vec![-2.0, -3.5, -4.75]
    );
}

#[test]
fn sgd_nesterov() {
    // θ = 0, lr 0.5, μ 0.5, Nesterov, g = 4, 2.
    // step 1: b = 4; g + μ·b = 4 + 2 = 6: θ = −3
    // step 2: b = 0.5·4 + 2 = 4; g + μ·b = 2 + 2 = 4: θ = −3 − 2 = −5
    let p = scalar_param(0.0);
    let mut opt = Sgd::new(vec![p.clone()], 0.5).momentum(0.5).nesterov(true);
    assert_eq!(trajectory(&mut opt, &p, &[4.0, 2.0]), vec![-3.0, -5.0]);
}

#[test]
fn sgd_weight_decay() {
    // θ = 2, lr 0.5, λ 0.5, g = 1: g + λθ = 1 + 1 = 2: θ = 2 − 1 = 1
    // then g = 0: g + λθ = 0.5: θ = 1 − 0.25 = 0.75
    let p = scalar_param(2.0);
    let mut opt = Sgd::new(vec![p.clone()], 0.5).weight_decay(0.5);
    assert_eq!(trajectory(&mut opt, &p, &[1.0, 0.0]), vec![1.0, 0.75]);
}

#[test]
fn adam() {
    // θ = 1, lr 0.1, β = (0.9, 0.999), ε = 1e-8, g = 4, 2.
    // step 1: m = 0.1·4 = 0.4, v = 0.001·16 = 0.016; m̂ = 0.4/0.1 = 4, v̂ = 0.016/0.001 = 16:
    //         θ = 1 − 0.1·4/(4 + 1e-8) = 0.90000000025
    // step 2: m = 0.9·0.4 + 0.1·2 = 0.56, v = 0.999·0.016 + 0.001·4 = 0.019984;
    //         m̂ = 0.56/0.19 = 2.9473684, v̂ = 0.019984/0.001999 = 9.9969985, √v̂ = 3.1618030:
    //         θ = 0.9 − 0.1·2.9473684/3.1618030 = 0.9 − 0.0932180 = 0.8067820
    let p = scalar_param(1.0);
    let mut opt = Adam::new(vec![p.clone()], 0.1);
    assert_close(
        &trajectory(&mut opt, &p, &[4.0, 2.0]),
        &[0.900_000_000_25, 0.806_782_04],
    );
}

#[test]
fn adam_weight_decay_goes_into_the_gradient() {
    // θ = 1, lr 0.1, λ 1, g = 3: the gradient becomes 3 + 1·1 = 4, and Adam's first step
    // moves θ by lr·sign whatever the size: θ = 1 − 0.1 = 0.9 (to 1e-8).
    // step 2, g = 1.1: gradient 1.1 + 0.9 = 2, the same as `adam` above: θ = 0.8067820.
    let p = scalar_param(1.0);
    let mut opt = Adam::new(vec![p.clone()], 0.1).weight_decay(1.0);
    assert_close(&trajectory(&mut opt, &p, &[3.0, 1.1]), &[0.9, 0.806_782_04]);
}

#[test]
fn adam_amsgrad() {
    // θ = 1, lr 0.1, defaults, AMSGrad, g = 4, 0.
    // step 1 as in `adam`: v = 0.016, max = 0.016, θ = 0.9
    // step 2: m = 0.36, v = 0.999·0.016 = 0.015984 < max = 0.016, so the max is used:
    //         denom = √0.016/√0.001999 = 2.8291345; m̂ = 0.36/0.19 = 1.8947368:
    //         θ = 0.9 − 0.1·1.8947368/2.8291345 = 0.8330277
    //         (with v instead: denom 2.8277196, θ = 0.8329942)
    let p = scalar_param(1.0);
    let mut opt = Adam::new(vec![p.clone()], 0.1).amsgrad(true);
    assert_close(&trajectory(&mut opt, &p, &[4.0, 0.0]), &[0.9, 0.833_027_69]);
}

#[test]
fn adamw_decoupled_weight_decay() {
    // θ = 1, lr 0.1, λ 0.5, g = 4, 2: each step first θ·(1 − 0.1·0.5) = θ·0.95, then the
    // same Adam moves as in `adam` (the decay does not enter m or v).
    // step 1: 0.95 − 0.1·4/(4 + 1e-8) = 0.85
    // step 2: 0.85·0.95 = 0.8075; 0.8075 − 0.0932180 = 0.7142820
    let p = scalar_param(1.0);
    let mut opt = AdamW::new(vec![p.clone()], 0.1).weight_decay(0.5);
    assert_close(
        &trajectory(&mut opt, &p, &[4.0, 2.0]),
        &[0.85, 0.714_282_04],
    );
}
