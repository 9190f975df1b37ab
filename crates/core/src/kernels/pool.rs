//! The fast twins of max pooling's reference kernels (`ops/pool.rs`), for `max_pool2d` and
//! `relu_max_pool2d`: planes split across threads, the window maximum chosen without
//! data-dependent branches, and a backward pass that zeroes each plane and scatters into
//! it while it is in cache. The 2×2 windows take hand-written x86 vectors where the CPU has
//! them (`pool_x86.rs`); `pool_plane_2x2` here is their portable twin.

use rayon::prelude::*;

use super::{buffers, vectorized};

/// Max-pools `[planes, h, w]` into `[planes, oh, ow]`, returning the values and, for each,
/// the index inside its plane where the maximum was.
#[allow(clippy::too_many_arguments)] // the pooling geometry
pub(crate) fn max_pool2d(
    x: &[f32],
    planes: usize,
    h: usize,
    w: usize,
    kernel: usize,
    stride: usize,
    oh: usize,
    ow: usize,
) -> (Vec<f32>, Vec<u32>) {
    let (out, argmax, _) = pool(x, planes, h, w, kernel, stride, oh, ow, false);
    (out, argmax)
}

/// `max_pool2d`, then ReLU on the pooled values, and whether each was above 0 (the windows
/// that pass a gradient back), done while each plane's output is still in cache.
#[allow(clippy::too_many_arguments)] // the pooling geometry
pub(crate) fn relu_max_pool2d(
    x: &[f32],
    planes: usize,
    h: usize,
    w: usize,
    kernel: usize,
    stride: usize,
    oh: usize,
    ow: usize,
) -> (Vec<f32>, Vec<u32>, Vec<bool>) {
    pool(x, planes, h, w, kernel, stride, oh, ow, true)
}

/// Both forward kernels; `passes` stays empty without `relu`.
#[allow(clippy::too_many_arguments)] // the pooling geometry
fn pool(
    x: &[f32],
    planes: usize,
    h: usize,
    w: usize,
    kernel: usize,
    stride: usize,
    oh: usize,
    ow: usize,
    relu: bool,
) -> (Vec<f32>, Vec<u32>, Vec<bool>) {
    let n = planes * oh * ow;
    let mut out = buffers::take(n);
    let mut argmax = vec![0u32; n];
    let mut passes = vec![false; if relu { n } else { 0 }];
    if out.is_empty() {
        return (out, argmax, passes);
    }
    let one_plane =
        |plane: &[f32], out: &mut [f32], arg: &mut [u32], passes: Option<&mut [bool]>| {
            vectorized(
                #[inline(always)]
                || {
                    pool_plane(plane, w, kernel, stride, ow, out, arg);
                    if let Some(passes) = passes {
                        relu_in_place(out, passes);
                    }
                },
            )
        };
    super::parallel(|| {
        let planes = out
            .par_chunks_mut(oh * ow)
            .zip(argmax.par_chunks_mut(oh * ow))
            .zip(x.par_chunks(h * w));
        if relu {
            planes
                .zip(passes.par_chunks_mut(oh * ow))
                .for_each(|(((out, arg), plane), passes)| one_plane(plane, out, arg, Some(passes)))
        } else {
            planes.for_each(|((out, arg), plane)| one_plane(plane, out, arg, None))
        }
    });
    (out, argmax, passes)
}

/// Max-pools one `[h, w]` plane into `out` (`[oh, ow]`), recording each maximum's index.
///
/// The selection is written without data-dependent branches: on real activations "is this
/// the new maximum?" is a coin flip, and a mispredicted branch per element made this op
/// 7x slower than it is now. A NaN wins (so it propagates), and among equal values the
/// first wins, both as in PyTorch.
#[inline(always)] // into the vectorized wrapper that calls it
pub(super) fn pool_plane(
    plane: &[f32],
    w: usize,
    kernel: usize,
    stride: usize,
    ow: usize,
    out: &mut [f32],
    arg: &mut [u32],
) {
    if kernel == 2 && stride == 2 {
        // The common case, with vectors by hand where the CPU has them (`pool_x86.rs`).
        #[cfg(target_arch = "x86_64")]
        match super::isa() {
            // SAFETY: `isa()` only names instruction sets this CPU has; the shapes are the
            // op's (`oh = h / 2` rows of `ow = w / 2` windows).
            #[cfg(feature = "avx512")]
            super::Isa::Avx512 => {
                return unsafe { super::pool_x86::pool_plane_2x2_avx512(plane, w, ow, out, arg) }
            }
            super::Isa::Avx2 => {
                return unsafe { super::pool_x86::pool_plane_2x2_avx2(plane, w, ow, out, arg) }
            }
            _ => {}
        }
        return pool_plane_2x2(plane, w, ow, out, arg);
    }
    for (oy, (out_row, arg_row)) in out.chunks_mut(ow).zip(arg.chunks_mut(ow)).enumerate() {
        for (ox, (o, a)) in out_row.iter_mut().zip(arg_row.iter_mut()).enumerate() {
            let mut best = f32::NEG_INFINITY;
            let mut at = (oy * stride) * w + ox * stride;
            let mut seen_nan = false;
            for i in 0..kernel {
                let row = (oy * stride + i) * w + ox * stride;
                for (j, &v) in plane[row..row + kernel].iter().enumerate() {
                    let take = (v > best) & !seen_nan | (v.is_nan() & !seen_nan);
                    seen_nan |= v.is_nan();
                    best = if take { v } else { best };
                    at = if take { row + j } else { at };
                }
            }
            *o = best;
            *a = at as u32;
        }
    }
}

