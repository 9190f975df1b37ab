//! BatchNorm1d, BatchNorm2d and BatchNorm3d: one struct, `BatchNorm<D>`, whose only
//! difference between the three is the input rank it accepts.
//!
//! Per channel c, over the N·(spatial) values of the batch:
//! - training: y = (x - μ_B) / √(σ²_B + eps) · γ + β, with σ²_B the **biased** variance; then
//!   `running_mean = (1 - momentum)·running_mean + momentum·μ_B` and
//!   `running_var = (1 - momentum)·running_var + momentum·σ²_B·n/(n-1)` (**unbiased**);
//! - eval: the same formula with running_mean and running_var in place of μ_B and σ²_B.
//!
//! The running statistics start at 0 and 1, and with the default momentum 0.1 move only 10%
//! of the way to each batch's statistics: after one step they are still far from the data.
//! With `.momentum(None)` the k-th training batch moves them by 1/k, so they are the plain
//! average of every batch's statistics so far (PyTorch's cumulative moving average).
//!
//! `num_batches_tracked` is a `u64` (PyTorch's int64), exact at any count; the state dict
//! carries it as a count entry (`StateDict::insert_count`), and checkpoints as I64.
//! The arithmetic is one fused op, `Tensor::batch_norm` (kindling-core, `ops/batch_norm.rs`).

use std::sync::atomic::{AtomicU64, Ordering};

use kindling_core::Tensor;

use crate::module::weight_and_bias;
use crate::{ForwardHooks, Module};

/// Batch normalisation over dim 1 (the channels); `D` is 1, 2 or 3 as in
/// `BatchNorm1d/2d/3d`. Use the aliases.
///
/// ```
/// use kindling::nn::{BatchNorm1d, Module};
/// use kindling::Tensor;
/// let bn = BatchNorm1d::new(3);
/// let scores = Tensor::from_vec(vec![85., 60., 70., 90., 80., 75., 95., 50., 80., 88., 70., 85.], &[4, 3]);
/// bn.forward(&scores);
/// // 10% of the way from 0 to the batch mean 89.5:
/// assert!((bn.running_mean().to_vec()[0] - 8.95).abs() < 1e-5);
/// ```
pub struct BatchNorm<const D: usize> {
    num_features: usize,
    eps: f32,
    momentum: Option<f32>,
    weight: Option<Tensor>,
    bias: Option<Tensor>,
    running_mean: Tensor,
    running_var: Tensor,
    num_batches_tracked: AtomicU64,
    track_running_stats: bool,
    training: bool,
    hooks: ForwardHooks,
}

/// A BatchNorm layer's settings, as [`BatchNorm::config`] reports them.
///
/// ```
/// let config = kindling::nn::BatchNorm1d::new(4).config();
/// assert_eq!(config.num_features, 4);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchNormConfig {
    /// C, the number of channels.
    pub num_features: usize,
    /// Added to the variance before the square root.
    pub eps: f32,
    /// How far the running statistics move towards each batch's; `None` for the
    /// cumulative average (PyTorch's `momentum=None`).
    pub momentum: Option<f32>,
    /// Whether γ and β exist.
    pub affine: bool,
    /// Whether running statistics are kept (and used in eval).
    pub track_running_stats: bool,
}

/// BatchNorm over `[N, C]` or `[N, C, L]` (`torch.nn.BatchNorm1d`).
pub type BatchNorm1d = BatchNorm<1>;
/// BatchNorm over `[N, C, H, W]` (`torch.nn.BatchNorm2d`).
pub type BatchNorm2d = BatchNorm<2>;
/// BatchNorm over `[N, C, D, H, W]` (`torch.nn.BatchNorm3d`).
pub type BatchNorm3d = BatchNorm<3>;

