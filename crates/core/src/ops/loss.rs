//! The negative log-likelihood loss, the last step of cross-entropy:
//! `cross_entropy(logits, t) = nll_loss(log_softmax(logits, 1), t)`.

use crate::op::Op;
use crate::Tensor;

impl Tensor {
    /// `-mean_n self[n, targets[n]]` for log-probabilities `[N, K]`, as PyTorch's
    /// `F.nll_loss` with mean reduction.
    ///
    /// # Panics
    /// If the input is not 2-d, the number of targets is not N, or a target is not below K.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let lp = Tensor::from_vec(vec![-0.1, -2.0, -3.0, -0.5], &[2, 2]);
    /// assert!((lp.nll_loss(&[0, 1]).item() - 0.3).abs() < 1e-6);
    /// ```
    pub fn nll_loss(&self, targets: &[usize]) -> Tensor {
        let s = self.shape();
        assert!(
            s.len() == 2,
            "nll_loss: expects [N, classes] log-probabilities, got shape {s:?}"
        );
        assert!(
            targets.len() == s[0],
            "nll_loss: {} targets for a batch of {} (input shape {s:?})",
            targets.len(),
            s[0]
        );
        if let Some((i, &t)) = targets.iter().enumerate().find(|(_, &t)| t >= s[1]) {
            panic!("nll_loss: target {t} at position {i} is out of range for {} classes (input shape {s:?})", s[1]);
        }
        let data = self.read();
        let total: f64 = targets
            .iter()
            .enumerate()
            .map(|(row, &t)| data[row * s[1] + t] as f64)
            .sum();
        // An empty batch gives 0/0 = NaN, as in PyTorch: there is no mean to report.
        let loss = (-total / s[0] as f64) as f32;
        drop(data);
        Tensor::from_op(
            vec![loss],
            vec![],
            Op::NllLoss {
                x: self.clone(),
                targets: targets.to_vec(),
            },
        )
    }
}
