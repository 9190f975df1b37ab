//! The fast twin of the reference convolution in `ops/conv.rs`: im2col + SGEMM.
//!
//! im2col copies every receptive field of one image into a column of a matrix
//! `col[C·kh·kw, oh·ow]`. The convolution is then one matrix product:
//! `out[O, oh·ow] = W[O, C·kh·kw] · col`. Backward is two more products per image:
//! `dW += dOut · colᵀ` and `dcol = Wᵀ · dOut`, and col2im adds `dcol` back onto the image.
//! Images are split across threads in fixed blocks (each runs its own single-threaded GEMM),
//! the coarse parallelism that pays off at batch 64 on 2 cores, and each thread rebuilds its
//! images' columns in one cache-sized buffer rather than writing them all out to memory.
//!
//! 3×3 stride-1 convolutions with at least 16 channels each way take Winograd's path
//! (`winograd.rs`) instead, image by image inside the same loops (`ImageConv::run` and the
//! backward's per-image body), so everything built on these loops gets it too.

use rayon::prelude::*;

use super::gemm::{col_major_is_faster, sgemm, sgemm_col_major, Mat};
use super::transpose::transpose_add_bias;
use super::winograd::{self, Winograd};
use super::{buffers, num_threads, sum_zip, vectorized};
use crate::ops::conv::Geometry;

impl Geometry {
    fn col_rows(&self) -> usize {
        self.c * self.kh * self.kw
    }
    fn col_cols(&self) -> usize {
        self.oh * self.ow
    }
    fn image_len(&self) -> usize {
        self.c * self.h * self.w
    }
    fn col_len(&self) -> usize {
        self.col_rows() * self.col_cols()
    }

    /// With stride 1 and as many output as input columns (a "same" convolution such as
    /// 3x3 with padding 1), output pixel `d = oy·w + ox` of kernel offset (i, j) reads input
    /// pixel `d + shift` of the flattened plane, `shift = (i - pad)·w + (j - pad)`. A whole
    /// im2col row is then one contiguous copy. Returns the shift and the range of `d` whose
    /// source lies inside the plane. Pixels whose column ran off the left or right edge
    /// wrapped into a neighbouring row: `zero_outside` clears them.
    fn flat_shift(&self, i: usize, j: usize) -> Option<(isize, usize, usize)> {
        if self.stride != 1 || self.ow != self.w {
            return None;
        }
        let shift =
            (i as isize - self.pad as isize) * self.w as isize + (j as isize - self.pad as isize);
        let len = (self.h * self.w) as isize;
        let lo = (-shift).clamp(0, self.col_cols() as isize) as usize;
        let hi = (len - shift).clamp(lo as isize, self.col_cols() as isize) as usize;
        Some((shift, lo, hi))
    }

    /// For kernel offset `j` along a row, the output columns `[lo, hi)` whose input column
    /// `ox·stride + j - pad` falls inside the image.
    fn valid_cols(&self, j: usize) -> (usize, usize) {
        let lo = self
            .pad
            .saturating_sub(j)
            .div_ceil(self.stride)
            .min(self.ow);
        let hi = if self.w + self.pad > j {
            ((self.w + self.pad - j - 1) / self.stride + 1).min(self.ow)
        } else {
            0
        };
        (lo, hi.max(lo))
    }
}

/// Zeroes, in every output row of one im2col row, the columns outside `[lo, hi)`: those
/// whose input pixel lies in the padding (in the flat-shift copy they wrapped around).
///
/// Column by column, with strided stores: only the pad-wide edge columns are touched. Two
/// `fill` calls per output row cost more than the copy they repair (col2im at the CNN's
/// conv2 took 28 µs per image that way, 20 this way).
#[inline(always)]
fn zero_outside(col_row: &mut [f32], ow: usize, lo: usize, hi: usize) {
    for x in (0..lo).chain(hi..ow) {
        for v in col_row.iter_mut().skip(x).step_by(ow) {
            *v = 0.0;
        }
    }
}

