//! Training utilities with PyTorch's names (`torch.nn.utils`): gradient clipping.
//!
//! Clipping rescales or clamps the gradients that `backward` left in the parameters, before
//! the optimizer step reads them: a guard against one huge step after a bad batch.

use kindling_core::Tensor;

/// Scales every gradient by one factor so that their combined L2 norm is at most
/// `max_norm`, and returns the combined norm from before the scaling (PyTorch's
/// `torch.nn.utils.clip_grad_norm_`). The norm is the L2 norm of all gradient elements taken
/// together; the factor is `max_norm / (norm + 1e-6)`, capped at 1. Parameters without a
/// gradient are skipped. Each leaf owns its gradient buffer, so scaling one never touches
/// another.
///
/// ```
/// use kindling::prelude::*;
/// let w = Tensor::from_vec(vec![0.0, 0.0], &[2]).requires_grad(true);
/// w.set_grad(Some(Tensor::from_vec(vec![3.0, 4.0], &[2])));
/// let norm = nn::utils::clip_grad_norm_(&[w.clone()], 1.0);
/// assert_eq!(norm, 5.0);
/// let g = w.grad().unwrap().to_vec();
/// assert!((g[0] - 0.6).abs() < 1e-6 && (g[1] - 0.8).abs() < 1e-6);
/// ```
pub fn clip_grad_norm_(parameters: &[Tensor], max_norm: f32) -> f32 {
    let grads: Vec<Tensor> = parameters.iter().filter_map(Tensor::grad).collect();
    let total = grads
        .iter()
        .map(|g| {
            g.data()
                .iter()
                .map(|&v| (v as f64) * (v as f64))
                .sum::<f64>()
        })
        .sum::<f64>()
        .sqrt() as f32;
    let factor = (max_norm / (total + 1e-6)).min(1.0);
    for g in &grads {
        g.data_mut().iter_mut().for_each(|v| *v *= factor);
    }
    total
}

/// Clamps every gradient element to `[-clip_value, clip_value]` (PyTorch's
/// `torch.nn.utils.clip_grad_value_`). Parameters without a gradient are skipped.
///
/// ```
/// use kindling::prelude::*;
/// let w = Tensor::zeros(&[3]).requires_grad(true);
/// w.set_grad(Some(Tensor::from_vec(vec![-2.0, 0.1, 7.0], &[3])));
/// nn::utils::clip_grad_value_(&[w.clone()], 0.5);
/// assert_eq!(w.grad().unwrap().to_vec(), vec![-0.5, 0.1, 0.5]);
/// ```
///
/// # Panics
/// If `clip_value` is negative or NaN.
pub fn clip_grad_value_(parameters: &[Tensor], clip_value: f32) {
    assert!(
        clip_value >= 0.0,
        "clip_grad_value_: clip_value must be 0 or more, got {clip_value}"
    );
    for g in parameters.iter().filter_map(Tensor::grad) {
        g.data_mut()
            .iter_mut()
            .for_each(|v| *v = v.clamp(-clip_value, clip_value));
    }
}
