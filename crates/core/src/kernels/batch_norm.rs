//! The fast twins of batch normalisation's reference kernels (`ops/batch_norm.rs`).
//!
//! Each (sample, channel) plane is summed in f32 with eight SIMD lanes, samples split
//! across threads; then each channel's plane sums are added in f64, in a fixed order, so the
//! result does not depend on thread timing. The element-wise passes run a block of samples
//! per thread, compiled for the widest vectors the CPU has (`vectorized`). Tensors below
//! `PAR_THRESHOLD` elements (BatchNorm1d after a linear layer) stay on the calling thread:
//! waking the pool cost more than the work.

use rayon::prelude::*;

use super::{buffers, sum_zip, vectorized};

/// Runs `f(i, block)` on each `len`-long block of `out` (block `i` is sample `i`), on the
/// thread pool when `work` elements pay for waking it, otherwise in order on this thread.
fn per_sample<T: Send>(out: &mut [T], len: usize, work: usize, f: impl Fn(usize, &mut [T]) + Sync) {
    let run = |(i, block): (usize, &mut [T])| {
        vectorized(
            #[inline(always)]
            || f(i, block),
        )
    };
    if work < super::PAR_THRESHOLD {
        out.chunks_mut(len).enumerate().for_each(run);
    } else {
        super::parallel(|| out.par_chunks_mut(len).enumerate().for_each(run));
    }
}

/// `reduce(channel, a_plane, b_plane)` for every (sample, channel) plane of `[n, c, s]`
/// data, in `[n, c]` order.
fn per_plane<T: Copy + Default + Send>(
    a: &[f32],
    b: &[f32],
    c: usize,
    s: usize,
    reduce: impl Fn(usize, &[f32], &[f32]) -> T + Sync,
) -> Vec<T> {
    if a.is_empty() {
        return Vec::new();
    }
    let mut planes = vec![T::default(); a.len() / s];
    per_sample(
        &mut planes,
        c,
        a.len(),
        #[inline(always)]
        |i, sums| {
            let (a, b) = (
                &a[i * c * s..(i + 1) * c * s],
                &b[i * c * s..(i + 1) * c * s],
            );
            for (ch, sum) in sums.iter_mut().enumerate() {
                let range = ch * s..(ch + 1) * s;
                *sum = reduce(ch, &a[range.clone()], &b[range]);
            }
        },
    );
    planes
}

/// For every channel, `Σ f(channel, a, b)` over its values, for `[n, c, s]` data: plane sums
/// in f32, added per channel in f64 in sample order.
fn per_channel(
    a: &[f32],
    b: &[f32],
    c: usize,
    s: usize,
    f: impl Fn(usize, f32, f32) -> f32 + Sync,
) -> Vec<f64> {
    let mut totals = vec![0.0f64; c];
    for sample in per_plane(
        a,
        b,
        c,
        s,
        #[inline(always)]
        |ch, a, b| sum_zip(a, b, |x, y| f(ch, x, y)),
    )
    .chunks(c)
    {
        totals
            .iter_mut()
            .zip(sample)
            .for_each(|(t, &p)| *t += p as f64);
    }
    totals
}

/// `sum_zip` for a function with two outputs, summed side by side in the same lane order.
#[inline(always)]
pub(super) fn sum_zip_pair(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> (f32, f32)) -> (f32, f32) {
    let (mut p, mut q) = ([0.0f32; 8], [0.0f32; 8]);
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (mut tp, mut tq) = (0.0f32, 0.0f32);
    for (&x, &y) in ca.remainder().iter().zip(cb.remainder()) {
        let (u, v) = f(x, y);
        tp += u;
        tq += v;
    }
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            let (u, v) = f(x[l], y[l]);
            p[l] += u;
            q[l] += v;
        }
    }
    (p.iter().sum::<f32>() + tp, q.iter().sum::<f32>() + tq)
}

/// Per-channel mean and biased variance, in two passes (never E[x²] - E[x]², which
/// cancels badly).
pub(crate) fn channel_stats(x: &[f32], n: usize, c: usize, s: usize) -> Vec<(f64, f64)> {
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

/// `y = x · alpha[ch] + beta[ch]` for `[n, c, s]` data.
pub(crate) fn scale_shift(x: &[f32], alpha: &[f32], beta: &[f32], c: usize, s: usize) -> Vec<f32> {
    let mut out = buffers::take(x.len());
    if out.is_empty() {
        return out;
    }
    per_sample(
        &mut out,
        c * s,
        x.len(),
        #[inline(always)]
        |i, y| {
            let x = &x[i * c * s..(i + 1) * c * s];
            for ch in 0..c {
                let range = ch * s..(ch + 1) * s;
                scale_shift_plane(&mut y[range.clone()], &x[range], alpha[ch], beta[ch]);
            }
        },
    );
    out
}

/// `y = x · a + b` for one plane: the one place BatchNorm's output is computed, by this
/// kernel and by the fused one (`bn_relu_pool.rs`), so that the two agree bit for bit.
#[inline(always)]
pub(super) fn scale_shift_plane(y: &mut [f32], x: &[f32], a: f32, b: f32) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y = x * a + b;
    }
}

