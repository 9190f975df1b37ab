//! 2-d pooling on `[N, C, H, W]`: max, average and adaptive average.
//!
//! Max pooling remembers where each window's maximum was, so the backward pass routes each
//! gradient to exactly that input element (the others get 0). Its reference kernels are
//! the plain loops below; the fast twins (`kernels/pool.rs`) split planes across threads
//! and pick maxima without branches.
//!
//! `relu_max_pool2d` is ReLU then max pooling in one op: since ReLU commutes with max, it
//! pools the input as it is and applies ReLU to the pooled values only, a quarter of them
//! for 2x2 windows, and never makes the ReLU's full-size output.
//!
//! Average pooling needs nothing saved: every element of a window contributed 1/(window
//! size) of the output, so the backward pass spreads each output gradient evenly back over
//! its window. Adaptive average pooling is the same with windows chosen from the sizes,
//! which may overlap. Both are plain loops only, summing in f32 in the order PyTorch's CPU
//! kernel does, so that the outputs agree to the bit (all but a 1×1 adaptive output, which
//! PyTorch computes as a `mean` with a summation order of its own).

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
        let (planes, h, w, oh, ow) = max_pool_geometry("max_pool2d", self.shape(), kernel, stride);
        let (out, argmax) = {
            let x = self.read();
            if kernels::fast() {
                kernels::pool::max_pool2d(&x, planes, h, w, kernel, stride, oh, ow)
            } else {
                max_pool2d_reference(&x, planes, h, w, kernel, stride, oh, ow)
            }
        };
        let s = self.shape();
        Tensor::from_op(
            out,
            vec![s[0], s[1], oh, ow],
            Op::MaxPool2d {
                x: self.clone(),
                argmax,
            },
        )
    }

    /// ReLU followed by max pooling, as one op: equal to
    /// `self.relu().max_pool2d(kernel, stride)` bit for bit, in the output and in the
    /// gradient, but without making the ReLU's full-size output or walking it twice.
    ///
    /// Why the two orders agree: ReLU is non-decreasing, so it commutes with max, and
    /// `relu(max(window)) = max(relu(window))`. A NaN wins the max and passes through ReLU
    /// in both orders (the same NaN: the first in the window). The gradient reaches the
    /// window's maximum only where that maximum is above 0; a window whose maximum is 0,
    /// negative or NaN passes no gradient in either order (ReLU's slope there is 0). So the
    /// pooling runs on the input before the ReLU, keeps where each maximum was, and applies
    /// ReLU to the pooled values only. `nn::Sequential` calls this for a `ReLU` next to a
    /// `MaxPool2d`.
    ///
    /// # Panics
    /// As [`Tensor::max_pool2d`]: if the input is not 4-d, the kernel or stride is 0, or
    /// the window is larger than the input plane.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let x = Tensor::from_vec(vec![-1.0, 2.0, -3.0, -4.0, 5.0, -6.0, -7.0, -8.0], &[1, 1, 2, 4])
    ///     .requires_grad(true);
    /// let y = x.relu_max_pool2d(2, 2);
    /// assert_eq!(y.to_vec(), vec![5.0, 0.0]); // the right window is all negative
    /// assert_eq!(y.to_vec(), x.relu().max_pool2d(2, 2).to_vec());
    /// y.sum().backward();
    /// // Only the maximum of the left window gets a gradient.
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]);
    /// ```
    pub fn relu_max_pool2d(&self, kernel: usize, stride: usize) -> Tensor {
        let (planes, h, w, oh, ow) =
            max_pool_geometry("relu_max_pool2d", self.shape(), kernel, stride);
        // `passes`: which windows' maxima were above 0, the only ones through which ReLU
        // lets a gradient back. Saved instead of the input, whose values backward does not
        // need.
        let (out, argmax, passes) = {
            let x = self.read();
            if kernels::fast() {
                kernels::pool::relu_max_pool2d(&x, planes, h, w, kernel, stride, oh, ow)
            } else {
                relu_max_pool2d_reference(&x, planes, h, w, kernel, stride, oh, ow)
            }
        };
        let s = self.shape();
        Tensor::from_op(
            out,
            vec![s[0], s[1], oh, ow],
            Op::ReluMaxPool2d {
                x: self.clone(),
                argmax,
                passes,
            },
        )
    }

    /// Average pooling over `kernel × kernel` windows moved by `stride`, on `[N, C, H, W]`
    /// (no padding, floor rounding, as PyTorch's `F.avg_pool2d` defaults). Each output is
    /// the mean of its window.
    ///
    /// # Panics
    /// If the input is not 4-d, the kernel or stride is 0, or the window is larger than the
    /// input plane.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let x = Tensor::from_vec((0..16).map(|v| v as f32).collect(), &[1, 1, 4, 4]);
    /// // The top-left window holds 0, 1, 4, 5: mean 2.5.
    /// assert_eq!(x.avg_pool2d(2, 2).to_vec(), vec![2.5, 4.5, 10.5, 12.5]);
    /// ```
    pub fn avg_pool2d(&self, kernel: usize, stride: usize) -> Tensor {
        let s = self.shape();
        assert!(
            s.len() == 4,
            "avg_pool2d: expects an input [N, C, H, W], got shape {s:?}"
        );
        assert!(
            kernel >= 1 && stride >= 1,
            "avg_pool2d: kernel ({kernel}) and stride ({stride}) must be at least 1"
        );
        let (h, w) = (s[2], s[3]);
        assert!(
            kernel <= h && kernel <= w,
            "avg_pool2d: kernel {kernel} is larger than the input plane {h}x{w} (shape {s:?})"
        );
        let (oh, ow) = ((h - kernel) / stride + 1, (w - kernel) / stride + 1);
        let rows = fixed_windows(oh, kernel, stride);
        let cols = fixed_windows(ow, kernel, stride);
        let out = avg_pool_windows(&self.read(), h, w, &rows, &cols, |sum, _, _| {
            sum / (kernel * kernel) as f32
        });
        Tensor::from_op(
            out,
            vec![s[0], s[1], oh, ow],
            Op::AvgPool2d {
                x: self.clone(),
                kernel,
                stride,
            },
        )
    }

    /// Adaptive average pooling to an `output_size × output_size` plane, on `[N, C, H, W]`
    /// (PyTorch's `F.adaptive_avg_pool2d` with a square size). The windows are chosen from
    /// the sizes: along a side of length `L`, output `i` of `n` averages input rows
    /// `floor(i·L/n) .. ceil((i+1)·L/n)`. When `n` does not divide `L` neighbouring windows
    /// overlap (7 → 3 gives rows 0..3, 2..5, 4..7), and `n` may exceed `L` (3 → 5 repeats
    /// rows). An `output_size` of 1 is the global average pool of a CNN's head.
    ///
    /// # Panics
    /// If the input is not 4-d, its plane is empty, or `output_size` is 0.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let x = Tensor::from_vec((0..16).map(|v| v as f32).collect(), &[1, 1, 4, 4]);
    /// assert_eq!(x.adaptive_avg_pool2d(1).to_vec(), vec![7.5]);
    /// assert_eq!(x.adaptive_avg_pool2d(2).to_vec(), x.avg_pool2d(2, 2).to_vec());
    /// ```
    pub fn adaptive_avg_pool2d(&self, output_size: usize) -> Tensor {
        let s = self.shape();
        assert!(
            s.len() == 4,
            "adaptive_avg_pool2d: expects an input [N, C, H, W], got shape {s:?}"
        );
        assert!(
            output_size >= 1,
            "adaptive_avg_pool2d: output_size must be at least 1, got 0 (input shape {s:?})"
        );
        let (h, w) = (s[2], s[3]);
        assert!(
            h >= 1 && w >= 1,
            "adaptive_avg_pool2d: the input plane {h}x{w} is empty (shape {s:?})"
        );
        let rows = adaptive_windows(output_size, h);
        let cols = adaptive_windows(output_size, w);
        // PyTorch divides by the window's height, then by its width: the same bits here.
        let out = avg_pool_windows(&self.read(), h, w, &rows, &cols, |sum, kh, kw| {
            sum / kh as f32 / kw as f32
        });
        Tensor::from_op(
            out,
            vec![s[0], s[1], output_size, output_size],
            Op::AdaptiveAvgPool2d {
                x: self.clone(),
                output_size,
            },
        )
    }
}

