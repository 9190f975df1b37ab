//! Reductions: `sum`, `mean` (of everything, to a scalar) and `sum_dim`, `mean_dim` (along
//! one dim), and `argmax`. Sums accumulate in f64, more precisely than PyTorch's f32 sums
//! (which add in f32 with cascade summation), so the last bits can differ from PyTorch's.

use crate::op::Op;
use crate::shape::split_at_dim;
use crate::{Dim, Tensor};

impl Tensor {
    /// The sum of all elements, as a scalar tensor (shape `[]`).
    ///
    /// ```
    /// use kindling::Tensor;
    /// assert_eq!(Tensor::from_vec(vec![1.0, 2.0, 3.0], &[3]).sum().item(), 6.0);
    /// ```
    pub fn sum(&self) -> Tensor {
        let total: f64 = self.read().iter().map(|&v| v as f64).sum();
        Tensor::from_op(vec![total as f32], vec![], Op::Sum(self.clone()))
    }

    /// The mean of all elements, as a scalar tensor.
    ///
    /// ```
    /// use kindling::Tensor;
    /// assert_eq!(Tensor::from_vec(vec![1.0, 2.0, 3.0], &[3]).mean().item(), 2.0);
    /// ```
    pub fn mean(&self) -> Tensor {
        let total: f64 = self.read().iter().map(|&v| v as f64).sum();
        let mean = (total / self.numel() as f64) as f32;
        Tensor::from_op(vec![mean], vec![], Op::Mean(self.clone()))
    }

    /// Sums along `dim` (negative counts from the end). With `keepdim` the reduced dim
    /// stays, with size 1, as in PyTorch.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    /// assert_eq!(x.sum_dim(0, false).to_vec(), vec![5.0, 7.0, 9.0]);
    /// assert_eq!(x.sum_dim(-1, true).shape(), &[2, 1]);
    /// ```
    pub fn sum_dim(&self, dim: impl Dim, keepdim: bool) -> Tensor {
        let dim = dim.resolve("sum_dim", self.shape());
        let (data, shape) = sum_along(self, dim, keepdim, 1.0);
        Tensor::from_op(
            data,
            shape,
            Op::SumDim {
                x: self.clone(),
                dim,
                keepdim,
            },
        )
    }

    /// Means along `dim`; see [`Tensor::sum_dim`].
    ///
    /// ```
    /// use kindling::Tensor;
    /// let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    /// assert_eq!(x.mean_dim(1, false).to_vec(), vec![2.0, 5.0]);
    /// ```
    pub fn mean_dim(&self, dim: impl Dim, keepdim: bool) -> Tensor {
        let dim = dim.resolve("mean_dim", self.shape());
        let n = self.shape()[dim] as f64;
        let (data, shape) = sum_along(self, dim, keepdim, 1.0 / n);
        Tensor::from_op(
            data,
            shape,
            Op::MeanDim {
                x: self.clone(),
                dim,
                keepdim,
            },
        )
    }
}

impl Tensor {
    /// The index of the largest value along `dim`, with that dim removed (PyTorch's
    /// `x.argmax(dim)`). Indices come back as `f32` values, since every kindling tensor is
    /// `f32`; they are exact up to 2²⁴. On ties the first index wins, and a NaN counts as
    /// the largest value, both as in PyTorch. The result is a constant (no gradient).
    ///
    /// # Panics
    /// If `dim` is out of range, the dim is empty, or it is longer than 2²⁴.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let logits = Tensor::from_vec(vec![0.1, 2.0, 2.0, 5.0, -1.0, 0.0], &[2, 3]);
    /// assert_eq!(logits.argmax(1).to_vec(), vec![1.0, 0.0]);
    /// assert_eq!(logits.argmax(-1).shape(), &[2]);
    /// ```
    pub fn argmax(&self, dim: impl Dim) -> Tensor {
        let dim = dim.resolve("argmax", self.shape());
        let (_, at, shape) = self.max_along("argmax", dim);
        Tensor::constant(at.into_iter().map(|k| k as f32).collect(), shape)
    }

