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
//! `batch_norm_relu_max_pool2d` is BatchNorm, ReLU and max pooling as one op, sharing
//! `batch_norm`'s statistics code and composing the same per-element expressions, so that
//! it gives the same bits while its fast kernels (`kernels/bn_relu_pool.rs`) never write
//! BatchNorm's full-size output or the gradient into it.
//!
//! The reference kernels below are plain loops over each channel's values, with sums in
//! f64. Their fast twins (`kernels/batch_norm.rs`) sum each (sample, channel) plane in f32
//! on several threads and combine the planes in f64. The same maths composed from `mean_dim`
//! and friends, with autograd deriving the backward pass, is in the test
//! `core/tests/batch_norm_fused.rs`.

use crate::kernels;
use crate::op::Op;
use crate::ops::pool;
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
        let (_, c, s) = layout("batch_norm", self.shape());
        let Normalisation { alpha, beta, saved } = self.normalisation(
            "batch_norm",
            [running_mean, running_var, weight, bias],
            training,
            momentum,
            eps,
        );
        let x = self.read();
        let out = if kernels::fast() {
            kernels::batch_norm::scale_shift(&x, &alpha, &beta, c, s)
        } else {
            scale_shift_reference(&x, &alpha, &beta, c, s)
        };
        drop(x);
        let op = Op::BatchNorm {
            x: self.clone(),
            weight: weight.cloned(),
            bias: bias.cloned(),
            saved,
        };
        Tensor::from_op(out, self.shape().to_vec(), op)
    }
}

/// What both batch-norm ops compute before touching the full-size data: per channel the
/// statistics that normalise (saved for backward) and the output's `y = x · alpha + beta`.
struct Normalisation {
    alpha: Vec<f32>,
    beta: Vec<f32>,
    saved: Saved,
}

