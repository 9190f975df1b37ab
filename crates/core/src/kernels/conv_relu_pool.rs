//! The fast kernels of `conv2d_relu_max_pool2d` (`ops/conv.rs`): convolution, ReLU and
//! max pooling done one image at a time, so that the convolution's full-size output, and
//! the gradient flowing back into it, never go through memory.
//!
//! Forward, each image is convolved into a per-thread scratch buffer (`o·oh·ow` floats,
//! small enough to stay in L2) and its planes pooled from there. Backward, each image's
//! output gradient is rebuilt into such a buffer from the pooled gradient (a scatter,
//! cheap) and fed to the convolution's backward. Both reuse the unfused kernels' per-image
//! code (`conv.rs`) and per-plane helpers (`pool.rs`), so every value is computed by the
//! same instructions in the same order: the bits agree with the three ops.

use rayon::prelude::*;

use super::conv::{backward as conv_backward, images_per_block, ImageConv, OutputGrad};
use super::winograd;
use super::{buffers, pool, vectorized};
use crate::ops::conv::Geometry;

/// The pooling's window on the convolution's `[oh, ow]` output planes, and the pooled
/// plane's size.
#[derive(Clone, Copy)]
pub(crate) struct Pooling {
    pub kernel: usize,
    pub stride: usize,
    pub oh: usize,
    pub ow: usize,
}

/// `relu(max_pool(conv2d(x, w) + b))` for `n` images and `o` filters: the pooled values,
/// each maximum's index inside its convolution plane, and whether it was above 0.
pub(crate) fn forward(
    g: &Geometry,
    x: &[f32],
    w: &[f32],
    b: Option<&[f32]>,
    n: usize,
    o: usize,
    p: Pooling,
) -> (Vec<f32>, Vec<u32>, Vec<bool>) {
    let (conv_plane, out_plane) = (g.oh * g.ow, p.oh * p.ow);
    let len = n * o * out_plane;
    let mut out = buffers::take(len);
    let mut argmax = vec![0u32; len];
    let mut passes = vec![false; len];
    if out.is_empty() {
        return (out, argmax, passes);
    }
    let image_len = g.c * g.h * g.w;
    let per_block = images_per_block(n);
    let pooled = per_block * o * out_plane;
    let wino = winograd::plan(g, w, o);
    super::parallel(|| {
        out.par_chunks_mut(pooled)
            .zip(argmax.par_chunks_mut(pooled))
            .zip(passes.par_chunks_mut(pooled))
            .zip(x.par_chunks(per_block * image_len))
            .for_each(|(((out, argmax), passes), images)| {
                vectorized(
                    #[inline(always)]
                    || {
                        let mut conv = ImageConv::new(g, w, b, n, o, wino.as_ref());
                        // One image's convolution: written and pooled while in cache.
                        let mut y = buffers::take(o * conv_plane);
                        let per_image = o * out_plane;
                        for (((out, argmax), passes), image) in out
                            .chunks_mut(per_image)
                            .zip(argmax.chunks_mut(per_image))
                            .zip(passes.chunks_mut(per_image))
                            .zip(images.chunks(image_len))
                        {
                            conv.run(image, &mut y);
                            for (((y, out), arg), passes) in y
                                .chunks(conv_plane)
                                .zip(out.chunks_mut(out_plane))
                                .zip(argmax.chunks_mut(out_plane))
                                .zip(passes.chunks_mut(out_plane))
                            {
                                pool::pool_plane(y, g.ow, p.kernel, p.stride, p.ow, out, arg);
                                pool::relu_in_place(out, passes);
                            }
                        }
                        conv.recycle();
                        buffers::recycle(y);
                    },
                )
            })
    });
    (out, argmax, passes)
}

/// The pooled op's output gradient and what routes it back to the convolution's output:
/// plane `p` of dOut is `g` scattered to `argmax` where `passes` (`pool::scatter_plane`,
/// as `relu_max_pool2d`'s backward builds its input gradient).
pub(crate) struct Routed<'a> {
    pub g: &'a [f32],
    pub argmax: &'a [u32],
    pub passes: &'a [bool],
    /// Planes per image (the filters), elements in a convolution output plane and in a
    /// pooled plane.
    pub o: usize,
    pub plane: usize,
    pub out_plane: usize,
}

impl OutputGrad for Routed<'_> {
    fn scratch_len(&self) -> usize {
        self.o * self.plane
    }

    #[inline(always)]
    fn image<'s>(&'s self, img: usize, scratch: &'s mut [f32]) -> &'s [f32] {
        for (oc, dy) in scratch.chunks_mut(self.plane).enumerate() {
            let at = (img * self.o + oc) * self.out_plane;
            let range = at..at + self.out_plane;
            pool::scatter_plane(
                dy,
                &self.g[range.clone()],
                &self.argmax[range.clone()],
                Some(&self.passes[range]),
            );
        }
        scratch
    }
}

/// Gradients `(dx if wanted, dW, db)` of the fused op, as `conv::conv2d_backward` gives
/// them from the full dOut, which is rebuilt here one image at a time instead.
pub(crate) fn backward(
    g: &Geometry,
    dout: &Routed,
    xd: &[f32],
    wd: &[f32],
    n: usize,
    want_dx: bool,
) -> (Option<Vec<f32>>, Vec<f32>, Vec<f32>) {
    conv_backward(g, dout, xd, wd, n, dout.o, want_dx)
}