impl<const D: usize> BatchNorm<D> {
    /// A layer for `num_features` channels: γ = 1, β = 0, running mean 0 and variance 1,
    /// momentum 0.1, eps 1e-5, affine, tracking running statistics, in training mode.
    ///
    /// ```
    /// use kindling::nn::BatchNorm2d;
    /// let bn = BatchNorm2d::new(32);
    /// assert_eq!(bn.running_var().to_vec(), vec![1.0; 32]);
    /// ```
    pub fn new(num_features: usize) -> Self {
        BatchNorm {
            num_features,
            eps: 1e-5,
            momentum: Some(0.1),
            weight: Some(Tensor::ones(&[num_features]).requires_grad(true)),
            bias: Some(Tensor::zeros(&[num_features]).requires_grad(true)),
            running_mean: Tensor::zeros(&[num_features]),
            running_var: Tensor::ones(&[num_features]),
            num_batches_tracked: AtomicU64::new(0),
            track_running_stats: true,
            training: true,
            hooks: ForwardHooks::new(),
        }
    }

    /// Builder: how far the running statistics move towards each batch's (default 0.1).
    /// `None` gives the cumulative moving average, as PyTorch's `momentum=None`: the k-th
    /// training batch moves them by 1/k, so they are the mean of all batches' statistics.
    ///
    /// ```
    /// use kindling::nn::{BatchNorm1d, Module};
    /// use kindling::Tensor;
    /// assert_eq!(BatchNorm1d::new(3).momentum(0.3).config().momentum, Some(0.3));
    /// let bn = BatchNorm1d::new(1).momentum(None);
    /// bn.forward(&Tensor::from_vec(vec![1.0, 3.0], &[2, 1])); // batch mean 2
    /// bn.forward(&Tensor::from_vec(vec![5.0, 7.0], &[2, 1])); // batch mean 6
    /// assert_eq!(bn.running_mean().to_vec(), vec![4.0]); // (2 + 6) / 2
    /// ```
    pub fn momentum(mut self, momentum: impl Into<Option<f32>>) -> Self {
        self.momentum = momentum.into();
        self
    }

    /// Builder: the constant added to the variance before the square root (default 1e-5).
    ///
    /// ```
    /// let bn = kindling::nn::BatchNorm1d::new(3).eps(1e-3);
    /// assert_eq!(bn.get_eps(), 1e-3);
    /// ```
    pub fn eps(mut self, eps: f32) -> Self {
        self.eps = eps;
        self
    }

    /// Builder: with `false`, no learnable γ and β (the output is just normalised).
    ///
    /// ```
    /// use kindling::nn::{BatchNorm2d, Module};
    /// assert!(BatchNorm2d::new(4).affine(false).parameters().is_empty());
    /// ```
    pub fn affine(mut self, on: bool) -> Self {
        if on && self.weight.is_none() {
            self.weight = Some(Tensor::ones(&[self.num_features]).requires_grad(true));
            self.bias = Some(Tensor::zeros(&[self.num_features]).requires_grad(true));
        } else if !on {
            self.weight = None;
            self.bias = None;
        }
        self
    }

    /// Builder: with `false`, no running statistics are kept: the layer normalises with the
    /// batch's statistics in eval mode too, and has no buffers in its state dict.
    ///
    /// ```
    /// use kindling::nn::{BatchNorm2d, Module};
    /// assert_eq!(BatchNorm2d::new(4).track_running_stats(false).state_dict().keys(), vec!["weight", "bias"]);
    /// ```
    pub fn track_running_stats(mut self, on: bool) -> Self {
        self.track_running_stats = on;
        self
    }

    /// The running mean buffer (shared: it changes as the layer trains).
    ///
    /// ```
    /// assert_eq!(kindling::nn::BatchNorm1d::new(2).running_mean().to_vec(), vec![0.0, 0.0]);
    /// ```
    pub fn running_mean(&self) -> Tensor {
        self.running_mean.clone()
    }

    /// The running (unbiased) variance buffer.
    ///
    /// ```
    /// assert_eq!(kindling::nn::BatchNorm1d::new(2).running_var().to_vec(), vec![1.0, 1.0]);
    /// ```
    pub fn running_var(&self) -> Tensor {
        self.running_var.clone()
    }

    /// How many training batches have updated the running statistics.
    ///
    /// ```
    /// assert_eq!(kindling::nn::BatchNorm1d::new(2).num_batches_tracked(), 0);
    /// ```
    pub fn num_batches_tracked(&self) -> u64 {
        self.num_batches_tracked.load(Ordering::Relaxed)
    }

