//! # kindling
//!
//! A small deep-learning framework in Rust, built to teach: n-d tensors, a dynamic graph
//! with reverse-mode autograd, layers with PyTorch's names and semantics (BatchNorm exactly
//! as `torch.nn.BatchNorm*d`), optimizers step for step as `torch.optim`, an MNIST loader,
//! and checkpoints. This crate re-exports the workspace's crates under one roof.
//!
//! ```
//! use kindling::prelude::*;
//! manual_seed(0);
//! let model = nn::Sequential::new().add(nn::Linear::new(2, 4)).add(nn::ReLU::new()).add(nn::Linear::new(4, 1));
//! let mut opt = optim::Sgd::new(model.parameters(), 0.1);
//! let x = Tensor::randn(&[8, 2]);
//! let y = Tensor::randn(&[8, 1]);
//! let loss = nn::functional::mse_loss(&model.forward(&x), &y);
//! opt.zero_grad();
//! loss.backward();
//! opt.step();
//! ```

#![warn(missing_docs)]

pub use kindling_core::*;

/// Layers, `Module`, losses and `StateDict` (the `kindling-nn` crate).
pub mod nn {
    pub use kindling_nn::*;
}

/// Optimizers and learning-rate schedules (the `kindling-optim` crate).
pub mod optim {
    pub use kindling_optim::*;
}

/// The MNIST reader and `DataLoader` (the `kindling-data` crate).
pub mod data {
    pub use kindling_data::*;
}

/// Training diagnostics: per-layer activation and gradient statistics and the
/// update-to-data ratio, recorded with forward hooks (the `diagnostics` module of the
/// `kindling-nn` crate).
pub mod diagnostics {
    pub use kindling_nn::diagnostics::*;
}

/// Saving and loading models and training state (the `kindling-checkpoint` crate).
pub mod checkpoint {
    pub use kindling_checkpoint::*;
}

/// `use kindling::prelude::*;` brings the names a training script needs.
pub mod prelude {
    pub use crate::{nn, optim};
    pub use kindling_core::{manual_seed, no_grad, Tensor};
    pub use kindling_nn::{Module, ModuleExt};
    pub use kindling_optim::Optimizer;
}

#[cfg(doctest)]
mod docs;
