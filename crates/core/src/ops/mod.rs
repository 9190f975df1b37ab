//! The forward passes of every op, one file per family. Each builds its output with a plain
//! reference kernel (or its fast twin in `kernels/`, same name) and records an `Op` (see
//! `op.rs`) for the backward pass.

pub(crate) mod activation;
pub(crate) mod batch_norm;
pub(crate) mod conv;
pub(crate) mod elementwise;
pub(crate) mod layout;
pub(crate) mod loss;
pub(crate) mod matmul;
pub(crate) mod norm;
pub(crate) mod pool;
pub(crate) mod reduce;
pub(crate) mod softmax;