impl Tensor {
    /// The part of batch normalisation shared by `batch_norm` and
    /// `batch_norm_relu_max_pool2d`: checks the shapes (naming `op` in the panics),
    /// computes the statistics, updates the running buffers when training and folds
    /// everything into `alpha` and `beta`. `buffers` is `[running_mean, running_var,
    /// weight, bias]`.
    fn normalisation(
        &self,
        op: &str,
        buffers: [Option<&Tensor>; 4],
        training: bool,
        momentum: f32,
        eps: f32,
    ) -> Normalisation {
        let [running_mean, running_var, weight, bias] = buffers;
        let (n, c, s) = layout(op, self.shape());
        for (what, t) in [
            ("running_mean", running_mean),
            ("running_var", running_var),
            ("weight", weight),
            ("bias", bias),
        ] {
            if let Some(t) = t {
                assert!(
                    t.shape() == [c],
                    "{op}: {what} has shape {:?} but the input {:?} has {c} channels",
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
                "{op}: expected more than 1 value per channel when training, got input of shape {:?}",
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
        Normalisation {
            alpha,
            beta,
            saved: Saved {
                mean,
                inv_std,
                batch_stats: use_batch_stats,
            },
        }
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
    let Coefficients { k, mean_g, mean_gx } = coefficients(&sums, &gamma, saved, n * s);
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
    gradients(dx, x.shape(), &sums)
}

/// The per-channel factors of `dx = k · (g - mean_g - x̂ · mean_gx)`: `k = γ/σ`, and the
/// means of g and g·x̂ over the channel's `count` values, which vanish in eval (the
/// running statistics do not depend on x).
struct Coefficients {
    k: Vec<f32>,
    mean_g: Vec<f32>,
    mean_gx: Vec<f32>,
}

fn coefficients(sums: &[(f64, f64)], gamma: &[f32], saved: &Saved, count: usize) -> Coefficients {
    let c = sums.len();
    let count = count as f64;
    let k = (0..c).map(|ch| gamma[ch] * saved.inv_std[ch]).collect();
    let (mean_g, mean_gx) = if saved.batch_stats {
        sums.iter()
            .map(|&(sg, sgx)| ((sg / count) as f32, (sgx / count) as f32))
            .unzip()
    } else {
        (vec![0.0; c], vec![0.0; c])
    };
    Coefficients { k, mean_g, mean_gx }
}

/// `(dx, dγ, dβ)` as tensors: dγ = Σ g·x̂ and dβ = Σ g per channel.
fn gradients(dx: Vec<f32>, shape: &[usize], sums: &[(f64, f64)]) -> (Tensor, Tensor, Tensor) {
    let c = sums.len();
    let dgamma = sums.iter().map(|&(_, sgx)| sgx as f32).collect();
    let dbeta = sums.iter().map(|&(sg, _)| sg as f32).collect();
    (
        Tensor::constant(dx, shape.to_vec()),
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

impl Tensor {
    /// BatchNorm, ReLU and 2-d max pooling as one op: equal to
    /// `self.batch_norm(..).relu().max_pool2d(kernel, stride)` bit for bit, in the output,
    /// in the running statistics and in every gradient (x, weight, bias), but without
    /// making BatchNorm's full-size output, or the gradient flowing back into it.
    ///
    /// Why the bits agree: the statistics, the running-buffer update and the per-channel
    /// `α`, `β` are computed by the very code `batch_norm` uses; each normalised value is
    /// the same expression `x · α + β`; ReLU then max pooling is
    /// [`Tensor::relu_max_pool2d`], bit-identical to the two ops. Backward, BatchNorm's
    /// output gradient is the pooling's scatter of `g`, rebuilt one plane at a time, and the
    /// sums over it are taken plane by plane in the same order as `batch_norm`'s backward,
    /// so they round the same way. `nn::Sequential` calls this for a `BatchNorm2d`
    /// followed by a `ReLU` and a `MaxPool2d`.
    ///
    /// # Panics
    /// As [`Tensor::batch_norm`] and [`Tensor::max_pool2d`]: if the input is not
    /// `[N, C, H, W]`, the kernel or stride is 0, the window is larger than the input
    /// plane, a parameter or buffer is not `[C]`, or training sees one value per channel.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let data: Vec<f32> = (0..32).map(|i| ((i * 7) % 11) as f32 - 5.0).collect();
    /// let x = Tensor::from_vec(data, &[2, 1, 4, 4]);
    /// let (gamma, beta) = (Tensor::from_vec(vec![1.5], &[1]), Tensor::from_vec(vec![0.2], &[1]));
    /// let (rm, rv) = (Tensor::zeros(&[1]), Tensor::ones(&[1]));
    /// let fused = x.batch_norm_relu_max_pool2d(
    ///     Some(&rm), Some(&rv), Some(&gamma), Some(&beta), true, 0.1, 1e-5, 2, 2,
    /// );
    /// let (rm2, rv2) = (Tensor::zeros(&[1]), Tensor::ones(&[1]));
    /// let plain = x
    ///     .batch_norm(Some(&rm2), Some(&rv2), Some(&gamma), Some(&beta), true, 0.1, 1e-5)
    ///     .relu()
    ///     .max_pool2d(2, 2);
    /// let bits = |t: &Tensor| t.to_vec().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    /// assert_eq!(fused.shape(), &[2, 1, 2, 2]);
    /// assert_eq!(bits(&fused), bits(&plain));
    /// assert_eq!(bits(&rm), bits(&rm2));
    /// assert_eq!(bits(&rv), bits(&rv2));
    /// ```
    #[allow(clippy::too_many_arguments)]
    pub fn batch_norm_relu_max_pool2d(
        &self,
        running_mean: Option<&Tensor>,
        running_var: Option<&Tensor>,
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        training: bool,
        momentum: f32,
        eps: f32,
        kernel: usize,
        stride: usize,
    ) -> Tensor {
        const OP: &str = "batch_norm_relu_max_pool2d";
        let (planes, h, w, oh, ow) = pool::max_pool_geometry(OP, self.shape(), kernel, stride);
        let Normalisation { alpha, beta, saved } = self.normalisation(
            OP,
            [running_mean, running_var, weight, bias],
            training,
            momentum,
            eps,
        );
        let (n, c) = (self.shape()[0], self.shape()[1]);
        let (out, argmax, passes) = {
            let x = self.read();
            if kernels::fast() {
                let geometry = kernels::bn_relu_pool::Geometry {
                    c,
                    h,
                    w,
                    kernel,
                    stride,
                    oh,
                    ow,
                };
                kernels::bn_relu_pool::forward(&x, &alpha, &beta, geometry)
            } else {
                // The two ops' reference kernels, one after the other.
                let y = scale_shift_reference(&x, &alpha, &beta, c, h * w);
                pool::relu_max_pool2d_reference(&y, planes, h, w, kernel, stride, oh, ow)
            }
        };
        let op = Op::BatchNormReluMaxPool2d {
            x: self.clone(),
            weight: weight.cloned(),
            bias: bias.cloned(),
            saved,
            argmax,
            passes,
        };
        Tensor::from_op(out, vec![n, c, oh, ow], op)
    }
}

/// `batch_norm_relu_max_pool2d`'s backward: the chain rule through the pooling (g goes to
/// each window's argmax where its maximum was above 0, as `relu_max_pool2d`'s backward),
/// giving dy, BatchNorm's output gradient, then BatchNorm's backward on dy. Returns
/// `(dx, dγ, dβ)` as [`batch_norm_backward`].
///
/// The reference composes the two backward passes as written, with a full-size dy. The
/// fast kernels rebuild dy one plane at a time, once for the sums and once for dx.
pub(crate) fn batch_norm_relu_max_pool2d_backward(
    grad: &Tensor,
    x: &Tensor,
    weight: Option<&Tensor>,
    saved: &Saved,
    argmax: &[u32],
    passes: &[bool],
) -> (Tensor, Tensor, Tensor) {
    if !kernels::fast() {
        let dy = pool::relu_max_pool2d_backward(grad, x.shape(), argmax, passes);
        return batch_norm_backward(&dy, x, weight, saved);
    }
    let (n, c, s) = layout("batch_norm_relu_max_pool2d backward", x.shape());
    let gamma = weight.map_or_else(|| vec![1.0; c], |t| t.to_vec());
    let data = Tensor::read_all(&[grad, x]);
    let (gd, xd) = (data.get(0), data.get(1));
    let dy = kernels::bn_relu_pool::Routed {
        g: gd,
        argmax,
        passes,
        plane: s,
        out_plane: grad.shape()[2] * grad.shape()[3],
    };
    let (mean, inv_std) = (&saved.mean, &saved.inv_std);
    let sums = kernels::bn_relu_pool::grad_sums(&dy, xd, mean, inv_std, c);
    let Coefficients { k, mean_g, mean_gx } = coefficients(&sums, &gamma, saved, n * s);
    let dx = kernels::bn_relu_pool::input_grad(&dy, xd, mean, inv_std, &k, &mean_g, &mean_gx, c);
    gradients(dx, x.shape(), &sums)
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
