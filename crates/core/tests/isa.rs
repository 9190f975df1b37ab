//! kindling's own loops give the same bits whatever instruction set runs them.
//!
//! `KINDLING_ISA` (or `set_isa`) picks AVX-512, AVX2 or plain code for the element-wise,
//! BatchNorm, pooling and optimizer loops. Each path computes the same operations in the
//! same order, so one training step must produce bit-identical losses and gradients on
//! every path this CPU has. (The SGEMM is the `gemm` crate's, chosen from the CPU alone,
//! so it is the same in all three runs.) One test in its own binary: `set_isa` is
//! process-wide.

use kindling::kernels::{isa, set_isa, Isa};
use kindling::{manual_seed, Tensor};

/// One conv → BN → ReLU → pool → linear → log-softmax step; returns every number it made.
fn step() -> Vec<Vec<u32>> {
    manual_seed(7);
    let x = Tensor::randn(&[8, 3, 12, 12]).requires_grad(true);
    let w = Tensor::randn(&[6, 3, 3, 3]).requires_grad(true);
    let b = Tensor::randn(&[6]).requires_grad(true);
    let gamma = Tensor::rand(&[6]).requires_grad(true);
    let beta = Tensor::randn(&[6]).requires_grad(true);
    let fc = Tensor::randn(&[10, 6 * 6 * 6]).requires_grad(true);
    let (rm, rv) = (Tensor::zeros(&[6]), Tensor::ones(&[6]));
    let h = x.conv2d(&w, Some(&b), 1, 1);
    let h = h.batch_norm(
        Some(&rm),
        Some(&rv),
        Some(&gamma),
        Some(&beta),
        true,
        0.1,
        1e-5,
    );
    let h = h.relu().max_pool2d(2, 2).reshape(&[8, 216]);
    let logits = h.linear(&fc, None);
    let loss = logits.log_softmax(1).sum();
    loss.backward();
    let bits = |t: &Tensor| t.to_vec().iter().map(|v| v.to_bits()).collect();
    let mut out = vec![
        bits(&loss),
        bits(&rm),
        bits(&rv),
        bits(&logits.tanh().exp()),
    ];
    for p in [&x, &w, &b, &gamma, &beta, &fc] {
        out.push(bits(&p.grad().unwrap()));
    }
    out
}

#[test]
fn every_instruction_set_gives_the_same_bits() {
    let best = Isa::best_available();
    let want = {
        set_isa(Isa::Scalar);
        assert_eq!(isa(), Isa::Scalar);
        step()
    };
    for candidate in [Isa::Avx2, Isa::Avx512] {
        let got = set_isa(candidate);
        // Never more than the CPU has: asking for AVX-512 on an AVX2 machine gets AVX2.
        assert_eq!(got, candidate.min(best));
        assert_eq!(step(), want, "{} differs from scalar", got.name());
    }
    set_isa(best);
}
