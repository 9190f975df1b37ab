//! `LayerNorm` (`torch.nn.LayerNorm`): each sample is standardised over its last few dims,
//! `normalized_shape`, and then scaled and shifted element by element:
//!
//! y = (x - mean) / √(var + eps) · γ + β,  mean and **biased** var over `normalized_shape`.
//!
//! BatchNorm averages one channel across the batch; LayerNorm averages one sample across
//! its features, so a sample's output never depends on the rest of its batch. That is why
//! it needs no running statistics, behaves the same in training and eval, and works on a
//! batch of one: the reasons transformers use it. The arithmetic is `Tensor::layer_norm`
//! (kindling-core, `ops/norm.rs`).

use kindling_core::Tensor;

use crate::module::{py_bool, py_float, weight_and_bias};
use crate::{ForwardHooks, Module};

/// Layer normalisation over the trailing dims `normalized_shape`, with a learnable γ
/// (`weight`, ones) and β (`bias`, zeros) of that shape, one value per normalised element.
///
/// ```
/// use kindling::nn::{LayerNorm, Module};
/// use kindling::Tensor;
/// let ln = LayerNorm::new(&[3]);
/// // Two samples on very different scales come out on the same one.
/// let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 100.0, 200.0, 300.0], &[2, 3]);
/// let y = ln.forward(&x).to_vec();
/// assert!((y[0] - y[3]).abs() < 1e-4 && (y[2] - 1.2247).abs() < 1e-4);
/// ```
pub struct LayerNorm {
    normalized_shape: Vec<usize>,
    eps: f32,
    weight: Option<Tensor>,
    bias: Option<Tensor>,
    training: bool,
    hooks: ForwardHooks,
}

/// A `LayerNorm`'s settings, as [`LayerNorm::config`] reports them.
///
/// ```
/// let c = kindling::nn::LayerNorm::new(&[3, 4]).config();
/// assert_eq!(c.normalized_shape, vec![3, 4]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct LayerNormConfig {
    /// The trailing dims each sample is normalised over.
    pub normalized_shape: Vec<usize>,
    /// Added to the variance before the square root.
    pub eps: f32,
    /// Whether γ and β exist.
    pub elementwise_affine: bool,
}

impl LayerNorm {
    /// A layer normalising over the last dims `normalized_shape` (`[d]` for a vector of
    /// `d` features): γ = 1, β = 0, eps 1e-5, in training mode.
    ///
    /// # Panics
    /// If `normalized_shape` is empty (there would be nothing to average over).
    ///
    /// ```
    /// use kindling::nn::{LayerNorm, Module};
    /// let ln = LayerNorm::new(&[2, 3]);
    /// assert_eq!(ln.weight().unwrap().shape(), &[2, 3]);
    /// assert_eq!(ln.parameters().len(), 2);
    /// ```
    pub fn new(normalized_shape: &[usize]) -> Self {
        assert!(
            !normalized_shape.is_empty(),
            "LayerNorm: normalized_shape must have at least one dim, got []"
        );
        LayerNorm {
            normalized_shape: normalized_shape.to_vec(),
            eps: 1e-5,
            weight: Some(Tensor::ones(normalized_shape).requires_grad(true)),
            bias: Some(Tensor::zeros(normalized_shape).requires_grad(true)),
            training: true,
            hooks: ForwardHooks::new(),
        }
    }

    /// Builder: the constant added to the variance before the square root (default 1e-5).
    ///
    /// ```
    /// assert_eq!(kindling::nn::LayerNorm::new(&[4]).eps(1e-6).config().eps, 1e-6);
    /// ```
    pub fn eps(mut self, eps: f32) -> Self {
        self.eps = eps;
        self
    }

    /// Builder: with `false`, no learnable γ and β (the output is just standardised).
    ///
    /// ```
    /// use kindling::nn::{LayerNorm, Module};
    /// assert!(LayerNorm::new(&[4]).elementwise_affine(false).parameters().is_empty());
    /// ```
    pub fn elementwise_affine(mut self, on: bool) -> Self {
        if on && self.weight.is_none() {
            self.weight = Some(Tensor::ones(&self.normalized_shape).requires_grad(true));
            self.bias = Some(Tensor::zeros(&self.normalized_shape).requires_grad(true));
        } else if !on {
            self.weight = None;
            self.bias = None;
        }
        self
    }

    /// γ, the learnable scale of shape `normalized_shape` (`None` without affine).
    ///
    /// ```
    /// assert_eq!(kindling::nn::LayerNorm::new(&[2]).weight().unwrap().to_vec(), vec![1.0, 1.0]);
    /// ```
    pub fn weight(&self) -> Option<Tensor> {
        self.weight.clone()
    }

    /// β, the learnable shift of shape `normalized_shape` (`None` without affine). Named
    /// as on every layer, where `bias(bool)` would be a builder.
    ///
    /// ```
    /// assert_eq!(kindling::nn::LayerNorm::new(&[2]).bias_tensor().unwrap().to_vec(), vec![0.0, 0.0]);
    /// ```
    pub fn bias_tensor(&self) -> Option<Tensor> {
        self.bias.clone()
    }

    /// The settings the layer was built with.
    ///
    /// ```
    /// let c = kindling::nn::LayerNorm::new(&[8]).elementwise_affine(false).config();
    /// assert_eq!((c.eps, c.elementwise_affine), (1e-5, false));
    /// ```
    pub fn config(&self) -> LayerNormConfig {
        LayerNormConfig {
            normalized_shape: self.normalized_shape.clone(),
            eps: self.eps,
            elementwise_affine: self.weight.is_some(),
        }
    }
}

impl Module for LayerNorm {
    /// # Panics
    /// If the input's last dims are not `normalized_shape`, with the message
    /// `layer_norm: normalized_shape [4] does not match the input's last dims, shape [2, 3]`.
    fn forward(&self, x: &Tensor) -> Tensor {
        x.layer_norm(
            &self.normalized_shape,
            self.weight.as_ref(),
            self.bias.as_ref(),
            self.eps,
        )
    }

    fn own_parameters(&self) -> Vec<(String, Tensor)> {
        match &self.weight {
            Some(w) => weight_and_bias(w, self.bias.as_ref()),
            None => Vec::new(),
        }
    }

    // The training flag is only recorded: LayerNorm computes the same in both modes.
    crate::layer_flag_and_hooks!();

    fn extra_repr(&self) -> String {
        format!(
            "{}, eps={}, elementwise_affine={}, bias={}",
            py_tuple(&self.normalized_shape),
            py_float(self.eps),
            py_bool(self.weight.is_some()),
            py_bool(self.bias.is_some())
        )
    }
}

crate::impl_display_as_repr!(LayerNorm);

/// Python's spelling of a tuple of sizes: `(4,)`, `(2, 3, 4)`.
fn py_tuple(dims: &[usize]) -> String {
    let items: Vec<String> = dims.iter().map(usize::to_string).collect();
    if items.len() == 1 {
        format!("({},)", items[0])
    } else {
        format!("({})", items.join(", "))
    }
}
