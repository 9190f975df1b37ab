//! Winograd's F(2×2, 3×3): the fast path for 3×3, stride-1 convolutions with enough channels
//! (conv2 of the mnist_bn CNN), which computes each 2×2 block of outputs with 16
//! multiplications per channel pair instead of 36.
//!
//! The output is cut into 2×2 tiles, each read from a 4×4 window of the input. Then, with
//! fixed small matrices `Bᵀ`, `G` and `Aᵀ` (Lavin and Gray, 2015):
//!
//! ```text
//! V = Bᵀ·d·B        the input window, transformed       (per input channel, per tile)
//! U = G·g·Gᵀ        the 3×3 filter, transformed         (per output, input channel pair)
//! M[ξ] = U[ξ]·V[ξ]  one matrix product per ξ of the 16 positions of the 4×4 transform
//! Y = Aᵀ·M·A        the 2×2 output tile
//! ```
//!
//! Backward is the exact adjoint of each step: `dM = A·dY·Aᵀ`, `dU[ξ] += dM[ξ]·V[ξ]ᵀ`,
//! `dV[ξ] = U[ξ]ᵀ·dM[ξ]`, `dx += B·dV·Bᵀ` and `dW = Gᵀ·dU·G`, so the gradients are those of
//! this very function. The 16 products run on `gemm` and carry 2.25× fewer multiply-adds
//! than im2col's single product; the transforms are adds and subtracts over whole vectors
//! of channels, for which every image is first transposed to pixel-major (`[pixel,
//! channel]`) order.
//!
//! The result differs from the direct sum by rounding only (the twin test below checks it
//! against the plain loops of `ops/conv.rs`, and the PyTorch fixtures cover it). Setting
//! `KINDLING_CONV=im2col` in the environment turns this path off.

use std::sync::OnceLock;

use super::buffers;
use super::gemm::{sgemm_col_major, Mat};
use super::transpose::transpose_add_bias;
use crate::ops::conv::Geometry;

/// The transforms work on this many channels at once: one 512-bit vector.
const L: usize = 16;
type Lanes = [f32; L];

/// Whether this convolution takes the Winograd path: a 3×3 kernel at stride 1, and at least
/// 16 input and output channels, below which the 16 small products cannot keep the
/// multiply-add units busy (conv1, with one input channel, stays on im2col).
pub(super) fn applies(g: &Geometry, o: usize) -> bool {
    g.kh == 3 && g.kw == 3 && g.stride == 1 && g.c >= 16 && o >= 16 && enabled()
}

/// The transformed filters for this convolution when it takes the Winograd path. Built once
/// per call and shared by the threads.
pub(super) fn plan(g: &Geometry, w: &[f32], o: usize) -> Option<Winograd> {
    applies(g, o).then(|| Winograd::new(g, w, o))
}

/// `KINDLING_CONV=im2col` turns the Winograd path off; `winograd` (or nothing) leaves it on.
/// Read once; another value is ignored with a warning on stderr, as `KINDLING_ISA` does.
fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| {
        let Ok(v) = std::env::var("KINDLING_CONV") else {
            return true;
        };
        match v.trim().to_ascii_lowercase().as_str() {
            "im2col" => false,
            "" | "winograd" => true,
            other => {
                eprintln!(
                    "kindling: KINDLING_CONV={other:?} is not one of winograd, im2col; \
                     using winograd"
                );
                true
            }
        }
    })
}

/// One convolution's sizes and its transformed filters `U`, in two layouts.
pub(super) struct Winograd {
    c: usize,
    o: usize,
    h: usize,
    w: usize,
    pad: usize,
    oh: usize,
    ow: usize,
    /// Tiles down and across the output.
    th: usize,
    tw: usize,
    /// `U` as `[16][o][c]`, and as `[16][c][o]` (`u_t`). gemm reads a left operand in place,
    /// without first copying it into panels, when its rows are contiguous (element (i, k) at
    /// `i + k·stride`): `u_t` is that for the forward product `U·V`, `u` for the backward
    /// `Uᵀ·dM`. Measured per image at conv2's shapes with AVX-512: the forward's 16 products
    /// took 27 µs reading `u_t` against 40 µs reading `u`.
    u: Vec<f32>,
    u_t: Vec<f32>,
}

