//! `ReLU`, the layer form of `Tensor::relu`: max(x, 0), element-wise.

use kindling_core::Tensor;

use crate::{ForwardHooks, Module};

/// max(x, 0) element-wise (`torch.nn.ReLU`). No parameters.
///
/// ```
/// use kindling::nn::{Module, ReLU};
/// use kindling::Tensor;
/// let y = ReLU::new().forward(&Tensor::from_vec(vec![-1.0, 3.0], &[2]));
/// assert_eq!(y.to_vec(), vec![0.0, 3.0]);
/// ```
#[derive(Debug, Clone)]
pub struct ReLU {
    training: bool,
    hooks: ForwardHooks,
}

/// The same as `new()`: in training mode, as every new module is.
impl Default for ReLU {
    fn default() -> Self {
        ReLU::new()
    }
}

impl ReLU {
    /// A ReLU layer.
    ///
    /// ```
    /// let _relu = kindling::nn::ReLU::new();
    /// ```
    pub fn new() -> Self {
        ReLU {
            training: true,
            hooks: ForwardHooks::new(),
        }
    }
}

impl Module for ReLU {
    fn forward(&self, x: &Tensor) -> Tensor {
        x.relu()
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
}

crate::impl_display_as_repr!(ReLU);
