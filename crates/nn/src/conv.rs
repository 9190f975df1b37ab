//! `Conv2d`: the 2-d convolution layer (`torch.nn.Conv2d`), a thin owner of a weight and a
//! bias around `Tensor::conv2d` (im2col + SGEMM, in kindling-core's `ops/conv.rs`).

use kindling_core::Tensor;

use crate::init::{default_bound, uniform_parameter};
use crate::module::weight_and_bias;
use crate::{ForwardHooks, Module};

/// A 2-d convolution with square kernels: weight `[out, in, k, k]`, bias `[out]`.
///
/// ```
/// use kindling::nn::{Conv2d, Module};
/// use kindling::Tensor;
/// let conv = Conv2d::new(1, 32, 3).padding(1);
/// assert_eq!(conv.forward(&Tensor::zeros(&[2, 1, 28, 28])).shape(), &[2, 32, 28, 28]);
/// ```
pub struct Conv2d {
    weight: Tensor,
    bias: Option<Tensor>,
    stride: usize,
    padding: usize,
    training: bool,
    hooks: ForwardHooks,
}

impl Conv2d {
    /// A layer with stride 1, no padding, a bias, and PyTorch's default initialisation.
    ///
    /// ```
    /// let conv = kindling::nn::Conv2d::new(3, 8, 5);
    /// assert_eq!(conv.weight().shape(), &[8, 3, 5, 5]);
    /// ```
    pub fn new(in_channels: usize, out_channels: usize, kernel_size: usize) -> Self {
        let bound = default_bound(in_channels * kernel_size * kernel_size);
        Conv2d {
            weight: uniform_parameter(
                &[out_channels, in_channels, kernel_size, kernel_size],
                bound,
            ),
            bias: Some(uniform_parameter(&[out_channels], bound)),
            stride: 1,
            padding: 0,
            training: true,
            hooks: ForwardHooks::new(),
        }
    }

    /// Builder: the step between windows.
    ///
    /// ```
    /// use kindling::nn::{Conv2d, Module};
    /// use kindling::Tensor;
    /// let y = Conv2d::new(1, 1, 3).stride(2).forward(&Tensor::zeros(&[1, 1, 7, 7]));
    /// assert_eq!(y.shape(), &[1, 1, 3, 3]);
    /// ```
    pub fn stride(mut self, stride: usize) -> Self {
        self.stride = stride;
        self
    }

    /// Builder: zeros added on every side of the input.
    ///
    /// ```
    /// use kindling::nn::{Conv2d, Module};
    /// use kindling::Tensor;
    /// let y = Conv2d::new(1, 1, 3).padding(1).forward(&Tensor::zeros(&[1, 1, 5, 5]));
    /// assert_eq!(y.shape(), &[1, 1, 5, 5]);
    /// ```
    pub fn padding(mut self, padding: usize) -> Self {
        self.padding = padding;
        self
    }

    /// Builder: with `false`, no bias (common right before a BatchNorm, which has its own).
    ///
    /// ```
    /// use kindling::nn::{Conv2d, Module};
    /// assert_eq!(Conv2d::new(1, 4, 3).bias(false).parameters().len(), 1);
    /// ```
    pub fn bias(mut self, on: bool) -> Self {
        if !on {
            self.bias = None;
        }
        self
    }

    /// The weight `[out, in, k, k]`.
    ///
    /// ```
    /// assert_eq!(kindling::nn::Conv2d::new(2, 4, 3).weight().numel(), 72);
    /// ```
    pub fn weight(&self) -> Tensor {
        self.weight.clone()
    }

    /// The bias `[out]`, if the layer has one.
    ///
    /// ```
    /// assert_eq!(kindling::nn::Conv2d::new(2, 4, 3).bias_tensor().unwrap().shape(), &[4]);
    /// ```
    pub fn bias_tensor(&self) -> Option<Tensor> {
        self.bias.clone()
    }

    /// The settings the layer was built with, read off its weight and builders.
    ///
    /// ```
    /// let conv = kindling::nn::Conv2d::new(1, 32, 3).padding(1);
    /// let c = conv.config();
    /// assert_eq!((c.in_channels, c.out_channels, c.kernel_size, c.stride, c.padding), (1, 32, 3, 1, 1));
    /// assert!(c.bias);
    /// ```
    pub fn config(&self) -> Conv2dConfig {
        let w = self.weight.shape();
        Conv2dConfig {
            in_channels: w[1],
            out_channels: w[0],
            kernel_size: w[2],
            stride: self.stride,
            padding: self.padding,
            bias: self.bias.is_some(),
        }
    }
}

/// A `Conv2d`'s settings, as [`Conv2d::config`] reports them.
///
/// ```
/// assert_eq!(kindling::nn::Conv2d::new(3, 8, 5).config().kernel_size, 5);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv2dConfig {
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// The side of the square kernel.
    pub kernel_size: usize,
    /// The step between windows.
    pub stride: usize,
    /// Zeros added on every side.
    pub padding: usize,
    /// Whether the layer has a bias.
    pub bias: bool,
}

impl Conv2d {
    /// `forward`, then ReLU and max pooling, as one op (`Tensor::conv2d_relu_max_pool2d`):
    /// the same bits. `Sequential` calls it; the layer's forward hooks do not run, so
    /// `Sequential` only does when there are none.
    pub(crate) fn forward_relu_max_pool2d(
        &self,
        x: &Tensor,
        kernel: usize,
        stride: usize,
    ) -> Tensor {
        x.conv2d_relu_max_pool2d(
            &self.weight,
            self.bias.as_ref(),
            self.stride,
            self.padding,
            kernel,
            stride,
        )
    }
}

impl Module for Conv2d {
    fn forward(&self, x: &Tensor) -> Tensor {
        x.conv2d(&self.weight, self.bias.as_ref(), self.stride, self.padding)
    }

    fn own_parameters(&self) -> Vec<(String, Tensor)> {
        weight_and_bias(&self.weight, self.bias.as_ref())
    }

    crate::layer_flag_and_hooks!();

    fn extra_repr(&self) -> String {
        let c = self.config();
        let mut s = format!(
            "{}, {}, kernel_size=({k}, {k}), stride=({s}, {s})",
            c.in_channels,
            c.out_channels,
            k = c.kernel_size,
            s = c.stride
        );
        if c.padding != 0 {
            s += &format!(", padding=({p}, {p})", p = c.padding);
        }
        if !c.bias {
            s += ", bias=False";
        }
        s
    }
}

crate::impl_display_as_repr!(Conv2d);