/// One thread's working buffers, each a whole image's worth.
pub(super) struct Scratch {
    x: Vec<f32>,  // the image, pixel-major: [h·w][c]
    v: Vec<f32>,  // V, [16][tile][c]
    m: Vec<f32>,  // M or dM, [16][tile][o]
    y: Vec<f32>,  // the output or its gradient, pixel-major: [oh·ow][o]
    dv: Vec<f32>, // dV, [16][tile][c]
    dx: Vec<f32>, // the input gradient, pixel-major: [h·w][c]
}

impl Winograd {
    /// Transforms the filters `w` (`[o, c, 3, 3]`).
    pub(super) fn new(g: &Geometry, w: &[f32], o: usize) -> Self {
        let c = g.c;
        // From the buffer pool (every element is written below): two fresh 128 KiB vectors
        // per call cost page faults.
        let (mut u, mut u_t) = (buffers::take(16 * o * c), buffers::take(16 * o * c));
        // Each output channel's filters turned to `[tap][c]`, so that `U = G·g·Gᵀ` runs
        // over vectors of input channels like the other transforms.
        let mut taps = buffers::take(9 * c);
        let rows: [Option<usize>; 9] = [0, 1, 2, 3, 4, 5, 6, 7, 8].map(Some);
        let (mut part, mut out) = ([[0.0; L]; 9], [[0.0; L]; 16]);
        super::vectorized(
            #[inline(always)]
            || {
                for (oc, filters) in w.chunks_exact(c * 9).enumerate() {
                    transpose_add_bias(filters, c, 9, None, &mut taps);
                    for l0 in (0..c).step_by(L) {
                        let width = L.min(c - l0);
                        let src = gather(&taps, &rows, c, l0, width, &mut part);
                        per_lane(&src, &mut out, filter_transform);
                        for (xi, v) in out.iter().enumerate() {
                            let at = (xi * o + oc) * c + l0;
                            put(&mut u[at..at + width], v);
                        }
                    }
                }
            },
        );
        buffers::recycle(taps);
        // Written block by block here: filling it in the loop above strode across all of it.
        for (block, block_t) in u.chunks_exact(o * c).zip(u_t.chunks_exact_mut(o * c)) {
            transpose_add_bias(block, o, c, None, block_t);
        }
        Winograd {
            c,
            o,
            h: g.h,
            w: g.w,
            pad: g.pad,
            oh: g.oh,
            ow: g.ow,
            th: g.oh.div_ceil(2),
            tw: g.ow.div_ceil(2),
            u,
            u_t,
        }
    }

    fn tiles(&self) -> usize {
        self.th * self.tw
    }

    /// Length of one `dU` partial sum, `[16][c][o]`.
    pub(super) fn du_len(&self) -> usize {
        16 * self.c * self.o
    }

    /// Buffers for `forward_image` (and `backward_image` when `backward`).
    pub(super) fn scratch(&self, backward: bool) -> Scratch {
        let (t, c, o) = (self.tiles(), self.c, self.o);
        let grad = |len: usize| buffers::take(if backward { len } else { 0 });
        Scratch {
            x: buffers::take(self.h * self.w * c),
            v: buffers::take(16 * t * c),
            m: buffers::take(16 * t * o),
            y: buffers::take(self.oh * self.ow * o),
            dv: grad(16 * t * c),
            dx: grad(self.h * self.w * c),
        }
    }

