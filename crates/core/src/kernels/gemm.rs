//! The SGEMM call behind every fast matrix product and convolution.
//!
//! Products go to the `gemm` crate, a real blocked, vectorised SGEMM that picks its
//! micro-kernels for the CPU at run time. Threads come from rayon; work is split in coarse,
//! fixed blocks of rows, so results never depend on how rayon scheduled them (a resumed run
//! must reproduce the original bit for bit). The plain triple loop it replaces is
//! `product_reference` in `ops/matmul.rs`.

use gemm::Parallelism;
use rayon::prelude::*;

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
    product(m, n, k, a, b, c, Layout::RowMajor, accumulate, threads)
}

/// As [`sgemm`], but `c` is stored column-major: element (i, j) at `c[i + j·m]`, which is
/// the row-major `n×m` transpose.
///
/// Why it exists: gemm's AVX-512 micro-kernel covers 64 rows of the output's contiguous
/// dimension at once. A row-major convolution output `[64 channels, 196 pixels]` is
/// contiguous along the 196 pixels, which leave the fourth 64-row panel nearly empty (the
/// product ran at 74% of peak); stored column-major it is contiguous along the 64 channels,
/// one full panel (89%). The caller transposes the small result back where it needs to.
#[allow(clippy::too_many_arguments)] // the BLAS signature: sizes, operands, flags
pub(crate) fn sgemm_col_major(
    m: usize,
    n: usize,
    k: usize,
    a: Mat,
    b: Mat,
    c: &mut [f32],
    accumulate: bool,
    threads: usize,
) {
    product(m, n, k, a, b, c, Layout::ColMajor, accumulate, threads)
}

/// Whether an `m×n` product runs faster into a column-major output (then transposed by the
/// caller) than into a row-major one, with the micro-kernel gemm picks on this CPU.
///
/// gemm covers the output's contiguous dimension in panels of `MR` rows: 64 with its
/// AVX-512 kernels, 16 with AVX2. A dimension that is not a multiple of `MR` leaves its last
/// panel part empty, so the layout whose contiguous dimension fills its panels better wins,
/// by a margin that pays for the transpose. Measured at the CNN's shapes (`[64, 196]`
/// output): column-major 89% of peak against 74% with AVX-512; with AVX2 (panels of 16 fill
/// 196 well) row-major was the faster, as this rule predicts.
pub(crate) fn col_major_is_faster(m: usize, n: usize) -> bool {
    let mr = if gemm_uses_avx512() { 64 } else { 16 };
    let filled = |len: usize| len as f64 / (len.div_ceil(mr) * mr).max(1) as f64;
    filled(m) > filled(n) + 0.1
}

/// Whether gemm runs its AVX-512 kernels here: it does when built with them (kindling's
/// `avx512` feature) and the CPU has AVX-512F, whatever `KINDLING_ISA` says.
fn gemm_uses_avx512() -> bool {
    #[cfg(all(target_arch = "x86_64", feature = "avx512"))]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(all(target_arch = "x86_64", feature = "avx512")))]
    {
        false
    }
}

/// How the output of a product is stored.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Layout {
    RowMajor,
    ColMajor,
}

