//! Default parameter initialisation, PyTorch's: `Linear` and `Conv2d` draw their weights
//! with `kaiming_uniform_(a = √5)` and their biases from U(-1/√fan_in, 1/√fan_in). For the
//! weights that works out to U(-1/√fan_in, 1/√fan_in) too: gain √(2/(1+5)) = √(1/3),
//! bound = gain·√3/√fan_in. All draws come from the global generator (`manual_seed`).

use kindling_core::{rng, Tensor};

/// A tensor of `shape` drawn from U(-bound, bound), requiring a gradient (a parameter).
///
/// ```
/// use kindling::nn::init::uniform_parameter;
/// let w = uniform_parameter(&[3, 2], 0.5);
/// assert!(w.is_requires_grad());
/// assert!(w.to_vec().iter().all(|v| v.abs() <= 0.5));
/// ```
pub fn uniform_parameter(shape: &[usize], bound: f32) -> Tensor {
    let n = shape.iter().product();
    Tensor::from_vec(rng::uniform(n, -bound, bound), shape).requires_grad(true)
}

/// PyTorch's default bound for a layer whose each output reads `fan_in` inputs.
///
/// ```
/// assert_eq!(kindling::nn::init::default_bound(4), 0.5);
/// ```
pub fn default_bound(fan_in: usize) -> f32 {
    1.0 / (fan_in.max(1) as f32).sqrt()
}
