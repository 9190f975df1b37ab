//! The fast twin of `product_reference` (`ops/matmul.rs`): every product goes to the SGEMM,
//! transposes are read through swapped strides (no copy), and a batch is split across
//! threads.

use rayon::prelude::*;

use super::gemm::{sgemm, Mat};
use super::{buffers, num_threads};
use crate::ops::matmul::ProductShape;

/// Reads a row-major `[rows, cols]` matrix as itself or as its transpose.
fn view(data: &[f32], cols: usize, transposed: bool) -> Mat<'_> {
    if transposed {
        Mat::transposed(data, cols)
    } else {
        Mat::rows(data, cols)
    }
}

/// `op(a)·op(b)` for every matrix of the batch, as `ProductShape` lays them out.
pub(crate) fn product(a: &[f32], b: &[f32], p: &ProductShape) -> Vec<f32> {
    let mut out = buffers::take(p.out_len());
    if out.is_empty() {
        return out;
    }
    if p.b_shared && !p.ta {
        // A shared right side: [batch·m, k] @ [k, n] is one product, which the SGEMM
        // splits across threads itself.
        sgemm(
            p.batch * p.m,
            p.n,
            p.k,
            view(a, p.a_cols, false),
            view(b, p.b_cols, p.tb),
            &mut out,
            false,
            num_threads(),
        );
        return out;
    }
    let threads = if p.batch >= num_threads() {
        1
    } else {
        num_threads()
    };
    let (a_len, b_len) = (p.a_len(), p.b_len());
    super::parallel(|| {
        out.par_chunks_mut(p.m * p.n)
            .enumerate()
            .for_each(|(i, o)| {
                let b_i = if p.b_shared { b } else { &b[i * b_len..] };
                sgemm(
                    p.m,
                    p.n,
                    p.k,
                    view(&a[i * a_len..], p.a_cols, p.ta),
                    view(b_i, p.b_cols, p.tb),
                    o,
                    false,
                    threads,
                );
            })
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::matmul::product_reference;

    #[test]
    fn the_sgemm_product_equals_the_triple_loop() {
        let data = |len: usize, salt: usize| -> Vec<f32> {
            (0..len)
                .map(|i| ((i * salt + 3) % 17) as f32 * 0.25 - 2.0)
                .collect()
        };
        // plain, transposed either side, batched, and a right side shared by the batch
        for (batch, m, n, k, ta, tb, b_shared) in [
            (1, 5, 7, 3, false, false, true),
            (1, 40, 33, 65, true, false, true),
            (1, 40, 33, 65, false, true, true),
            (3, 6, 4, 5, false, false, false),
            (3, 6, 4, 5, true, true, false),
            (4, 9, 8, 7, false, false, true),
            (2, 0, 3, 4, false, false, false),
            (2, 3, 4, 0, false, false, false),
        ] {
            let (a_cols, b_cols) = (if ta { m } else { k }, if tb { k } else { n });
            let p = ProductShape {
                batch,
                m,
                n,
                k,
                a_cols,
                b_cols,
                ta,
                tb,
                b_shared,
            };
            let a = data(batch * m * k, 7);
            let b = data(if b_shared { k * n } else { batch * k * n }, 5);
            let fast = product(&a, &b, &p);
            let reference = product_reference(&a, &b, &p);
            assert_eq!(fast.len(), reference.len());
            for (i, (x, y)) in fast.iter().zip(&reference).enumerate() {
                assert!(
                    (x - y).abs() <= 1e-4 * (1.0 + y.abs()),
                    "{p:?} [{i}]: {x} vs {y}"
                );
            }
        }
    }
}
