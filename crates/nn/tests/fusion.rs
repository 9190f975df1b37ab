//! `Sequential::forward` runs a ReLU next to a MaxPool2d as one op. The network must not be
//! able to tell: the same output and parameter gradients, to the bit, as the layers run one
//! by one; a forward hook on either layer still sees the tensor between them (the fusion
//! steps aside); and `forward_all` shows every layer's output.
//!
//! The same holds for a BatchNorm2d → ReLU → MaxPool2d run as one op, which must also leave
//! the same running statistics and `num_batches_tracked`, and for a Conv2d → ReLU →
//! MaxPool2d run as one op (the CNN's block: `cnn(true)` below).
//!
//! Which path ran is read from the op that made the pooled tensor (`Tensor::op_name`), as
//! seen by a hook on the `Flatten` after it, which does not stop the fusion.

use std::sync::{Arc, Mutex};

use kindling_core::rng::Xoshiro256;
use kindling_core::{manual_seed, Tensor};
use kindling_nn::{
    BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, Module, ModuleExt, ReLU, Sequential,
};

/// Conv → ReLU → MaxPool → Flatten → Linear (or pool before ReLU), on 9x9 inputs: the 7x7
/// conv output leaves its last row and column out of the 2x2 windows.
fn cnn(relu_first: bool) -> Sequential {
    manual_seed(5);
    let seq = Sequential::new().add(Conv2d::new(2, 4, 3));
    let seq = if relu_first {
        seq.add(ReLU::new()).add(MaxPool2d::new(2))
    } else {
        seq.add(MaxPool2d::new(2)).add(ReLU::new())
    };
    seq.add(Flatten::new()).add(Linear::new(4 * 3 * 3, 5))
}

/// The output and every parameter gradient, as bits, of one forward and backward pass,
/// through `Sequential::forward` or through each layer's `forward` chained by hand.
fn pass(seq: &Sequential, x: &Tensor, by_hand: bool) -> Vec<Vec<u32>> {
    for p in seq.parameters() {
        p.set_grad(None);
    }
    let y = if by_hand {
        (0..seq.len()).fold(x.clone(), |h, i| seq.get(i).unwrap().forward(&h))
    } else {
        seq.forward(x)
    };
    let weights: Vec<f32> = (0..y.numel()).map(|i| (i % 7) as f32 - 2.5).collect();
    (&y * &Tensor::from_vec(weights, y.shape()))
        .sum()
        .backward();
    let bits = |t: &Tensor| t.to_vec().iter().map(|v| v.to_bits()).collect();
    let mut out = vec![bits(&y)];
    out.extend(seq.parameters().iter().map(|p| bits(&p.grad().unwrap())));
    out
}

/// Notes the name of the op that made the input of layer 3 (the Flatten) at each call.
fn watch_pooled(seq: &Sequential) -> Arc<Mutex<Vec<Option<&'static str>>>> {
    watch_input_of(seq, 3)
}

/// Notes the name of the op that made the input of layer `layer` at each call.
fn watch_input_of(seq: &Sequential, layer: usize) -> Arc<Mutex<Vec<Option<&'static str>>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let _kept = seq
        .get(layer)
        .unwrap()
        .register_forward_hook(move |x, _| log.lock().unwrap().push(x.op_name()));
    seen
}

/// The same images at every call: a generator of its own, since tests running in parallel
/// share the global one.
fn input() -> Tensor {
    let mut rng = Xoshiro256::seed_from(6);
    let data = (0..3 * 2 * 9 * 9)
        .map(|_| rng.next_f32() * 2.0 - 1.0)
        .collect();
    Tensor::from_vec(data, &[3, 2, 9, 9])
}

#[test]
fn the_fused_sequential_matches_the_layers_one_by_one_to_the_bit() {
    for relu_first in [true, false] {
        let seq = cnn(relu_first);
        let pooled_by = watch_pooled(&seq);
        let x = input();
        let fused = pass(&seq, &x, false);
        // Conv → ReLU → pool fuses as a triple; Conv → pool → ReLU as the pair.
        let op = if relu_first {
            "Conv2dReluMaxPool2d"
        } else {
            "ReluMaxPool2d"
        };
        assert_eq!(*pooled_by.lock().unwrap(), vec![Some(op)]);
        let by_hand = pass(&seq, &x, true);
        assert_eq!(fused.len(), 5); // output, conv weight and bias, linear weight and bias
        assert_eq!(fused, by_hand, "relu first: {relu_first}");
        // Gradients did flow into the conv layer, through the fused op.
        assert!(fused[1].iter().any(|&b| f32::from_bits(b) != 0.0));
    }
}

