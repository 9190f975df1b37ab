//! Failure modes a review of the whole code found, each pinned by a test that failed before
//! its fix: element counts that overflow, values changed between forward and backward,
//! gradients that shared one buffer, NaN and empty-tensor semantics that differed from
//! PyTorch, and locks taken twice by one op.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use kindling_core::{no_grad, Tensor};

// ---------------------------------------------------------------- element-count overflow

/// 2⁶³ + 1 squared wraps to 1 in a `usize` product, which once let a one-element vector
/// pass as a gigantic matrix and reach the unsafe SGEMM. The message holds with and
/// without overflow checks, since the count is checked explicitly.
#[test]
#[should_panic(expected = "has more elements than usize can count")]
fn an_element_count_that_overflows_is_refused_by_name() {
    let huge = (1usize << 63) + 1;
    let t = Tensor::from_vec(vec![1.0], &[huge, huge]);
    let _ = t.matmul(&t); // never reached
}

#[test]
#[should_panic(expected = "conv2d: padding")]
fn a_padding_that_overflows_is_refused_by_name() {
    let x = Tensor::ones(&[1, 1, 3, 3]);
    let w = Tensor::ones(&[1, 1, 3, 3]);
    let _ = x.conv2d(&w, None, 1, usize::MAX / 2 + 1);
}

// ---------------------------------------------------------------- in-place writes

#[test]
#[should_panic(expected = "modified by an inplace operation")]
fn a_parameter_written_between_forward_and_backward_stops_backward() {
    let w = Tensor::from_vec(vec![1.0, 2.0], &[2]).requires_grad(true);
    let x = Tensor::from_vec(vec![3.0, 4.0], &[2]);
    let loss = (&w * &x).sum();
    // What an optimizer step does, under no_grad: allowed, but it bumps w's version.
    no_grad(|| w.data_mut()[0] -= 0.1);
    loss.backward();
}

#[test]
#[should_panic(expected = "modified by an inplace operation")]
fn a_saved_output_written_before_backward_stops_backward() {
    let x = Tensor::from_vec(vec![0.5, 1.0], &[2]).requires_grad(true);
    let y = x.exp(); // exp's backward reads y itself
    let loss = y.sum();
    no_grad(|| y.data_mut()[1] = 0.0);
    loss.backward();
}

#[test]
fn a_write_to_a_value_no_backward_reads_is_allowed_as_in_pytorch() {
    // add's backward needs only shapes, so PyTorch lets its inputs change afterwards.
    let a = Tensor::from_vec(vec![1.0, 2.0], &[2]).requires_grad(true);
    let b = Tensor::from_vec(vec![3.0, 4.0], &[2]).requires_grad(true);
    let loss = (&a + &b).sum();
    no_grad(|| a.copy_from(&Tensor::zeros(&[2])));
    loss.backward();
    assert_eq!(a.grad().unwrap().to_vec(), vec![1.0, 1.0]);
}

#[test]
#[should_panic(
    expected = "a leaf Variable that requires grad is being used in an in-place operation"
)]
fn copy_from_refuses_a_parameter_outside_no_grad() {
    let w = Tensor::zeros(&[2]).requires_grad(true);
    w.copy_from(&Tensor::ones(&[2]));
}

#[test]
fn copy_from_under_no_grad_updates_a_parameter_and_counts_a_version() {
    let w = Tensor::zeros(&[2]).requires_grad(true);
    let before = w.version();
    no_grad(|| w.copy_from(&Tensor::ones(&[2])));
    assert_eq!(w.to_vec(), vec![1.0, 1.0]);
    assert_eq!(w.version(), before + 1);
}

// ---------------------------------------------------------------- gradient ownership