    /// γ, the learnable scale (`None` without affine).
    ///
    /// ```
    /// assert_eq!(kindling::nn::BatchNorm1d::new(2).weight().unwrap().to_vec(), vec![1.0, 1.0]);
    /// ```
    pub fn weight(&self) -> Option<Tensor> {
        self.weight.clone()
    }

    /// β, the learnable shift (`None` without affine). The same name as on `Linear` and
    /// `Conv2d`, whose `bias(bool)` is the builder.
    ///
    /// ```
    /// let bn = kindling::nn::BatchNorm1d::new(2);
    /// assert_eq!(bn.bias_tensor().unwrap().to_vec(), vec![0.0, 0.0]);
    /// ```
    pub fn bias_tensor(&self) -> Option<Tensor> {
        self.bias.clone()
    }

    /// The settings the layer was built with.
    ///
    /// ```
    /// let bn = kindling::nn::BatchNorm2d::new(8).momentum(0.3);
    /// let config = bn.config();
    /// assert_eq!((config.num_features, config.momentum, config.eps), (8, Some(0.3), 1e-5));
    /// assert!(config.affine && config.track_running_stats);
    /// ```
    pub fn config(&self) -> BatchNormConfig {
        BatchNormConfig {
            num_features: self.num_features,
            eps: self.eps,
            momentum: self.momentum,
            affine: self.weight.is_some(),
            track_running_stats: self.track_running_stats,
        }
    }

    /// β, the learnable shift.
    ///
    /// ```
    /// #![allow(deprecated)]
    /// assert_eq!(kindling::nn::BatchNorm1d::new(2).bias().unwrap().to_vec(), vec![0.0, 0.0]);
    /// ```
    #[deprecated(since = "0.2.0", note = "use `bias_tensor()`, the name on every layer")]
    pub fn bias(&self) -> Option<Tensor> {
        self.bias_tensor()
    }

    /// The momentum; with `momentum(None)`, the factor the next training batch will use,
    /// 1/(num_batches_tracked + 1).
    ///
    /// ```
    /// #![allow(deprecated)]
    /// assert_eq!(kindling::nn::BatchNorm1d::new(2).get_momentum(), 0.1);
    /// assert_eq!(kindling::nn::BatchNorm1d::new(2).momentum(None).get_momentum(), 1.0);
    /// ```
    #[deprecated(since = "0.2.0", note = "use `config().momentum`")]
    pub fn get_momentum(&self) -> f32 {
        self.momentum
            .unwrap_or(1.0 / (self.num_batches_tracked() + 1) as f32)
    }

    /// The eps.
    ///
    /// ```
    /// #![allow(deprecated)]
    /// assert_eq!(kindling::nn::BatchNorm1d::new(2).get_eps(), 1e-5);
    /// ```
    #[deprecated(since = "0.2.0", note = "use `config().eps`")]
    pub fn get_eps(&self) -> f32 {
        self.eps
    }

    fn check_rank(&self, shape: &[usize]) {
        let (ok, expected) = match D {
            1 => (
                shape.len() == 2 || shape.len() == 3,
                "2-d [N, C] or 3-d [N, C, L]",
            ),
            2 => (shape.len() == 4, "4-d [N, C, H, W]"),
            _ => (shape.len() == 5, "5-d [N, C, D, H, W]"),
        };
        assert!(
            ok,
            "BatchNorm{D}d: expected a {expected} input, got shape {shape:?}"
        );
        assert!(
            shape[1] == self.num_features,
            "BatchNorm{D}d: input of shape {shape:?} has {} channels, the layer has {}",
            shape[1],
            self.num_features
        );
    }
}

