//! Helpers shared by the checkpoint tests: a scratch directory per test, the small CNN with
//! BatchNorm the round-trip and corruption tests save, one training step to make its
//! running statistics non-trivial, and bit-exact comparisons of state dicts.

#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};

use kindling_core::{manual_seed, Tensor};
use kindling_nn::{
    functional::cross_entropy, BatchNorm2d, Conv2d, Flatten, Linear, Module, ReLU, Sequential,
    StateDict,
};
use kindling_optim::{Optimizer, Sgd};

/// A fresh, empty directory under the system temp dir, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "kindling-ckpt-test-{}-{}",
            name,
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Conv2d(1,4,3,padding=1) → BatchNorm2d(4) → ReLU → Flatten → Linear(100, 3), on 5×5
/// inputs, initialised from `seed`.
pub fn small_cnn(seed: u64) -> Sequential {
    manual_seed(seed);
    Sequential::new()
        .add(Conv2d::new(1, 4, 3).padding(1))
        .add(BatchNorm2d::new(4))
        .add(ReLU::new())
        .add(Flatten::new())
        .add(Linear::new(4 * 5 * 5, 3))
}

/// A fixed batch of inputs that does not depend on the global generator's state.
pub fn inputs(n: usize) -> Tensor {
    let data: Vec<f32> = (0..n * 25)
        .map(|i| ((i * 7919 % 113) as f32 / 113.0 - 0.5) * 3.0)
        .collect();
    Tensor::from_vec(data, &[n, 1, 5, 5])
}

/// One SGD step in training mode: the weights move and BatchNorm's running statistics
/// and `num_batches_tracked` leave their initial values.
pub fn train_one_step(model: &mut Sequential) {
    model.train();
    let mut opt = Sgd::new(model.parameters(), 0.1).momentum(0.9);
    let logits = model.forward(&inputs(8));
    let loss = cross_entropy(&logits, &[0, 1, 2, 0, 1, 2, 0, 1]);
    opt.zero_grad();
    loss.backward();
    opt.step();
}

/// The bits of every value, so that comparisons are exact (and NaN equals itself).
pub fn bits(t: &Tensor) -> Vec<u32> {
    t.to_vec().iter().map(|v| v.to_bits()).collect()
}

/// Same keys in the same order, same shapes, same bits.
pub fn assert_same_state(a: &StateDict, b: &StateDict) {
    assert_eq!(a.keys(), b.keys(), "key lists differ");
    for (key, ta) in a.iter() {
        let tb = b.get(key).unwrap();
        assert_eq!(ta.shape(), tb.shape(), "shape of {key}");
        assert_eq!(bits(ta), bits(tb), "values of {key}");
    }
}

/// The eval-mode output of `model` on the fixed inputs.
pub fn eval_output(model: &mut Sequential) -> Vec<u32> {
    model.eval();
    bits(&model.forward(&inputs(4)))
}

/// A small model, trained one step, saved natively at `path`; returns its state.
pub fn saved_small_cnn(path: &Path) -> StateDict {
    let mut model = small_cnn(1);
    train_one_step(&mut model);
    kindling_checkpoint::save(&model.state_dict(), path).unwrap();
    model.state_dict().deep_copy()
}