#[allow(clippy::too_many_arguments)] // the BLAS signature: sizes, operands, flags
fn product(
    m: usize,
    n: usize,
    k: usize,
    a: Mat,
    b: Mat,
    c: &mut [f32],
    layout: Layout,
    accumulate: bool,
    threads: usize,
) {
    // Checked arithmetic: sizes that overflow must stop here, before `unsafe` code trusts
    // them (a wrapped product would pass every bounds check below).
    let size = |rows: usize, cols: usize| {
        rows.checked_mul(cols).unwrap_or_else(|| {
            panic!("sgemm: a {rows}x{cols} matrix has more elements than usize holds")
        })
    };
    let mn = size(m, n);
    assert!(
        c.len() >= mn,
        "sgemm: output holds {} elements, needs {m}x{n}",
        c.len()
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            c[..mn].fill(0.0);
        }
        return;
    }
    // The offset of the last element an operand's strides reach, or None on overflow.
    let last = |mat: &Mat, r: usize, cc: usize| {
        (r - 1)
            .checked_mul(mat.row_stride)?
            .checked_add((cc - 1).checked_mul(mat.col_stride)?)
    };
    let fits = |mat: &Mat, r, cc| last(mat, r, cc).is_some_and(|i| i < mat.data.len());
    assert!(
        fits(&a, m, k) && fits(&b, k, n),
        "sgemm: an operand is too short for a {m}x{k} by {k}x{n} product"
    );
    // With several threads, give each a block of output columns and a single-threaded
    // GEMM. Measured here, that beats gemm's own splitting at the CNN's shapes (the fc1
    // product ran at 54 GFLOP/s split by gemm, 76 on one thread), and blocks of columns beat
    // blocks of rows (fc1's three products on 2 threads: 0.29/0.24/0.24 ms against
    // 0.33/0.25/0.34): each thread then packs only its part of the larger operand. Every
    // element is still one thread's whole sum over k, so the bits do not depend on the
    // thread count. Tiny products stay on one thread.
    let big = mn.saturating_mul(k) >= 1 << 18;
    if threads > 1 && layout == Layout::RowMajor && big && n >= 32 * threads {
        // Whole 16-float cache lines per block.
        let cols = n.div_ceil(threads).div_ceil(16) * 16;
        let c_ptr = SharedOut(c.as_mut_ptr());
        super::parallel(|| {
            (0..n.div_ceil(cols)).into_par_iter().for_each(|i| {
                let (j0, j1) = (i * cols, ((i + 1) * cols).min(n));
                let b_block = Mat {
                    data: &b.data[j0 * b.col_stride..],
                    ..b
                };
                // SAFETY: the asserts above put every (row < m, column < n) of `c`, at
                // `row·n + column`, inside `c`, and the blocks' columns [j0, j1) are
                // disjoint, so no two threads write one element; `a` and `b` are shared
                // slices that cannot alias the `&mut c`; the operand views fit as checked.
                unsafe { raw_gemm(m, j1 - j0, k, a, b_block, c_ptr.at(j0), n, 1, accumulate) };
            })
        });
        return;
    }
    if threads > 1 && layout == Layout::RowMajor && big && m >= 32 {
        let rows = m.div_ceil(threads);
        super::parallel(|| {
            c[..mn]
                .par_chunks_mut(rows * n)
                .enumerate()
                .for_each(|(i, c)| {
                    let r0 = i * rows;
                    let a_block = Mat {
                        data: &a.data[r0 * a.row_stride..],
                        ..a
                    };
                    sgemm(c.len() / n, n, k, a_block, b, c, accumulate, 1);
                })
        });
        return;
    }
    // Column-major: the contiguous blocks are columns, so each thread takes a block of them.
    if threads > 1 && layout == Layout::ColMajor && n >= 32 && mn.saturating_mul(k) >= 1 << 18 {
        let cols = n.div_ceil(threads);
        super::parallel(|| {
            c[..mn]
                .par_chunks_mut(cols * m)
                .enumerate()
                .for_each(|(i, c)| {
                    let b_block = Mat {
                        data: &b.data[i * cols * b.col_stride..],
                        ..b
                    };
                    sgemm_col_major(m, c.len() / m, k, a, b_block, c, accumulate, 1);
                })
        });
        return;
    }
    let (c_row_stride, c_col_stride) = match layout {
        Layout::RowMajor => (n, 1),
        Layout::ColMajor => (1, m),
    };
    // SAFETY: the asserts above check that every index gemm touches, (m-1, k-1) of `a`,
    // (k-1, n-1) of `b` and (m-1, n-1) of `c` (at `m·n - 1` in either layout), lies inside
    // its slice; `c` is borrowed mutably, so it cannot alias `a` or `b`.
    unsafe {
        raw_gemm(
            m,
            n,
            k,
            a,
            b,
            c.as_mut_ptr(),
            c_row_stride,
            c_col_stride,
            accumulate,
        )
    };
}

/// The output pointer, shared by threads that write disjoint parts of it.
#[derive(Clone, Copy)]
struct SharedOut(*mut f32);
// SAFETY: only handed to threads that write disjoint elements (see its one use).
unsafe impl Send for SharedOut {}
unsafe impl Sync for SharedOut {}
impl SharedOut {
    fn at(self, offset: usize) -> *mut f32 {
        self.0.wrapping_add(offset)
    }
}