impl<const D: usize> BatchNorm<D> {
    /// What `forward` does before the arithmetic: checks the input, works out the momentum
    /// (1/n for the cumulative average), counts the batch when training, and chooses batch
    /// or running statistics. Then it hands `op` the arguments of `Tensor::batch_norm`, so
    /// that the plain and the fused forward share this logic.
    fn normalise_with(&self, x: &Tensor, op: impl FnOnce(BatchNormArgs<'_>) -> Tensor) -> Tensor {
        self.check_rank(x.shape());
        let tracking = self.track_running_stats;
        let mut momentum = self.momentum.unwrap_or(0.0);
        if self.training && tracking {
            let n = self.num_batches_tracked.fetch_add(1, Ordering::Relaxed) + 1;
            if self.momentum.is_none() {
                // Moving by 1/n keeps the running value the mean of the n batches seen.
                momentum = (1.0 / n as f64) as f32;
            }
        }
        // Without running statistics, eval falls back to the batch's, as in PyTorch.
        let use_batch_stats = self.training || !tracking;
        let (running_mean, running_var) = if tracking {
            (Some(&self.running_mean), Some(&self.running_var))
        } else {
            (None, None)
        };
        op(BatchNormArgs {
            running_mean,
            running_var,
            weight: self.weight.as_ref(),
            bias: self.bias.as_ref(),
            training: use_batch_stats,
            momentum,
            eps: self.eps,
        })
    }
}

/// The arguments `BatchNorm::forward` passes to `Tensor::batch_norm`.
struct BatchNormArgs<'a> {
    running_mean: Option<&'a Tensor>,
    running_var: Option<&'a Tensor>,
    weight: Option<&'a Tensor>,
    bias: Option<&'a Tensor>,
    training: bool,
    momentum: f32,
    eps: f32,
}

impl BatchNorm2d {
    /// `forward`, then ReLU and max pooling, as one op
    /// (`Tensor::batch_norm_relu_max_pool2d`): the same bits, the same updates of the
    /// running statistics and of `num_batches_tracked`. `Sequential` calls it; the layer's
    /// forward hooks do not run, so `Sequential` only does when there are none.
    pub(crate) fn forward_relu_max_pool2d(
        &self,
        x: &Tensor,
        kernel: usize,
        stride: usize,
    ) -> Tensor {
        self.normalise_with(x, |a| {
            x.batch_norm_relu_max_pool2d(
                a.running_mean,
                a.running_var,
                a.weight,
                a.bias,
                a.training,
                a.momentum,
                a.eps,
                kernel,
                stride,
            )
        })
    }
}

impl<const D: usize> Module for BatchNorm<D> {
    fn forward(&self, x: &Tensor) -> Tensor {
        self.normalise_with(x, |a| {
            x.batch_norm(
                a.running_mean,
                a.running_var,
                a.weight,
                a.bias,
                a.training,
                a.momentum,
                a.eps,
            )
        })
    }

    fn own_parameters(&self) -> Vec<(String, Tensor)> {
        match &self.weight {
            Some(w) => weight_and_bias(w, self.bias.as_ref()),
            None => Vec::new(),
        }
    }

    fn own_buffers(&self) -> Vec<(String, Tensor)> {
        if !self.track_running_stats {
            return Vec::new();
        }
        vec![
            ("running_mean".into(), self.running_mean.clone()),
            ("running_var".into(), self.running_var.clone()),
            (
                "num_batches_tracked".into(),
                Tensor::scalar(self.num_batches_tracked() as f32),
            ),
        ]
    }

    fn own_counts(&self) -> Vec<(String, u64)> {
        if !self.track_running_stats {
            return Vec::new();
        }
        vec![("num_batches_tracked".into(), self.num_batches_tracked())]
    }

    fn set_own_count(&self, name: &str, value: u64) {
        if name == "num_batches_tracked" {
            self.num_batches_tracked.store(value, Ordering::Relaxed);
        }
    }

    crate::layer_flag_and_hooks!();

    fn type_name(&self) -> String {
        format!("BatchNorm{D}d")
    }

    fn extra_repr(&self) -> String {
        let c = self.config();
        format!(
            "{}, eps={}, momentum={}, affine={}, bias={}, track_running_stats={}",
            c.num_features,
            crate::module::py_float(c.eps),
            c.momentum
                .map_or("None".to_string(), crate::module::py_float),
            crate::module::py_bool(c.affine),
            crate::module::py_bool(self.bias.is_some()),
            crate::module::py_bool(c.track_running_stats)
        )
    }
}

impl<const D: usize> std::fmt::Display for BatchNorm<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::repr(self))
    }
}
