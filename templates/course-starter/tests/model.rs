//! The starter's own test, as a course's first graded check might look: a model written
//! with `#[derive(Module)]` has PyTorch's parameter names and learns a fixed batch.

use kindling::nn::{Linear, Module};
use kindling::prelude::*;

#[derive(Module)]
struct Mlp {
    fc1: Linear,
    fc2: Linear,
}

impl Mlp {
    fn forward(&self, x: &Tensor) -> Tensor {
        self.fc2.call(&self.fc1.call(x).relu())
    }
}

#[test]
fn a_derived_model_has_pytorchs_names_and_learns() {
    manual_seed(1);
    let model = Mlp {
        fc1: Linear::new(4, 16),
        fc2: Linear::new(16, 3),
    };
    let keys = model.state_dict().keys();
    assert_eq!(keys, ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]);

    let x = Tensor::randn(&[8, 4]);
    let targets = [0, 1, 2, 0, 1, 2, 0, 1];
    let mut opt = optim::Sgd::new(model.parameters(), 0.1);
    let loss_of = |m: &Mlp| nn::functional::cross_entropy(&m.forward(&x), &targets);
    let first = loss_of(&model).item();
    for _ in 0..100 {
        let loss = loss_of(&model);
        opt.zero_grad();
        loss.backward();
        opt.step();
    }
    assert!(loss_of(&model).item() < 0.5 * first, "the loss should at least halve");
}
