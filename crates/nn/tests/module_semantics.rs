//! The `Module` contract beyond the numbers: training mode reaches every submodule,
//! BatchNorm's running statistics move in training and only then, parameter names follow
//! PyTorch, and loading a state dict is strict and all-or-nothing.

use kindling_core::Tensor;
use kindling_nn::*;

fn cnn() -> Sequential {
    Sequential::new()
        .add(Conv2d::new(1, 4, 3).padding(1))
        .add(BatchNorm2d::new(4))
        .add(ReLU::new())
        .add(MaxPool2d::new(2))
        .add(Flatten::new())
        .add(Linear::new(4 * 2 * 2, 3))
}

fn batch() -> Tensor {
    &Tensor::randn(&[5, 1, 4, 4]) * 3.0 + 2.0
}

#[test]
fn running_stats_change_after_one_training_forward_and_not_in_eval() {
    let bn = BatchNorm1d::new(2);
    let x = Tensor::from_vec(vec![1.0, 10.0, 3.0, 30.0], &[2, 2]);
    bn.forward(&x);
    // mean [2, 20] and unbiased var [2, 200], moved 10% from 0 and 1:
    assert_eq!(bn.running_mean().to_vec(), vec![0.2, 2.0]);
    let rv = bn.running_var().to_vec();
    assert!(
        (rv[0] - 1.1).abs() < 1e-6 && (rv[1] - 20.9).abs() < 1e-4,
        "{rv:?}"
    );
    assert_eq!(bn.num_batches_tracked(), 1);
    // The update never enters the graph: the buffers do not require a gradient.
    assert!(!bn.running_mean().is_requires_grad());

    let mut bn = bn;
    bn.eval();
    bn.forward(&x);
    assert_eq!(
        bn.running_mean().to_vec(),
        vec![0.2, 2.0],
        "eval must not update the statistics"
    );
    assert_eq!(bn.num_batches_tracked(), 1);
}

#[test]
fn eval_on_a_sequential_reaches_the_batch_norm_inside_it() {
    let mut model = cnn();
    let x = batch();
    model.forward(&x);
    let before = model.state_dict().get("1.running_mean").unwrap().to_vec();
    model.eval();
    assert!(!model.is_training());
    assert!(
        !model.get(1).unwrap().is_training(),
        "the BatchNorm inside is in eval mode"
    );
    let y1 = model.forward(&x);
    let y2 = model.forward(&x);
    assert_eq!(y1.to_vec(), y2.to_vec(), "eval mode is deterministic");
    assert_eq!(
        model.state_dict().get("1.running_mean").unwrap().to_vec(),
        before
    );
    model.train();
    assert!(model.get(1).unwrap().is_training());
}

#[test]
fn parameter_and_state_keys_follow_pytorch() {
    let model = cnn();
    let names: Vec<String> = model
        .named_parameters()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        names,
        ["0.weight", "0.bias", "1.weight", "1.bias", "5.weight", "5.bias"]
    );
    assert_eq!(
        model.state_dict().keys(),
        [
            "0.weight",
            "0.bias",
            "1.weight",
            "1.bias",
            "1.running_mean",
            "1.running_var",
            "1.num_batches_tracked",
            "5.weight",
            "5.bias"
        ]
    );
    assert_eq!(model.parameters().len(), 6);
}

#[test]
fn strict_loading_lists_every_problem_and_changes_nothing() {
    let mut model = cnn();
    let before = model.state_dict().deep_copy();
    let mut other = Sequential::new()
        .add(Conv2d::new(1, 8, 3))
        .add(BatchNorm2d::new(8));
    let err = model.load_state_dict(&other.state_dict()).unwrap_err();
    let r = &err.report;
    assert_eq!(r.missing, ["5.weight", "5.bias"]);
    assert!(r.unexpected.is_empty());
    assert_eq!(
        r.mismatched.len(),
        6,
        "every conv and BN tensor but num_batches_tracked"
    );
    assert!(r
        .mismatched
        .iter()
        .any(|m| m.key == "0.weight" && m.expected == [4, 1, 3, 3] && m.found == [8, 1, 3, 3]));
    let msg = err.to_string();
    assert!(msg.contains("missing keys: 5.weight, 5.bias"), "{msg}");
    assert!(msg.contains("shape mismatch for 0.weight: the model has [4, 1, 3, 3], the state dict has [8, 1, 3, 3]"), "{msg}");
    for (k, t) in before.iter() {
        assert_eq!(
            model.state_dict().get(k).unwrap().to_vec(),
            t.to_vec(),
            "{k} changed on a failed load"
        );
    }

    // Unexpected keys are listed too.
    let mut extra = model.state_dict().deep_copy();
    extra.insert("9.weight", Tensor::zeros(&[1]));
    let err = model.load_state_dict(&extra).unwrap_err();
    assert_eq!(err.report.unexpected, ["9.weight"]);

    // Non-strict loads what fits and reports the rest.
    let report = other.load_state_dict_non_strict(&model.state_dict());
    assert!(report.unexpected.contains(&"5.weight".to_string()));
    assert!(report.mismatched.iter().any(|m| m.key == "0.weight"));
}

