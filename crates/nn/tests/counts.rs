//! BatchNorm's `num_batches_tracked` counts exactly past 2²⁴, where an f32 stops (it is
//! an int64 in PyTorch), and a state dict holding the older float form still loads.

use kindling_core::Tensor;
use kindling_nn::{BatchNorm1d, BatchNorm2d, Module, StateDict};

/// Two training forwards after loading 2²⁴ − 1 = 16,777,215. An f32 counter would step to
/// 16,777,216 and then stay there (16,777,216 + 1 rounds back to 16,777,216).
#[test]
fn num_batches_tracked_counts_past_two_to_the_24() {
    let mut bn = BatchNorm1d::new(2);
    let mut sd = bn.state_dict().deep_copy();
    // The older float form, exactly representable: 16,777,215 < 2²⁴.
    sd.insert("num_batches_tracked", Tensor::scalar(16_777_215.0));
    bn.load_state_dict(&sd).unwrap();
    assert_eq!(bn.num_batches_tracked(), 16_777_215);
    let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 5.0], &[2, 2]);
    bn.forward(&x);
    bn.forward(&x);
    assert_eq!(bn.num_batches_tracked(), 16_777_217);
    assert_eq!(
        bn.state_dict().count("num_batches_tracked"),
        Some(16_777_217)
    );
    // Eval forwards do not count.
    bn.eval();
    bn.forward(&x);
    assert_eq!(bn.num_batches_tracked(), 16_777_217);
}

#[test]
fn an_exact_count_entry_loads_into_a_nested_layer() {
    use kindling_nn::Sequential;
    let mut model = Sequential::new().add(BatchNorm2d::new(1));
    let mut sd = model.state_dict().deep_copy();
    sd.insert_count("0.num_batches_tracked", 40_000_000_001);
    model.load_state_dict(&sd).unwrap();
    assert_eq!(
        model.state_dict().count("0.num_batches_tracked"),
        Some(40_000_000_001)
    );
    // deep_copy keeps the exact value and its kind.
    let copy = model.state_dict().deep_copy();
    assert!(copy.is_count("0.num_batches_tracked"));
    assert_eq!(copy.count("0.num_batches_tracked"), Some(40_000_000_001));
}

/// momentum(None) by hand: the running mean is the plain average of the batch means, and
/// the running variance the average of the unbiased batch variances.
#[test]
fn momentum_none_is_the_cumulative_average() {
    let bn = BatchNorm1d::new(1).momentum(None);
    // Batch means 2, 6, 1; unbiased variances 2, 8, 0 (n = 2: (1-2)²+(3-2)² = 2, /1).
    for batch in [[1.0, 3.0], [4.0, 8.0], [1.0, 1.0]] {
        bn.forward(&Tensor::from_vec(batch.to_vec(), &[2, 1]));
    }
    assert_eq!(bn.num_batches_tracked(), 3);
    assert!((bn.running_mean().to_vec()[0] - 3.0).abs() < 1e-6); // (2 + 6 + 1) / 3
                                                                 // running_var starts at 1 but the first step (factor 1/1) replaces it entirely.
    assert!((bn.running_var().to_vec()[0] - 10.0 / 3.0).abs() < 1e-5); // (2 + 8 + 0) / 3
    assert_eq!(
        bn.to_string(),
        "BatchNorm1d(1, eps=1e-05, momentum=None, affine=True, bias=True, track_running_stats=True)"
    );
}

#[test]
fn a_float_count_that_is_not_a_whole_number_is_not_a_count() {
    let mut sd = StateDict::new();
    sd.insert("num_batches_tracked", Tensor::scalar(2.5));
    assert_eq!(sd.count("num_batches_tracked"), None);
    sd.insert("num_batches_tracked", Tensor::scalar(-1.0));
    assert_eq!(sd.count("num_batches_tracked"), None);
}
