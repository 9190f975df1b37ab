//! Matrix multiplication: `[m, k] @ [k, n]`, batched `[b, m, k] @ [b, k, n]`, and
//! `[b, m, k] @ [k, n]` (the right side shared by the whole batch). Every product goes to
//! the SGEMM in `kernels.rs`. The backward rule (in `op.rs`) is two more matmuls.

use rayon::prelude::*;

use crate::kernels::{num_threads, sgemm, Mat};
use crate::op::Op;
use crate::Tensor;

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
        let (a, b) = (self.shape(), other.shape());
        let fail = || -> ! { panic!("matmul: shapes {a:?} and {b:?} cannot be multiplied") };
        let (batch, m, k, n, b_batched) = match (a.len(), b.len()) {
            (2, 2) => (1, a[0], a[1], b[1], false),
            (3, 3) if a[0] == b[0] => (a[0], a[1], a[2], b[2], true),
            (3, 2) => (a[0], a[1], a[2], b[1], false),
            _ => fail(),
        };
        if b[b.len() - 2] != k {
            fail();
        }
        let mut out = vec![0.0; batch * m * n];
        {
            let (ad, bd) = (self.data(), other.data());
            if !b_batched || batch == 1 {
                // One product: a shared right side turns [b, m, k] @ [k, n] into
                // [b*m, k] @ [k, n], and gemm splits it across threads itself.
                sgemm(
                    batch * m,
                    n,
                    k,
                    Mat::rows(&ad, k),
                    Mat::rows(&bd, n),
                    &mut out,
                    false,
                    num_threads(),
                );
            } else {
                // One product per batch element, the batch split across threads.
                out.par_chunks_mut(m * n).enumerate().for_each(|(i, o)| {
                    let a_i = &ad[i * m * k..(i + 1) * m * k];
                    let b_i = &bd[i * k * n..(i + 1) * k * n];
                    sgemm(m, n, k, Mat::rows(a_i, k), Mat::rows(b_i, n), o, false, 1);
                });
            }
        }
        let shape = if a.len() == 2 {
            vec![m, n]
        } else {
            vec![batch, m, n]
        };
        Tensor::from_op(out, shape, Op::MatMul(self.clone(), other.clone()))
    }
}
