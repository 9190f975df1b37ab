//! Module 4, plausible wrong solutions: one mistake a learner makes per task, each named
//! in a comment. The crate's tests check that every grader fails them: a grader that cannot
//! fail is a defect. The tasks that build on im2col use a correct copy of it (`patches`),
//! so that the mistake of task 4.1 does not hide theirs.

use kindling::autograd::CustomOp;
use kindling::Tensor;
use kindling_exercises::m4_conv::out_size;

/// im2col's loops with the kernel tap chosen by `flip`: `false` is right, `true` is the
/// mistake of task 4.1.
fn unfold(x: &Tensor, k: usize, stride: usize, padding: usize, flip: bool) -> Tensor {
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
            for i in 0..k {
                for j in 0..k {
                    let (ti, tj) = if flip { (k - 1 - i, k - 1 - j) } else { (i, j) };
                    let row = (img * rows + ch * k * k + i * k + j) * p;
                    for oy in 0..oh {
                        for ox in 0..ow {
                            let (y, xx) = (oy * stride + ti, ox * stride + tj);
                            if y < padding || xx < padding || y - padding >= h || xx - padding >= w
                            {
                                continue;
                            }
                            cols[row + oy * ow + ox] =
                                xs[((img * c + ch) * h + y - padding) * w + xx - padding];
                        }
                    }
                }
            }
        }
    }
    Tensor::from_vec(cols, &[n, rows, p])
}

/// A correct im2col, for the tasks after 4.1.
fn patches(x: &Tensor, k: usize, stride: usize, padding: usize) -> Tensor {
    unfold(x, k, stride, padding, false)
}

/// col2im's loops, adding (`overwrite` false, right) or overwriting (the mistake of 4.2).
fn fold(
    cols: &Tensor,
    shape: &[usize],
    k: usize,
    stride: usize,
    padding: usize,
    overwrite: bool,
) -> Tensor {
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
            for i in 0..k {
                for j in 0..k {
                    let row = (img * rows + ch * k * k + i * k + j) * p;
                    for oy in 0..oh {
                        for ox in 0..ow {
                            let (y, xx) = (oy * stride + i, ox * stride + j);
                            if y < padding || xx < padding || y - padding >= h || xx - padding >= w
                            {
                                continue;
                            }
                            let at = ((img * c + ch) * h + y - padding) * w + xx - padding;
                            let v = cs[row + oy * ow + ox];
                            if overwrite {
                                x[at] = v;
                            } else {
                                x[at] += v;
                            }
                        }
                    }
                }
            }
        }
    }
    Tensor::from_vec(x, shape)
}

pub fn im2col(x: &Tensor, k: usize, stride: usize, padding: usize) -> Tensor {
    // MISTAKE: the kernel flipped, tap (i, j) reading offset (k-1-i, k-1-j) of the patch:
    // the textbook's true convolution, not the cross-correlation deep learning calls by
    // that name.
    unfold(x, k, stride, padding, true)
}

pub fn col2im(cols: &Tensor, shape: &[usize], k: usize, stride: usize, padding: usize) -> Tensor {
    // MISTAKE: each entry overwrites its pixel instead of adding to it: right only where
    // the patches do not overlap (stride ≥ k).
    fold(cols, shape, k, stride, padding, true)
}

pub fn conv2d(x: &Tensor, w: &Tensor, b: &Tensor, stride: usize, padding: usize) -> Tensor {
    let (n, h, wd) = (x.shape()[0], x.shape()[2], x.shape()[3]);
    let (o, k) = (w.shape()[0], w.shape()[2]);
    let (oh, ow) = (
        out_size(h, k, stride, padding),
        out_size(wd, k, stride, padding),
    );
    let cols = patches(x, k, stride, padding);
    let rows = cols.shape()[1];
    let w_each = Tensor::from_vec(w.to_vec().repeat(n), &[n, o, rows]);
    let out = w_each.matmul(&cols).reshape(&[n, o, oh, ow]);
    // MISTAKE: the bias `[O]` added as it is: broadcasting aligns it with the last axis,
    // the output's width, not with the channels (and it runs whenever ow == O).
    &out + b
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
        let cols = patches(x, k, self.stride, self.padding);
        let (rows, p) = (cols.shape()[1], cols.shape()[2]);
        let g3 = g.reshape(&[n, o, p]);
        // MISTAKE: Σₙ colsₙ·gₙᵀ is `[K, O]`, the transpose of the weight gradient, and the
        // `.t()` is missing; it has the weight's number of elements, so the reshape below
        // takes it without a word.
        let dw = cols.matmul(&g3.transpose(1, 2)).sum_dim(0, false);
        let wt_each = Tensor::from_vec(w.reshape(&[o, rows]).t().to_vec().repeat(n), &[n, rows, o]);
        let dcols = wt_each.matmul(&g3);
        let dx = fold(&dcols, x.shape(), k, self.stride, self.padding, false);
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
    let (mut out, mut arg) = (Vec::new(), Vec::new());
    for plane in xs.chunks(h * w) {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut best = oy * stride * w + ox * stride;
                for i in 0..k {
                    for j in 0..k {
                        let at = (oy * stride + i) * w + ox * stride + j;
                        // MISTAKE: `>=`, so on a tie the last maximum wins; PyTorch keeps
                        // the first. The values are the same, the indices are not.
                        if plane[at] >= plane[best] {
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
        // MISTAKE: each gradient spread evenly over its window, as average pooling's
        // backward does; only the maximum affected the output, so only it should get any.
        let x = &inputs[0];
        let (k, s) = (self.kernel, self.stride);
        let (h, w) = (x.shape()[2], x.shape()[3]);
        let (oh, ow) = (g.shape()[2], g.shape()[3]);
        let mut dx = vec![0.0; x.numel()];
        for (e, gv) in g.to_vec().iter().enumerate() {
            let (plane, oy, ox) = (e / (oh * ow), e / ow % oh, e % ow);
            for i in 0..k {
                for j in 0..k {
                    dx[plane * h * w + (oy * s + i) * w + ox * s + j] += gv / (k * k) as f32;
                }
            }
        }
        vec![Some(Tensor::from_vec(dx, x.shape()))]
    }
}
