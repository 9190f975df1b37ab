//! The fast kernels of `batch_norm_relu_max_pool2d` (`ops/batch_norm.rs`): BatchNorm, ReLU
//! and max pooling done one (sample, channel) plane at a time, so that BatchNorm's
//! full-size output, and the gradient flowing back into it, never go through memory.
//!
//! Forward, each plane is normalised into a small scratch buffer that stays in L1 and
//! pooled from there. Backward, BatchNorm's output gradient is rebuilt plane by plane from
//! the pooled gradient (a scatter, cheap), twice: once for the per-channel sums, once for
//! dx. Every value is computed by the same expression, in the same order, as the unfused
//! kernels (`batch_norm.rs`, `pool.rs`), whose helpers are called here, so the bits agree.

use rayon::prelude::*;

use super::{batch_norm, buffers, pool, vectorized};

/// The pooling geometry: planes of `h × w` (plane `p` is channel `p % c`) pooled by
/// `kernel × kernel` windows moved by `stride` into `oh × ow`.
#[derive(Clone, Copy)]
pub(crate) struct Geometry {
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub kernel: usize,
    pub stride: usize,
    pub oh: usize,
    pub ow: usize,
}

/// `relu(max_pool(x · alpha[ch] + beta[ch]))` for `[n, c, h, w]` data: the pooled values,
/// each maximum's index inside its plane, and whether it was above 0.
pub(crate) fn forward(
    x: &[f32],
    alpha: &[f32],
    beta: &[f32],
    geo: Geometry,
) -> (Vec<f32>, Vec<u32>, Vec<bool>) {
    let Geometry {
        c,
        h,
        w,
        kernel,
        stride,
        oh,
        ow,
    } = geo;
    let (plane, out_plane) = (h * w, oh * ow);
    let len = x.len() / plane * out_plane;
    let mut out = buffers::take(len);
    let mut argmax = vec![0u32; len];
    let mut passes = vec![false; len];
    if out.is_empty() {
        return (out, argmax, passes);
    }
    super::parallel(|| {
        out.par_chunks_mut(out_plane)
            .zip(argmax.par_chunks_mut(out_plane))
            .zip(passes.par_chunks_mut(out_plane))
            .zip(x.par_chunks(plane))
            .enumerate()
            .for_each_init(
                || vec![0.0f32; plane],
                |y, (p, (((out, arg), passes), x))| {
                    let (a, b) = (alpha[p % c], beta[p % c]);
                    vectorized(
                        #[inline(always)]
                        || {
                            batch_norm::scale_shift_plane(y, x, a, b);
                            pool::pool_plane(y, w, kernel, stride, ow, out, arg);
                            pool::relu_in_place(out, passes);
                        },
                    )
                },
            )
    });
    (out, argmax, passes)
}

/// The pooled op's output gradient and what routes it back to BatchNorm's output: plane
/// `p` of that gradient is `g` scattered to `argmax` where `passes` (`pool::scatter_plane`).
pub(crate) struct Routed<'a> {
    pub g: &'a [f32],
    pub argmax: &'a [u32],
    pub passes: &'a [bool],
    /// Elements in an input plane (h · w) and in an output plane (oh · ow).
    pub plane: usize,
    pub out_plane: usize,
}

impl Routed<'_> {
    /// Writes plane `p` of BatchNorm's output gradient into `dy`.
    #[inline(always)]
    fn plane_into(&self, p: usize, dy: &mut [f32]) {
        let range = p * self.out_plane..(p + 1) * self.out_plane;
        pool::scatter_plane(
            dy,
            &self.g[range.clone()],
            &self.argmax[range.clone()],
            Some(&self.passes[range]),
        );
    }
}

/// Per channel, `(Σ dy, Σ dy·x̂)` with `x̂ = (x - mean)·inv_std`: `batch_norm::grad_sums`
/// on the rebuilt dy, plane by plane with the same `sum_zip_pair`, added in the same order.
pub(crate) fn grad_sums(
    dy: &Routed,
    x: &[f32],
    mean: &[f32],
    inv_std: &[f32],
    c: usize,
) -> Vec<(f64, f64)> {
    let mut planes = vec![(0.0f32, 0.0f32); x.len() / dy.plane];
    super::parallel(|| {
        planes
            .par_iter_mut()
            .zip(x.par_chunks(dy.plane))
            .enumerate()
            .for_each_init(
                || vec![0.0f32; dy.plane],
                |g, (p, (sum, x))| {
                    let (mu, inv) = (mean[p % c], inv_std[p % c]);
                    vectorized(
                        #[inline(always)]
                        || {
                            dy.plane_into(p, g);
                            *sum = batch_norm::sum_zip_pair(g, x, |g, x| (g, g * ((x - mu) * inv)));
                        },
                    )
                },
            )
    });
    batch_norm::add_planes(&planes, c)
}

/// `dx = k[ch] · (dy - mean_g[ch] - x̂ · mean_gx[ch])`, as `batch_norm::input_grad`, with dy
/// rebuilt in dx's own plane and turned into dx there while it is in cache.
#[allow(clippy::too_many_arguments)] // per-channel coefficients of one formula
pub(crate) fn input_grad(
    dy: &Routed,
    x: &[f32],
    mean: &[f32],
    inv_std: &[f32],
    k: &[f32],
    mean_g: &[f32],
    mean_gx: &[f32],
    c: usize,
) -> Vec<f32> {
    let mut dx = buffers::take(x.len());
    if dx.is_empty() {
        return dx;
    }
    super::parallel(|| {
        dx.par_chunks_mut(dy.plane)
            .zip(x.par_chunks(dy.plane))
            .enumerate()
            .for_each(|(p, (dx, x))| {
                let t = batch_norm::GradTerms::of(p % c, mean, inv_std, k, mean_g, mean_gx);
                vectorized(
                    #[inline(always)]
                    || {
                        dy.plane_into(p, dx);
                        if t.running() {
                            dx.iter_mut().for_each(|g| *g *= t.k);
                        } else {
                            dx.iter_mut().zip(x).for_each(|(g, &x)| *g = t.dx(*g, x));
                        }
                    },
                )
            })
    });
    dx
}
