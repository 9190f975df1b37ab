//! 2×2, stride-2 max pooling with explicit x86 vectors: sixteen (AVX-512) or eight (AVX2)
//! windows at a time. The portable kernel in `pool.rs` (`pool_plane_2x2`) is its twin and
//! the fallback; the test below checks that both give the same values and indices.
//!
//! Why by hand: the windows' columns interleave (window `ox` reads columns `2·ox` and
//! `2·ox + 1`), and the compiler does not turn that into vector code; the portable kernel
//! runs one window at a time. Here two row loads are split into their even and odd columns
//! with one permute each, and every choice between two candidates is a compare into a mask
//! and a blend, for the values and their indices alike. The rule is the portable one: the
//! later candidate wins only if it is larger, or NaN where the earlier is not, so the first
//! maximum and the first NaN are kept, as in PyTorch.

#![cfg(target_arch = "x86_64")]

use std::arch::x86_64::*;

/// Pools the `[h, w]` plane into `out`/`arg` (`[oh, ow]`, `oh = h / 2`, `ow = w / 2`), with
/// AVX-512.
///
/// # Safety
/// The CPU must have AVX-512F; `plane` must hold `2·oh` rows of `w`, and `out` and `arg`
/// `oh·ow` elements each (the caller's shapes; checked with `debug_assert`).
#[cfg(feature = "avx512")]
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn pool_plane_2x2_avx512(
    plane: &[f32],
    w: usize,
    ow: usize,
    out: &mut [f32],
    arg: &mut [u32],
) {
    let oh = out.len() / ow.max(1);
    debug_assert!(plane.len() >= 2 * oh * w && arg.len() == out.len() && 2 * ow <= w);
    let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    let odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    #[inline(always)]
    unsafe fn pick(a: (__m512, __m512i), b: (__m512, __m512i)) -> (__m512, __m512i) {
        let larger = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(b.0, a.0);
        let b_nan = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(b.0, b.0);
        let a_nan = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(a.0, a.0);
        let take = larger | (b_nan & !a_nan);
        (
            _mm512_mask_blend_ps(take, a.0, b.0),
            _mm512_mask_blend_epi32(take, a.1, b.1),
        )
    }
    for oy in 0..oh {
        let r0 = 2 * oy * w;
        for ox0 in (0..ow).step_by(16) {
            let lanes = (ow - ox0).min(16);
            // The 2·lanes input columns of these windows, in two loads per row; masked, so
            // nothing past the row's last window is read.
            let cols = 2 * lanes;
            let m_lo: __mmask16 = if cols >= 16 {
                0xffff
            } else {
                (1u16 << cols) - 1
            };
            let m_hi: __mmask16 = if cols >= 32 {
                0xffff
            } else if cols > 16 {
                (1u16 << (cols - 16)) - 1
            } else {
                0
            };
            // SAFETY: the masked lanes stay inside rows 2·oy and 2·oy + 1, which the
            // caller's shapes put inside `plane`.
            let load = |at: usize| unsafe {
                let p = plane.as_ptr().add(at);
                (
                    _mm512_maskz_loadu_ps(m_lo, p),
                    _mm512_maskz_loadu_ps(m_hi, p.add(16)),
                )
            };
            let (t_lo, t_hi) = load(r0 + 2 * ox0);
            let (b_lo, b_hi) = load(r0 + w + 2 * ox0);
            let base = _mm512_add_epi32(_mm512_set1_epi32((r0 + 2 * ox0) as i32), even);
            let one = _mm512_set1_epi32(1);
            let down = _mm512_set1_epi32(w as i32);
            let top_l = (_mm512_permutex2var_ps(t_lo, even, t_hi), base);
            let top_r = (
                _mm512_permutex2var_ps(t_lo, odd, t_hi),
                _mm512_add_epi32(base, one),
            );
            let bottom_base = _mm512_add_epi32(base, down);
            let bot_l = (_mm512_permutex2var_ps(b_lo, even, b_hi), bottom_base);
            let bot_r = (
                _mm512_permutex2var_ps(b_lo, odd, b_hi),
                _mm512_add_epi32(bottom_base, one),
            );
            let (v, at) = pick(pick(top_l, top_r), pick(bot_l, bot_r));
            let m_out: __mmask16 = if lanes >= 16 {
                0xffff
            } else {
                (1u16 << lanes) - 1
            };
            let o = oy * ow + ox0;
            // SAFETY: `lanes` outputs from `o` lie inside row `oy` of `out` and `arg`.
            unsafe {
                _mm512_mask_storeu_ps(out.as_mut_ptr().add(o), m_out, v);
                _mm512_mask_storeu_epi32(arg.as_mut_ptr().add(o).cast(), m_out, at);
            }
        }
    }
}

