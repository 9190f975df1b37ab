//! # kindling-optim
//!
//! Optimizers ([`Sgd`], [`Adam`], [`AdamW`]) and learning-rate schedules ([`StepLr`],
//! [`CosineAnnealingLr`], [`LinearLr`]) whose numbers match `torch.optim` step for step.
//!
//! Where to find things:
//! - the [`Optimizer`] trait: here; SGD: `sgd.rs`; Adam and AdamW (one implementation):
//!   `adam.rs`; the schedules and the [`LrScheduler`] trait: `scheduler.rs`;
//! - state as plain data for checkpoints, and [`OptimError`]: `state.rs`.
//!
//! How the numbers match PyTorch's:
//! - Each update is PyTorch's single-tensor (`foreach=False`) rule, done in `f32` in the
//!   same order of operations, with a fused multiply-add (`mul_add`) exactly where
//!   PyTorch's CPU kernels fuse one (`add(alpha=)`, `lerp_`, `addcmul_`). SGD then agrees
//!   with PyTorch to the last bit. So does Adam, except through PyTorch's CPU `f32` `sqrt`,
//!   which goes through MKL and is not always correctly rounded (kindling's is): that can
//!   move a denominator by one unit in the last place, far inside the 1e-6 contract.
//! - PyTorch keeps hyperparameters as Python floats (`f64`) and rounds them to `f32` only
//!   where they meet a tensor; bias corrections and `1 - beta` are computed in `f64` first.
//!   kindling's API takes `f32` like the rest of the framework, and widens each value
//!   through its shortest decimal form, so `1e-3_f32` becomes the `f64` `0.001` that the
//!   same Python literal gives (a plain `as f64` would give `0.0010000000474974513`).
//! - A parameter whose gradient is `None` at a step is skipped entirely, as PyTorch does:
//!   no weight decay, no momentum or moment update, and Adam's per-parameter step counter
//!   does not advance (so its bias corrections then lag the other parameters').
//! - [`Optimizer::zero_grad`] sets every gradient to `None` (PyTorch's `set_to_none=True`).
//!
//! ```
//! use kindling::Tensor;
//! use kindling::optim::{Optimizer, Sgd};
//!
//! // Minimise (w - 3)² from w = 0.
//! let w = Tensor::from_vec(vec![0.0], &[1]).requires_grad(true);
//! let mut opt = Sgd::new(vec![w.clone()], 0.1);
//! for _ in 0..100 {
//!     opt.zero_grad();
//!     let loss = (&w - 3.0).powf(2.0).sum();
//!     loss.backward();
//!     opt.step();
//! }
//! assert!((w.item() - 3.0).abs() < 1e-4);
//! ```

#![warn(missing_docs)]

mod adam;
mod scheduler;
mod sgd;
mod state;

pub use adam::{Adam, AdamW};
pub use scheduler::{CosineAnnealingLr, LinearLr, LrScheduler, StepLr};
pub use sgd::Sgd;
pub use state::{
    AdamHparams, Hyperparameters, OptimError, OptimizerKind, OptimizerState, ParamState, Schedule,
    SchedulerState, SgdHparams, MAX_COUNTER,
};

use kindling_core::Tensor;

/// What every optimizer does: update its parameters from their gradients, clear the
/// gradients, expose its learning rate (for schedules), and export and restore its state.
///
/// The trait is object safe, so schedulers take `&mut dyn Optimizer`.
///
/// ```
/// use kindling::Tensor;
/// use kindling::optim::{Adam, Optimizer, Sgd};
///
/// let p = Tensor::zeros(&[2]).requires_grad(true);
/// let opts: Vec<Box<dyn Optimizer>> = vec![
///     Box::new(Sgd::new(vec![p.clone()], 0.1)),
///     Box::new(Adam::new(vec![p.clone()], 1e-3)),
/// ];
/// assert_eq!(opts[0].lr(), 0.1);
/// assert_eq!(opts[1].lr(), 1e-3);
/// ```
pub trait Optimizer {
    /// Updates every parameter that has a gradient, in place (every clone sees the new
    /// values). Parameters whose gradient is `None` are skipped entirely.
    ///
    /// ```
    /// use kindling::Tensor;
    /// use kindling::optim::{Optimizer, Sgd};
    /// let p = Tensor::from_vec(vec![1.0], &[1]).requires_grad(true);
    /// let mut opt = Sgd::new(vec![p.clone()], 0.5);
    /// p.set_grad(Some(Tensor::from_vec(vec![2.0], &[1])));
    /// opt.step();
    /// assert_eq!(p.to_vec(), vec![0.0]); // 1 - 0.5·2
    /// ```
    fn step(&mut self);

    /// Sets every parameter's gradient to `None`, like PyTorch's default
    /// `zero_grad(set_to_none=True)`; a following `step` without a new backward pass then
    /// changes nothing.
    ///
    /// ```
    /// use kindling::Tensor;
    /// use kindling::optim::{Optimizer, Sgd};
    /// let p = Tensor::zeros(&[2]).requires_grad(true);
    /// p.set_grad(Some(Tensor::ones(&[2])));
    /// let mut opt = Sgd::new(vec![p.clone()], 0.1);
    /// opt.zero_grad();
    /// assert!(p.grad().is_none());
    /// ```
    fn zero_grad(&mut self);

    /// The current learning rate, rounded to `f32` (schedulers keep the `f64`).
    ///
    /// ```
    /// use kindling::Tensor;
    /// use kindling::optim::{Adam, Optimizer};
    /// assert_eq!(Adam::new(vec![Tensor::zeros(&[1])], 3e-4).lr(), 3e-4);
    /// ```
    fn lr(&self) -> f32;

