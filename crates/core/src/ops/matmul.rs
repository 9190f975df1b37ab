//! Matrix products: `matmul` (`[m, k] @ [k, n]`, batched `[b, m, k] @ [b, k, n]`, and
//! `[b, m, k] @ [k, n]` with the right side shared by the batch) and `linear`
//! (`x·Wᵀ + b`, the fully connected layer's op). Every product is `product` below: its
//! reference kernel is the triple loop `product_reference`, its fast twin the SGEMM in
//! `kernels/matmul.rs`. Transposes are never copied: both read a transposed operand through
//! its indices, which is how the backward passes get their `Aᵀ` and `Bᵀ`.

use crate::kernels;
use crate::op::Op;
use crate::shape::numel;
use crate::Tensor;

/// The sizes of `op(a)·op(b)`, where `op` transposes a matrix when asked: `a` holds
/// `batch` row-major matrices of `a_cols` columns, `b` one (`b_shared`) or `batch` of
/// `b_cols` columns, and the product is `batch` matrices `[m, n]` with inner size `k`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ProductShape {
    pub batch: usize,
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub a_cols: usize,
    pub b_cols: usize,
    pub ta: bool,
    pub tb: bool,
    pub b_shared: bool,
}

impl ProductShape {
    pub fn a_len(&self) -> usize {
        self.m * self.k
    }
    pub fn b_len(&self) -> usize {
        self.k * self.n
    }
    pub fn out_len(&self) -> usize {
        numel(&[self.batch, self.m, self.n])
    }
}

/// The reference product: for every output element, the dot product of a row of `op(a)`
/// and a column of `op(b)`, summed in f32 as an SGEMM does (in another order, so the last
/// bits can differ from the fast kernel's).
pub(crate) fn product_reference(a: &[f32], b: &[f32], p: &ProductShape) -> Vec<f32> {
    // Element (row r, column c) of matrix i of a side, through the transpose if asked.
    let at = |data: &[f32], start: usize, cols: usize, t: bool, r: usize, c: usize| {
        if t {
            data[start + c * cols + r]
        } else {
            data[start + r * cols + c]
        }
    };
    let mut out = vec![0.0; p.out_len()];
    for i in 0..p.batch {
        let b_start = if p.b_shared { 0 } else { i * p.b_len() };
        for r in 0..p.m {
            for c in 0..p.n {
                let mut sum = 0.0f32;
                for q in 0..p.k {
                    sum += at(a, i * p.a_len(), p.a_cols, p.ta, r, q)
                        * at(b, b_start, p.b_cols, p.tb, q, c);
                }
                out[(i * p.m + r) * p.n + c] = sum;
            }
        }
    }
    out
}

/// `op(a)·op(b)` where `op` transposes the last two dims when asked. `a` is `[m', k']` or
/// `[batch, m', k']`; `b` is 2-d (shared by the batch) or 3-d with the same batch. Returns
/// the raw product, with no graph: the building block of matmul, linear and their backward.
pub(crate) fn product(a: &Tensor, ta: bool, b: &Tensor, tb: bool) -> Tensor {
    let (data, shape) = product_data(a, ta, b, tb);
    Tensor::constant(data, shape)
}

/// `product`'s values and shape.
fn product_data(a: &Tensor, ta: bool, b: &Tensor, tb: bool) -> (Vec<f32>, Vec<usize>) {
    let (sa, sb) = (a.shape(), b.shape());
    let (ra, ca) = (sa[sa.len() - 2], sa[sa.len() - 1]);
    let (rb, cb) = (sb[sb.len() - 2], sb[sb.len() - 1]);
    let (m, k) = if ta { (ca, ra) } else { (ra, ca) };
    let p = ProductShape {
        batch: if sa.len() == 3 { sa[0] } else { 1 },
        m,
        n: if tb { rb } else { cb },
        k,
        a_cols: ca,
        b_cols: cb,
        ta,
        tb,
        b_shared: sb.len() == 2,
    };
    let data = Tensor::read_all(&[a, b]);
    let out = if kernels::fast() {
        kernels::matmul::product(data.get(0), data.get(1), &p)
    } else {
        product_reference(data.get(0), data.get(1), &p)
    };
    let mut shape = if sa.len() == 3 { vec![p.batch] } else { vec![] };
    shape.extend([p.m, p.n]);
    (out, shape)
}

impl Tensor {
    /// Matrix product, 2-d or batched 3-d, as `torch.matmul` for those shapes.
    ///
    /// # Panics
    /// If the inner sizes or batch sizes differ, or a side is not 2-d or 3-d; the message
    /// names both shapes.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let a = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]);
    /// let b = Tensor::from_vec(vec![5.0, 6.0, 7.0, 8.0], &[2, 2]);
    /// assert_eq!(a.matmul(&b).to_vec(), vec![19.0, 22.0, 43.0, 50.0]);
    /// ```
    pub fn matmul(&self, other: &Tensor) -> Tensor {
        let (a, b) = (self.shape(), other.shape());
        let fits = match (a.len(), b.len()) {
            (2, 2) | (3, 2) => a[a.len() - 1] == b[0],
            (3, 3) => a[0] == b[0] && a[2] == b[1],
            _ => false,
        };
        assert!(fits, "matmul: shapes {a:?} and {b:?} cannot be multiplied");
        let (data, shape) = product_data(self, false, other, false);
        Tensor::from_op(data, shape, Op::MatMul(self.clone(), other.clone()))
    }

    /// The fully connected layer's op, `x·Wᵀ + b` for `x: [N, in]`, `W: [out, in]` and an
    /// optional `b: [out]` (`torch.nn.functional.linear`). One SGEMM reads `W` transposed
    /// in place, so no transposed copy of the weight is made, forward or backward.
    ///
    /// # Panics
    /// If the shapes do not fit; the message names them.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let x = Tensor::from_vec(vec![1.0, 2.0], &[1, 2]);
    /// let w = Tensor::from_vec(vec![1.0, 1.0, 0.0, 3.0], &[2, 2]);
    /// let b = Tensor::from_vec(vec![0.5, 0.0], &[2]);
    /// assert_eq!(x.linear(&w, Some(&b)).to_vec(), vec![3.5, 6.0]);
    /// ```
    pub fn linear(&self, weight: &Tensor, bias: Option<&Tensor>) -> Tensor {
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
        let (mut data, shape) = product_data(self, false, weight, true);
        if let Some(b) = bias {
            let b = b.read();
            for row in data.chunks_mut(w[0].max(1)) {
                row.iter_mut().zip(b.iter()).for_each(|(y, b)| *y += b);
            }
        }
        Tensor::from_op(
            data,
            shape,
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
        for row in g.read().chunks(out.max(1)) {
            sums.iter_mut().zip(row).for_each(|(s, &v)| *s += v as f64);
        }
        Tensor::constant(sums.into_iter().map(|s| s as f32).collect(), vec![out])
    });
    (gx, gw, gb)
}