#[test]
fn a_hook_on_either_layer_sees_the_tensor_between_and_turns_the_fusion_off() {
    let x = input();
    for (relu_first, hooked) in [(true, 1), (true, 2), (false, 1), (false, 2)] {
        let seq = cnn(relu_first);
        let pooled_by = watch_pooled(&seq);
        let reference = pass(&seq, &x, true);
        let between = Arc::new(Mutex::new(Vec::new()));
        let log = between.clone();
        let handle = seq
            .get(hooked)
            .unwrap()
            .register_forward_hook(move |input, output| {
                log.lock()
                    .unwrap()
                    .push((input.to_vec(), output.to_vec(), output.op_name()));
            });
        let what = format!("relu first {relu_first}, hook on layer {hooked}");
        assert_eq!(pass(&seq, &x, false), reference, "{what}");
        {
            let between = between.lock().unwrap();
            assert_eq!(between.len(), 1, "{what}");
            let (input, output, op) = &between[0];
            // The ReLU's own output (when hooked on the ReLU), or the pooled tensor that
            // comes before the ReLU (when hooked on a MaxPool2d that comes first)...
            let is_relu = (hooked == 1) == relu_first;
            if is_relu {
                assert_eq!(*op, Some("Relu"), "{what}");
                let want: Vec<f32> = input.iter().map(|v| v.max(0.0)).collect();
                assert_eq!(output, &want, "{what}");
            } else {
                assert_eq!(*op, Some("MaxPool2d"), "{what}");
            }
            // ... which for the first layer of the pair holds negative values, the ReLU
            // not having run yet, and for the second none.
            let negative = output.iter().any(|&v| v < 0.0);
            assert_eq!(negative, hooked == 1 && !relu_first, "{what}");
        }
        let unfused = if relu_first { "MaxPool2d" } else { "Relu" };
        assert_eq!(*pooled_by.lock().unwrap(), vec![Some(unfused)], "{what}");
        // Without the hook the group is fused again.
        handle.remove();
        pooled_by.lock().unwrap().clear();
        assert_eq!(pass(&seq, &x, false), reference, "{what}");
        let fused = if relu_first {
            "Conv2dReluMaxPool2d"
        } else {
            "ReluMaxPool2d"
        };
        assert_eq!(*pooled_by.lock().unwrap(), vec![Some(fused)], "{what}");
        assert_eq!(between.lock().unwrap().len(), 1, "{what}");
    }
}

#[test]
fn forward_all_runs_every_layer() {
    let seq = cnn(true);
    let outs = seq.forward_all(&input().requires_grad(true));
    let ops: Vec<_> = outs.iter().map(|t| t.op_name()).collect();
    assert_eq!(ops[1], Some("Relu"));
    assert_eq!(ops[2], Some("MaxPool2d"));
    assert_eq!(outs[4].to_vec(), seq.forward(&input()).to_vec());
}

#[test]
fn only_a_relu_right_next_to_a_max_pool_is_fused() {
    // A layer between them: Conv → ReLU → Conv → MaxPool runs as four ops.
    manual_seed(7);
    let seq = Sequential::new()
        .add(Conv2d::new(2, 2, 1))
        .add(ReLU::new())
        .add(Conv2d::new(2, 2, 1))
        .add(MaxPool2d::new(2));
    let y = seq.forward(&input().requires_grad(true));
    assert_eq!(y.op_name(), Some("MaxPool2d"));
    let tail = Sequential::new()
        .add(ReLU::new())
        .add(MaxPool2d::new(3).stride(1));
    let x = input().requires_grad(true);
    let y = tail.forward(&x);
    assert_eq!(y.op_name(), Some("ReluMaxPool2d"));
    assert_eq!(y.to_vec(), x.relu().max_pool2d(3, 1).to_vec());
}

