//! # kindling-core
//!
//! n-dimensional `f32` tensors, a dynamic (define-by-run) computation graph, and
//! reverse-mode automatic differentiation: the engine under `kindling`.
//!
//! Where to find things:
//! - [`Tensor`] itself: `tensor.rs`; shapes and broadcasting: `shape.rs`.
//! - The memory behind a tensor, with its version counter: `storage.rs`.
//! - Every op's backward rule, in one `match`: `op.rs`. Forward passes, each with a plain
//!   reference kernel: `ops/*.rs`.
//! - The backward walk, `no_grad`, custom ops: `autograd.rs`. The gradient checker:
//!   `gradcheck.rs`. Graphviz export: `dot.rs`.
//! - The fast kernels (threads, SIMD, the SGEMM, the buffer pool), each the twin of a
//!   reference kernel in `ops/`: `kernels/`. The random generator: `rng.rs`.
//!
//! ```
//! use kindling::Tensor;
//! let w = Tensor::from_vec(vec![0.5, -1.0], &[2]).requires_grad(true);
//! let x = Tensor::from_vec(vec![2.0, 3.0], &[2]);
//! let loss = (&w * &x).sum().powf(2.0); // (0.5·2 - 1·3)² = 4
//! loss.backward();
//! assert_eq!(loss.item(), 4.0);
//! assert_eq!(w.grad().unwrap().to_vec(), vec![-8.0, -12.0]); // 2·(-2)·x
//! ```

#![warn(missing_docs)]

pub mod autograd;
mod dot;
mod gradcheck;
pub mod kernels;
mod op;
mod ops;
mod print;
pub mod profile;
pub mod rng;
pub mod shape;
mod storage;
mod tensor;

pub use autograd::no_grad;
#[doc(hidden)] // until the optimizers call `kernels::vectorized` directly
pub use kernels::vectorized;
pub use kernels::{num_threads, set_num_threads};
pub use rng::manual_seed;
pub use tensor::Tensor;

/// A dim argument: a `usize`, or a signed integer where negative values count from the end
/// as in PyTorch (`-1` is the last dim). Lets `x.softmax(1)` and `x.softmax(-1)` both work.
pub trait Dim: Copy {
    /// Resolves to an index in `0..shape.len()`.
    ///
    /// # Panics
    /// If out of range; the message names the op and the shape.
    fn resolve(self, op: &str, shape: &[usize]) -> usize;
}

macro_rules! impl_dim {
    ($($t:ty),*) => {$(
        impl Dim for $t {
            fn resolve(self, op: &str, shape: &[usize]) -> usize {
                shape::normalize_dim(op, self as isize, shape)
            }
        }
    )*};
}
impl_dim!(usize, isize, i32, i64, u32);