/// Copies one image's receptive fields into `col` (`[C·kh·kw, oh·ow]`), zero where the
/// field overlaps the padding.
#[inline(always)] // into the vectorized wrappers of the conv loops
fn im2col(g: &Geometry, image: &[f32], col: &mut [f32]) {
    let (ohw, s) = (g.col_cols(), g.stride);
    for c in 0..g.c {
        let plane = &image[c * g.h * g.w..(c + 1) * g.h * g.w];
        for i in 0..g.kh {
            for j in 0..g.kw {
                let row = (c * g.kh + i) * g.kw + j;
                let dst = &mut col[row * ohw..(row + 1) * ohw];
                let (lo, hi) = g.valid_cols(j);
                if let Some((shift, d_lo, d_hi)) = g.flat_shift(i, j) {
                    // One copy per row of `col` instead of one per image row (a 14-pixel
                    // memcpy call cost more than the copying).
                    dst[..d_lo].fill(0.0);
                    dst[d_hi..].fill(0.0);
                    if d_lo < d_hi {
                        // (An empty range may sit wholly in the padding, where d + shift
                        // is negative: nothing to copy then.)
                        let from = (d_lo as isize + shift) as usize;
                        dst[d_lo..d_hi].copy_from_slice(&plane[from..from + d_hi - d_lo]);
                    }
                    zero_outside(dst, g.ow, lo, hi);
                    continue;
                }
                for oy in 0..g.oh {
                    let d = &mut dst[oy * g.ow..(oy + 1) * g.ow];
                    let iy = (oy * s + i) as isize - g.pad as isize;
                    if iy < 0 || iy >= g.h as isize {
                        d.fill(0.0);
                        continue;
                    }
                    let src = &plane[iy as usize * g.w..(iy as usize + 1) * g.w];
                    d[..lo].fill(0.0);
                    d[hi..].fill(0.0);
                    if s == 1 {
                        let start = lo + j - g.pad;
                        d[lo..hi].copy_from_slice(&src[start..start + hi - lo]);
                    } else {
                        for (ox, v) in d[lo..hi].iter_mut().enumerate() {
                            *v = src[(lo + ox) * s + j - g.pad];
                        }
                    }
                }
            }
        }
    }
}

/// The adjoint of im2col: adds every column entry back onto the pixel it was copied from.
/// `col` is scratch: entries that came from the padding are zeroed on the way.
///
/// The kernel offsets are the outer loops and the channels the inner one, so that two
/// passes in a row add onto different planes. The other way round, the pass for offset
/// `j + 1` read the plane one element to the right of what the pass for `j` had just
/// stored, and every vector load then waited for two stores still in flight (col2im at the
/// CNN's conv2 took 20 µs per image that way, 12 this way). Each pixel still receives its
/// terms in the same order.
#[inline(always)]
fn col2im(g: &Geometry, col: &mut [f32], image: &mut [f32]) {
    let (ohw, s) = (g.col_cols(), g.stride);
    for i in 0..g.kh {
        for j in 0..g.kw {
            for c in 0..g.c {
                let plane = &mut image[c * g.h * g.w..(c + 1) * g.h * g.w];
                let row = (c * g.kh + i) * g.kw + j;
                let (lo, hi) = g.valid_cols(j);
                if let Some((shift, d_lo, d_hi)) = g.flat_shift(i, j) {
                    // Zero the entries whose column was padding; then the whole row adds
                    // onto the plane in one contiguous, vectorised pass.
                    let src = &mut col[row * ohw..(row + 1) * ohw];
                    zero_outside(src, g.ow, lo, hi);
                    if d_lo == d_hi {
                        continue; // every tap in the padding
                    }
                    let from = (d_lo as isize + shift) as usize;
                    for (d, &v) in plane[from..from + d_hi - d_lo]
                        .iter_mut()
                        .zip(&src[d_lo..d_hi])
                    {
                        *d += v;
                    }
                    continue;
                }
                let src = &col[row * ohw..(row + 1) * ohw];
                for oy in 0..g.oh {
                    let iy = (oy * s + i) as isize - g.pad as isize;
                    if iy < 0 || iy >= g.h as isize {
                        continue;
                    }
                    let d = &mut plane[iy as usize * g.w..(iy as usize + 1) * g.w];
                    let srow = &src[oy * g.ow..(oy + 1) * g.ow];
                    if s == 1 {
                        // Contiguous on both sides: the compiler vectorises this add.
                        let start = lo + j - g.pad;
                        for (d, &v) in d[start..start + hi - lo].iter_mut().zip(&srow[lo..hi]) {
                            *d += v;
                        }
                    } else {
                        for ox in lo..hi {
                            d[ox * s + j - g.pad] += srow[ox];
                        }
                    }
                }
            }
        }
    }
}