    /// Convolves one image (`[c, h, w]`) into `out` (`[o, oh, ow]`), plus the bias.
    #[inline(always)]
    pub(super) fn forward_image(
        &self,
        s: &mut Scratch,
        image: &[f32],
        bias: Option<&[f32]>,
        out: &mut [f32],
        threads: usize,
    ) {
        let (c, o, t) = (self.c, self.o, self.tiles());
        self.transform_input(s, image);
        for xi in 0..16 {
            sgemm_col_major(
                o,
                t,
                c,
                Mat::transposed(&self.u_t[xi * o * c..(xi + 1) * o * c], o),
                Mat::transposed(&s.v[xi * t * c..(xi + 1) * t * c], c),
                &mut s.m[xi * t * o..(xi + 1) * t * o],
                false,
                threads,
            );
        }
        for tile in 0..t {
            self.output_tile(tile, &s.m, &mut s.y);
        }
        transpose_add_bias(&s.y, self.oh * self.ow, o, bias, out);
    }

    /// One image's share of the backward pass: adds its `dU` into `du` (`[16][c][o]`), and
    /// writes its input gradient into `dx` (`[c, h, w]`) when there is one.
    #[inline(always)]
    pub(super) fn backward_image(
        &self,
        s: &mut Scratch,
        image: &[f32],
        dout: &[f32],
        du: &mut [f32],
        dx: Option<&mut [f32]>,
        threads: usize,
    ) {
        let (c, o, t) = (self.c, self.o, self.tiles());
        self.transform_input(s, image);
        transpose_add_bias(dout, o, self.oh * self.ow, None, &mut s.y);
        for tile in 0..t {
            self.output_tile_adjoint(tile, &s.y, &mut s.m);
        }
        for xi in 0..16 {
            let dm = &s.m[xi * t * o..(xi + 1) * t * o];
            sgemm_col_major(
                o,
                c,
                t,
                Mat::transposed(dm, o),
                Mat::rows(&s.v[xi * t * c..(xi + 1) * t * c], c),
                &mut du[xi * c * o..(xi + 1) * c * o],
                true,
                threads,
            );
        }
        let Some(dx) = dx else { return };
        for xi in 0..16 {
            sgemm_col_major(
                c,
                t,
                o,
                Mat::transposed(&self.u[xi * o * c..(xi + 1) * o * c], c),
                Mat::transposed(&s.m[xi * t * o..(xi + 1) * t * o], o),
                &mut s.dv[xi * t * c..(xi + 1) * t * c],
                false,
                threads,
            );
        }
        s.dx.fill(0.0);
        for tile in 0..t {
            self.input_tile_adjoint(tile, &s.dv, &mut s.dx);
        }
        transpose_add_bias(&s.dx, self.h * self.w, c, None, dx);
    }

    /// The weight gradient `[o, c, 3, 3]` from the summed `dU` (`[16][c][o]`): `Gᵀ·dU·G`.
    pub(super) fn weight_grad(&self, du: &[f32]) -> Vec<f32> {
        let (c, o) = (self.c, self.o);
        let mut gw = vec![0.0; o * c * 9];
        for oc in 0..o {
            for ic in 0..c {
                let d = |i: usize, j: usize| du[((i * 4 + j) * c + ic) * o + oc];
                // dt = dU·G (4×3), then dg = Gᵀ·dt (3×3): the adjoints of U's two steps.
                let mut dt = [[0.0f32; 3]; 4];
                for (i, dt) in dt.iter_mut().enumerate() {
                    let (d0, d1, d2, d3) = (d(i, 0), d(i, 1), d(i, 2), d(i, 3));
                    *dt = [
                        d0 + 0.5 * d1 + 0.5 * d2,
                        0.5 * d1 - 0.5 * d2,
                        0.5 * d1 + 0.5 * d2 + d3,
                    ];
                }
                let at = (oc * c + ic) * 9;
                for b in 0..3 {
                    let (t0, t1, t2, t3) = (dt[0][b], dt[1][b], dt[2][b], dt[3][b]);
                    gw[at + b] = t0 + 0.5 * t1 + 0.5 * t2;
                    gw[at + 3 + b] = 0.5 * t1 - 0.5 * t2;
                    gw[at + 6 + b] = 0.5 * t1 + 0.5 * t2 + t3;
                }
            }
        }
        gw
    }

