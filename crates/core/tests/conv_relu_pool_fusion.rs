//! `conv2d_relu_max_pool2d` is `conv2d`, `relu` and `max_pool2d` as one op, so it must give
//! the same bits: the output and the gradients of x, weight and bias, with and without a
//! bias, for the CNN's shapes and for odd sizes, strided convolutions, overlapping pooling
//! windows and a single image (fewer images than threads), with both the fast and the
//! reference kernels. Also a gradcheck and the panics.
//!
//! The kernel switch is process-wide, so the one test that flips it runs both modes itself,
//! one after the other; the other tests give the same answer in either mode.

use kindling_core::autograd::{gradcheck, GradcheckOptions};
use kindling_core::kernels::{set_kernels, Kernels};
use kindling_core::rng::Xoshiro256;
use kindling_core::Tensor;

fn bits(t: &Tensor) -> Vec<u32> {
    t.to_vec().iter().map(|v| v.to_bits()).collect()
}

/// Uniform values in [-1, 1) scaled by `scale`, with some exact zeros (ties, closed
/// windows).
fn values(len: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut rng = Xoshiro256::seed_from(seed);
    (0..len)
        .map(|i| {
            let v = (rng.next_f32() * 2.0 - 1.0) * scale;
            if i % 13 == 0 {
                0.0
            } else {
                v
            }
        })
        .collect()
}

/// One case: input shape, filters, conv kernel, stride, padding, pooling kernel and stride,
/// bias or not.
#[derive(Clone, Copy, Debug)]
struct Case {
    x: [usize; 4],
    o: usize,
    k: usize,
    stride: usize,
    pad: usize,
    pool: usize,
    pool_stride: usize,
    bias: bool,
}

#[derive(Debug, PartialEq)]
struct Run {
    out: Vec<u32>,
    grads: Vec<Vec<u32>>,
    op: Option<&'static str>,
}

/// One forward and backward pass, fused or not, with a varied upstream gradient (zeros and
/// -0.0 among it) so that a gradient sent to the wrong place is seen.
fn run(c: Case, seed: u64, fused: bool) -> Run {
    let [n, ch, h, w] = c.x;
    let x = Tensor::from_vec(values(n * ch * h * w, seed, 1.0), &c.x).requires_grad(true);
    let wshape = [c.o, ch, c.k, c.k];
    let scale = 1.0 / ((ch * c.k * c.k) as f32).sqrt();
    let weight = Tensor::from_vec(values(wshape.iter().product(), seed + 100, scale), &wshape)
        .requires_grad(true);
    let bias = c
        .bias
        .then(|| Tensor::from_vec(values(c.o, seed + 200, 0.3), &[c.o]).requires_grad(true));
    let y = if fused {
        x.conv2d_relu_max_pool2d(
            &weight,
            bias.as_ref(),
            c.stride,
            c.pad,
            c.pool,
            c.pool_stride,
        )
    } else {
        x.conv2d(&weight, bias.as_ref(), c.stride, c.pad)
            .relu()
            .max_pool2d(c.pool, c.pool_stride)
    };
    let op = y.op_name();
    let upstream: Vec<f32> = (0..y.numel())
        .map(|i| match i % 7 {
            0 => 0.0,
            1 => -0.0,
            k => (k as f32 - 3.5) * (1.0 + i as f32 * 0.01),
        })
        .collect();
    (&y * &Tensor::from_vec(upstream, y.shape()))
        .sum()
        .backward();
    let mut grads = vec![bits(&x.grad().unwrap()), bits(&weight.grad().unwrap())];
    grads.extend(bias.iter().map(|b| bits(&b.grad().unwrap())));
    Run {
        out: bits(&y),
        grads,
        op,
    }
}

