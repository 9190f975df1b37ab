//! Module 4, the reference solutions: compiled only by the crate's own tests
//! (tests/graders.rs), which check that every grader passes them. Delete this folder
//! before handing the track out.

use kindling::autograd::CustomOp;
use kindling::Tensor;
use kindling_exercises::m4_conv::out_size;

/// Where tap (i, j) of output position (oy, ox) reads in an `[h, w]` plane, or `None` in
/// the padding. Shared by im2col and col2im, so that the two are adjoint by construction.
#[allow(clippy::too_many_arguments)]
fn tap(
    oy: usize,
    ox: usize,
    i: usize,
    j: usize,
    stride: usize,
    padding: usize,
    h: usize,
    w: usize,
) -> Option<usize> {
    let y = (oy * stride + i).checked_sub(padding)?;
    let x = (ox * stride + j).checked_sub(padding)?;
    (y < h && x < w).then_some(y * w + x)
}

pub fn im2col(x: &Tensor, k: usize, stride: usize, padding: usize) -> Tensor {
    let &[n, c, h, w] = x.shape() else {
        panic!("im2col: expects [N, C, H, W], got {:?}", x.shape())
    };
    let (oh, ow) = (
        out_size(h, k, stride, padding),
        out_size(w, k, stride, padding),
    );
    let (rows, p) = (c * k * k, oh * ow);
    let xs = x.to_vec();
    let mut cols = vec![0.0; n * rows * p];
    for img in 0..n {
        for ch in 0..c {
            let plane = &xs[(img * c + ch) * h * w..][..h * w];
            for i in 0..k {
                for j in 0..k {
                    let row = (img * rows + ch * k * k + i * k + j) * p;
                    for oy in 0..oh {
                        for ox in 0..ow {
                            if let Some(at) = tap(oy, ox, i, j, stride, padding, h, w) {
                                cols[row + oy * ow + ox] = plane[at];
                            }
                        }
                    }
                }
            }
        }
    }
    Tensor::from_vec(cols, &[n, rows, p])
}

pub fn col2im(cols: &Tensor, shape: &[usize], k: usize, stride: usize, padding: usize) -> Tensor {
    let &[n, c, h, w] = shape else {
        panic!("col2im: expects a shape [N, C, H, W], got {shape:?}")
    };
    let (oh, ow) = (
        out_size(h, k, stride, padding),
        out_size(w, k, stride, padding),
    );
    let (rows, p) = (c * k * k, oh * ow);
    let cs = cols.to_vec();
    let mut x = vec![0.0; n * c * h * w];
    for img in 0..n {
        for ch in 0..c {
            let plane = &mut x[(img * c + ch) * h * w..][..h * w];
            for i in 0..k {
                for j in 0..k {
                    let row = (img * rows + ch * k * k + i * k + j) * p;
                    for oy in 0..oh {
                        for ox in 0..ow {
                            if let Some(at) = tap(oy, ox, i, j, stride, padding, h, w) {
                                // Added: a pixel in several patches was used several times.
                                plane[at] += cs[row + oy * ow + ox];
                            }
                        }
                    }
                }
            }
        }
    }
    Tensor::from_vec(x, shape)
}

pub fn conv2d(x: &Tensor, w: &Tensor, b: &Tensor, stride: usize, padding: usize) -> Tensor {
    let (n, h, wd) = (x.shape()[0], x.shape()[2], x.shape()[3]);
    let (o, k) = (w.shape()[0], w.shape()[2]);
    let (oh, ow) = (
        out_size(h, k, stride, padding),
        out_size(wd, k, stride, padding),
    );
    let cols = im2col(x, k, stride, padding);
    let rows = cols.shape()[1];
    // W goes on the left of every image's columns: a copy of it per image makes that one
    // batched product, [N, O, K]·[N, K, P], with no transposed copy of the (larger) columns.
    let w_each = Tensor::from_vec(w.to_vec().repeat(n), &[n, o, rows]);
    let out = w_each.matmul(&cols).reshape(&[n, o, oh, ow]);
    &out + &b.reshape(&[1, o, 1, 1])
}

