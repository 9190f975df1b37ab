//! `relu_max_pool2d` is `relu` then `max_pool2d` as one op, so it must give the same bits:
//! outputs and input gradients, on data made to hit every corner where the two orders could
//! differ (ties, NaNs, all-negative windows, -0.0, rows the windows do not reach,
//! overlapping windows and gaps), with both the fast and the reference kernels. Also a case
//! worked by hand and a gradcheck.
//!
//! The kernel switch is process-wide, so the one test that flips it runs both modes itself,
//! one after the other; the other tests give the same answer in either mode.

use kindling_core::autograd::gradcheck;
use kindling_core::kernels::{set_kernels, Kernels};
use kindling_core::rng::Xoshiro256;
use kindling_core::Tensor;

/// Values on a few levels (many ties, many zeros and negatives), with NaNs, -0.0 and, in
/// the first plane, a block of negative values only.
fn awkward(shape: &[usize], seed: u64) -> Vec<f32> {
    let mut rng = Xoshiro256::seed_from(seed);
    let n: usize = shape.iter().product();
    let mut x: Vec<f32> = (0..n)
        .map(|_| {
            let r = rng.next_f32();
            match (r * 12.0) as i32 {
                0 => f32::NAN,
                1 => -0.0,
                2..=4 => 0.0,
                k => (k - 8) as f32 * 0.5,
            }
        })
        .collect();
    let w = shape[3];
    for y in 0..3.min(shape[2]) {
        for v in &mut x[y * w..y * w + 3.min(w)] {
            *v = -1.0 - (y as f32);
        }
    }
    x
}

struct Run {
    out: Vec<u32>,
    grad: Vec<u32>,
    op: Option<&'static str>,
}

/// One forward and backward pass, fused or not, with upstream gradients that vary (zero
/// and -0.0 among them) so that a gradient sent to the wrong place is seen.
fn run(x: &[f32], shape: &[usize], kernel: usize, stride: usize, fused: bool) -> Run {
    let xt = Tensor::from_vec(x.to_vec(), shape).requires_grad(true);
    let y = if fused {
        xt.relu_max_pool2d(kernel, stride)
    } else {
        xt.relu().max_pool2d(kernel, stride)
    };
    let op = y.op_name();
    let weights: Vec<f32> = (0..y.numel())
        .map(|i| match i % 6 {
            0 => 0.0,
            1 => -0.0,
            k => (k as f32 - 3.5) * (1.0 + i as f32 * 0.01),
        })
        .collect();
    let weights = Tensor::from_vec(weights, y.shape());
    (&y * &weights).sum().backward();
    let bits = |t: &Tensor| t.to_vec().iter().map(|v| v.to_bits()).collect();
    Run {
        out: bits(&y),
        grad: bits(&xt.grad().unwrap()),
        op,
    }
}

#[test]
fn fused_equals_relu_then_pool_bit_for_bit_with_both_kernels() {
    let cases: &[(&[usize], usize, usize)] = &[
        (&[2, 3, 8, 8], 2, 2),
        (&[2, 3, 7, 7], 2, 2),  // last row and column outside every window
        (&[1, 2, 9, 11], 3, 3), // the same with 3x3
        (&[2, 2, 7, 6], 3, 1),  // overlapping windows
        (&[2, 2, 8, 9], 2, 3),  // gaps between windows
        (&[3, 4, 5, 5], 1, 1),
        (&[4, 8, 28, 28], 2, 2), // large enough for the threaded paths
    ];
    let mut by_mode = Vec::new();
    for mode in [Kernels::Fast, Kernels::Reference] {
        set_kernels(mode);
        let mut runs = Vec::new();
        for (seed, &(shape, kernel, stride)) in cases.iter().enumerate() {
            let x = awkward(shape, seed as u64);
            let what = format!("{mode:?} {shape:?} kernel {kernel} stride {stride}");
            let fused = run(&x, shape, kernel, stride, true);
            let plain = run(&x, shape, kernel, stride, false);
            assert_eq!(fused.op, Some("ReluMaxPool2d"), "{what}");
            assert_eq!(plain.op, Some("MaxPool2d"), "{what}");
            assert_eq!(fused.out, plain.out, "{what}: outputs");
            assert_eq!(fused.grad, plain.grad, "{what}: input gradients");
            // The data does reach the corners it was made for.
            let f = |b: &u32| f32::from_bits(*b);
            assert!(
                fused.out.iter().any(|b| f(b).is_nan()),
                "{what}: no NaN out"
            );
            assert!(fused.out.contains(&0), "{what}: no zero out");
            assert!(
                fused.grad.iter().any(|b| f(b) != 0.0),
                "{what}: no gradient"
            );
            runs.push((fused.out, fused.grad));
        }
        by_mode.push(runs);
    }
    set_kernels(Kernels::Fast);
    assert_eq!(by_mode[0], by_mode[1], "fast and reference kernels differ");
}

