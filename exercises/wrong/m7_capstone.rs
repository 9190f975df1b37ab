//! Module 7, plausible wrong solutions: one mistake a learner makes per task, each named
//! in a comment. The crate's tests check that every grader fails them, with the reference
//! solutions of modules 2 to 6 as the parts, so that only the capstone's own mistake is
//! on trial.

use kindling::data::{DataLoader, MnistSplit};
use kindling::Tensor;
use kindling_exercises::given::{Momentum, Parts, SgdConfig, TrainConfig};
use kindling_exercises::m7_capstone::{batch_norm, conv, linear, loss, pool, Cnn};

pub fn forward(parts: &Parts, model: &Cnn, x: &Tensor, training: bool) -> Tensor {
    // MISTAKE: the BatchNorm layers always in eval mode (`training` is not passed on): they
    // normalise with running statistics that are never updated (mean 0, variance 1), so
    // the network trains with no normalisation at all, and nothing records the statistics
    // eval mode needs.
    let _ = training;
    let m = model;
    let h = conv(parts, x, &m.conv1_w, &m.conv1_b);
    let h = pool(parts, &batch_norm(parts, &h, &m.bn1, false).relu());
    let h = conv(parts, &h, &m.conv2_w, &m.conv2_b);
    let h = pool(parts, &batch_norm(parts, &h, &m.bn2, false).relu());
    let h = h.reshape(&[x.shape()[0], 64 * 7 * 7]);
    let h = linear(parts, &h, &m.fc1_w, &m.fc1_b);
    let h = batch_norm(parts, &h, &m.bn3, false).relu();
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
    // MISTAKE: the gradients are never cleared, so each step's backward adds to the sum of
    // all the gradients before it (PyTorch's forgotten `optimizer.zero_grad()`).
    let l = loss(
        parts,
        &crate::solutions::m7_capstone::forward(parts, model, images, true),
        labels,
    );
    l.backward();
    for (p, buf) in model.parameters().iter().zip(momentum.iter_mut()) {
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
    for _ in 0..cfg.steps {
        // MISTAKE: a new iterator every step, so `next()` is always epoch 0's first batch:
        // the network learns those 32 images by heart and little else.
        let batch = loader.epoch(0).next().expect("one batch");
        crate::solutions::m7_capstone::train_step(
            parts,
            &model,
            &mut momentum,
            &batch.images,
            &batch.labels,
            &cfg.sgd,
        );
    }
    model
}