/// gemm's call, single-threaded, with `c` at `c_ptr` and the given strides.
///
/// # Safety
/// Every element the product touches, `(m-1, k-1)` of `a`, `(k-1, n-1)` of `b` and
/// `(m-1, n-1)` of `c`, must lie inside its buffer, and no other thread may read or write
/// the elements of `c` this call writes.
#[allow(clippy::too_many_arguments)] // the BLAS signature
unsafe fn raw_gemm(
    m: usize,
    n: usize,
    k: usize,
    a: Mat,
    b: Mat,
    c_ptr: *mut f32,
    c_row_stride: usize,
    c_col_stride: usize,
    accumulate: bool,
) {
    // SAFETY: the caller's contract.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c_ptr,
            c_col_stride as isize,
            c_row_stride as isize,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_and_column_blocks_on_several_threads_give_the_single_thread_product() {
        // Large enough to take the threaded paths: 50 columns split by rows, 200 by columns
        // (blocks of 80, 80 and 40); A and B both plain and transposed.
        for (m, n, k) in [(70, 50, 100), (40, 200, 100)] {
            let a: Vec<f32> = (0..m * k).map(|i| ((i * 7) % 13) as f32 - 6.0).collect();
            let b: Vec<f32> = (0..k * n).map(|i| ((i * 5) % 11) as f32 * 0.5).collect();
            for (a_mat, b_mat) in [
                (Mat::rows(&a, k), Mat::rows(&b, n)),
                (Mat::transposed(&a, m), Mat::transposed(&b, k)),
            ] {
                let mut one = vec![0.0; m * n];
                let mut many = vec![1.0; m * n];
                sgemm(m, n, k, a_mat, b_mat, &mut one, false, 1);
                sgemm(m, n, k, a_mat, b_mat, &mut many, false, 3);
                assert_eq!(one, many, "{m}x{n}x{k}");
                // and accumulating
                sgemm(m, n, k, a_mat, b_mat, &mut many, true, 3);
                assert_eq!(many[n + 3], 2.0 * one[n + 3]);
                let at =
                    |i: usize, p: usize| a_mat.data[i * a_mat.row_stride + p * a_mat.col_stride];
                let bt =
                    |p: usize, j: usize| b_mat.data[p * b_mat.row_stride + j * b_mat.col_stride];
                for (i, j) in [(0, 0), (m - 1, n - 1), (m / 2, 7), (3, n - 41)] {
                    let want: f32 = (0..k).map(|p| at(i, p) * bt(p, j)).sum();
                    assert!((one[i * n + j] - want).abs() < 1e-3 * want.abs().max(1.0));
                }
            }
        }
    }

    #[test]
    fn a_transposed_left_side_on_several_threads_gives_the_single_thread_product() {
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
    fn a_column_major_product_is_the_transpose_of_the_row_major_one() {
        // Large enough that three threads take the column-block path.
        let (m, n, k) = (40, 70, 100);
        let a: Vec<f32> = (0..m * k).map(|i| ((i * 7) % 13) as f32 - 6.0).collect();
        let b: Vec<f32> = (0..k * n).map(|i| ((i * 5) % 11) as f32 * 0.5).collect();
        for b_mat in [Mat::rows(&b, n), Mat::transposed(&b, k)] {
            let mut rows = vec![0.0; m * n];
            sgemm(m, n, k, Mat::rows(&a, k), b_mat, &mut rows, false, 1);
            for threads in [1, 3] {
                let mut cols = vec![1.0; m * n];
                sgemm_col_major(m, n, k, Mat::rows(&a, k), b_mat, &mut cols, false, threads);
                for i in 0..m {
                    for j in 0..n {
                        assert_eq!(cols[i + j * m], rows[i * n + j], "({i}, {j}) on {threads}");
                    }
                }
                // and accumulating adds onto what is there
                sgemm_col_major(m, n, k, Mat::rows(&a, k), b_mat, &mut cols, true, threads);
                assert_eq!(cols[m + 1], 2.0 * rows[n + 1]);
            }
        }
        // [1 2; 3 4] · [5 6; 7 8] = [19 22; 43 50], column-major
        let mut c = [0.0; 4];
        let (a, b) = ([1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]);
        sgemm_col_major(
            2,
            2,
            2,
            Mat::rows(&a, 2),
            Mat::rows(&b, 2),
            &mut c,
            false,
            1,
        );
        assert_eq!(c, [19.0, 43.0, 22.0, 50.0]);
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