/// Threads to give each per-image GEMM: all of them when there are fewer images than
/// threads (the images alone cannot keep the cores busy), otherwise one.
fn gemm_threads(images: usize) -> usize {
    if images >= num_threads() {
        1
    } else {
        num_threads()
    }
}

/// The convolution of `x` (`[n, C, H, W]`) with `w` (`[o, C, kh, kw]`) plus an optional
/// bias, as `[n, o, oh, ow]`.
pub(crate) fn conv2d_forward(
    g: &Geometry,
    x: &[f32],
    w: &[f32],
    b: Option<&[f32]>,
    n: usize,
    o: usize,
) -> Vec<f32> {
    let ohw = g.col_cols();
    let mut out = buffers::take(n * o * ohw);
    if out.is_empty() {
        return out;
    }
    let per_block = images_per_block(n);
    let wino = winograd::plan(g, w, o);
    super::parallel(|| {
        out.par_chunks_mut(per_block * o * ohw)
            .zip(x.par_chunks(per_block * g.image_len()))
            .for_each(|(out, images)| {
                vectorized(
                    #[inline(always)]
                    || {
                        let mut conv = ImageConv::new(g, w, b, n, o, wino.as_ref());
                        for (out, image) in
                            out.chunks_mut(o * ohw).zip(images.chunks(g.image_len()))
                        {
                            conv.run(image, out);
                        }
                        conv.recycle();
                    },
                )
            })
    });
    out
}

/// Images per thread: one block of images per thread, so each thread allocates its
/// scratch buffers once (rayon's `for_each_init` would make them once per work-stealing
/// split).
pub(super) fn images_per_block(n: usize) -> usize {
    n.div_ceil(n.min(num_threads()).max(1)).max(1)
}

/// One thread's convolution of its images, one at a time: the per-image body of
/// `conv2d_forward`, shared with `conv_relu_pool::forward` so that both compute every
/// output with the same instructions in the same order (the same bits).
pub(super) struct ImageConv<'a> {
    g: &'a Geometry,
    w: &'a [f32],
    b: Option<&'a [f32]>,
    o: usize,
    threads: usize,
    col_major: bool,
    // Each thread keeps one image's columns in a buffer of its own, small enough to stay
    // in cache while the GEMM reads it. Backward rebuilds them the same way: cheaper than
    // writing every image's columns out to memory and reading them back.
    col: Vec<f32>,
    pixel_major: Vec<f32>,
    // Set when this convolution takes Winograd's path (`winograd.rs`) instead of im2col.
    winograd: Option<(&'a Winograd, winograd::Scratch)>,
}

impl<'a> ImageConv<'a> {
    /// The scratch buffers for a batch of `n` images with `o` output channels; `wino` is
    /// `winograd::plan`'s for this convolution, built once for all threads.
    #[inline(always)]
    pub(super) fn new(
        g: &'a Geometry,
        w: &'a [f32],
        b: Option<&'a [f32]>,
        n: usize,
        o: usize,
        wino: Option<&'a Winograd>,
    ) -> Self {
        let ohw = g.col_cols();
        // Winograd's path brings its own buffers; im2col's are then left empty.
        let winograd = wino.map(|wg| (wg, wg.scratch(false)));
        let im2col = winograd.is_none();
        // The output channels as the GEMM's contiguous dimension where that fills gemm's
        // micro-kernel better than the pixels do (`col_major_is_faster`).
        let col_major = im2col && col_major_is_faster(o, ohw);
        ImageConv {
            g,
            w,
            b,
            o,
            threads: gemm_threads(n),
            col_major,
            col: buffers::take(if im2col { g.col_len() } else { 0 }), // im2col writes it all
            // and the GEMM all of this one, when it is used
            pixel_major: buffers::take(if col_major { o * ohw } else { 0 }),
            winograd,
        }
    }

