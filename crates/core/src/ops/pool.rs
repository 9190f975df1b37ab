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
        let mut out = vec![0.0; planes * oh * ow];
        let mut argmax = vec![0u32; planes * oh * ow];
        {
            let x = self.data();
            out.par_chunks_mut(oh * ow)
                .zip(argmax.par_chunks_mut(oh * ow))
                .zip(x.par_chunks(h * w))
                .for_each(|((out, arg), plane)| {
                    for oy in 0..oh {
                        for ox in 0..ow {
                            let mut best = f32::NEG_INFINITY;
                            let mut at = (oy * stride) * w + ox * stride;
                            for i in 0..kernel {
                                let row = (oy * stride + i) * w + ox * stride;
                                for (j, &v) in plane[row..row + kernel].iter().enumerate() {
                                    if v > best || v.is_nan() {
                                        best = v;
                                        at = row + j;
                                    }
                                }
                            }
                            out[oy * ow + ox] = best;
                            arg[oy * ow + ox] = at as u32;
                        }
                    }
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

/// Sends each output gradient back to the input element that was the window's maximum.
pub(crate) fn max_pool2d_backward(grad: &Tensor, input_shape: &[usize], argmax: &[u32]) -> Tensor {
    let plane = input_shape[2] * input_shape[3];
    let out_plane = grad.shape()[2] * grad.shape()[3];
    let gd = grad.data();
    let mut gx = vec![0.0; input_shape.iter().product()];
    gx.par_chunks_mut(plane)
        .zip(gd.par_chunks(out_plane).zip(argmax.par_chunks(out_plane)))
        .for_each(|(dx, (g, arg))| {
            for (&g, &a) in g.iter().zip(arg) {
                dx[a as usize] += g;
            }
        });
    Tensor::constant(gx, input_shape.to_vec())
}
