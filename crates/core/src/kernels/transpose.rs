//! Transposing a small matrix, with a bias added per output row: the epilogue of a
//! convolution whose GEMM wrote `[pixels, channels]` (see `gemm::col_major_is_faster`) and
//! whose output must be `[channels, pixels]`.
//!
//! A plain transpose reads one side with a stride, one element at a time; at the CNN's
//! shapes that cost 1.5 ns per element, more than the GEMM layout saved. With AVX-512 the
//! matrix goes in 16×16 tiles: sixteen row loads, four rounds of shuffles inside registers,
//! sixteen row stores. [`transpose_add_bias_reference`] is the plain twin, and the test
//! below checks that both give the same bits.

#[cfg(all(target_arch = "x86_64", feature = "avx512"))]
use super::{isa, Isa};

/// `out[c·rows + r] = src[r·cols + c] + bias[c]` (bias 0 when there is none).
pub(crate) fn transpose_add_bias(
    src: &[f32],
    rows: usize,
    cols: usize,
    bias: Option<&[f32]>,
    out: &mut [f32],
) {
    assert!(src.len() >= rows * cols && out.len() >= rows * cols);
    assert!(bias.is_none_or(|b| b.len() >= cols));
    #[cfg(all(target_arch = "x86_64", feature = "avx512"))]
    if isa() == Isa::Avx512 {
        // SAFETY: `isa()` only says AVX-512 when this CPU has AVX-512F; the lengths were
        // checked above, and the tiled loop stays inside them.
        unsafe { avx512::transpose_add_bias(src, rows, cols, bias, out) };
        return;
    }
    transpose_add_bias_reference(src, rows, cols, bias, out);
}

/// The plain loop: one element at a time.
pub(crate) fn transpose_add_bias_reference(
    src: &[f32],
    rows: usize,
    cols: usize,
    bias: Option<&[f32]>,
    out: &mut [f32],
) {
    for c in 0..cols {
        let b = bias.map_or(0.0, |b| b[c]);
        for r in 0..rows {
            out[c * rows + r] = src[r * cols + c] + b;
        }
    }
}

#[cfg(all(target_arch = "x86_64", feature = "avx512"))]
mod avx512 {
    use std::arch::x86_64::*;

    /// Tiles of 16×16 in registers; the ragged right and bottom edges go through the plain
    /// loop of the reference, element by element.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn transpose_add_bias(
        src: &[f32],
        rows: usize,
        cols: usize,
        bias: Option<&[f32]>,
        out: &mut [f32],
    ) {
        let (full_r, full_c) = (rows / 16 * 16, cols / 16 * 16);
        for c0 in (0..full_c).step_by(16) {
            for r0 in (0..full_r).step_by(16) {
                let mut v = [_mm512_setzero_ps(); 16];
                for (i, v) in v.iter_mut().enumerate() {
                    // SAFETY: row r0 + i < rows, columns c0..c0 + 16 <= cols.
                    *v = unsafe { _mm512_loadu_ps(src.as_ptr().add((r0 + i) * cols + c0)) };
                }
                let t = transpose16(v);
                for (j, t) in t.iter().enumerate() {
                    let b = bias.map_or(0.0, |b| b[c0 + j]);
                    let row = _mm512_add_ps(*t, _mm512_set1_ps(b));
                    // SAFETY: output row c0 + j < cols, columns r0..r0 + 16 <= rows.
                    unsafe { _mm512_storeu_ps(out.as_mut_ptr().add((c0 + j) * rows + r0), row) };
                }
            }
        }
        // The edges: rows past the last full tile for every column, and columns past the
        // last full tile for the tiled rows.
        for c in 0..cols {
            let b = bias.map_or(0.0, |b| b[c]);
            let from = if c < full_c { full_r } else { 0 };
            for r in from..rows {
                out[c * rows + r] = src[r * cols + c] + b;
            }
        }
    }

    /// Transposes sixteen rows of sixteen floats: pairs of 32-bit values interleaved, then
    /// pairs of 64-bit values, then 128-bit lanes twice.
    #[inline(always)]
    unsafe fn transpose16(r: [__m512; 16]) -> [__m512; 16] {
        let mut t = [_mm512_setzero_ps(); 16];
        for i in 0..8 {
            t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
            t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
        }
        let mut u = [_mm512_setzero_ps(); 16];
        for q in 0..4 {
            let (a, b, c, d) = (t[4 * q], t[4 * q + 1], t[4 * q + 2], t[4 * q + 3]);
            let lo = |x: __m512, y: __m512| {
                _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(x), _mm512_castps_pd(y)))
            };
            let hi = |x: __m512, y: __m512| {
                _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(x), _mm512_castps_pd(y)))
            };
            u[4 * q] = lo(a, c);
            u[4 * q + 1] = hi(a, c);
            u[4 * q + 2] = lo(b, d);
            u[4 * q + 3] = hi(b, d);
        }
        // Now u[4q + j] holds, in each 128-bit lane l, column 4l + j of rows 4q..4q + 4.
        let mut w = [_mm512_setzero_ps(); 16];
        for j in 0..4 {
            w[j] = _mm512_shuffle_f32x4::<0x88>(u[j], u[4 + j]);
            w[4 + j] = _mm512_shuffle_f32x4::<0xdd>(u[j], u[4 + j]);
            w[8 + j] = _mm512_shuffle_f32x4::<0x88>(u[8 + j], u[12 + j]);
            w[12 + j] = _mm512_shuffle_f32x4::<0xdd>(u[8 + j], u[12 + j]);
        }
        let mut out = [_mm512_setzero_ps(); 16];
        for j in 0..4 {
            out[j] = _mm512_shuffle_f32x4::<0x88>(w[j], w[8 + j]);
            out[4 + j] = _mm512_shuffle_f32x4::<0x88>(w[4 + j], w[12 + j]);
            out[8 + j] = _mm512_shuffle_f32x4::<0xdd>(w[j], w[8 + j]);
            out[12 + j] = _mm512_shuffle_f32x4::<0xdd>(w[4 + j], w[12 + j]);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tiled_transpose_equals_the_plain_loop() {
        // Whole tiles, ragged edges on either side, and fewer than 16 of both.
        for (rows, cols) in [(16, 16), (196, 64), (784, 32), (33, 47), (5, 3), (16, 17)] {
            let src: Vec<f32> = (0..rows * cols).map(|i| i as f32 * 0.5 - 7.0).collect();
            let bias: Vec<f32> = (0..cols).map(|c| c as f32 * 0.25).collect();
            for b in [None, Some(&bias[..])] {
                let mut want = vec![f32::NAN; rows * cols];
                transpose_add_bias_reference(&src, rows, cols, b, &mut want);
                let mut got = vec![f32::NAN; rows * cols];
                transpose_add_bias(&src, rows, cols, b, &mut got);
                assert_eq!(got, want, "{rows}x{cols}, bias {}", b.is_some());
                // and by hand: element (r, c) lands at (c, r)
                let (r, c) = (rows - 1, cols / 2);
                let add = b.map_or(0.0, |b| b[c]);
                assert_eq!(got[c * rows + r], src[r * cols + c] + add);
            }
        }
    }
}
