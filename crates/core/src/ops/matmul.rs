//! Matrix products: `matmul` (`[m, k] @ [k, n]`, batched `[b, m, k] @ [b, k, n]`, and
//! `[b, m, k] @ [k, n]` with the right side shared by the batch) and `linear`
//! (`x·Wᵀ + b`, the fully connected layer's op). Every product goes to the SGEMM in
//! `kernels.rs`. Transposes are never copied: SGEMM reads a transposed operand through
//! swapped strides, which is how both backward passes below get their `Aᵀ` and `Bᵀ`.

use rayon::prelude::*;

use crate::kernels::{num_threads, sgemm, Mat};
use crate::op::Op;
use crate::Tensor;

/// Reads a row-major `[rows, cols]` matrix as itself or as its transpose.
fn view(data: &[f32], cols: usize, transposed: bool) -> Mat<'_> {
    if transposed {
        Mat::transposed(data, cols)
    } else {
        Mat::rows(data, cols)
    }
}

/// `op(a)·op(b)` where `op` transposes the last two dims when asked. `a` is `[m', k']` or
/// `[batch, m', k']`; `b` is 2-d (shared by the batch) or 3-d with the same batch. Returns
/// the raw product, with no graph: the building block of matmul, linear and their backward.
pub(crate) fn product(a: &Tensor, ta: bool, b: &Tensor, tb: bool) -> Tensor {
    let (sa, sb) = (a.shape(), b.shape());
    let (ra, ca) = (sa[sa.len() - 2], sa[sa.len() - 1]);
    let (rb, cb) = (sb[sb.len() - 2], sb[sb.len() - 1]);
    let (m, k) = if ta { (ca, ra) } else { (ra, ca) };
    let n = if tb { rb } else { cb };
    let batch = if sa.len() == 3 { sa[0] } else { 1 };
    let mut out = crate::buffers::take(batch * m * n);
    let (ad, bd) = (a.data(), b.data());
    if sb.len() == 2 && !ta {
        // A shared right side: [batch·m, k] @ [k, n] is one product, which gemm splits
        // across threads itself.
        sgemm(
            batch * m,
            n,
            k,
            view(&ad, ca, false),
            view(&bd, cb, tb),
            &mut out,
            false,
            num_threads(),
        );
    } else {
        let b_step = if sb.len() == 3 { rb * cb } else { 0 };
        let threads = if batch >= num_threads() {
            1
        } else {
            num_threads()
        };
        out.par_chunks_mut(m * n).enumerate().for_each(|(i, o)| {
            let a_i = &ad[i * ra * ca..(i + 1) * ra * ca];
            let b_i = &bd[i * b_step..i * b_step + rb * cb];
            sgemm(
                m,
                n,
                k,
                view(a_i, ca, ta),
                view(b_i, cb, tb),
                o,
                false,
                threads,
            );
        });
    }
    let mut shape = if sa.len() == 3 { vec![batch] } else { vec![] };
    shape.extend([m, n]);
    Tensor::constant(out, shape)
}

impl Tensor {
    /// Matrix product, 2-d or batched 3-d, as `torch.matmul` for those shapes.
    ///
    /// # Panics
    /// If the inner sizes or batch sizes differ, or a side is not 2-d or 3-d; the message
    /// names both shapes.
    ///
    /// ```
    /// use kindling_core::Tensor;
    /// let a = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]);
    /// let b = Tensor::from_vec(vec![5.0, 6.0, 7.0, 8.0], &[2, 2]);
    /// assert_eq!(a.matmul(&b).to_vec(), vec![19.0, 22.0, 43.0, 50.0]);
    /// ```
    pub fn matmul(&self, other: &Tensor) -> Tensor {
        let _timer = crate::profile::scope("MatMul", "forward");
        let (a, b) = (self.shape(), other.shape());
        let fits = match (a.len(), b.len()) {
            (2, 2) | (3, 2) => a[a.len() - 1] == b[0],
            (3, 3) => a[0] == b[0] && a[2] == b[1],
            _ => false,
        };
        assert!(fits, "matmul: shapes {a:?} and {b:?} cannot be multiplied");
        let out = product(self, false, other, false);
        Tensor::attach(&out, Op::MatMul(self.clone(), other.clone()))
    }

