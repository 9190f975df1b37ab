//! `Dropout`: in training, zeroes each element with probability p and scales the survivors
//! by 1/(1-p), so the expected value is unchanged; in eval, the identity.

use kindling_core::{rng, Tensor};

use crate::{ForwardHooks, Module};

/// Inverted dropout (`torch.nn.Dropout`). The mask comes from the global generator, so
/// `manual_seed` makes it repeatable.
///
/// ```
/// use kindling::nn::{Dropout, Module};
/// use kindling::Tensor;
/// let mut drop = Dropout::new(0.5);
/// drop.eval();
/// assert_eq!(drop.forward(&Tensor::ones(&[4])).to_vec(), vec![1.0; 4]);
/// ```
#[derive(Debug, Clone)]
pub struct Dropout {
    p: f32,
    training: bool,
    hooks: ForwardHooks,
}

impl Dropout {
    /// Dropout with probability `p` of zeroing each element.
    ///
    /// # Panics
    /// If `p` is not in `[0, 1]`.
    ///
    /// ```
    /// let _d = kindling::nn::Dropout::new(0.1);
    /// ```
    pub fn new(p: f32) -> Self {
        assert!(
            (0.0..=1.0).contains(&p),
            "Dropout: probability must be in [0, 1], got {p}"
        );
        Dropout {
            p,
            training: true,
            hooks: ForwardHooks::new(),
        }
    }
}

impl Module for Dropout {
    fn forward(&self, x: &Tensor) -> Tensor {
        if !self.training || self.p == 0.0 {
            return x.clone();
        }
        if self.p == 1.0 {
            return x * 0.0;
        }
        let keep = 1.0 - self.p;
        let mask: Vec<f32> = rng::uniform(x.numel(), 0.0, 1.0)
            .into_iter()
            .map(|u| if u < keep { 1.0 / keep } else { 0.0 })
            .collect();
        x * &Tensor::from_vec(mask, x.shape())
    }
    crate::layer_flag_and_hooks!();
    fn extra_repr(&self) -> String {
        format!("p={}, inplace=False", crate::module::py_float(self.p))
    }
}

crate::impl_display_as_repr!(Dropout);
