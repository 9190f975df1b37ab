//! `batch_norm_relu_max_pool2d` is `batch_norm`, `relu` and `max_pool2d` as one op, so it
//! must give the same bits: outputs, updated running statistics, and the gradients of x,
//! weight and bias, in training (with and without running buffers) and eval, with and
//! without affine parameters, on data with ties, zeros and negative values, with both the
//! fast and the reference kernels. Also a gradcheck and a case worked by hand.
//!
//! The kernel switch is process-wide, so the one test that flips it runs both modes itself,
//! one after the other; the other tests give the same answer in either mode.

use kindling_core::autograd::gradcheck;
use kindling_core::kernels::{set_kernels, Kernels};
use kindling_core::rng::Xoshiro256;
use kindling_core::Tensor;

/// Values on a few levels (many ties after normalisation, zeros and negatives), with the
/// first plane's top-left corner pushed far below the rest (windows that ReLU closes).
fn awkward(shape: &[usize], seed: u64) -> Vec<f32> {
    let mut rng = Xoshiro256::seed_from(seed);
    let n: usize = shape.iter().product();
    let mut x: Vec<f32> = (0..n)
        .map(|_| match (rng.next_f32() * 12.0) as i32 {
            0 => -0.0,
            1..=3 => 0.0,
            k => (k - 7) as f32 * 0.75,
        })
        .collect();
    let w = shape[3];
    for y in 0..3.min(shape[2]) {
        for v in &mut x[y * w..y * w + 3.min(w)] {
            *v = -4.0 - y as f32;
        }
    }
    x
}

/// How the op is called in one case.
#[derive(Clone, Copy, Debug)]
struct Mode {
    training: bool,
    running: bool,
    affine: bool,
}

#[derive(Debug, PartialEq)]
struct Run {
    out: Vec<u32>,
    grads: Vec<Vec<u32>>,
    running: Vec<Vec<u32>>,
    op: Option<&'static str>,
}

/// The running mean every case starts from.
fn running_mean(c: usize) -> Tensor {
    Tensor::from_vec((0..c).map(|i| 0.1 * i as f32 - 0.2).collect(), &[c])
}

fn bits(t: &Tensor) -> Vec<u32> {
    t.to_vec().iter().map(|v| v.to_bits()).collect()
}

/// One forward and backward pass, fused or not, with a varied upstream gradient (zeros and
/// -0.0 among it) so that a gradient sent to the wrong place is seen.
fn run(x: &[f32], shape: &[usize], kernel: usize, stride: usize, m: Mode, fused: bool) -> Run {
    let c = shape[1];
    let xt = Tensor::from_vec(x.to_vec(), shape).requires_grad(true);
    let gamma: Vec<f32> = (0..c).map(|i| 0.5 + 0.3 * i as f32).collect();
    let beta: Vec<f32> = (0..c).map(|i| 0.25 - 0.2 * i as f32).collect();
    let weight = m
        .affine
        .then(|| Tensor::from_vec(gamma, &[c]).requires_grad(true));
    let bias = m
        .affine
        .then(|| Tensor::from_vec(beta, &[c]).requires_grad(true));
    let rm = running_mean(c);
    let rv = Tensor::from_vec((0..c).map(|i| 0.8 + 0.15 * i as f32).collect(), &[c]);
    let (rm_arg, rv_arg) = if m.running {
        (Some(&rm), Some(&rv))
    } else {
        (None, None)
    };
    let args = (weight.as_ref(), bias.as_ref(), m.training, 0.1, 1e-5);
    let y = if fused {
        xt.batch_norm_relu_max_pool2d(
            rm_arg, rv_arg, args.0, args.1, args.2, args.3, args.4, kernel, stride,
        )
    } else {
        xt.batch_norm(rm_arg, rv_arg, args.0, args.1, args.2, args.3, args.4)
            .relu()
            .max_pool2d(kernel, stride)
    };
    let op = y.op_name();
    let weights: Vec<f32> = (0..y.numel())
        .map(|i| match i % 6 {
            0 => 0.0,
            1 => -0.0,
            k => (k as f32 - 3.5) * (1.0 + i as f32 * 0.01),
        })
        .collect();
    (&y * &Tensor::from_vec(weights, y.shape()))
        .sum()
        .backward();
    let mut grads = vec![bits(&xt.grad().unwrap())];
    for p in weight.iter().chain(&bias) {
        grads.push(bits(&p.grad().unwrap()));
    }
    Run {
        out: bits(&y),
        grads,
        running: vec![bits(&rm), bits(&rv)],
        op,
    }
}

