//! Module 6: optimizers. One step of SGD (momentum, dampening, Nesterov, weight decay) and
//! of Adam (with bias correction), on plain slices of numbers: the grader runs them next to
//! kindling's `optim::Sgd` and `optim::Adam` (held to `torch.optim` by the workspace's
//! golden tests), step for step.
//!
//! Grade with `cargo test -p kindling-exercises task_6_ -- --ignored`.

use crate::given::{AdamConfig, AdamState, SgdConfig};

/// Task 6.1: one SGD step on `param`, in place, as `torch.optim.SGD` takes it. For each
/// element, with gradient g:
/// 1. weight decay: g ← g + λ·p;
/// 2. momentum (if μ ≠ 0): on the first step (`buf` is `None`) buf ← g; after that
///    buf ← μ·buf + (1 − τ)·g. Then the step direction d is g + μ·buf with Nesterov,
///    buf without;
/// 3. p ← p − lr·d (d = g when μ = 0).
///
/// Read: [docs/optimizers.md, "SGD"](../../docs/optimizers.md#sgd).
pub fn sgd_step(param: &mut [f32], grad: &[f32], buf: &mut Option<Vec<f32>>, cfg: &SgdConfig) {
    let _ = (param, grad, buf, cfg);
    todo!()
}

/// Task 6.2: one Adam step on `param`, in place, as `torch.optim.Adam` takes it:
/// t ← t + 1; g ← g + λ·p; m ← β₁·m + (1 − β₁)·g; v ← β₂·v + (1 − β₂)·g²;
/// m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ) (the bias corrections: m and v start at 0, and
/// without them the first steps are far too small, or too large); p ← p − lr·m̂/(√v̂ + eps).
///
/// Read: [docs/optimizers.md, "Adam"](../../docs/optimizers.md#adam).
pub fn adam_step(param: &mut [f32], grad: &[f32], state: &mut AdamState, cfg: &AdamConfig) {
    let _ = (param, grad, state, cfg);
    todo!()
}
