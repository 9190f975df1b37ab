//! The smallest complete training run: a two-layer network learns XOR.
//!
//! Run it with `cargo run --example tiny_mlp`. XOR is the classic problem a single linear
//! layer cannot solve (no straight line separates the 1s from the 0s), so the hidden layer
//! and its ReLU are doing real work here. The run takes a few milliseconds and prints the
//! same numbers every time, because `manual_seed` fixes the initial weights.
//!
//! Every piece of a real training loop is here, in the order PyTorch users know:
//! model, optimizer, then per step `forward → loss → zero_grad → backward → step`.

use kindling::nn::functional::cross_entropy;
use kindling::prelude::*;

fn main() {
    // The four XOR inputs, one per row: shape [4, 2].
    let inputs = Tensor::from_vec(
        vec![
            0.0, 0.0, //
            0.0, 1.0, //
            1.0, 0.0, //
            1.0, 1.0,
        ],
        &[4, 2],
    );
    // The class of each row: 1 when exactly one input is 1.
    let targets = [0usize, 1, 1, 0];

    // Same seed, same initial weights, same run.
    manual_seed(0);
    // 2 inputs → 16 hidden units → ReLU → 2 scores (one per class).
    let model = nn::Sequential::new()
        .add(nn::Linear::new(2, 16))
        .add(nn::ReLU::new())
        .add(nn::Linear::new(16, 2));
    // Adam adapts each weight's step size, which suits a problem this small and this sharp.
    let mut opt = optim::Adam::new(model.parameters(), 0.05);

    let steps = 200;
    for step in 0..=steps {
        // Forward: raw class scores ("logits"), shape [4, 2].
        let logits = model.forward(&inputs);
        // Cross-entropy = softmax, then the negative log of the right class's probability,
        // averaged over the 4 rows. It is ln 2 = 0.693 for a model that guesses 50/50.
        let loss = cross_entropy(&logits, &targets);
        if step % 25 == 0 {
            println!("step {step:>3}  loss {:.4}", loss.item());
        }
        if step == steps {
            break;
        }
        opt.zero_grad(); // clear last step's gradients (they would otherwise add up)
        loss.backward(); // fill every parameter's .grad()
        opt.step(); // move every parameter against its gradient
    }

    // Prediction needs no graph: no_grad skips the bookkeeping that backward would need.
    let probabilities = no_grad(|| model.forward(&inputs).softmax(1)).to_vec();
    println!("\nfinal predictions:");
    let x = inputs.to_vec();
    let mut correct = 0;
    for (row, &target) in targets.iter().enumerate() {
        let (x0, x1) = (x[row * 2], x[row * 2 + 1]);
        let p1 = probabilities[row * 2 + 1]; // the probability of class 1
        let predicted = usize::from(p1 > 0.5);
        correct += usize::from(predicted == target);
        println!(
            "  {x0} xor {x1} -> {predicted}   (p(1) = {p1:.3}, expected {target}){}",
            if predicted == target { "" } else { "  WRONG" }
        );
    }
    println!("{correct}/4 correct");
}