#[test]
fn fused_equals_the_three_ops_bit_for_bit_with_both_kernels() {
    let shapes: &[(&[usize], usize, usize)] = &[
        (&[4, 3, 28, 28], 2, 2), // large enough for the threaded paths
        (&[3, 2, 7, 7], 2, 2),   // last row and column outside every window
        (&[2, 3, 7, 6], 3, 1),   // overlapping windows
        (&[2, 2, 9, 8], 2, 3),   // gaps between windows
    ];
    let modes = [
        Mode {
            training: true,
            running: true,
            affine: true,
        },
        Mode {
            training: true,
            running: false,
            affine: true,
        },
        Mode {
            training: false,
            running: true,
            affine: true,
        },
        Mode {
            training: true,
            running: true,
            affine: false,
        },
        Mode {
            training: false,
            running: true,
            affine: false,
        },
    ];
    let mut by_kernels = Vec::new();
    for kernels in [Kernels::Fast, Kernels::Reference] {
        set_kernels(kernels);
        let mut runs = Vec::new();
        for (seed, &(shape, kernel, stride)) in shapes.iter().enumerate() {
            let x = awkward(shape, seed as u64);
            for m in modes {
                let what = format!("{kernels:?} {shape:?} kernel {kernel} stride {stride} {m:?}");
                let fused = run(&x, shape, kernel, stride, m, true);
                let plain = run(&x, shape, kernel, stride, m, false);
                assert_eq!(fused.op, Some("BatchNormReluMaxPool2d"), "{what}");
                assert_eq!(plain.op, Some("MaxPool2d"), "{what}");
                assert_eq!(fused.out, plain.out, "{what}: outputs");
                assert_eq!(fused.running, plain.running, "{what}: running statistics");
                assert_eq!(fused.grads.len(), if m.affine { 3 } else { 1 }, "{what}");
                for (i, (f, p)) in fused.grads.iter().zip(&plain.grads).enumerate() {
                    assert_eq!(f, p, "{what}: gradient {i} (x, weight, bias)");
                }
                // The data reaches the corners it was made for: closed windows, and
                // gradients that are not all zero.
                let f = |b: &u32| f32::from_bits(*b);
                assert!(fused.out.iter().any(|b| f(b) == 0.0), "{what}: no zero");
                assert!(fused.grads[0].iter().any(|b| f(b) != 0.0), "{what}");
                // Training with buffers moves them; otherwise they are left alone.
                let initial = bits(&running_mean(shape[1]));
                let moved = m.training && m.running;
                assert_eq!(fused.running[0] != initial, moved, "{what}: running mean");
                runs.push(fused);
            }
        }
        nan_propagates_as_in_the_three_ops(kernels);
        by_kernels.push(runs);
    }
    set_kernels(Kernels::Fast);
    // The two kernel sets sum in different orders, so they need not agree to the bit; the
    // outputs of eval (no sums at all) must.
    for (f, r) in by_kernels[0].iter().zip(&by_kernels[1]) {
        let close = f.out.iter().zip(&r.out).all(|(a, b)| {
            let (a, b) = (f32::from_bits(*a), f32::from_bits(*b));
            (a - b).abs() <= 1e-4 * (1.0 + b.abs())
        });
        assert!(close, "fast and reference kernels differ");
    }
}