    /// The input pixel under position (r, s) of tile `tile`'s 4×4 window, if inside.
    #[inline(always)]
    fn input_pixel(&self, tile: usize, r: usize, s: usize) -> Option<usize> {
        let y = (2 * (tile / self.tw) + r).checked_sub(self.pad)?;
        let x = (2 * (tile % self.tw) + s).checked_sub(self.pad)?;
        (y < self.h && x < self.w).then_some(y * self.w + x)
    }

    /// The output pixel at (i, j) of tile `tile`, if inside (odd sizes cut the last tiles).
    #[inline(always)]
    fn output_pixel(&self, tile: usize, i: usize, j: usize) -> Option<usize> {
        let (y, x) = (2 * (tile / self.tw) + i, 2 * (tile % self.tw) + j);
        (y < self.oh && x < self.ow).then_some(y * self.ow + x)
    }

    /// The image into pixel-major order, then `V = Bᵀ·d·B` for every tile.
    #[inline(always)]
    fn transform_input(&self, s: &mut Scratch, image: &[f32]) {
        let (c, t) = (self.c, self.tiles());
        transpose_add_bias(image, c, self.h * self.w, None, &mut s.x);
        let (mut part, mut out) = ([[0.0; L]; 16], [[0.0; L]; 16]);
        for tile in 0..t {
            let pixels: [Option<usize>; 16] = grid(|r, s| self.input_pixel(tile, r, s));
            for l0 in (0..c).step_by(L) {
                let width = L.min(c - l0);
                let src = gather(&s.x, &pixels, c, l0, width, &mut part);
                per_lane(&src, &mut out, input_transform);
                for (xi, v) in out.iter().enumerate() {
                    let at = (xi * t + tile) * c + l0;
                    put(&mut s.v[at..at + width], v);
                }
            }
        }
    }

    /// `Y = Aᵀ·M·A` for one tile, into the pixel-major output.
    #[inline(always)]
    fn output_tile(&self, tile: usize, m: &[f32], y: &mut [f32]) {
        let (o, t) = (self.o, self.tiles());
        let rows: [Option<usize>; 16] = grid(|r, s| Some((4 * r + s) * t + tile));
        let (mut part, mut out) = ([[0.0; L]; 16], [[0.0; L]; 4]);
        for l0 in (0..o).step_by(L) {
            let width = L.min(o - l0);
            let src = gather(m, &rows, o, l0, width, &mut part);
            per_lane(&src, &mut out, output_transform);
            for (k, v) in out.iter().enumerate() {
                if let Some(p) = self.output_pixel(tile, k / 2, k % 2) {
                    put(&mut y[p * o + l0..p * o + l0 + width], v);
                }
            }
        }
    }

    /// `dM = A·dY·Aᵀ` for one tile, from the pixel-major output gradient.
    #[inline(always)]
    fn output_tile_adjoint(&self, tile: usize, dy: &[f32], dm: &mut [f32]) {
        let (o, t) = (self.o, self.tiles());
        let mut pixels = [None; 4];
        for (k, p) in pixels.iter_mut().enumerate() {
            *p = self.output_pixel(tile, k / 2, k % 2);
        }
        let (mut part, mut out) = ([[0.0; L]; 4], [[0.0; L]; 16]);
        for l0 in (0..o).step_by(L) {
            let width = L.min(o - l0);
            let src = gather(dy, &pixels, o, l0, width, &mut part);
            per_lane(&src, &mut out, output_transform_adjoint);
            for (xi, v) in out.iter().enumerate() {
                let at = (xi * t + tile) * o + l0;
                put(&mut dm[at..at + width], v);
            }
        }
    }

