//! A guided tour of reverse-mode autograd on one small expression.
//!
//! Run it with `cargo run --example autograd_tour`. It builds
//!
//! ```text
//! loss = mean(relu(x * w + b))      x: [2, 2] data, w: [2] weights, b: [] bias
//! ```
//!
//! prints every intermediate value, prints the recorded graph in Graphviz DOT format (save
//! it and run `dot -Tsvg graph.dot > graph.svg` to see it), runs `backward()`, and puts the
//! gradients next to the ones derived by hand in docs/autograd.md. It ends with
//! `gradcheck`, which checks the same gradients against finite differences.

use kindling::autograd::{gradcheck, GradcheckOptions};
use kindling::prelude::*;

/// The expression, written once so that the tour and gradcheck run the same code.
/// `x * w` broadcasts w's shape [2] over x's rows; `+ b` broadcasts the scalar everywhere.
fn expression(x: &Tensor, w: &Tensor, b: &Tensor) -> Tensor {
    (x * w + b).relu().mean()
}

fn main() {
    // The data is a constant: no gradient is wanted for it.
    let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]);
    // The two leaves we want gradients for.
    let w = Tensor::from_vec(vec![0.5, -1.0], &[2]).requires_grad(true);
    let b = Tensor::scalar(3.0).requires_grad(true);

    println!("== forward: each op computes its value and records itself ==");
    let h = &x * &w;
    println!("h = x * w      = {:?}", h.to_vec());
    let z = &h + &b;
    println!("z = h + b      = {:?}", z.to_vec());
    let r = z.relu();
    println!("r = relu(z)    = {:?}", r.to_vec());
    let loss = r.mean();
    println!("loss = mean(r) = {}", loss.item());
    println!(
        "ops recorded: {} <- {} <- {} <- {}",
        loss.op_name().unwrap(),
        r.op_name().unwrap(),
        z.op_name().unwrap(),
        h.op_name().unwrap()
    );

    println!("\n== the graph behind loss, in Graphviz DOT ==");
    // Must come before backward(): backward frees the graph as it goes.
    print!("{}", loss.to_dot());

    println!("\n== backward: the chain rule, from the loss back to the leaves ==");
    loss.backward();
    let gw = w.grad().expect("w requires grad").to_vec();
    let gb = b.grad().expect("b requires grad").item();
    // Derived by hand in docs/autograd.md:
    //   dloss/dr = 1/4 everywhere (mean of 4 values)
    //   dloss/dz = 1/4 where z > 0, else 0        -> [[0.25, 0.25], [0.25, 0]]
    //   dloss/db = sum of dloss/dz (b was broadcast to every element)   = 0.75
    //   dloss/dw = column sums of x * dloss/dz (w was broadcast down the rows)
    //            = [1·0.25 + 3·0.25, 2·0.25 + 4·0]                       = [1.0, 0.5]
    let by_hand_w = [1.0f32, 0.5];
    let by_hand_b = 0.75f32;
    println!("{:<12} {:>10} {:>10}", "", "backward", "by hand");
    for (i, (&got, &want)) in gw.iter().zip(&by_hand_w).enumerate() {
        println!("{:<12} {got:>10.4} {want:>10.4}", format!("dloss/dw[{i}]"));
    }
    println!("{:<12} {gb:>10.4} {by_hand_b:>10.4}", "dloss/db");
    let agree = gw.iter().zip(&by_hand_w).all(|(a, b)| (a - b).abs() < 1e-6)
        && (gb - by_hand_b).abs() < 1e-6;
    println!(
        "{}",
        if agree {
            "backward agrees with the hand derivation"
        } else {
            "MISMATCH between backward and the hand derivation"
        }
    );

    println!("\n== gradients accumulate ==");
    // A second forward + backward adds into .grad() (+=), as in PyTorch. That is why a
    // training loop calls zero_grad() before every backward().
    expression(&x, &w, &b).backward();
    println!(
        "after a second backward: dloss/dw = {:?}",
        w.grad().unwrap().to_vec()
    );
    w.zero_grad();
    println!(
        "after w.zero_grad():     dloss/dw = {:?}",
        w.grad().unwrap().to_vec()
    );

    println!("\n== gradcheck: backward against finite differences ==");
    // gradcheck perturbs every input element by ±eps, measures how a (randomly weighted)
    // output moves, and compares that slope with what backward computed.
    let report = gradcheck(
        |t| expression(&x, &t[0], &t[1]),
        &[w.detach(), b.detach()],
        GradcheckOptions::default(),
    );
    match report {
        Ok(r) => println!("gradcheck passed: {r}"),
        Err(r) => println!("gradcheck FAILED: {r}"),
    }
}
