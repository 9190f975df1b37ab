//! Low-level building blocks shared by the ops: the SGEMM call, and helpers that split
//! element-wise work across threads.
//!
//! Matrix products go to the `gemm` crate, a real blocked, vectorised SGEMM (AVX2/FMA here),
//! never a triple loop. Threads come from rayon; work is split in coarse, fixed chunks so
//! that small tensors stay on one thread and results never depend on how rayon scheduled
//! them (a resumed run must reproduce the original bit for bit).

use gemm::Parallelism;
use rayon::prelude::*;

/// Below this many elements, element-wise work stays on the calling thread: spawning
/// costs more than it saves.
pub(crate) const PAR_THRESHOLD: usize = 1 << 15;

/// Sets how many threads kindling's kernels use (rayon's global pool). Call it once, before
/// any tensor work; later calls return an error, as rayon allows one global pool.
///
/// ```
/// // The first call in a process wins; this example just shows the call.
/// let _ = kindling_core::set_num_threads(2);
/// ```
pub fn set_num_threads(n: usize) -> Result<(), String> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build_global()
        .map_err(|e| format!("set_num_threads({n}): {e}"))
}

/// The number of threads kernels split work over.
///
/// ```
/// assert!(kindling_core::num_threads() >= 1);
/// ```
pub fn num_threads() -> usize {
    rayon::current_num_threads()
}

/// Runs `f` compiled for AVX2 and FMA when the CPU has them, and as plain code otherwise.
///
/// The repository's `.cargo/config.toml` already builds for the native CPU, but a program
/// that uses kindling as a dependency is built without it (cargo reads that file only in
/// the directory it runs in). The hot element-wise loops and the optimizers' fused
/// multiply-adds run through this wrapper, so they get 256-bit vectors and one-instruction
/// `mul_add` either way. The results are the same with or without it: enabling the features
/// changes which instructions compute each operation, not the operations themselves.
///
/// ```
/// let sum: f32 = kindling_core::vectorized(#[inline(always)] || (1..=4).map(|v| v as f32).sum());
/// assert_eq!(sum, 10.0);
/// ```
#[inline(always)]
pub fn vectorized<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2,fma")]
        unsafe fn with_avx2_fma<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU supports both features, checked just above.
            return unsafe { with_avx2_fma(f) };
        }
    }
    f()
}

/// Keeps glibc's allocator from handing large buffers back to the kernel on every free.
///
/// A training step allocates and frees the same large activations (several MB each) again
/// and again. By default glibc serves such sizes with fresh `mmap`s, or trims the heap after
/// they are freed, so every step pays page faults and the kernel zeroing pages: a quarter of
/// the step time, measured with `perf`. Raising the two thresholds keeps freed memory in the
/// process for the next step; resident memory then stays flat at the step's peak.
pub(crate) fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // SAFETY: mallopt only changes allocator tuning parameters; it is safe to call
            // at any time, and we call it once.
            unsafe {
                // 32 MiB is the largest value glibc accepts here (half its heap size).
                libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
                libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
            }
        });
    }
}

/// A matrix operand: a slice plus row and column strides, so that a transposed matrix is
/// just the same slice with the strides swapped (no copy).
#[derive(Clone, Copy)]
pub(crate) struct Mat<'a> {
    pub data: &'a [f32],
    pub row_stride: usize,
    pub col_stride: usize,
}

impl<'a> Mat<'a> {
    /// A row-major `rows x cols` matrix.
    pub fn rows(data: &'a [f32], cols: usize) -> Self {
        Mat {
            data,
            row_stride: cols,
            col_stride: 1,
        }
    }
    /// The transpose of a row-major matrix with `cols` columns.
    pub fn transposed(data: &'a [f32], cols: usize) -> Self {
        Mat {
            data,
            row_stride: 1,
            col_stride: cols,
        }
    }
}

/// `c = a·b` (or `c += a·b` when `accumulate`), with `a` m×k, `b` k×n and `c` row-major m×n.
/// `threads > 1` lets gemm split the product itself; callers that already run one product
/// per thread pass 1.
#[allow(clippy::too_many_arguments)] // the BLAS signature: sizes, operands, flags
pub(crate) fn sgemm(
    m: usize,
    n: usize,
    k: usize,
    a: Mat,
    b: Mat,
    c: &mut [f32],
    accumulate: bool,
    threads: usize,
) {
    assert!(
        c.len() >= m * n,
        "sgemm: output holds {} elements, needs {}",
        c.len(),
        m * n
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            c[..m * n].fill(0.0);
        }
        return;
    }
    let last =
        |mat: &Mat, r: usize, cc: usize| (r - 1) * mat.row_stride + (cc - 1) * mat.col_stride;
    assert!(
        last(&a, m, k) < a.data.len() && last(&b, k, n) < b.data.len(),
        "sgemm: operand too short"
    );
    // With several threads, give each a block of output rows and a single-threaded GEMM:
    // measured here, that beats gemm's own splitting at the CNN's shapes (the fc1 product
    // ran at 54 GFLOP/s split by gemm, 76 on one thread). Tiny products stay on one thread.
    if threads > 1 && m >= 32 && m * n * k >= 1 << 18 {
        let rows = m.div_ceil(threads);
        c[..m * n]
            .par_chunks_mut(rows * n)
            .enumerate()
            .for_each(|(i, c)| {
                let r0 = i * rows;
                let a_block = Mat {
                    data: &a.data[r0 * a.row_stride..],
                    ..a
                };
                sgemm(c.len() / n, n, k, a_block, b, c, accumulate, 1);
            });
        return;
    }
    // SAFETY: the asserts above check that every index gemm touches, (m-1, k-1) of `a`,
    // (k-1, n-1) of `b` and (m-1, n-1) of `c`, lies inside its slice; `c` is borrowed
    // mutably, so it cannot alias `a` or `b`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.data.as_ptr(),
            a.col_stride as isize,
            a.row_stride as isize,
            b.data.as_ptr(),
            b.col_stride as isize,
            b.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            Parallelism::None,
        );
    }
}