/// Forward only: a NaN in x, in eval, stays in its own window (training spreads it to the
/// whole channel through the statistics), and wins it, as in the three ops.
fn nan_propagates_as_in_the_three_ops(kernels: Kernels) {
    let shape = [2, 2, 6, 6];
    let mut x = awkward(&shape, 9);
    x[7] = f32::NAN;
    x[36 + 20] = f32::NAN;
    for (kernel, stride) in [(2, 2), (3, 1)] {
        for training in [false, true] {
            let xt = Tensor::from_vec(x.clone(), &shape);
            let (rm, rv) = (Tensor::zeros(&[2]), Tensor::ones(&[2]));
            let w = Tensor::from_vec(vec![1.5, -0.5], &[2]);
            let fused = xt.batch_norm_relu_max_pool2d(
                Some(&rm),
                Some(&rv),
                Some(&w),
                None,
                training,
                0.1,
                1e-5,
                kernel,
                stride,
            );
            let (rm2, rv2) = (Tensor::zeros(&[2]), Tensor::ones(&[2]));
            let plain = xt
                .batch_norm(Some(&rm2), Some(&rv2), Some(&w), None, training, 0.1, 1e-5)
                .relu()
                .max_pool2d(kernel, stride);
            let what = format!("{kernels:?} kernel {kernel} stride {stride} training {training}");
            assert_eq!(bits(&fused), bits(&plain), "{what}");
            assert!(fused.to_vec().iter().any(|v| v.is_nan()), "{what}");
            assert_eq!(bits(&rm), bits(&rm2), "{what}");
            assert_eq!(bits(&rv), bits(&rv2), "{what}");
        }
    }
}

#[test]
fn a_case_worked_by_hand() {
    // One 2x2 plane [1, 2; 3, 6], batch statistics: mean 3, variance (4 + 1 + 0 + 9) / 4
    // = 3.5, so x̂ = (x - 3) / √3.5 and the only window's maximum is x̂ = 3/√3.5 (at 6).
    // With γ = 2, β = 1: y = 2·3/√3.5 + 1.
    let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 6.0], &[1, 1, 2, 2]).requires_grad(true);
    let gamma = Tensor::from_vec(vec![2.0], &[1]).requires_grad(true);
    let beta = Tensor::from_vec(vec![1.0], &[1]).requires_grad(true);
    let y =
        x.batch_norm_relu_max_pool2d(None, None, Some(&gamma), Some(&beta), true, 0.1, 0.0, 2, 2);
    let sd = 3.5f64.sqrt();
    assert_eq!(y.shape(), &[1, 1, 1, 1]);
    assert!((y.to_vec()[0] as f64 - (2.0 * 3.0 / sd + 1.0)).abs() < 1e-5);
    y.sum().backward();
    // dy = [0, 0, 0, 1] (the maximum, above 0). dβ = Σ dy = 1, dγ = Σ dy·x̂ = 3/√3.5.
    // dx = γ/σ · (dy - mean(dy) - x̂·mean(dy·x̂)) with mean(dy) = 1/4 and mean(dy·x̂)
    // = 3/(4√3.5): dx_i = 2/√3.5 · (dy_i - 1/4 - (x_i - 3)·3/(4·3.5)).
    assert!((beta.grad().unwrap().to_vec()[0] - 1.0).abs() < 1e-6);
    assert!((gamma.grad().unwrap().to_vec()[0] as f64 - 3.0 / sd).abs() < 1e-5);
    let dx = x.grad().unwrap().to_vec();
    for (i, (&xi, dyi)) in [1.0f64, 2.0, 3.0, 6.0]
        .iter()
        .zip([0.0, 0.0, 0.0, 1.0])
        .enumerate()
    {
        let want = 2.0 / sd * (dyi - 0.25 - (xi - 3.0) * 3.0 / 14.0);
        assert!(
            (dx[i] as f64 - want).abs() < 1e-5,
            "dx[{i}] = {} vs {want}",
            dx[i]
        );
    }
    // The gradients of a normalised input sum to 0 over the channel.
    assert!(dx.iter().sum::<f32>().abs() < 1e-5);
}