/// The input range `start..end` each output index reads along one side, for fixed windows.
fn fixed_windows(outputs: usize, kernel: usize, stride: usize) -> Vec<(usize, usize)> {
    (0..outputs)
        .map(|i| (i * stride, i * stride + kernel))
        .collect()
}

/// PyTorch's adaptive windows along one side of length `len`: output `i` of `n` reads
/// `floor(i·len/n) .. ceil((i+1)·len/n)`. Every input index is in at least one window.
fn adaptive_windows(n: usize, len: usize) -> Vec<(usize, usize)> {
    (0..n)
        .map(|i| ((i * len) / n, ((i + 1) * len).div_ceil(n)))
        .collect()
}

/// The forward pass of both average pools: for every plane and every pair of windows
/// (`rows[oy]`, `cols[ox]`), the f32 sum of the window in row-major order, turned into the
/// output by `finish(sum, window height, window width)`.
fn avg_pool_windows(
    x: &[f32],
    h: usize,
    w: usize,
    rows: &[(usize, usize)],
    cols: &[(usize, usize)],
    finish: impl Fn(f32, usize, usize) -> f32,
) -> Vec<f32> {
    let mut out = Vec::with_capacity(x.len() / (h * w) * rows.len() * cols.len());
    for plane in x.chunks(h * w) {
        for &(y0, y1) in rows {
            for &(x0, x1) in cols {
                let mut sum = 0.0f32;
                for y in y0..y1 {
                    for v in &plane[y * w + x0..y * w + x1] {
                        sum += v;
                    }
                }
                out.push(finish(sum, y1 - y0, x1 - x0));
            }
        }
    }
    out
}

