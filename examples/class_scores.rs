//! The BatchNorm lesson, replayed on kindling: four students, three subjects, one batch.
//!
//! Run it with `cargo run --example class_scores`. It prints the same numbers PyTorch 2.x
//! prints for `nn.BatchNorm1d(3)` on these scores (the lesson's own "example output" block
//! is not what PyTorch prints; these are), and explains each of them.

use kindling::prelude::*;

/// Formats a 2-d tensor the way PyTorch prints it: 4 decimals, one row per line.
fn matrix(t: &Tensor) -> String {
    let cols = t.shape()[1];
    let rows: Vec<String> = t
        .to_vec()
        .chunks(cols)
        .map(|r| format!("[{}]", row(r)))
        .collect();
    format!("[{}]", rows.join(",\n "))
}

fn row(values: &[f32]) -> String {
    values
        .iter()
        .map(|v| format!("{v:7.4}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn vector(t: &Tensor) -> String {
    format!(
        "[{}]",
        t.to_vec()
            .iter()
            .map(|v| format!("{v:.4}"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn main() {
    // One batch of exam scores: 4 students (the batch dim N) x 3 subjects (the features C).
    //                      math  chinese  english
    let scores = Tensor::from_vec(
        vec![
            85.0, 60.0, 70.0, // student 1
            90.0, 80.0, 75.0, // student 2
            95.0, 50.0, 80.0, // student 3
            88.0, 70.0, 85.0, // student 4
        ],
        &[4, 3],
    );
    println!("BatchNorm1d on a class's exam scores (数学 math, 语文 Chinese, 英语 English)\n");
    println!("scores, shape {:?}:\n{}\n", scores.shape(), matrix(&scores));

    let mut bn = nn::BatchNorm1d::new(3); // γ = 1, β = 0, momentum 0.1, eps 1e-5
    bn.train();
    let normalized = bn.forward(&scores);
    println!("normalized (train mode):\n{}", matrix(&normalized));
    println!("  each column now has mean 0 and (biased) variance 1: the batch's own statistics were used.");
    println!("  math: mean 89.5, biased variance 53 / 4 = 13.25, so student 1 gets (85 - 89.5) / sqrt(13.25 + 1e-5) = -1.2362\n");

    let gamma = bn.weight().expect("affine BatchNorm has γ");
    let beta = bn.bias().expect("affine BatchNorm has β");
    println!(
        "γ (weight): {}    β (bias): {}",
        vector(&gamma),
        vector(&beta)
    );
    println!("  still 1 and 0: only an optimizer step would change them.\n");

    println!(
        "running_mean after one step: {}    (momentum 0.1 from 0)",
        vector(&bn.running_mean())
    );
    println!(
        "running_var  after one step: {}   (0.9 * 1 + 0.1 * unbiased var)",
        vector(&bn.running_var())
    );
    println!("  why so small? The running statistics start at mean 0 and variance 1 and move only");
    println!("  10% of the way to each batch's statistics: 0.9 * 0 + 0.1 * 89.5 = 8.95.");
    println!(
        "  running_var stores the unbiased variance (divide by n - 1 = 3, not n = 4): for math"
    );
    println!(
        "  53 / 3 = 17.667, so 0.9 * 1 + 0.1 * 17.667 = 2.6667. Training normalised with 53 / 4.\n"
    );

    bn.eval();
    let test = Tensor::from_vec(vec![87.0, 65.0, 78.0], &[1, 3]);
    let out = bn.forward(&test);
    println!(
        "eval on [[87, 65, 78]]:      [[{}]]",
        out.to_vec()
            .iter()
            .map(|v| format!("{v:.4}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "  why so large? Eval mode uses the running statistics, which after one step are still"
    );
    println!(
        "  far from the data: (87 - 8.95) / sqrt(2.6667) = 47.80. After many batches they approach"
    );
    println!("  the real mean and variance, and eval outputs look like the training ones.");
}
