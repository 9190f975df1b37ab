//! The activation layers, each the layer form of a tensor op: `ReLU` (max(x, 0)),
//! `LeakyReLU` (a small slope instead of 0 for negative inputs), `Sigmoid`, `Tanh`, and
//! `GELU` (x weighted by the normal distribution function, the activation of transformers).
//! None has parameters; they exist so that an activation can sit in a `Sequential` and be
//! printed, hooked and counted like any other layer.

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
    crate::layer_flag_and_hooks!();
}

crate::impl_display_as_repr!(ReLU);

/// `x` where `x > 0`, `negative_slope · x` elsewhere (`torch.nn.LeakyReLU`). A negative
/// input still passes a small gradient, so a unit cannot get stuck at 0 the way a ReLU
/// unit can. `Default` gives PyTorch's default slope, 0.01.
///
/// ```
/// use kindling::nn::{LeakyReLU, Module};
/// use kindling::Tensor;
/// let y = LeakyReLU::new(0.1).forward(&Tensor::from_vec(vec![-2.0, 3.0], &[2]));
/// assert_eq!(y.to_vec(), vec![-0.2, 3.0]);
/// assert_eq!(LeakyReLU::default().to_string(), "LeakyReLU(negative_slope=0.01)");
/// ```
#[derive(Debug, Clone)]
pub struct LeakyReLU {
    negative_slope: f32,
    training: bool,
    hooks: ForwardHooks,
}

/// PyTorch's default, `LeakyReLU(negative_slope=0.01)`.
impl Default for LeakyReLU {
    fn default() -> Self {
        LeakyReLU::new(0.01)
    }
}

impl LeakyReLU {
    /// A leaky ReLU with the given slope for negative inputs (any number, as in PyTorch).
    ///
    /// ```
    /// let _leaky = kindling::nn::LeakyReLU::new(0.2);
    /// ```
    pub fn new(negative_slope: f32) -> Self {
        LeakyReLU {
            negative_slope,
            training: true,
            hooks: ForwardHooks::new(),
        }
    }
}

impl Module for LeakyReLU {
    fn forward(&self, x: &Tensor) -> Tensor {
        x.leaky_relu(self.negative_slope)
    }
    crate::layer_flag_and_hooks!();
    fn extra_repr(&self) -> String {
        format!(
            "negative_slope={}",
            crate::module::py_float(self.negative_slope)
        )
    }
}

crate::impl_display_as_repr!(LeakyReLU);

/// The logistic function 1 / (1 + e^-x) element-wise (`torch.nn.Sigmoid`): squashes any
/// number into (0, 1).
///
/// ```
/// use kindling::nn::{Module, Sigmoid};
/// use kindling::Tensor;
/// let y = Sigmoid::new().forward(&Tensor::from_vec(vec![0.0], &[1]));
/// assert_eq!(y.to_vec(), vec![0.5]);
/// ```
#[derive(Debug, Clone)]
pub struct Sigmoid {
    training: bool,
    hooks: ForwardHooks,
}

/// The same as `new()`.
impl Default for Sigmoid {
    fn default() -> Self {
        Sigmoid::new()
    }
}

impl Sigmoid {
    /// A sigmoid layer.
    ///
    /// ```
    /// let _sigmoid = kindling::nn::Sigmoid::new();
    /// ```
    pub fn new() -> Self {
        Sigmoid {
            training: true,
            hooks: ForwardHooks::new(),
        }
    }
}

impl Module for Sigmoid {
    fn forward(&self, x: &Tensor) -> Tensor {
        x.sigmoid()
    }
    crate::layer_flag_and_hooks!();
}

crate::impl_display_as_repr!(Sigmoid);

/// The hyperbolic tangent element-wise (`torch.nn.Tanh`): squashes any number into
/// (-1, 1), centred on 0.
///
/// ```
/// use kindling::nn::{Module, Tanh};
/// use kindling::Tensor;
/// let y = Tanh::new().forward(&Tensor::from_vec(vec![0.0, 20.0], &[2]));
/// assert_eq!(y.to_vec(), vec![0.0, 1.0]);
/// ```
#[derive(Debug, Clone)]
pub struct Tanh {
    training: bool,
    hooks: ForwardHooks,
}

/// The same as `new()`.
impl Default for Tanh {
    fn default() -> Self {
        Tanh::new()
    }
}

impl Tanh {
    /// A tanh layer.
    ///
    /// ```
    /// let _tanh = kindling::nn::Tanh::new();
    /// ```
    pub fn new() -> Self {
        Tanh {
            training: true,
            hooks: ForwardHooks::new(),
        }
    }
}

impl Module for Tanh {
    fn forward(&self, x: &Tensor) -> Tensor {
        x.tanh()
    }
    crate::layer_flag_and_hooks!();
}

crate::impl_display_as_repr!(Tanh);

/// The Gaussian error linear unit, `x · Φ(x)` with Φ the standard normal distribution
/// function (`torch.nn.GELU`). By default the exact form, through erf (PyTorch's
/// `approximate='none'`); `.approximate("tanh")` picks the tanh approximation that GPT-2
/// and BERT used.
///
/// ```
/// use kindling::nn::{Module, GELU};
/// use kindling::Tensor;
/// let y = GELU::new().forward(&Tensor::from_vec(vec![0.0, 10.0], &[2]));
/// assert_eq!(y.to_vec(), vec![0.0, 10.0]); // Φ(10) is 1 in f32
/// assert_eq!(GELU::new().to_string(), "GELU(approximate='none')");
/// ```
#[derive(Debug, Clone)]
pub struct GELU {
    /// Whether the tanh approximation is used (`approximate='tanh'`).
    tanh: bool,
    training: bool,
    hooks: ForwardHooks,
}

/// The same as `new()`: the exact form.
impl Default for GELU {
    fn default() -> Self {
        GELU::new()
    }
}

impl GELU {
    /// A GELU layer, exact form.
    ///
    /// ```
    /// let _gelu = kindling::nn::GELU::new();
    /// ```
    pub fn new() -> Self {
        GELU {
            tanh: false,
            training: true,
            hooks: ForwardHooks::new(),
        }
    }

    /// Builder: which form to compute, named as in PyTorch: `"none"` (exact, the default)
    /// or `"tanh"` (the approximation, [`Tensor::gelu_tanh`]).
    ///
    /// # Panics
    /// If `approximate` is anything else; the message names the two choices.
    ///
    /// ```
    /// use kindling::nn::{Module, GELU};
    /// use kindling::Tensor;
    /// let gelu = GELU::new().approximate("tanh");
    /// assert_eq!(gelu.to_string(), "GELU(approximate='tanh')");
    /// let x = Tensor::from_vec(vec![1.0], &[1]);
    /// assert_eq!(gelu.forward(&x).to_vec(), x.gelu_tanh().to_vec());
    /// ```
    pub fn approximate(mut self, approximate: &str) -> Self {
        self.tanh = match approximate {
            "none" => false,
            "tanh" => true,
            other => panic!(
                "GELU: approximate must be \"none\" (the exact erf form) or \"tanh\", got {other:?}"
            ),
        };
        self
    }
}

impl Module for GELU {
    fn forward(&self, x: &Tensor) -> Tensor {
        if self.tanh {
            x.gelu_tanh()
        } else {
            x.gelu()
        }
    }
    crate::layer_flag_and_hooks!();
    fn extra_repr(&self) -> String {
        let form = if self.tanh { "tanh" } else { "none" };
        format!("approximate='{form}'")
    }
}

crate::impl_display_as_repr!(GELU);
