//! 2-d convolution (really cross-correlation, as in PyTorch: the kernel is not flipped),
//! forward and backward.
//!
//! `out[n, o, y, x] = b[o] + Σ_c Σ_i Σ_j in[n, c, y·s + i - p, x·s + j - p] · w[o, c, i, j]`,
//! where taps that land in the padding read 0. The reference kernels below are that sum
//! written as loops, and the backward pass is the same loops sending each product's
//! gradient back to both factors. The fast twins (`kernels/conv.rs`) compute the same thing
//! as im2col + SGEMM; `docs/conv-as-gemm.md` explains how.
//!
//! `conv2d_relu_max_pool2d` is convolution, ReLU and max pooling as one op, the CNN's
//! conv → ReLU → pool block: its reference kernels are the three ops' one after the other,
//! its fast kernels (`kernels/conv_relu_pool.rs`) pool each image's convolution while it is
//! in cache, so the full-size convolution output and its gradient are never stored.

use crate::kernels;
use crate::op::Op;
use crate::ops::pool;
use crate::shape::numel;
use crate::Tensor;

/// The sizes of one convolution, fixed by the input and weight shapes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Geometry {
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: usize,
    pub pad: usize,
    pub oh: usize,
    pub ow: usize,
}

impl Geometry {
    pub fn new(x: &[usize], weight: &[usize], stride: usize, pad: usize) -> Geometry {
        Geometry::checked("conv2d", x, weight, stride, pad)
    }

    /// `new`, naming `op` in the panics.
    pub fn checked(op: &str, x: &[usize], weight: &[usize], stride: usize, pad: usize) -> Geometry {
        assert!(
            x.len() == 4 && weight.len() == 4,
            "{op}: expects input [N, C, H, W] and weight [O, C, kh, kw], got input {x:?} and weight {weight:?}"
        );
        assert!(
            x[1] == weight[1],
            "{op}: input {x:?} has {} channels but weight {weight:?} expects {}",
            x[1],
            weight[1]
        );
        assert!(stride >= 1, "{op}: stride must be at least 1, got {stride}");
        let (h, w, kh, kw) = (x[2], x[3], weight[2], weight[3]);
        // Checked: a huge padding must not wrap around into a small, wrong size.
        let padded = |size: usize| {
            pad.checked_mul(2)
                .and_then(|p| p.checked_add(size))
                .unwrap_or_else(|| panic!("{op}: padding {pad} is too large (input {x:?})"))
        };
        let (ph, pw) = (padded(h), padded(w));
        assert!(
            ph >= kh && pw >= kw,
            "{op}: kernel {kh}x{kw} is larger than the padded input {ph}x{pw} (input {x:?}, weight {weight:?}, padding {pad})"
        );
        Geometry {
            c: x[1],
            h,
            w,
            kh,
            kw,
            stride,
            pad,
            oh: (ph - kh) / stride + 1,
            ow: (pw - kw) / stride + 1,
        }
    }

    /// Where, inside an `[H, W]` input plane, kernel tap (i, j) of output pixel (oy, ox)
    /// reads, or `None` where the tap lies in the zero padding.
    fn tap(&self, oy: usize, ox: usize, i: usize, j: usize) -> Option<usize> {
        let iy = (oy * self.stride + i).checked_sub(self.pad)?;
        let ix = (ox * self.stride + j).checked_sub(self.pad)?;
        (iy < self.h && ix < self.w).then_some(iy * self.w + ix)
    }
}

impl Tensor {
    /// 2-d convolution (really cross-correlation, as in PyTorch) of an input `[N, C, H, W]`
    /// with a weight `[O, C, kh, kw]` and an optional bias `[O]`; the output is
    /// `[N, O, (H + 2p - kh)/s + 1, (W + 2p - kw)/s + 1]`.
    ///
    /// # Panics
    /// On mismatched shapes; the message names the op and the shapes.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let x = Tensor::ones(&[1, 1, 3, 3]);
    /// let w = Tensor::ones(&[1, 1, 2, 2]);
    /// let y = x.conv2d(&w, None, 1, 0);
    /// assert_eq!(y.shape(), &[1, 1, 2, 2]);
    /// assert_eq!(y.to_vec(), vec![4.0; 4]);
    /// ```
    pub fn conv2d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        stride: usize,
        padding: usize,
    ) -> Tensor {
        let (g, out_shape) = conv_shapes("conv2d", self, weight, bias, stride, padding);
        let (n, o) = (out_shape[0], out_shape[1]);
        let out = {
            let mut inputs = vec![self, weight];
            inputs.extend(bias);
            let data = Tensor::read_all(&inputs);
            let (x, w, b) = (data.get(0), data.get(1), bias.map(|_| data.get(2)));
            if kernels::fast() {
                kernels::conv::conv2d_forward(&g, x, w, b, n, o)
            } else {
                conv2d_reference(&g, x, w, b, n, o)
            }
        };
        let op = Op::Conv2d {
            x: self.clone(),
            w: weight.clone(),
            b: bias.cloned(),
            stride,
            padding,
        };
        Tensor::from_op(out, out_shape, op)
    }
}

