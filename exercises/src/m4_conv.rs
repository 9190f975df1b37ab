//! Module 4: convolution and pooling. im2col and its adjoint col2im, a convolution built
//! from im2col and one matrix product, its backward rule, and max pooling forward and
//! backward. The grader holds each against kindling's own `conv2d` and `max_pool2d` (held
//! to PyTorch by the workspace's golden tests) and against PyTorch's `F.unfold`, `F.fold`
//! and `F.max_pool2d(return_indices=True)`.
//!
//! Every image batch here is NCHW, `[N, C, H, W]`, and every kernel is square, k × k. Grade
//! with `cargo test -p kindling-exercises task_4_ -- --ignored`.

use kindling::autograd::CustomOp;
use kindling::Tensor;

/// The output size of a convolution or pooling window along one side: a window of `k`
/// moved by `stride` over `size` values with `padding` zeros on both ends fits
/// (size + 2·padding − k) / stride + 1 times (rounded down). Given, so that every task
/// agrees on it.
pub fn out_size(size: usize, k: usize, stride: usize, padding: usize) -> usize {
    (size + 2 * padding - k) / stride + 1
}

/// Task 4.1: im2col. Copy every k × k patch of each image of `x` `[N, C, H, W]` into a
/// column: the result is `[N, C·k·k, oh·ow]`, with oh = [`out_size`]`(H, k, stride,
/// padding)` and ow likewise, which is PyTorch's `F.unfold` layout.
///
/// Row r = c·k·k + i·k + j holds kernel tap (i, j) of channel c; column p = oy·ow + ox is
/// the output position (oy, ox); the entry is the input pixel that tap reads there,
/// x[n, c, oy·stride + i − padding, ox·stride + j − padding], or 0 where that lies in the
/// padding. Tap (i, j) reads offset (i, j) of the patch: deep learning's "convolution" is
/// cross-correlation, the kernel is not flipped.
///
/// Tools: `to_vec()` (or `data()`) for the values, plain loops, `Tensor::from_vec`.
///
/// Read: [docs/conv-as-gemm.md, "im2col"](../../docs/conv-as-gemm.md#im2col) and
/// [docs/conv-pooling.md](../../docs/conv-pooling.md).
pub fn im2col(x: &Tensor, k: usize, stride: usize, padding: usize) -> Tensor {
    let _ = (x, k, stride, padding);
    todo!()
}

/// Task 4.2: col2im, the adjoint of im2col: `cols` `[N, C·k·k, oh·ow]` (laid out as in
/// task 4.1) back to an image of `shape` `[N, C, H, W]`. Every entry of `cols` is **added**
/// onto the pixel im2col copied it from; entries that came from the padding are dropped.
/// Where patches overlap (stride < k), a pixel sits in several columns and receives the
/// sum of all of them, which is why this is the input gradient of im2col, and why
/// ⟨im2col(x), c⟩ = ⟨x, col2im(c)⟩ for every x and c. PyTorch calls it `F.fold`.
///
/// Read: [docs/conv-as-gemm.md, "The three GEMMs"](../../docs/conv-as-gemm.md#the-three-gemms).
pub fn col2im(cols: &Tensor, shape: &[usize], k: usize, stride: usize, padding: usize) -> Tensor {
    let _ = (cols, shape, k, stride, padding);
    todo!()
}

/// Task 4.3: the convolution `x` `[N, C, H, W]` ⋆ `w` `[O, C, k, k]` + `b` `[O]`, as
/// `F.conv2d(x, w, b, stride, padding)`, returning `[N, O, oh, ow]`. Build it from your
/// [`im2col`] and kindling's `matmul`: with cols = im2col(x) `[N, K, P]` (K = C·k·k,
/// P = oh·ow) and the weight flattened to W `[O, K]`, each image's output is
/// W · colsₙ `[O, P]`. Then reshape to `[N, O, oh, ow]` and add the bias, one number per
/// output channel, broadcast over N, oh and ow (reshape it to `[1, O, 1, 1]`).
///
/// Tools: `reshape`, `matmul`, broadcasting `+`. kindling's `matmul` multiplies two 3-d
/// batches image by image (`[N, A, B]·[N, B, C]`), and shares a 2-d *right* factor across a
/// batch (`[N, A, B]·[B, C]`). W is on the left here: give every image its own copy
/// (`Tensor::from_vec(w.to_vec().repeat(n), &[n, O, K])`), or transpose both sides (slower:
/// the columns are the big tensor).
///
/// Read: [docs/conv-as-gemm.md, "The shapes"](../../docs/conv-as-gemm.md#the-shapes) and
/// ["im2col"](../../docs/conv-as-gemm.md#im2col).
pub fn conv2d(x: &Tensor, w: &Tensor, b: &Tensor, stride: usize, padding: usize) -> Tensor {
    let _ = (x, w, b, stride, padding);
    todo!()
}