    /// `dx += B·dV·Bᵀ` for one tile, into the pixel-major input gradient.
    #[inline(always)]
    fn input_tile_adjoint(&self, tile: usize, dv: &[f32], dx: &mut [f32]) {
        let (c, t) = (self.c, self.tiles());
        let rows: [Option<usize>; 16] = grid(|r, s| Some((4 * r + s) * t + tile));
        let pixels: [Option<usize>; 16] = grid(|r, s| self.input_pixel(tile, r, s));
        let (mut part, mut out) = ([[0.0; L]; 16], [[0.0; L]; 16]);
        for l0 in (0..c).step_by(L) {
            let width = L.min(c - l0);
            let src = gather(dv, &rows, c, l0, width, &mut part);
            per_lane(&src, &mut out, input_transform_adjoint);
            for (v, p) in out.iter().zip(pixels) {
                if let Some(p) = p {
                    let dst = &mut dx[p * c + l0..p * c + l0 + width];
                    dst.iter_mut().zip(v).for_each(|(d, v)| *d += v);
                }
            }
        }
    }
}

/// Stores the first `dst.len()` lanes of `v`. A whole vector is copied as one (a copy of a
/// length known only at run time would call `memcpy`).
#[inline(always)]
fn put(dst: &mut [f32], v: &Lanes) {
    if let Ok(dst) = <&mut Lanes>::try_from(&mut *dst) {
        *dst = *v;
    } else {
        dst.copy_from_slice(&v[..dst.len()]);
    }
}

/// The 16 values of a 4×4 grid, row-major.
#[inline(always)]
fn grid<T: Copy + Default>(f: impl Fn(usize, usize) -> T) -> [T; 16] {
    let mut out = [T::default(); 16];
    for (k, v) in out.iter_mut().enumerate() {
        *v = f(k / 4, k % 4);
    }
    out
}

/// For each of `rows` (a row of `stride` floats of `data`, or None for zeros), the vector of
/// `width` floats from column `l0`. Whole vectors are read in place; a ragged last one is
/// copied into `part` and zero-padded.
#[inline(always)]
fn gather<'a, const N: usize>(
    data: &'a [f32],
    rows: &[Option<usize>; N],
    stride: usize,
    l0: usize,
    width: usize,
    part: &'a mut [Lanes; N],
) -> [&'a Lanes; N] {
    const ZERO: &Lanes = &[0.0; L];
    if width < L {
        for (part, row) in part.iter_mut().zip(rows) {
            *part = [0.0; L];
            if let Some(r) = row {
                let at = r * stride + l0;
                part[..width].copy_from_slice(&data[at..at + width]);
            }
        }
        let part: &'a [Lanes; N] = part;
        let mut out = [ZERO; N];
        for (out, part) in out.iter_mut().zip(part) {
            *out = part;
        }
        return out;
    }
    let mut out = [ZERO; N];
    for (out, row) in out.iter_mut().zip(rows) {
        if let Some(r) = row {
            let at = r * stride + l0;
            *out = data[at..at + L].try_into().expect("a whole vector");
        }
    }
    out
}

/// Applies the scalar transform `f` lane by lane: lane `l` of each output is `f` of lane `l`
/// of the inputs. Written this way, the loop becomes one vector instruction per step of `f`.
#[inline(always)]
fn per_lane<const I: usize, const O: usize>(
    src: &[&Lanes; I],
    dst: &mut [Lanes; O],
    f: impl Fn(&[f32; I]) -> [f32; O],
) {
    for l in 0..L {
        let mut x = [0.0; I];
        for (x, src) in x.iter_mut().zip(src) {
            *x = src[l];
        }
        let y = f(&x);
        for (dst, y) in dst.iter_mut().zip(y) {
            dst[l] = y;
        }
    }
}

