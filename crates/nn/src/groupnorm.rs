//! `GroupNorm` and `InstanceNorm2d` (`torch.nn.GroupNorm`, `torch.nn.InstanceNorm2d`): each
//! sample is standardised on its own, over groups of channels, then scaled and shifted per
//! channel.
//!
//! GroupNorm splits the `C` channels of `[N, C, *]` into `G` groups of `C/G` consecutive
//! channels and standardises every (sample, group) over its `C/G` channels and all their
//! positions. The two ends of that range have names of their own:
//! - `G = C`, one channel per group: **instance normalisation** (`InstanceNorm2d`), each
//!   channel of each image over its own `H × W` values;
//! - `G = 1`, one group of all channels: **layer normalisation** over `(C, H, W)`, except
//!   that GroupNorm's γ and β are per channel, where `LayerNorm(&[C, H, W])` has one per
//!   element.
//!
//! None of them averages across the batch, so none keeps running statistics, and training
//! and eval compute the same. The arithmetic is `Tensor::group_norm` (kindling-core,
//! `ops/norm.rs`), which both layers here call.

use kindling_core::Tensor;

use crate::module::{py_bool, py_float, weight_and_bias};
use crate::{ForwardHooks, Module};

/// Group normalisation of `[N, C, *]` (any number of trailing dims, including none), with
/// a learnable γ (`weight`, ones) and β (`bias`, zeros) of shape `[C]`.
///
/// ```
/// use kindling::nn::{GroupNorm, Module};
/// use kindling::Tensor;
/// let gn = GroupNorm::new(2, 4);
/// let y = gn.forward(&Tensor::randn(&[3, 4, 5, 5]));
/// assert_eq!(y.shape(), &[3, 4, 5, 5]);
/// // Each (sample, group) now has mean 0: here sample 0, channels 0 and 1.
/// let group: f32 = y.to_vec()[..50].iter().sum();
/// assert!(group.abs() < 1e-4);
/// ```
pub struct GroupNorm {
    num_groups: usize,
    num_channels: usize,
    eps: f32,
    weight: Option<Tensor>,
    bias: Option<Tensor>,
    training: bool,
    hooks: ForwardHooks,
}

/// A `GroupNorm`'s settings, as [`GroupNorm::config`] reports them.
///
/// ```
/// let c = kindling::nn::GroupNorm::new(2, 6).config();
/// assert_eq!((c.num_groups, c.num_channels), (2, 6));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroupNormConfig {
    /// G, the number of groups the channels are split into.
    pub num_groups: usize,
    /// C, the number of channels.
    pub num_channels: usize,
    /// Added to the variance before the square root.
    pub eps: f32,
    /// Whether γ and β exist.
    pub affine: bool,
}

/// The per-channel γ = 1 and β = 0 that a new affine layer starts from.
fn unit_affine(channels: usize) -> (Option<Tensor>, Option<Tensor>) {
    (
        Some(Tensor::ones(&[channels]).requires_grad(true)),
        Some(Tensor::zeros(&[channels]).requires_grad(true)),
    )
}

/// The parameter list of a layer with an optional per-channel γ and β.
fn affine_parameters(weight: &Option<Tensor>, bias: &Option<Tensor>) -> Vec<(String, Tensor)> {
    match weight {
        Some(w) => weight_and_bias(w, bias.as_ref()),
        None => Vec::new(),
    }
}

impl GroupNorm {
    /// A layer splitting `num_channels` channels into `num_groups` groups: γ = 1, β = 0,
    /// eps 1e-5, in training mode.
    ///
    /// # Panics
    /// If `num_groups` is 0 or does not divide `num_channels`, for example
    /// `group_norm: 6 channels do not split into 4 groups`.
    ///
    /// ```
    /// use kindling::nn::{GroupNorm, Module};
    /// let gn = GroupNorm::new(8, 32);
    /// assert_eq!(gn.weight().unwrap().shape(), &[32]);
    /// assert_eq!(gn.parameters().len(), 2);
    /// ```
    pub fn new(num_groups: usize, num_channels: usize) -> Self {
        assert!(
            num_groups > 0,
            "group_norm: num_groups must be at least 1, got 0"
        );
        assert!(
            num_channels.is_multiple_of(num_groups),
            "group_norm: {num_channels} channels do not split into {num_groups} groups"
        );
        let (weight, bias) = unit_affine(num_channels);
        GroupNorm {
            num_groups,
            num_channels,
            eps: 1e-5,
            weight,
            bias,
            training: true,
            hooks: ForwardHooks::new(),
        }
    }

    /// Builder: the constant added to the variance before the square root (default 1e-5).
    ///
    /// ```
    /// assert_eq!(kindling::nn::GroupNorm::new(2, 4).eps(1e-3).config().eps, 1e-3);
    /// ```
    pub fn eps(mut self, eps: f32) -> Self {
        self.eps = eps;
        self
    }