/// Conv → BatchNorm2d → ReLU → MaxPool → Flatten → Linear, on 9x9 inputs.
fn bn_cnn(momentum: Option<f32>) -> Sequential {
    manual_seed(8);
    Sequential::new()
        .add(Conv2d::new(2, 4, 3))
        .add(BatchNorm2d::new(4).momentum(momentum))
        .add(ReLU::new())
        .add(MaxPool2d::new(2))
        .add(Flatten::new())
        .add(Linear::new(4 * 3 * 3, 5))
}

/// Two copies of `bn_cnn` with the same weights: the second loads the first's state, since
/// tests running in parallel may reseed the global generator between the two builds.
fn bn_cnn_twice(momentum: Option<f32>) -> (Sequential, Sequential) {
    let first = bn_cnn(momentum);
    let mut second = bn_cnn(momentum);
    second.load_state_dict(&first.state_dict()).unwrap();
    (first, second)
}

/// Every buffer (running statistics and `num_batches_tracked`), as bits.
fn buffers(seq: &Sequential) -> Vec<(String, Vec<u32>)> {
    seq.named_buffers()
        .into_iter()
        .map(|(name, t)| (name, t.to_vec().iter().map(|v| v.to_bits()).collect()))
        .collect()
}

#[test]
fn batch_norm_relu_pool_fused_matches_the_layers_one_by_one_to_the_bit() {
    for momentum in [Some(0.1), None] {
        let (mut fused, mut plain) = bn_cnn_twice(momentum);
        let pooled_by = watch_input_of(&fused, 4);
        let x = input();
        for training in [true, true, false] {
            fused.set_training(training);
            plain.set_training(training);
            let what = format!("momentum {momentum:?}, training {training}");
            let mut f = pass(&fused, &x, false);
            let mut p = pass(&plain, &x, true);
            f.extend(buffers(&fused).into_iter().map(|(_, b)| b));
            p.extend(buffers(&plain).into_iter().map(|(_, b)| b));
            // output, 2 conv, 2 bn, 2 linear gradients; running mean, var, count
            assert_eq!(f.len(), 10, "{what}");
            assert_eq!(f, p, "{what}");
            assert!(f[3].iter().any(|&b| f32::from_bits(b) != 0.0), "{what}");
            assert_eq!(
                pooled_by.lock().unwrap().pop(),
                Some(Some("BatchNormReluMaxPool2d")),
                "{what}"
            );
        }
        let bn = buffers(&fused);
        assert_eq!(bn[2].0, "1.num_batches_tracked");
        assert_eq!(f32::from_bits(bn[2].1[0]), 2.0);
    }
}

#[test]
fn a_hook_in_the_batch_norm_group_turns_its_fusion_off() {
    let x = input();
    // Which op makes the pooled tensor with a hook on each layer of the group: a hook on
    // the BatchNorm still lets the ReLU and the pool fuse.
    for (hooked, pooled_op) in [(1, "ReluMaxPool2d"), (2, "MaxPool2d"), (3, "MaxPool2d")] {
        let (fused, plain) = bn_cnn_twice(Some(0.1));
        let pooled_by = watch_input_of(&fused, 4);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let handle = fused
            .get(hooked)
            .unwrap()
            .register_forward_hook(move |_, output| log.lock().unwrap().push(output.op_name()));
        let what = format!("hook on layer {hooked}");
        let mut f = pass(&fused, &x, false);
        let mut p = pass(&plain, &x, true);
        f.extend(buffers(&fused).into_iter().map(|(_, b)| b));
        p.extend(buffers(&plain).into_iter().map(|(_, b)| b));
        assert_eq!(f, p, "{what}");
        let own = ["BatchNorm", "Relu", "MaxPool2d"][hooked - 1];
        assert_eq!(*seen.lock().unwrap(), vec![Some(own)], "{what}");
        assert_eq!(*pooled_by.lock().unwrap(), vec![Some(pooled_op)], "{what}");
        // Without the hook the three are fused again.
        handle.remove();
        pooled_by.lock().unwrap().clear();
        pass(&fused, &x, false);
        assert_eq!(
            *pooled_by.lock().unwrap(),
            vec![Some("BatchNormReluMaxPool2d")],
            "{what}"
        );
    }
}