    /// The fully connected layer's op, `x·Wᵀ + b` for `x: [N, in]`, `W: [out, in]` and an
    /// optional `b: [out]` (`torch.nn.functional.linear`). One SGEMM reads `W` transposed
    /// in place, so no transposed copy of the weight is made, forward or backward.
    ///
    /// # Panics
    /// If the shapes do not fit; the message names them.
    ///
    /// ```
    /// use kindling_core::Tensor;
    /// let x = Tensor::from_vec(vec![1.0, 2.0], &[1, 2]);
    /// let w = Tensor::from_vec(vec![1.0, 1.0, 0.0, 3.0], &[2, 2]);
    /// let b = Tensor::from_vec(vec![0.5, 0.0], &[2]);
    /// assert_eq!(x.linear(&w, Some(&b)).to_vec(), vec![3.5, 6.0]);
    /// ```
    pub fn linear(&self, weight: &Tensor, bias: Option<&Tensor>) -> Tensor {
        let _timer = crate::profile::scope("Linear", "forward");
        let (x, w) = (self.shape(), weight.shape());
        assert!(
            x.len() == 2 && w.len() == 2 && x[1] == w[1],
            "linear: input {x:?} does not fit weight {w:?} (expects input [N, {}])",
            w.get(1).copied().unwrap_or(0)
        );
        if let Some(b) = bias {
            assert!(
                b.shape() == [w[0]],
                "linear: bias has shape {:?}, expected [{}]",
                b.shape(),
                w[0]
            );
        }
        let out = product(self, false, weight, true);
        if let Some(b) = bias {
            let b = b.data();
            for row in out.data_mut().chunks_mut(w[0]) {
                row.iter_mut().zip(b.iter()).for_each(|(y, b)| *y += b);
            }
        }
        Tensor::attach(
            &out,
            Op::Linear {
                x: self.clone(),
                w: weight.clone(),
                b: bias.cloned(),
            },
        )
    }
}

/// Gradients of `C = A·B`: `dA = dC·Bᵀ`, `dB = Aᵀ·dC`, summed over the batch when `B` was
/// shared by it.
pub(crate) fn matmul_backward(
    g: &Tensor,
    a: &Tensor,
    b: &Tensor,
) -> (Option<Tensor>, Option<Tensor>) {
    let ga = a.is_requires_grad().then(|| product(g, false, b, true));
    let gb = b.is_requires_grad().then(|| {
        if a.dim() == 3 && b.dim() == 2 {
            // Σ_i A_iᵀ·dC_i is one product of the batch stacked into rows.
            let (rows, k, n) = (a.shape()[0] * a.shape()[1], a.shape()[2], g.shape()[2]);
            product(&a.reshape(&[rows, k]), true, &g.reshape(&[rows, n]), false)
        } else {
            product(a, true, g, false)
        }
    });
    (ga, gb)
}

/// Gradients of `Y = X·Wᵀ + b`: `dX = dY·W`, `dW = dYᵀ·X`, `db = Σ_rows dY`.
pub(crate) fn linear_backward(
    g: &Tensor,
    x: &Tensor,
    w: &Tensor,
    has_bias: bool,
) -> (Option<Tensor>, Tensor, Option<Tensor>) {
    let gx = x.is_requires_grad().then(|| product(g, false, w, false));
    let gw = product(g, true, x, false);
    let gb = has_bias.then(|| {
        let out = w.shape()[0];
        let mut sums = vec![0.0f64; out];
        for row in g.data().chunks(out) {
            sums.iter_mut().zip(row).for_each(|(s, &v)| *s += v as f64);
        }
        Tensor::constant(sums.into_iter().map(|s| s as f32).collect(), vec![out])
    });
    (gx, gw, gb)
}