    /// Convolves one image (`[C, H, W]`) into `out` (`[o, oh, ow]`), bias included.
    #[inline(always)]
    pub(super) fn run(&mut self, image: &[f32], out: &mut [f32]) {
        if let Some((wg, scratch)) = &mut self.winograd {
            wg.forward_image(scratch, image, self.b, out, self.threads);
            return;
        }
        let (g, o, ohw) = (self.g, self.o, self.g.col_cols());
        im2col(g, image, &mut self.col);
        let (wm, cm) = (Mat::rows(self.w, g.col_rows()), Mat::rows(&self.col, ohw));
        if self.col_major {
            // Into `[pixels, channels]`, then transposed into the output with the bias
            // added on the way.
            let k = g.col_rows();
            sgemm_col_major(
                o,
                ohw,
                k,
                wm,
                cm,
                &mut self.pixel_major,
                false,
                self.threads,
            );
            transpose_add_bias(&self.pixel_major, ohw, o, self.b, out);
            return;
        }
        sgemm(o, ohw, g.col_rows(), wm, cm, out, false, self.threads);
        if let Some(b) = self.b {
            for (row, &bias) in out.chunks_mut(ohw).zip(b.iter()) {
                row.iter_mut().for_each(|v| *v += bias);
            }
        }
    }

    #[inline(always)]
    pub(super) fn recycle(self) {
        buffers::recycle(self.col);
        buffers::recycle(self.pixel_major);
        if let Some((_, scratch)) = self.winograd {
            scratch.recycle();
        }
    }
}

/// Where the convolution's backward finds each image's output gradient dOut (`[o, oh, ow]`).
pub(super) trait OutputGrad: Sync {
    /// Floats of per-thread scratch `image` may write into.
    fn scratch_len(&self) -> usize;
    /// Image `img`'s dOut: read where it lies, or rebuilt into `scratch`.
    fn image<'s>(&'s self, img: usize, scratch: &'s mut [f32]) -> &'s [f32];
}

/// dOut held in full, `[n, o, oh, ow]`, as `conv2d_backward` receives it.
struct Full<'a> {
    gd: &'a [f32],
    len: usize,
}

impl OutputGrad for Full<'_> {
    fn scratch_len(&self) -> usize {
        0
    }
    #[inline(always)]
    fn image<'s>(&'s self, img: usize, _: &'s mut [f32]) -> &'s [f32] {
        &self.gd[img * self.len..(img + 1) * self.len]
    }
}

/// Gradients of a convolution from dOut (`gd`): `(dx if wanted, dW, db)`, each as a flat
/// vector in the shape of its input.
pub(crate) fn conv2d_backward(
    g: &Geometry,
    gd: &[f32],
    xd: &[f32],
    wd: &[f32],
    n: usize,
    o: usize,
    want_dx: bool,
) -> (Option<Vec<f32>>, Vec<f32>, Vec<f32>) {
    let len = o * g.col_cols();
    backward(g, &Full { gd, len }, xd, wd, n, o, want_dx)
}