/// The common 2x2, stride-2 case, unrolled so that the compiler turns every choice into a
/// select instruction.
#[inline(always)]
pub(crate) fn pool_plane_2x2(plane: &[f32], w: usize, ow: usize, out: &mut [f32], arg: &mut [u32]) {
    // Picks the larger of two (value, index) pairs; `b` must beat `a` strictly (or be NaN
    // where `a` is not) to win, so the first maximum is kept.
    #[inline(always)]
    fn pick(a: (f32, u32), b: (f32, u32)) -> (f32, u32) {
        let take = (b.0 > a.0) | (b.0.is_nan() & !a.0.is_nan());
        // Select with a bit mask: an `if` here may compile to a branch, mispredicted on
        // half the windows.
        let m = (take as u32).wrapping_neg();
        let v = f32::from_bits((b.0.to_bits() & m) | (a.0.to_bits() & !m));
        (v, (b.1 & m) | (a.1 & !m))
    }
    for (oy, (out_row, arg_row)) in out.chunks_mut(ow).zip(arg.chunks_mut(ow)).enumerate() {
        let r0 = 2 * oy * w;
        let (top, bottom) = (&plane[r0..r0 + 2 * ow], &plane[r0 + w..r0 + w + 2 * ow]);
        for ox in 0..ow {
            let i = (r0 + 2 * ox) as u32;
            let upper = pick((top[2 * ox], i), (top[2 * ox + 1], i + 1));
            let lower = pick(
                (bottom[2 * ox], i + w as u32),
                (bottom[2 * ox + 1], i + w as u32 + 1),
            );
            let (v, at) = pick(upper, lower);
            out_row[ox] = v;
            arg_row[ox] = at;
        }
    }
}

/// `Tensor::relu`'s rule, NaN kept, as a bit mask so that the loop has no branch and
/// vectorises; `passes` notes which values were above 0.
#[inline(always)]
pub(super) fn relu_in_place(v: &mut [f32], passes: &mut [bool]) {
    for (v, pass) in v.iter_mut().zip(passes) {
        let keep = (*v > 0.0) | v.is_nan();
        *v = f32::from_bits(v.to_bits() & (keep as u32).wrapping_neg());
        *pass = *v > 0.0;
    }
}

/// Sends each output gradient back to the input element that was its window's maximum,
/// where `passes` (if given) allows it; every other element of `gx` is 0.
///
/// Each thread zeroes a plane and scatters into it at once, while the plane is in cache:
/// one trip through memory, where zeroing the whole buffer first and then scattering made
/// two (and was measured 1.5-2x slower for the mnist CNN's planes). A write-every-element-
/// once select (`gx[i] = g` if `i` is its window's argmax, else 0) was slower still: it
/// compares every element, where the scatter touches a quarter of them. A closed window
/// adds +0.0 instead of being skipped, so that no branch depends on the data; that leaves
/// the sums' bits as the reference's (a sum that starts at +0.0 never becomes -0.0).
pub(crate) fn max_pool2d_backward(
    g: &[f32],
    argmax: &[u32],
    passes: Option<&[bool]>,
    plane: usize,
    out_plane: usize,
    len: usize,
) -> Vec<f32> {
    if len == 0 || out_plane == 0 {
        return buffers::zeroed(len);
    }
    let mut gx = buffers::take(len);
    super::parallel(|| {
        gx.par_chunks_mut(plane)
            .zip(g.par_chunks(out_plane).zip(argmax.par_chunks(out_plane)))
            .enumerate()
            .for_each(|(p, (dx, (g, arg)))| {
                let passes = passes.map(|m| &m[p * out_plane..(p + 1) * out_plane]);
                vectorized(
                    #[inline(always)]
                    || scatter_plane(dx, g, arg, passes),
                )
            })
    });
    gx
}

/// One plane of `max_pool2d_backward`: zeroes `dx` and adds each `g[i]` at `arg[i]` where
/// `passes` allows it (+0.0 elsewhere, see above). `bn_relu_pool.rs` rebuilds BatchNorm's
/// output gradient plane by plane with it, so that its bits are these.
#[inline(always)]
pub(super) fn scatter_plane(dx: &mut [f32], g: &[f32], arg: &[u32], passes: Option<&[bool]>) {
    dx.fill(0.0);
    for (i, (&g, &a)) in g.iter().zip(arg).enumerate() {
        let open = passes.is_none_or(|p| p[i]);
        let g = f32::from_bits(g.to_bits() & (open as u32).wrapping_neg());
        dx[a as usize] += g;
    }
}