impl Drop for Winograd {
    fn drop(&mut self) {
        buffers::recycle(std::mem::take(&mut self.u));
        buffers::recycle(std::mem::take(&mut self.u_t));
    }
}

impl Scratch {
    pub(super) fn recycle(self) {
        for v in [self.x, self.v, self.m, self.y, self.dv, self.dx] {
            buffers::recycle(v);
        }
    }
}

/// `Bᵀ·x` for a column of four: `Bᵀ = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]`.
#[inline(always)]
fn bt([x0, x1, x2, x3]: [f32; 4]) -> [f32; 4] {
    [x0 - x2, x1 + x2, x2 - x1, x1 - x3]
}

/// `B·x`, the transpose of `bt`.
#[inline(always)]
fn b([x0, x1, x2, x3]: [f32; 4]) -> [f32; 4] {
    [x0, x1 - x2 + x3, x1 + x2 - x0, -x3]
}

/// `Aᵀ·x`: four values to two, `Aᵀ = [[1, 1, 1, 0], [0, 1, -1, -1]]`.
#[inline(always)]
fn at([x0, x1, x2, x3]: [f32; 4]) -> [f32; 2] {
    [x0 + x1 + x2, x1 - x2 - x3]
}

/// `A·y`, the transpose of `at`: two values to four.
#[inline(always)]
fn a([y0, y1]: [f32; 2]) -> [f32; 4] {
    [y0, y0 + y1, y0 - y1, -y1]
}

/// Row `i` of a row-major 4×4.
#[inline(always)]
fn row(m: &[f32; 16], i: usize) -> [f32; 4] {
    [m[4 * i], m[4 * i + 1], m[4 * i + 2], m[4 * i + 3]]
}

/// Column `j` of a row-major 4×4.
#[inline(always)]
fn col(m: &[f32; 16], j: usize) -> [f32; 4] {
    [m[j], m[4 + j], m[8 + j], m[12 + j]]
}

/// `G·g·Gᵀ` of a 3×3 filter `g` (row-major), as a row-major 4×4.
/// `G = [[1, 0, 0], [½, ½, ½], [½, -½, ½], [0, 0, 1]]`.
#[inline(always)]
fn filter_transform(g: &[f32; 9]) -> [f32; 16] {
    let gm = |[x0, x1, x2]: [f32; 3]| [x0, 0.5 * (x0 + x1 + x2), 0.5 * (x0 - x1 + x2), x2];
    let mut t = [0.0; 12]; // G·g, 4×3
    for j in 0..3 {
        for (i, v) in gm([g[j], g[3 + j], g[6 + j]]).into_iter().enumerate() {
            t[3 * i + j] = v;
        }
    }
    let mut u = [0.0; 16];
    for i in 0..4 {
        u[4 * i..4 * i + 4].copy_from_slice(&gm([t[3 * i], t[3 * i + 1], t[3 * i + 2]]));
    }
    u
}

/// `Bᵀ·d·B` of a 4×4 input window `d` (row-major): `Bᵀ` down each column, then along each row.
#[inline(always)]
fn input_transform(d: &[f32; 16]) -> [f32; 16] {
    let mut e = [0.0; 16];
    for j in 0..4 {
        for (i, v) in bt(col(d, j)).into_iter().enumerate() {
            e[4 * i + j] = v;
        }
    }
    let mut v = [0.0; 16];
    for i in 0..4 {
        v[4 * i..4 * i + 4].copy_from_slice(&bt(row(&e, i)));
    }
    v
}

/// The adjoint of `input_transform`: `B·dV·Bᵀ`, the two steps transposed and reversed.
#[inline(always)]
fn input_transform_adjoint(dv: &[f32; 16]) -> [f32; 16] {
    let mut e = [0.0; 16];
    for i in 0..4 {
        e[4 * i..4 * i + 4].copy_from_slice(&b(row(dv, i)));
    }
    let mut d = [0.0; 16];
    for j in 0..4 {
        for (i, v) in b(col(&e, j)).into_iter().enumerate() {
            d[4 * i + j] = v;
        }
    }
    d
}