#[test]
fn a_case_worked_by_hand() {
    // Two 2x2 windows: [-1, 2; 5, -6] (max 5, at index 4) and [-3, -4; -7, -8] (max -3,
    // ReLU'd to 0, no gradient through it).
    let x = Tensor::from_vec(
        vec![-1.0, 2.0, -3.0, -4.0, 5.0, -6.0, -7.0, -8.0],
        &[1, 1, 2, 4],
    )
    .requires_grad(true);
    let y = x.relu_max_pool2d(2, 2);
    assert_eq!(y.shape(), &[1, 1, 1, 2]);
    assert_eq!(y.to_vec(), vec![5.0, 0.0]);
    (&y * &Tensor::from_vec(vec![3.0, 7.0], &[1, 1, 1, 2]))
        .sum()
        .backward();
    assert_eq!(
        x.grad().unwrap().to_vec(),
        vec![0.0, 0.0, 0.0, 0.0, 3.0, 0.0, 0.0, 0.0]
    );
}

#[test]
fn an_exact_zero_maximum_passes_no_gradient() {
    // PyTorch's ReLU has slope 0 at 0: the window [0, -1; -2, -3] sends nothing back.
    let x = Tensor::from_vec(vec![0.0, -1.0, -2.0, -3.0], &[1, 1, 2, 2]).requires_grad(true);
    let y = x.relu_max_pool2d(2, 2);
    assert_eq!(y.to_vec(), vec![0.0]);
    y.sum().backward();
    assert_eq!(x.grad().unwrap().to_vec(), vec![0.0; 4]);
}

#[test]
fn gradcheck_passes_tiled_and_overlapping() {
    // 140 distinct values 0.03 apart, none closer to 0 than 0.015: every nudge (at most
    // 0.021 here) stays clear of a tie and of the ReLU's kink. 5x7 leaves the last row and
    // column outside the 2x2 windows.
    let x: Vec<f32> = (0..140)
        .map(|i| ((i * 37) % 140) as f32 * 0.03 - 2.085)
        .collect();
    let x = Tensor::from_vec(x, &[2, 2, 5, 7]);
    for (kernel, stride) in [(2, 2), (3, 1), (2, 3)] {
        let oh = (5 - kernel) / stride + 1;
        let ow = (7 - kernel) / stride + 1;
        let weights: Vec<f32> = (0..4 * oh * ow).map(|i| 0.5 + (i % 5) as f32).collect();
        let weights = Tensor::from_vec(weights, &[2, 2, oh, ow]);
        let report = gradcheck(
            |t| &t[0].relu_max_pool2d(kernel, stride) * &weights,
            std::slice::from_ref(&x),
            Default::default(),
        )
        .unwrap_or_else(|r| panic!("kernel {kernel} stride {stride}: {r}"));
        assert_eq!(report.checked, 140);
    }
}

#[test]
fn the_panics_name_the_op_and_the_shape() {
    let err = std::panic::catch_unwind(|| Tensor::zeros(&[1, 1, 2, 2]).relu_max_pool2d(3, 3))
        .unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(msg.starts_with("relu_max_pool2d: kernel 3"), "{msg}");
    assert!(msg.contains("[1, 1, 2, 2]"), "{msg}");
    let err =
        std::panic::catch_unwind(|| Tensor::zeros(&[2, 2]).relu_max_pool2d(1, 1)).unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(
        msg.starts_with("relu_max_pool2d: expects an input"),
        "{msg}"
    );
}
