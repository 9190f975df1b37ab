//! The whole-program switch between the reference kernels in `ops/` and the fast ones in
//! `kernels/`: one training step of a small CNN (conv, batch norm, ReLU, max-pool, linear,
//! cross-entropy) gives the same loss and gradients either way, to rounding. Its own test
//! binary, because the switch is process-wide.

use kindling_core::kernels::{set_kernels, Kernels};
use kindling_core::{manual_seed, Tensor};

/// Loss and every gradient of one step, for input images large enough to take the fast
/// kernels' threaded paths.
fn step(kernels: Kernels) -> Vec<Vec<f32>> {
    set_kernels(kernels);
    manual_seed(11);
    let x = Tensor::randn(&[8, 2, 12, 12]);
    let params = [
        (Tensor::randn(&[6, 2, 3, 3]) * 0.3),
        Tensor::randn(&[6]) * 0.1,
        Tensor::ones(&[6]) + Tensor::randn(&[6]) * 0.1,
        Tensor::randn(&[6]) * 0.1,
        Tensor::randn(&[5, 6 * 6 * 6]) * 0.05,
        Tensor::randn(&[5]) * 0.1,
    ]
    .map(|p| p.requires_grad(true));
    let [w1, b1, gamma, beta, w2, b2] = &params;
    let (rm, rv) = (Tensor::zeros(&[6]), Tensor::ones(&[6]));
    let h = x
        .conv2d(w1, Some(b1), 1, 1)
        .batch_norm(
            Some(&rm),
            Some(&rv),
            Some(gamma),
            Some(beta),
            true,
            0.1,
            1e-5,
        )
        .relu()
        .max_pool2d(2, 2)
        .flatten_from(1);
    let logits = h.linear(w2, Some(b2));
    let targets = [0, 1, 2, 3, 4, 0, 1, 2];
    let loss = logits.log_softmax(1).nll_loss(&targets);
    loss.backward();
    let mut out = vec![loss.to_vec(), rm.to_vec(), rv.to_vec()];
    out.extend(params.iter().map(|p| p.grad().unwrap().to_vec()));
    out
}

#[test]
fn reference_and_fast_kernels_train_the_same_step() {
    let fast = step(Kernels::Fast);
    let reference = step(Kernels::Reference);
    set_kernels(Kernels::Fast);
    let names = [
        "loss",
        "running_mean",
        "running_var",
        "dW1",
        "db1",
        "dγ",
        "dβ",
        "dW2",
        "db2",
    ];
    for ((name, f), r) in names.iter().zip(&fast).zip(&reference) {
        let scale = r.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        for (i, (a, b)) in f.iter().zip(r).enumerate() {
            assert!(
                (a - b).abs() <= 1e-4 * scale.max(1e-3),
                "{name}[{i}]: fast {a}, reference {b}"
            );
        }
    }
}