/// Task 4.4: the convolution's backward rule. Inputs `[x, w, b]` as in task 4.3; the
/// forward (given, kindling's `conv2d`) returns y `[N, O, oh, ow]`; g = ∂L/∂y has y's
/// shape. With cols = im2col(x) `[N, K, P]`, W `[O, K]` and gₙ reshaped to `[O, P]`:
///
/// - ∂L/∂W = Σₙ gₙ · colsₙᵀ `[O, K]`, reshaped to `[O, C, k, k]`;
/// - ∂L/∂x = col2im(Wᵀ · gₙ for every n), `[N, C, H, W]`;
/// - ∂L/∂b = the sum of g over N, oh and ow, `[O]` (the bias was broadcast over them).
///
/// Use your [`im2col`] and [`col2im`], and the batched `matmul` as in task 4.3 (Σₙ of a
/// batch of products is `sum_dim(0, false)`; `transpose(1, 2)` transposes every image's
/// matrix).
///
/// Read: [docs/conv-as-gemm.md, "The three GEMMs"](../../docs/conv-as-gemm.md#the-three-gemms)
/// and ["The worked example, backward"](../../docs/conv-as-gemm.md#the-worked-example-backward).
#[derive(Clone, Copy, Debug)]
pub struct Conv2d {
    /// The step between windows.
    pub stride: usize,
    /// Zeros added on every side of the input.
    pub padding: usize,
}

impl Conv2d {
    /// The op for one stride and padding (given).
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
    fn backward(&self, inputs: &[Tensor], output: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        let _ = (inputs, output, g);
        todo!()
    }
}

/// Task 4.5: max pooling of `x` `[N, C, H, W]` over k × k windows moved by `stride` (no
/// padding), as `F.max_pool2d(x, k, stride, return_indices=True)`. Returns the maxima
/// `[N, C, oh, ow]` (oh = [`out_size`]`(H, k, stride, 0)`) and, for each of them, where it
/// came from: its flat index h·W + w inside its own `[H, W]` plane (one index per output
/// element, in the output's order).
///
/// When a window holds equal maxima, the **first** one in reading order (row by row) wins,
/// as in PyTorch: the grader uses windows with ties.
///
/// Read: [docs/conv-pooling.md](../../docs/conv-pooling.md).
pub fn max_pool2d(x: &Tensor, k: usize, stride: usize) -> (Tensor, Vec<usize>) {
    let _ = (x, k, stride);
    todo!()
}

/// Task 4.6: max pooling's backward rule. Input `[x]`; the forward (given, kindling's
/// `max_pool2d`) returns y `[N, C, oh, ow]`; g = ∂L/∂y. Only the maximum of a window
/// affected the output, so each g value goes to that one input element (its argmax, which
/// your [`max_pool2d`] finds) and every other element gets 0. Where windows overlap
/// (stride < k) one element can be the maximum of several windows: add up what it gets.
///
/// Read: [docs/conv-pooling.md](../../docs/conv-pooling.md).
#[derive(Clone, Copy, Debug)]
pub struct MaxPool2d {
    /// The window's side.
    pub kernel: usize,
    /// The step between windows.
    pub stride: usize,
}

impl MaxPool2d {
    /// The op for one window size and stride (given).
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
    fn backward(&self, inputs: &[Tensor], output: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        let _ = (inputs, output, g);
        todo!()
    }
}