/// As [`pool_plane_2x2_avx512`], eight windows at a time with AVX2.
///
/// # Safety
/// The CPU must have AVX2; the shapes as for the AVX-512 version.
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn pool_plane_2x2_avx2(
    plane: &[f32],
    w: usize,
    ow: usize,
    out: &mut [f32],
    arg: &mut [u32],
) {
    let oh = out.len() / ow.max(1);
    debug_assert!(plane.len() >= 2 * oh * w && arg.len() == out.len() && 2 * ow <= w);
    // Even then odd columns of a 16-float pair of loads: within each 128-bit half,
    // `shuffle_ps` gathers the evens (0x88) or odds (0xdd) of both loads; the 64-bit permute
    // then puts the halves in column order.
    #[inline(always)]
    unsafe fn split(lo: __m256, hi: __m256) -> (__m256, __m256) {
        let e = _mm256_shuffle_ps::<0x88>(lo, hi);
        let o = _mm256_shuffle_ps::<0xdd>(lo, hi);
        let fix = |v: __m256| _mm256_castpd_ps(_mm256_permute4x64_pd::<0xd8>(_mm256_castps_pd(v)));
        (fix(e), fix(o))
    }
    #[inline(always)]
    unsafe fn pick(a: (__m256, __m256i), b: (__m256, __m256i)) -> (__m256, __m256i) {
        let larger = _mm256_cmp_ps::<_CMP_GT_OQ>(b.0, a.0);
        let b_nan = _mm256_cmp_ps::<_CMP_UNORD_Q>(b.0, b.0);
        let a_nan = _mm256_cmp_ps::<_CMP_UNORD_Q>(a.0, a.0);
        let take = _mm256_or_ps(larger, _mm256_andnot_ps(a_nan, b_nan));
        (
            _mm256_blendv_ps(a.0, b.0, take),
            _mm256_castps_si256(_mm256_blendv_ps(
                _mm256_castsi256_ps(a.1),
                _mm256_castsi256_ps(b.1),
                take,
            )),
        )
    }
    // Lane i of a mask is on when i < n.
    let mask = |n: usize| {
        let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        _mm256_cmpgt_epi32(_mm256_set1_epi32(n as i32), lane)
    };
    let lanes8 = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
    let mut vals = [0.0f32; 8];
    let mut idxs = [0u32; 8];
    for oy in 0..oh {
        let r0 = 2 * oy * w;
        for ox0 in (0..ow).step_by(8) {
            let lanes = (ow - ox0).min(8);
            let cols = 2 * lanes;
            let (m_lo, m_hi) = (mask(cols.min(8)), mask(cols.saturating_sub(8)));
            // SAFETY: the masked lanes stay inside rows 2·oy and 2·oy + 1.
            let load = |at: usize| unsafe {
                let p = plane.as_ptr().add(at);
                (
                    _mm256_maskload_ps(p, m_lo),
                    _mm256_maskload_ps(p.add(8), m_hi),
                )
            };
            let (t_e, t_o) = {
                let (lo, hi) = load(r0 + 2 * ox0);
                split(lo, hi)
            };
            let (b_e, b_o) = {
                let (lo, hi) = load(r0 + w + 2 * ox0);
                split(lo, hi)
            };
            let base = _mm256_add_epi32(_mm256_set1_epi32((r0 + 2 * ox0) as i32), lanes8);
            let one = _mm256_set1_epi32(1);
            let bottom = _mm256_add_epi32(base, _mm256_set1_epi32(w as i32));
            let upper = pick((t_e, base), (t_o, _mm256_add_epi32(base, one)));
            let lower = pick((b_e, bottom), (b_o, _mm256_add_epi32(bottom, one)));
            let (v, at) = pick(upper, lower);
            let o = oy * ow + ox0;
            if lanes == 8 {
                // SAFETY: eight outputs from `o` lie inside row `oy`.
                unsafe {
                    _mm256_storeu_ps(out.as_mut_ptr().add(o), v);
                    _mm256_storeu_si256(arg.as_mut_ptr().add(o).cast(), at);
                }
            } else {
                _mm256_storeu_ps(vals.as_mut_ptr(), v);
                _mm256_storeu_si256(idxs.as_mut_ptr().cast(), at);
                out[o..o + lanes].copy_from_slice(&vals[..lanes]);
                arg[o..o + lanes].copy_from_slice(&idxs[..lanes]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::pool::pool_plane_2x2;

    /// Planes with ties, NaNs, infinities and signed zeros, at widths that leave a ragged
    /// last block and an odd last column or row.
    #[test]
    fn the_vector_kernels_pick_the_same_values_and_indices_as_the_portable_one() {
        let levels = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            2.0,
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
        ];
        for (h, w) in [
            (28, 28),
            (14, 14),
            (7, 7),
            (4, 34),
            (2, 2),
            (5, 67),
            (3, 17),
        ] {
            let (oh, ow) = (h / 2, w / 2);
            let plane: Vec<f32> = (0..h * w)
                .map(|i| levels[(i * 7 + i / 3) % levels.len()])
                .collect();
            // Ties everywhere as well: only three levels.
            let tied: Vec<f32> = (0..h * w).map(|i| ((i * 5) % 3) as f32).collect();
            for plane in [&plane, &tied] {
                let (mut want, mut want_at) = (vec![0.0; oh * ow], vec![0; oh * ow]);
                pool_plane_2x2(plane, w, ow, &mut want, &mut want_at);
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                if std::arch::is_x86_feature_detected!("avx2") {
                    let (mut got, mut at) = (vec![9.0; oh * ow], vec![9; oh * ow]);
                    // SAFETY: the CPU has AVX2, and the shapes are the kernel's.
                    unsafe { pool_plane_2x2_avx2(plane, w, ow, &mut got, &mut at) };
                    assert_eq!(bits(&got), bits(&want), "avx2 {h}x{w}");
                    assert_eq!(at, want_at, "avx2 {h}x{w}");
                }
                #[cfg(feature = "avx512")]
                if std::arch::is_x86_feature_detected!("avx512f") {
                    let (mut got, mut at) = (vec![9.0; oh * ow], vec![9; oh * ow]);
                    // SAFETY: the CPU has AVX-512F, and the shapes are the kernel's.
                    unsafe { pool_plane_2x2_avx512(plane, w, ow, &mut got, &mut at) };
                    assert_eq!(bits(&got), bits(&want), "avx512 {h}x{w}");
                    assert_eq!(at, want_at, "avx512 {h}x{w}");
                }
            }
        }
        // By hand: one window [1, NaN; 3, 3] keeps the NaN (index 1); [2, 2; 2, 5] takes 5.
        let plane = [1.0, f32::NAN, 2.0, 2.0, 3.0, 3.0, 2.0, 5.0];
        let (mut v, mut at) = ([0.0; 2], [0; 2]);
        pool_plane_2x2(&plane, 4, 2, &mut v, &mut at);
        assert!(v[0].is_nan() && at[0] == 1 && v[1] == 5.0 && at[1] == 7);
    }
}
