//! Module 1, plausible wrong solutions: one mistake a learner makes per task, each named in
//! a comment. The crate's tests check that every grader fails them: a grader that cannot
//! fail is a defect.

use kindling::autograd::CustomOp;
use kindling::Tensor;

pub fn sum_to(g: &Tensor, shape: &[usize]) -> Tensor {
    // MISTAKE: sums the extra dims off the end, as if shapes lined up from the left.
    // Broadcasting aligns from the right, so [4, 4] -> [4] must sum dim 0, not dim 1.
    let mut out = g.clone();
    while out.dim() > shape.len() {
        out = out.sum_dim(-1, false);
    }
    for (d, &size) in shape.iter().enumerate() {
        if size == 1 && out.shape()[d] != 1 {
            out = out.sum_dim(d, true);
        }
    }
    out
}

#[derive(Clone, Copy)]
pub struct Mul;

impl CustomOp for Mul {
    fn name(&self) -> &str {
        "Mul"
    }
    fn forward(&self, inputs: &[Tensor]) -> Tensor {
        &inputs[0] * &inputs[1]
    }
    fn backward(&self, inputs: &[Tensor], _output: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        // MISTAKE: each input's gradient uses the input itself, not the other factor.
        vec![Some(g * &inputs[0]), Some(g * &inputs[1])]
    }
}

#[derive(Clone, Copy)]
pub struct Div;

impl CustomOp for Div {
    fn name(&self) -> &str {
        "Div"
    }
    fn forward(&self, inputs: &[Tensor]) -> Tensor {
        &inputs[0] / &inputs[1]
    }
    fn backward(&self, inputs: &[Tensor], _output: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        // MISTAKE: the quotient rule's minus sign is lost: d(a/b)/db = -a/b², not a/b².
        let (a, b) = (&inputs[0], &inputs[1]);
        vec![Some(g / b), Some((g * a) / (b * b))]
    }
}

#[derive(Clone, Copy)]
pub struct Exp;

impl CustomOp for Exp {
    fn name(&self) -> &str {
        "Exp"
    }
    fn forward(&self, inputs: &[Tensor]) -> Tensor {
        inputs[0].exp()
    }
    fn backward(&self, _inputs: &[Tensor], output: &Tensor, _g: &Tensor) -> Vec<Option<Tensor>> {
        // MISTAKE: returns the local derivative exp(x) and forgets the chain rule's g.
        vec![Some(output.clone())]
    }
}

#[derive(Clone, Copy)]
pub struct Log;

impl CustomOp for Log {
    fn name(&self) -> &str {
        "Log"
    }
    fn forward(&self, inputs: &[Tensor]) -> Tensor {
        inputs[0].log()
    }
    fn backward(&self, _inputs: &[Tensor], output: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        // MISTAKE: divides by the output ln(x) instead of the input x.
        vec![Some(g / output)]
    }
}

#[derive(Clone, Copy)]
pub struct Tanh;

impl CustomOp for Tanh {
    fn name(&self) -> &str {
        "Tanh"
    }
    fn forward(&self, inputs: &[Tensor]) -> Tensor {
        inputs[0].tanh()
    }
    fn backward(&self, _inputs: &[Tensor], output: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        // MISTAKE: 1 - y instead of 1 - y²: the derivative of tanh is 1 - tanh².
        vec![Some(g * &(1.0 - output))]
    }
}

#[derive(Clone, Copy)]
pub struct Sigmoid;

impl CustomOp for Sigmoid {
    fn name(&self) -> &str {
        "Sigmoid"
    }
    fn forward(&self, inputs: &[Tensor]) -> Tensor {
        inputs[0].sigmoid()
    }
    fn backward(&self, _inputs: &[Tensor], output: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        // MISTAKE: applies σ to the output, which is already σ(x): σ(y)(1 - σ(y)).
        let s = output.sigmoid();
        vec![Some(g * &(&s * &(1.0 - &s)))]
    }
}
