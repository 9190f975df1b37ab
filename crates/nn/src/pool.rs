//! `MaxPool2d`, the layer form of `Tensor::max_pool2d`.

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
    kernel: usize,
    stride: usize,
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
    fn set_training(&mut self, on: bool) {
        self.training = on;
    }
    fn is_training(&self) -> bool {
        self.training
    }
    fn forward_hooks(&self) -> Option<&ForwardHooks> {
        Some(&self.hooks)
    }
    fn extra_repr(&self) -> String {
        format!(
            "kernel_size={}, stride={}, padding=0, dilation=1, ceil_mode=False",
            self.kernel, self.stride
        )
    }
}

crate::impl_display_as_repr!(MaxPool2d);