/// `Aᵀ·M·A` of a 4×4 `m` (row-major), as the 2×2 output tile `[y00, y01, y10, y11]`.
#[inline(always)]
fn output_transform(m: &[f32; 16]) -> [f32; 4] {
    let (mut f0, mut f1) = ([0.0; 4], [0.0; 4]);
    for j in 0..4 {
        [f0[j], f1[j]] = at(col(m, j));
    }
    let ([y00, y01], [y10, y11]) = (at(f0), at(f1));
    [y00, y01, y10, y11]
}

/// The adjoint of `output_transform`: `A·dY·Aᵀ` of the 2×2 `dy`, as a row-major 4×4.
#[inline(always)]
fn output_transform_adjoint(dy: &[f32; 4]) -> [f32; 16] {
    let (h0, h1) = (a([dy[0], dy[1]]), a([dy[2], dy[3]]));
    let mut d = [0.0; 16];
    for j in 0..4 {
        for (i, v) in a([h0[j], h1[j]]).into_iter().enumerate() {
            d[4 * i + j] = v;
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(len: usize, salt: usize) -> Vec<f32> {
        (0..len)
            .map(|i| (((i * salt + 3) % 17) as f32 - 8.0) * 0.25)
            .collect()
    }

    fn dot(a: &[f32], b: &[f32]) -> f64 {
        a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
    }

    /// Each adjoint is the transpose of its forward step: `⟨T·x, y⟩ = ⟨x, Tᵀ·y⟩` for any x
    /// and y. Checked on every basis vector, which pins the transposed matrix down exactly.
    #[test]
    fn each_backward_transform_is_the_transpose_of_its_forward_one() {
        for i in 0..16 {
            for j in 0..16 {
                let (mut x, mut y) = ([0.0; 16], [0.0; 16]);
                x[i] = 1.0;
                y[j] = 1.0;
                assert_eq!(
                    dot(&input_transform(&x), &y),
                    dot(&x, &input_transform_adjoint(&y))
                );
            }
            for j in 0..4 {
                let (mut m, mut dy) = ([0.0; 16], [0.0; 4]);
                m[i] = 1.0;
                dy[j] = 1.0;
                let forward = dot(&output_transform(&m), &dy);
                assert_eq!(forward, dot(&m, &output_transform_adjoint(&dy)));
            }
        }
        // The filter transform U = G·g·Gᵀ and `weight_grad`'s Gᵀ·dU·G, through the public
        // entry points on one (output, input) channel pair of a 16-channel convolution.
        let g = Geometry::new(&[1, 16, 4, 4], &[16, 16, 3, 3], 1, 1);
        for tap in 0..9 {
            let mut w = vec![0.0; 16 * 16 * 9];
            w[tap] = 1.0; // output channel 0, input channel 0
            let wg = Winograd::new(&g, &w, 16);
            for xi in 0..16 {
                let mut du = vec![0.0; wg.du_len()];
                du[xi * 16 * 16] = 1.0; // ξ, input channel 0, output channel 0
                let forward = wg.u[xi * 16 * 16] as f64;
                assert_eq!(
                    forward,
                    wg.weight_grad(&du)[tap] as f64,
                    "tap {tap}, ξ {xi}"
                );
            }
        }
    }

    /// A hand-derived case. A 4×4 image of ones in 16 channels, padded by 1, and filters of
    /// ones that connect each output channel to the input channel of the same number: every
    /// output counts the taps that land inside the image, 4 at a corner, 6 along an edge and
    /// 9 inside. With an upstream gradient of ones, each filter tap's gradient counts the
    /// outputs whose input under that tap is inside: 9 at a corner tap, 12 at an edge tap
    /// and 16 at the centre; and each input pixel's gradient counts the outputs it feeds,
    /// the same 4, 6 and 9 as the forward.
    #[test]
    fn a_box_filter_counts_the_taps_inside_the_image() {
        let (n, c, o) = (1, 16, 16);
        let g = Geometry::new(&[n, c, 4, 4], &[o, c, 3, 3], 1, 1);
        assert!(applies(&g, o) || !enabled());
        let x = vec![1.0; c * 16];
        let mut w = vec![0.0; o * c * 9];
        for ch in 0..c {
            w[(ch * c + ch) * 9..(ch * c + ch + 1) * 9].fill(1.0);
        }
        let counts = [
            4.0, 6.0, 6.0, 4.0, 6.0, 9.0, 9.0, 6.0, 6.0, 9.0, 9.0, 6.0, 4.0, 6.0, 6.0, 4.0,
        ];
        let out = super::super::conv::conv2d_forward(&g, &x, &w, None, n, o);
        for plane in out.chunks(16) {
            assert_eq!(plane, counts);
        }
        let ones = vec![1.0; out.len()];
        let (dx, dw, db) = super::super::conv::conv2d_backward(&g, &ones, &x, &w, n, o, true);
        for plane in dx.expect("dx was asked for").chunks(16) {
            assert_eq!(plane, counts);
        }
        let taps = [9.0, 12.0, 9.0, 12.0, 16.0, 12.0, 9.0, 12.0, 9.0];
        for filter in dw.chunks(9) {
            assert_eq!(filter, taps);
        }
        assert_eq!(db, vec![16.0; o]);
    }

    /// Winograd's path against the plain loops of `ops/conv.rs`, on sizes the tiles do not
    /// divide, with the upstream gradient and data non-uniform.
    #[test]
    fn agrees_with_the_reference_convolution() {
        for (n, c, h, w, o, pad) in [
            (2, 16, 6, 5, 16, 1),
            (1, 18, 7, 7, 20, 0),
            (1, 16, 3, 4, 17, 2),
        ] {
            let g = Geometry::new(&[n, c, h, w], &[o, c, 3, 3], 1, pad);
            let (x, wt, b) = (values(n * c * h * w, 7), values(o * c * 9, 5), values(o, 3));
            let close = |what: &str, a: &[f32], r: &[f32]| {
                assert_eq!(a.len(), r.len());
                for (i, (x, y)) in a.iter().zip(r).enumerate() {
                    assert!(
                        (x - y).abs() <= 1e-4 * (1.0 + y.abs()),
                        "{what}[{i}]: {x} vs {y}"
                    );
                }
            };
            let wg = Winograd::new(&g, &wt, o);
            let mut s = wg.scratch(true);
            let (ohw, plane) = (g.oh * g.ow, h * w);
            let reference = crate::ops::conv::conv2d_reference(&g, &x, &wt, Some(&b), n, o);
            let dout = values(reference.len(), 11);
            let (rx, rw, _) =
                crate::ops::conv::conv2d_backward_reference(&g, &dout, &x, &wt, n, o, true);
            let (mut du, mut dx) = (vec![0.0; wg.du_len()], vec![0.0; n * c * plane]);
            for img in 0..n {
                let image = &x[img * c * plane..(img + 1) * c * plane];
                let mut out = vec![0.0; o * ohw];
                wg.forward_image(&mut s, image, Some(&b), &mut out, 1);
                close("out", &out, &reference[img * o * ohw..(img + 1) * o * ohw]);
                let dx_image = &mut dx[img * c * plane..(img + 1) * c * plane];
                let dout = &dout[img * o * ohw..(img + 1) * o * ohw];
                wg.backward_image(&mut s, image, dout, &mut du, Some(dx_image), 1);
            }
            close("dx", &dx, &rx.expect("dx was asked for"));
            close("dw", &wg.weight_grad(&du), &rw);
            s.recycle();
        }
    }
}