#[test]
fn loading_copies_into_the_existing_tensors_so_optimizers_keep_working() {
    let mut a = Linear::new(2, 2);
    let held = a.parameters()[0].clone(); // what an optimizer built earlier holds
    let b = Linear::new(2, 2);
    a.load_state_dict(&b.state_dict()).unwrap();
    assert_eq!(held.to_vec(), b.parameters()[0].to_vec());
    // A state dict without num_batches_tracked (older PyTorch) still loads strictly.
    let mut bn = BatchNorm1d::new(3);
    let mut sd = StateDict::new();
    for (k, t) in BatchNorm1d::new(3).state_dict().iter() {
        if k != "num_batches_tracked" {
            sd.insert(k, t.clone());
        }
    }
    bn.load_state_dict(&sd).unwrap();
}

#[test]
fn dropout_is_the_identity_in_eval_and_scales_survivors_in_training() {
    let x = Tensor::ones(&[1000]);
    let mut drop = Dropout::new(0.25);
    let y = drop.forward(&x).to_vec();
    assert!(y.iter().all(|&v| v == 0.0 || (v - 1.0 / 0.75).abs() < 1e-6));
    let kept = y.iter().filter(|&&v| v > 0.0).count();
    assert!(
        (650..850).contains(&kept),
        "kept {kept} of 1000 at p = 0.25"
    );
    drop.eval();
    assert_eq!(drop.forward(&x).to_vec(), x.to_vec());
}

#[test]
fn batch_norm_in_training_with_one_value_per_channel_is_a_clear_error() {
    let bn = BatchNorm1d::new(3);
    let err = std::panic::catch_unwind(|| bn.forward(&Tensor::ones(&[1, 3]))).unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(
        msg.contains("expected more than 1 value per channel when training"),
        "{msg}"
    );
    let wrong_rank =
        std::panic::catch_unwind(|| BatchNorm2d::new(3).forward(&Tensor::ones(&[2, 3])))
            .unwrap_err();
    assert!(wrong_rank
        .downcast_ref::<String>()
        .unwrap()
        .contains("BatchNorm2d: expected a 4-d [N, C, H, W] input, got shape [2, 3]"));
}

#[test]
fn layers_before_batch_norm_train_end_to_end() {
    // One optimisation step by hand on a Conv-BN-ReLU-Pool-Linear model lowers the loss.
    kindling_core::manual_seed(5);
    let model = cnn();
    let x = batch();
    let targets = [0, 1, 2, 1, 0];
    let loss0 = functional::cross_entropy(&model.forward(&x), &targets);
    loss0.backward();
    for p in model.parameters() {
        let g = p.grad().unwrap().to_vec();
        p.data_mut()
            .iter_mut()
            .zip(g)
            .for_each(|(p, g)| *p -= 0.1 * g);
    }
    model.zero_grad();
    assert!(model.parameters().iter().all(|p| p.grad().is_none()));
    let loss1 = functional::cross_entropy(&model.forward(&x), &targets);
    assert!(
        loss1.item() < loss0.item(),
        "{} !< {}",
        loss1.item(),
        loss0.item()
    );
}

#[test]
fn a_default_sequential_is_in_training_mode_like_a_new_one() {
    let model = Sequential::default().add(BatchNorm1d::new(2));
    assert!(model.is_training());
    let bn_stats_before = model.state_dict().get("0.running_mean").unwrap().to_vec();
    model.forward(&Tensor::from_vec(vec![1.0, 2.0, 3.0, 6.0], &[2, 2]));
    let after = model.state_dict().get("0.running_mean").unwrap().to_vec();
    assert_ne!(
        bn_stats_before, after,
        "running statistics must move in training"
    );
}

#[test]
#[should_panic(expected = "modified by an inplace operation")]
fn load_state_dict_between_forward_and_backward_stops_backward() {
    // PyTorch raises here too: the loss was computed from the old weights.
    let mut model = Sequential::new().add(Linear::new(3, 2));
    let snapshot = model.state_dict().deep_copy();
    let loss = model.forward(&Tensor::ones(&[4, 3])).sum();
    model.load_state_dict(&snapshot).unwrap();
    loss.backward();
}