    /// Sets the learning rate for the following steps.
    ///
    /// # Panics
    /// If `lr` is negative or NaN.
    ///
    /// ```
    /// use kindling::Tensor;
    /// use kindling::optim::{Optimizer, Sgd};
    /// let mut opt = Sgd::new(vec![Tensor::zeros(&[1])], 0.1);
    /// opt.set_lr(0.01);
    /// assert_eq!(opt.lr(), 0.01);
    /// ```
    fn set_lr(&mut self, lr: f32);

    /// Exports the kind, the hyperparameters and the per-parameter state, as plain data.
    ///
    /// ```
    /// use kindling::Tensor;
    /// use kindling::optim::{Adam, Optimizer, OptimizerKind};
    /// let p = Tensor::zeros(&[2]).requires_grad(true);
    /// let mut opt = Adam::new(vec![p.clone()], 1e-3);
    /// p.set_grad(Some(Tensor::ones(&[2])));
    /// opt.step();
    /// let state = opt.state_dict();
    /// assert_eq!(state.kind, OptimizerKind::Adam);
    /// assert_eq!(state.params[0].step, Some(1));
    /// ```
    fn state_dict(&self) -> OptimizerState;

    /// Restores a state exported by `state_dict` from an optimizer of the same kind over
    /// parameters of the same shapes, hyperparameters included. The parameters' values
    /// are not part of the state: restore them separately.
    ///
    /// # Errors
    /// If the kind, the parameter count or a shape differs, a buffer has the wrong length,
    /// is missing or is not one this optimizer keeps, a step count is above
    /// [`MAX_COUNTER`], or a hyperparameter is out of range. Nothing is changed then.
    ///
    /// ```
    /// use kindling::Tensor;
    /// use kindling::optim::{Optimizer, Sgd};
    /// let saved = Sgd::new(vec![Tensor::zeros(&[2])], 0.05).momentum(0.9).state_dict();
    /// let mut opt = Sgd::new(vec![Tensor::zeros(&[2])], 0.1);
    /// opt.load_state_dict(&saved).unwrap();
    /// assert_eq!(opt.lr(), 0.05);
    /// let mut wrong = Sgd::new(vec![Tensor::zeros(&[3])], 0.1);
    /// assert!(wrong.load_state_dict(&saved).is_err());
    /// assert_eq!(wrong.lr(), 0.1);
    /// ```
    fn load_state_dict(&mut self, state: &OptimizerState) -> Result<(), OptimError>;

    /// Checks `state` as [`load_state_dict`](Optimizer::load_state_dict) would, and
    /// changes nothing. `Ok` is a promise: `load_state_dict` with the same state then
    /// succeeds. Whoever restores several objects at once (a training checkpoint: model,
    /// optimizer, scheduler) checks every part first, and so never has a half-done
    /// restore to undo.
    ///
    /// # Errors
    /// Those of `load_state_dict`.
    ///
    /// ```
    /// use kindling::Tensor;
    /// use kindling::optim::{Adam, Optimizer, Sgd};
    /// let state = Adam::new(vec![Tensor::zeros(&[2])], 1e-3).state_dict();
    /// let sgd = Sgd::new(vec![Tensor::zeros(&[2])], 0.1);
    /// assert!(sgd.check_state_dict(&state).is_err());
    /// let adam = Adam::new(vec![Tensor::zeros(&[2])], 0.5);
    /// assert!(adam.check_state_dict(&state).is_ok());
    /// assert_eq!(adam.lr(), 0.5); // checked, not loaded
    /// ```
    fn check_state_dict(&self, state: &OptimizerState) -> Result<(), OptimError>;
}

/// Widens an `f32` hyperparameter to the `f64` a Python user would have written: through
/// its shortest round-tripping decimal (`0.1_f32` → `"0.1"` → `0.1_f64`), so that every
/// `f64` computation PyTorch does on it (`1 - beta`, `lr / (1 - beta1^t)`) sees the same
/// value. Narrowing the result back with `as f32` always returns the original `f32`.
pub(crate) fn widen(x: f32) -> f64 {
    // Display never fails to reparse: it prints "inf", "-inf", "NaN" or a plain decimal.
    x.to_string().parse().unwrap_or(f64::from(x))
}

/// PyTorch's checks on a parameter list, with the same messages.
pub(crate) fn check_param_list(owner: &str, params: &[Tensor]) {
    assert!(
        !params.is_empty(),
        "{owner}: optimizer got an empty parameter list"
    );
    for (i, p) in params.iter().enumerate() {
        assert!(
            p.is_leaf(),
            "{owner}: can't optimize a non-leaf Tensor (parameter {i}, shape {:?})",
            p.shape()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::widen;

    #[test]
    fn widen_recovers_the_decimal_literal() {
        assert_eq!(widen(0.1), 0.1);
        assert_eq!(widen(1e-3), 0.001);
        assert_eq!(widen(0.999), 0.999);
        assert_eq!(widen(1e-8), 1e-8);
        assert_eq!(widen(0.0), 0.0);
        assert_eq!(widen(f32::INFINITY), f64::INFINITY);
        assert!(widen(f32::NAN).is_nan());
        // and it never changes the f32 itself
        for x in [0.1_f32, 3e-4, 0.95, 1.0 / 3.0, f32::MIN_POSITIVE, f32::MAX] {
            assert_eq!(widen(x) as f32, x);
        }
    }
}
