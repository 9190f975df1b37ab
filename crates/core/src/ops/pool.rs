//! 2-d max pooling. The forward pass remembers where each window's maximum was, so the
//! backward pass routes each gradient to exactly that input element (the others get 0).
//! The reference kernels are the plain loops below; the fast twins (`kernels/pool.rs`)
//! split planes across threads and pick maxima without branches.

use crate::kernels;
use crate::op::Op;
use crate::Tensor;

impl Tensor {
    /// Max pooling over `kernel × kernel` windows moved by `stride`, on `[N, C, H, W]`
    /// (no padding, floor rounding, as PyTorch's defaults). When a window holds equal
    /// maxima, the first one wins, and a NaN wins over any number, as in PyTorch.
    ///
    /// # Panics
    /// If the input is not 4-d, or the window is larger than the input.
    ///
    /// ```
    /// use kindling::Tensor;
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
        let (out, argmax) = {
            let x = self.read();
            if kernels::fast() {
                kernels::pool::max_pool2d(&x, planes, h, w, kernel, stride, oh, ow)
            } else {
                max_pool2d_reference(&x, planes, h, w, kernel, stride, oh, ow)
            }
        };
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

/// Reference: for every window, scan its values, keeping the first maximum (or the first
/// NaN), and note where it was inside the plane.
#[allow(clippy::too_many_arguments)] // the pooling geometry
pub(crate) fn max_pool2d_reference(
    x: &[f32],
    planes: usize,
    h: usize,
    w: usize,
    kernel: usize,
    stride: usize,
    oh: usize,
    ow: usize,
) -> (Vec<f32>, Vec<u32>) {
    let mut out = Vec::with_capacity(planes * oh * ow);
    let mut argmax = Vec::with_capacity(planes * oh * ow);
    for plane in x.chunks(h * w).take(planes) {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut at = oy * stride * w + ox * stride;
                for i in 0..kernel {
                    for j in 0..kernel {
                        let p = (oy * stride + i) * w + ox * stride + j;
                        let (v, best) = (plane[p], plane[at]);
                        if !best.is_nan() && (v > best || v.is_nan()) {
                            at = p;
                        }
                    }
                }
                out.push(plane[at]);
                argmax.push(at as u32);
            }
        }
    }
    (out, argmax)
}

/// Sends each output gradient back to the input element that was the window's maximum.
pub(crate) fn max_pool2d_backward(grad: &Tensor, input_shape: &[usize], argmax: &[u32]) -> Tensor {
    let plane = input_shape[2] * input_shape[3];
    let out_plane = grad.shape()[2] * grad.shape()[3];
    let len = input_shape.iter().product();
    let gd = grad.read();
    let gx = if kernels::fast() {
        kernels::pool::max_pool2d_backward(&gd, argmax, plane, out_plane, len)
    } else {
        let mut gx = vec![0.0; len];
        for (i, (&g, &at)) in gd.iter().zip(argmax).enumerate() {
            gx[(i / out_plane) * plane + at as usize] += g;
        }
        gx
    };
    Tensor::constant(gx, input_shape.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_and_reference_pooling_agree_on_ties_and_nans() {
        let (planes, h, w) = (3, 7, 6);
        let mut x: Vec<f32> = (0..planes * h * w).map(|i| ((i * 5) % 7) as f32).collect();
        x[3] = f32::NAN;
        x[50] = f32::NAN;
        for (kernel, stride) in [(2, 2), (3, 1), (3, 2), (1, 1)] {
            let (oh, ow) = ((h - kernel) / stride + 1, (w - kernel) / stride + 1);
            let (fv, fa) = kernels::pool::max_pool2d(&x, planes, h, w, kernel, stride, oh, ow);
            let (rv, ra) = max_pool2d_reference(&x, planes, h, w, kernel, stride, oh, ow);
            assert_eq!(fa, ra, "kernel {kernel} stride {stride}");
            let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&fv), bits(&rv));
            let g: Vec<f32> = (0..fv.len()).map(|i| i as f32 * 0.5).collect();
            let mut want = vec![0.0; x.len()];
            for (i, &a) in ra.iter().enumerate() {
                want[(i / (oh * ow)) * h * w + a as usize] += g[i];
            }
            let fast = kernels::pool::max_pool2d_backward(&g, &fa, h * w, oh * ow, x.len());
            assert_eq!(fast, want);
        }
    }
}