#[test]
fn each_leaf_owns_its_gradient_buffer() {
    let a = Tensor::from_vec(vec![1.0, 2.0], &[2]).requires_grad(true);
    let b = Tensor::from_vec(vec![3.0, 4.0], &[2]).requires_grad(true);
    (&a + &b).sum().backward();
    // Clip a's gradient in place, as clip_grad_norm_ does: b's must not move.
    a.grad()
        .unwrap()
        .data_mut()
        .iter_mut()
        .for_each(|g| *g *= 0.5);
    assert_eq!(a.grad().unwrap().to_vec(), vec![0.5, 0.5]);
    assert_eq!(b.grad().unwrap().to_vec(), vec![1.0, 1.0]);
}

#[test]
fn a_gradient_never_aliases_the_callers_seed() {
    let x = Tensor::from_vec(vec![1.0, 2.0], &[2]).requires_grad(true);
    let seed = Tensor::from_vec(vec![10.0, 20.0], &[2]);
    x.reshape(&[1, 2]).reshape(&[2]).backward_with(&seed);
    x.grad().unwrap().data_mut()[0] = 0.0;
    assert_eq!(seed.to_vec(), vec![10.0, 20.0]);
    assert!(!x.grad().unwrap().shares_storage(&seed));
}

// ---------------------------------------------------------------- NaN and PyTorch semantics

#[test]
fn relu_keeps_nan_as_pytorch_does() {
    // torch.relu(torch.tensor([nan, -1., 2.])) -> [nan, 0., 2.]
    let y = Tensor::from_vec(vec![f32::NAN, -1.0, 2.0], &[3])
        .relu()
        .to_vec();
    assert!(y[0].is_nan());
    assert_eq!(&y[1..], &[0.0, 2.0]);
}

#[test]
fn max_pool_keeps_nan_as_pytorch_does() {
    let x = Tensor::from_vec(vec![1.0, f32::NAN, 3.0, 2.0], &[1, 1, 2, 2]);
    assert!(x.max_pool2d(2, 2).item().is_nan());
}

#[test]
fn the_gradient_of_x_to_the_zero_is_zero_even_at_zero() {
    // torch: x = tensor([0., 2.], requires_grad=True); x.pow(0.).sum().backward() -> [0, 0]
    let x = Tensor::from_vec(vec![0.0, 2.0], &[2]).requires_grad(true);
    x.powf(0.0).sum().backward();
    assert_eq!(x.grad().unwrap().to_vec(), vec![0.0, 0.0]);
}

#[test]
fn nll_loss_of_an_empty_batch_is_nan_as_in_pytorch() {
    let lp = Tensor::zeros(&[0, 3]);
    assert!(lp.nll_loss(&[]).item().is_nan());
}

// ---------------------------------------------------------------- empty tensors

