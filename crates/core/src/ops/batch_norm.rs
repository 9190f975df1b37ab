//! Batch normalisation as one fused op, forward and backward, with PyTorch's semantics
//! (`torch.nn.functional.batch_norm`). `kindling::nn::BatchNorm1d/2d/3d` call it.
//!
//! The input is `[N, C, *]`: channel `c` is normalised over every element that has index
//! `c` in dim 1, that is over `n = N × (product of the trailing dims)` values.
//! - Training: mean and **biased** variance of the batch, computed in two passes (the
//!   mean, then the mean squared deviation from it; never E[x²] - E[x]², which cancels
//!   badly), then
//!   `running = (1 - momentum) · running + momentum · stat`, with the **unbiased** variance
//!   `var · n / (n - 1)` going into `running_var`. This update happens outside the graph.
//! - Eval: the running statistics are used instead, and nothing is updated.
//!
//! Like PyTorch's CPU kernel, the output is computed as `x · α + β` with
//! `α = γ / √(σ² + eps)` and `β = b - μ · α` per channel.
//!
//! The reference kernels below are plain loops over each channel's values, with sums in
//! f64. Their fast twins (`kernels/batch_norm.rs`) sum each (sample, channel) plane in f32
//! on several threads and combine the planes in f64. The same maths composed from `mean_dim`
//! and friends, with autograd deriving the backward pass, is in the test
//! `core/tests/batch_norm_fused.rs`.

use crate::kernels;
use crate::op::Op;
use crate::Tensor;

/// What the backward pass needs: the statistics that normalised the input.
pub(crate) struct Saved {
    mean: Vec<f32>,
    inv_std: Vec<f32>,
    /// True when batch statistics were used (so they depend on x and the backward pass
    /// has the two extra terms); false when running statistics were used (eval).
    batch_stats: bool,
}

/// Views `[N, C, *]` as (N, C, S) where S is the product of the trailing dims.
fn layout(op: &str, shape: &[usize]) -> (usize, usize, usize) {
    assert!(
        shape.len() >= 2,
        "{op}: expects an input [N, C, ...], got shape {shape:?}"
    );
    (shape[0], shape[1], shape[2..].iter().product())
}

/// The values of channel `ch` in `[n, c, s]` data: one run of `s` per sample.
fn channel(x: &[f32], c: usize, s: usize, ch: usize) -> impl Iterator<Item = f32> + '_ {
    x.chunks((c * s).max(1))
        .flat_map(move |sample| sample[ch * s..(ch + 1) * s].iter().copied())
}

/// Reference: per-channel mean and biased variance, in f64.
fn channel_stats_reference(x: &[f32], n: usize, c: usize, s: usize) -> Vec<(f64, f64)> {
    let count = (n * s) as f64;
    (0..c)
        .map(|ch| {
            let mean = channel(x, c, s, ch).map(f64::from).sum::<f64>() / count;
            let var = channel(x, c, s, ch)
                .map(|v| (v as f64 - mean).powi(2))
                .sum::<f64>()
                / count;
            (mean, var)
        })
        .collect()
}

/// Reference: `y = x · alpha[ch] + beta[ch]`.
fn scale_shift_reference(x: &[f32], alpha: &[f32], beta: &[f32], c: usize, s: usize) -> Vec<f32> {
    x.iter()
        .enumerate()
        .map(|(i, &v)| {
            let ch = (i / s.max(1)) % c.max(1);
            v * alpha[ch] + beta[ch]
        })
        .collect()
}