/// Per channel, `(Σ g, Σ g·x̂)` with `x̂ = (x - mean)·inv_std`.
pub(crate) fn grad_sums(
    g: &[f32],
    x: &[f32],
    mean: &[f32],
    inv_std: &[f32],
    c: usize,
    s: usize,
) -> Vec<(f64, f64)> {
    // Both sums from one read of g (and x), added per channel in f64 as in `per_channel`.
    let planes = per_plane(
        g,
        x,
        c,
        s,
        #[inline(always)]
        |ch, g, x| {
            let (mu, inv) = (mean[ch], inv_std[ch]);
            sum_zip_pair(g, x, |g, x| (g, g * ((x - mu) * inv)))
        },
    );
    add_planes(&planes, c)
}

/// Adds `[n, c]` plane sums into per-channel totals, in f64 and in sample order (a fixed
/// order, whatever thread summed which plane). `bn_relu_pool.rs` shares it.
pub(super) fn add_planes(planes: &[(f32, f32)], c: usize) -> Vec<(f64, f64)> {
    let mut totals = vec![(0.0f64, 0.0f64); c];
    for sample in planes.chunks(c) {
        totals.iter_mut().zip(sample).for_each(|(t, &(p, q))| {
            t.0 += p as f64;
            t.1 += q as f64;
        });
    }
    totals
}

/// `dx = k[ch] · (g - mean_g[ch] - x̂ · mean_gx[ch])` for `[n, c, s]` data, with
/// `x̂ = (x - mean)·inv_std` (`mean_g` and `mean_gx` are zero when running statistics
/// normalised the input).
#[allow(clippy::too_many_arguments)] // per-channel coefficients of one formula
pub(crate) fn input_grad(
    g: &[f32],
    x: &[f32],
    mean: &[f32],
    inv_std: &[f32],
    k: &[f32],
    mean_g: &[f32],
    mean_gx: &[f32],
    c: usize,
    s: usize,
) -> Vec<f32> {
    let mut dx = buffers::take(x.len());
    if dx.is_empty() {
        return dx;
    }
    per_sample(
        &mut dx,
        c * s,
        x.len(),
        #[inline(always)]
        |i, dx| {
            let block = i * c * s..(i + 1) * c * s;
            let (x, g) = (&x[block.clone()], &g[block]);
            for ch in 0..c {
                let t = GradTerms::of(ch, mean, inv_std, k, mean_g, mean_gx);
                let range = ch * s..(ch + 1) * s;
                let lane = dx[range.clone()]
                    .iter_mut()
                    .zip(&x[range.clone()])
                    .zip(&g[range]);
                if t.running() {
                    lane.for_each(|((dx, _), &g)| *dx = t.k * g);
                } else {
                    lane.for_each(|((dx, &x), &g)| *dx = t.dx(g, x));
                }
            }
        },
    );
    dx
}

/// One channel's terms of the input gradient, `dx = k · (g - mean_g - x̂ · mean_gx)` with
/// `x̂ = (x - mean) · inv_std`: the one place that formula is written, for this kernel and
/// the fused one (`bn_relu_pool.rs`), so that the two agree bit for bit.
#[derive(Clone, Copy)]
pub(super) struct GradTerms {
    mean: f32,
    inv_std: f32,
    pub k: f32,
    mean_g: f32,
    mean_gx: f32,
}

impl GradTerms {
    #[inline(always)]
    pub(super) fn of(
        ch: usize,
        mean: &[f32],
        inv_std: &[f32],
        k: &[f32],
        mean_g: &[f32],
        mean_gx: &[f32],
    ) -> Self {
        GradTerms {
            mean: mean[ch],
            inv_std: inv_std[ch],
            k: k[ch],
            mean_g: mean_g[ch],
            mean_gx: mean_gx[ch],
        }
    }

    /// Running statistics normalised the input (both means are zero): `dx = k · g`, and x
    /// does not enter, so an infinite x stays out.
    #[inline(always)]
    pub(super) fn running(self) -> bool {
        self.mean_g == 0.0 && self.mean_gx == 0.0
    }

    #[inline(always)]
    pub(super) fn dx(self, g: f32, x: f32) -> f32 {
        self.k * (g - self.mean_g - (x - self.mean) * self.inv_std * self.mean_gx)
    }
}