/// `conv2d_backward` with dOut from `source`: shared with `conv_relu_pool::backward`, which
/// rebuilds each image's dOut from the pooled gradient, so that both compute every
/// gradient with the same instructions in the same order.
pub(super) fn backward(
    g: &Geometry,
    source: &impl OutputGrad,
    xd: &[f32],
    wd: &[f32],
    n: usize,
    o: usize,
    want_dx: bool,
) -> (Option<Vec<f32>>, Vec<f32>, Vec<f32>) {
    let (ohw, k) = (g.col_cols(), g.col_rows());
    if n == 0 || o == 0 || ohw == 0 {
        // Nothing flows back: every gradient is zero (PyTorch returns zeros too).
        return (
            want_dx.then(|| vec![0.0; n * g.image_len()]),
            vec![0.0; o * k],
            vec![0.0; o],
        );
    }

    // One pass per block of images computes both products while dOut_n is in cache:
    //   dW += dOut_n · col_nᵀ   (col_n rebuilt by im2col),
    //   dx_n = col2im(Wᵀ · dOut_n).
    // Each thread owns a fixed block of images and its own dW partial sum; the partials are
    // added in block order, so the result does not depend on thread timing.
    let blocks = n.min(num_threads()).max(1);
    let per_block = n.div_ceil(blocks);
    let threads = gemm_threads(n);
    // Winograd's path keeps its weight gradient as dU, `[16][c][o]`, until the end.
    let wino = winograd::plan(g, wd, o);
    let dw_len = wino.as_ref().map_or(o * k, Winograd::du_len);
    // Each block returns its dWᵀ partial sum followed by its db partial sum (Σ of each
    // output channel's gradient over its pixels), also taken while dOut_n is in cache.
    let run_block = |blk: usize, mut dx: Option<&mut [f32]>| -> Vec<f32> {
        vectorized(
            #[inline(always)]
            || {
                let mut acc = vec![0.0; dw_len + o];
                // Fully written by im2col, then by the dcol product: no need to zero it.
                let mut col = buffers::take(if wino.is_some() { 0 } else { g.col_len() });
                let mut wino_scratch = wino.as_ref().map(|wg| wg.scratch(dx.is_some()));
                let mut scratch = buffers::take(source.scratch_len());
                for (local, img) in (blk * per_block..((blk + 1) * per_block).min(n)).enumerate() {
                    let dout = source.image(img, &mut scratch);
                    for (db, row) in acc[dw_len..].iter_mut().zip(dout.chunks(ohw)) {
                        *db += sum_zip(row, row, |v, _| v);
                    }
                    let image = &xd[img * g.image_len()..(img + 1) * g.image_len()];
                    let dx_image = dx
                        .as_deref_mut()
                        .map(|dx| &mut dx[local * g.image_len()..(local + 1) * g.image_len()]);
                    if let (Some(wg), Some(s)) = (&wino, &mut wino_scratch) {
                        wg.backward_image(s, image, dout, &mut acc[..dw_len], dx_image, threads);
                        continue;
                    }
                    im2col(g, image, &mut col);
                    // dWᵀ, `[k, o]`: contiguous along the channels, a full micro-kernel
                    // panel (see `sgemm_col_major`); transposed once at the end.
                    sgemm_col_major(
                        o,
                        k,
                        ohw,
                        Mat::rows(dout, ohw),
                        Mat::transposed(&col, ohw),
                        &mut acc[..o * k],
                        true,
                        threads,
                    );
                    if let Some(dx) = dx_image {
                        // `col` is free again: reuse it for dcol.
                        sgemm(
                            k,
                            ohw,
                            o,
                            Mat::transposed(wd, k),
                            Mat::rows(dout, ohw),
                            &mut col,
                            false,
                            threads,
                        );
                        // Zeroed here, per image and on this thread, while it is about
                        // to be written anyway: a zeroed buffer for the whole batch cost one
                        // more pass over memory, on one thread.
                        dx.fill(0.0);
                        col2im(g, &mut col, dx);
                    }
                }
                buffers::recycle(col);
                buffers::recycle(scratch);
                if let Some(s) = wino_scratch {
                    s.recycle();
                }
                acc
            },
        )
    };
    let mut gx = want_dx.then(|| buffers::take(n * g.image_len())); // zeroed image by image
    let partials: Vec<Vec<f32>> = super::parallel(|| match gx.as_mut() {
        Some(gx) => gx
            .par_chunks_mut(per_block * g.image_len())
            .enumerate()
            .map(|(blk, dx)| run_block(blk, Some(dx)))
            .collect(),
        None => (0..blocks)
            .into_par_iter()
            .map(|blk| run_block(blk, None))
            .collect(),
    });
    let mut partials = partials.into_iter();
    let mut sums = partials.next().expect("at least one block");
    for p in partials {
        sums.iter_mut().zip(&p).for_each(|(a, b)| *a += b);
    }
    let db = sums.split_off(dw_len);
    if let Some(wg) = &wino {
        return (gx, wg.weight_grad(&sums), db);
    }
    let mut gw = vec![0.0; o * k];
    transpose_add_bias(&sums, k, o, None, &mut gw);
    (gx, gw, db)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_columns_cover_exactly_the_pixels_inside_the_image() {
        for (w, k, s, p) in [
            (7, 3, 1, 1),
            (7, 3, 2, 0),
            (7, 3, 2, 1),
            (8, 5, 1, 2),
            (5, 1, 1, 0),
            (6, 3, 3, 2),
        ] {
            let g = Geometry::new(&[1, 1, 1, w], &[1, 1, 1, k], s, p);
            for j in 0..k {
                let (lo, hi) = g.valid_cols(j);
                for ox in 0..g.ow {
                    let ix = (ox * s + j) as isize - p as isize;
                    let inside = ix >= 0 && ix < w as isize;
                    assert_eq!(
                        inside,
                        (lo..hi).contains(&ox),
                        "w {w} k {k} s {s} p {p} j {j} ox {ox}"
                    );
                }
            }
        }
    }
}