impl Tensor {
    /// Batch normalisation, `torch.nn.functional.batch_norm(input, running_mean,
    /// running_var, weight, bias, training, momentum, eps)`.
    ///
    /// With `training` (or without running statistics) it normalises with the batch's
    /// statistics and, if running buffers are given, updates them in place. Otherwise it
    /// normalises with the running statistics.
    ///
    /// # Panics
    /// If the input is not `[N, C, ...]`, a parameter or buffer is not `[C]`, or training
    /// sees only one value per channel (the variance of one value is undefined).
    ///
    /// ```
    /// use kindling::Tensor;
    /// let x = Tensor::from_vec(vec![1.0, 10.0, 3.0, 30.0], &[2, 2]);
    /// let (rm, rv) = (Tensor::zeros(&[2]), Tensor::ones(&[2]));
    /// let y = x.batch_norm(Some(&rm), Some(&rv), None, None, true, 0.1, 1e-5);
    /// assert!((y.to_vec()[0] + 1.0).abs() < 1e-4); // (1 - 2) / 1
    /// assert!((rm.to_vec()[1] - 2.0).abs() < 1e-6); // 0.9 * 0 + 0.1 * 20
    /// ```
    #[allow(clippy::too_many_arguments)]
    pub fn batch_norm(
        &self,
        running_mean: Option<&Tensor>,
        running_var: Option<&Tensor>,
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        training: bool,
        momentum: f32,
        eps: f32,
    ) -> Tensor {
        let (n, c, s) = layout("batch_norm", self.shape());
        for (what, t) in [
            ("running_mean", running_mean),
            ("running_var", running_var),
            ("weight", weight),
            ("bias", bias),
        ] {
            if let Some(t) = t {
                assert!(
                    t.shape() == [c],
                    "batch_norm: {what} has shape {:?} but the input {:?} has {c} channels",
                    t.shape(),
                    self.shape()
                );
            }
        }
        let use_batch_stats = training || running_mean.is_none() || running_var.is_none();
        // The small per-channel vectors are copied first, each lock taken on its own, so
        // that no lock is requested while another is held (a tensor passed twice would
        // otherwise wait on itself).
        let w = weight.map(|t| t.to_vec());
        let b = bias.map(|t| t.to_vec());
        let running = (!use_batch_stats).then(|| {
            (
                running_mean.unwrap().to_vec(),
                running_var.unwrap().to_vec(),
            )
        });
        let x = self.read();
        let (mean, inv_std): (Vec<f32>, Vec<f32>) = if use_batch_stats {
            let count = n * s;
            assert!(
                count > 1,
                "batch_norm: expected more than 1 value per channel when training, got input of shape {:?}",
                self.shape()
            );
            let stats = if kernels::fast() {
                kernels::batch_norm::channel_stats(&x, n, c, s)
            } else {
                channel_stats_reference(&x, n, c, s)
            };
            if let (true, Some(rm), Some(rv)) = (training, running_mean, running_var) {
                // One buffer at a time, so that the same tensor passed as both (odd, but
                // PyTorch allows it) updates in PyTorch's order instead of deadlocking.
                let unbias = count as f64 / (count - 1) as f64;
                let update = |buffer: &Tensor, stat: &dyn Fn(usize) -> f64| {
                    let mut r = buffer.data_mut();
                    for (ch, r) in r.iter_mut().enumerate() {
                        *r = (1.0 - momentum) * *r + momentum * stat(ch) as f32;
                    }
                };
                update(rm, &|ch| stats[ch].0);
                update(rv, &|ch| stats[ch].1 * unbias);
            }
            stats
                .iter()
                .map(|&(mu, var)| (mu as f32, (1.0 / (var + eps as f64).sqrt()) as f32))
                .unzip()
        } else {
            let (rm, rv) = running.expect("running statistics in eval");
            (rm, rv.iter().map(|&v| 1.0 / (v + eps).sqrt()).collect())
        };
        let alpha: Vec<f32> = (0..c)
            .map(|ch| inv_std[ch] * w.as_ref().map_or(1.0, |w| w[ch]))
            .collect();
        let beta: Vec<f32> = (0..c)
            .map(|ch| b.as_ref().map_or(0.0, |b| b[ch]) - mean[ch] * alpha[ch])
            .collect();
        let out = if kernels::fast() {
            kernels::batch_norm::scale_shift(&x, &alpha, &beta, c, s)
        } else {
            scale_shift_reference(&x, &alpha, &beta, c, s)
        };
        drop(x);
        let saved = Saved {
            mean,
            inv_std,
            batch_stats: use_batch_stats,
        };
        let op = Op::BatchNorm {
            x: self.clone(),
            weight: weight.cloned(),
            bias: bias.cloned(),
            saved,
        };
        Tensor::from_op(out, self.shape().to_vec(), op)
    }
}

