//! Module 2, the reference solutions: compiled only by the crate's own tests
//! (tests/graders.rs), which check that every grader passes them. Delete this folder
//! before handing the track out.

use kindling::autograd::CustomOp;
use kindling::Tensor;

pub fn linear(x: &Tensor, w: &Tensor, b: &Tensor) -> Tensor {
    x.matmul(&w.t()) + b
}

#[derive(Clone, Copy)]
pub struct Linear;

impl CustomOp for Linear {
    fn name(&self) -> &str {
        "Linear"
    }
    fn forward(&self, inputs: &[Tensor]) -> Tensor {
        inputs[0].linear(&inputs[1], Some(&inputs[2]))
    }
    fn backward(&self, inputs: &[Tensor], _output: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        let (x, w) = (&inputs[0], &inputs[1]);
        vec![
            Some(g.matmul(w)),
            Some(g.t().matmul(x)),
            // b was broadcast over the rows: its gradient sums over them.
            Some(g.sum_dim(0, false)),
        ]
    }
}
