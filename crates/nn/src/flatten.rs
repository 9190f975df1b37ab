//! `Flatten`: keeps the batch dim and flattens the rest, between the conv and linear parts
//! of a CNN (`torch.nn.Flatten`, start_dim 1).

use kindling_core::Tensor;

use crate::{ForwardHooks, Module};

/// `[N, d1, d2, ...]` to `[N, d1·d2·...]`.
///
/// ```
/// use kindling::nn::{Flatten, Module};
/// use kindling::Tensor;
/// assert_eq!(Flatten::new().forward(&Tensor::zeros(&[64, 64, 7, 7])).shape(), &[64, 3136]);
/// ```
#[derive(Debug, Clone)]
pub struct Flatten {
    training: bool,
    hooks: ForwardHooks,
}

/// The same as `new()`: in training mode, as every new module is.
impl Default for Flatten {
    fn default() -> Self {
        Flatten::new()
    }
}

impl Flatten {
    /// A flatten layer (from dim 1).
    ///
    /// ```
    /// let _flatten = kindling::nn::Flatten::new();
    /// ```
    pub fn new() -> Self {
        Flatten {
            training: true,
            hooks: ForwardHooks::new(),
        }
    }
}

impl Module for Flatten {
    fn forward(&self, x: &Tensor) -> Tensor {
        x.flatten_from(1)
    }
    crate::layer_flag_and_hooks!();
    fn extra_repr(&self) -> String {
        "start_dim=1, end_dim=-1".to_string()
    }
}

crate::impl_display_as_repr!(Flatten);
