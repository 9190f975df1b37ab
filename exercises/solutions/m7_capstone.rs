//! Module 7, the reference solutions: compiled only by the crate's own tests
//! (tests/graders.rs), which check that every grader passes them. Delete this folder
//! before handing the track out.

use kindling::data::{DataLoader, MnistSplit};
use kindling::Tensor;
use kindling_exercises::given::{Momentum, Parts, SgdConfig, TrainConfig};
use kindling_exercises::m7_capstone::{batch_norm, conv, linear, loss, pool, Cnn};

pub fn forward(parts: &Parts, model: &Cnn, x: &Tensor, training: bool) -> Tensor {
    let m = model;
    let h = conv(parts, x, &m.conv1_w, &m.conv1_b);
    let h = pool(parts, &batch_norm(parts, &h, &m.bn1, training).relu());
    let h = conv(parts, &h, &m.conv2_w, &m.conv2_b);
    let h = pool(parts, &batch_norm(parts, &h, &m.bn2, training).relu());
    let h = h.reshape(&[x.shape()[0], 64 * 7 * 7]);
    let h = linear(parts, &h, &m.fc1_w, &m.fc1_b);
    let h = batch_norm(parts, &h, &m.bn3, training).relu();
    linear(parts, &h, &m.fc2_w, &m.fc2_b)
}

pub fn train_step(
    parts: &Parts,
    model: &Cnn,
    momentum: &mut Momentum,
    images: &Tensor,
    labels: &[usize],
    sgd: &SgdConfig,
) -> f32 {
    let l = loss(parts, &forward(parts, model, images, true), labels);
    let params = model.parameters();
    // Cleared first: backward adds into .grad.
    for p in &params {
        p.set_grad(None);
    }
    l.backward();
    for (p, buf) in params.iter().zip(momentum.iter_mut()) {
        let g = p.grad().expect("every parameter is in the graph").to_vec();
        (parts.sgd_step)(&mut p.data_mut(), &g, buf, sgd);
    }
    l.item()
}

pub fn train(parts: &Parts, data: &MnistSplit, cfg: &TrainConfig) -> Cnn {
    let model = Cnn::new(cfg.seed);
    let mut momentum: Momentum = vec![None; model.parameters().len()];
    let loader = DataLoader::new(data, cfg.batch_size)
        .shuffle(cfg.seed)
        .drop_last(true);
    let mut step = 0;
    for epoch in 0.. {
        for batch in loader.epoch(epoch) {
            if step == cfg.steps {
                return model;
            }
            train_step(
                parts,
                &model,
                &mut momentum,
                &batch.images,
                &batch.labels,
                &cfg.sgd,
            );
            step += 1;
        }
    }
    unreachable!("the epochs never run out")
}

/// The reference solutions of modules 2 to 6, as the capstone's parts.
pub fn parts() -> Parts {
    use super::{m2_linear, m3_softmax, m4_conv, m5_batchnorm, m6_optim};
    use kindling::autograd::CustomOp;
    Parts {
        linear: m2_linear::linear,
        linear_backward: |i, o, g| m2_linear::Linear.backward(i, o, g),
        cross_entropy: m3_softmax::cross_entropy,
        cross_entropy_backward: |i, o, g| m3_softmax::CrossEntropy.backward(i, o, g),
        conv2d: m4_conv::conv2d,
        conv2d_backward: |s, p, i, o, g| m4_conv::Conv2d::new(s, p).backward(i, o, g),
        max_pool2d: m4_conv::max_pool2d,
        max_pool2d_backward: |k, s, i, o, g| m4_conv::MaxPool2d::new(k, s).backward(i, o, g),
        batch_norm_train: m5_batchnorm::batch_norm_train,
        batch_norm_eval: m5_batchnorm::batch_norm_eval,
        update_running_stats: m5_batchnorm::update_running_stats,
        batch_norm_backward: |i, o, g| m5_batchnorm::BatchNorm.backward(i, o, g),
        sgd_step: m6_optim::sgd_step,
    }
}
