//! `Identity`: a layer that returns its input. It holds a place in a model, for instance
//! where a residual block has no shortcut convolution, or where a pretrained network's head
//! is switched off, so that the model's structure and keys stay the same.

use kindling_core::Tensor;

use crate::{ForwardHooks, Module};

/// Returns its input unchanged (`torch.nn.Identity`). No parameters; the output is the
/// input tensor itself, so gradients pass straight through.
///
/// ```
/// use kindling::nn::{Identity, Module};
/// use kindling::Tensor;
/// let x = Tensor::from_vec(vec![1.0, -2.0], &[2]);
/// assert_eq!(Identity::new().forward(&x).to_vec(), vec![1.0, -2.0]);
/// assert_eq!(Identity::new().to_string(), "Identity()");
/// ```
#[derive(Debug, Clone)]
pub struct Identity {
    training: bool,
    hooks: ForwardHooks,
}

/// The same as `new()`.
impl Default for Identity {
    fn default() -> Self {
        Identity::new()
    }
}

impl Identity {
    /// An identity layer.
    ///
    /// ```
    /// let _id = kindling::nn::Identity::new();
    /// ```
    pub fn new() -> Self {
        Identity {
            training: true,
            hooks: ForwardHooks::new(),
        }
    }
}

impl Module for Identity {
    fn forward(&self, x: &Tensor) -> Tensor {
        // PyTorch returns the very same tensor object; a clone here is a handle on the same
        // storage and graph node, which is the same thing.
        x.clone()
    }
    crate::layer_flag_and_hooks!();
}

crate::impl_display_as_repr!(Identity);