    /// Builder: with `false`, no learnable γ and β (the output is just standardised).
    ///
    /// ```
    /// use kindling::nn::{GroupNorm, Module};
    /// assert!(GroupNorm::new(2, 4).affine(false).parameters().is_empty());
    /// ```
    pub fn affine(mut self, on: bool) -> Self {
        if on && self.weight.is_none() {
            (self.weight, self.bias) = unit_affine(self.num_channels);
        } else if !on {
            (self.weight, self.bias) = (None, None);
        }
        self
    }

    /// γ, the learnable scale, one per channel (`None` without affine).
    ///
    /// ```
    /// assert_eq!(kindling::nn::GroupNorm::new(1, 2).weight().unwrap().to_vec(), vec![1.0, 1.0]);
    /// ```
    pub fn weight(&self) -> Option<Tensor> {
        self.weight.clone()
    }

    /// β, the learnable shift, one per channel (`None` without affine).
    ///
    /// ```
    /// assert_eq!(kindling::nn::GroupNorm::new(1, 2).bias_tensor().unwrap().to_vec(), vec![0.0, 0.0]);
    /// ```
    pub fn bias_tensor(&self) -> Option<Tensor> {
        self.bias.clone()
    }

    /// The settings the layer was built with.
    ///
    /// ```
    /// let c = kindling::nn::GroupNorm::new(4, 8).affine(false).config();
    /// assert_eq!((c.num_groups, c.num_channels, c.eps, c.affine), (4, 8, 1e-5, false));
    /// ```
    pub fn config(&self) -> GroupNormConfig {
        GroupNormConfig {
            num_groups: self.num_groups,
            num_channels: self.num_channels,
            eps: self.eps,
            affine: self.weight.is_some(),
        }
    }
}

impl Module for GroupNorm {
    /// # Panics
    /// If the input is not `[N, C, ...]` with `C = num_channels`; the message names both.
    fn forward(&self, x: &Tensor) -> Tensor {
        let shape = x.shape();
        assert!(
            shape.len() >= 2,
            "GroupNorm: expected an input [N, C, ...], got shape {shape:?}"
        );
        assert!(
            shape[1] == self.num_channels,
            "GroupNorm: input of shape {shape:?} has {} channels, the layer has {}",
            shape[1],
            self.num_channels
        );
        x.group_norm(
            self.num_groups,
            self.weight.as_ref(),
            self.bias.as_ref(),
            self.eps,
        )
    }

    fn own_parameters(&self) -> Vec<(String, Tensor)> {
        affine_parameters(&self.weight, &self.bias)
    }

    // The training flag is only recorded: GroupNorm computes the same in both modes.
    crate::layer_flag_and_hooks!();

    fn extra_repr(&self) -> String {
        format!(
            "{}, {}, eps={}, affine={}, bias={}",
            self.num_groups,
            self.num_channels,
            py_float(self.eps),
            py_bool(self.weight.is_some()),
            py_bool(self.bias.is_some())
        )
    }
}

crate::impl_display_as_repr!(GroupNorm);

/// Instance normalisation of images, `[N, C, H, W]` (or one image, `[C, H, W]`): each
/// channel of each image is standardised over its own `H × W` values. It is GroupNorm with
/// one channel per group, and computed as exactly that. PyTorch's defaults: no γ and β
/// (`affine = false`) and no running statistics (`track_running_stats = False`, so no
/// buffers), so training and eval compute the same.
///
/// It removes each image's per-channel brightness and contrast, which is why style
/// transfer uses it.
///
/// ```
/// use kindling::nn::{InstanceNorm2d, Module};
/// use kindling::Tensor;
/// let norm = InstanceNorm2d::new(1);
/// // One 2×2 channel [1, 2, 3, 4]: mean 2.5, biased variance 1.25.
/// let y = norm.forward(&Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[1, 1, 2, 2])).to_vec();
/// assert!((y[0] + 1.3416).abs() < 1e-4 && (y[3] - 1.3416).abs() < 1e-4);
/// assert!(norm.parameters().is_empty() && norm.named_buffers().is_empty());
/// ```
pub struct InstanceNorm2d {
    num_features: usize,
    eps: f32,
    weight: Option<Tensor>,
    bias: Option<Tensor>,
    training: bool,
    hooks: ForwardHooks,
}

/// An `InstanceNorm2d`'s settings, as [`InstanceNorm2d::config`] reports them.
///
/// ```
/// let c = kindling::nn::InstanceNorm2d::new(3).config();
/// assert_eq!((c.num_features, c.affine), (3, false));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InstanceNormConfig {
    /// C, the number of channels.
    pub num_features: usize,
    /// Added to the variance before the square root.
    pub eps: f32,
    /// Whether γ and β exist (off by default).
    pub affine: bool,
}

