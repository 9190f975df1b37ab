//! The whole-program switch between the reference kernels in `ops/` and the fast ones in
//! `kernels/`: one training step of a small CNN (conv, batch norm, ReLU, max-pool, linear,
//! cross-entropy) gives the same loss and gradients either way, to rounding; and max
//! pooling, with and without the ReLU fused in, the same bits, on geometries whose windows
//! leave rows uncovered. Its own test binary, because the switch is process-wide; the tests
//! here take `SWITCH` so that one does not flip it under the other.

use std::sync::Mutex;

use kindling_core::kernels::{set_kernels, Kernels};
use kindling_core::{manual_seed, Tensor};

static SWITCH: Mutex<()> = Mutex::new(());

/// Loss and every gradient of one step, for input images large enough to take the fast
/// kernels' threaded paths.
fn step(kernels: Kernels) -> Vec<Vec<f32>> {
    set_kernels(kernels);
    manual_seed(11);
    let x = Tensor::randn(&[8, 2, 12, 12]);
    let params = [
        (Tensor::randn(&[6, 2, 3, 3]) * 0.3),
        Tensor::randn(&[6]) * 0.1,
        Tensor::ones(&[6]) + Tensor::randn(&[6]) * 0.1,
        Tensor::randn(&[6]) * 0.1,
        Tensor::randn(&[5, 6 * 6 * 6]) * 0.05,
        Tensor::randn(&[5]) * 0.1,
    ]
    .map(|p| p.requires_grad(true));
    let [w1, b1, gamma, beta, w2, b2] = &params;
    let (rm, rv) = (Tensor::zeros(&[6]), Tensor::ones(&[6]));
    let h = x
        .conv2d(w1, Some(b1), 1, 1)
        .batch_norm(
            Some(&rm),
            Some(&rv),
            Some(gamma),
            Some(beta),
            true,
            0.1,
            1e-5,
        )
        .relu()
        .max_pool2d(2, 2)
        .flatten_from(1);
    let logits = h.linear(w2, Some(b2));
    let targets = [0, 1, 2, 3, 4, 0, 1, 2];
    let loss = logits.log_softmax(1).nll_loss(&targets);
    loss.backward();
    let mut out = vec![loss.to_vec(), rm.to_vec(), rv.to_vec()];
    out.extend(params.iter().map(|p| p.grad().unwrap().to_vec()));
    out
}

#[test]
fn reference_and_fast_kernels_train_the_same_step() {
    let _switch = SWITCH.lock().unwrap_or_else(|e| e.into_inner());
    let fast = step(Kernels::Fast);
    let reference = step(Kernels::Reference);
    set_kernels(Kernels::Fast);
    let names = [
        "loss",
        "running_mean",
        "running_var",
        "dW1",
        "db1",
        "dγ",
        "dβ",
        "dW2",
        "db2",
    ];
    for ((name, f), r) in names.iter().zip(&fast).zip(&reference) {
        let scale = r.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        for (i, (a, b)) in f.iter().zip(r).enumerate() {
            assert!(
                (a - b).abs() <= 1e-4 * scale.max(1e-3),
                "{name}[{i}]: fast {a}, reference {b}"
            );
        }
    }
}

/// Output and input-gradient bits of max pooling (or `relu_max_pool2d`) under `kernels`.
fn pool_bits(
    kernels: Kernels,
    shape: &[usize],
    kernel: usize,
    stride: usize,
    relu: bool,
) -> Vec<Vec<u32>> {
    set_kernels(kernels);
    manual_seed(12);
    // Rounded to halves: many ties, and zeros for the ReLU.
    let x = (Tensor::randn(shape) * 2.0)
        .to_vec()
        .iter()
        .map(|v| v.round() / 2.0)
        .collect();
    let x = Tensor::from_vec(x, shape).requires_grad(true);
    let y = if relu {
        x.relu_max_pool2d(kernel, stride)
    } else {
        x.max_pool2d(kernel, stride)
    };
    let weights = Tensor::randn(y.shape());
    (&y * &weights).sum().backward();
    let bits = |t: &Tensor| t.to_vec().iter().map(|v| v.to_bits()).collect();
    vec![bits(&y), bits(&x.grad().unwrap())]
}

#[test]
fn reference_and_fast_max_pooling_agree_to_the_bit_where_windows_leave_rows_out() {
    let _switch = SWITCH.lock().unwrap_or_else(|e| e.into_inner());
    let cases: &[(&[usize], usize, usize)] = &[
        (&[4, 6, 13, 13], 2, 2), // last row and column in no window
        (&[4, 6, 14, 11], 3, 3), // 2 rows and 2 columns left over
        (&[4, 6, 12, 12], 3, 3),
        (&[2, 3, 9, 10], 3, 2), // overlapping
    ];
    for &(shape, kernel, stride) in cases {
        for relu in [false, true] {
            let fast = pool_bits(Kernels::Fast, shape, kernel, stride, relu);
            let reference = pool_bits(Kernels::Reference, shape, kernel, stride, relu);
            assert_eq!(
                fast, reference,
                "{shape:?} kernel {kernel} stride {stride} relu {relu}"
            );
        }
    }
    set_kernels(Kernels::Fast);
}
