//! 2-d max pooling. The forward pass remembers where each window's maximum was, so the
//! backward pass routes each gradient to exactly that input element (the others get 0).

use rayon::prelude::*;

use crate::op::Op;
use crate::Tensor;

impl Tensor {
    /// Max pooling over `kernel × kernel` windows moved by `stride`, on `[N, C, H, W]`
    /// (no padding, floor rounding, as PyTorch's defaults). When a window holds equal
    /// maxima, the first one wins, as in PyTorch.
    ///
    /// # Panics
    /// If the input is not 4-d, or the window is larger than the input.
    ///
    /// ```
    /// use kindling_core::Tensor;
    /// let x = Tensor::from_vec((0..16).map(|v| v as f32).collect(), &[1, 1, 4, 4]);
    /// assert_eq!(x.max_pool2d(2, 2).to_vec(), vec![5.0, 7.0, 13.0, 15.0]);
    /// ```
    pub fn max_pool2d(&self, kernel: usize, stride: usize) -> Tensor {
        let _timer = crate::profile::scope("MaxPool2d", "forward");
        let s = self.shape();
        assert!(
            s.len() == 4,
            "max_pool2d: expects an input [N, C, H, W], got shape {s:?}"
        );
        assert!(
            kernel >= 1 && stride >= 1,
            "max_pool2d: kernel ({kernel}) and stride ({stride}) must be at least 1"
        );
        let (planes, h, w) = (s[0] * s[1], s[2], s[3]);
        assert!(
            kernel <= h && kernel <= w,
            "max_pool2d: kernel {kernel} is larger than the input plane {h}x{w} (shape {s:?})"
        );
        let (oh, ow) = ((h - kernel) / stride + 1, (w - kernel) / stride + 1);
        let mut out = crate::buffers::take(planes * oh * ow);
        let mut argmax = vec![0u32; planes * oh * ow];
        {
            let x = self.data();
            out.par_chunks_mut(oh * ow)
                .zip(argmax.par_chunks_mut(oh * ow))
                .zip(x.par_chunks(h * w))
                .for_each(|((out, arg), plane)| {
                    crate::kernels::vectorized(
                        #[inline(always)]
                        || pool_plane(plane, w, kernel, stride, ow, out, arg),
                    )
                });
        }
        Tensor::from_op(
            out,
            vec![s[0], s[1], oh, ow],
            Op::MaxPool2d {
                x: self.clone(),
                argmax,
            },
        )
    }
}

/// Max-pools one `[h, w]` plane into `out` (`[oh, ow]`), recording each maximum's index.
///
/// The selection is written without data-dependent branches: on real activations "is this
/// the new maximum?" is a coin flip, and a mispredicted branch per element made this op
/// 7x slower than it is now. A NaN wins (so it propagates), and among equal values the
/// first wins, both as in PyTorch.
#[inline(always)] // into the vectorized wrapper that calls it
fn pool_plane(
    plane: &[f32],
    w: usize,
    kernel: usize,
    stride: usize,
    ow: usize,
    out: &mut [f32],
    arg: &mut [u32],
) {
    if kernel == 2 && stride == 2 {
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
fn pool_plane_2x2(plane: &[f32], w: usize, ow: usize, out: &mut [f32], arg: &mut [u32]) {
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

/// Sends each output gradient back to the input element that was the window's maximum.
pub(crate) fn max_pool2d_backward(grad: &Tensor, input_shape: &[usize], argmax: &[u32]) -> Tensor {
    let plane = input_shape[2] * input_shape[3];
    let out_plane = grad.shape()[2] * grad.shape()[3];
    let gd = grad.data();
    let mut gx = crate::buffers::zeroed(input_shape.iter().product());
    gx.par_chunks_mut(plane)
        .zip(gd.par_chunks(out_plane).zip(argmax.par_chunks(out_plane)))
        .for_each(|(dx, (g, arg))| {
            crate::kernels::vectorized(
                #[inline(always)]
                || {
                    for (&g, &a) in g.iter().zip(arg) {
                        dx[a as usize] += g;
                    }
                },
            )
        });
    Tensor::constant(gx, input_shape.to_vec())
}
