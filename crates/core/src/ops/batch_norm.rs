//! Batch normalisation as one fused op, forward and backward, with PyTorch's semantics
//! (`torch.nn.functional.batch_norm`). `kindling::nn::BatchNorm1d/2d/3d` call it.
//!
//! The input is `[N, C, *]`: channel `c` is normalised over every element that has index
//! `c` in dim 1, that is over `n = N × (product of the trailing dims)` values.
//! - Training: mean and **biased** variance of the batch, computed in two passes in f64
//!   (never E[x²] - E[x]², which cancels badly), then
//!   `running = (1 - momentum) · running + momentum · stat`, with the **unbiased** variance
//!   `var · n / (n - 1)` going into `running_var`. This update happens outside the graph.
//! - Eval: the running statistics are used instead, and nothing is updated.
//!
//! Like PyTorch's CPU kernel, the output is computed as `x · α + β` with
//! `α = γ / √(σ² + eps)` and `β = b - μ · α` per channel.

use rayon::prelude::*;

use crate::kernels::sum8;
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

/// For every channel, `Σ f(a, b)` over its values: each (sample, channel) plane is summed
/// in f32 (samples split across threads), then each channel's planes are added in f64, in
/// a fixed order, so the result does not depend on thread timing.
fn per_channel(
    a: &[f32],
    b: &[f32],
    c: usize,
    s: usize,
    f: impl Fn(usize, f32, f32) -> f32 + Sync,
) -> Vec<f64> {
    let mut planes = vec![0.0f32; a.len() / s.max(1)];
    planes
        .par_chunks_mut(c)
        .zip(a.par_chunks(c * s).zip(b.par_chunks(c * s)))
        .for_each(|(sums, (a, b))| {
            crate::kernels::vectorized(
                #[inline(always)]
                || {
                    for (ch, sum) in sums.iter_mut().enumerate() {
                        let range = ch * s..(ch + 1) * s;
                        *sum = sum8(&a[range.clone()], &b[range], |x, y| f(ch, x, y));
                    }
                },
            )
        });
    let mut totals = vec![0.0f64; c];
    for sample in planes.chunks(c) {
        totals
            .iter_mut()
            .zip(sample)
            .for_each(|(t, &p)| *t += p as f64);
    }
    totals
}

/// Per-channel mean and biased variance, in two passes: the mean first, then the mean
/// squared deviation from it (never E[x²] - E[x]², which cancels badly).
fn channel_stats(x: &[f32], n: usize, c: usize, s: usize) -> Vec<(f64, f64)> {
    let count = (n * s) as f64;
    let mean: Vec<f64> = per_channel(x, x, c, s, |_, v, _| v)
        .into_iter()
        .map(|t| t / count)
        .collect();
    let mean32: Vec<f32> = mean.iter().map(|&m| m as f32).collect();
    let sq = per_channel(x, x, c, s, |ch, v, _| (v - mean32[ch]) * (v - mean32[ch]));
    mean.into_iter()
        .zip(sq)
        .map(|(m, q)| (m, q / count))
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
    /// use kindling_core::Tensor;
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
        let _timer = crate::profile::scope("BatchNorm", "forward");
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
        let x = self.data();
        let (mean, inv_std): (Vec<f32>, Vec<f32>) = if use_batch_stats {
            let count = n * s;
            assert!(
                count > 1,
                "batch_norm: expected more than 1 value per channel when training, got input of shape {:?}",
                self.shape()
            );
            let stats = channel_stats(&x, n, c, s);
            if let (true, Some(rm), Some(rv)) = (training, running_mean, running_var) {
                let unbias = count as f64 / (count - 1) as f64;
                let (mut rm, mut rv) = (rm.data_mut(), rv.data_mut());
                for (ch, &(mu, var)) in stats.iter().enumerate() {
                    rm[ch] = (1.0 - momentum) * rm[ch] + momentum * mu as f32;
                    rv[ch] = (1.0 - momentum) * rv[ch] + momentum * (var * unbias) as f32;
                }
            }
            stats
                .iter()
                .map(|&(mu, var)| (mu as f32, (1.0 / (var + eps as f64).sqrt()) as f32))
                .unzip()
        } else {
            let (rm, rv) = (running_mean.unwrap().data(), running_var.unwrap().data());
            (
                rm.to_vec(),
                rv.iter().map(|&v| 1.0 / (v + eps).sqrt()).collect(),
            )
        };

        let w = weight.map(|t| t.to_vec());
        let b = bias.map(|t| t.to_vec());
        let alpha: Vec<f32> = (0..c)
            .map(|ch| inv_std[ch] * w.as_ref().map_or(1.0, |w| w[ch]))
            .collect();
        let beta: Vec<f32> = (0..c)
            .map(|ch| b.as_ref().map_or(0.0, |b| b[ch]) - mean[ch] * alpha[ch])
            .collect();
        let mut out = crate::buffers::take(x.len());
        out.par_chunks_mut(c * s)
            .zip(x.par_chunks(c * s))
            .for_each(|(y, x)| {
                crate::kernels::vectorized(
                    #[inline(always)]
                    || {
                        for ch in 0..c {
                            let (a, b) = (alpha[ch], beta[ch]);
                            for (y, &x) in y[ch * s..(ch + 1) * s]
                                .iter_mut()
                                .zip(&x[ch * s..(ch + 1) * s])
                            {
                                *y = x * a + b;
                            }
                        }
                    },
                )
            });
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
    let (xd, gd) = (x.data(), grad.data());
    let w = weight.map(|t| t.to_vec());
    let (mean, inv_std) = (&saved.mean, &saved.inv_std);
    let sum_g = per_channel(&gd, &gd, c, s, |_, g, _| g);
    let sum_gx = per_channel(&gd, &xd, c, s, |ch, g, x| {
        g * ((x - mean[ch]) * inv_std[ch])
    });
    let sums: Vec<(f64, f64)> = sum_g.into_iter().zip(sum_gx).collect();
    let count = (n * s) as f32;
    let mut dx = crate::buffers::take(xd.len());
    dx.par_chunks_mut(c * s)
        .zip(xd.par_chunks(c * s).zip(gd.par_chunks(c * s)))
        .for_each(|(dx, (x, g))| {
            crate::kernels::vectorized(
                #[inline(always)]
                || {
                    for ch in 0..c {
                        let (mu, inv) = (saved.mean[ch], saved.inv_std[ch]);
                        let gamma = w.as_ref().map_or(1.0, |w| w[ch]);
                        let range = ch * s..(ch + 1) * s;
                        let lane = dx[range.clone()]
                            .iter_mut()
                            .zip(&x[range.clone()])
                            .zip(&g[range]);
                        if saved.batch_stats {
                            let mean_g = (sums[ch].0 / count as f64) as f32;
                            let mean_gx = (sums[ch].1 / count as f64) as f32;
                            let k = gamma * inv;
                            for ((dx, &x), &g) in lane {
                                *dx = k * (g - mean_g - (x - mu) * inv * mean_gx);
                            }
                        } else {
                            for ((dx, _), &g) in lane {
                                *dx = gamma * inv * g;
                            }
                        }
                    }
                },
            )
        });
    let dgamma = sums.iter().map(|&(_, sgx)| sgx as f32).collect();
    let dbeta = sums.iter().map(|&(sg, _)| sg as f32).collect();
    (
        Tensor::constant(dx, x.shape().to_vec()),
        Tensor::constant(dgamma, vec![c]),
        Tensor::constant(dbeta, vec![c]),
    )
}
