//! The book in `docs/`, compiled as doctests: every ```` ```rust ```` block in a chapter is
//! built and run by `cargo test --doc -p kindling-dl`, so the book cannot drift from the API.
//! This module exists only under `cfg(doctest)`; `cargo doc` and normal builds never see it.

/// docs/README.md: the index.
#[doc = include_str!("../docs/README.md")]
pub mod index {}

/// docs/getting-started.md
#[doc = include_str!("../docs/getting-started.md")]
pub mod getting_started {}

/// docs/tensors.md
#[doc = include_str!("../docs/tensors.md")]
pub mod tensors {}

/// docs/autograd.md
#[doc = include_str!("../docs/autograd.md")]
pub mod autograd {}

/// docs/modules.md
#[doc = include_str!("../docs/modules.md")]
pub mod modules {}

/// docs/batchnorm.md
#[doc = include_str!("../docs/batchnorm.md")]
pub mod batchnorm {}

/// docs/zh/batchnorm.md: the BatchNorm lesson in Chinese.
#[doc = include_str!("../docs/zh/batchnorm.md")]
pub mod batchnorm_zh {}

/// docs/looking-inside.md
#[doc = include_str!("../docs/looking-inside.md")]
pub mod looking_inside {}

/// docs/optimizers.md
#[doc = include_str!("../docs/optimizers.md")]
pub mod optimizers {}

/// docs/conv-as-gemm.md
#[doc = include_str!("../docs/conv-as-gemm.md")]
pub mod conv_as_gemm {}

/// docs/architecture.md
#[doc = include_str!("../docs/architecture.md")]
pub mod architecture {}

/// docs/checkpoints.md
#[doc = include_str!("../docs/checkpoints.md")]
pub mod checkpoints {}

/// docs/performance.md
#[doc = include_str!("../docs/performance.md")]
pub mod performance {}

/// docs/own-project.md
#[doc = include_str!("../docs/own-project.md")]
pub mod own_project {}

/// docs/reliability.md
#[doc = include_str!("../docs/reliability.md")]
pub mod reliability {}

/// docs/softmax-cross-entropy.md
#[doc = include_str!("../docs/softmax-cross-entropy.md")]
pub mod softmax_cross_entropy {}

/// docs/conv-pooling.md
#[doc = include_str!("../docs/conv-pooling.md")]
pub mod conv_pooling {}

/// docs/data-loading.md
#[doc = include_str!("../docs/data-loading.md")]
pub mod data_loading {}

/// docs/initialisation.md
#[doc = include_str!("../docs/initialisation.md")]
pub mod initialisation {}
