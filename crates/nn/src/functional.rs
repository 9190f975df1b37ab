//! Losses and stateless functions (`torch.nn.functional`).

use kindling_core::Tensor;

/// Cross-entropy between raw scores `[N, classes]` and class indices, averaged over the
/// batch: `mean_n(-log softmax(logits)[n, target_n])`. The log-softmax is the stable one,
/// so large logits do not overflow.
///
/// # Panics
/// If `logits` is not 2-d, the number of targets is not N, or a target is out of range.
///
/// ```
/// use kindling::nn::functional::cross_entropy;
/// use kindling::Tensor;
/// let logits = Tensor::from_vec(vec![0.0, 0.0], &[1, 2]);
/// assert!((cross_entropy(&logits, &[1]).item() - std::f32::consts::LN_2).abs() < 1e-6);
/// ```
pub fn cross_entropy(logits: &Tensor, targets: &[usize]) -> Tensor {
    assert!(
        logits.dim() == 2,
        "cross_entropy: expects logits [N, classes], got shape {:?}",
        logits.shape()
    );
    logits.log_softmax(1).nll_loss(targets)
}

/// Mean squared error, `mean((prediction - target)²)`.
///
/// # Panics
/// If the shapes differ; the message names both.
///
/// ```
/// use kindling::nn::functional::mse_loss;
/// use kindling::Tensor;
/// let p = Tensor::from_vec(vec![1.0, 3.0], &[2]);
/// let t = Tensor::from_vec(vec![0.0, 1.0], &[2]);
/// assert_eq!(mse_loss(&p, &t).item(), 2.5);
/// ```
pub fn mse_loss(prediction: &Tensor, target: &Tensor) -> Tensor {
    assert!(
        prediction.shape() == target.shape(),
        "mse_loss: prediction shape {:?} and target shape {:?} differ",
        prediction.shape(),
        target.shape()
    );
    let diff = prediction - target;
    (&diff * &diff).mean()
}

/// ReLU as a function.
///
/// ```
/// use kindling::Tensor;
/// assert_eq!(kindling::nn::functional::relu(&Tensor::from_vec(vec![-2.0], &[1])).item(), 0.0);
/// ```
pub fn relu(x: &Tensor) -> Tensor {
    x.relu()
}