impl Tensor {
    /// Convolution, ReLU and 2-d max pooling as one op: equal to
    /// `self.conv2d(weight, bias, stride, padding).relu().max_pool2d(kernel, pool_stride)`
    /// bit for bit, in the output and in every gradient (x, weight, bias), but without
    /// making the convolution's full-size output, or the gradient flowing back into it.
    ///
    /// Why the bits agree: each image is convolved by the very code `conv2d` uses (the same
    /// im2col, GEMM and bias add), then pooled as [`Tensor::relu_max_pool2d`], which equals
    /// ReLU then max pooling bit for bit. Backward, each image's convolution output
    /// gradient is `relu_max_pool2d`'s scatter of the pooled gradient, rebuilt one image
    /// at a time, and fed to the convolution's backward code in the same order, so every
    /// sum rounds the same way. `nn::Sequential` calls this for a `Conv2d` followed by a
    /// `ReLU` and a `MaxPool2d`.
    ///
    /// # Panics
    /// As [`Tensor::conv2d`] and [`Tensor::max_pool2d`]: on mismatched shapes, a stride,
    /// kernel or pooling stride of 0, or a pooling window larger than the convolution's
    /// output plane; the message names the op and the shapes.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let data: Vec<f32> = (0..50).map(|i| ((i * 7) % 11) as f32 - 5.0).collect();
    /// let x = Tensor::from_vec(data, &[2, 1, 5, 5]);
    /// let w = Tensor::from_vec(vec![0.5, -1.0, 0.25, 1.0, 0.0, -0.5, 1.5, 0.75, -0.25], &[1, 1, 3, 3]);
    /// let b = Tensor::from_vec(vec![0.1], &[1]);
    /// let fused = x.conv2d_relu_max_pool2d(&w, Some(&b), 1, 1, 2, 2);
    /// let plain = x.conv2d(&w, Some(&b), 1, 1).relu().max_pool2d(2, 2);
    /// let bits = |t: &Tensor| t.to_vec().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    /// assert_eq!(fused.shape(), &[2, 1, 2, 2]);
    /// assert_eq!(bits(&fused), bits(&plain));
    /// ```
    pub fn conv2d_relu_max_pool2d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        stride: usize,
        padding: usize,
        kernel: usize,
        pool_stride: usize,
    ) -> Tensor {
        const OP: &str = "conv2d_relu_max_pool2d";
        let (g, conv_shape) = conv_shapes(OP, self, weight, bias, stride, padding);
        let (n, o) = (conv_shape[0], conv_shape[1]);
        let (planes, h, w, oh, ow) = pool::max_pool_geometry(OP, &conv_shape, kernel, pool_stride);
        let (out, argmax, passes) = {
            let mut inputs = vec![self, weight];
            inputs.extend(bias);
            let data = Tensor::read_all(&inputs);
            let (x, wd, b) = (data.get(0), data.get(1), bias.map(|_| data.get(2)));
            if kernels::fast() {
                let p = kernels::conv_relu_pool::Pooling {
                    kernel,
                    stride: pool_stride,
                    oh,
                    ow,
                };
                kernels::conv_relu_pool::forward(&g, x, wd, b, n, o, p)
            } else {
                // The reference kernels of the ops it fuses, one after the other.
                let y = conv2d_reference(&g, x, wd, b, n, o);
                pool::relu_max_pool2d_reference(&y, planes, h, w, kernel, pool_stride, oh, ow)
            }
        };
        let op = Op::Conv2dReluMaxPool2d {
            x: self.clone(),
            w: weight.clone(),
            b: bias.cloned(),
            stride,
            padding,
            argmax,
            passes,
        };
        Tensor::from_op(out, vec![n, o, oh, ow], op)
    }
}

/// Checks a convolution's shapes (naming `op` in the panics) and returns its geometry and
/// output shape `[N, O, oh, ow]`.
fn conv_shapes(
    op: &str,
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    stride: usize,
    padding: usize,
) -> (Geometry, Vec<usize>) {
    let g = Geometry::checked(op, x.shape(), weight.shape(), stride, padding);
    let (n, o) = (x.shape()[0], weight.shape()[0]);
    if let Some(b) = bias {
        assert!(
            b.shape() == [o],
            "{op}: bias has shape {:?} but the weight {:?} has {o} output channels",
            b.shape(),
            weight.shape()
        );
    }
    let out_shape = vec![n, o, g.oh, g.ow];
    numel(&out_shape); // checked: panics, naming the shape, if it overflows
    (g, out_shape)
}

