//! `Linear`: `y = x·Wᵀ + b`, the fully connected layer (`torch.nn.Linear`).

use kindling_core::Tensor;

use crate::init::{default_bound, uniform_parameter};
use crate::module::weight_and_bias;
use crate::{ForwardHooks, Module};

/// A fully connected layer with weight `[out_features, in_features]` and bias
/// `[out_features]`. Accepts `[*, in_features]`, any number of leading dims.
///
/// ```
/// use kindling::nn::{Linear, Module};
/// use kindling::Tensor;
/// let fc = Linear::new(4, 2).bias(false);
/// assert_eq!(fc.forward(&Tensor::ones(&[3, 4])).shape(), &[3, 2]);
/// assert_eq!(fc.parameters().len(), 1);
/// ```
pub struct Linear {
    weight: Tensor,
    bias: Option<Tensor>,
    training: bool,
    hooks: ForwardHooks,
}

impl Linear {
    /// A layer with PyTorch's default initialisation (see `init.rs`).
    ///
    /// ```
    /// let fc = kindling::nn::Linear::new(3136, 128);
    /// assert_eq!(fc.weight().shape(), &[128, 3136]);
    /// ```
    pub fn new(in_features: usize, out_features: usize) -> Self {
        let bound = default_bound(in_features);
        Linear {
            weight: uniform_parameter(&[out_features, in_features], bound),
            bias: Some(uniform_parameter(&[out_features], bound)),
            training: true,
            hooks: ForwardHooks::new(),
        }
    }

    /// Builder: with `false`, the layer has no bias.
    ///
    /// ```
    /// assert!(kindling::nn::Linear::new(2, 2).bias(false).bias_tensor().is_none());
    /// ```
    pub fn bias(mut self, on: bool) -> Self {
        if !on {
            self.bias = None;
        }
        self
    }

    /// The weight `[out, in]`.
    ///
    /// ```
    /// assert_eq!(kindling::nn::Linear::new(2, 5).weight().shape(), &[5, 2]);
    /// ```
    pub fn weight(&self) -> Tensor {
        self.weight.clone()
    }

    /// The bias `[out]`, if the layer has one.
    ///
    /// ```
    /// assert_eq!(kindling::nn::Linear::new(2, 5).bias_tensor().unwrap().shape(), &[5]);
    /// ```
    pub fn bias_tensor(&self) -> Option<Tensor> {
        self.bias.clone()
    }

    /// The settings the layer was built with, read off its weight.
    ///
    /// ```
    /// let c = kindling::nn::Linear::new(3136, 128).config();
    /// assert_eq!((c.in_features, c.out_features, c.bias), (3136, 128, true));
    /// ```
    pub fn config(&self) -> LinearConfig {
        LinearConfig {
            in_features: self.weight.shape()[1],
            out_features: self.weight.shape()[0],
            bias: self.bias.is_some(),
        }
    }
}

/// A `Linear`'s settings, as [`Linear::config`] reports them.
///
/// ```
/// assert_eq!(kindling::nn::Linear::new(4, 2).config().out_features, 2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinearConfig {
    /// Inputs per example.
    pub in_features: usize,
    /// Outputs per example.
    pub out_features: usize,
    /// Whether the layer has a bias.
    pub bias: bool,
}

impl Module for Linear {
    fn forward(&self, x: &Tensor) -> Tensor {
        let in_features = self.weight.shape()[1];
        let shape = x.shape();
        assert!(
            shape.last() == Some(&in_features),
            "Linear: input of shape {shape:?} does not end in in_features = {in_features} (weight shape {:?})",
            self.weight.shape()
        );
        let rows = x.numel() / in_features;
        let flat = if shape.len() == 2 {
            x.clone()
        } else {
            x.reshape(&[rows, in_features])
        };
        let y = flat.linear(&self.weight, self.bias.as_ref());
        if shape.len() == 2 {
            y
        } else {
            let mut out_shape = shape.to_vec();
            *out_shape.last_mut().unwrap() = self.weight.shape()[0];
            y.reshape(&out_shape)
        }
    }

    fn own_parameters(&self) -> Vec<(String, Tensor)> {
        weight_and_bias(&self.weight, self.bias.as_ref())
    }

    crate::layer_flag_and_hooks!();

    fn extra_repr(&self) -> String {
        let c = self.config();
        format!(
            "in_features={}, out_features={}, bias={}",
            c.in_features,
            c.out_features,
            crate::module::py_bool(c.bias)
        )
    }
}

crate::impl_display_as_repr!(Linear);