#[test]
fn empty_tensors_give_empty_results_as_in_pytorch() {
    // batched matmul with m = 0
    let a = Tensor::zeros(&[2, 0, 3]).requires_grad(true);
    let b = Tensor::ones(&[2, 3, 4]).requires_grad(true);
    let y = a.matmul(&b);
    assert_eq!(y.shape(), &[2, 0, 4]);
    y.sum().backward();
    assert_eq!(b.grad().unwrap().to_vec(), vec![0.0; 24]);

    // matmul with k = 0: a product of zeros, and its backward
    let a = Tensor::zeros(&[3, 0]).requires_grad(true);
    let b = Tensor::zeros(&[0, 2]).requires_grad(true);
    let y = a.matmul(&b);
    assert_eq!(y.to_vec(), vec![0.0; 6]);
    y.sum().backward();
    assert_eq!(a.grad().unwrap().shape(), &[3, 0]);

    // linear with 0 input features, and with 0 output features
    let w = Tensor::zeros(&[2, 0]).requires_grad(true);
    let bias = Tensor::from_vec(vec![1.0, 2.0], &[2]).requires_grad(true);
    let y = Tensor::zeros(&[3, 0]).linear(&w, Some(&bias));
    assert_eq!(y.to_vec(), vec![1.0, 2.0, 1.0, 2.0, 1.0, 2.0]);
    y.sum().backward();
    assert_eq!(bias.grad().unwrap().to_vec(), vec![3.0, 3.0]);
    let w = Tensor::zeros(&[0, 4]).requires_grad(true);
    let bias = Tensor::zeros(&[0]).requires_grad(true);
    let y = Tensor::ones(&[3, 4]).linear(&w, Some(&bias));
    assert_eq!(y.shape(), &[3, 0]);
    y.sum().backward();
    assert_eq!(bias.grad().unwrap().shape(), &[0]);

    // conv forward and backward on an empty batch, and with 0 output channels
    let w = Tensor::ones(&[2, 1, 3, 3]).requires_grad(true);
    let b = Tensor::ones(&[2]).requires_grad(true);
    let x = Tensor::zeros(&[0, 1, 5, 5]).requires_grad(true);
    let y = x.conv2d(&w, Some(&b), 1, 1);
    assert_eq!(y.shape(), &[0, 2, 5, 5]);
    y.sum().backward();
    assert_eq!(w.grad().unwrap().to_vec(), vec![0.0; 18]);
    assert_eq!(b.grad().unwrap().to_vec(), vec![0.0; 2]);
    let w = Tensor::ones(&[0, 1, 3, 3]).requires_grad(true);
    let x = Tensor::ones(&[2, 1, 5, 5]).requires_grad(true);
    let y = x.conv2d(&w, None, 1, 1);
    assert_eq!(y.shape(), &[2, 0, 5, 5]);
    y.sum().backward();
    assert_eq!(x.grad().unwrap().to_vec(), vec![0.0; 50]);

    // batch norm in eval with 0 trailing elements
    let x = Tensor::zeros(&[2, 3, 0]).requires_grad(true);
    let (rm, rv) = (Tensor::zeros(&[3]), Tensor::ones(&[3]));
    let y = x.batch_norm(Some(&rm), Some(&rv), None, None, false, 0.1, 1e-5);
    assert_eq!(y.shape(), &[2, 3, 0]);
    y.sum().backward();
    assert_eq!(x.grad().unwrap().shape(), &[2, 3, 0]);

    // max-pool of an empty batch
    let y = Tensor::zeros(&[0, 2, 4, 4]).max_pool2d(2, 2);
    assert_eq!(y.shape(), &[0, 2, 2, 2]);
}

// ---------------------------------------------------------------- one lock per op

/// Runs `f` on another thread and fails if it has not finished within 20 seconds (a
/// deadlock), instead of hanging the test suite.
fn finishes(what: &str, f: impl FnOnce() + Send + 'static) {
    let (done, wait) = mpsc::channel();
    thread::spawn(move || {
        f();
        let _ = done.send(());
    });
    assert!(
        wait.recv_timeout(Duration::from_secs(20)).is_ok(),
        "{what} deadlocked"
    );
}

#[test]
fn one_tensor_as_both_running_buffers_updates_them_in_order() {
    finishes("batch_norm with one running buffer", || {
        let x = Tensor::from_vec(vec![1.0, 3.0], &[2, 1]);
        let both = Tensor::zeros(&[1]);
        x.batch_norm(Some(&both), Some(&both), None, None, true, 0.5, 1e-5);
        // mean first: 0.5·0 + 0.5·2 = 1; then var: 0.5·1 + 0.5·2 (unbiased) = 1.5
        assert_eq!(both.to_vec(), vec![1.5]);
    });
}

#[test]
fn an_op_reading_one_tensor_twice_does_not_deadlock_with_a_waiting_writer() {
    // A writer on another thread keeps asking for `w`. With two read locks per op, a read
    // that comes after the writer queued waits for the writer, which waits for the first
    // read: both stop for good.
    finishes("w * w and w @ w beside a writer", || {
        let w = Tensor::ones(&[64, 64]);
        let writer = {
            let w = w.clone();
            thread::spawn(move || {
                for _ in 0..20_000 {
                    w.data_mut()[0] = 1.0;
                }
            })
        };
        for _ in 0..2_000 {
            let _ = &w * &w;
            let _ = w.matmul(&w);
            let _ = w.linear(&w, None);
        }
        writer.join().unwrap();
    });
}