/// The backward pass of both average pools: output element (oy, ox) was `share` (1/window
/// size) times the sum of its window, so each element of that window receives
/// `share · grad`. Overlapping windows add up their shares.
fn avg_pool_windows_backward(
    grad: &Tensor,
    input_shape: &[usize],
    rows: &[(usize, usize)],
    cols: &[(usize, usize)],
    share: impl Fn(f32, usize, usize) -> f32,
) -> Tensor {
    let (h, w) = (input_shape[2], input_shape[3]);
    let mut gx = vec![0.0f32; input_shape.iter().product()];
    let g = grad.read();
    let mut g = g.iter();
    for plane in gx.chunks_mut(h * w) {
        for &(y0, y1) in rows {
            for &(x0, x1) in cols {
                let each = share(*g.next().unwrap(), y1 - y0, x1 - x0);
                for y in y0..y1 {
                    for v in &mut plane[y * w + x0..y * w + x1] {
                        *v += each;
                    }
                }
            }
        }
    }
    Tensor::constant(gx, input_shape.to_vec())
}

/// `avg_pool2d`'s backward: each output gradient, divided by kernel², to every element of
/// its window.
pub(crate) fn avg_pool2d_backward(
    grad: &Tensor,
    input_shape: &[usize],
    kernel: usize,
    stride: usize,
) -> Tensor {
    let (oh, ow) = (grad.shape()[2], grad.shape()[3]);
    let rows = fixed_windows(oh, kernel, stride);
    let cols = fixed_windows(ow, kernel, stride);
    avg_pool_windows_backward(grad, input_shape, &rows, &cols, |g, _, _| {
        g / (kernel * kernel) as f32
    })
}

/// `adaptive_avg_pool2d`'s backward: each output gradient, divided by its window's size,
/// to every element of the window; where windows overlap the shares add up.
pub(crate) fn adaptive_avg_pool2d_backward(
    grad: &Tensor,
    input_shape: &[usize],
    output_size: usize,
) -> Tensor {
    let rows = adaptive_windows(output_size, input_shape[2]);
    let cols = adaptive_windows(output_size, input_shape[3]);
    avg_pool_windows_backward(grad, input_shape, &rows, &cols, |g, kh, kw| {
        g / kh as f32 / kw as f32
    })
}