/// `conv2d_relu_max_pool2d`'s backward: the chain rule through the pooling (g goes to each
/// window's argmax where its maximum was above 0, as `relu_max_pool2d`'s backward), giving
/// dOut, the convolution's output gradient, then the convolution's backward on dOut.
/// Returns `(dx if x needs it, dW, db if there is a bias)` as [`conv2d_backward`].
///
/// The reference composes the two backward passes as written, with a full-size dOut. The
/// fast kernels rebuild dOut one image at a time.
#[allow(clippy::too_many_arguments)] // the op's saved values
pub(crate) fn conv2d_relu_max_pool2d_backward(
    grad: &Tensor,
    x: &Tensor,
    w: &Tensor,
    has_bias: bool,
    stride: usize,
    padding: usize,
    argmax: &[u32],
    passes: &[bool],
) -> (Option<Tensor>, Tensor, Option<Tensor>) {
    let g = Geometry::new(x.shape(), w.shape(), stride, padding);
    let (n, o) = (x.shape()[0], w.shape()[0]);
    if !kernels::fast() {
        let conv_shape = [n, o, g.oh, g.ow];
        let dout = pool::relu_max_pool2d_backward(grad, &conv_shape, argmax, passes);
        return conv2d_backward(&dout, x, w, has_bias, stride, padding);
    }
    let data = Tensor::read_all(&[grad, x, w]);
    let (gd, xd, wd) = (data.get(0), data.get(1), data.get(2));
    let dout = kernels::conv_relu_pool::Routed {
        g: gd,
        argmax,
        passes,
        o,
        plane: g.oh * g.ow,
        out_plane: grad.shape()[2] * grad.shape()[3],
    };
    let want_dx = x.is_requires_grad();
    let (dx, dw, db) = kernels::conv_relu_pool::backward(&g, &dout, xd, wd, n, want_dx);
    (
        dx.map(|dx| Tensor::constant(dx, x.shape().to_vec())),
        Tensor::constant(dw, w.shape().to_vec()),
        has_bias.then(|| Tensor::constant(db, vec![o])),
    )
}

/// The reference forward pass: the defining sum, one output element at a time.
#[allow(clippy::needless_range_loop)] // indices that read like the formula
pub(crate) fn conv2d_reference(
    g: &Geometry,
    x: &[f32],
    w: &[f32],
    b: Option<&[f32]>,
    n: usize,
    o: usize,
) -> Vec<f32> {
    let (plane, k) = (g.h * g.w, g.kh * g.kw);
    let mut out = vec![0.0; n * o * g.oh * g.ow];
    let mut at = 0;
    for img in 0..n {
        for oc in 0..o {
            for oy in 0..g.oh {
                for ox in 0..g.ow {
                    let mut sum = 0.0f32;
                    for c in 0..g.c {
                        let input = &x[(img * g.c + c) * plane..][..plane];
                        let kernel = &w[(oc * g.c + c) * k..][..k];
                        for i in 0..g.kh {
                            for j in 0..g.kw {
                                if let Some(p) = g.tap(oy, ox, i, j) {
                                    sum += input[p] * kernel[i * g.kw + j];
                                }
                            }
                        }
                    }
                    out[at] = sum + b.map_or(0.0, |b| b[oc]);
                    at += 1;
                }
            }
        }
    }
    out
}

/// Gradients of a convolution: `(dx if x needs it, dW, db if there is a bias)`.
pub(crate) fn conv2d_backward(
    grad: &Tensor,
    x: &Tensor,
    w: &Tensor,
    has_bias: bool,
    stride: usize,
    padding: usize,
) -> (Option<Tensor>, Tensor, Option<Tensor>) {
    let g = Geometry::new(x.shape(), w.shape(), stride, padding);
    let (n, o) = (x.shape()[0], w.shape()[0]);
    let data = Tensor::read_all(&[grad, x, w]);
    let (gd, xd, wd) = (data.get(0), data.get(1), data.get(2));
    let want_dx = x.is_requires_grad();
    let (dx, dw, db) = if kernels::fast() {
        kernels::conv::conv2d_backward(&g, gd, xd, wd, n, o, want_dx)
    } else {
        conv2d_backward_reference(&g, gd, xd, wd, n, o, want_dx)
    };
    (
        dx.map(|dx| Tensor::constant(dx, x.shape().to_vec())),
        Tensor::constant(dw, w.shape().to_vec()),
        has_bias.then(|| Tensor::constant(db, vec![o])),
    )
}

