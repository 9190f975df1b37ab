//! Module 2, plausible wrong solutions: one mistake a learner makes per task, each named
//! in a comment. The crate's tests check that every grader fails them: a grader that cannot
//! fail is a defect.

use kindling::autograd::CustomOp;
use kindling::Tensor;

pub fn linear(x: &Tensor, w: &Tensor, b: &Tensor) -> Tensor {
    // MISTAKE: x·W, the textbook's layout, on PyTorch's [out, in] weight: the transpose is
    // missing (a shape error here; silently wrong whenever in == out).
    x.matmul(w) + b
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
        // MISTAKE: the bias gradient averages over the batch instead of summing: the bias was
        // used once per row, so each row's gradient counts in full.
        let (x, w) = (&inputs[0], &inputs[1]);
        vec![
            Some(g.matmul(w)),
            Some(g.t().matmul(x)),
            Some(g.mean_dim(0, false)),
        ]
    }
}