#[test]
fn gradcheck_passes_in_training_and_eval() {
    // Distinct values 0.05 apart, so that after normalisation no window ties and no
    // maximum sits near 0 within a gradcheck nudge.
    let n = 2 * 2 * 5 * 6;
    let x: Vec<f32> = (0..n).map(|i| ((i * 37) % n) as f32 * 0.05 - 2.9).collect();
    let x = Tensor::from_vec(x, &[2, 2, 5, 6]);
    let weight = Tensor::from_vec(vec![1.2, 0.7], &[2]);
    let bias = Tensor::from_vec(vec![0.3, 0.45], &[2]);
    let inputs = [x, weight, bias];
    for training in [true, false] {
        for (kernel, stride) in [(2, 2), (3, 1)] {
            let (rm, rv) = (
                Tensor::from_vec(vec![0.1, -0.2], &[2]),
                Tensor::from_vec(vec![1.3, 0.9], &[2]),
            );
            let oh = (5 - kernel) / stride + 1;
            let ow = (6 - kernel) / stride + 1;
            let weights: Vec<f32> = (0..4 * oh * ow).map(|i| 0.5 + (i % 5) as f32).collect();
            let weights = Tensor::from_vec(weights, &[2, 2, oh, ow]);
            let report = gradcheck(
                |t| {
                    &t[0].batch_norm_relu_max_pool2d(
                        Some(&rm),
                        Some(&rv),
                        Some(&t[1]),
                        Some(&t[2]),
                        training,
                        0.1,
                        1e-5,
                        kernel,
                        stride,
                    ) * &weights
                },
                &inputs,
                Default::default(),
            )
            .unwrap_or_else(|r| panic!("training {training} kernel {kernel}: {r}"));
            assert_eq!(report.checked, n + 4);
        }
    }
}

#[test]
fn the_panics_name_the_op_and_the_shape() {
    let msg = |f: fn() -> Tensor| {
        let err = std::panic::catch_unwind(f).unwrap_err();
        err.downcast_ref::<String>().unwrap().clone()
    };
    let m = msg(|| {
        Tensor::zeros(&[2, 1, 2, 2])
            .batch_norm_relu_max_pool2d(None, None, None, None, true, 0.1, 1e-5, 3, 3)
    });
    assert!(m.starts_with("batch_norm_relu_max_pool2d: kernel 3"), "{m}");
    assert!(m.contains("[2, 1, 2, 2]"), "{m}");
    let m = msg(|| {
        Tensor::zeros(&[2, 3])
            .batch_norm_relu_max_pool2d(None, None, None, None, true, 0.1, 1e-5, 1, 1)
    });
    assert!(
        m.starts_with("batch_norm_relu_max_pool2d: expects an input"),
        "{m}"
    );
    let m = msg(|| {
        Tensor::zeros(&[2, 3, 2, 2]).batch_norm_relu_max_pool2d(
            None,
            None,
            Some(&Tensor::ones(&[2])),
            None,
            true,
            0.1,
            1e-5,
            2,
            2,
        )
    });
    assert!(
        m.starts_with("batch_norm_relu_max_pool2d: weight has shape [2]"),
        "{m}"
    );
    let m = msg(|| {
        Tensor::zeros(&[1, 1, 1, 1])
            .batch_norm_relu_max_pool2d(None, None, None, None, true, 0.1, 1e-5, 1, 1)
    });
    assert!(
        m.starts_with("batch_norm_relu_max_pool2d: expected more than 1 value"),
        "{m}"
    );
}
