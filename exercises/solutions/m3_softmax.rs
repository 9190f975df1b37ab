//! Module 3, the reference solutions: compiled only by the crate's own tests
//! (tests/graders.rs), which check that every grader passes them. Delete this folder
//! before handing the track out.

use kindling::autograd::CustomOp;
use kindling::Tensor;

pub fn log_softmax(logits: &Tensor) -> Tensor {
    // Shifting each row by its maximum changes nothing mathematically and keeps every exp <= 1.
    let n = logits.shape()[0];
    let (m, _) = logits.max(1);
    let shifted = logits - &m.reshape(&[n, 1]);
    let lse = shifted.exp().sum_dim(1, true).log();
    &shifted - &lse
}

pub fn cross_entropy(logits: &Tensor, targets: &[usize]) -> Tensor {
    let n = logits.shape()[0];
    let logp = log_softmax(logits).to_vec();
    let c = logits.shape()[1];
    let picked: f32 = targets
        .iter()
        .enumerate()
        .map(|(i, &t)| logp[i * c + t])
        .sum();
    Tensor::scalar(-picked / n as f32)
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
        let (logits, targets) = (&inputs[0], &inputs[1]);
        let (n, c) = (logits.shape()[0], logits.shape()[1]);
        let mut onehot = vec![0.0; n * c];
        for (i, &t) in targets.to_vec().iter().enumerate() {
            onehot[i * c + t as usize] = 1.0;
        }
        let onehot = Tensor::from_vec(onehot, &[n, c]);
        // g is the scalar upstream gradient; the mean over rows gives the 1/N.
        let grad = &(&logits.softmax(1) - &onehot) * &(g / n as f32);
        vec![Some(grad), None]
    }
}
