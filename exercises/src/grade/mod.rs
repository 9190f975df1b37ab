//! The graders: one function per task, each taking the learner's implementation as a
//! value and returning `Ok(())` or a [`Failure`] that says what differs and where to read.
//!
//! Every grader checks in at least one way that a wrong answer cannot slip through: against
//! PyTorch's numbers (`exercises/fixtures/`), against kindling's own op on random inputs
//! (kindling's ops are held to PyTorch by the workspace's golden tests), or with the
//! sharpened `gradcheck`, which fails a backward rule that is 1% off. The crate's own tests
//! run every grader on the reference solutions (must pass), on the untouched stubs (must
//! say "not started") and on a plausible wrong solution (must fail).

mod check;
pub mod m1_autograd;
pub mod m2_linear;
pub mod m3_softmax;
pub mod m4_conv;
pub mod m5_batchnorm;
pub mod m6_optim;
pub mod m7_capstone;

pub use check::{quiet_panics, Failure, FailureKind};