/// Checks max pooling's input and window, naming `op` in the panic, and returns
/// `(planes, h, w, oh, ow)`: no padding, floor rounding.
pub(crate) fn max_pool_geometry(
    op: &str,
    s: &[usize],
    kernel: usize,
    stride: usize,
) -> (usize, usize, usize, usize, usize) {
    assert!(
        s.len() == 4,
        "{op}: expects an input [N, C, H, W], got shape {s:?}"
    );
    assert!(
        kernel >= 1 && stride >= 1,
        "{op}: kernel ({kernel}) and stride ({stride}) must be at least 1"
    );
    let (planes, h, w) = (s[0] * s[1], s[2], s[3]);
    assert!(
        kernel <= h && kernel <= w,
        "{op}: kernel {kernel} is larger than the input plane {h}x{w} (shape {s:?})"
    );
    let (oh, ow) = ((h - kernel) / stride + 1, (w - kernel) / stride + 1);
    (planes, h, w, oh, ow)
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

/// Reference for `relu_max_pool2d`: pool the input before the ReLU, then apply the ReLU
/// (the same rule as `Tensor::relu`, NaN kept) to each pooled value, noting which were
/// above 0 (relu(m) > 0 exactly when m > 0).
#[allow(clippy::too_many_arguments)] // the pooling geometry
pub(crate) fn relu_max_pool2d_reference(
    x: &[f32],
    planes: usize,
    h: usize,
    w: usize,
    kernel: usize,
    stride: usize,
    oh: usize,
    ow: usize,
) -> (Vec<f32>, Vec<u32>, Vec<bool>) {
    let (mut out, argmax) = max_pool2d_reference(x, planes, h, w, kernel, stride, oh, ow);
    let mut passes = Vec::with_capacity(out.len());
    for v in &mut out {
        *v = if *v > 0.0 || v.is_nan() { *v } else { 0.0 };
        passes.push(*v > 0.0);
    }
    (out, argmax, passes)
}

/// Sends each output gradient back to the input element that was the window's maximum.
pub(crate) fn max_pool2d_backward(grad: &Tensor, input_shape: &[usize], argmax: &[u32]) -> Tensor {
    route_to_argmax(grad, input_shape, argmax, None)
}

/// `relu_max_pool2d`'s backward: as max pooling's, but only through the windows whose
/// maximum was above 0 (`passes`); the others get ReLU's slope there, 0.
pub(crate) fn relu_max_pool2d_backward(
    grad: &Tensor,
    input_shape: &[usize],
    argmax: &[u32],
    passes: &[bool],
) -> Tensor {
    route_to_argmax(grad, input_shape, argmax, Some(passes))
}

/// Both max pools' backward: output gradient `i` goes to its window's argmax, if
/// `passes[i]` (or always, without `passes`); every other input element gets 0. Where
/// windows overlap, an element that was the maximum of several collects all their
/// gradients.
fn route_to_argmax(
    grad: &Tensor,
    input_shape: &[usize],
    argmax: &[u32],
    passes: Option<&[bool]>,
) -> Tensor {
    let plane = input_shape[2] * input_shape[3];
    let out_plane = grad.shape()[2] * grad.shape()[3];
    let len = input_shape.iter().product();
    let gd = grad.read();
    let gx = if kernels::fast() {
        kernels::pool::max_pool2d_backward(&gd, argmax, passes, plane, out_plane, len)
    } else {
        let mut gx = vec![0.0; len];
        for (i, (&g, &at)) in gd.iter().zip(argmax).enumerate() {
            if passes.is_none_or(|p| p[i]) {
                gx[(i / out_plane) * plane + at as usize] += g;
            }
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
        // The second shape is wider than the 2x2 kernel's 256-column row buffer; both have
        // many tied windows, and NaNs alone, two to a window, and in a window's last place.
        // Heights and widths that the windows do not cover to the end are included (7 with
        // 2x2, 7 and 6 with 3x3 stride 3, 4 with stride 3).
        for (planes, h, w) in [(3, 7, 6), (2, 4, 600), (2, 7, 7)] {
            let mut x: Vec<f32> = (0..planes * h * w)
                .map(|i| ((i * 5) % 7) as f32 - 3.0)
                .collect();
            for at in [3, 50, w + 1, w + 2, 2 * w + 3 * w / 2 + 1] {
                x[at] = f32::NAN;
            }
            x[7] = -0.0;
            for (kernel, stride) in [(2, 2), (3, 1), (3, 2), (1, 1), (3, 3), (2, 3)] {
                let (oh, ow) = ((h - kernel) / stride + 1, (w - kernel) / stride + 1);
                let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                for relu in [false, true] {
                    let ((fv, fa, fp), (rv, ra, rp)) = if relu {
                        (
                            kernels::pool::relu_max_pool2d(
                                &x, planes, h, w, kernel, stride, oh, ow,
                            ),
                            relu_max_pool2d_reference(&x, planes, h, w, kernel, stride, oh, ow),
                        )
                    } else {
                        let (fv, fa) =
                            kernels::pool::max_pool2d(&x, planes, h, w, kernel, stride, oh, ow);
                        let (rv, ra) =
                            max_pool2d_reference(&x, planes, h, w, kernel, stride, oh, ow);
                        ((fv, fa, Vec::new()), (rv, ra, Vec::new()))
                    };
                    let what =
                        format!("{planes}x{h}x{w} kernel {kernel} stride {stride} relu {relu}");
                    assert_eq!(fa, ra, "{what}");
                    assert_eq!(fp, rp, "{what}");
                    assert_eq!(bits(&fv), bits(&rv), "{what}");
                    // Varied gradients, -0.0 among them, which zero-then-add turns into +0.0.
                    let g: Vec<f32> = (0..fv.len())
                        .map(|i| {
                            if i % 5 == 1 {
                                -0.0
                            } else {
                                i as f32 * 0.5 - 3.0
                            }
                        })
                        .collect();
                    let passes = relu.then_some(rp.as_slice());
                    let mut want = vec![0.0f32; x.len()];
                    for (i, &a) in ra.iter().enumerate() {
                        if passes.is_none_or(|p| p[i]) {
                            want[(i / (oh * ow)) * h * w + a as usize] += g[i];
                        }
                    }
                    let fast = kernels::pool::max_pool2d_backward(
                        &g,
                        &fa,
                        passes,
                        h * w,
                        oh * ow,
                        x.len(),
                    );
                    assert_eq!(bits(&fast), bits(&want), "{what}");
                }
            }
        }
    }
}