#[test]
fn only_batch_norm_then_relu_then_pool_is_fused() {
    // BatchNorm → MaxPool → ReLU: the pair fuses, the BatchNorm runs alone.
    manual_seed(9);
    let seq = Sequential::new()
        .add(BatchNorm2d::new(2))
        .add(MaxPool2d::new(2))
        .add(ReLU::new());
    let y = seq.forward(&input().requires_grad(true));
    assert_eq!(y.op_name(), Some("ReluMaxPool2d"));
    // A BatchNorm2d and a ReLU with no pool after them: two ops.
    let seq = Sequential::new().add(BatchNorm2d::new(2)).add(ReLU::new());
    assert_eq!(seq.forward(&input()).op_name(), Some("Relu"));
    // forward_all still shows the BatchNorm's own output.
    let seq = bn_cnn(Some(0.1));
    let outs = seq.forward_all(&input());
    assert_eq!(outs[1].op_name(), Some("BatchNorm"));
}

/// The CNN's block at MNIST size: Conv2d(1, 8, 3, padding 1) → ReLU → MaxPool2d(2) →
/// Flatten → Linear, on `[4, 1, 28, 28]`.
fn mnist_block() -> Sequential {
    manual_seed(10);
    Sequential::new()
        .add(Conv2d::new(1, 8, 3).padding(1))
        .add(ReLU::new())
        .add(MaxPool2d::new(2))
        .add(Flatten::new())
        .add(Linear::new(8 * 14 * 14, 3))
}

fn mnist_input() -> Tensor {
    let mut rng = Xoshiro256::seed_from(11);
    let data = (0..4 * 28 * 28).map(|_| rng.next_f32()).collect();
    Tensor::from_vec(data, &[4, 1, 28, 28])
}

#[test]
fn conv_relu_pool_fused_matches_the_layers_one_by_one_to_the_bit() {
    let seq = mnist_block();
    let pooled_by = watch_pooled(&seq);
    let x = mnist_input();
    let fused = pass(&seq, &x, false);
    assert_eq!(
        *pooled_by.lock().unwrap(),
        vec![Some("Conv2dReluMaxPool2d")]
    );
    let by_hand = pass(&seq, &x, true);
    assert_eq!(fused.len(), 5); // output, conv weight and bias, linear weight and bias
    assert_eq!(fused, by_hand);
    assert!(fused[1].iter().any(|&b| f32::from_bits(b) != 0.0));
    assert!(fused[2].iter().any(|&b| f32::from_bits(b) != 0.0));
}

#[test]
fn a_hook_in_the_conv_group_turns_its_fusion_off() {
    let x = mnist_input();
    // Which op makes the pooled tensor with a hook on each layer of the group: a hook on
    // the Conv2d still lets the ReLU and the pool fuse.
    for (hooked, pooled_op) in [(0, "ReluMaxPool2d"), (1, "MaxPool2d"), (2, "MaxPool2d")] {
        let seq = mnist_block();
        let pooled_by = watch_pooled(&seq);
        let reference = pass(&seq, &x, true);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let handle = seq
            .get(hooked)
            .unwrap()
            .register_forward_hook(move |_, output| log.lock().unwrap().push(output.op_name()));
        let what = format!("hook on layer {hooked}");
        assert_eq!(pass(&seq, &x, false), reference, "{what}");
        let own = ["Conv2d", "Relu", "MaxPool2d"][hooked];
        assert_eq!(*seen.lock().unwrap(), vec![Some(own)], "{what}");
        assert_eq!(*pooled_by.lock().unwrap(), vec![Some(pooled_op)], "{what}");
        // Without the hook the three are fused again.
        handle.remove();
        pooled_by.lock().unwrap().clear();
        assert_eq!(pass(&seq, &x, false), reference, "{what}");
        assert_eq!(
            *pooled_by.lock().unwrap(),
            vec![Some("Conv2dReluMaxPool2d")],
            "{what}"
        );
    }
}

#[test]
fn a_conv_before_batch_norm_leaves_the_batch_norm_triple_to_fuse() {
    // Conv2d → BatchNorm2d → ReLU → MaxPool2d: the conv runs alone (a BatchNorm, not a
    // ReLU, follows it) and the other three fuse. (A hook on the BatchNorm to see its
    // input would stop that fusion, so only the pooled tensor is watched.)
    let seq = bn_cnn(Some(0.1));
    let pooled_by = watch_input_of(&seq, 4);
    seq.forward(&input());
    assert_eq!(
        *pooled_by.lock().unwrap(),
        vec![Some("BatchNormReluMaxPool2d")]
    );
}