impl InstanceNorm2d {
    /// A layer for `num_features` channels: no γ and β, eps 1e-5, in training mode.
    ///
    /// ```
    /// use kindling::nn::{InstanceNorm2d, Module};
    /// assert!(InstanceNorm2d::new(16).state_dict().is_empty());
    /// ```
    pub fn new(num_features: usize) -> Self {
        InstanceNorm2d {
            num_features,
            eps: 1e-5,
            weight: None,
            bias: None,
            training: true,
            hooks: ForwardHooks::new(),
        }
    }

    /// Builder: the constant added to the variance before the square root (default 1e-5).
    ///
    /// ```
    /// assert_eq!(kindling::nn::InstanceNorm2d::new(3).eps(1e-3).config().eps, 1e-3);
    /// ```
    pub fn eps(mut self, eps: f32) -> Self {
        self.eps = eps;
        self
    }

    /// Builder: with `true`, a learnable γ (ones) and β (zeros) per channel.
    ///
    /// ```
    /// use kindling::nn::{InstanceNorm2d, Module};
    /// assert_eq!(InstanceNorm2d::new(3).affine(true).state_dict().keys(), vec!["weight", "bias"]);
    /// ```
    pub fn affine(mut self, on: bool) -> Self {
        if on && self.weight.is_none() {
            (self.weight, self.bias) = unit_affine(self.num_features);
        } else if !on {
            (self.weight, self.bias) = (None, None);
        }
        self
    }

    /// γ, the learnable scale, one per channel (`None` unless affine).
    ///
    /// ```
    /// assert!(kindling::nn::InstanceNorm2d::new(3).weight().is_none());
    /// ```
    pub fn weight(&self) -> Option<Tensor> {
        self.weight.clone()
    }

    /// β, the learnable shift, one per channel (`None` unless affine).
    ///
    /// ```
    /// let norm = kindling::nn::InstanceNorm2d::new(2).affine(true);
    /// assert_eq!(norm.bias_tensor().unwrap().to_vec(), vec![0.0, 0.0]);
    /// ```
    pub fn bias_tensor(&self) -> Option<Tensor> {
        self.bias.clone()
    }

    /// The settings the layer was built with.
    ///
    /// ```
    /// let c = kindling::nn::InstanceNorm2d::new(3).affine(true).config();
    /// assert_eq!((c.num_features, c.eps, c.affine), (3, 1e-5, true));
    /// ```
    pub fn config(&self) -> InstanceNormConfig {
        InstanceNormConfig {
            num_features: self.num_features,
            eps: self.eps,
            affine: self.weight.is_some(),
        }
    }
}

impl Module for InstanceNorm2d {
    /// # Panics
    /// If the input is not `[N, C, H, W]` or `[C, H, W]` with `C = num_features`, or a
    /// channel has a single value (`H × W = 1`), whose variance says nothing: PyTorch
    /// refuses that too.
    fn forward(&self, x: &Tensor) -> Tensor {
        let shape = x.shape();
        assert!(
            shape.len() == 3 || shape.len() == 4,
            "InstanceNorm2d: expected a 3-d [C, H, W] or 4-d [N, C, H, W] input, got shape {shape:?}"
        );
        // One image [C, H, W] is a batch of one.
        let batched = if shape.len() == 3 {
            x.reshape(&[1, shape[0], shape[1], shape[2]])
        } else {
            x.clone()
        };
        let b_shape = batched.shape();
        assert!(
            b_shape[1] == self.num_features,
            "InstanceNorm2d: input of shape {shape:?} has {} channels, the layer has {}",
            b_shape[1],
            self.num_features
        );
        assert!(
            b_shape[2] * b_shape[3] > 1,
            "InstanceNorm2d: expected more than 1 value per channel, got input of shape {shape:?}"
        );
        // One group per channel.
        let y = batched.group_norm(
            self.num_features,
            self.weight.as_ref(),
            self.bias.as_ref(),
            self.eps,
        );
        if shape.len() == 3 {
            y.reshape(shape)
        } else {
            y
        }
    }

    fn own_parameters(&self) -> Vec<(String, Tensor)> {
        affine_parameters(&self.weight, &self.bias)
    }

    // The training flag is only recorded: without running statistics, InstanceNorm2d computes the same in
    // both modes.
    crate::layer_flag_and_hooks!();

    /// PyTorch prints the momentum (0.1) even though, without running statistics, it is
    /// never used.
    fn extra_repr(&self) -> String {
        format!(
            "{}, eps={}, momentum=0.1, affine={}, bias={}, track_running_stats=False",
            self.num_features,
            py_float(self.eps),
            py_bool(self.weight.is_some()),
            py_bool(self.bias.is_some())
        )
    }
}

crate::impl_display_as_repr!(InstanceNorm2d);