/// The reference backward pass. Every product `in · w` of the forward sum sends the
/// output's gradient back to both factors: `dx += dOut · w`, `dW += dOut · in`, and the
/// bias, added once per output element, collects `db += dOut`.
#[allow(clippy::needless_range_loop)] // indices that read like the formula
pub(crate) fn conv2d_backward_reference(
    g: &Geometry,
    gd: &[f32],
    xd: &[f32],
    wd: &[f32],
    n: usize,
    o: usize,
    want_dx: bool,
) -> (Option<Vec<f32>>, Vec<f32>, Vec<f32>) {
    let (plane, k) = (g.h * g.w, g.kh * g.kw);
    let mut dx = vec![0.0; n * g.c * plane];
    let mut dw = vec![0.0; o * g.c * k];
    let mut db = vec![0.0; o];
    let mut at = 0;
    for img in 0..n {
        for oc in 0..o {
            for oy in 0..g.oh {
                for ox in 0..g.ow {
                    let dout = gd[at];
                    at += 1;
                    db[oc] += dout;
                    for c in 0..g.c {
                        let (x0, w0) = ((img * g.c + c) * plane, (oc * g.c + c) * k);
                        for i in 0..g.kh {
                            for j in 0..g.kw {
                                if let Some(p) = g.tap(oy, ox, i, j) {
                                    let tap = w0 + i * g.kw + j;
                                    dx[x0 + p] += dout * wd[tap];
                                    dw[tap] += dout * xd[x0 + p];
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    (want_dx.then_some(dx), dw, db)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast im2col + SGEMM kernels against the reference loops, forward and backward,
    /// for every path through im2col: "same" padding (the flat-shift copy), no padding,
    /// stride 2, a kernel wider than tall, a single image, and 1x1 kernels.
    #[test]
    fn fast_and_reference_convolutions_agree() {
        let values = |len: usize, salt: usize| -> Vec<f32> {
            (0..len)
                .map(|i| (((i * salt + 5) % 23) as f32 - 11.0) * 0.1)
                .collect()
        };
        for (n, c, h, w, o, kh, kw, s, p) in [
            (3, 2, 7, 7, 4, 3, 3, 1, 1),
            (2, 3, 6, 5, 2, 3, 3, 1, 0),
            (2, 2, 9, 8, 3, 3, 3, 2, 1),
            (1, 2, 5, 6, 3, 2, 4, 1, 2),
            (5, 4, 4, 4, 2, 1, 1, 1, 0),
            // one input channel (K = 9), as in the first layer of an image network
            (3, 1, 8, 8, 5, 3, 3, 1, 1),
            (2, 1, 9, 8, 3, 3, 3, 2, 1),
            // padding as large as the input: whole im2col rows lie in the padding
            (2, 2, 1, 1, 3, 3, 3, 1, 1),
            (1, 1, 2, 2, 2, 5, 5, 1, 2),
            (2, 3, 1, 1, 2, 5, 5, 1, 2),
            // 3x3 at stride 1 with at least 16 channels each way: Winograd's path
            // (`kernels/winograd.rs`), with odd output sizes that cut the last 2x2 tiles,
            // channel counts that are not a multiple of its 16 lanes, and wide padding
            (3, 32, 14, 14, 64, 3, 3, 1, 1),
            (2, 17, 7, 9, 20, 3, 3, 1, 0),
            (1, 16, 5, 6, 33, 3, 3, 1, 2),
            (2, 16, 1, 1, 16, 3, 3, 1, 1),
        ] {
            let g = Geometry::new(&[n, c, h, w], &[o, c, kh, kw], s, p);
            let (x, wt, b) = (
                values(n * c * h * w, 7),
                values(o * c * kh * kw, 3),
                values(o, 5),
            );
            let close = |what: &str, a: &[f32], r: &[f32]| {
                assert_eq!(a.len(), r.len());
                for (i, (x, y)) in a.iter().zip(r).enumerate() {
                    assert!(
                        (x - y).abs() <= 1e-4 * (1.0 + y.abs()),
                        "{what}[{i}] {g:?}: {x} vs {y}"
                    );
                }
            };
            let fast = kernels::conv::conv2d_forward(&g, &x, &wt, Some(&b), n, o);
            close("out", &fast, &conv2d_reference(&g, &x, &wt, Some(&b), n, o));
            let dout = values(fast.len(), 11);
            let (fx, fw, fb) = kernels::conv::conv2d_backward(&g, &dout, &x, &wt, n, o, true);
            let (rx, rw, rb) = conv2d_backward_reference(&g, &dout, &x, &wt, n, o, true);
            close("dx", &fx.unwrap(), &rx.unwrap());
            close("dw", &fw, &rw);
            close("db", &fb, &rb);
        }
    }
}
