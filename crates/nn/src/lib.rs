//! # kindling-nn
//!
//! Neural-network building blocks with PyTorch's names and semantics: the [`Module`] trait,
//! layers, BatchNorm as `torch.nn.BatchNorm*d` (`momentum=None` and an exact
//! `num_batches_tracked` included), LayerNorm, GroupNorm and InstanceNorm2d, losses, and
//! [`StateDict`].
//!
//! One concept per file: `module.rs` (the trait), `state_dict.rs` (keys, strict loading,
//! `LoadError`), `linear.rs`, `conv.rs`, `batchnorm.rs`, `layernorm.rs`, `groupnorm.rs`
//! (GroupNorm and InstanceNorm2d), `activation.rs` (ReLU, LeakyReLU, Sigmoid, Tanh, GELU),
//! `pool.rs` (MaxPool2d, AvgPool2d, AdaptiveAvgPool2d), `flatten.rs`, `identity.rs`,
//! `dropout.rs`, `sequential.rs`, `hooks.rs` (forward hooks), `diagnostics.rs` (training
//! diagnostics), `functional.rs` (losses), `init.rs`, `utils.rs` (gradient clipping).
//!
//! ```
//! use kindling::nn::{functional::cross_entropy, BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, Module, ReLU, Sequential};
//! use kindling::Tensor;
//! let model = Sequential::new()
//!     .add(Conv2d::new(1, 4, 3).padding(1))
//!     .add(BatchNorm2d::new(4))
//!     .add(ReLU::new())
//!     .add(MaxPool2d::new(2))
//!     .add(Flatten::new())
//!     .add(Linear::new(4 * 4 * 4, 10));
//! let loss = cross_entropy(&model.forward(&Tensor::randn(&[2, 1, 8, 8])), &[3, 7]);
//! loss.backward();
//! assert!(model.parameters().iter().all(|p| p.grad().is_some()));
//! ```

#![warn(missing_docs)]

mod activation;
mod batchnorm;
mod conv;
pub mod diagnostics;
mod dropout;
mod flatten;
pub mod functional;
mod groupnorm;
pub mod hooks;
mod identity;
pub mod init;
mod layernorm;
mod linear;
mod module;
mod pool;
mod sequential;
mod state_dict;
pub mod utils;

pub use activation::{LeakyReLU, ReLU, Sigmoid, Tanh, GELU};
pub use batchnorm::{BatchNorm, BatchNorm1d, BatchNorm2d, BatchNorm3d, BatchNormConfig};
pub use conv::{Conv2d, Conv2dConfig};
pub use dropout::Dropout;
pub use flatten::Flatten;
pub use groupnorm::{GroupNorm, GroupNormConfig, InstanceNorm2d, InstanceNormConfig};
pub use hooks::{ForwardHooks, HookHandle};
pub use identity::Identity;
/// `#[derive(Module)]`: see the `kindling-derive` crate. The derive and the trait share the
/// name, as serde's `Serialize` does.
pub use kindling_derive::Module;
pub use layernorm::{LayerNorm, LayerNormConfig};
pub use linear::{Linear, LinearConfig};
pub use module::{repr, Module, ModuleExt};

/// What the code `#[derive(Module)]` writes refers to. Not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use kindling_core::Tensor;
}
pub use pool::{AdaptiveAvgPool2d, AvgPool2d, MaxPool2d};
pub use sequential::Sequential;
pub use state_dict::{LoadError, LoadReport, ShapeMismatch, StateDict};