#[derive(Clone, Copy, Debug)]
pub struct Conv2d {
    pub stride: usize,
    pub padding: usize,
}

impl Conv2d {
    pub fn new(stride: usize, padding: usize) -> Conv2d {
        Conv2d { stride, padding }
    }
}

impl CustomOp for Conv2d {
    fn name(&self) -> &str {
        "Conv2d"
    }
    fn forward(&self, inputs: &[Tensor]) -> Tensor {
        inputs[0].conv2d(&inputs[1], Some(&inputs[2]), self.stride, self.padding)
    }
    fn backward(&self, inputs: &[Tensor], _output: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        let (x, w) = (&inputs[0], &inputs[1]);
        let (n, o, k) = (x.shape()[0], w.shape()[0], w.shape()[2]);
        let cols = im2col(x, k, self.stride, self.padding);
        let (rows, p) = (cols.shape()[1], cols.shape()[2]);
        let g3 = g.reshape(&[n, o, p]);
        // dW = Σₙ gₙ·colsₙᵀ, computed as the transpose of Σₙ colsₙ·gₙᵀ so that only the
        // small gradient is transposed, not the columns.
        let dw = cols.matmul(&g3.transpose(1, 2)).sum_dim(0, false).t();
        // dcolsₙ = Wᵀ·gₙ for every image, with a copy of Wᵀ per image as in the forward.
        let wt_each = Tensor::from_vec(w.reshape(&[o, rows]).t().to_vec().repeat(n), &[n, rows, o]);
        let dcols = wt_each.matmul(&g3);
        let dx = col2im(&dcols, x.shape(), k, self.stride, self.padding);
        let db = g3.sum_dim(2, false).sum_dim(0, false);
        vec![Some(dx), Some(dw.reshape(w.shape())), Some(db)]
    }
}

pub fn max_pool2d(x: &Tensor, k: usize, stride: usize) -> (Tensor, Vec<usize>) {
    let &[n, c, h, w] = x.shape() else {
        panic!("max_pool2d: expects [N, C, H, W], got {:?}", x.shape())
    };
    let (oh, ow) = (out_size(h, k, stride, 0), out_size(w, k, stride, 0));
    let xs = x.to_vec();
    let (mut out, mut arg) = (Vec::with_capacity(n * c * oh * ow), Vec::new());
    for plane in xs.chunks(h * w) {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut best = oy * stride * w + ox * stride;
                for i in 0..k {
                    for j in 0..k {
                        let at = (oy * stride + i) * w + ox * stride + j;
                        // Strictly greater: on a tie the earlier element stays.
                        if plane[at] > plane[best] {
                            best = at;
                        }
                    }
                }
                out.push(plane[best]);
                arg.push(best);
            }
        }
    }
    (Tensor::from_vec(out, &[n, c, oh, ow]), arg)
}

#[derive(Clone, Copy, Debug)]
pub struct MaxPool2d {
    pub kernel: usize,
    pub stride: usize,
}

impl MaxPool2d {
    pub fn new(kernel: usize, stride: usize) -> MaxPool2d {
        MaxPool2d { kernel, stride }
    }
}

impl CustomOp for MaxPool2d {
    fn name(&self) -> &str {
        "MaxPool2d"
    }
    fn forward(&self, inputs: &[Tensor]) -> Tensor {
        inputs[0].max_pool2d(self.kernel, self.stride)
    }
    fn backward(&self, inputs: &[Tensor], _output: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        let x = &inputs[0];
        let (_, argmax) = max_pool2d(x, self.kernel, self.stride);
        let (h, w) = (x.shape()[2], x.shape()[3]);
        let per_plane = g.shape()[2] * g.shape()[3];
        let mut dx = vec![0.0; x.numel()];
        for (e, (gv, at)) in g.to_vec().iter().zip(&argmax).enumerate() {
            // Added, not set: with overlapping windows one element can win several.
            dx[(e / per_plane) * h * w + at] += gv;
        }
        vec![Some(Tensor::from_vec(dx, x.shape()))]
    }
}