    /// The largest value along `dim` and where it is, with that dim removed (PyTorch's
    /// `torch.max(x, dim)`): `(values, indices)`, the indices as `f32` values. Ties and NaN
    /// as in [`Tensor::argmax`]. The values are differentiable: each one's gradient goes to
    /// the element it came from.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let x = Tensor::from_vec(vec![1.0, 5.0, 2.0, 7.0, 0.0, 7.0], &[2, 3]).requires_grad(true);
    /// let (values, indices) = x.max(1);
    /// assert_eq!(values.to_vec(), vec![5.0, 7.0]);
    /// assert_eq!(indices.to_vec(), vec![1.0, 0.0]);
    /// values.sum().backward();
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![0.0, 1.0, 0.0, 1.0, 0.0, 0.0]);
    /// ```
    pub fn max(&self, dim: impl Dim) -> (Tensor, Tensor) {
        let dim = dim.resolve("max", self.shape());
        let (values, at, shape) = self.max_along("max", dim);
        let indices = Tensor::constant(at.iter().map(|&k| k as f32).collect(), shape.clone());
        let op = Op::MaxDim {
            x: self.clone(),
            dim,
            argmax: at,
        };
        (Tensor::from_op(values, shape, op), indices)
    }

    /// For every slice along `dim`: its maximum and that maximum's index in the slice
    /// (first on ties, NaN beating every number), and the shape without `dim`.
    fn max_along(&self, op: &str, dim: usize) -> (Vec<f32>, Vec<usize>, Vec<usize>) {
        let (outer, n, inner) = split_at_dim(self.shape(), dim);
        assert!(
            n > 0 && n <= 1 << 24,
            "{op}: dim {dim} of shape {:?} has {n} entries; expected 1 to 2^24",
            self.shape()
        );
        let data = self.read();
        let (mut values, mut at) = (Vec::with_capacity(outer * inner), Vec::new());
        for o in 0..outer {
            for i in 0..inner {
                let value = |k: usize| data[(o * n + k) * inner + i];
                let mut best = 0;
                for k in 1..n {
                    let (v, b) = (value(k), value(best));
                    // A NaN beats every number; the first NaN (or first maximum) stays.
                    if !b.is_nan() && (v > b || v.is_nan()) {
                        best = k;
                    }
                }
                values.push(value(best));
                at.push(best);
            }
        }
        let mut shape = self.shape().to_vec();
        shape.remove(dim);
        (values, at, shape)
    }
}

/// Sends the gradient of each maximum back to the element it came from along `dim`.
pub(crate) fn max_backward(
    g: &Tensor,
    input_shape: &[usize],
    dim: usize,
    argmax: &[usize],
) -> Tensor {
    let (outer, n, inner) = split_at_dim(input_shape, dim);
    let gd = g.data();
    let mut gx = vec![0.0; outer * n * inner];
    for o in 0..outer {
        for i in 0..inner {
            let j = o * inner + i;
            gx[(o * n + argmax[j]) * inner + i] = gd[j];
        }
    }
    Tensor::constant(gx, input_shape.to_vec())
}

/// `scale * Σ_k x[o, k, i]` for the layout (outer, k, inner) around `dim`.
fn sum_along(x: &Tensor, dim: usize, keepdim: bool, scale: f64) -> (Vec<f32>, Vec<usize>) {
    let (outer, n, inner) = split_at_dim(x.shape(), dim);
    let data = x.read();
    let mut out = Vec::with_capacity(outer * inner);
    let mut acc = vec![0.0f64; inner];
    for o in 0..outer {
        acc.fill(0.0);
        for k in 0..n {
            let row = &data[(o * n + k) * inner..(o * n + k + 1) * inner];
            for (a, &v) in acc.iter_mut().zip(row) {
                *a += v as f64;
            }
        }
        out.extend(acc.iter().map(|&a| (a * scale) as f32));
    }
    let mut shape = x.shape().to_vec();
    if keepdim {
        shape[dim] = 1;
    } else {
        shape.remove(dim);
    }
    (out, shape)
}

/// Spreads the gradient of a reduction along `dim` back over the input's shape: every
/// element that was summed receives the gradient of its sum.
pub(crate) fn unreduce(g: &Tensor, input_shape: &[usize], dim: usize, keepdim: bool) -> Tensor {
    let g = if keepdim {
        g.clone()
    } else {
        let mut kept = input_shape.to_vec();
        kept[dim] = 1;
        g.reshape(&kept)
    };
    g.expand(input_shape)
}
