//! Module 3, plausible wrong solutions: one mistake a learner makes per task, each named
//! in a comment. The crate's tests check that every grader fails them: a grader that cannot
//! fail is a defect.

use kindling::autograd::CustomOp;
use kindling::Tensor;

pub fn log_softmax(logits: &Tensor) -> Tensor {
    // MISTAKE: no max shift. Right for small logits, but exp(1000) is infinite in f32, and
    // the row comes out as NaN or -inf.
    let lse = logits.exp().sum_dim(1, true).log();
    logits - &lse
}

pub fn cross_entropy(logits: &Tensor, targets: &[usize]) -> Tensor {
    // MISTAKE: the mean runs over all N·C entries of the masked log-probabilities, so the
    // loss is C times too small: the mean must be over the N rows only.
    let (n, c) = (logits.shape()[0], logits.shape()[1]);
    let mut onehot = vec![0.0; n * c];
    for (i, &t) in targets.iter().enumerate() {
        onehot[i * c + t] = 1.0;
    }
    -(&log_softmax(logits) * &Tensor::from_vec(onehot, &[n, c])).mean()
}

#[derive(Clone, Copy)]
pub struct CrossEntropy;

impl CustomOp for CrossEntropy {
    fn name(&self) -> &str {
        "CrossEntropy"
    }
    fn forward(&self, inputs: &[Tensor]) -> Tensor {
        let targets: Vec<usize> = inputs[1].to_vec().iter().map(|&t| t as usize).collect();
        kindling::nn::functional::cross_entropy(&inputs[0], &targets)
    }
    fn backward(&self, inputs: &[Tensor], _output: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        // MISTAKE: p - onehot without the 1/N: that is the gradient of the summed loss, but the
        // forward takes the mean over the rows.
        let (logits, targets) = (&inputs[0], &inputs[1]);
        let (n, c) = (logits.shape()[0], logits.shape()[1]);
        let mut onehot = vec![0.0; n * c];
        for (i, &t) in targets.to_vec().iter().enumerate() {
            onehot[i * c + t as usize] = 1.0;
        }
        let onehot = Tensor::from_vec(onehot, &[n, c]);
        vec![Some(&(&logits.softmax(1) - &onehot) * g), None]
    }
}
