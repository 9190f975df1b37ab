//! The pooling layers, the layer forms of the tensor ops: `MaxPool2d` (`Tensor::max_pool2d`),
//! `AvgPool2d` (`Tensor::avg_pool2d`) and `AdaptiveAvgPool2d` (`Tensor::adaptive_avg_pool2d`,
//! windows chosen to give a fixed output size, as the global average pool at the end of a
//! ResNet).

use kindling_core::Tensor;

use crate::{ForwardHooks, Module};

/// 2-d max pooling over `kernel × kernel` windows (`torch.nn.MaxPool2d`); the stride
/// defaults to the kernel size, so windows do not overlap.
///
/// ```
/// use kindling::nn::{MaxPool2d, Module};
/// use kindling::Tensor;
/// assert_eq!(MaxPool2d::new(2).forward(&Tensor::zeros(&[1, 3, 28, 28])).shape(), &[1, 3, 14, 14]);
/// ```
#[derive(Debug, Clone)]
pub struct MaxPool2d {
    // Read by `Sequential`, which fuses a ReLU next to this pool.
    pub(crate) kernel: usize,
    pub(crate) stride: usize,
    training: bool,
    hooks: ForwardHooks,
}

impl MaxPool2d {
    /// Pooling with window `kernel` and stride `kernel`.
    ///
    /// ```
    /// let _pool = kindling::nn::MaxPool2d::new(2);
    /// ```
    pub fn new(kernel: usize) -> Self {
        MaxPool2d {
            kernel,
            stride: kernel,
            training: true,
            hooks: ForwardHooks::new(),
        }
    }

    /// Builder: a stride other than the kernel size.
    ///
    /// ```
    /// use kindling::nn::{MaxPool2d, Module};
    /// use kindling::Tensor;
    /// let y = MaxPool2d::new(3).stride(1).forward(&Tensor::zeros(&[1, 1, 5, 5]));
    /// assert_eq!(y.shape(), &[1, 1, 3, 3]);
    /// ```
    pub fn stride(mut self, stride: usize) -> Self {
        self.stride = stride;
        self
    }
}

impl Module for MaxPool2d {
    fn forward(&self, x: &Tensor) -> Tensor {
        x.max_pool2d(self.kernel, self.stride)
    }
    crate::layer_flag_and_hooks!();
    fn extra_repr(&self) -> String {
        format!(
            "kernel_size={}, stride={}, padding=0, dilation=1, ceil_mode=False",
            self.kernel, self.stride
        )
    }
}

crate::impl_display_as_repr!(MaxPool2d);

/// 2-d average pooling over `kernel × kernel` windows (`torch.nn.AvgPool2d`), no padding;
/// the stride defaults to the kernel size, so windows do not overlap.
///
/// ```
/// use kindling::nn::{AvgPool2d, Module};
/// use kindling::Tensor;
/// let y = AvgPool2d::new(2).forward(&Tensor::ones(&[1, 3, 28, 28]));
/// assert_eq!(y.shape(), &[1, 3, 14, 14]);
/// assert_eq!(AvgPool2d::new(2).to_string(), "AvgPool2d(kernel_size=2, stride=2, padding=0)");
/// ```
#[derive(Debug, Clone)]
pub struct AvgPool2d {
    kernel: usize,
    stride: usize,
    training: bool,
    hooks: ForwardHooks,
}

impl AvgPool2d {
    /// Average pooling with window `kernel` and stride `kernel`.
    ///
    /// ```
    /// let _pool = kindling::nn::AvgPool2d::new(2);
    /// ```
    pub fn new(kernel: usize) -> Self {
        AvgPool2d {
            kernel,
            stride: kernel,
            training: true,
            hooks: ForwardHooks::new(),
        }
    }

    /// Builder: a stride other than the kernel size (a smaller one makes windows overlap).
    ///
    /// ```
    /// use kindling::nn::{AvgPool2d, Module};
    /// use kindling::Tensor;
    /// let y = AvgPool2d::new(3).stride(1).forward(&Tensor::zeros(&[1, 1, 5, 5]));
    /// assert_eq!(y.shape(), &[1, 1, 3, 3]);
    /// ```
    pub fn stride(mut self, stride: usize) -> Self {
        self.stride = stride;
        self
    }
}

impl Module for AvgPool2d {
    fn forward(&self, x: &Tensor) -> Tensor {
        x.avg_pool2d(self.kernel, self.stride)
    }
    crate::layer_flag_and_hooks!();
    fn extra_repr(&self) -> String {
        format!(
            "kernel_size={}, stride={}, padding=0",
            self.kernel, self.stride
        )
    }
}

crate::impl_display_as_repr!(AvgPool2d);

/// Adaptive 2-d average pooling to an `output_size × output_size` plane, whatever the
/// input's height and width (`torch.nn.AdaptiveAvgPool2d` with a square size). With
/// `output_size` 1 it is the global average pool that ends a ResNet, so the linear layer
/// after it does not depend on the image size. See [`Tensor::adaptive_avg_pool2d`] for how
/// the windows are chosen.
///
/// ```
/// use kindling::nn::{AdaptiveAvgPool2d, Module};
/// use kindling::Tensor;
/// let pool = AdaptiveAvgPool2d::new(1);
/// assert_eq!(pool.forward(&Tensor::ones(&[2, 8, 7, 9])).shape(), &[2, 8, 1, 1]);
/// assert_eq!(pool.to_string(), "AdaptiveAvgPool2d(output_size=1)");
/// ```
#[derive(Debug, Clone)]
pub struct AdaptiveAvgPool2d {
    output_size: usize,
    training: bool,
    hooks: ForwardHooks,
}

impl AdaptiveAvgPool2d {
    /// Adaptive average pooling to `output_size × output_size`.
    ///
    /// ```
    /// let _pool = kindling::nn::AdaptiveAvgPool2d::new(3);
    /// ```
    pub fn new(output_size: usize) -> Self {
        AdaptiveAvgPool2d {
            output_size,
            training: true,
            hooks: ForwardHooks::new(),
        }
    }
}

impl Module for AdaptiveAvgPool2d {
    fn forward(&self, x: &Tensor) -> Tensor {
        x.adaptive_avg_pool2d(self.output_size)
    }
    crate::layer_flag_and_hooks!();
    fn extra_repr(&self) -> String {
        format!("output_size={}", self.output_size)
    }
}

crate::impl_display_as_repr!(AdaptiveAvgPool2d);
