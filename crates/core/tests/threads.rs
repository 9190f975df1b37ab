//! `set_num_threads`: kindling's own pool, settable at any time and again, and the same
//! thread count gives bit-identical results. Its own test binary, as the setting is
//! process-wide.

use kindling_core::{manual_seed, num_threads, set_num_threads, Tensor};

/// Loss and gradients of a conv + batch norm + linear step, large enough that every
/// kernel splits its work across threads.
fn step() -> Vec<Vec<f32>> {
    manual_seed(3);
    let x = Tensor::randn(&[16, 3, 20, 20]);
    let w = (Tensor::randn(&[8, 3, 3, 3]) * 0.2).requires_grad(true);
    let fc = (Tensor::randn(&[4, 8 * 10 * 10]) * 0.01).requires_grad(true);
    let h = x
        .conv2d(&w, None, 1, 1)
        .batch_norm(None, None, None, None, true, 0.1, 1e-5)
        .relu()
        .max_pool2d(2, 2)
        .flatten_from(1);
    let loss = h
        .linear(&fc, None)
        .log_softmax(1)
        .nll_loss(&[0, 1, 2, 3].repeat(4));
    loss.backward();
    vec![
        loss.to_vec(),
        w.grad().unwrap().to_vec(),
        fc.grad().unwrap().to_vec(),
    ]
}

#[test]
fn the_same_thread_count_gives_bit_identical_results() {
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build_global()
        .expect("a host program configures rayon's global pool first");
    for n in [1, 2, 3] {
        set_num_threads(n).unwrap();
        assert_eq!(num_threads(), n);
        let (a, b) = (step(), step());
        assert_eq!(a, b, "{n} threads");
    }
    assert!(set_num_threads(0).is_err());
}