/// `Σ f(a[i], b[i])` in f32 with eight independent partial sums: the compiler turns the
/// loop into SIMD, and eight short sums lose less precision than one long one.
#[inline]
pub(crate) fn sum8(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(&x, &y)| f(x, y))
        .sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] += f(x[l], y[l]);
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// `f` applied to every element, on several threads when the tensor is large.
pub(crate) fn par_map(x: &[f32], f: impl Fn(f32) -> f32 + Sync + Send) -> Vec<f32> {
    if x.len() < PAR_THRESHOLD {
        return vectorized(
            #[inline(always)]
            || x.iter().map(|&v| f(v)).collect(),
        );
    }
    let mut out = crate::buffers::take(x.len());
    out.par_chunks_mut(PAR_THRESHOLD)
        .zip(x.par_chunks(PAR_THRESHOLD))
        .for_each(|(o, x)| {
            vectorized(
                #[inline(always)]
                || {
                    for (o, &v) in o.iter_mut().zip(x) {
                        *o = f(v);
                    }
                },
            )
        });
    out
}

/// `f` applied pairwise to two slices of equal length.
pub(crate) fn par_zip(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32 + Sync + Send) -> Vec<f32> {
    debug_assert_eq!(a.len(), b.len());
    if a.len() < PAR_THRESHOLD {
        return vectorized(
            #[inline(always)]
            || a.iter().zip(b).map(|(&x, &y)| f(x, y)).collect(),
        );
    }
    let mut out = crate::buffers::take(a.len());
    out.par_chunks_mut(PAR_THRESHOLD)
        .zip(a.par_chunks(PAR_THRESHOLD).zip(b.par_chunks(PAR_THRESHOLD)))
        .for_each(|(o, (a, b))| {
            vectorized(
                #[inline(always)]
                || {
                    for ((o, &x), &y) in o.iter_mut().zip(a).zip(b) {
                        *o = f(x, y);
                    }
                },
            )
        });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_blocks_on_several_threads_give_the_single_thread_product() {
        // Large enough to take the threaded path; A both plain and transposed.
        let (m, n, k) = (70, 50, 100);
        let a: Vec<f32> = (0..m * k).map(|i| ((i * 7) % 13) as f32 - 6.0).collect();
        let b: Vec<f32> = (0..k * n).map(|i| ((i * 5) % 11) as f32 * 0.5).collect();
        for a_mat in [Mat::rows(&a, k), Mat::transposed(&a, m)] {
            let mut one = vec![0.0; m * n];
            let mut many = vec![1.0; m * n];
            sgemm(m, n, k, a_mat, Mat::rows(&b, n), &mut one, false, 1);
            sgemm(m, n, k, a_mat, Mat::rows(&b, n), &mut many, false, 3);
            assert_eq!(one, many);
            // and against a plain triple loop
            let at = |i: usize, p: usize| a_mat.data[i * a_mat.row_stride + p * a_mat.col_stride];
            for (i, j) in [(0, 0), (69, 49), (35, 7)] {
                let want: f32 = (0..k).map(|p| at(i, p) * b[p * n + j]).sum();
                assert!((one[i * n + j] - want).abs() < 1e-3 * want.abs().max(1.0));
            }
        }
    }

    #[test]
    fn sgemm_matches_a_hand_computed_product_and_transposes() {
        // [1 2; 3 4] · [5 6; 7 8] = [19 22; 43 50]
        let a = [1.0, 2.0, 3.0, 4.0];
        let b = [5.0, 6.0, 7.0, 8.0];
        let mut c = [0.0; 4];
        sgemm(
            2,
            2,
            2,
            Mat::rows(&a, 2),
            Mat::rows(&b, 2),
            &mut c,
            false,
            1,
        );
        assert_eq!(c, [19.0, 22.0, 43.0, 50.0]);
        // aᵀ·b = [1 3; 2 4] · [5 6; 7 8] = [26 30; 38 44], accumulated onto c
        sgemm(
            2,
            2,
            2,
            Mat::transposed(&a, 2),
            Mat::rows(&b, 2),
            &mut c,
            true,
            1,
        );
        assert_eq!(c, [45.0, 52.0, 81.0, 94.0]);
    }
}
