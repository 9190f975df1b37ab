//! `softmax` and `log_softmax` along one dim, both numerically stable: the row maximum is
//! subtracted before exponentiating, so inputs of 1000 do not overflow to infinity.
//! Their backward kernels sit here too; `op.rs` calls them.

use crate::op::Op;
use crate::shape::split_at_dim;
use crate::{Dim, Tensor};

/// Calls `f(values, out)` for every 1-d slice along `dim`, gathered into contiguous
/// scratch buffers (a slice along a middle dim is strided in memory).
fn for_each_lane(
    shape: &[usize],
    dim: usize,
    inputs: &[&[f32]],
    out: &mut [f32],
    mut f: impl FnMut(&[Vec<f32>], &mut [f32]),
) {
    let (outer, n, inner) = split_at_dim(shape, dim);
    let mut lanes = vec![vec![0.0; n]; inputs.len()];
    let mut result = vec![0.0; n];
    for o in 0..outer {
        for i in 0..inner {
            let at = |k: usize| (o * n + k) * inner + i;
            for (lane, input) in lanes.iter_mut().zip(inputs) {
                for (k, v) in lane.iter_mut().enumerate() {
                    *v = input[at(k)];
                }
            }
            f(&lanes, &mut result);
            for (k, &v) in result.iter().enumerate() {
                out[at(k)] = v;
            }
        }
    }
}

fn max_of(x: &[f32]) -> f32 {
    x.iter().copied().fold(f32::NEG_INFINITY, f32::max)
}

impl Tensor {
    /// `exp(x) / Σ exp(x)` along `dim`.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let p = Tensor::from_vec(vec![1.0, 1.0], &[1, 2]).softmax(1);
    /// assert_eq!(p.to_vec(), vec![0.5, 0.5]);
    /// ```
    pub fn softmax(&self, dim: impl Dim) -> Tensor {
        let dim = dim.resolve("softmax", self.shape());
        let mut out = vec![0.0; self.numel()];
        for_each_lane(self.shape(), dim, &[&self.read()], &mut out, |lanes, y| {
            let x = &lanes[0];
            let m = max_of(x);
            let mut total = 0.0f64;
            for (y, &v) in y.iter_mut().zip(x) {
                *y = (v - m).exp();
                total += *y as f64;
            }
            let inv = (1.0 / total) as f32;
            y.iter_mut().for_each(|y| *y *= inv);
        });
        Tensor::from_op(
            out,
            self.shape().to_vec(),
            Op::Softmax {
                x: self.clone(),
                dim,
            },
        )
    }

    /// `x - log Σ exp(x)` along `dim`, computed as `x - m - log Σ exp(x - m)`.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let lp = Tensor::from_vec(vec![1000.0, 1000.0], &[1, 2]).log_softmax(1);
    /// assert!((lp.to_vec()[0] + std::f32::consts::LN_2).abs() < 1e-6);
    /// ```
    pub fn log_softmax(&self, dim: impl Dim) -> Tensor {
        let dim = dim.resolve("log_softmax", self.shape());
        let mut out = vec![0.0; self.numel()];
        for_each_lane(self.shape(), dim, &[&self.read()], &mut out, |lanes, y| {
            let x = &lanes[0];
            let m = max_of(x);
            let total: f64 = x.iter().map(|&v| ((v - m).exp()) as f64).sum();
            let log_total = total.ln() as f32;
            for (y, &v) in y.iter_mut().zip(x) {
                *y = v - m - log_total;
            }
        });
        Tensor::from_op(
            out,
            self.shape().to_vec(),
            Op::LogSoftmax {
                x: self.clone(),
                dim,
            },
        )
    }
}

/// y = softmax(x): dx = y ⊙ (g - Σ g⊙y), the sum along `dim`.
pub(crate) fn softmax_backward(g: &Tensor, y: &Tensor, dim: usize) -> Tensor {
    let mut out = vec![0.0; g.numel()];
    let data = Tensor::read_all(&[g, y]); // one lock each, even if `g` is `y`'s own storage
    for_each_lane(
        g.shape(),
        dim,
        &[data.get(0), data.get(1)],
        &mut out,
        |lanes, dx| {
            let (g, y) = (&lanes[0], &lanes[1]);
            let dot: f64 = g.iter().zip(y).map(|(&g, &y)| (g * y) as f64).sum();
            for ((dx, &g), &y) in dx.iter_mut().zip(g).zip(y) {
                *dx = y * (g - dot as f32);
            }
        },
    );
    Tensor::constant(out, g.shape().to_vec())
}

/// y = log_softmax(x): dx = g - exp(y) Σ g, the sum along `dim`.
pub(crate) fn log_softmax_backward(g: &Tensor, y: &Tensor, dim: usize) -> Tensor {
    let mut out = vec![0.0; g.numel()];
    let data = Tensor::read_all(&[g, y]); // one lock each, even if `g` is `y`'s own storage
    for_each_lane(
        g.shape(),
        dim,
        &[data.get(0), data.get(1)],
        &mut out,
        |lanes, dx| {
            let (g, y) = (&lanes[0], &lanes[1]);
            let total: f64 = g.iter().map(|&g| g as f64).sum();
            for ((dx, &g), &y) in dx.iter_mut().zip(g).zip(y) {
                *dx = g - y.exp() * total as f32;
            }
        },
    );
    Tensor::constant(out, g.shape().to_vec())
}