/// The fused backward pass. With x̂ = (x - μ)·(1/σ), per channel over its n values:
/// - dβ = Σ g,  dγ = Σ g·x̂;
/// - batch statistics: dx = γ/(σ·n) · (n·g - Σ g - x̂ · Σ g·x̂), the two sums being the
///   gradient flowing through μ and σ;
/// - running statistics (eval): dx = γ/σ · g.
///
/// Returns `(dx, dγ, dβ)`; dγ and dβ are computed even without affine parameters (they
/// are cheap by-products) and simply not used then.
pub(crate) fn batch_norm_backward(
    grad: &Tensor,
    x: &Tensor,
    weight: Option<&Tensor>,
    saved: &Saved,
) -> (Tensor, Tensor, Tensor) {
    let (n, c, s) = layout("batch_norm backward", x.shape());
    let gamma = weight.map_or_else(|| vec![1.0; c], |t| t.to_vec());
    let data = Tensor::read_all(&[grad, x]);
    let (gd, xd) = (data.get(0), data.get(1));
    let (mean, inv_std) = (&saved.mean, &saved.inv_std);
    let sums = if kernels::fast() {
        kernels::batch_norm::grad_sums(gd, xd, mean, inv_std, c, s)
    } else {
        grad_sums_reference(gd, xd, mean, inv_std, c, s)
    };
    // dx = k · (g - mean_g - x̂ · mean_gx) per channel; the means vanish in eval.
    let count = (n * s) as f64;
    let k: Vec<f32> = (0..c).map(|ch| gamma[ch] * inv_std[ch]).collect();
    let (mean_g, mean_gx): (Vec<f32>, Vec<f32>) = if saved.batch_stats {
        sums.iter()
            .map(|&(sg, sgx)| ((sg / count) as f32, (sgx / count) as f32))
            .unzip()
    } else {
        (vec![0.0; c], vec![0.0; c])
    };
    let dx = if kernels::fast() {
        kernels::batch_norm::input_grad(gd, xd, mean, inv_std, &k, &mean_g, &mean_gx, c, s)
    } else {
        (0..xd.len())
            .map(|i| {
                let ch = (i / s.max(1)) % c;
                if mean_g[ch] == 0.0 && mean_gx[ch] == 0.0 {
                    return k[ch] * gd[i];
                }
                let x_hat = (xd[i] - mean[ch]) * inv_std[ch];
                k[ch] * (gd[i] - mean_g[ch] - x_hat * mean_gx[ch])
            })
            .collect()
    };
    let dgamma = sums.iter().map(|&(_, sgx)| sgx as f32).collect();
    let dbeta = sums.iter().map(|&(sg, _)| sg as f32).collect();
    (
        Tensor::constant(dx, x.shape().to_vec()),
        Tensor::constant(dgamma, vec![c]),
        Tensor::constant(dbeta, vec![c]),
    )
}

/// Reference: per channel, `(Σ g, Σ g·x̂)` in f64.
fn grad_sums_reference(
    g: &[f32],
    x: &[f32],
    mean: &[f32],
    inv_std: &[f32],
    c: usize,
    s: usize,
) -> Vec<(f64, f64)> {
    (0..c)
        .map(|ch| {
            channel(g, c, s, ch)
                .zip(channel(x, c, s, ch))
                .fold((0.0, 0.0), |(sg, sgx), (g, x)| {
                    let x_hat = (x - mean[ch]) * inv_std[ch];
                    (sg + g as f64, sgx + (g * x_hat) as f64)
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_keep_a_small_spread_on_a_large_offset() {
        // Values near 1000 with a spread of about 1, as in the exam-scores lesson scaled up:
        // E[x²] − E[x]² would lose most digits here; the two-pass statistics must not.
        for (n, c, s) in [(7, 2, 49), (64, 3, 1), (3, 2, 1000)] {
            let x: Vec<f32> = (0..n * c * s)
                .map(|i| 1000.0 + ((i * 37 % 101) as f32 - 50.0) * 0.02)
                .collect();
            let fast = kernels::batch_norm::channel_stats(&x, n, c, s);
            for (f, r) in fast.iter().zip(&channel_stats_reference(&x, n, c, s)) {
                assert!((f.0 - r.0).abs() <= 1e-4, "{f:?} vs {r:?}");
                assert!(
                    (f.1 - r.1).abs() <= 1e-5 * r.1,
                    "{n}x{c}x{s}: {f:?} vs {r:?}"
                );
            }
        }
    }

    #[test]
    fn fast_and_reference_kernels_agree() {
        let (n, c, s) = (5, 3, 37);
        let x: Vec<f32> = (0..n * c * s)
            .map(|i| ((i * 13 % 29) as f32 - 9.0) * 0.3)
            .collect();
        let g: Vec<f32> = (0..n * c * s)
            .map(|i| ((i * 7 % 17) as f32 - 8.0) * 0.1)
            .collect();
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-5 * (1.0 + b.abs());
        let fast = kernels::batch_norm::channel_stats(&x, n, c, s);
        let reference = channel_stats_reference(&x, n, c, s);
        for (f, r) in fast.iter().zip(&reference) {
            assert!(close(f.0, r.0) && close(f.1, r.1), "{f:?} vs {r:?}");
        }
        let (alpha, beta) = ([0.5, -1.0, 2.0], [0.1, 0.2, -0.3]);
        let y_fast = kernels::batch_norm::scale_shift(&x, &alpha, &beta, c, s);
        assert_eq!(y_fast, scale_shift_reference(&x, &alpha, &beta, c, s));
        let (mean, inv): (Vec<f32>, Vec<f32>) = reference
            .iter()
            .map(|&(m, v)| (m as f32, (1.0 / (v + 1e-5).sqrt()) as f32))
            .unzip();
        let fast = kernels::batch_norm::grad_sums(&g, &x, &mean, &inv, c, s);
        for (f, r) in fast
            .iter()
            .zip(&grad_sums_reference(&g, &x, &mean, &inv, c, s))
        {
            assert!(close(f.0, r.0) && close(f.1, r.1), "{f:?} vs {r:?}");
        }
    }
}
