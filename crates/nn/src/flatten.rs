//! `Flatten`: keeps the batch dim and flattens the rest, between the conv and linear parts
//! of a CNN (`torch.nn.Flatten`, start_dim 1).

use kindling_core::Tensor;

use crate::Module;

/// `[N, d1, d2, ...]` to `[N, d1·d2·...]`.
///
/// ```
/// use kindling_nn::{Flatten, Module};
/// use kindling_core::Tensor;
/// assert_eq!(Flatten::new().forward(&Tensor::zeros(&[64, 64, 7, 7])).shape(), &[64, 3136]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Flatten {
    training: bool,
}

impl Flatten {
    /// A flatten layer (from dim 1).
    ///
    /// ```
    /// let _flatten = kindling_nn::Flatten::new();
    /// ```
    pub fn new() -> Self {
        Flatten { training: true }
    }
}

impl Module for Flatten {
    fn forward(&self, x: &Tensor) -> Tensor {
        x.flatten_from(1)
    }
    fn set_training(&mut self, on: bool) {
        self.training = on;
    }
    fn is_training(&self) -> bool {
        self.training
    }
}