#[test]
fn fused_equals_the_three_ops_bit_for_bit_with_both_kernels() {
    let case = |x, o, k, stride, pad, pool, pool_stride, bias| Case {
        x,
        o,
        k,
        stride,
        pad,
        pool,
        pool_stride,
        bias,
    };
    let cases = [
        case([4, 1, 28, 28], 32, 3, 1, 1, 2, 2, true), // the CNN's first block
        case([3, 32, 14, 14], 64, 3, 1, 1, 2, 2, true), // its second
        case([2, 3, 7, 7], 5, 3, 1, 1, 2, 2, true),    // odd: last row and column unpooled
        case([2, 2, 9, 8], 4, 3, 2, 1, 2, 2, true),    // strided convolution
        case([2, 3, 8, 7], 4, 3, 1, 0, 3, 1, true),    // overlapping windows
        case([3, 2, 8, 8], 6, 3, 1, 1, 2, 2, false),   // no bias
        case([1, 3, 12, 12], 8, 3, 1, 1, 2, 2, true),  // one image, fewer than the threads
    ];
    let mut by_kernels = Vec::new();
    for kernels in [Kernels::Fast, Kernels::Reference] {
        set_kernels(kernels);
        let mut runs = Vec::new();
        let mut closed = 0;
        for (seed, &c) in cases.iter().enumerate() {
            let what = format!("{kernels:?} {c:?}");
            let fused = run(c, seed as u64, true);
            let plain = run(c, seed as u64, false);
            assert_eq!(fused.op, Some("Conv2dReluMaxPool2d"), "{what}");
            assert_eq!(plain.op, Some("MaxPool2d"), "{what}");
            assert_eq!(fused.out, plain.out, "{what}: outputs");
            assert_eq!(fused.grads.len(), if c.bias { 3 } else { 2 }, "{what}");
            for (i, (f, p)) in fused.grads.iter().zip(&plain.grads).enumerate() {
                assert_eq!(f, p, "{what}: gradient {i} (x, weight, bias)");
            }
            // The data reaches the corners it was made for: closed windows, and gradients
            // that are not all zero.
            let f = |b: &u32| f32::from_bits(*b);
            closed += fused.out.iter().filter(|b| f(b) == 0.0).count();
            assert!(fused.out.iter().any(|b| f(b) > 0.0), "{what}: no positive");
            for g in &fused.grads {
                assert!(g.iter().any(|b| f(b) != 0.0), "{what}: zero gradient");
            }
            runs.push(fused);
        }
        assert!(closed > 0, "{kernels:?}: no window closed by the ReLU");
        by_kernels.push(runs);
    }
    set_kernels(Kernels::Fast);
    // The two kernel sets sum in different orders, so they need not agree to the bit.
    for (f, r) in by_kernels[0].iter().zip(&by_kernels[1]) {
        let close = f.out.iter().zip(&r.out).all(|(a, b)| {
            let (a, b) = (f32::from_bits(*a), f32::from_bits(*b));
            (a - b).abs() <= 1e-4 * (1.0 + b.abs())
        });
        assert!(close, "fast and reference kernels differ");
    }
}

#[test]
fn gradcheck_passes() {
    // Distinct, well-spread values so that no pooling window ties and no maximum sits near
    // 0 within a gradcheck nudge.
    let (n, c, h, w, o) = (2, 2, 6, 6, 2);
    let len = n * c * h * w;
    let x: Vec<f32> = (0..len)
        .map(|i| ((i * 37) % len) as f32 * 0.04 - 2.9)
        .collect();
    let x = Tensor::from_vec(x, &[n, c, h, w]);
    let weight = Tensor::from_vec(
        (0..o * c * 9)
            .map(|i| ((i * 11) % 19) as f32 * 0.1 - 0.85)
            .collect(),
        &[o, c, 3, 3],
    );
    let bias = Tensor::from_vec(vec![0.3, -0.25], &[o]);
    let weights: Vec<f32> = (0..n * o * 9).map(|i| 0.5 + (i % 5) as f32).collect();
    let weights = Tensor::from_vec(weights, &[n, o, 3, 3]);
    let inputs = [x, weight, bias];
    let report = gradcheck(
        |t| &t[0].conv2d_relu_max_pool2d(&t[1], Some(&t[2]), 1, 1, 2, 2) * &weights,
        &inputs,
        // A smaller step than the default: a nudged input moves up to 18 convolution
        // outputs, and none may cross a tie or 0 in its window.
        GradcheckOptions {
            eps: 2e-3,
            ..Default::default()
        },
    )
    .unwrap_or_else(|r| panic!("{r}"));
    assert_eq!(report.checked, len + o * c * 9 + o);
}

#[test]
fn the_panics_name_the_op_and_the_shape() {
    let msg = |f: fn() -> Tensor| {
        let err = std::panic::catch_unwind(f).unwrap_err();
        err.downcast_ref::<String>().unwrap().clone()
    };
    let m = msg(|| {
        Tensor::zeros(&[2, 1, 4, 4]).conv2d_relu_max_pool2d(
            &Tensor::zeros(&[3, 2, 3, 3]),
            None,
            1,
            1,
            2,
            2,
        )
    });
    assert!(
        m.starts_with("conv2d_relu_max_pool2d: input [2, 1, 4, 4] has 1"),
        "{m}"
    );
    let m = msg(|| {
        Tensor::zeros(&[2, 1, 4, 4]).conv2d_relu_max_pool2d(
            &Tensor::zeros(&[3, 1, 3, 3]),
            Some(&Tensor::zeros(&[2])),
            1,
            1,
            2,
            2,
        )
    });
    assert!(
        m.starts_with("conv2d_relu_max_pool2d: bias has shape [2]"),
        "{m}"
    );
    let m = msg(|| {
        Tensor::zeros(&[2, 1, 4, 4]).conv2d_relu_max_pool2d(
            &Tensor::zeros(&[3, 1, 3, 3]),
            None,
            1,
            0,
            3,
            3,
        )
    });
    assert!(m.starts_with("conv2d_relu_max_pool2d: kernel 3"), "{m}");
    assert!(m.contains("[2, 3, 2, 2]"), "{m}");
}
